"""The one definition of what a line of autoresearch.jsonl may hold.

Four kinds of record share the file:

- config header  {"type":"config","name":…,"metricName":…,"metricUnit":…,"bestDirection":…}
  Each header starts a segment; the first is segment 0. Optional: "holdoutMetric" (a METRIC stored
  with each run but never decided on) and "protected" (the globs a candidate may not change).
- status marker  {"type":"status","state":"running"|"cancelled"|…,"timestamp":…}
- refusal        {"type":"refusal","commit":…,"paths":[…],"segment":…,"timestamp":…}
  `run` refused a candidate that changes a protected path; nothing was measured.
- experiment     {"run":…,"commit":…,"metric":…,"metrics":{…},"status":…,"description":…,
                  "timestamp":…,"segment":…,"confidence":…,"asi":{…}}

The field names are the seed's, so logs written by the seed's shell scripts read back unchanged.
Fields the engine adds (duration_s, exit_code, samples, decision, …) are optional and listed in
EXPERIMENT_OPTIONAL_FIELDS.
"""

from __future__ import annotations

import json
import math
import re
from typing import Optional

from .errors import EngineError

STATUSES = ("keep", "discard", "crash", "checks_failed")
DIRECTIONS = ("lower", "higher")
SESSION_STATES = ("running", "done", "cancelled", "wall", "blocked")

# A metric name as it may appear in a `METRIC name=value` line.
METRIC_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")

CONFIG_FIELDS = ("type", "name", "metricName", "metricUnit", "bestDirection")
EXPERIMENT_FIELDS = (
    "run",
    "commit",
    "metric",
    "metrics",
    "status",
    "description",
    "timestamp",
    "segment",
    "confidence",
    "asi",
)
EXPERIMENT_OPTIONAL_FIELDS = (
    "reason",
    "duration_s",
    "exit_code",
    "samples",
    "reference_samples",
    "best_samples",
    "best_commit",
    "decision",
    "flags",
    "reason",
    "holdout",
    "protected",
)


# The largest magnitude a number in a record may have: squares, sums and means of such numbers stay finite
# floats, so no statistic overflows. Larger numbers are refused on input and read as missing from a log.
MAX_MAGNITUDE = 1e100
MAX_REASON = 300  # characters of a record's reason
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NON_FINITE = {"nan": math.nan, "+nan": math.nan, "-nan": math.nan, "inf": math.inf, "+inf": math.inf,
               "-inf": -math.inf, "infinity": math.inf, "+infinity": math.inf, "-infinity": -math.inf}
_INT_DIGITS = 100  # longer integer text is read as a float (and so refused as out of range)


def is_finite_number(value) -> bool:
    """An int or float (not a bool), finite and within ±MAX_MAGNITUDE: a number every statistic can take."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE  # exact for ints of any size, no conversion


def shown_confidence(record: dict) -> Optional[float]:
    """The confidence a record carries where it says something about that run: after a keep, which may move the
    best. A discard, a crash or failed checks leave the segment's confidence as it was; the record still stores
    it (the seed's format), but showing it beside such a run would credit the run with it."""
    value = record.get("confidence")
    return value if record.get("status") == "keep" and is_finite_number(value) else None


def finite_or_none(value):
    """value when is_finite_number(value), else None: for figures derived from the log (ratios may overflow)."""
    return value if is_finite_number(value) else None


def number_from_text(text: str):
    """The number written in text: int when written as a whole number, float otherwise, NaN and infinities
    included (the caller decides about those); ValueError when the text is no plain decimal number."""
    stripped = text.strip()
    if stripped.lower() in _NON_FINITE:
        return _NON_FINITE[stripped.lower()]
    if not _NUMBER_RE.fullmatch(stripped):
        raise ValueError(f"{shown(stripped)} is not a number")
    digits = stripped.lstrip("+-")
    if digits.isdigit() and len(digits) <= _INT_DIGITS:
        return int(stripped)
    return float(stripped)


def shown(text, width: int = 40) -> str:
    """text for an error message, cut to width characters."""
    text = str(text)
    return text if len(text) <= width else f"{text[:width - 1]}… ({len(text)} characters)"


def number_problem(value, spelled_out: bool = True) -> str:
    """Why value is not a usable number, as the end of a sentence ('is nan …', 'is out of range …'); an
    infinity that was not written as one (1e400) is out of range."""
    if isinstance(value, float) and not math.isfinite(value) and (spelled_out or math.isnan(value)):
        return f"is {value} (not a finite number)"
    return f"is out of range (beyond ±{MAX_MAGNITUDE:g})"


def dumps(record: dict) -> str:
    """Serialise one record as a single JSON line (without the newline).

    Strict JSON: NaN and infinities are refused, non-ASCII text is kept as is, and
    newlines inside strings are escaped by json, so a record is always exactly one line.
    """
    try:
        line = json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        line.encode("utf-8")
    except UnicodeEncodeError:
        raise EngineError("the record holds text that is not valid Unicode (a lone surrogate); "
                          "remove the undecodable characters.") from None
    except RecursionError:
        raise EngineError("the record is nested too deeply for JSON; flatten the ASI or metrics.") from None
    except (TypeError, ValueError) as exc:
        raise EngineError(f"the record holds a value JSON cannot carry ({exc}).") from None
    return line


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _int_or_text(text: str):
    if len(text) > _INT_DIGITS:
        return text
    value = int(text)
    return value if is_finite_number(value) else text


def _float_or_text(text: str):
    value = float(text)
    return value if is_finite_number(value) else text


def loads(text, absurd_numbers_as_text: bool = False):
    """Strict JSON (no NaN or Infinity) from str or bytes; ValueError for anything else, too deep nesting included.

    With absurd_numbers_as_text (for reading files), a number beyond is_finite_number comes back as its text,
    so no reader ever meets an infinity or an integer too large for a float.
    """
    hooks = {"parse_int": _int_or_text, "parse_float": _float_or_text} if absurd_numbers_as_text else {}
    try:
        return json.loads(text, parse_constant=_reject_constant, **hooks)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def loads_object(text: str, what: str) -> dict:
    """Parse a JSON object given on the command line (ASI, metrics), strictly."""
    try:
        value = loads(text)
    except ValueError as exc:
        raise EngineError(
            f"{what} is not valid JSON ({exc}); pass a JSON object such as '{{\"key\": \"value\"}}'."
        ) from exc
    if not isinstance(value, dict):
        raise EngineError(
            f"{what} must be a JSON object such as '{{\"key\": \"value\"}}', not {type(value).__name__}."
        )
    return value


def parse_number(text, what: str) -> float:
    """A usable number (see is_finite_number) from user text: int when integral in the text, else float."""
    if is_finite_number(text):
        return text
    if not isinstance(text, str):
        raise EngineError(f"{what} must be a number, got {shown(repr(text))}.")
    try:
        value = number_from_text(text)
    except ValueError:
        raise EngineError(f"{what} must be a number, got {shown(repr(text))}.") from None
    if not is_finite_number(value):
        raise EngineError(f"{what} must be a finite number within ±{MAX_MAGNITUDE:g}, got {shown(repr(text))}.")
    return value


def validate_metrics(metrics, what: str = "--metrics") -> dict:
    if not isinstance(metrics, dict):
        raise EngineError(f"{what} must be a JSON object of name: number pairs.")
    for name, value in metrics.items():
        if not isinstance(name, str) or not METRIC_NAME_RE.match(name):
            raise EngineError(
                f"{what} has the metric name {shown(repr(name))}; names start with a letter or _ and hold only letters, digits, _ . -."
            )
        if not is_finite_number(value):
            raise EngineError(f"{what} has {shown(name)}={shown(repr(value))}; every metric must be a finite "
                              f"number within ±{MAX_MAGNITUDE:g}.")
    return metrics


def validate_config_values(name, metric_name, metric_unit, direction) -> None:
    if not isinstance(name, str) or not name.strip():
        raise EngineError("the session name is empty; pass --name with a short goal such as 'faster tests'.")
    if not isinstance(metric_name, str) or not METRIC_NAME_RE.match(metric_name):
        raise EngineError(
            f"the metric name {metric_name!r} cannot appear in a 'METRIC name=value' line; "
            "use letters, digits, _ . - and start with a letter or _ (for example total_ms)."
        )
    if not isinstance(metric_unit, str) or "\n" in metric_unit:
        raise EngineError("the metric unit must be one line of text (it may be empty).")
    if direction not in DIRECTIONS:
        raise EngineError(f"the direction must be 'lower' or 'higher', not {direction!r}.")


def make_config(name, metric_name, metric_unit, direction, timestamp=None, holdout_metric=None,
                protected=None) -> dict:
    validate_config_values(name, metric_name, metric_unit, direction)
    record = {
        "type": "config",
        "name": name.strip(),
        "metricName": metric_name,
        "metricUnit": metric_unit,
        "bestDirection": direction,
    }
    if holdout_metric is not None:
        if not isinstance(holdout_metric, str) or not METRIC_NAME_RE.match(holdout_metric):
            raise EngineError(f"the held-out metric name {holdout_metric!r} cannot appear in a 'METRIC name=value' "
                              "line; use letters, digits, _ . - and start with a letter or _ (for example test_bpb).")
        if holdout_metric == metric_name:
            raise EngineError(f"--holdout-metric {holdout_metric} is the primary metric; the held-out figure must be "
                              "another METRIC, one the loop never decides on.")
        record["holdoutMetric"] = holdout_metric
    if protected:
        record["protected"] = list(protected)
    if timestamp is not None:
        record["timestamp"] = int(timestamp)
    return record


def make_status(state: str, timestamp: int, **extra) -> dict:
    if state not in SESSION_STATES:
        raise EngineError(f"the session state must be one of {', '.join(SESSION_STATES)}, not {state!r}.")
    record = {"type": "status", "state": state, "timestamp": int(timestamp)}
    record.update(extra)
    return record


def validate_experiment(record: dict) -> dict:
    """Check an experiment record before it is written; returns it unchanged."""
    run = record.get("run")
    if not isinstance(run, int) or isinstance(run, bool) or run < 1:
        raise EngineError(f"the run number must be a whole number from 1 up, got {shown(repr(run))}.")
    commit = record.get("commit")
    if not isinstance(commit, str) or not commit or any(c.isspace() for c in commit):
        raise EngineError(f"the commit must be a short hash without spaces, got {shown(repr(commit))}.")
    status = record.get("status")
    if status not in STATUSES:
        raise EngineError(f"the status must be one of {', '.join(STATUSES)}, not {status!r}.")
    metric = record.get("metric")
    if metric is None:
        if status == "keep" or (status == "discard" and not record.get("protected")):
            raise EngineError(
                f"a '{status}' result needs the primary metric; pass --metric or run the benchmark with 'autoresearch run' first."
            )
    elif not is_finite_number(metric):
        raise EngineError(f"the primary metric must be a finite number within ±{MAX_MAGNITUDE:g}, got {shown(repr(metric))}.")
    description = record.get("description")
    if not isinstance(description, str) or not description.strip():
        raise EngineError("the description is empty; say in a few words what this experiment tried.")
    timestamp = record.get("timestamp")
    if not is_finite_number(timestamp):
        raise EngineError(f"the timestamp must be a number of seconds, got {shown(repr(timestamp))}.")
    segment = record.get("segment")
    if not isinstance(segment, int) or isinstance(segment, bool) or segment < 0:
        raise EngineError(f"the segment must be a whole number from 0 up, got {shown(repr(segment))}.")
    confidence = record.get("confidence")
    if confidence is not None and not is_finite_number(confidence):
        raise EngineError(f"the confidence must be a finite number or null, got {shown(repr(confidence))}.")
    if "metrics" in record:
        validate_metrics(record["metrics"])
    if record.get("holdout") is not None:
        validate_metrics(record["holdout"], "the held-out metric")
    protected = record.get("protected")
    if protected is not None and not (isinstance(protected, list) and all(isinstance(p, str) for p in protected)):
        raise EngineError("the protected paths must be a list of paths.")
    if "asi" in record and not isinstance(record["asi"], dict):
        raise EngineError("the ASI must be a JSON object.")
    for key in ("samples", "reference_samples", "best_samples"):
        samples = record.get(key)
        if samples is not None and not (isinstance(samples, list) and all(is_finite_number(v) for v in samples)):
            raise EngineError(f"the {key.replace('_', ' ')} must be a list of finite numbers.")
    if record.get("best_commit") is not None and not isinstance(record["best_commit"], str):
        raise EngineError("the best commit must be a commit hash.")
    if record.get("decision") is not None and not isinstance(record["decision"], dict):
        raise EngineError("the decision must be a JSON object.")
    reason = record.get("reason")
    if reason is not None and not (isinstance(reason, str) and len(reason) <= MAX_REASON):
        raise EngineError(f"the reason must be text of at most {MAX_REASON} characters.")
    flags = record.get("flags")
    if flags is not None and not (isinstance(flags, list) and all(isinstance(f, str) for f in flags)):
        raise EngineError("the flags must be a list of words.")
    dumps(record)  # refuses NaN hidden anywhere, e.g. inside the ASI
    return record


def make_experiment(
    *,
    run,
    commit,
    metric,
    status,
    description,
    timestamp,
    segment,
    confidence=None,
    metrics=None,
    asi=None,
    extra=None,
) -> dict:
    record = {
        "run": run,
        "commit": commit,
        "metric": metric,
        "metrics": metrics if metrics is not None else {},
        "status": status,
        "description": description,
        "timestamp": timestamp,
        "segment": segment,
        "confidence": confidence,
    }
    if asi:
        record["asi"] = asi
    for key, value in (extra or {}).items():
        if key not in EXPERIMENT_OPTIONAL_FIELDS:
            raise EngineError(f"internal: {key!r} is not an experiment field.")
        if value is not None:
            record[key] = value
    return validate_experiment(record)


def make_refusal(commit: str, paths, segment: int, timestamp: int) -> dict:
    return {"type": "refusal", "commit": commit, "paths": list(paths), "segment": segment, "timestamp": int(timestamp)}


def kind_of(record: dict) -> str:
    """'config', 'status', 'refusal', 'experiment' or 'other' for a parsed line."""
    kind = record.get("type")
    if kind in ("config", "status", "refusal"):
        return kind
    if kind is None and "run" in record and "status" in record:
        return "experiment"
    return "other"
