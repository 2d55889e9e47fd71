"""The `autoresearch` command line: one sub-command for each step of the experiment loop."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import List, Optional

from . import __version__, config, experiment, gitops, jsonlog, metrics, records, session, stats, summary
from .errors import EngineError
from .workspace import BENCHMARK_SCRIPT, CHECKS_SCRIPT, Workspace, open_workspace

EXIT_LIMIT = 3  # max_iterations reached

LOOP = """the loop:
  autoresearch init --name "faster tests" --metric-name total_ms --unit ms --direction lower
  git commit -am "experiment: …"        # one idea per commit
  autoresearch run                      # runs autoresearch.sh, proposes keep/discard/crash/checks_failed
  autoresearch log --description "…"    # records the pending result (status taken from run)
  autoresearch revert                   # after discard, crash or checks_failed
  autoresearch status | resume          # where things stand; what a fresh agent needs
"""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-C", "--dir", metavar="DIR", help="project folder (default: the current folder)")
    parser.add_argument("--file", metavar="PATH", help="the experiment log (default: autoresearch.jsonl in the session folder)")


def _load(ws: Workspace) -> session.Session:
    loaded = session.load(jsonlog.read_log(ws.log_path))
    for warning in loaded.warnings:
        print(f"autoresearch: warning: {warning}", file=sys.stderr)
    return loaded


def _require_session(ws: Workspace, loaded: session.Session) -> session.Segment:
    segment = loaded.current
    if not segment.metric_name:
        raise EngineError(
            f"{ws.log_path} has no session header; start one with: autoresearch init --name GOAL "
            "--metric-name NAME --unit UNIT --direction lower|higher"
        )
    return segment


# ---- init -------------------------------------------------------------------------------------

def cmd_init(args) -> int:
    ws = open_workspace(args.dir, args.file)
    loaded = _load(ws)
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
    header = records.make_config(args.name, args.metric_name, args.unit or "", args.direction, timestamp=now)
    if loaded.exists and not args.new_segment:
        raise EngineError(
            f"{ws.log_path} already holds a session ({loaded.current.metric_name}, segment {loaded.current.index}); "
            "pass --new-segment to start a new segment with a fresh baseline, or 'autoresearch init --continue' "
            "to reopen it."
        )
    header["segment"] = loaded.current.index + 1 if loaded.exists else 0
    if args.max_iterations is not None and args.max_iterations < 0:
        raise EngineError("--max-iterations must be 0 (unlimited) or more.")

    def build(contents):
        current = session.load(contents)
        if current.exists != loaded.exists:
            raise EngineError("the log changed while init ran; run init again.")
        return header

    jsonlog.append(ws.log_path, build)
    jsonlog.append_record(ws.log_path, records.make_status("running", now))
    if ws.config.path is None:
        config.write_atomic(os.path.join(ws.project_dir, config.CONFIG_RELPATH), config.DEFAULT_TEXT)
    elif not ws.config.enabled:
        config.set_value(ws.project_dir, "enabled", "true")
    if args.max_iterations is not None:
        config.set_value(ws.project_dir, "max_iterations", str(args.max_iterations))
    repo = gitops.toplevel(ws.session_dir)
    if repo:
        gitops.exclude_session_files(repo, ws.session_dir)
    what = f"segment {header['segment']}" if header["segment"] else "session"
    print(f"autoresearch: {what} started: {header['name']} — {header['metricName']} "
          f"({header['metricUnit'] or 'no unit'}, {header['bestDirection']} is better). "
          f"Next: commit the harness, then 'autoresearch run' for the baseline.")
    if not repo:
        print("autoresearch: warning: this folder is not a git repository; 'git init' it so experiments can be "
              "committed and reverted.", file=sys.stderr)
    return 0


# ---- run --------------------------------------------------------------------------------------

def cmd_run(args) -> int:
    ws = open_workspace(args.dir, args.file)
    loaded = _load(ws)
    segment = _require_session(ws, loaded)
    limit = ws.config.max_iterations
    if limit and len(segment.experiments) >= limit:
        raise EngineError(
            f"max_iterations ({limit}) is reached for segment {segment.index}; raise it in "
            f"{config.CONFIG_RELPATH} or start a new segment.",
            exit_code=EXIT_LIMIT,
        )
    command = experiment.benchmark_command(ws, args.command)
    repo = gitops.toplevel(ws.session_dir)
    if repo:
        gitops.exclude_session_files(repo, ws.session_dir)  # idempotent; covers files added in later versions
    timeout = args.timeout or ws.config.benchmark_timeout
    checks_timeout = args.checks_timeout or ws.config.checks_timeout
    settings = ws.config
    plan = experiment.Plan(
        rule=args.rule or settings.keep_rule,
        repeat=args.repeat or settings.repeat,
        baseline_repeat=args.baseline_repeat or settings.baseline_repeat,
        confirm_runs=settings.confirm_runs if args.confirm_runs is None else args.confirm_runs,
        reference_repeat=settings.reference_repeat if args.reference_repeat is None else args.reference_repeat,
        false_keep_rate=settings.false_keep_rate,
    )
    if plan.repeat < 1 or plan.baseline_repeat < 1 or plan.confirm_runs < 0 or plan.reference_repeat < 0:
        raise EngineError("--repeat and --baseline-repeat must be at least 1, --confirm-runs and "
                          "--reference-repeat at least 0.")
    previous = ws.read_pending()
    result = experiment.run_experiment(ws, segment, command, timeout, checks_timeout, plan)
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
        hint = f" — last output: {summary._one_line(last[-1], 100)}" if last else ""
        return f"{head} — {result['reason']} after {timing}; see {os.path.relpath(ws.run_log)}{hint}"
    metric = f"{result['metric_name']}={summary.fmt(result['metric'], unit)}"
    if result["best_before"] is not None and result["status"] != "checks_failed":
        change = stats.improvement_pct(result["best_before"], result["metric"], result["direction"])
        metric += f" ({'+' if change and change > 0 else ''}{change:.2f}% vs best)" if change is not None else ""
    checks = result.get("checks")
    checks_text = "" if checks is None else f"; checks {checks['result']}"
    if len(result.get("samples") or []) > 1:
        timing = f"{len(result['samples'])} samples, {timing} for the last"
    return f"{head} — {metric}; {result['reason']}; {timing}{checks_text}. Next: autoresearch log --description \"…\""


# ---- log --------------------------------------------------------------------------------------

def cmd_log(args) -> int:
    ws = open_workspace(args.dir, args.file)
    pending = ws.read_pending()
    if args.no_pending:
        pending = None
    metric = records.parse_number(args.metric, "--metric") if args.metric is not None else None
    metrics_given = records.validate_metrics(records.loads_object(args.metrics, "--metrics")) if args.metrics else None
    asi = records.loads_object(args.asi, "--asi") if args.asi else None
    confidence_given = records.parse_number(args.confidence, "--confidence") if args.confidence is not None else None
    run_given = _whole(args.run, "--run", 1) if args.run is not None else None
    segment_given = _whole(args.segment, "--segment", 0) if args.segment is not None else None
    description = args.description
    if description is None or not description.strip():
        raise EngineError("--description is required: say in a few words what this experiment tried.")
    if args.commit is not None and (not args.commit or any(c.isspace() for c in args.commit)):
        raise EngineError(f"--commit must be a commit hash without spaces, got {args.commit!r}.")

    use_pending = pending is not None and metric is None
    status = args.status or (pending.get("status") if use_pending else None)
    if status is None:
        raise EngineError("no pending result from 'autoresearch run' to log; run the benchmark first, "
                          "or pass --status and --metric.")
    if status not in records.STATUSES:
        raise EngineError(f"--status must be one of {', '.join(records.STATUSES)}, not {status!r}.")
    if use_pending:
        metric = pending.get("metric")
        if status == "keep" and pending.get("status") in ("crash", "checks_failed"):
            raise EngineError(
                f"the last run was '{pending['status']}' ({pending.get('reason')}); it cannot be logged as keep. "
                f"Log it as {pending['status']}, fix the problem in a new commit and run again."
            )
    metrics_value = metrics_given if metrics_given is not None else (pending.get("metrics") if use_pending else {})
    commit = args.commit or (pending.get("commit") if use_pending else None) or gitops.head(ws.session_dir) or "-"
    extra = {}
    if use_pending:
        extra = {key: pending.get(key) for key in ("duration_s", "exit_code", "samples", "reference_samples",
                                                   "decision", "flags")}
        if status != pending.get("status") and extra.get("decision"):
            extra["decision"] = dict(extra["decision"], overridden_by=status)

    def build(contents):
        current = session.load(contents)
        segment = current.current
        if not segment.metric_name and not current.exists:
            raise EngineError(f"{ws.log_path} has no session header; run 'autoresearch init' first.")
        seg_index = segment_given if segment_given is not None else segment.index
        record = records.make_experiment(
            run=run_given if run_given is not None else current.next_run,
            commit=commit,
            metric=metric,
            status=status,
            description=description,
            timestamp=int(time.time()),
            segment=seg_index,
            metrics=metrics_value,
            asi=asi,
            extra=extra,
        )
        if confidence_given is not None:
            record["confidence"] = confidence_given
        else:
            target = current.segments[seg_index] if seg_index < len(current.segments) else session.Segment(seg_index, None)
            probe = session.Segment(target.index, target.config, target.experiments + [record])
            record["confidence"] = probe.confidence()
        return records.validate_experiment(record)

    record = jsonlog.append(ws.log_path, build)
    if use_pending:
        ws.clear_pending()
    confidence = "" if record["confidence"] is None else f" | confidence={record['confidence']:.2f}"
    print(f"Logged: #{record['run']} {record['status']} | metric={summary.fmt(record['metric'])}{confidence} | "
          f"{summary._one_line(record['description'], 80)}")
    if status in ("discard", "crash", "checks_failed") and gitops.toplevel(ws.session_dir):
        print("Next: autoresearch revert")
    return 0


def _whole(text, flag: str, minimum: int) -> int:
    value = records.parse_number(text, flag)
    if not isinstance(value, int) or value < minimum:
        raise EngineError(f"{flag} must be a whole number from {minimum} up, got {text!r}.")
    return value


# ---- revert -----------------------------------------------------------------------------------

def cmd_revert(args) -> int:
    ws = open_workspace(args.dir, args.file)
    cwd = ws.session_dir
    repo = gitops.toplevel(cwd)
    if not repo:
        raise EngineError("this folder is not a git repository; there is no experiment commit to revert.")
    if gitops.head(cwd) is None:
        raise EngineError("the repository has no commits yet; there is nothing to revert.")
    full, subject, parents = gitops.commit_info(cwd)
    short = full[:7]
    if not parents:
        raise EngineError(f"HEAD {short} is the repository's first commit; refusing to revert it.")
    if len(parents) > 1:
        raise EngineError(f"HEAD {short} is a merge commit; revert it by hand with 'git revert -m 1 {short}'.")
    if gitops.reverted_hash(cwd) and not args.force:
        raise EngineError(f"HEAD {short} is already a revert ('{subject}'); the experiment is discarded. "
                          "Commit the next experiment first.")
    loaded = _load(ws)
    kept = [e for e in loaded.experiments if e.get("status") == "keep" and full.startswith(str(e.get("commit", "-")))]
    if kept and not args.force:
        raise EngineError(f"HEAD {short} is logged as kept (run #{kept[-1].get('run')}); refusing to revert a kept "
                          "result. Pass --force if you really mean it.")
    pending = ws.read_pending()
    if pending and pending.get("commit") and full.startswith(pending["commit"]) and not args.force:
        raise EngineError(f"the run of {short} is measured but not logged; log it first with "
                          "'autoresearch log --description …' so the result is not lost (or pass --force).")
    session_rel = os.path.relpath(cwd, repo)
    dirty = [path for code, path in gitops.porcelain(repo)
             if code != "??" and not gitops.is_session_path(path, session_rel)]
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise EngineError(f"uncommitted changes would be lost: {shown}; commit them (git commit -am …) or "
                          "discard them yourself before reverting.")
    snapshot = _snapshot_session_files(ws, repo)
    tracked_dirty = [path for code, path in gitops.porcelain(repo) if code != "??" and gitops.is_session_path(path, session_rel)]
    try:
        for path in tracked_dirty:
            gitops.git(repo, "checkout", "--", path)
        if gitops.git(repo, "diff-tree", "--quiet", "HEAD^", "HEAD", check=False).returncode == 0:
            # git revert refuses an empty commit; record the same revert by hand so resume still sees it
            message = f'Revert "{subject}"\n\nThis reverts commit {full}.\n'
            result = gitops.git(repo, "commit", "-q", "--allow-empty", "-m", message, check=False)
        else:
            result = gitops.git(repo, "revert", "--no-edit", "HEAD", check=False)
        if result.returncode != 0:
            gitops.git(repo, "revert", "--abort", check=False)
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise EngineError(f"git revert of {short} failed ({detail[-1] if detail else 'no detail'}); "
                              "the repository is unchanged.")
    finally:
        _restore(snapshot)
    new_head = gitops.head(cwd)
    print(f"Reverted {short} '{subject}' with {new_head}; session files kept.")
    return 0


def _snapshot_session_files(ws: Workspace, repo: str) -> dict:
    paths = {os.path.join(ws.session_dir, name) for name in gitops.SESSION_FILES}
    paths.add(os.path.join(ws.project_dir, config.CONFIG_RELPATH))
    paths.add(ws.log_path)
    paths.add(ws.pending_path)
    snapshot = {}
    for path in paths:
        try:
            with open(path, "rb") as handle:
                snapshot[path] = handle.read()
        except (FileNotFoundError, IsADirectoryError):
            snapshot[path] = None
    return snapshot


def _restore(snapshot: dict) -> None:
    for path, data in snapshot.items():
        current = None
        try:
            with open(path, "rb") as handle:
                current = handle.read()
        except (FileNotFoundError, IsADirectoryError):
            pass
        if data is None or current == data:
            continue
        config.write_atomic(path, data)


# ---- status, resume, confidence, cancel ---------------------------------------------------------

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


def cmd_resume(args) -> int:
    ws = open_workspace(args.dir, args.file)
    loaded = session.load(jsonlog.read_log(ws.log_path))
    print(summary.resume_text(ws, loaded, last=args.last))
    return 0


def cmd_confidence(args) -> int:
    ws = open_workspace(args.dir, args.file)
    loaded = _load(ws)
    segment = loaded.current
    value = segment.confidence()
    if args.json:
        print(json.dumps({"confidence": value, "segment": segment.index, "baseline": segment.baseline,
                          "best": segment.best, "samples": len(segment.metric_values())}))
    else:
        print("null" if value is None else f"{value:g}")
    return 0


def cmd_cancel(args) -> int:
    ws = open_workspace(args.dir, args.file)
    loaded = _load(ws)
    if not loaded.exists:
        raise EngineError(f"there is no autoresearch session in {ws.session_dir} to cancel.")
    jsonlog.append_record(ws.log_path, records.make_status("cancelled", int(time.time())))
    config.set_value(ws.project_dir, "enabled", "false")
    data = summary.status_data(ws, loaded)
    print(f"autoresearch: cancelled '{data['name']}' after {data['total_runs']} runs (kept {data['kept']} in this "
          f"segment; best {summary.fmt(data['best'], data['metric_unit'])}). History and kept commits stay; "
          "'autoresearch init --continue' reopens it.")
    return 0


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
            return 1
        print(value)
        return 0
    for name, value in parsed.occurrences:
        print(f"{name}={value}")
    return 0


# ---- the parser -------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autoresearch",
        description="Run benchmarks, decide keep or discard, and keep an append-only experiment log.",
        epilog=LOOP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"autoresearch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("init", help="start a session or a new segment",
                       description="Write the session header (and a 'running' marker) to autoresearch.jsonl.")
    _common(p)
    p.add_argument("--name", help="the goal, e.g. 'faster unit tests'")
    p.add_argument("--metric-name", help="the primary metric, as printed in 'METRIC name=value'")
    p.add_argument("--unit", "--metric-unit", dest="unit", default="", help="its unit, e.g. ms (may be empty)")
    p.add_argument("--direction", help="lower or higher is better")
    p.add_argument("--max-iterations", type=int, help="runs allowed per segment (0: unlimited)")
    p.add_argument("--new-segment", action="store_true", help="start a new segment in an existing session")
    p.add_argument("--continue", dest="continue_", action="store_true", help="reopen a cancelled session")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser(
        "run", help="run the benchmark (and checks) and propose a status",
        description=(f"Run the benchmark (default: bash {BENCHMARK_SCRIPT}, or the command after --) with its "
                     "output in run.log, kill its whole process tree on timeout, parse METRIC lines, run "
                     f"{CHECKS_SCRIPT} when present, and propose keep, discard, crash or checks_failed. "
                     "The result is remembered for 'autoresearch log'."),
    )
    _common(p)
    p.add_argument("--timeout", type=float, help="benchmark timeout in seconds (default: benchmark_timeout, 600)")
    p.add_argument("--checks-timeout", type=float, help="checks timeout in seconds (default: checks_timeout, 300)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--repeat", type=int, help="benchmark samples per run (default: repeat setting, 1)")
    p.add_argument("--baseline-repeat", type=int,
                   help="samples for a segment's baseline, which seed the noise model (default 5)")
    p.add_argument("--confirm-runs", type=int,
                   help="extra samples allowed when a candidate wins by a margin noise could explain (default 3)")
    p.add_argument("--reference-repeat", type=int,
                   help="fresh samples of a kept result, the unbiased reference for later candidates (default 4)")
    p.add_argument("--rule", choices=("noise", "strict"),
                   help="noise: keep only what beats the best beyond measured noise (default); strict: any gain")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND… to run instead of autoresearch.sh")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "log", help="append one experiment record",
        description=("Append one experiment to autoresearch.jsonl, atomically and validated. Status, metric and "
                     "metrics default to the pending result of 'autoresearch run'; run number, commit, segment, "
                     "timestamp and confidence are filled in."),
    )
    _common(p)
    p.add_argument("--description", help="what this experiment tried (required)")
    p.add_argument("--status", help="keep, discard, crash or checks_failed (default: what run proposed)")
    p.add_argument("--metric", help="primary metric value (default: from the pending run)")
    p.add_argument("--metrics", help="secondary metrics as a JSON object of numbers")
    p.add_argument("--asi", help="actionable side information as a JSON object")
    p.add_argument("--commit", help="commit hash (default: the run's commit, else HEAD)")
    p.add_argument("--run", help="run number (default: next)")
    p.add_argument("--segment", help="segment (default: current)")
    p.add_argument("--confidence", help="confidence (default: computed)")
    p.add_argument("--no-pending", action="store_true", help="ignore the pending run result")
    p.set_defaults(func=cmd_log)

    p = sub.add_parser("revert", help="discard the current experiment commit with git revert",
                       description="Undo HEAD with 'git revert' (its diff stays in history), keeping the session "
                                   "files; refuses when uncommitted changes would be lost.")
    _common(p)
    p.add_argument("--force", action="store_true", help="revert even a kept or unlogged commit")
    p.set_defaults(func=cmd_revert)

    p = sub.add_parser("status", help="counts, baseline, best, improvement, confidence",
                       description="Summarise the current segment; --json prints one object.")
    _common(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--last", type=int, default=10, help="how many recent runs to list (default 10)")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("resume", help="what a fresh agent needs after a context reset",
                       description="Goal, metric, best so far, the last experiments with their ASI, open ideas, "
                                   "and whether git HEAD matches the log.")
    _common(p)
    p.add_argument("--last", type=int, default=8, help="how many recent runs to show (default 8)")
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("confidence", help="the MAD confidence score of the current segment",
                       description="|best - baseline| / MAD of the segment's metrics; null under 3 runs or when "
                                   "the MAD is zero.")
    _common(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_confidence)

    p = sub.add_parser("cancel", help="end the session, keeping history and kept commits",
                       description="Append a 'cancelled' marker and set enabled: false so hooks stop the loop.")
    _common(p)
    p.set_defaults(func=cmd_cancel)

    p = sub.add_parser("metrics", help="print METRIC lines read from standard input",
                       description="Print name=value for each METRIC line on stdin, or only the value of NAME.")
    p.add_argument("name", nargs="?", help="print only this metric's value (exit 1 if absent)")
    p.set_defaults(func=cmd_metrics)

    from . import finalize, report

    report.register(sub)
    finalize.register(sub)
    return parser


def _attach_values(argv: List[str], parser: argparse.ArgumentParser) -> List[str]:
    """Turn `--opt VALUE` into `--opt=VALUE` so a value may start with '-' (-O2, -1e16, -inf)."""
    takes_value = set()
    for action in parser._subparsers._group_actions[0].choices.values() if parser._subparsers else []:
        for option in action._actions:
            if option.option_strings and option.nargs is None and not isinstance(
                    option, (argparse._StoreTrueAction, argparse._HelpAction)):
                takes_value.update(s for s in option.option_strings if s.startswith("--"))
    out, i = [], 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            out.extend(argv[i:])
            break
        if token in takes_value and i + 1 < len(argv):
            if argv[i + 1] == "--":  # argparse would drop it and take an empty value
                parser.error(f"{token} needs a value, not '--'; write {token}=VALUE")
            out.append(f"{token}={argv[i + 1]}")
            i += 2
            continue
        out.append(token)
        i += 1
    return out


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(_attach_values(argv, parser))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if args.func is cmd_run and args.command and args.command[0] == "--":
        args.command = args.command[1:]
    try:
        return args.func(args)
    except EngineError as exc:
        print(f"autoresearch: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("autoresearch: interrupted; nothing was logged.", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"autoresearch: error: {exc.strerror or exc} ({exc.filename or 'no file'}); check the path and "
              "its permissions.", file=sys.stderr)
        return 2
