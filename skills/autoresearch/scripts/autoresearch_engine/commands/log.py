"""`autoresearch log`: append one experiment record, by default the pending result of `autoresearch run`."""

from __future__ import annotations

from .. import gitops, jsonlog, records, summary
from ..display import short
from ..errors import EngineError
from ..logentry import experiment_builder, pending_extra
from ..workspace import open_workspace
from .common import add_common


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
        raise EngineError(f"--commit must be a commit hash without spaces, got {records.shown(repr(args.commit))}.")

    use_pending = pending is not None and metric is None
    status = args.status or (pending.get("status") if use_pending else None)
    if status is None:
        raise EngineError("no pending result from 'autoresearch run' to log; run the benchmark first, "
                          "or pass --status and --metric.")
    if status not in records.STATUSES:
        raise EngineError(f"--status must be one of {', '.join(records.STATUSES)}, not {records.shown(repr(status))}.")
    if use_pending:
        metric = pending.get("metric")
        if pending.get("protected") and status != "discard":
            raise EngineError(f"the last candidate was refused, unmeasured, for changing the protected "
                              f"{pending['protected'][0]}; it can only be logged as discard.")
        if status == "keep" and pending.get("status") in ("crash", "checks_failed"):
            raise EngineError(
                f"the last run was '{pending['status']}' ({pending.get('reason')}); it cannot be logged as keep. "
                f"Log it as {pending['status']}, fix the problem in a new commit and run again."
            )
    metrics_value = metrics_given if metrics_given is not None else (pending.get("metrics") if use_pending else {})
    commit = args.commit or (pending.get("commit") if use_pending else None)
    if commit is None:
        repo = gitops.toplevel(ws.session_dir)
        if repo:  # the result is filed under HEAD, so HEAD must be what was measured
            ws.require_committed(repo, "logging a result without a pending run")
        commit = (gitops.head(repo) if repo else None) or "-"
    extra = pending_extra(pending, status) if use_pending else {}

    build = experiment_builder(ws.log_path, run=run_given, segment=segment_given, commit=commit, metric=metric,
                               status=status, description=description, metrics=metrics_value, asi=asi,
                               extra=extra, confidence=confidence_given)
    record = jsonlog.append(ws.log_path, build)
    if use_pending:
        ws.clear_pending()
    shown = records.shown_confidence(record)
    confidence = "" if shown is None else f" | confidence={shown:.2f}"
    print(f"Logged: #{record['run']} {record['status']} | metric={summary.fmt(record['metric'])}{confidence} | "
          f"{short(record['description'], 80)}")
    if status in ("discard", "crash", "checks_failed") and gitops.toplevel(ws.session_dir):
        print("Next: autoresearch revert")
    return 0


def _whole(text, flag: str, minimum: int) -> int:
    value = records.parse_number(text, flag)
    if not isinstance(value, int) or value < minimum:
        raise EngineError(f"{flag} must be a whole number from {minimum} up, got {records.shown(repr(text))}.")
    return value


def register(sub) -> None:
    p = sub.add_parser(
        "log", help="append one experiment record",
        description=("Append one experiment to autoresearch.jsonl, atomically and validated. Status, metric and "
                     "metrics default to the pending result of 'autoresearch run'; run number, commit, segment, "
                     "timestamp and confidence are filled in."),
    )
    add_common(p)
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
