"""`autoresearch status`: counts, baseline, best, improvement and confidence of the current segment."""

from __future__ import annotations

import json
import sys

from .. import jsonlog, session, summary
from ..workspace import open_workspace
from .common import add_common, count


def cmd_status(args) -> int:
    ws = open_workspace(args.dir, args.file)
    loaded = session.load(jsonlog.read_log(ws.log_path))
    data = summary.status_data(ws, loaded, last=args.last)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, allow_nan=False))
    else:
        for warning in loaded.warnings:
            print(f"autoresearch: warning: {warning}", file=sys.stderr)
        print(summary.status_text(data))
    return 0


def register(sub) -> None:
    p = sub.add_parser("status", help="counts, baseline, best, improvement, confidence",
                       description="Summarise the current segment; --json prints one object.")
    add_common(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--last", type=count, default=10, help="how many recent runs to list (default 10)")
    p.set_defaults(func=cmd_status)
