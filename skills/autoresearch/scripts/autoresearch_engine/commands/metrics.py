"""`autoresearch metrics`: print the METRIC lines read from standard input."""

from __future__ import annotations

import sys

from .. import metrics, records
from ..errors import EXIT_FAILED


def cmd_metrics(args) -> int:
    text = sys.stdin.read()
    parsed = metrics.parse(text)
    for name, raw in parsed.unparsable.items():
        print(f"autoresearch: warning: METRIC {name}={raw} is not a number; ignored.", file=sys.stderr)
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
        print(f"{name}={value}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("metrics", help="print METRIC lines read from standard input",
                       description="Print name=value for each METRIC line on stdin, or only the value of NAME.")
    p.add_argument("name", nargs="?", help="print only this metric's value (exit 1 if absent)")
    p.set_defaults(func=cmd_metrics)
