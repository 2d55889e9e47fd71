"""One measured experiment: run the benchmark, read its metrics, run the checks, propose a status."""

from __future__ import annotations

import contextlib
import os
import shlex
import time
from dataclasses import dataclass
from typing import List, Optional, Sequence

from . import benchmark_output, decide, metrics, records, runner, stats
from .errors import EngineError
from .session import Segment, reference_samples
from .sessionfiles import BENCHMARK_SCRIPT, CHECKS_SCRIPT, RUN_LOG
from .workspace import Workspace

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


def benchmark_command(ws: Workspace, command: Sequence[str]) -> List[str]:
    if command:
        return list(command)
    if not os.path.isfile(ws.file(BENCHMARK_SCRIPT)):
        raise EngineError(
            f"there is no {BENCHMARK_SCRIPT} in {ws.session_dir}; write one that prints 'METRIC name=value' lines, "
            "or give the command after --, as in: autoresearch run -- python bench.py"
        )
    return ["bash", BENCHMARK_SCRIPT]


def measure(ws: Workspace, command: List[str], timeout: float, sample: int = 1, of: int = 1) -> dict:
    """Run the benchmark once; the sample's metrics, exit code and timing. Later samples append to run.log."""
    header = f"===== autoresearch: sample {sample} of {of}: {shlex.join(command)} =====\n" if of > 1 else None
    offset = os.path.getsize(ws.run_log) if sample > 1 and os.path.exists(ws.run_log) else 0
    outcome = runner.run(command, cwd=ws.session_dir, log_path=ws.run_log, timeout=timeout,
                         append=sample > 1, header=header)
    with open(ws.run_log, "rb") as handle:
        handle.seek(offset)
        parsed = metrics.read(handle)
    return {
        "exit_code": outcome.exit_code,
        "timed_out": outcome.timed_out,
        "duration_s": round(outcome.duration_s, 3),
        "killed": outcome.killed,
        "parsed": parsed,
    }


def crash_reason(sample: dict, metric_name: str, timeout: float, hidden: Sequence[str] = ()) -> Optional[str]:
    """Why the sample is a crash, with the line of its output that says what failed; None when it is not."""
    parsed = sample["parsed"]
    if sample["timed_out"]:
        reason = f"timed out after {timeout:g} s (the whole process tree was killed)"
    elif sample["exit_code"] != 0:
        reason = f"the benchmark exited with code {sample['exit_code']}"
    elif metric_name in parsed.rejected:
        raw, problem = parsed.rejected[metric_name]
        return f"METRIC {metric_name}= {problem}: {benchmark_output.inline(raw, 40)}"
    elif metric_name not in parsed.values:
        reason = f"the output has no 'METRIC {metric_name}=…' line"
    elif not records.is_finite_number(parsed.values[metric_name]):
        return f"{metric_name} {records.number_problem(parsed.values[metric_name])}"
    else:
        return None
    line = parsed.failing_line()
    return f"{reason}: {benchmark_output.inline(line, metrics.FAILING_LINE_CHARS, hidden)}" if line else reason


def run_checks(ws: Workspace, timeout: float, hidden: Sequence[str] = ()) -> Optional[dict]:
    path = ws.file(CHECKS_SCRIPT)
    if not os.path.isfile(path):
        return None
    offset = os.path.getsize(ws.run_log) if os.path.exists(ws.run_log) else 0
    outcome = runner.run(
        ["bash", CHECKS_SCRIPT],
        cwd=ws.session_dir,
        log_path=ws.run_log,
        timeout=timeout,
        append=True,
        header=f"\n===== autoresearch: {CHECKS_SCRIPT} (timeout {timeout:g} s) =====\n",
    )
    if outcome.timed_out:
        verdict, reason = "timeout", f"{CHECKS_SCRIPT} timed out after {timeout:g} s"
    elif outcome.exit_code != 0:
        verdict, reason = "failed", f"{CHECKS_SCRIPT} failed with exit code {outcome.exit_code}"
    else:
        verdict, reason = "passed", None
    if reason:
        with open(ws.run_log, "rb") as handle:
            handle.seek(offset)
            line = metrics.read(handle).failing_line()
        reason = f"{reason}: {benchmark_output.inline(line, metrics.FAILING_LINE_CHARS, hidden)}" if line else reason
    return {"result": verdict, "reason": reason, "duration_s": round(outcome.duration_s, 3)}


@dataclass
class Plan:
    """How many samples to take and how to decide: the settings, with the flags of this run over them."""

    rule: str  # noise | strict
    repeat: int
    baseline_repeat: int
    confirm_runs: int
    reference_repeat: int
    false_keep_rate: float

    @classmethod
    def from_settings(cls, settings) -> "Plan":
        return cls(rule=settings.keep_rule, repeat=settings.repeat, baseline_repeat=settings.baseline_repeat,
                   confirm_runs=settings.confirm_runs, reference_repeat=settings.reference_repeat,
                   false_keep_rate=settings.false_keep_rate)

    def first_samples(self, has_reference: bool) -> int:
        if self.rule == "strict" or has_reference:
            return self.repeat
        return max(self.repeat, self.baseline_repeat)

    @property
    def looks(self) -> int:
        return 1 + -(-self.confirm_runs // self.repeat)  # the first measurement and each confirmation batch


def segment_sample_groups(segment: Segment) -> List[List[float]]:
    return [e[key] for e in segment.experiments for key in ("samples", "reference_samples")
            if e.get("status") in ("keep", "discard") and isinstance(e.get(key), list)]


def judge(samples: List[float], segment: Segment, plan: Plan, looks_used: int) -> decide.Decision:
    reference = reference_samples(segment.best_record)
    if plan.rule == "strict":
        centre = sum(samples) / len(samples)
        if reference is None:
            return decide.Decision("keep", f"baseline of segment {segment.index}", None, None, None, 0, centre, None)
        best = sum(reference) / len(reference)
        better = stats.is_better(centre, best, segment.direction)
        word = "better than" if better else ("equal to" if centre == best else "worse than")
        return decide.Decision("keep" if better else "discard", f"{word} the best so far ({best:g})",
                               None, None, None, 0, centre, best)
    noise = decide.noise_model(segment_sample_groups(segment) + [samples])
    decision = decide.decide(samples, reference, noise, segment.direction, plan.false_keep_rate,
                             plan.looks - looks_used, plan.looks)
    if reference is None:
        decision.reason = f"baseline of segment {segment.index}"
    return decision


def _mean_metrics(per_sample: List[dict], leave_out: Sequence[str]) -> dict:
    names = set.intersection(*(set(m) for m in per_sample)) - set(leave_out) if per_sample else set()
    return {name: round(sum(m[name] for m in per_sample) / len(per_sample), 6) for name in sorted(names)}


def _holdout(per_sample: List[dict], name: Optional[str]) -> Optional[dict]:
    """The held-out metric's mean over the samples that printed it; None when none did or none is declared."""
    values = [m[name] for m in per_sample if name in m] if name else []
    return {name: round(sum(values) / len(values), 6)} if values else None


def run_experiment(ws: Workspace, segment: Segment, command: List[str], timeout: float, checks_timeout: float,
                   plan: Plan, commit: Optional[str] = None) -> dict:
    """Measure (and check) the tree of `commit`, HEAD when the run starts; the result is filed under it.
    The caller holds exclusive_run(ws)."""
    metric_name = segment.metric_name
    hidden = [segment.holdout_metric] if segment.holdout_metric else []  # never shown to the agent
    started = time.time()
    has_reference = segment.best_record is not None
    batch = plan.first_samples(has_reference)
    total = batch
    samples: List[float] = []
    secondary: List[dict] = []
    reason = None
    decision = None
    looks = 0
    last = None
    while True:
        for _ in range(batch):
            last = measure(ws, command, timeout, sample=len(samples) + 1, of=total)
            reason = crash_reason(last, metric_name, timeout, hidden)
            if reason:
                if not samples:  # a crash on the first sample still tells what else it measured
                    secondary.append(last["parsed"].finite())
                break
            samples.append(last["parsed"].values[metric_name])
            secondary.append(last["parsed"].finite())
        if reason:
            break
        looks += 1
        decision = judge(samples, segment, plan, looks)
        if decision.verdict != "confirm":
            break
        batch = min(plan.repeat, plan.confirm_runs - (len(samples) - plan.first_samples(has_reference)))
        total = len(samples) + batch
    checks = None
    if reason:
        status, metric = "crash", None
    else:
        metric = decision.candidate
        checks = run_checks(ws, checks_timeout, hidden)
        if checks and checks["result"] != "passed":
            status, reason = "checks_failed", checks["reason"]
        else:
            status, reason = decision.verdict, decision.reason
    reference: List[float] = []
    if status == "keep" and has_reference and plan.rule == "noise":
        # the samples that won were selected for looking good; fresh ones are the unbiased reference
        for _ in range(plan.reference_repeat):
            last = measure(ws, command, timeout, sample=len(samples) + len(reference) + 1,
                           of=len(samples) + plan.reference_repeat)
            crashed = crash_reason(last, metric_name, timeout, hidden)
            if crashed:
                status, metric, reason = "crash", None, f"re-measuring the kept result: {crashed}"
                break
            reference.append(last["parsed"].values[metric_name])
    head = commit
    result = {
        "metric_name": metric_name,
        "metric": metric,
        "metrics": _mean_metrics(secondary, [metric_name, segment.holdout_metric]),
        "holdout": _holdout(secondary, segment.holdout_metric),
        "status": status,
        "reason": reason,
        "exit_code": last["exit_code"],
        "timed_out": last["timed_out"],
        "duration_s": last["duration_s"],
        "samples": samples,
        "reference_samples": reference or None,
        "decision": decision.as_record(plan.rule, looks, plan.false_keep_rate) if decision else None,
        "checks": checks,
        "commit": head,
        "segment": segment.index,
        "best_before": segment.best,
        "reference_before": segment.best_reference,
        "baseline": segment.baseline,
        "direction": segment.direction,
        "unit": segment.metric_unit,
        "command": shlex.join(command),
        "timestamp": int(started),
    }
    if head and status == "keep":
        from . import seedcheck

        flag = seedcheck.only_changes_seeds(ws.session_dir, head)
        if flag:
            result["flags"] = ["seed_only"]
            result["reason"] += f"; WARNING: the commit only changes {flag}, so the gain is likely noise"
    return result


@contextlib.contextmanager
def exclusive_run(ws: Workspace):
    """Hold run.log for one `run`: a second one in the same session is refused while this one measures.

    The lock is the kernel's (flock on run.log), so it ends with the process holding it, killed or not.
    """
    fd = os.open(ws.run_log, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise EngineError(
                    f"another 'autoresearch run' is measuring in {ws.session_dir} right now (it holds "
                    f"{RUN_LOG}); wait for it to finish or stop it, then run again."
                ) from None
        yield
    finally:
        os.close(fd)
