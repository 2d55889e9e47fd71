"""The per-project settings in `.claude/autoresearch.local.md` (YAML front matter).

Only the flat `key: value` subset of YAML is read, which is all this file holds:

    ---
    enabled: true
    max_iterations: 50
    working_dir: "."
    benchmark_timeout: 600
    checks_timeout: 300
    ---
    Free notes for the agent below the front matter.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from typing import Optional

from .errors import EngineError

CONFIG_RELPATH = os.path.join(".claude", "autoresearch.local.md")

DEFAULT_TEXT = """---
enabled: true
max_iterations: 0
benchmark_timeout: 600
checks_timeout: 300
---

# autoresearch settings for this project

- enabled: false stops the hooks from continuing the loop (cancel sets it).
- max_iterations: runs allowed per segment; 0 means unlimited.
- working_dir: where autoresearch.jsonl, autoresearch.sh and run.log live (default: this project).
- benchmark_timeout / checks_timeout: seconds before a run of autoresearch.sh / autoresearch.checks.sh is killed.
- keep_rule: noise (keep only what beats the best by more than measured noise) or strict (any improvement).
- repeat: benchmark samples per run; baseline_repeat: samples for a segment's baseline (the noise model);
  confirm_runs: extra samples allowed for a marginal winner; reference_repeat: fresh samples of a kept
  result, the unbiased reference for the next candidates; false_keep_rate: the noise rule's error rate.
"""


@dataclass
class Config:
    enabled: bool = True
    max_iterations: int = 0
    working_dir: Optional[str] = None
    benchmark_timeout: float = 600.0
    checks_timeout: float = 300.0
    keep_rule: str = "noise"
    repeat: int = 1
    baseline_repeat: int = 5
    confirm_runs: int = 3
    reference_repeat: int = 4
    false_keep_rate: float = 0.05
    path: Optional[str] = None  # where it was read from; None when defaults


_KEY_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*?)\s*$")


def _scalar(raw: str):
    text = raw
    if text[:1] in ("'", '"'):
        quote = text[0]
        end = text.find(quote, 1)
        if end == -1:
            raise ValueError(f"unclosed quote in {raw!r}")
        return text[1:end]
    text = re.sub(r"\s+#.*$", "", text).strip()
    lowered = text.lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    if lowered in ("", "null", "~"):
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def parse_front_matter(text: str, path: str) -> dict:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise EngineError(f"{path} has no front matter; it must start with a line '---', then 'key: value' lines, then '---'.")
    values = {}
    for number, line in enumerate(lines[1:], start=2):
        if line.strip() == "---":
            return values
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _KEY_RE.match(line)
        if not match or line[:1].isspace():
            raise EngineError(f"{path} line {number} is not a 'key: value' line: {line.strip()!r}.")
        key, raw = match.groups()
        try:
            values[key] = _scalar(raw)
        except ValueError as exc:
            raise EngineError(f"{path} line {number}: {exc}.") from None
    raise EngineError(f"{path} front matter is not closed; add a line '---' after the settings.")


def _number(values: dict, key: str, path: str, *, minimum: float, integer: bool):
    value = values[key]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and integer:
        ok = isinstance(value, int)
    if not ok or value < minimum:
        kind = "a whole number" if integer else "a number"
        raise EngineError(f"{path}: {key} must be {kind} of at least {minimum:g}, not {value!r}.")
    return value


def load(project_dir: str) -> Config:
    path = os.path.join(project_dir, CONFIG_RELPATH)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return Config()
    except (OSError, UnicodeDecodeError) as exc:
        raise EngineError(f"cannot read {path} ({exc}); fix or delete it.") from exc
    values = parse_front_matter(text, path)
    config = Config(path=path)
    if "enabled" in values:
        if not isinstance(values["enabled"], bool):
            raise EngineError(f"{path}: enabled must be true or false, not {values['enabled']!r}.")
        config.enabled = values["enabled"]
    if values.get("max_iterations") is not None:
        config.max_iterations = _number(values, "max_iterations", path, minimum=0, integer=True)
    if values.get("working_dir") not in (None, ""):
        if not isinstance(values["working_dir"], str):
            raise EngineError(f"{path}: working_dir must be a path, not {values['working_dir']!r}.")
        config.working_dir = values["working_dir"]
    for key in ("benchmark_timeout", "checks_timeout"):
        if values.get(key) is not None:
            setattr(config, key, float(_number(values, key, path, minimum=1, integer=False)))
    for key in ("repeat", "baseline_repeat"):
        if values.get(key) is not None:
            setattr(config, key, _number(values, key, path, minimum=1, integer=True))
    for key in ("confirm_runs", "reference_repeat"):
        if values.get(key) is not None:
            setattr(config, key, _number(values, key, path, minimum=0, integer=True))
    if values.get("false_keep_rate") is not None:
        rate = values["false_keep_rate"]
        if not isinstance(rate, float) or not 0 < rate < 0.5:
            raise EngineError(f"{path}: false_keep_rate must be a number between 0 and 0.5, such as 0.05, not {rate!r}.")
        config.false_keep_rate = rate
    if values.get("keep_rule") is not None:
        if values["keep_rule"] not in ("noise", "strict"):
            raise EngineError(f"{path}: keep_rule must be noise or strict, not {values['keep_rule']!r}.")
        config.keep_rule = values["keep_rule"]
    return config


def set_value(project_dir: str, key: str, value: str) -> str:
    """Set one front-matter key in place (creating the file from the default when absent)."""
    if key not in {f.name for f in fields(Config)} - {"path"}:
        raise EngineError(f"internal: {key!r} is not a setting.")
    path = os.path.join(project_dir, CONFIG_RELPATH)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        text = DEFAULT_TEXT
    parse_front_matter(text, path)  # refuse to edit a file we cannot read back
    lines = text.splitlines(keepends=True)
    end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    new_line = f"{key}: {value}\n"
    for i in range(1, end):
        match = _KEY_RE.match(lines[i])
        if match and match.group(1) == key:
            lines[i] = new_line
            break
    else:
        lines.insert(end, new_line)
    write_atomic(path, "".join(lines))
    return path


def write_atomic(path: str, data) -> None:
    """Replace `path` in one step (text or bytes): readers see the old file or the new one, never half."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(temp, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.remove(temp)
        except FileNotFoundError:
            pass
        raise
