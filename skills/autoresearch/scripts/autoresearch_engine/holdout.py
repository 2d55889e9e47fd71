"""The held-out gap of a segment: did the improvement on the decided-on metric hold on unseen data?

A session may declare a held-out metric (`init --holdout-metric NAME`, for example test_bpb on a test
split): each run stores it, no decision reads it, and only `report` and `finalize` show it. For each
segment this compares the baseline with the best kept run on both figures: how much the primary
metric improved, how much the held-out one did, and the share of the first that the second kept.
The held-out metric is taken to have the primary metric's direction (lower or higher is better).
"""

from __future__ import annotations

from typing import Optional

from . import records
from .session import Segment


def value(record: Optional[dict], name: str) -> Optional[float]:
    held = (record or {}).get("holdout")
    figure = held.get(name) if isinstance(held, dict) else None
    return figure if records.is_finite_number(figure) else None


def gap(seg: Segment) -> Optional[dict]:
    """The segment's held-out figures, or None when it declares no held-out metric."""
    name = seg.holdout_metric
    if not name:
        return None
    base = seg.kept[0] if seg.kept else None
    best = seg.best_record
    sign = 1 if seg.direction == "lower" else -1
    out = {
        "name": name,
        "metric_name": seg.metric_name,
        "baseline_run": base.get("run") if base else None,
        "baseline_val": base.get("metric") if base else None,
        "baseline_test": value(base, name),
        "best_run": best.get("run") if best else None,
        "best_val": best.get("metric") if best else None,
        "best_test": value(best, name),
        "val_gain": None,
        "test_gain": None,
        "held_pct": None,
        "recorded": sum(1 for e in seg.experiments if value(e, name) is not None),
    }
    if base and best:
        out["val_gain"] = sign * (out["baseline_val"] - out["best_val"])
        if out["baseline_test"] is not None and out["best_test"] is not None:
            out["test_gain"] = sign * (out["baseline_test"] - out["best_test"])
            if out["val_gain"] > 0:
                out["held_pct"] = 100.0 * out["test_gain"] / out["val_gain"]
    return out


def _g(figure) -> str:
    return "n/a" if figure is None else f"{figure:.6g}"


def sentence(index: int, data: dict) -> str:
    """One paragraph for `report` and `finalize`: the baseline and the best kept run on both figures, and the gap."""
    primary, name = data["metric_name"], data["name"]
    head = f"segment {index}, held-out {name} (stored with every run, never decided on):"
    if data["baseline_run"] is None:
        return f"{head} no baseline yet."
    if data["recorded"] == 0:
        return f"{head} no run recorded it; the benchmark must print 'METRIC {name}=…'."
    figures = (f"baseline run {data['baseline_run']}: {primary} {_g(data['baseline_val'])}, {name} "
               f"{_g(data['baseline_test'])}; best kept run {data['best_run']}: {primary} {_g(data['best_val'])}, "
               f"{name} {_g(data['best_test'])}")
    if data["best_run"] == data["baseline_run"] or not data["val_gain"] or data["val_gain"] <= 0:
        return f"{head} {figures}; no kept improvement on {primary} yet, so nothing to hold."
    if data["test_gain"] is None:
        return f"{head} {figures}; {name} is missing from one of the two runs, so the gap is unknown."
    gains = f"{primary} improved by {data['val_gain']:.4g}, {name} by {data['test_gain']:.4g}"
    if data["test_gain"] <= 0:
        return (f"{head} {figures}; {gains}: none of the {primary} improvement held on unseen data — the kept "
                f"changes fit the data the loop decides on, not the task.")
    if data["held_pct"] >= 100:
        return (f"{head} {figures}; {gains}: all of the {primary} improvement held on unseen data ({name} improved "
                f"{data['held_pct'] / 100:.2f} times as much).")
    return f"{head} {figures}; {gains}: {data['held_pct']:.0f}% of the {primary} improvement held on unseen data."
