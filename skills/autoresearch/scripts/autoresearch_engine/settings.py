"""The one definition of every setting: its name, type, default, bounds, command-line flag and meaning.

The settings file parser (`config`), the default settings file, the flags of `init` and `run` with
their help, the table in references/files.md and the run's plan are all made from `SETTINGS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

from . import protection
from .errors import EngineError

WEEK_S = 7 * 24 * 3600


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str  # bool | int | float | choice | path | globs
    default: object
    meaning: str  # one phrase, Markdown: the help text, the default file's notes, the docs table
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    open_bounds: bool = False  # the bounds themselves are refused
    choices: Tuple[str, ...] = ()
    flag: Optional[str] = None  # the command-line flag that overrides it for one call
    command: Optional[str] = None  # the sub-command that takes the flag
    in_default_file: bool = False  # written as a key line when init creates the settings file
    unit: str = ""  # of a number, for the words that say what it may be

    @property
    def allowed(self) -> str:
        """What the value may be, as words that finish 'must be …'."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return " or ".join(self.choices)
        if self.kind == "path":
            return "a folder path"
        if self.kind == "globs":
            return "a list of globs such as [prepare.py, data/*]"
        if self.kind == "int":
            return f"a whole number, {self.minimum:g} or more"
        number = f"a number of {self.unit}" if self.unit else "a number"
        if self.open_bounds:
            return f"{number} between {self.minimum:g} and {self.maximum:g}, both excluded"
        return f"{number} from {self.minimum:g} to {self.maximum:g}"

    def check(self, value, where: str):
        """The value read from the settings file or a flag, of the right type; refused when out of bounds."""
        ok = True
        if self.kind == "bool":
            ok = isinstance(value, bool)
        elif self.kind == "choice":
            ok = value in self.choices
        elif self.kind == "path":
            ok = isinstance(value, str)
        elif self.kind == "globs":
            return self._globs(value, where)
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            ok = False
        elif self.kind == "int":
            ok = isinstance(value, int) and value >= self.minimum
        else:  # compared before float(): a 400-digit whole number is refused, not an OverflowError
            inside = (self.minimum < value < self.maximum) if self.open_bounds else (self.minimum <= value <= self.maximum)
            ok = inside and math.isfinite(value)
        if not ok:
            shown = value if len(repr(value)) <= 40 else f"{repr(value)[:37]}..."
            raise EngineError(f"{where} must be {self.allowed}, not {shown!r}.")
        return float(value) if self.kind == "float" else value

    def from_flag(self, text: str):
        """The value of `--flag TEXT`."""
        where = self.flag
        if self.kind == "int":
            try:
                value = int(text)
            except ValueError:
                raise EngineError(f"{where} must be {self.allowed}, not {text!r}.") from None
        elif self.kind == "float":
            try:
                value = float(text)
            except ValueError:
                raise EngineError(f"{where} must be {self.allowed}, not {text!r}.") from None
        elif self.kind == "globs":
            return self._globs(text, where)
        else:
            value = text
        try:
            return self.check(value, where)
        except EngineError:
            raise EngineError(f"{where} must be {self.allowed}, not {text!r}.") from None

    def _globs(self, value, where: str) -> list:
        try:
            return protection.parse_globs(value)
        except EngineError as exc:
            raise EngineError(f"{where} must be {self.allowed}, not {value!r}: {exc}") from None

    def text(self, value) -> str:
        """The value as the settings file writes it."""
        return protection.format_globs(value) if self.kind == "globs" else str(value)

    @property
    def shown_default(self) -> str:
        if self.default is None:
            return "the project" if self.name == "working_dir" else "none"
        if isinstance(self.default, bool):
            return str(self.default).lower()
        if isinstance(self.default, float):
            return f"{self.default:g}"
        return self.text(self.default)


SETTINGS: Tuple[Setting, ...] = (
    Setting("enabled", "bool", True, "`false` (set by `cancel`) makes the hooks let the agent stop",
            in_default_file=True),
    Setting("max_iterations", "int", 0, "runs allowed per segment, 0 for no limit", minimum=0,
            flag="--max-iterations", command="init", in_default_file=True),
    Setting("working_dir", "path", None,
            "folder of the session files and of `autoresearch.sh`, relative to the project"),
    Setting("benchmark_timeout", "float", 600.0, "seconds before a benchmark is killed", minimum=1, maximum=WEEK_S,
            unit="seconds", flag="--timeout", command="run", in_default_file=True),
    Setting("checks_timeout", "float", 300.0, "seconds before the checks are killed", minimum=1, maximum=WEEK_S,
            unit="seconds", flag="--checks-timeout", command="run", in_default_file=True),
    Setting("keep_rule", "choice", "noise",
            "`noise`: keep only a gain beyond measured noise, the best measured next to the candidate; "
            "`unpaired`: the same against the best's stored samples; `strict`: any gain",
            choices=("noise", "unpaired", "strict"), flag="--rule", command="run"),
    Setting("repeat", "int", 1, "benchmark samples per run of the `strict` and `unpaired` rules (the `noise` rule "
            "takes one, then pairs)", minimum=1, flag="--repeat", command="run"),
    Setting("baseline_repeat", "int", 5, "samples for a segment's baseline, which measure the noise", minimum=1,
            flag="--baseline-repeat", command="run"),
    Setting("confirm_runs", "int", 3, "extra samples allowed for a marginal winner of the `unpaired` rule", minimum=0,
            flag="--confirm-runs", command="run"),
    Setting("reference_repeat", "int", 4,
            "fresh samples of a result newly kept by the `unpaired` rule, the unbiased reference for later candidates",
            minimum=0,
            flag="--reference-repeat", command="run"),
    Setting("false_keep_rate", "float", 0.05, "how often the noise rule may keep a change that is only noise",
            minimum=0, maximum=0.5, open_bounds=True),
    Setting("max_pairs", "int", 6,
            "most pairs (the candidate, the best measured next to it) per decision of the noise rule, taken in "
            "blocks of two", minimum=2, flag="--max-pairs", command="run"),
    Setting("reference_max_age", "int", 5,
            "benchmark runs after which the best's samples are measured again before a candidate is compared "
            "with them", minimum=0, flag="--reference-max-age", command="run"),
    Setting("deterministic", "bool", False,
            "`true` when repeats of the same code give the same value by nature (a count, a size): only then "
            "does a noise of exactly 0 let any gain count", flag="--deterministic", command="init"),
    Setting("protected", "globs", (),
            "files a candidate may not change against its segment's baseline commit, such as "
            "`[prepare.py, autoresearch.sh]`; a glob without `/` matches a file name in any folder; changing the "
            "list starts a new segment", flag="--protect", command="init"),
)

BY_NAME = {setting.name: setting for setting in SETTINGS}


def add_flags(parser, command: str) -> None:
    """The flags of `command` that override a setting for one call; each is None when not given."""
    for setting in SETTINGS:
        if setting.command != command:
            continue
        meaning = f"{setting.meaning.replace('`', '')} (setting {setting.name}, default {setting.shown_default})"
        if setting.kind == "bool":  # a switch: given, it sets the setting true
            parser.add_argument(setting.flag, dest=setting.name, action="store_const", const=True, help=meaning)
        else:
            parser.add_argument(setting.flag, dest=setting.name, metavar=_metavar(setting),
                                nargs="+" if setting.kind == "globs" else None, help=meaning)


def _metavar(setting: Setting) -> str:
    if setting.kind == "choice":
        return "{" + ",".join(setting.choices) + "}"
    if setting.kind == "globs":
        return "GLOB"
    return "S" if setting.name.endswith("_timeout") else "N"


def flag_values(args, command: str) -> dict:
    """The settings given as flags of `command`, checked against their bounds: {name: value}."""
    given = {}
    for setting in SETTINGS:
        if setting.command == command:
            text = getattr(args, setting.name, None)
            if text is not None:
                given[setting.name] = setting.from_flag(text)
    return given


def default_file_text() -> str:
    """The settings file `init` writes when there is none."""
    keys = "".join(f"{s.name}: {s.shown_default}\n" for s in SETTINGS if s.in_default_file)
    notes = "".join(f"- {s.name} ({s.allowed}; default {s.shown_default}): {s.meaning}.\n" for s in SETTINGS)
    return f"---\n{keys}---\n\n# autoresearch settings for this project\n\n{notes}"


def markdown_table() -> str:
    """The settings table of references/files.md."""
    lines = ["| key | default | allowed | meaning |", "| --- | --- | --- | --- |"]
    for s in SETTINGS:
        flag = f" (`{s.command} {s.flag}`)" if s.flag else ""
        default = "the project" if s.default is None else f"`{s.shown_default}`"
        lines.append(f"| `{s.name}` | {default} | {s.allowed} | {s.meaning}{flag} |")
    return "\n".join(lines) + "\n"
