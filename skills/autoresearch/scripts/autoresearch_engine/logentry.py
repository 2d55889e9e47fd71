"""The experiment record that `autoresearch log` appends: the pending run's result merged with what the
flags give, numbered and scored against the log as it stands when the record is appended."""

from __future__ import annotations

import time
from typing import Callable, Optional

from . import records, session
from .errors import EngineError
from .jsonlog import LogContents

PENDING_FIELDS = ("duration_s", "exit_code", "samples", "reference_samples", "best_samples", "best_commit", "decision",
                  "flags", "holdout", "protected")
FAILED = ("crash", "checks_failed")


def pending_extra(pending: dict, status: str) -> dict:
    """What a logged record keeps from the pending run; a status other than the proposed one is noted.
    A failed run keeps why it failed (its reason, with the failing line of its output), bounded."""
    extra = {key: pending.get(key) for key in PENDING_FIELDS}
    reason = pending.get("reason")
    failed = status in FAILED and pending.get("status") in FAILED
    if isinstance(reason, str) and (pending.get("protected") or failed):
        extra["reason"] = reason if len(reason) <= records.MAX_REASON else reason[: records.MAX_REASON - 1] + "…"
    if status != pending.get("status") and extra.get("decision"):
        extra["decision"] = dict(extra["decision"], overridden_by=status)
    return extra


def experiment_builder(log_path: str, *, run: Optional[int], segment: Optional[int], commit: str, metric,
                       status: str, description: str, metrics: dict, asi: Optional[dict], extra: dict,
                       confidence: Optional[float]) -> Callable[[LogContents], dict]:
    """A function for `jsonlog.append`: the record, with the run number, segment and confidence the log implies."""

    def build(contents: LogContents) -> dict:
        current = session.load(contents)
        last = current.current
        if not last.metric_name and not current.exists:
            raise EngineError(f"{log_path} has no session header; run 'autoresearch init' first.")
        seg_index = segment if segment is not None else last.index
        if not 0 <= seg_index <= last.index:
            raise EngineError(f"--segment {seg_index} does not exist; this log has segments 0 to {last.index} "
                              "(start a new one with 'autoresearch init --new-segment').")
        if run is not None and any(e.get("run") == run for e in current.experiments):
            raise EngineError(f"--run {run} is already in the log; leave --run out to take the next number "
                              f"({current.next_run}).")
        record = records.make_experiment(
            run=run if run is not None else current.next_run,
            commit=commit,
            metric=metric,
            status=status,
            description=description,
            timestamp=int(time.time()),
            segment=seg_index,
            metrics=metrics,
            asi=asi,
            extra=extra,
        )
        if confidence is not None:
            record["confidence"] = confidence
        else:
            target = current.segment(seg_index)
            probe = session.Segment(target.index, target.config, target.experiments + [record])
            record["confidence"] = probe.confidence()
        return records.validate_experiment(record)

    return build
