"""Measuring the best next to a candidate: the best commit's files put in the working tree, then taken back.

Only the files that differ between HEAD and the best commit are touched, and only in the working tree:
HEAD, the branch and the index stay where they are, and untracked files (build outputs, data, the
session files) are left alone. While the best's files are in place, a marker in the git folder lists
them, so a run killed half-way is undone by the next command that calls `restore_if_interrupted`.
"""

from __future__ import annotations

import json
import os
from typing import List, Optional, Tuple

from . import gitops
from .atomicfile import write_atomic
from .errors import EngineError

MARKER = "autoresearch-swap.json"
_SUBMODULE = b"160000"


def changed_paths(repo: str, head: str, best: str, owned: set) -> List[Tuple[str, str]]:
    """(status of the path in `best` against `head`: A, D or M; path from the repo root) for each file that differs."""
    out = gitops.git_bytes(repo, "diff", "--raw", "-z", "--no-renames", "--no-ext-diff", head, best).stdout
    parts = out.split(b"\x00")
    changed = []
    for i in range(0, len(parts) - 1, 2):
        fields, path = parts[i].split(), os.fsdecode(parts[i + 1])
        if len(fields) < 5 or _SUBMODULE in fields[:2] or gitops.owned_by(path, owned):
            continue
        status = fields[4][:1].decode("ascii")
        changed.append((status if status in "AD" else "M", path))
    return changed


def _restore(repo: str, source: str, paths: List[str]) -> None:
    if paths:
        gitops.git_bytes(repo, "-c", "core.hooksPath=/dev/null", "restore", f"--source={source}", "--worktree",
                         "--pathspec-from-file=-", "--pathspec-file-nul", "--",
                         data=b"\x00".join(os.fsencode(path) for path in paths))


def _remove(repo: str, paths: List[str]) -> None:
    for path in paths:
        full = os.path.join(repo, path)
        try:
            os.remove(full)
        except FileNotFoundError:
            pass
        folder = os.path.dirname(full)
        while os.path.abspath(folder) != os.path.abspath(repo):
            try:
                os.rmdir(folder)  # only empty folders go
            except OSError:
                break
            folder = os.path.dirname(folder)


def _put(repo: str, source: str, changed: List[Tuple[str, str]], source_is_best: bool) -> None:
    """Make the listed files those of `source`: the ones it lacks are removed, the others written from it."""
    absent = "D" if source_is_best else "A"
    _remove(repo, [path for status, path in changed if status == absent])
    _restore(repo, source, [path for status, path in changed if status != absent])


class TreeSwap:
    """The working tree holds the candidate's files (HEAD's, committed) or the best commit's; `best()` and
    `head()` switch between them."""

    def __init__(self, repo: str, owned: set, head_commit: str, best_commit: str):
        self.repo = repo
        self.head_commit, self.best_commit = head_commit, best_commit
        self.changed = changed_paths(repo, head_commit, best_commit, owned)
        self.marker = os.path.join(gitops.git_dir(repo), MARKER)
        self.at_best = False

    def best(self) -> None:
        if self.at_best:
            return
        if self.changed:
            marker = {"head": self.head_commit, "best": self.best_commit,
                      "changed": self.changed}
            write_atomic(self.marker, json.dumps(marker))
            _put(self.repo, self.best_commit, self.changed, source_is_best=True)
        self.at_best = True

    def head(self) -> None:
        if not self.at_best:
            return
        if self.changed:
            _put(self.repo, self.head_commit, self.changed, source_is_best=False)
            os.remove(self.marker)
        self.at_best = False


def restore_if_interrupted(repo: Optional[str]) -> Optional[str]:
    """Put back the candidate's files when a run was killed while the best's were in place; what was done."""
    if not repo:
        return None
    path = os.path.join(gitops.git_dir(repo), MARKER)
    try:
        with open(path, encoding="utf-8") as handle:
            marker = json.load(handle)
        changed = [(status, name) for status, name in marker["changed"]]
        head = marker["head"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EngineError(f"{path} is unreadable ({exc}); check 'git status', put back the experiment's files "
                          "with 'git checkout -- .', then delete that file.") from None
    _put(repo, head, changed, source_is_best=False)
    os.remove(path)
    return (f"an interrupted run had left the best commit's files in the working tree; the files of "
            f"{head[:7]} are back")
