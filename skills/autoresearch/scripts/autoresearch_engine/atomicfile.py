"""Replacing a file in one step, so a reader or a kill never meets half of it."""

from __future__ import annotations

import os


def write_atomic(path: str, data) -> None:
    """Replace `path` in one step (text or bytes): readers see the old file or the new one, never half."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(temp, "wb") as handle:
            # surrogateescape: bytes that came in undecodable (a path in a report) go out as they came
            handle.write(data.encode("utf-8", errors="surrogateescape") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.remove(temp)
        except FileNotFoundError:
            pass
        raise
