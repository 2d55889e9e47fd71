"""One measured experiment: run the benchmark, read its metrics, run the checks, propose a status."""

from __future__ import annotations

import math
import os
import shlex
import time
from typing import List, Optional, Sequence

from . import gitops, metrics, runner, stats
from .errors import EngineError
from .session import Segment
from .workspace import BENCHMARK_SCRIPT, CHECKS_SCRIPT, Workspace


def benchmark_command(ws: Workspace, command: Sequence[str]) -> List[str]:
    if command:
        return list(command)
    if not os.path.isfile(ws.file(BENCHMARK_SCRIPT)):
        raise EngineError(
            f"there is no {BENCHMARK_SCRIPT} in {ws.session_dir}; write one that prints 'METRIC name=value' lines, "
            "or give the command after --, as in: autoresearch run -- python bench.py"
        )
    return ["bash", BENCHMARK_SCRIPT]


def measure(ws: Workspace, command: List[str], timeout: float) -> dict:
    """Run the benchmark once; the sample's metrics, exit code and timing."""
    outcome = runner.run(command, cwd=ws.session_dir, log_path=ws.run_log, timeout=timeout)
    with open(ws.run_log, "rb") as handle:
        output = handle.read().decode("utf-8", errors="replace")
    parsed = metrics.parse(output)
    return {
        "exit_code": outcome.exit_code,
        "timed_out": outcome.timed_out,
        "duration_s": round(outcome.duration_s, 3),
        "killed": outcome.killed,
        "parsed": parsed,
    }


def crash_reason(sample: dict, metric_name: str, timeout: float) -> Optional[str]:
    parsed = sample["parsed"]
    if sample["timed_out"]:
        return f"timed out after {timeout:g} s (the whole process tree was killed)"
    if sample["exit_code"] != 0:
        return f"the benchmark exited with code {sample['exit_code']}"
    if metric_name in parsed.unparsable:
        return f"METRIC {metric_name}={parsed.unparsable[metric_name]} is not a number"
    if metric_name not in parsed.values:
        return f"the output has no 'METRIC {metric_name}=…' line"
    value = parsed.values[metric_name]
    if not math.isfinite(value):
        return f"{metric_name} is {value} (not a finite number)"
    return None


def run_checks(ws: Workspace, timeout: float) -> Optional[dict]:
    path = ws.file(CHECKS_SCRIPT)
    if not os.path.isfile(path):
        return None
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
    return {"result": verdict, "reason": reason, "duration_s": round(outcome.duration_s, 3)}


def propose(metric: float, segment: Segment) -> tuple:
    """keep when strictly better than the segment's best kept result; the first result is the baseline."""
    best = segment.best
    direction = segment.direction
    if best is None:
        return "keep", f"baseline of segment {segment.index}"
    if stats.is_better(metric, best, direction):
        return "keep", f"better than the best so far ({best:g})"
    if metric == best:
        return "discard", f"equal to the best so far ({best:g})"
    return "discard", f"worse than the best so far ({best:g})"


def run_experiment(ws: Workspace, segment: Segment, command: List[str], timeout: float, checks_timeout: float) -> dict:
    metric_name = segment.metric_name
    started = time.time()
    sample = measure(ws, command, timeout)
    parsed = sample["parsed"]
    reason = crash_reason(sample, metric_name, timeout)
    metric = None if reason else parsed.values[metric_name]
    secondary = {k: v for k, v in parsed.finite().items() if k != metric_name}
    checks = None
    if reason:
        status = "crash"
    else:
        checks = run_checks(ws, checks_timeout)
        if checks and checks["result"] != "passed":
            status, reason = "checks_failed", checks["reason"]
        else:
            status, reason = propose(metric, segment)
    head = gitops.head(ws.session_dir) if gitops.toplevel(ws.session_dir) else None
    return {
        "metric_name": metric_name,
        "metric": metric,
        "metrics": secondary,
        "status": status,
        "reason": reason,
        "exit_code": sample["exit_code"],
        "timed_out": sample["timed_out"],
        "duration_s": sample["duration_s"],
        "checks": checks,
        "commit": head,
        "segment": segment.index,
        "best_before": segment.best,
        "baseline": segment.baseline,
        "direction": segment.direction,
        "unit": segment.metric_unit,
        "command": shlex.join(command),
        "timestamp": int(started),
    }
