"""`autoresearch metrics`: print the METRIC lines read from standard input."""

from __future__ import annotations

import io
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
    """Values are printed as the benchmark wrote them (0.997900 stays 0.997900), read in bounded memory."""
    hidden = held_out_names()
    if args.name in hidden:
        raise EngineError(f"{args.name} is this session's held-out metric: only 'autoresearch report' and "
                          "'finalize' show it, so that no decision is steered by it.")
    stdin = getattr(sys.stdin, "buffer", None)
    if stdin is None:  # a text-only stream (tests replace sys.stdin)
        stdin = io.BytesIO(sys.stdin.read().encode("utf-8", errors="surrogateescape"))

    def every(name, raw, _value):  # raw passed records.number_from_text: digits, sign, point, exponent
        if name not in hidden:
            print(f"{name}={raw}")

    parsed = metrics.read(stdin, on_metric=None if args.name else every)
    refused = {name: f"METRIC {name}= {problem}: {benchmark_output.inline(raw, 40)}"
               for name, (raw, problem) in parsed.rejected.items() if name not in hidden}
    for text in refused.values():
        print(f"autoresearch: warning: {text}; ignored.", file=sys.stderr)
    if args.name:
        value = parsed.values.get(args.name)
        if not records.is_finite_number(value):
            what = refused.get(args.name) or f"METRIC {args.name} is " + ("missing" if value is None else str(value))
            print(f"autoresearch: {what} in the input; the benchmark must print "
                  f"'METRIC {args.name}=<finite number>'.", file=sys.stderr)
            return EXIT_FAILED
        print(parsed.raw[args.name])
    return 0


def register(sub) -> None:
    p = sub.add_parser("metrics", help="print METRIC lines read from standard input",
                       description="Print name=value for each METRIC line on stdin, or only the value of NAME.")
    p.add_argument("name", nargs="?", help="print only this metric's value (exit 1 if absent)")
    p.set_defaults(func=cmd_metrics)
