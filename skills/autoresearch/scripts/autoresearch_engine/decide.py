"""Noise-aware keep decisions: keep a candidate only when it beats the best by more than noise explains.

The noise model of a segment comes from repeated measurements of the same code — the samples of
one run (the baseline's repeats, a candidate's and the best's samples within a run) — never from the
spread between different experiments, which would mix real effects into the noise.

    sigma  = pooled standard deviation of the samples around their own run's mean
    dof    = sum over runs of (n - 1)

The default rule (`decide_paired`) compares pairs measured next to each other — the candidate, then
the best commit, in blocks of candidate, best, best, candidate — so whatever moved both (a machine
that sped up, a slow trend) drops out of each difference:

    g = mean over pairs of (best - candidate)    (sign flipped when higher is better; g > 0: better)
    t = g / (sigma * sqrt(2 / pairs))

The previous rule (`decide`, kept as `unpaired`) compares the candidate's samples C with stored
samples B of the best: t = (mean(B) - mean(C)) / (sigma * sqrt(1/|B| + 1/|C|)).

t is compared with the Student-t quantile at the configured false-keep rate divided by the number of
looks allowed, so that measuring a marginal winner again does not raise the false-keep rate. Heavy-
tailed noise inflates sigma, which makes the rule more cautious, not less. A sigma of exactly 0 (every
repeat identical) makes any strict gain count; the engine allows that only for a metric declared
deterministic.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Optional, Sequence

from . import records, stats


@dataclass
class Noise:
    sigma: Optional[float]  # None: no repeated measurement yet
    dof: int

    @property
    def known(self) -> bool:
        return self.sigma is not None and self.dof >= 1


def noise_model(sample_groups: Sequence[Sequence[float]]) -> Noise:
    squares = 0.0
    dof = 0
    for group in sample_groups:
        values = [v for v in group if records.is_finite_number(v)]
        if len(values) < 2:
            continue
        centre = sum(values) / len(values)
        squares += sum((v - centre) ** 2 for v in values)
        dof += len(values) - 1
    if dof == 0:
        return Noise(sigma=None, dof=0)
    return Noise(sigma=math.sqrt(squares / dof), dof=dof)


def _t_pdf(x: float, dof: int) -> float:
    v = float(dof)
    log_norm = math.lgamma((v + 1) / 2) - math.lgamma(v / 2) - 0.5 * math.log(v * math.pi)
    return math.exp(log_norm - (v + 1) / 2 * math.log1p(x * x / v))


def _t_cdf(x: float, dof: int) -> float:
    """P(T <= x) for x >= 0, by Simpson's rule on the density (the standard library has no t)."""
    steps = 400
    h = x / steps
    total = _t_pdf(0, dof) + _t_pdf(x, dof)
    for i in range(1, steps):
        total += (4 if i % 2 else 2) * _t_pdf(i * h, dof)
    return 0.5 + total * h / 3


@functools.lru_cache(maxsize=256)
def t_quantile(p: float, dof: int) -> float:
    """The Student-t quantile for p > 0.5, by bisection on the cdf."""
    if dof <= 0:
        return math.inf
    low, high = 0.0, 1.0
    while _t_cdf(high, dof) < p:
        high *= 2
        if high > 1e6:
            return math.inf
    for _ in range(60):
        middle = (low + high) / 2
        if _t_cdf(middle, dof) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2


@dataclass
class Decision:
    verdict: str  # keep, discard, or confirm (marginal: measure the candidate again)
    reason: str
    statistic: Optional[float]
    threshold: Optional[float]
    sigma: Optional[float]
    dof: int
    candidate: float  # centre of the candidate's samples
    reference: Optional[float]  # centre of the best's samples
    pairs: int = 0  # pairs (candidate, best) measured next to each other; 0 when compared with stored samples

    def as_record(self, rule: str, looks: int, alpha: float) -> dict:
        return {
            "rule": rule,
            "verdict": self.verdict,
            "statistic": None if self.statistic is None else records.finite_or_none(round(self.statistic, 4)),
            "threshold": None if self.threshold is None else records.finite_or_none(round(self.threshold, 4)),
            "sigma": None if self.sigma is None else round(self.sigma, 6),
            "dof": self.dof,
            "false_keep_rate": alpha,
            "looks": looks,
            "candidate": self.candidate,
            "reference": self.reference,
            "pairs": self.pairs,
            "reason": self.reason,
        }


def _weigh(gain: float, error: float, noise: Noise, alpha: float, looks_left: int, max_looks: int):
    """(verdict, reason, t, threshold) for a gain with the given standard error."""
    if error == 0:  # a sigma so small that the error underflows: as good as no noise
        return "keep" if gain > 0 else "discard", "noise too small to measure: plain comparison", None, None
    z = gain / error
    threshold = t_quantile(1 - alpha / max_looks, noise.dof)
    if z >= threshold:
        return "keep", f"better than the best: t = {z:.2f} (needs {threshold:.2f})", z, threshold
    if z <= 0:
        return "discard", f"not better than the best (t = {z:.2f})", z, threshold
    if looks_left > 0:
        return "confirm", f"marginal: t = {z:.2f} of {threshold:.2f} needed; measuring again", z, threshold
    return "discard", f"not distinguishable from noise after confirmation (t = {z:.2f} < {threshold:.2f})", z, threshold


def _exact(gain: float, noise: Noise, centre: float, ref_centre: float) -> Decision:
    verdict = "keep" if gain > 0 else "discard"
    word = "better than" if gain > 0 else ("equal to" if gain == 0 else "worse than")
    return Decision(verdict, f"deterministic metric (no noise in {noise.dof + 1}+ repeats): {word} the best",
                    None, None, 0.0, noise.dof, centre, ref_centre)


def gain_of(candidate: float, reference: float, direction: str) -> float:
    """How much better `candidate` is than `reference` (negative when worse)."""
    return (reference - candidate) if direction == "lower" else (candidate - reference)


def decide(
    candidate: Sequence[float],
    reference: Optional[Sequence[float]],
    noise: Noise,
    direction: str,
    alpha: float,
    looks_left: int,
    max_looks: int,
) -> Decision:
    """keep / discard / confirm for a candidate's samples against the best kept run's samples."""
    centre = stats.mean(candidate)
    if not reference:
        return Decision("keep", "baseline of the segment", None, None, noise.sigma, noise.dof, centre, None)
    ref_centre = stats.mean(reference)
    gain = gain_of(centre, ref_centre, direction)
    if not noise.known:
        verdict = "keep" if gain > 0 else "discard"
        return Decision(verdict, "noise unknown (no repeated measurements yet): plain comparison",
                        None, None, None, noise.dof, centre, ref_centre)
    if noise.sigma == 0:
        return _exact(gain, noise, centre, ref_centre)
    error = noise.sigma * math.sqrt(1 / len(reference) + 1 / len(candidate))
    verdict, why, z, threshold = _weigh(gain, error, noise, alpha, looks_left, max_looks)
    return Decision(verdict, why, z, threshold, noise.sigma, noise.dof, centre, ref_centre)


def decide_paired(
    candidate: Sequence[float],
    best: Sequence[float],
    noise: Noise,
    direction: str,
    alpha: float,
    looks_left: int,
    max_looks: int,
) -> Decision:
    """keep / discard / confirm from pairs (candidate[i], best[i]) measured next to each other.

    Each pair's difference is free of whatever moved both (a machine that sped up, a slow trend);
    taken in the order candidate, best, best, candidate, a linear trend cancels in their mean. With
    independent noise of standard deviation sigma per sample, the mean of n differences has standard
    error sigma * sqrt(2 / n).
    """
    pairs = min(len(candidate), len(best))
    centre, ref_centre = stats.mean(candidate), stats.mean(best)
    gain = sum(gain_of(c, b, direction) for c, b in zip(candidate, best)) / pairs
    if not noise.known or noise.sigma == 0:
        decision = _exact(gain, noise, centre, ref_centre) if noise.known else Decision(
            "keep" if gain > 0 else "discard", "noise unknown (no repeated measurements yet): plain comparison",
            None, None, None, noise.dof, centre, ref_centre)
    else:
        verdict, why, z, threshold = _weigh(gain, noise.sigma * math.sqrt(2 / pairs), noise, alpha, looks_left,
                                            max_looks)
        decision = Decision(verdict, why, z, threshold, noise.sigma, noise.dof, centre, ref_centre)
    decision.pairs = pairs
    decision.reason += f" ({pairs} pairs with the best measured alongside, mean gain {gain:.6g})"
    return decision
