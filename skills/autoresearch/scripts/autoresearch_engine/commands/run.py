"""`autoresearch run`: run the benchmark (and the checks) and propose keep, discard, crash or checks_failed."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .. import config, experiment, gitops, stats, summary
from ..display import short
from ..errors import EXIT_LIMIT, EngineError
from ..settings import add_flags, flag_values
from ..sessionfiles import BENCHMARK_SCRIPT, CHECKS_SCRIPT
from ..workspace import Workspace, open_workspace
from .common import add_common, load, require_session

def cmd_run(args) -> int:
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    ws = open_workspace(args.dir, args.file)
    loaded = load(ws)
    segment = require_session(ws, loaded)
    limit = ws.config.max_iterations
    if limit and len(segment.experiments) >= limit:
        raise EngineError(
            f"max_iterations ({limit}) is reached for segment {segment.index}; raise it in "
            f"{config.CONFIG_RELPATH} or start a new segment.",
            exit_code=EXIT_LIMIT,
        )
    command = experiment.benchmark_command(ws, args.command)
    repo = gitops.toplevel(ws.session_dir)
    measured = None
    if repo:
        gitops.exclude_session_files(repo, ws.session_dir)  # idempotent; covers files added in later versions
        ws.require_committed(repo, "a run")
        measured = gitops.head(repo)
    settings = config.with_flags(ws.config, flag_values(args, "run"))
    plan = experiment.Plan.from_settings(settings)
    previous = ws.read_pending()
    result = experiment.run_experiment(ws, segment, command, settings.benchmark_timeout, settings.checks_timeout,
                                       plan, measured)
    moved = gitops.head(repo) if repo else None
    left = ws.uncommitted(repo)[1] if repo else []
    if left:
        print(f"autoresearch: warning: the run left untracked files {gitops.shown_list(left)}; list them in "
              ".gitignore if the benchmark writes them, or the next run refuses them.", file=sys.stderr)
    if moved != measured:
        print(f"autoresearch: warning: the benchmark moved HEAD from {measured} to {moved}; the result belongs to "
              f"{measured}, the commit measured. A benchmark must not commit: what it committed is not part of the "
              "experiment ('autoresearch revert' takes it back with a discarded experiment).", file=sys.stderr)
    result["run"] = loaded.next_run
    if previous and previous.get("commit") != result["commit"]:
        result["replaced_unlogged"] = previous.get("commit")
        print(f"autoresearch: warning: the earlier run of {previous.get('commit')} was never logged; its result "
              "is replaced (the commit is still in git).", file=sys.stderr)
    ws.write_pending(result)
    if args.json:
        print(json.dumps(result, allow_nan=False))
    else:
        print(_run_line(result, ws))
    return 0


def _run_line(result: dict, ws: Workspace) -> str:
    unit = result["unit"]
    timing = f"{result['duration_s']:.1f} s"
    head = f"run {result['run']}: {result['status']}"
    if result["metric"] is None:
        last = [line for line in experiment.runner.tail(ws.run_log, 5) if line.strip()]
        hint = f" — last output: {short(last[-1], 100)}" if last else ""
        return f"{head} — {result['reason']} after {timing}; see {os.path.relpath(ws.run_log)}{hint}"
    metric = f"{result['metric_name']}={summary.fmt(result['metric'], unit)}"
    reference = result.get("reference_before")
    if reference is not None and result["status"] != "checks_failed":
        change = stats.change_pct(result["metric"], reference)
        if change is not None:
            metric += (f" ({change:+.2f}% vs best {summary.fmt(reference, unit)}, {result['direction']} is better)")
    checks = result.get("checks")
    checks_text = "" if checks is None else f"; checks {checks['result']}"
    if len(result.get("samples") or []) > 1:
        timing = f"{len(result['samples'])} samples, {timing} for the last"
    return f"{head} — {metric}; {result['reason']}; {timing}{checks_text}. Next: autoresearch log --description \"…\""


def register(sub) -> None:
    p = sub.add_parser(
        "run", help="run the benchmark (and checks) and propose a status",
        description=(f"Run the benchmark (default: bash {BENCHMARK_SCRIPT}, or the command after --) with its "
                     "output in run.log, kill its whole process tree on timeout, parse METRIC lines, run "
                     f"{CHECKS_SCRIPT} when present, and propose keep, discard, crash or checks_failed. "
                     "The result is remembered for 'autoresearch log'."),
    )
    add_common(p)
    add_flags(p, "run")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND… to run instead of autoresearch.sh")
    p.set_defaults(func=cmd_run)
