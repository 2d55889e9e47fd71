"""Parsing `METRIC name=value` lines out of benchmark output."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

# `METRIC name=value`, optionally followed by whitespace and a `# comment`.
METRIC_LINE_RE = re.compile(
    r"^\s*METRIC\s+([A-Za-z_][A-Za-z0-9_.\-]*)\s*=\s*([^\s#]+)\s*(?:#.*)?$"
)


@dataclass
class ParsedMetrics:
    values: Dict[str, float] = field(default_factory=dict)  # last value of each name; may be NaN/inf
    unparsable: Dict[str, str] = field(default_factory=dict)  # name -> text that is not a number
    occurrences: List[Tuple[str, float]] = field(default_factory=list)  # every numeric line, in order

    def finite(self) -> Dict[str, float]:
        return {k: v for k, v in self.values.items() if math.isfinite(v)}


def to_number(text: str):
    """int for integral text, float otherwise; ValueError when it is no number."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def parse(text: str) -> ParsedMetrics:
    parsed = ParsedMetrics()
    for line in text.splitlines():
        match = METRIC_LINE_RE.match(line)
        if not match:
            continue
        name, raw = match.groups()
        try:
            value = to_number(raw)
        except ValueError:
            parsed.unparsable[name] = raw
            parsed.values.pop(name, None)
            continue
        parsed.unparsable.pop(name, None)
        parsed.values[name] = value
        parsed.occurrences.append((name, value))
    return parsed
