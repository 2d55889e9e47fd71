"""What the log says about the session: segments, baseline, best, counts, lifecycle state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from . import records, stats
from .jsonlog import LogContents


def reference_samples(record: Optional[dict]) -> Optional[List[float]]:
    """The samples a later candidate is compared with: a kept run's re-measurements, else its own samples."""
    if record is None:
        return None
    for key in ("reference_samples", "samples"):
        samples = record.get(key)
        if isinstance(samples, list) and samples and all(records.is_finite_number(v) for v in samples):
            return list(samples)
    return [record["metric"]]


@dataclass
class Segment:
    index: int
    config: Optional[dict]
    experiments: List[dict] = field(default_factory=list)
    refusals: List[dict] = field(default_factory=list)  # candidates `run` refused for a protected change

    @property
    def metric_name(self) -> Optional[str]:
        return self.config.get("metricName") if self.config else None

    @property
    def metric_unit(self) -> str:
        return (self.config or {}).get("metricUnit") or ""

    @property
    def holdout_metric(self) -> Optional[str]:
        """The METRIC stored with each run but never decided on or shown by the loop's commands."""
        name = (self.config or {}).get("holdoutMetric")
        return name if isinstance(name, str) and name else None

    @property
    def direction(self) -> str:
        direction = (self.config or {}).get("bestDirection")
        return direction if direction in records.DIRECTIONS else "lower"

    @property
    def kept(self) -> List[dict]:
        return [e for e in self.experiments if e.get("status") == "keep" and _finite(e.get("metric"))]

    @property
    def baseline(self) -> Optional[float]:
        """The segment's first kept result (its first run, when that run did not fail)."""
        kept = self.kept
        return kept[0]["metric"] if kept else None

    @property
    def best(self) -> Optional[float]:
        return stats.best_of((e["metric"] for e in self.kept), self.direction)

    @property
    def best_reference(self) -> Optional[float]:
        """What a candidate is measured against: the mean of the best kept run's fresh re-measurements (else of its
        own samples). The keep rule, `run`'s "vs best" and the dashboard's "Δ best" all use this one number."""
        samples = reference_samples(self.best_record)
        return None if samples is None else stats.mean(samples)

    @property
    def best_record(self) -> Optional[dict]:
        best = self.best
        for entry in self.kept:
            if entry["metric"] == best:
                return entry
        return None

    def count(self, status: str) -> int:
        return sum(1 for e in self.experiments if e.get("status") == status)

    def metric_values(self) -> List[float]:
        """Metrics of the runs whose measurement counts: crashes and failed checks are left out."""
        return [e["metric"] for e in self.experiments
                if e.get("status") in ("keep", "discard") and _finite(e.get("metric"))]

    def confidence(self) -> Optional[float]:
        return stats.mad_confidence(self.metric_values(), self.baseline, self.best)

    def failure_streak(self, statuses=("discard", "crash")) -> int:
        """Consecutive runs with one of `statuses`, counted back from the last run."""
        streak = 0
        for entry in reversed(self.experiments):
            if entry.get("status") not in statuses:
                break
            streak += 1
        return streak


def _finite(value) -> bool:
    return records.is_finite_number(value)


@dataclass
class Session:
    contents: LogContents
    segments: List[Segment]
    configs: List[dict]
    state: str  # the last status marker's state; 'running' when there is none
    last_status: Optional[dict]

    @property
    def exists(self) -> bool:
        return bool(self.configs) or any(s.experiments for s in self.segments)

    @property
    def current(self) -> Segment:
        return self.segments[-1]

    @property
    def experiments(self) -> List[dict]:
        return [e for s in self.segments for e in s.experiments]

    def segment(self, index: int) -> Segment:
        """The segment with this index; an empty one (with the header in force there) when the log has none."""
        for seg in self.segments:
            if seg.index == index:
                return seg
        config = None
        for seg in self.segments:
            if seg.index <= index:
                config = seg.config
        return Segment(index=index, config=config)

    @property
    def next_run(self) -> int:
        runs = [e.get("run") for e in self.experiments if isinstance(e.get("run"), int)]
        return (max(runs) if runs else 0) + 1

    @property
    def warnings(self) -> List[str]:
        return self.contents.warnings


def _config_segments(configs: List[dict]) -> List[int]:
    """The segment each header starts: its own "segment" field, else the one after the previous header."""
    indexes, previous = [], -1
    for config in configs:
        own = config.get("segment")
        index = own if isinstance(own, int) and not isinstance(own, bool) and own > previous else previous + 1
        indexes.append(index)
        previous = index
    return indexes


def _segment_of(entry: dict) -> int:
    segment = entry.get("segment")
    return segment if isinstance(segment, int) and not isinstance(segment, bool) and segment >= 0 else 0


def load(contents: LogContents) -> Session:
    configs = [e for e in contents.entries if records.kind_of(e) == "config"]
    experiments = [e for e in contents.entries if records.kind_of(e) == "experiment"]
    statuses = [e for e in contents.entries if records.kind_of(e) == "status"]
    starts = _config_segments(configs)
    # only the segments the log names: a record with segment 10**12 must not make 10**12 empty ones
    indexes = sorted(set(starts) | {_segment_of(e) for e in experiments} | {0})
    segments, position, config = {}, 0, None
    for index in indexes:
        # a segment without its own header (seed logs with hand-set segments) keeps the last one before it
        while position < len(starts) and starts[position] <= index:  # starts only grow
            config, position = configs[position], position + 1
        segments[index] = Segment(index=index, config=config)
    for entry in experiments:
        segments[_segment_of(entry)].experiments.append(entry)
    for entry in contents.entries:
        segment = entry.get("segment")
        if records.kind_of(entry) == "refusal" and isinstance(segment, int) and not isinstance(segment, bool) \
                and segment in segments:
            segments[segment].refusals.append(entry)
    last_status = statuses[-1] if statuses else None
    state = last_status.get("state", "running") if last_status else "running"
    return Session(contents=contents, segments=[segments[i] for i in indexes], configs=configs, state=state,
                   last_status=last_status)
