"""`autoresearch finalize`: the kept experiments of a session branch as clean, reviewable branches.

Neither the session branch nor the working tree is touched: every new commit is built in a
temporary index starting from the merge-base (read-tree, apply --cached, write-tree, commit-tree),
branches appear only once every commit is built, and each branch's own checks run in a throwaway clone.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from . import gitops, runner
from . import session as session_module
from .errors import EngineError
from .display import short
from .sessionfiles import CHECKS_SCRIPT


@dataclass
class Kept:
    run: int
    commit: str  # full hash
    description: str
    metric: Optional[float]
    segment: session_module.Segment
    order: int  # position on the session branch, oldest first
    files: List[str] = field(default_factory=list)


@dataclass
class Group:
    runs: List[Kept]
    branch: str = ""
    commit: str = ""
    message: str = ""

    @property
    def files(self) -> List[str]:
        return sorted({name for kept in self.runs for name in kept.files})


def _git(repo: str, *args: str, data: Optional[bytes] = None, env: Optional[dict] = None) -> subprocess.CompletedProcess:
    return gitops.git_bytes(repo, *args, check=False, data=data, env=env)


# ---- reading the session branch ----------------------------------------------------------------

def find_base(repo: str, branch: str, wanted: Optional[str]) -> str:
    if wanted:
        if gitops.resolve(repo, wanted) is None:
            raise EngineError(f"--base {wanted} is not a branch or commit of this repository.")
        return wanted
    for candidate in ("main", "master"):
        if candidate != branch and gitops.resolve(repo, f"refs/heads/{candidate}"):
            return candidate
    raise EngineError(f"cannot tell which branch the session '{branch}' started from (no main or master beside it); "
                      "pass --base BRANCH.")


def kept_experiments(repo: str, loaded: session_module.Session, history: List[dict]) -> tuple:
    """(kept runs to finalize, notes on the kept runs that are left out and why)."""
    by_hash = {entry["commit"]: entry for entry in history}
    order = {entry["commit"]: i for i, entry in enumerate(history)}
    undone = gitops.undone_commits(history)
    kept, notes, seen = [], [], {}
    for seg in loaded.segments:
        baseline = seg.kept[0] if seg.kept else None
        for record in seg.experiments:
            if record.get("status") != "keep":
                continue
            run, commit = record.get("run"), str(record.get("commit") or "")
            label = f"#{run} {commit[:7]}"
            full = gitops.match(commit, by_hash) if len(commit) >= 4 else None
            if record is baseline:
                notes.append(f"{label} is the baseline of segment {seg.index}: the harness, not an experiment")
            elif full is None:
                notes.append(f"{label} is not on this branch after the merge-base")
            elif full in undone:
                notes.append(f"{label} was reverted later")
            elif len(by_hash[full]["parents"]) != 1:
                notes.append(f"{label} is a merge commit; merge commits cannot be replayed")
            elif full in seen:
                seen[full].description += f"; {record.get('description', '')}"
            else:
                item = Kept(run=run, commit=full, description=str(record.get("description") or ""),
                            metric=record.get("metric"), segment=seg, order=order[full])
                item.files = _files(repo, full)
                if not item.files:
                    notes.append(f"{label} changes no file")
                    continue
                seen[full] = item
                kept.append(item)
    logged = {gitops.match(str(e.get("commit") or "-"), by_hash) for e in loaded.experiments}
    for entry in history:
        if entry["commit"] not in logged and not entry["reverts"] and entry["commit"] not in undone:
            notes.append(f"{entry['commit'][:7]} '{short(entry['subject'], 50)}' is not a logged experiment")
    kept.sort(key=lambda item: item.order)
    return kept, notes


def _files(repo: str, commit: str) -> List[str]:
    return sorted(gitops.changed_paths(repo, f"{commit}^", commit))


# ---- grouping -----------------------------------------------------------------------------------

def propose_groups(kept: List[Kept]) -> List[Group]:
    """Experiments that touch a common file end up together; groups share no file."""
    parent = list(range(len(kept)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: Dict[str, int] = {}
    for i, item in enumerate(kept):
        for name in item.files:
            if name in owner:
                parent[root(i)] = root(owner[name])
            else:
                owner[name] = i
    groups: Dict[int, List[Kept]] = {}
    for i, item in enumerate(kept):
        groups.setdefault(root(i), []).append(item)
    return sorted((Group(runs) for runs in groups.values()), key=lambda g: g.runs[0].order)


def requested_groups(kept: List[Kept], specs: List[str]) -> List[Group]:
    by_run = {item.run: item for item in kept}
    groups, used = [], {}
    for number, spec in enumerate(specs, start=1):
        runs = []
        for token in spec.replace(" ", "").split(","):
            if not token.lstrip("#").isdigit():
                raise EngineError(f"--group {spec!r} must list run numbers separated by commas, such as 3,5.")
            run = int(token.lstrip("#"))
            if run not in by_run:
                raise EngineError(f"--group {spec!r} names run #{run}, which is not a kept experiment of this branch; "
                                  f"kept: {', '.join('#' + str(r) for r in sorted(by_run))}.")
            if run in used:
                raise EngineError(f"run #{run} is in --group {used[run]} and --group {number}; put it in one group only.")
            used[run] = number
            runs.append(by_run[run])
        groups.append(Group(sorted(runs, key=lambda item: item.order)))
    for i, first in enumerate(groups):
        for j in range(i + 1, len(groups)):
            shared = sorted(set(first.files) & set(groups[j].files))
            if shared:
                raise EngineError(
                    f"--group {i + 1} and --group {j + 1} both change {gitops.shown_list(shared, 3)}, so their branches "
                    "would conflict; put those runs in one group (or leave the proposed grouping alone).")
    return groups


# ---- building commits ---------------------------------------------------------------------------

def build_commit(repo: str, merge_base: str, group: Group, message: str) -> str:
    """The group's changes, replayed onto the merge-base in a private index, as one new commit."""
    scratch = tempfile.mkdtemp(prefix="autoresearch-finalize-")
    env = {"GIT_INDEX_FILE": os.path.join(scratch, "index")}
    try:
        _checked(_git(repo, "read-tree", merge_base, env=env), "read-tree")
        for item in group.runs:
            patch = _git(repo, "diff", "--binary", "--full-index", f"{item.commit}^", item.commit)
            applied = _git(repo, "apply", "--cached", "--binary", "-", data=patch.stdout, env=env)
            if applied.returncode != 0:
                raise EngineError(
                    f"run #{item.run} ({item.commit[:7]}) does not apply to the merge-base by itself "
                    f"({gitops.failure(applied)}): it builds on a change outside its group; group it with that run, "
                    "or use --squash.")
        tree = _checked(_git(repo, "write-tree", env=env), "write-tree").stdout.decode().strip()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    made = _checked(_git(repo, "commit-tree", tree, "-p", merge_base, "-F", "-", data=message.encode("utf-8", errors="replace")),
                    "commit-tree")
    return made.stdout.decode().strip()


def _checked(result: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    if result.returncode != 0:
        raise EngineError(f"git {what} failed ({gitops.failure(result)}); nothing was created.")
    return result


def commit_message(group: Group, session_name: str, branch: str, squash: bool) -> str:
    runs = group.runs
    joined = "; ".join(item.description for item in runs)
    if not squash and len(joined) <= 72:
        title = joined
    else:
        title = f"{session_name}: {len(runs)} kept experiment{'s' if len(runs) != 1 else ''}"
    lines = [short(title, 72), ""]
    for seg in {id(item.segment): item.segment for item in runs}.values():
        last = [item for item in runs if item.segment is seg][-1]
        unit = f" {seg.metric_unit}" if seg.metric_unit else ""
        lines.append(f"metric: {_fmt(seg.baseline)} → {_fmt(last.metric)}{unit}")
        lines.append(f"  ({seg.metric_name}, {seg.direction} is better; before: the baseline of segment "
                     f"{seg.index}; after: run #{last.run} as measured on {branch})")
    lines.append("")
    for item in runs:
        lines.append(f"- #{item.run} {item.description} ({item.commit[:7]})")
    return "\n".join(lines) + "\n"


def _fmt(value) -> str:
    return "n/a" if value is None else (f"{value:.6g}" if isinstance(value, float) else str(value))


def create_branches(repo: str, groups: List[Group]) -> None:
    """Point a new branch at each group's commit: all of them, or none when one cannot be made."""
    created = []
    try:
        for group in groups:
            _checked(_git(repo, "update-ref", f"refs/heads/{group.branch}", group.commit, ""), "update-ref")
            created.append(group.branch)
    except EngineError:
        for made in created:
            _git(repo, "update-ref", "-d", f"refs/heads/{made}")
        raise


def slug(text: str) -> str:
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return value[:40].strip("-") or "session"


# Runs the checks as its child and ends its whole process group when the engine that started it dies,
# even by SIGKILL (the engine cannot clean up then): a killed finalize leaves no checks running. The
# engine's pid comes as the first argument: an engine killed before the guard started is noticed too.
GUARD = """
import os, signal, subprocess, sys, threading, time
parent = int(sys.argv[1])
def watch():
    while os.getppid() == parent:
        time.sleep(0.1)
    os.killpg(0, signal.SIGKILL)
threading.Thread(target=watch, daemon=True).start()
code = subprocess.call(sys.argv[2:])
sys.exit(code if code >= 0 else 128 - code)
"""


def run_checks(repo: str, session_rel: str, commit: str, timeout: float) -> Optional[tuple]:
    """(passed, last lines of output) for the commit's own checks script, run in a throwaway clone of the
    commit; None when the commit has no checks script. The clone shares the repository's objects and is
    not registered anywhere, so nothing is left in the repository if finalize is killed."""
    scratch = tempfile.mkdtemp(prefix="autoresearch-checks-")
    tree = os.path.join(scratch, "tree")
    try:
        _checked(_git(repo, "clone", "--quiet", "--shared", "--no-checkout", repo, tree), "clone")
        _checked(_git(tree, "checkout", "--quiet", "--detach", commit), "checkout")
        cwd = os.path.join(tree, session_rel)
        if not os.path.isfile(os.path.join(cwd, CHECKS_SCRIPT)):
            return None
        log = os.path.join(scratch, "checks.log")
        outcome = runner.run([sys.executable, "-c", GUARD, str(os.getpid()), "bash", CHECKS_SCRIPT], cwd=cwd, log_path=log,
                             timeout=timeout)
        return outcome.ok, runner.tail(log, 5)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def plan_text(branch, base, merge_base, kept, groups, notes, squash) -> str:
    lines = [f"session branch {branch}; base {base} (merge-base {merge_base[:7]})",
             f"kept experiments ({len(kept)}):"]
    for item in kept:
        lines.append(f"  #{item.run} {item.commit[:7]} {short(item.description, 60)}")
        lines.append(f"      files: {gitops.shown_list(item.files, len(item.files))}")
    for note in notes:
        lines.append(f"  left out: {note}")
    lines.append("one branch with every kept change:" if squash else
                 f"{len(groups)} branch(es), from {merge_base[:7]}, sharing no file:")
    for group in groups:
        runs = ", ".join(f"#{item.run}" for item in group.runs)
        lines.append(f"  {group.branch}: {runs} — {', '.join(gitops.shown(name) for name in group.files[:6])}"
                     f"{' …' if len(group.files) > 6 else ''}")
    return "\n".join(lines)
