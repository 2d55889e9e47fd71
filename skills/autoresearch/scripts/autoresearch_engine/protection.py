"""Protected paths: files a candidate may not change, such as the evaluation harness or the benchmark.

The `protected` setting holds globs, matched against paths relative to the session folder: a glob
without '/' matches a file name in any folder (`prepare.py`, `*.lock`), a glob with '/' matches the
whole relative path (`data/*`, `eval/**`); `*` also crosses folders. A candidate is compared with its
segment's baseline commit: every path that differs between the two commits is a change (a rename
changes both names). The check is one function, `protected_changes`, so any command that measures or
submits a candidate can refuse the same way.
"""

from __future__ import annotations

import fnmatch
import os
from typing import Iterable, List, Optional, Sequence

from . import gitops
from .errors import EngineError
from .session import Segment
from .sessionfiles import SESSION_FILES

REASON = "protected"


def parse_globs(value) -> List[str]:
    """The globs of a `protected` value: '[a, b]' or 'a, b' (or a list); empty entries dropped."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = [str(item) for item in value]
    else:
        text = str(value).strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        items = text.split(",")
    globs = []
    for item in items:
        item = item.strip().strip("'\"").strip()
        if item and item not in globs:
            globs.append(item)
    for glob in globs:
        if os.path.isabs(glob) or glob.startswith("..") or "\n" in glob:
            raise EngineError(f"the protected glob {glob!r} must be relative to the session folder, "
                              "such as prepare.py or data/*.")
    return globs


def format_globs(globs: Sequence[str]) -> str:
    """The settings-file form of a glob list."""
    return "[" + ", ".join(globs) + "]"


def matches(path: str, globs: Iterable[str]) -> Optional[str]:
    """The first glob that protects `path` (relative to the session folder, '/'-separated), else None."""
    name = path.rsplit("/", 1)[-1]
    for glob in globs:
        pattern = glob.rstrip("/")
        if "/" in pattern:
            if fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, pattern + "/*"):
                return glob
        elif fnmatch.fnmatchcase(name, pattern) or any(
                fnmatch.fnmatchcase(part, pattern) for part in path.split("/")[:-1]):
            return glob
    return None


def baseline_commit(segment: Segment) -> Optional[str]:
    """The commit of the segment's baseline: its first kept run; None before the baseline is logged."""
    kept = segment.kept
    return str(kept[0].get("commit") or "") if kept else None


def changed_paths(session_dir: str, base: str, candidate: str = "HEAD") -> List[str]:
    """Paths, relative to the session folder, that differ between commits `base` and `candidate`."""
    diff = gitops.git_bytes(session_dir, "diff", "--name-only", "--relative", "--no-renames", "-z", base,
                            candidate).stdout
    session_files = {name.replace(os.sep, "/") for name in SESSION_FILES}
    return sorted(set(gitops.shown(path) for path in gitops._paths(diff)) - session_files)


def protected_changes(session_dir: str, segment: Segment, globs: Sequence[str], candidate: str = "HEAD") -> List[str]:
    """The protected paths the candidate commit changes against the segment's baseline commit.

    Empty when nothing is protected, when the segment has no baseline yet (the first run is the
    baseline), or when the folder is not a git repository.
    """
    if not globs or not gitops.toplevel(session_dir):
        return []
    base = baseline_commit(segment)
    if base is None:
        return []
    if not base or base == "-" or gitops.resolve(session_dir, base) is None:
        raise EngineError(f"the baseline of segment {segment.index} names commit {base or '(none)'}, which this "
                          "repository does not have, so protected files cannot be checked; check out the session "
                          "branch, or start a new segment with 'autoresearch init --new-segment'.")
    return [path for path in changed_paths(session_dir, base, candidate) if matches(path, globs)]


def refusal_sentence(paths: Sequence[str], segment: Segment) -> str:
    base = baseline_commit(segment)
    more = f" (and {len(paths) - 1} more protected path{'s' if len(paths) > 2 else ''}: {', '.join(paths[1:4])})" \
        if len(paths) > 1 else ""
    return (f"refused: this candidate changes the protected file {paths[0]}{more} against the baseline commit "
            f"{base} of segment {segment.index}, so nothing was measured; undo that change (git checkout {base} -- "
            f"{paths[0]}) and commit again, or log it with 'autoresearch log --description …' as a discard "
            f"({REASON}).")


def header_globs(segment: Segment) -> List[str]:
    """The protected globs recorded when the segment started."""
    return parse_globs((segment.config or {}).get("protected"))


def require_same_list(segment: Segment, globs: Sequence[str]) -> None:
    """Refuse to measure when the protected list differs from the one the segment started with."""
    recorded = header_globs(segment)
    if sorted(recorded) != sorted(globs):
        was = ", ".join(recorded) or "nothing"
        now = ", ".join(globs) or "nothing"
        raise EngineError(f"the protected setting changed since segment {segment.index} started (it protected {was}; "
                          f"now {now}); changing what is protected starts a new segment: run 'autoresearch init "
                          "--new-segment …' with the same metric.")
