"""The few git operations the loop needs, each with a clear error instead of git's own."""

from __future__ import annotations

import os
import subprocess
from typing import List, Optional, Tuple

from .errors import EngineError

SESSION_FILES = (
    "autoresearch.jsonl",
    "autoresearch.md",
    "autoresearch.ideas.md",
    "autoresearch.pending.json",
    "run.log",
    "autoresearch.html",
    "progress.png",
    "autoresearch.hooks.json",
    os.path.join(".claude", "autoresearch.local.md"),
)


def git(cwd: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    except FileNotFoundError:
        raise EngineError("git is not installed or not on PATH; install git first.") from None
    if check and result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        detail = message[-1] if message else f"exit {result.returncode}"
        raise EngineError(f"git {' '.join(args[:2])} failed: {detail}")
    return result


def toplevel(cwd: str) -> Optional[str]:
    result = git(cwd, "rev-parse", "--show-toplevel", check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def head(cwd: str, short: bool = True) -> Optional[str]:
    args = ["rev-parse", "--short=7", "HEAD"] if short else ["rev-parse", "HEAD"]
    result = git(cwd, *args, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def resolve(cwd: str, rev: str) -> Optional[str]:
    result = git(cwd, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def commit_info(cwd: str, rev: str = "HEAD") -> Tuple[str, str, List[str]]:
    """(full hash, subject, parent hashes) of one commit."""
    out = git(cwd, "log", "-1", "--format=%H%x00%s%x00%P", rev).stdout.rstrip("\n")
    full, subject, parents = out.split("\x00")
    return full, subject, parents.split()


def reverted_hash(cwd: str, rev: str = "HEAD") -> Optional[str]:
    """The commit that `rev` reverts, read from git revert's 'This reverts commit X.' line."""
    body = git(cwd, "log", "-1", "--format=%B", rev).stdout
    for line in body.splitlines():
        line = line.strip()
        if line.startswith("This reverts commit ") and line.endswith("."):
            return line[len("This reverts commit "):-1].strip()
    return None


def porcelain(cwd: str) -> List[Tuple[str, str]]:
    """(two-letter status, path relative to the repo root) for every changed or untracked path."""
    out = git(cwd, "status", "--porcelain=v1", "-z", "--untracked-files=all").stdout
    entries = []
    parts = out.split("\x00")
    i = 0
    while i < len(parts):
        item = parts[i]
        i += 1
        if not item:
            continue
        code, path = item[:2], item[3:]
        if code[0] in "RC":
            i += 1  # the rename's source path follows
        entries.append((code, path))
    return entries


def is_session_path(path_from_root: str, session_rel: str) -> bool:
    names = {os.path.normpath(os.path.join(session_rel, name)) for name in SESSION_FILES}
    names.add(os.path.normpath(os.path.join(".claude", "autoresearch.local.md")))
    return os.path.normpath(path_from_root) in names


def exclude_session_files(repo_root: str, session_dir: str) -> None:
    """List the session files in .git/info/exclude so no experiment commit sweeps them in.

    .git/info/exclude is local to the clone: nothing has to be committed for it.
    """
    git_dir = git(repo_root, "rev-parse", "--git-common-dir").stdout.strip()
    if not os.path.isabs(git_dir):
        git_dir = os.path.join(repo_root, git_dir)
    exclude_path = os.path.join(git_dir, "info", "exclude")
    rel = os.path.relpath(session_dir, repo_root)
    wanted = []
    for name in SESSION_FILES:
        path = os.path.normpath(os.path.join(rel, name)) if rel != "." else name
        wanted.append("/" + path.replace(os.sep, "/"))
    try:
        with open(exclude_path, encoding="utf-8") as handle:
            existing = handle.read()
    except FileNotFoundError:
        existing = ""
    present = set(existing.splitlines())
    missing = [line for line in wanted if line not in present]
    if missing:
        separator = "\n" if existing and not existing.endswith("\n") else ""
        os.makedirs(os.path.dirname(exclude_path), exist_ok=True)
        with open(exclude_path, "a", encoding="utf-8") as handle:
            handle.write(separator + "# autoresearch session files\n" + "\n".join(missing) + "\n")
