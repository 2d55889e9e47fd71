"""Robust statistics for deciding what is signal: median, MAD, and the seed's confidence score."""

from __future__ import annotations

from typing import Iterable, List, Optional, Sequence

from . import records


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def median(values: Iterable[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of nothing")
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2.0


def mad(values: Iterable[float]) -> float:
    """Median absolute deviation from the median (unscaled)."""
    values = list(values)
    centre = median(values)
    return median(abs(v - centre) for v in values)


def mad_confidence(metrics: List[float], baseline: Optional[float], best: Optional[float]) -> Optional[float]:
    """The seed's score: |best - baseline| / MAD of the segment's metrics.

    None with fewer than 3 metrics, without a baseline or best, or when the MAD is zero
    (every value equal, or more than half of them equal): the spread says nothing then.
    """
    finite = [m for m in metrics if records.is_finite_number(m)]
    if len(finite) < 3 or baseline is None or best is None:
        return None
    spread = mad(finite)
    if spread == 0:
        return None
    return records.finite_or_none(round(abs(best - baseline) / spread, 4))


def is_better(candidate: float, reference: float, direction: str) -> bool:
    return candidate < reference if direction == "lower" else candidate > reference


def best_of(values: Iterable[float], direction: str) -> Optional[float]:
    values = list(values)
    if not values:
        return None
    return min(values) if direction == "lower" else max(values)


def change_pct(value: Optional[float], reference: Optional[float]) -> Optional[float]:
    """value against reference in % of |reference|, signed as the metric moved (value - reference): with lower is
    better, a gain is negative. `run` and the dashboard state it this way."""
    if value is None or reference is None or reference == 0:
        return None
    return records.finite_or_none((value - reference) / abs(reference) * 100.0)  # a tiny reference may give inf


def improvement_pct(baseline: Optional[float], best: Optional[float], direction: str) -> Optional[float]:
    """How far best moved from baseline in the good direction, as % of |baseline|."""
    if baseline is None or best is None or baseline == 0:
        return None
    gain = (baseline - best) if direction == "lower" else (best - baseline)
    return records.finite_or_none(round(gain / abs(baseline) * 100.0, 4))  # a tiny baseline may give inf
