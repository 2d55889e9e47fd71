"""`autoresearch revert`: discard the current experiment commit."""

from __future__ import annotations

from .. import gitops, revert
from ..errors import EngineError
from ..workspace import open_workspace
from .common import add_common, load


def cmd_revert(args) -> int:
    ws = open_workspace(args.dir, args.file)
    repo = gitops.toplevel(ws.session_dir)
    if not repo:
        raise EngineError("this folder is not a git repository; there is no experiment commit to revert.")
    if gitops.head(repo) is None:
        raise EngineError("the repository has no commits yet; there is nothing to revert.")
    chosen = revert.plan(ws, repo, load(ws), args.force)
    new_head = revert.apply(ws, repo, chosen)
    first = chosen.undo[0]
    also = ""
    if len(chosen.undo) > 1:
        also = f" and {len(chosen.undo) - 1} earlier commit(s) never kept: {revert.describe(chosen.undo[1:])}"
    print(f"Reverted {first['commit'][:7]} '{first['subject']}'{also} with {new_head[:7]}; session files kept.")
    return 0


def register(sub) -> None:
    p = sub.add_parser("revert", help="discard the current experiment: back to the last kept state",
                       description="Undo every commit still in effect since the last kept run (the discarded "
                                   "experiment, and any commit that was never logged) with one revert commit; "
                                   "the diffs stay in history. Session files are never touched; refuses when "
                                   "uncommitted changes or untracked files would be overwritten.")
    add_common(p)
    p.add_argument("--force", action="store_true", help="revert even a kept or unlogged commit")
    p.set_defaults(func=cmd_revert)
