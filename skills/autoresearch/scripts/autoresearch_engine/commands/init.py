"""`autoresearch init`: start a session, a new segment, or reopen a cancelled session."""

from __future__ import annotations

import os
import sys
import time

from .. import config, gitops, jsonlog, records, session
from ..atomicfile import write_atomic
from ..errors import EngineError
from ..settings import BY_NAME, add_flags, flag_values
from ..sessionfiles import BENCHMARK_SCRIPT, CHECKS_SCRIPT
from ..workspace import Workspace, open_workspace
from .common import add_common, load


def cmd_init(args) -> int:
    ws = open_workspace(args.dir, args.file)
    loaded = load(ws)
    now = int(time.time())
    if args.continue_:
        if not loaded.exists:
            raise EngineError("there is no session to continue here; start one with 'autoresearch init --name …'.")
        jsonlog.append_record(ws.log_path, records.make_status("running", now))
        if ws.config.path and not ws.config.enabled:
            config.set_value(ws.project_dir, "enabled", "true")
        print(f"autoresearch: session reopened in segment {loaded.current.index}; the loop may continue.")
        return 0
    missing = [flag for flag, value in (("--name", args.name), ("--metric-name", args.metric_name),
                                        ("--direction", args.direction)) if value is None]
    if missing:
        raise EngineError(f"init needs {', '.join(missing)}; for example: autoresearch init --name 'faster tests' "
                          "--metric-name total_ms --unit ms --direction lower")
    given = flag_values(args, "init")
    protected = list(given.get("protected", ws.config.protected))
    header = records.make_config(args.name, args.metric_name, args.unit or "", args.direction, timestamp=now,
                                 holdout_metric=args.holdout_metric, protected=protected)
    if loaded.exists and not args.new_segment:
        raise EngineError(
            f"{ws.log_path} already holds a session ({loaded.current.metric_name}, segment {loaded.current.index}); "
            "pass --new-segment to start a new segment with a fresh baseline, or 'autoresearch init --continue' "
            "to reopen it."
        )
    header["segment"] = loaded.current.index + 1 if loaded.exists else 0

    def build(contents):
        current = session.load(contents)
        if current.exists != loaded.exists:
            raise EngineError("the log changed while init ran; run init again.")
        return header

    jsonlog.append(ws.log_path, build)
    jsonlog.append_record(ws.log_path, records.make_status("running", now))
    if ws.config.path is None:
        write_atomic(os.path.join(ws.project_dir, config.CONFIG_RELPATH), config.DEFAULT_TEXT)
    elif not ws.config.enabled:
        config.set_value(ws.project_dir, "enabled", "true")
    for name, value in given.items():
        config.set_value(ws.project_dir, name, BY_NAME[name].text(value))
    repo = gitops.toplevel(ws.session_dir)
    if repo:
        gitops.exclude_session_files(repo, ws.session_dir)
    what = f"segment {header['segment']}" if header["segment"] else "session"
    print(f"autoresearch: {what} started: {header['name']} — {header['metricName']} "
          f"({header['metricUnit'] or 'no unit'}, {header['bestDirection']} is better). "
          f"Next: {_next_step(ws, repo)}")
    if protected:
        print(f"autoresearch: protected (a candidate changing one is refused): {', '.join(protected)}.")
    if header.get("holdoutMetric"):
        print(f"autoresearch: held-out metric {header['holdoutMetric']}: stored with each run, never decided on, "
              "shown only by 'report' and 'finalize'.")
    if not repo:
        print("autoresearch: warning: this folder is not a git repository; 'git init' it so experiments can be "
              "committed and reverted.", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("init", help="start a session or a new segment",
                       description="Write the session header (and a 'running' marker) to autoresearch.jsonl.")
    add_common(p)
    p.add_argument("--name", help="the goal, e.g. 'faster unit tests'")
    p.add_argument("--metric-name", help="the primary metric, as printed in 'METRIC name=value'")
    p.add_argument("--unit", "--metric-unit", dest="unit", default="", help="its unit, e.g. ms (may be empty)")
    p.add_argument("--direction", help="lower or higher is better")
    add_flags(p, "init")
    p.add_argument("--holdout-metric", metavar="NAME",
                   help="a METRIC stored with each run but never decided on, and shown only by report and finalize "
                        "(e.g. test_bpb on a held-out split)")
    p.add_argument("--new-segment", action="store_true", help="start a new segment in an existing session")
    p.add_argument("--continue", dest="continue_", action="store_true", help="reopen a cancelled session")
    p.set_defaults(func=cmd_init)


def _next_step(ws: Workspace, repo) -> str:
    """What to do after init, from the state of the harness: write it, commit it, or measure the baseline."""
    baseline = "'autoresearch run' for the baseline."
    if not os.path.isfile(ws.file(BENCHMARK_SCRIPT)):
        return f"write {BENCHMARK_SCRIPT} (or give the command after --: autoresearch run -- CMD), then {baseline}"
    if not repo:
        return baseline
    harness = {os.path.realpath(ws.file(name)) for name in (BENCHMARK_SCRIPT, CHECKS_SCRIPT)}
    pending = sorted(os.path.relpath(os.path.join(repo, path), ws.session_dir) for _, path in gitops.porcelain(repo)
                     if os.path.realpath(os.path.join(repo, path)) in harness)
    if pending:
        return f"commit {' and '.join(pending)}, then {baseline}"
    return baseline
