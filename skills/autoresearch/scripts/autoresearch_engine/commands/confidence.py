"""`autoresearch confidence`: the MAD confidence score of the current segment."""

from __future__ import annotations

import json

from ..workspace import open_workspace
from .common import add_common, load


def cmd_confidence(args) -> int:
    ws = open_workspace(args.dir, args.file)
    loaded = load(ws)
    segment = loaded.current
    value = segment.confidence()
    if args.json:
        print(json.dumps({"confidence": value, "segment": segment.index, "baseline": segment.baseline,
                          "best": segment.best, "samples": len(segment.metric_values())}))
    else:
        print("null" if value is None else f"{value:g}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("confidence", help="the MAD confidence score of the current segment",
                       description="|best - baseline| / MAD of the segment's metrics; null under 3 runs or when "
                                   "the MAD is zero.")
    add_common(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_confidence)
