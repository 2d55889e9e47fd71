"""`autoresearch finalize`: turn the kept experiments of the session branch into clean branches for review."""

from __future__ import annotations

import argparse
import os
import sys
from typing import List

from .. import benchmark_output, gitops, holdout, jsonlog
from .. import session as session_module
from ..errors import EXIT_FAILED, EngineError
from ..finalize import (Group, build_commit, commit_message, create_branches, find_base,
                        kept_experiments, plan_text, propose_groups, requested_groups, run_checks, slug)
from ..sessionfiles import CHECKS_SCRIPT
from ..workspace import open_workspace
from .common import add_common

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
    dirty, _ = ws.uncommitted(repo)
    if dirty:
        raise EngineError(f"the working tree has uncommitted changes ({gitops.shown_list(dirty)}); commit or stash "
                          "them first.")
    loaded = session_module.load(jsonlog.read_log(ws.log_path))
    if not loaded.exists:
        raise EngineError(f"{ws.log_path} holds no session, so there is nothing to finalize.")
    base = find_base(repo, branch, args.base)
    found = gitops.git(repo, "merge-base", "HEAD", base, check=False)
    if found.returncode != 0:
        raise EngineError(f"{branch} and {base} share no history; pass the branch the session started from with --base.")
    merge_base = found.stdout.strip()
    history = gitops.history(repo, merge_base)
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
    for seg in loaded.segments:  # did the kept changes hold on data the loop never decided on?
        held = holdout.gap(seg)
        if held:
            print(holdout.sentence(seg.index, held))
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
            return EXIT_FAILED
    create_branches(repo, groups)
    for group in groups:
        print(f"created {group.branch} ({group.commit[:7]})")
    return _checks(ws, repo, session_rel, groups, args)


def _checks(ws, repo: str, session_rel: str, groups: List[Group], args) -> int:
    if args.no_checks:
        return 0
    in_session = os.path.isfile(ws.file(CHECKS_SCRIPT))
    failed = []
    for group in groups:
        checked = run_checks(repo, session_rel, group.commit, ws.config.checks_timeout)
        if checked is None:
            if in_session:
                print(f"checks on {group.branch}: not run — the branch has no {CHECKS_SCRIPT} (the session's copy "
                      "is not part of it; commit the script on the base branch to have branches checked)")
            continue
        passed, lines = checked
        print(f"checks on {group.branch}: {'passed' if passed else 'FAILED'}")
        if not passed:
            failed.append(group.branch)
            block = benchmark_output.fence(lines, f"{CHECKS_SCRIPT} on {group.branch}")
            if block:
                print(block)
    if failed:
        print(f"autoresearch: {CHECKS_SCRIPT} failed on {', '.join(failed)}; the branches are created, fix them "
              "before review.", file=sys.stderr)
        return EXIT_FAILED
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "finalize", help="turn the kept experiments into clean branches for review",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "From the session branch (the current branch), list the kept experiments that are still in effect\n"
            "(logged as keep, on the branch after the merge-base with --base, not reverted later) with the\n"
            "files each touched, and propose groups that share no file. After confirmation, create one\n"
            "branch per group, starting at the merge-base, each holding one commit whose message gives the\n"
            "metric before and after and the experiments' descriptions. Runs each new branch's own\n"
            "autoresearch.checks.sh (when it has one) in a temporary clone. Refuses on uncommitted changes; the\n"
            "session branch and the working tree are never changed. Baseline runs (the harness) are left out."),
        epilog="exit status: 0 branches created (and checks passed), 1 declined or checks failed, 2 refused.",
    )
    add_common(p)
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
