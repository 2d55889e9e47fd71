"""Reading and appending autoresearch.jsonl without ever leaving a partial or invalid line.

Appends take an exclusive lock on the log file itself, read what is there, build the new line
from it (run numbers, segment, confidence), and write it with one write call. A last line left
unfinished by someone else (a killed `printf >>`) is closed with a newline first, so the new
record always starts on a line of its own and every earlier record stays readable.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Callable, Iterator, List

from . import records
from .errors import EngineError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


@dataclass
class LogContents:
    path: str
    entries: List[dict] = field(default_factory=list)  # every valid JSON object, in file order
    warnings: List[str] = field(default_factory=list)
    line_numbers: List[int] = field(default_factory=list)  # 1-based line of each entry


def parse_text(text: str, path: str = "autoresearch.jsonl") -> LogContents:
    contents = LogContents(path=path)
    lines = text.split("\n")
    ends_with_newline = text.endswith("\n")
    if ends_with_newline:
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        is_last_unfinished = number == len(lines) and not ends_with_newline
        try:
            value = records.loads(line, absurd_numbers_as_text=True)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            if is_last_unfinished:
                contents.warnings.append(
                    f"{path}: line {number} is cut off (an interrupted write?); it is ignored and every earlier record is kept."
                )
            else:
                contents.warnings.append(f"{path}: line {number} is not a JSON object; it is ignored.")
            continue
        contents.entries.append(value)
        contents.line_numbers.append(number)
    return contents


def read_log(path: str) -> LogContents:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return LogContents(path=path)
    except OSError as exc:
        raise EngineError(f"cannot read {path} ({exc.strerror}); check its permissions.") from exc
    return parse_text(data.decode("utf-8", errors="replace"), path)


@contextlib.contextmanager
def locked(path: str) -> Iterator[int]:
    """Open the log for appending (creating it) and hold an exclusive lock while inside."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise EngineError(f"the folder {directory} does not exist; create it or run from the project folder.")
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise EngineError(f"cannot open {path} for writing ({exc.strerror}); check its permissions.") from exc
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        if fcntl is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _read_fd(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    chunks = []
    offset = 0
    while offset < size:
        chunk = os.pread(fd, size - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def append(path: str, build: Callable[[LogContents], dict]) -> dict:
    """Append the record `build(current contents)` returns, under the lock.

    `build` may raise EngineError to refuse; then nothing is written.
    """
    with locked(path) as fd:
        data = _read_fd(fd)
        contents = parse_text(data.decode("utf-8", errors="replace"), path)
        record = build(contents)
        line = records.dumps(record).encode("utf-8") + b"\n"
        if data and not data.endswith(b"\n"):
            line = b"\n" + line
        _write_all(fd, line)
        os.fsync(fd)
    return record


def append_record(path: str, record: dict) -> dict:
    return append(path, lambda _contents: record)
