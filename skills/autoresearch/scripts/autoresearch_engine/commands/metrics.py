"""`autoresearch metrics`: print the METRIC lines read from standard input."""

from __future__ import annotations

import sys

from .. import benchmark_output, jsonlog, metrics, records, session
from ..errors import EXIT_FAILED, EngineError
from ..workspace import open_workspace


def held_out_names() -> set:
    """The held-out metrics of the session in this folder, if there is one: never printed here."""
    try:
        ws = open_workspace(None)
        loaded = session.load(jsonlog.read_log(ws.log_path))
    except (EngineError, OSError, ValueError):
        return set()
    return {seg.holdout_metric for seg in loaded.segments if seg.holdout_metric}


def cmd_metrics(args) -> int:
    text = sys.stdin.read()
    parsed = metrics.parse(text)
    hidden = held_out_names()
    if args.name in hidden:
        raise EngineError(f"{args.name} is this session's held-out metric: only 'autoresearch report' and "
                          "'finalize' show it, so that no decision is steered by it.")
    for name, raw in parsed.unparsable.items():
        if name not in hidden:
            print(f"autoresearch: warning: METRIC {name}= is not a number: {benchmark_output.inline(raw, 40)}; "
                  "ignored.", file=sys.stderr)
    if args.name:
        value = parsed.values.get(args.name)
        if not records.is_finite_number(value):
            shown = "missing" if value is None else str(value)
            print(f"autoresearch: METRIC {args.name} is {shown} in the input; the benchmark must print "
                  f"'METRIC {args.name}=<finite number>'.", file=sys.stderr)
            return EXIT_FAILED
        print(value)
        return 0
    for name, value in parsed.occurrences:
        if name not in hidden:
            print(f"{name}={value}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("metrics", help="print METRIC lines read from standard input",
                       description="Print name=value for each METRIC line on stdin, or only the value of NAME.")
    p.add_argument("name", nargs="?", help="print only this metric's value (exit 1 if absent)")
    p.set_defaults(func=cmd_metrics)
