"""`autoresearch finalize`: the kept experiments of a session branch as clean, reviewable branches.

Neither the session branch nor the working tree is touched: every new commit is built in a
temporary index starting from the merge-base (read-tree, apply --cached, write-tree, commit-tree),
branches appear only once every commit is built, and the checks run in temporary worktrees.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from . import gitops, jsonlog, runner
from . import session as session_module
from .errors import EngineError
from .report import short
from .workspace import CHECKS_SCRIPT, open_workspace

EXIT_CHECKS_FAILED = 1


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
    try:
        return subprocess.run(["git", *args], cwd=repo, input=data, capture_output=True,
                              env=dict(os.environ, **env) if env else None)
    except FileNotFoundError:
        raise EngineError("git is not installed or not on PATH; install git first.") from None


def _detail(result: subprocess.CompletedProcess) -> str:
    lines = (result.stderr or result.stdout).decode("utf-8", errors="replace").strip().splitlines()
    return lines[-1] if lines else f"exit {result.returncode}"


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


def branch_history(repo: str, merge_base: str) -> List[dict]:
    """The commits after the merge-base, oldest first, each with what it reverts (if it is a revert)."""
    out = gitops.git(repo, "log", "--reverse", "--format=%H%x00%P%x00%s%x00%B%x1e", f"{merge_base}..HEAD").stdout
    history = []
    for chunk in out.split("\x1e"):
        chunk = chunk.strip("\n")
        if not chunk:
            continue
        full, parents, subject, body = chunk.split("\x00", 3)
        match = re.search(r"This reverts commit ([0-9a-f]{7,40})\.", body)
        history.append({"commit": full, "parents": parents.split(), "subject": subject,
                        "reverts": match.group(1) if match else None})
    return history


def undone_commits(history: List[dict]) -> set:
    """Commits whose change a later revert takes back (a revert of that revert brings it back)."""
    by_hash = {entry["commit"]: entry for entry in history}
    undone = set()
    for entry in history:
        target = _match(entry["reverts"], by_hash) if entry["reverts"] else None
        if target is None:
            continue
        undone.add(target)
        again = by_hash[target]["reverts"] and _match(by_hash[target]["reverts"], by_hash)
        if again:
            undone.discard(again)
    return undone


def _match(prefix: str, by_hash: Dict[str, dict]) -> Optional[str]:
    found = [full for full in by_hash if full.startswith(prefix)]
    return found[0] if len(found) == 1 else None


def kept_experiments(repo: str, loaded: session_module.Session, history: List[dict]) -> tuple:
    """(kept runs to finalize, notes on the kept runs that are left out and why)."""
    by_hash = {entry["commit"]: entry for entry in history}
    order = {entry["commit"]: i for i, entry in enumerate(history)}
    undone = undone_commits(history)
    kept, notes, seen = [], [], {}
    for seg in loaded.segments:
        baseline = seg.kept[0] if seg.kept else None
        for record in seg.experiments:
            if record.get("status") != "keep":
                continue
            run, commit = record.get("run"), str(record.get("commit") or "")
            label = f"#{run} {commit[:7]}"
            full = _match(commit, by_hash) if len(commit) >= 4 else None
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
    logged = {_match(str(e.get("commit") or "-"), by_hash) for e in loaded.experiments}
    for entry in history:
        if entry["commit"] not in logged and not entry["reverts"] and entry["commit"] not in undone:
            notes.append(f"{entry['commit'][:7]} '{short(entry['subject'], 50)}' is not a logged experiment")
    kept.sort(key=lambda item: item.order)
    return kept, notes


def _files(repo: str, commit: str) -> List[str]:
    out = gitops.git(repo, "diff-tree", "--no-commit-id", "-r", "--name-only", "-z", f"{commit}^", commit).stdout
    return sorted(name for name in out.split("\x00") if name)


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
                    f"--group {i + 1} and --group {j + 1} both change {', '.join(shared[:3])}, so their branches "
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
                    f"({_detail(applied)}): it builds on a change outside its group; group it with that run, "
                    "or use --squash.")
        tree = _checked(_git(repo, "write-tree", env=env), "write-tree").stdout.decode().strip()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    made = _checked(_git(repo, "commit-tree", tree, "-p", merge_base, "-F", "-", data=message.encode("utf-8")),
                    "commit-tree")
    return made.stdout.decode().strip()


def _checked(result: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    if result.returncode != 0:
        raise EngineError(f"git {what} failed ({_detail(result)}); nothing was created.")
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


def slug(text: str) -> str:
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return value[:40].strip("-") or "session"


def run_checks(repo: str, session_rel: str, script: str, commit: str, timeout: float) -> tuple:
    """(passed, last lines of output) for the checks script run in a throwaway worktree of `commit`."""
    scratch = tempfile.mkdtemp(prefix="autoresearch-checks-")
    tree = os.path.join(scratch, "tree")
    try:
        _checked(_git(repo, "worktree", "add", "--detach", "--quiet", tree, commit), "worktree add")
        cwd = os.path.join(tree, session_rel)
        outcome = runner.run(["bash", script], cwd=cwd if os.path.isdir(cwd) else tree,
                             log_path=os.path.join(scratch, "checks.log"), timeout=timeout)
        return outcome.ok, runner.tail(os.path.join(scratch, "checks.log"), 5)
    finally:
        _git(repo, "worktree", "remove", "--force", tree)
        _git(repo, "worktree", "prune")
        shutil.rmtree(scratch, ignore_errors=True)


# ---- the command --------------------------------------------------------------------------------

def cmd_finalize(args) -> int:
    ws = open_workspace(args.dir, args.file)
    repo = gitops.toplevel(ws.session_dir)
    if not repo:
        raise EngineError("this folder is not a git repository, so there are no experiment commits to finalize.")
    if args.squash and args.group:
        raise EngineError("--squash makes one branch of every kept change; leave out --group with it.")
    branch = gitops.git(repo, "symbolic-ref", "--short", "-q", "HEAD", check=False).stdout.strip()
    if not branch:
        raise EngineError("HEAD is detached; check out the session branch before 'autoresearch finalize'.")
    session_rel = os.path.relpath(ws.session_dir, repo)
    dirty = [path for code, path in gitops.porcelain(repo)
             if code != "??" and not gitops.is_session_path(path, session_rel)]
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise EngineError(f"the working tree has uncommitted changes ({shown}); commit or stash them first.")
    loaded = session_module.load(jsonlog.read_log(ws.log_path))
    if not loaded.exists:
        raise EngineError(f"{ws.log_path} holds no session, so there is nothing to finalize.")
    base = find_base(repo, branch, args.base)
    found = gitops.git(repo, "merge-base", "HEAD", base, check=False)
    if found.returncode != 0:
        raise EngineError(f"{branch} and {base} share no history; pass the branch the session started from with --base.")
    merge_base = found.stdout.strip()
    history = branch_history(repo, merge_base)
    if not history:
        raise EngineError(f"{branch} has no commits beyond {base}; check out the session branch, or pass --base.")
    kept, notes = kept_experiments(repo, loaded, history)
    if not kept:
        raise EngineError(f"{branch} holds no kept experiment after {base}, so there is nothing to finalize.")
    groups = [Group(kept)] if args.squash else requested_groups(kept, args.group) if args.group else propose_groups(kept)

    name = (loaded.current.config or {}).get("name") or "autoresearch session"
    prefix = args.prefix or f"autoresearch/final/{slug(name)}"
    for number, group in enumerate(groups, start=1):
        group.branch = prefix if args.squash else f"{prefix}-{number}"
        if gitops.git(repo, "check-ref-format", "--branch", group.branch, check=False).returncode != 0:
            raise EngineError(f"{group.branch!r} is not a valid branch name; pass another --prefix.")
        if gitops.resolve(repo, f"refs/heads/{group.branch}"):
            raise EngineError(f"the branch {group.branch} exists already; delete it (git branch -D {group.branch}) "
                              "or pass another --prefix.")
        group.message = commit_message(group, name, branch, args.squash)
        group.commit = build_commit(repo, merge_base, group, group.message)

    print(plan_text(branch, base, merge_base, kept, groups, notes, args.squash))
    if args.dry_run:
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise EngineError(f"nothing created: confirm with --yes to create {len(groups)} branch(es) "
                              "(or --dry-run to only see the plan).")
        try:
            answer = input(f"Create {len(groups)} branch(es)? [y/N] ").strip().lower()
        except EOFError:
            answer = ""
        if answer not in ("y", "yes"):
            print("autoresearch: nothing created.")
            return 1
    created = []
    try:
        for group in groups:
            _checked(_git(repo, "update-ref", f"refs/heads/{group.branch}", group.commit, ""), "update-ref")
            created.append(group.branch)
    except EngineError:
        for made in created:
            _git(repo, "update-ref", "-d", f"refs/heads/{made}")
        raise
    for group in groups:
        print(f"created {group.branch} ({group.commit[:7]})")
    return _checks(ws, repo, session_rel, groups, args)


def _checks(ws, repo: str, session_rel: str, groups: List[Group], args) -> int:
    script = ws.file(CHECKS_SCRIPT)
    if args.no_checks or not os.path.isfile(script):
        return 0
    failed = []
    for group in groups:
        passed, lines = run_checks(repo, session_rel, script, group.commit, ws.config.checks_timeout)
        print(f"checks on {group.branch}: {'passed' if passed else 'FAILED'}")
        if not passed:
            failed.append(group.branch)
            for line in lines:
                print(f"    {line}")
    if failed:
        print(f"autoresearch: {CHECKS_SCRIPT} failed on {', '.join(failed)}; the branches are created, fix them "
              "before review.", file=sys.stderr)
        return EXIT_CHECKS_FAILED
    return 0


def plan_text(branch, base, merge_base, kept, groups, notes, squash) -> str:
    lines = [f"session branch {branch}; base {base} (merge-base {merge_base[:7]})",
             f"kept experiments ({len(kept)}):"]
    for item in kept:
        lines.append(f"  #{item.run} {item.commit[:7]} {short(item.description, 60)}")
        lines.append(f"      files: {', '.join(item.files)}")
    for note in notes:
        lines.append(f"  left out: {note}")
    lines.append("one branch with every kept change:" if squash else
                 f"{len(groups)} branch(es), from {merge_base[:7]}, sharing no file:")
    for group in groups:
        runs = ", ".join(f"#{item.run}" for item in group.runs)
        lines.append(f"  {group.branch}: {runs} — {', '.join(group.files[:6])}"
                     f"{' …' if len(group.files) > 6 else ''}")
    return "\n".join(lines)


def register(sub) -> None:
    p = sub.add_parser(
        "finalize", help="turn the kept experiments into clean branches for review",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "From the session branch (the current branch), list the kept experiments that are still in effect\n"
            "(logged as keep, on the branch after the merge-base with --base, not reverted later) with the\n"
            "files each touched, and propose groups that share no file. After confirmation, create one\n"
            "branch per group, starting at the merge-base, each holding one commit whose message gives the\n"
            "metric before and after and the experiments' descriptions. Runs autoresearch.checks.sh (when\n"
            "present) on each new branch in a temporary worktree. Refuses on uncommitted changes; the\n"
            "session branch and the working tree are never changed. Baseline runs (the harness) are left out."),
        epilog="exit status: 0 branches created (and checks passed), 1 declined or checks failed, 2 refused.",
    )
    p.add_argument("-C", "--dir", metavar="DIR", help="project folder (default: the current folder)")
    p.add_argument("--file", metavar="PATH", help="the experiment log (default: autoresearch.jsonl in the session folder)")
    p.add_argument("--base", metavar="BRANCH", help="the branch the session started from (default: main, else master)")
    p.add_argument("--group", action="append", default=[], metavar="RUNS",
                   help="one branch of these runs, e.g. --group 3,5 --group 7; runs not named are left out; "
                        "refused when two groups change the same file")
    p.add_argument("--squash", action="store_true", help="one branch with all kept changes instead of groups")
    p.add_argument("--prefix", metavar="NAME",
                   help="branch name prefix (default: autoresearch/final/<session name>; groups add -1, -2, …)")
    p.add_argument("--yes", action="store_true", help="create the branches without asking (needed without a terminal)")
    p.add_argument("--dry-run", action="store_true", help="only print the plan")
    p.add_argument("--no-checks", action="store_true", help=f"do not run {CHECKS_SCRIPT} on the new branches")
    p.set_defaults(func=cmd_finalize)
