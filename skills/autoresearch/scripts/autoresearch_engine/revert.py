"""`revert`: back to the last logged state; which commits are still in effect, and undoing them safely.

The state the log vouches for is the tree of the last kept run's commit. Everything after it that
is still in effect (not taken back by a revert) is either a logged discard or an experiment that
was never logged, such as a run replaced by another before `log`.

`revert` builds its commit in git's object store (commit-tree with that tree, so no merge can stop
half-way and nothing staged slips in), moves the working tree with a two-tree `read-tree -m -u`
(which refuses to overwrite local edits and untracked files, ignored ones included), and moves HEAD
last with update-ref guarded by its old value. The session's own files are never written: they are
left out of the working-tree update even when an experiment commit swept them in.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import List, Optional

from . import gitops
from .errors import EngineError
from .session import Session
from .workspace import Workspace


@dataclass
class Kept:
    run: object
    commit: str  # full hash


def last_kept(repo: str, loaded: Session) -> Optional[Kept]:
    """The last run logged as kept whose commit is in HEAD's history."""
    for record in reversed(loaded.experiments):
        if record.get("status") != "keep":
            continue
        full = gitops.resolve(repo, str(record.get("commit") or "-"))
        if full and gitops.git(repo, "merge-base", "--is-ancestor", full, "HEAD", check=False).returncode == 0:
            return Kept(record.get("run"), full)
        return None
    return None


def in_effect(commits: List[dict]) -> List[dict]:
    """The commits whose change is still in the tree, oldest first: not undone by a later revert, and
    not themselves reverts of commits in the list."""
    undone = gitops.undone_commits(commits)
    by_hash = {entry["commit"]: entry for entry in commits}
    return [entry for entry in commits if entry["commit"] not in undone
            and not (entry["reverts"] and all(gitops.match(p, by_hash) for p in entry["reverts"]))]


def is_logged(entry: dict, loaded: Session) -> bool:
    return any(len(str(e.get("commit") or "")) >= 4 and entry["commit"].startswith(str(e.get("commit")))
               for e in loaded.experiments)


def describe(entries: List[dict], limit: int = 3) -> str:
    text = ", ".join(f"{e['commit'][:7]} '{e['subject']}'" for e in entries[:limit])
    return text + (f" and {len(entries) - limit} more" if len(entries) > limit else "")


@dataclass
class Plan:
    target: str  # the commit whose tree the revert restores
    undo: List[dict]  # the commits taken back, newest first
    kept: Optional[Kept]


def plan(ws: Workspace, repo: str, loaded: Session, force: bool) -> Plan:
    full, subject, parents = gitops.commit_info(repo)
    short = full[:7]
    if not parents:
        raise EngineError(f"HEAD {short} is the repository's first commit; refusing to revert it.")
    head_entry = {"commit": full, "subject": subject, "parents": parents,
                  "reverts": gitops.reverted_hashes(repo)}
    kept = last_kept(repo, loaded)
    head_kept = [e for e in loaded.experiments if e.get("status") == "keep"
                 and len(str(e.get("commit") or "")) >= 4 and full.startswith(str(e.get("commit")))]
    if head_kept and not force:
        raise EngineError(f"HEAD {short} is logged as kept (run #{head_kept[-1].get('run')}); refusing to revert a "
                          "kept result. Pass --force if you really mean it.")
    if force or kept is None or kept.commit == full:
        # no kept state to go back to (or --force): take back HEAD alone, as git revert would
        if len(parents) > 1:
            raise EngineError(f"HEAD {short} is a merge commit; revert it by hand with 'git revert -m 1 {short}'.")
        if head_entry["reverts"] and not force:
            raise EngineError(f"HEAD {short} is already a revert ('{subject}'); the experiment is discarded. "
                              "Commit the next experiment first.")
        chosen = Plan(parents[0], [head_entry], None)
    else:
        commits = gitops.history(repo, kept.commit)
        merges = [e for e in commits if len(e["parents"]) != 1]
        if merges:
            raise EngineError(f"{merges[-1]['commit'][:7]} after the last kept run is a merge commit; revert by hand "
                              f"with 'git revert -m 1 {merges[-1]['commit'][:7]}'.")
        undo = list(reversed(in_effect(commits)))
        if not undo and gitops.tree_of(repo, "HEAD") == gitops.tree_of(repo, kept.commit):
            if head_entry["reverts"]:
                raise EngineError(f"HEAD {short} is already a revert ('{subject}'); the experiment is discarded. "
                                  "Commit the next experiment first.")
            raise EngineError(f"nothing to revert: the files are those of the last kept run #{kept.run} "
                              f"({kept.commit[:7]}). Commit the next experiment first.")
        chosen = Plan(kept.commit, undo, kept)
    pending = ws.read_pending()
    measured = [e for e in chosen.undo if pending and pending.get("commit") and not pending.get("protected")
                and e["commit"].startswith(str(pending["commit"]))]
    if measured and not force:
        raise EngineError(f"the run of {measured[0]['commit'][:7]} is measured but not logged; log it first with "
                          "'autoresearch log --description …' so the result is not lost (or pass --force).")
    return chosen


def message(chosen: Plan) -> str:
    if len(chosen.undo) == 1:
        only = chosen.undo[0]
        return f'Revert "{only["subject"]}"\n\nThis reverts commit {only["commit"]}.\n'
    back_to = f"run #{chosen.kept.run} ({chosen.kept.commit[:7]})" if chosen.kept else chosen.target[:7]
    lines = [f"Revert {len(chosen.undo)} commits, back to {back_to}", ""]
    lines += [f"- {entry['commit'][:7]} {entry['subject']}" for entry in chosen.undo]
    lines.append("")
    lines += [f"This reverts commit {entry['commit']}." for entry in chosen.undo]
    return "\n".join(lines) + "\n"


def apply(ws: Workspace, repo: str, chosen: Plan) -> str:
    """Make the revert commit, move the working tree to it (session files aside), then HEAD. The new HEAD."""
    old = gitops.git(repo, "rev-parse", "HEAD").stdout.strip()
    owned = ws.owned_paths(repo)
    changed, _ = ws.uncommitted(repo)
    if changed:
        raise EngineError(f"uncommitted changes would be lost: {gitops.shown_list(changed)}; commit them "
                          "(git commit -am …) or discard them yourself before reverting.")
    session_paths = [p for p in gitops.changed_paths(repo, old, chosen.target) if gitops.owned_by(p, owned)]
    in_the_way = [p for p in gitops.changed_paths(repo, old, chosen.target, diff_filter="A")
                  if not gitops.owned_by(p, owned) and os.path.lexists(os.path.join(repo, p))]
    if in_the_way:
        raise EngineError(f"reverting would overwrite {gitops.shown_list(in_the_way)}, which git does not track "
                          "here (the experiment stopped tracking it, or it is new): move it aside or delete it, "
                          "then run 'autoresearch revert' again.")
    new_tree = gitops.tree_of(repo, chosen.target)
    files_tree = _with_paths_from(repo, new_tree, old, session_paths) if session_paths else new_tree
    made = gitops.git(repo, "commit-tree", new_tree, "-p", old, "-F", "-", data=message(chosen).encode("utf-8"),
                      check=False)
    if made.returncode != 0:
        raise EngineError(f"git could not make the revert commit ({gitops.failure(made)}); nothing was changed. "
                          "Fix that (git config user.name / user.email, for instance), then revert again.")
    commit = made.stdout.strip()
    gitops.git(repo, "update-index", "-q", "--refresh", check=False)
    moved = gitops.git(repo, "read-tree", "-m", "-u", old, files_tree, check=False)
    if moved.returncode != 0:
        raise EngineError(f"git could not change the files back ({gitops.failure(moved)}); nothing was changed. "
                          "Fix that, then run 'autoresearch revert' again.")
    if session_paths:
        # the index follows the new commit; the session's files on disk stay as they are
        gitops.git(repo, "reset", "-q", commit, "--", *session_paths)
    ref = gitops.git(repo, "update-ref", "-m", "autoresearch revert", "HEAD", commit, old, check=False)
    if ref.returncode != 0:
        gitops.git(repo, "read-tree", "-m", "-u", files_tree, old, check=False)
        raise EngineError(f"HEAD moved while reverting ({gitops.failure(ref)}); the files are back as they were. "
                          "Run 'autoresearch revert' again.")
    return commit


def _with_paths_from(repo: str, tree: str, source: str, paths: List[str]) -> str:
    """`tree` with `paths` as they are in `source` (added, changed or removed), built in a private index."""
    scratch = tempfile.mkdtemp(prefix="autoresearch-revert-")
    env = {"GIT_INDEX_FILE": os.path.join(scratch, "index")}
    try:
        gitops.git(repo, "read-tree", tree, env=env)
        gitops.git(repo, "reset", "-q", source, "--", *paths, env=env)
        return gitops.git(repo, "write-tree", env=env).stdout.strip()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
