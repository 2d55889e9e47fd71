"""Reading benchmark output in bounded memory: `METRIC name=value` lines, the last lines, the failing line.

Output is read in chunks, whatever its size: only lines holding "METRIC" are decoded, a line longer
than MAX_LINE is not a METRIC line, at most MAX_NAMES metric names are kept, and of the last
TAIL_LINES lines only the first HEAD_BYTES each are held, for the crash reason.
"""

from __future__ import annotations

import collections
import re
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Dict, List, Optional, Tuple

from . import records

# `METRIC name=value`, optionally followed by whitespace and a `# comment`.
METRIC_LINE_RE = re.compile(
    r"^\s*METRIC\s+([A-Za-z_][A-Za-z0-9_.\-]*)\s*=\s*([^\s#]+)\s*(?:#.*)?$"
)
MAX_LINE = 4096  # bytes
MAX_NAMES = 1000
TAIL_LINES = 64
HEAD_BYTES = 512
CHUNK = 1 << 20
FAILING_LINE_CHARS = 200

# A line that says what went wrong: a test failure, an error or exception line (Python's last traceback line
# among them), a crash of the process.
_FAILURE_RE = re.compile(
    r"\b(?:FAIL(?:ED|URE)?|ERROR|[A-Za-z_][\w.]*(?:Error|Exception|Exit)|[Ee]rror|[Ff]atal|panic(?:ked)?|"
    r"Segmentation fault|Aborted|Killed|[Oo]ut of memory|assert(?:ion)?)\b"
)
_ENGINE_LINES = ("autoresearch: ", "===== autoresearch: ")  # the engine's own lines in run.log


@dataclass
class ParsedMetrics:
    values: Dict[str, float] = field(default_factory=dict)  # last value of each name; may be NaN/inf
    raw: Dict[str, str] = field(default_factory=dict)  # each value as the benchmark wrote it
    rejected: Dict[str, Tuple[str, str]] = field(default_factory=dict)  # name -> (value as written, why refused)
    tail: List[str] = field(default_factory=list)  # the start of each of the last lines of the output

    def finite(self) -> Dict[str, float]:
        """The values every statistic can take (see records.is_finite_number)."""
        return {k: v for k, v in self.values.items() if records.is_finite_number(v)}

    def failing_line(self) -> Optional[str]:
        """The last line of the output that says what failed, else its last non-blank line; bounded."""
        lines = [" ".join(line.split()) for line in self.tail]
        lines = [line for line in lines if line and not line.startswith(_ENGINE_LINES)]
        if not lines:
            return None
        chosen = lines[-1]
        for line in reversed(lines):
            if _FAILURE_RE.search(line) and not line.startswith("Traceback (most recent call last)"):
                chosen = line
                break
        return chosen if len(chosen) <= FAILING_LINE_CHARS else chosen[: FAILING_LINE_CHARS - 1] + "…"


class Reader:
    """Feed output bytes in pieces; `on_metric(name, raw, value)` sees each numeric METRIC line as it comes
    (NaN and infinities spelled out included)."""

    def __init__(self, on_metric: Optional[Callable[[str, str, float], None]] = None):
        self.parsed = ParsedMetrics()
        self._on_metric = on_metric
        self._partial = b""  # the unfinished last line, at most MAX_LINE bytes
        self._overlong = False  # inside a line longer than MAX_LINE: skip it to its end
        self._head = b""  # the first HEAD_BYTES of the unfinished last line
        self._heads: collections.deque = collections.deque(maxlen=TAIL_LINES)  # of the last finished lines

    def feed(self, data: bytes) -> None:
        if not data:
            return
        first = data.find(b"\n")
        if first == -1:
            self._head += data[: max(0, HEAD_BYTES - len(self._head))]
            self._extend_partial(data)
            return
        last = data.rfind(b"\n")
        self._keep_heads(data, first, last)
        complete, rest = data[: last + 1], data[last + 1:]
        if self._overlong:
            complete, self._overlong = complete[first + 1:], False
        else:
            complete = self._partial + complete
        if b"METRIC" in complete:
            for line in complete.split(b"\n"):
                if b"METRIC" in line and len(line) <= MAX_LINE:
                    self._lines(line.decode("utf-8", errors="replace"))
        self._partial = b""
        self._extend_partial(rest)

    def _keep_heads(self, data: bytes, first: int, last: int) -> None:
        """Note the start of each line the chunk finishes (only the last TAIL_LINES can matter)."""
        self._heads.append(self._head + data[: max(0, min(first, HEAD_BYTES - len(self._head)))])
        heads, end = [], last
        while end > first and len(heads) < TAIL_LINES:
            start = data.rfind(b"\n", first, end)
            heads.append(data[start + 1: min(end, start + 1 + HEAD_BYTES)])
            end = start
        self._heads.extend(reversed(heads))
        self._head = data[last + 1: last + 1 + HEAD_BYTES]

    def _extend_partial(self, data: bytes) -> None:
        if self._overlong:
            return
        self._partial += data
        if len(self._partial) > MAX_LINE:
            self._partial, self._overlong = b"", True

    def _lines(self, text: str) -> None:
        for line in text.splitlines():  # \r and the other line breaks too: progress bars end lines with \r
            match = METRIC_LINE_RE.match(line)
            if match:
                self._metric(*match.groups())

    def _metric(self, name: str, raw: str) -> None:
        parsed = self.parsed
        if name not in parsed.values and name not in parsed.rejected and \
                len(parsed.values) + len(parsed.rejected) >= MAX_NAMES:
            return
        try:
            value = records.number_from_text(raw)
        except ValueError:
            value = None
        spelled_non_finite = raw.lower().lstrip("+-") in ("nan", "inf", "infinity")
        if value is None or (not records.is_finite_number(value) and not spelled_non_finite):
            problem = "is not a number" if value is None else records.number_problem(value, spelled_out=False)
            parsed.rejected[name] = (raw, problem)
            parsed.values.pop(name, None)
            parsed.raw.pop(name, None)
            return
        parsed.rejected.pop(name, None)
        parsed.values[name] = value
        parsed.raw[name] = raw
        if self._on_metric:
            self._on_metric(name, raw, value)

    def close(self) -> ParsedMetrics:
        if self._partial and b"METRIC" in self._partial:
            self._lines(self._partial.decode("utf-8", errors="replace"))
        self._partial = b""
        heads = list(self._heads) + ([self._head] if self._head else [])
        self.parsed.tail = [line for head in heads for line in head.decode("utf-8", errors="replace").splitlines()]
        return self.parsed


def read(handle: BinaryIO, on_metric=None) -> ParsedMetrics:
    """Parse everything left in a binary file or stream, CHUNK bytes at a time."""
    reader = Reader(on_metric)
    while True:
        chunk = handle.read(CHUNK)
        if not chunk:
            return reader.close()
        reader.feed(chunk)


def parse(text: str) -> ParsedMetrics:
    reader = Reader()
    reader.feed(text.encode("utf-8", errors="surrogateescape"))
    return reader.close()
