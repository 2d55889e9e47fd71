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
from dataclasses import field, make_dataclass, replace
from typing import Optional

from .atomicfile import write_atomic
from .errors import EngineError
from .sessionfiles import CONFIG_RELPATH
from .settings import BY_NAME, SETTINGS, default_file_text


DEFAULT_TEXT = default_file_text()

# every setting with its default, and `path`: where they were read from (None when defaults)
Config = make_dataclass(
    "Config",
    [(s.name, object, field(default=s.default)) for s in SETTINGS] + [("path", Optional[str], field(default=None))],
)


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
    for setting in SETTINGS:
        value = values.get(setting.name)
        if value is None or (setting.kind == "path" and value == ""):
            continue  # not set: the default
        setattr(config, setting.name, setting.check(value, f"{path}: {setting.name}"))
    return config


def with_flags(config: Config, given: dict) -> Config:
    """The settings with the values given as flags put over them (a flag not given is absent, never 0 or "")."""
    return replace(config, **given)


def set_value(project_dir: str, key: str, value: str) -> str:
    """Set one front-matter key in place (creating the file from the default when absent)."""
    if key not in BY_NAME:
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
