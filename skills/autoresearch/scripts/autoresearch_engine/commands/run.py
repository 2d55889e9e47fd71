"""`autoresearch run`: run the benchmark (and the checks) and propose keep, discard, crash or checks_failed."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from .. import (benchmark_output, config, experiment, gitops, jsonlog, protection, records, runner, stats, summary,
               treeswap)
from ..errors import EXIT_LIMIT, EXIT_PROTECTED, EngineError
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
    with experiment.exclusive_run(ws):  # before the tree is looked at: a run in progress writes in it
        result = _measure(args, ws, loaded, segment, command)
    shown = {key: value for key, value in result.items() if key != "holdout"}  # never shown to the agent
    if args.json:
        print(json.dumps(shown, allow_nan=False))
    else:
        print(_run_line(shown, ws, segment.holdout_metric))
    return 0


def _measure(args, ws: Workspace, loaded, segment, command) -> dict:
    """Check the tree, measure it and write the pending result; the caller holds the run lock."""
    repo = gitops.toplevel(ws.session_dir)
    measured = None
    restored = treeswap.restore_if_interrupted(repo)
    if restored:
        print(f"autoresearch: {restored}.", file=sys.stderr)
    if repo:
        gitops.exclude_session_files(repo, ws.session_dir)  # idempotent; covers files added in later versions
        ws.require_committed(repo, "a run")
        measured = gitops.head(repo)
    refuse_protected(ws, loaded, segment)
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
    if previous and previous.get("commit") != result["commit"] and not previous.get("protected"):
        result["replaced_unlogged"] = previous.get("commit")
        print(f"autoresearch: warning: the earlier run of {previous.get('commit')} was never logged; its result "
              "is replaced (the commit is still in git).", file=sys.stderr)
    ws.write_pending(result)
    return result


def refuse_protected(ws: Workspace, loaded, segment) -> None:
    """Refuse, before anything runs, a candidate that changes a protected path against the segment's baseline.

    The refusal is recorded in the log (status counts them) and left as the pending result, so that
    'autoresearch log' can record it as a discard with reason 'protected'.
    """
    globs = ws.config.protected
    protection.require_same_list(segment, globs)
    changed = protection.protected_changes(ws.session_dir, segment, globs)
    if not changed:
        return
    head = gitops.head(ws.session_dir) or "-"
    now = int(time.time())
    jsonlog.append_record(ws.log_path, records.make_refusal(head, changed, segment.index, now))
    ws.write_pending({
        "run": loaded.next_run, "metric_name": segment.metric_name, "metric": None, "metrics": {},
        "status": "discard", "reason": protection.REASON, "protected": changed, "commit": head,
        "segment": segment.index, "direction": segment.direction, "unit": segment.metric_unit, "timestamp": now,
    })
    raise EngineError(protection.refusal_sentence(changed, segment), exit_code=EXIT_PROTECTED)


def _output_tail(ws: Workspace, holdout_metric) -> str:
    """The end of run.log as the agent may see it: fenced as quoted data, the held-out figure hidden."""
    return benchmark_output.fence(runner.tail(ws.run_log, 5), os.path.relpath(ws.run_log),
                                  hidden=[holdout_metric] if holdout_metric else [])


def _run_line(result: dict, ws: Workspace, holdout_metric=None) -> str:
    unit = result["unit"]
    timing = f"{result['duration_s']:.1f} s"
    head = f"run {result['run']}: {result['status']}"
    if result["metric"] is None:
        tail = _output_tail(ws, holdout_metric)
        return f"{head} — {result['reason']} after {timing}; see {os.path.relpath(ws.run_log)}" + \
            (f"\n{tail}" if tail else "")
    metric = f"{result['metric_name']}={summary.fmt(result['metric'], unit)}"
    reference = result.get("reference_before")
    if reference is not None and result["status"] != "checks_failed":
        change = stats.change_pct(result["metric"], reference)
        if change is not None:
            metric += (f" ({change:+.2f}% vs best {summary.fmt(reference, unit)}, {result['direction']} is better)")
    checks = result.get("checks")
    checks_text = "" if checks is None else f"; checks {checks['result']}"
    tail = _output_tail(ws, holdout_metric) if checks is not None and checks["result"] != "passed" else ""
    if len(result.get("samples") or []) > 1:
        timing = f"{len(result['samples'])} samples, {timing} for the last"
    line = f"{head} — {metric}; {result['reason']}; {timing}{checks_text}. Next: autoresearch log --description \"…\""
    return f"{line}\n{tail}" if tail else line


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
