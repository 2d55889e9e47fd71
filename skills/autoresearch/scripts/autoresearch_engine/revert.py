"""Discarding the current experiment commit with `git revert`, keeping the session files as they are."""

from __future__ import annotations

import os
import sys
from typing import Tuple

from . import config, gitops, jsonlog, session
from .errors import EngineError
from .workspace import Workspace


def revert_head(ws: Workspace, force: bool) -> Tuple[str, str, str]:
    """Revert HEAD after the safety checks; (its short hash, its subject, the new HEAD)."""
    cwd = ws.session_dir
    repo = gitops.toplevel(cwd)
    if not repo:
        raise EngineError("this folder is not a git repository; there is no experiment commit to revert.")
    if gitops.head(cwd) is None:
        raise EngineError("the repository has no commits yet; there is nothing to revert.")
    full, subject, parents = gitops.commit_info(cwd)
    short = full[:7]
    if not parents:
        raise EngineError(f"HEAD {short} is the repository's first commit; refusing to revert it.")
    if len(parents) > 1:
        raise EngineError(f"HEAD {short} is a merge commit; revert it by hand with 'git revert -m 1 {short}'.")
    if gitops.reverted_hash(cwd) and not force:
        raise EngineError(f"HEAD {short} is already a revert ('{subject}'); the experiment is discarded. "
                          "Commit the next experiment first.")
    loaded = session.load(jsonlog.read_log(ws.log_path))
    for warning in loaded.warnings:
        print(f"autoresearch: warning: {warning}", file=sys.stderr)
    kept = [e for e in loaded.experiments if e.get("status") == "keep" and full.startswith(str(e.get("commit", "-")))]
    if kept and not force:
        raise EngineError(f"HEAD {short} is logged as kept (run #{kept[-1].get('run')}); refusing to revert a kept "
                          "result. Pass --force if you really mean it.")
    pending = ws.read_pending()
    if pending and pending.get("commit") and full.startswith(pending["commit"]) and not force:
        raise EngineError(f"the run of {short} is measured but not logged; log it first with "
                          "'autoresearch log --description …' so the result is not lost (or pass --force).")
    session_rel = os.path.relpath(cwd, repo)
    dirty = [path for code, path in gitops.porcelain(repo)
             if code != "??" and not gitops.is_session_path(path, session_rel)]
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise EngineError(f"uncommitted changes would be lost: {shown}; commit them (git commit -am …) or "
                          "discard them yourself before reverting.")
    snapshot = _snapshot_session_files(ws)
    tracked_dirty = [path for code, path in gitops.porcelain(repo) if code != "??" and gitops.is_session_path(path, session_rel)]
    try:
        for path in tracked_dirty:
            gitops.git(repo, "checkout", "--", path)
        if gitops.git(repo, "diff-tree", "--quiet", "HEAD^", "HEAD", check=False).returncode == 0:
            # git revert refuses an empty commit; record the same revert by hand so resume still sees it
            message = f'Revert "{subject}"\n\nThis reverts commit {full}.\n'
            result = gitops.git(repo, "commit", "-q", "--allow-empty", "-m", message, check=False)
        else:
            result = gitops.git(repo, "revert", "--no-edit", "HEAD", check=False)
        if result.returncode != 0:
            gitops.git(repo, "revert", "--abort", check=False)
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise EngineError(f"git revert of {short} failed ({detail[-1] if detail else 'no detail'}); "
                              "the repository is unchanged.")
    finally:
        _restore(snapshot)
    return short, subject, gitops.head(cwd)


def _snapshot_session_files(ws: Workspace) -> dict:
    paths = {os.path.join(ws.session_dir, name) for name in gitops.SESSION_FILES}
    paths.add(os.path.join(ws.project_dir, config.CONFIG_RELPATH))
    paths.add(ws.log_path)
    paths.add(ws.pending_path)
    snapshot = {}
    for path in paths:
        try:
            with open(path, "rb") as handle:
                snapshot[path] = handle.read()
        except (FileNotFoundError, IsADirectoryError):
            snapshot[path] = None
    return snapshot


def _restore(snapshot: dict) -> None:
    for path, data in snapshot.items():
        current = None
        try:
            with open(path, "rb") as handle:
                current = handle.read()
        except (FileNotFoundError, IsADirectoryError):
            pass
        if data is None or current == data:
            continue
        config.write_atomic(path, data)
