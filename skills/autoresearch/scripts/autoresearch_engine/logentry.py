"""The experiment record that `autoresearch log` appends: the pending run's result merged with what the
flags give, numbered and scored against the log as it stands when the record is appended."""

from __future__ import annotations

import time
from typing import Callable, Optional

from . import records, session
from .errors import EngineError
from .jsonlog import LogContents

PENDING_FIELDS = ("duration_s", "exit_code", "samples", "reference_samples", "decision", "flags", "holdout",
                  "protected")


def pending_extra(pending: dict, status: str) -> dict:
    """What a logged record keeps from the pending run; a status other than the proposed one is noted."""
    extra = {key: pending.get(key) for key in PENDING_FIELDS}
    if pending.get("protected"):
        extra["reason"] = pending.get("reason")
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
            target = current.segments[seg_index] if seg_index < len(current.segments) else session.Segment(seg_index, None)
            probe = session.Segment(target.index, target.config, target.experiments + [record])
            record["confidence"] = probe.confidence()
        return records.validate_experiment(record)

    return build
