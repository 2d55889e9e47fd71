"""`autoresearch report`: write progress.png and the offline HTML dashboard, once or whenever the log changes."""

from __future__ import annotations

import argparse
import os
import sys
import time

from .. import report
from ..errors import EngineError
from ..workspace import open_workspace
from .common import add_common


def cmd_report(args) -> int:
    ws = open_workspace(args.dir, args.file)
    out_dir = os.path.abspath(args.out or os.getcwd())
    if not os.path.isdir(out_dir):
        raise EngineError(f"the output folder {out_dir} does not exist; create it or pass another with --out.")
    if args.refresh < 1:
        raise EngineError("--refresh must be at least 1 second.")
    if args.interval <= 0:
        raise EngineError("--interval must be more than 0 seconds.")
    if not args.watch:
        _say(report.write_reports(ws, out_dir, not args.no_png, args.refresh, False), hint=True)
        return 0
    print(f"autoresearch: watching {ws.log_path}; the reports in {out_dir} are rewritten when it changes "
          "(Ctrl-C stops).", flush=True)
    seen, hinted = None, False
    try:
        while True:
            signature = _signature(ws.log_path)
            if signature != seen and signature is not None:
                try:
                    written = report.write_reports(ws, out_dir, not args.no_png, args.refresh, True)
                except EngineError as exc:
                    print(f"autoresearch: waiting: {exc}", file=sys.stderr, flush=True)
                else:
                    _say(written, hint=not hinted)
                    hinted = True
                seen = signature
            time.sleep(args.interval)
    except KeyboardInterrupt:
        print("autoresearch: stopped watching.", flush=True)
        return 0


def _signature(path: str):
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def _say(written: dict, hint: bool) -> None:
    for warning in written["warnings"] if hint else []:
        print(f"autoresearch: warning: {warning}", file=sys.stderr)
    runs = written["runs"]
    parts = [f"{os.path.relpath(written['html'])} ({runs} run{'' if runs == 1 else 's'})"]
    if written["png"]:
        parts.append(os.path.relpath(written["png"]))
    print(f"autoresearch: wrote {' and '.join(parts)}.", flush=True)
    if hint:
        for line in written["integrity"]:
            print(f"autoresearch: {line}", flush=True)
    if written["png_missing"] and hint:
        print(f"autoresearch: {report.PNG_NAME} not written: matplotlib is not installed; get it with "
              f"'{report.MATPLOTLIB_HINT}' (the HTML dashboard needs nothing more).", file=sys.stderr, flush=True)


def register(sub) -> None:
    p = sub.add_parser(
        "report", help="write progress.png and the offline HTML dashboard autoresearch.html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            f"Write {report.HTML_NAME} (one self-contained file: chart, table of runs, segment selector; it loads\n"
            f"nothing from the network) and {report.PNG_NAME} (every run coloured by status, kept runs labelled,\n"
            "the running best, the baseline and segment boundaries; needs matplotlib, else it is skipped\n"
            f"with a hint: {report.MATPLOTLIB_HINT}).\n\n"
            "Live view: a page opened from disk cannot poll the log itself. Run 'autoresearch report --watch'\n"
            "in the background, which rewrites both files whenever the log changes, and tick 'auto-refresh'\n"
            "in the page, which then reloads itself every --refresh seconds (the choice is kept in the\n"
            "page address, after #)."),
    )
    add_common(p)
    p.add_argument("-o", "--out", metavar="DIR", help="folder to write the reports into (default: the current folder)")
    p.add_argument("--no-png", action="store_true", help=f"write only {report.HTML_NAME}")
    p.add_argument("--watch", action="store_true",
                   help="keep running and rewrite the reports whenever the log changes, until Ctrl-C; "
                        "the page starts with auto-refresh ticked")
    p.add_argument("--interval", type=float, default=2.0, metavar="S",
                   help="with --watch: how often to look at the log, in seconds (default 2)")
    p.add_argument("--refresh", type=int, default=10, metavar="S",
                   help="how often the page reloads itself when auto-refresh is ticked, in seconds (default 10)")
    p.set_defaults(func=cmd_report)

