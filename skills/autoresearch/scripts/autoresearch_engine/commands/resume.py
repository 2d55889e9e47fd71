"""`autoresearch resume`: what a fresh agent needs after a context reset."""

from __future__ import annotations

from .. import jsonlog, session, summary
from ..workspace import open_workspace
from .common import add_common, count


def cmd_resume(args) -> int:
    ws = open_workspace(args.dir, args.file)
    loaded = session.load(jsonlog.read_log(ws.log_path))
    print(summary.resume_text(ws, loaded, last=args.last))
    return 0


def register(sub) -> None:
    p = sub.add_parser("resume", help="what a fresh agent needs after a context reset",
                       description="Goal, metric, best so far, the last experiments with their ASI, open ideas, "
                                   "and whether git HEAD matches the log.")
    add_common(p)
    p.add_argument("--last", type=count, default=summary.RESUME_LAST,
                   help=f"how many recent runs to show (default {summary.RESUME_LAST})")
    p.set_defaults(func=cmd_resume)
