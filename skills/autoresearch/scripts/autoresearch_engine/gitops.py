"""The few git operations the loop needs, each with a clear error instead of git's own."""

from __future__ import annotations

import os
import re
import subprocess
from typing import Dict, List, Optional, Tuple

from .errors import EngineError
from .sessionfiles import SESSION_FILES



def git_bytes(cwd: str, *args: str, check: bool = True, data: Optional[bytes] = None,
              env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """Run git; stdout and stderr stay bytes (git's output is bytes: paths and diffs need not be UTF-8)."""
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=data,
            stdin=None if data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(os.environ, **env) if env else None,
        )
    except FileNotFoundError:
        raise EngineError("git is not installed or not on PATH; install git first.") from None
    if check and result.returncode != 0:
        raise EngineError(f"git {' '.join(args[:2])} failed: {failure(result)}")
    return result


def git(cwd: str, *args: str, check: bool = True, data: Optional[bytes] = None,
        env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """Run git; its output as text fit to show or record (bytes that are not UTF-8 become U+FFFD)."""
    result = git_bytes(cwd, *args, check=check, data=data, env=env)
    result.stdout = result.stdout.decode("utf-8", errors="replace")
    result.stderr = result.stderr.decode("utf-8", errors="replace")
    return result


def failure(result: subprocess.CompletedProcess) -> str:
    """The last line git printed about a failure."""
    out = result.stderr or result.stdout
    text = out.decode("utf-8", errors="replace") if isinstance(out, bytes) else out
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"exit {result.returncode}"


def shown(path: str) -> str:
    """A path as it may be printed or recorded: undecodable bytes become U+FFFD."""
    return os.fsencode(path).decode("utf-8", errors="replace")


def shown_list(paths: List[str], limit: int = 5) -> str:
    names = ", ".join(shown(path) for path in paths[:limit])
    return names + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def _paths(out: bytes) -> List[str]:
    """NUL-separated paths from git -z output, as file-system strings (undecodable bytes kept)."""
    return [os.fsdecode(item) for item in out.split(b"\x00") if item]


def toplevel(cwd: str) -> Optional[str]:
    result = git_bytes(cwd, "rev-parse", "--show-toplevel", check=False)
    return os.fsdecode(result.stdout.rstrip(b"\n")) if result.returncode == 0 else None


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


REVERTS_LINE = re.compile(r"^This reverts commit ([0-9a-f]{7,40})\.\s*$", re.MULTILINE)


def reverted_hashes(cwd: str, rev: str = "HEAD") -> List[str]:
    """The commits that `rev` reverts, read from its 'This reverts commit X.' lines."""
    return REVERTS_LINE.findall(git(cwd, "log", "-1", "--format=%B", rev).stdout)


def reverted_hash(cwd: str, rev: str = "HEAD") -> Optional[str]:
    found = reverted_hashes(cwd, rev)
    return found[0] if found else None


def history(cwd: str, since: str) -> List[dict]:
    """The commits in since..HEAD, oldest first: hash, parents, subject and the commits each one reverts."""
    out = git(cwd, "log", "--reverse", "--format=%H%x00%P%x00%s%x00%B%x1e", f"{since}..HEAD").stdout
    commits = []
    for chunk in out.split("\x1e"):
        chunk = chunk.strip("\n")
        if not chunk:
            continue
        full, parents, subject, body = chunk.split("\x00", 3)
        commits.append({"commit": full, "parents": parents.split(), "subject": subject,
                        "reverts": REVERTS_LINE.findall(body)})
    return commits


def match(prefix: str, by_hash: Dict[str, dict]) -> Optional[str]:
    """The one full hash in by_hash that starts with prefix; None when none or several do."""
    found = [full for full in by_hash if full.startswith(prefix)]
    return found[0] if len(found) == 1 else None


def undone_commits(commits: List[dict]) -> set:
    """Commits whose change a later revert takes back (a revert of that revert brings it back)."""
    by_hash = {entry["commit"]: entry for entry in commits}
    undone = set()
    for entry in commits:
        for prefix in entry["reverts"]:
            target = match(prefix, by_hash)
            if target is None:
                continue
            undone.add(target)
            for again in by_hash[target]["reverts"]:
                undone.discard(match(again, by_hash))
    return undone


def porcelain(cwd: str) -> List[Tuple[str, str]]:
    """(two-letter status, path relative to the repo root) for every changed or untracked path."""
    out = git_bytes(cwd, "status", "--porcelain=v1", "-z", "--untracked-files=all").stdout
    entries = []
    parts = out.split(b"\x00")
    i = 0
    while i < len(parts):
        item = parts[i]
        i += 1
        if not item:
            continue
        code, path = item[:2].decode("ascii", errors="replace"), os.fsdecode(item[3:])
        if code[0] in "RC":
            i += 1  # the rename's source path follows
        entries.append((code, path))
    return entries


def changed_paths(cwd: str, old: str, new: str, diff_filter: Optional[str] = None) -> List[str]:
    """Paths that differ between two commits or trees (only added ones with diff_filter='A', and so on)."""
    args = ["diff-tree", "-r", "--no-commit-id", "--name-only", "-z"]
    if diff_filter:
        args.append(f"--diff-filter={diff_filter}")
    return _paths(git_bytes(cwd, *args, old, new).stdout)


def tree_of(cwd: str, rev: str) -> str:
    return git(cwd, "rev-parse", f"{rev}^{{tree}}").stdout.strip()


def relative_paths(repo_root: str, paths: List[str]) -> set:
    """The given absolute paths that lie inside the repository, relative to its root."""
    root = os.path.realpath(repo_root)
    inside = set()
    for path in paths:
        rel = os.path.relpath(os.path.realpath(path), root)
        if rel != os.pardir and not rel.startswith(os.pardir + os.sep):
            inside.add(os.path.normpath(rel))
    return inside


def owned_by(path_from_root: str, owned: set) -> bool:
    """Whether a repo-relative path is one of `owned`, or an atomic-write temporary of one (NAME.tmp-PID)."""
    path = os.path.normpath(path_from_root)
    if path in owned:
        return True
    stem, _, pid = path.rpartition(".tmp-")
    return bool(stem) and pid.isdigit() and stem in owned


def uncommitted(repo_root: str, owned: set) -> Tuple[List[str], List[str]]:
    """(tracked paths with changes, untracked paths that are not ignored), leaving out the `owned` paths."""
    changed, untracked = [], []
    for code, path in porcelain(repo_root):
        if not owned_by(path, owned):
            (untracked if code == "??" else changed).append(path)
    return changed, untracked


def git_dir(repo_root: str, common: bool = False) -> str:
    """The absolute git folder of this working tree, or with `common` the one all its worktrees share."""
    path = os.fsdecode(git_bytes(repo_root, "rev-parse", "--git-common-dir" if common else "--git-dir")
                      .stdout.rstrip(b"\n"))
    return path if os.path.isabs(path) else os.path.join(repo_root, path)


def exclude_session_files(repo_root: str, session_dir: str) -> None:
    """List the session files in .git/info/exclude so no experiment commit sweeps them in.

    .git/info/exclude is local to the clone: nothing has to be committed for it.
    """
    exclude_path = os.path.join(git_dir(repo_root, common=True), "info", "exclude")
    rel = os.path.relpath(session_dir, repo_root)
    wanted = []
    for name in SESSION_FILES:
        path = os.path.normpath(os.path.join(rel, name)) if rel != "." else name
        wanted.append("/" + path.replace(os.sep, "/"))
        wanted.append("/" + path.replace(os.sep, "/") + ".tmp-*")  # write_atomic's temporary, if a kill leaves it
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
