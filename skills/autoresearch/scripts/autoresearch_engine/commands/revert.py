"""`autoresearch revert`: discard the current experiment commit."""

from __future__ import annotations

from ..revert import revert_head
from ..workspace import open_workspace
from .common import add_common


def cmd_revert(args) -> int:
    ws = open_workspace(args.dir, args.file)
    short, subject, new_head = revert_head(ws, args.force)
    print(f"Reverted {short} '{subject}' with {new_head}; session files kept.")
    return 0


def register(sub) -> None:
    p = sub.add_parser("revert", help="discard the current experiment commit with git revert",
                       description="Undo HEAD with 'git revert' (its diff stays in history), keeping the session "
                                   "files; refuses when uncommitted changes would be lost.")
    add_common(p)
    p.add_argument("--force", action="store_true", help="revert even a kept or unlogged commit")
    p.set_defaults(func=cmd_revert)
