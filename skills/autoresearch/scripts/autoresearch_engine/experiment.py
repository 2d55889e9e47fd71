"""One measured experiment: run the benchmark, read its metrics, run the checks, propose a status."""

from __future__ import annotations

import contextlib
import os
import shlex
import time
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from . import benchmark_output, decide, gitops, metrics, records, runner, seedcheck, stats, treeswap
from .errors import EngineError
from .session import Segment, reference_samples
from .sessionfiles import BENCHMARK_SCRIPT, CHECKS_SCRIPT, RUN_LOG
from .workspace import Workspace

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

REPEAT_VARIABLE = "AUTORESEARCH_REPEAT"  # each sample's repeat index: a benchmark varies its seed with it
NO_VARIATION = (
    "repeats of the same code gave identical {metric} values, so the engine cannot tell a gain from what a seed "
    "or the data order would change: make the benchmark vary those with $AUTORESEARCH_REPEAT (0, 1, 2… per "
    "sample) and start a new segment, or, if {metric} really is deterministic, set 'deterministic: true' in "
    ".claude/autoresearch.local.md (or pass --deterministic to init)."
)


def benchmark_command(ws: Workspace, command: Sequence[str]) -> List[str]:
    if command:
        return list(command)
    if not os.path.isfile(ws.file(BENCHMARK_SCRIPT)):
        raise EngineError(
            f"there is no {BENCHMARK_SCRIPT} in {ws.session_dir}; write one that prints 'METRIC name=value' lines, "
            "or give the command after --, as in: autoresearch run -- python bench.py"
        )
    return ["bash", BENCHMARK_SCRIPT]


def measure(ws: Workspace, command: List[str], timeout: float, sample: int = 1, repeat: int = 0,
            label: str = "") -> dict:
    """Run the benchmark once with AUTORESEARCH_REPEAT=`repeat`; the sample's metrics, exit code and timing.

    The first sample of a run starts run.log afresh; later ones append to it under a header.
    """
    header = (f"===== autoresearch: sample {sample}{label}, {REPEAT_VARIABLE}={repeat}: {shlex.join(command)} "
              "=====\n") if sample > 1 or label else None
    offset = os.path.getsize(ws.run_log) if sample > 1 and os.path.exists(ws.run_log) else 0
    outcome = runner.run(command, cwd=ws.session_dir, log_path=ws.run_log, timeout=timeout,
                         append=sample > 1, header=header, env=dict(os.environ, **{REPEAT_VARIABLE: str(repeat)}))
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

    rule: str = "noise"  # noise (paired with the best) | unpaired (against stored samples) | strict
    repeat: int = 1
    baseline_repeat: int = 5
    confirm_runs: int = 3
    reference_repeat: int = 4
    false_keep_rate: float = 0.05
    max_pairs: int = 6
    reference_max_age: int = 5
    deterministic: bool = False

    @classmethod
    def from_settings(cls, settings) -> "Plan":
        return cls(**{name: getattr(settings, name) for name in (
            "repeat", "baseline_repeat", "confirm_runs", "reference_repeat", "false_keep_rate", "max_pairs",
            "reference_max_age", "deterministic")}, rule=settings.keep_rule)

    def first_samples(self, has_reference: bool) -> int:
        if self.rule == "strict" or has_reference:
            return self.repeat
        return max(self.repeat, self.baseline_repeat)

    @property
    def looks(self) -> int:
        return 1 + -(-self.confirm_runs // self.repeat)  # the first measurement and each confirmation batch

    @property
    def paired_looks(self) -> int:
        return max(1, -(-self.max_pairs // 2))  # one look after each block of two pairs


SAMPLE_KEYS = ("samples", "reference_samples", "best_samples")


def segment_sample_groups(segment: Segment) -> List[List[float]]:
    return [e[key] for e in segment.experiments for key in SAMPLE_KEYS
            if e.get("status") in ("keep", "discard") and isinstance(e.get(key), list)]


def latest_kept(segment: Segment) -> Optional[dict]:
    """The noise rule's best: the last kept result, which the branch holds and the candidate builds on.

    Every keep beat the one before it measured side by side, so the last is the best known; the
    lowest (or highest) logged value is not, when the machine changed speed between the runs.
    """
    kept = segment.kept
    return kept[-1] if kept else None


def recent_best_samples(segment: Segment, max_age: int) -> Optional[List[float]]:
    """The best's newest unselected samples when at most `max_age` benchmark runs were taken after them.

    Unselected: the baseline's repeats, a kept result's fresh reference samples, or the best measured next
    to a later candidate; never the samples that won a keep, which were picked for looking good.
    """
    best = latest_kept(segment)
    if best is None:
        return None
    latest, age = None, 0
    for entry in segment.experiments:
        own = None
        if entry is best:
            own = entry.get("reference_samples") or (entry.get("samples") if entry is segment.kept[0] else None)
        elif entry.get("best_commit") == best.get("commit"):
            own = entry.get("best_samples")
        if own:
            latest, age = list(own), 0
        elif latest is not None:
            age += sum(len(entry.get(key) or []) for key in SAMPLE_KEYS)
    return latest if latest is not None and age <= max_age else None


class Sampling:
    """One run's measurements: the candidate's and the best's samples, each with its repeat index, and the checks."""

    def __init__(self, ws: Workspace, segment: Segment, command: List[str], timeout: float, checks_timeout: float,
                 swap: Optional[treeswap.TreeSwap] = None):
        self.ws, self.segment, self.command, self.timeout = ws, segment, command, timeout
        self.checks_timeout, self.swap = checks_timeout, swap
        self.hidden = [segment.holdout_metric] if segment.holdout_metric else []  # never shown to the agent
        self.samples: List[float] = []
        self.best_samples: List[float] = []
        self.reference: List[float] = []
        self.secondary: List[dict] = []
        self.crash: Optional[str] = None
        self.checks: Optional[dict] = None
        self.last: Optional[dict] = None
        self.taken = 0
        self.looks = 0  # decisions taken on the samples so far

    def take(self, repeat: int, of: str = "candidate", label: bool = True) -> bool:
        """One sample of the candidate, of the best (`of="best"`) or a fresh reference of the kept candidate."""
        if self.swap:
            self.swap.best() if of == "best" else self.swap.head()
        name = f" ({of} {self.swap.best_commit[:7]})" if of == "best" and self.swap else f" ({of})"
        self.last = measure(self.ws, self.command, self.timeout, sample=self.taken + 1, repeat=repeat,
                            label=name if label else "")
        self.taken += 1
        reason = crash_reason(self.last, self.segment.metric_name, self.timeout, self.hidden)
        if reason:
            if of == "candidate" and not self.samples:  # a crash on the first sample still tells what else it measured
                self.secondary.append(self.last["parsed"].finite())
            self.crash = {"best": "measuring the best next to it: ",
                          "reference": "re-measuring the kept result: "}.get(of, "") + reason
            return False
        value = self.last["parsed"].values[self.segment.metric_name]
        if of == "best":
            self.best_samples.append(value)
        elif of == "reference":
            self.reference.append(value)
        else:
            self.samples.append(value)
            self.secondary.append(self.last["parsed"].finite())
        return True

    def checks_pass(self) -> bool:
        """The checks, once per run, before any sample beyond the first winning one."""
        if self.checks is None:
            if self.swap:
                self.swap.head()
            self.checks = run_checks(self.ws, self.checks_timeout, self.hidden) or {"result": "none"}
        return self.checks["result"] in ("passed", "none")

    def noise(self) -> decide.Noise:
        return decide.noise_model(segment_sample_groups(self.segment) + [self.samples, self.best_samples])


def _require_variation(noise: decide.Noise, gain: float, plan: Plan, metric: str) -> None:
    """A sigma of exactly 0 means strict comparison only for a metric declared deterministic."""
    if noise.known and noise.sigma == 0 and gain > 0 and not plan.deterministic:
        raise EngineError(NO_VARIATION.format(metric=metric))


def _strict(run: Sampling, plan: Plan, reference: Optional[List[float]]) -> Optional[decide.Decision]:
    for index in range(plan.repeat):
        if not run.take(index, label=plan.repeat > 1):
            return None
    centre = stats.mean(run.samples)
    if reference is None:
        return decide.Decision("keep", f"baseline of segment {run.segment.index}", None, None, None, 0, centre, None)
    best = stats.mean(reference)
    better = stats.is_better(centre, best, run.segment.direction)
    word = "better than" if better else ("equal to" if centre == best else "worse than")
    return decide.Decision("keep" if better else "discard", f"{word} the best so far ({best:g})",
                           None, None, None, 0, centre, best)


def _baseline(run: Sampling, plan: Plan) -> Optional[decide.Decision]:
    count = max(plan.repeat, plan.baseline_repeat)
    for index in range(count):
        if not run.take(index, label=count > 1):
            return None
    noise = run.noise()
    decision = decide.decide(run.samples, None, noise, run.segment.direction, plan.false_keep_rate, 0, 1)
    decision.reason = f"baseline of segment {run.segment.index}"
    if noise.known and noise.sigma == 0 and not plan.deterministic:
        decision.reason += "; WARNING: " + NO_VARIATION.format(metric=run.segment.metric_name)
    return decision


def _unpaired(run: Sampling, plan: Plan, reference: List[float]) -> Optional[decide.Decision]:
    """The candidate's samples against stored samples of the best, with confirmation samples when marginal."""
    looks, batch = 0, plan.repeat
    while True:
        for _ in range(batch):
            if not run.take(len(run.samples), label=plan.repeat > 1 or looks > 0):
                return None
        looks += 1
        run.looks = looks
        noise = run.noise()
        _require_variation(noise, decide.gain_of(stats.mean(run.samples), stats.mean(reference), run.segment.direction),
                           plan, run.segment.metric_name)
        decision = decide.decide(run.samples, reference, noise, run.segment.direction, plan.false_keep_rate,
                                 plan.looks - looks, plan.looks)
        if decision.verdict == "discard" or not run.checks_pass():
            return decision
        if decision.verdict == "keep":
            break
        batch = min(plan.repeat, plan.confirm_runs - (len(run.samples) - plan.repeat))
    # the samples that won were selected for looking good; fresh ones are the unbiased reference
    for _ in range(plan.reference_repeat):
        if not run.take(len(run.samples) + len(run.reference), of="reference"):
            return None
    return decision


STALE_SIGMAS = 2.0  # a first sample this much worse than the best's recent samples has the best measured again
def _paired(run: Sampling, plan: Plan, recent: Optional[List[float]]) -> Optional[decide.Decision]:
    """The candidate with the best measured next to it: a cheap first look, then blocks of two pairs.

    The first look compares one sample of the candidate with the best's recent samples (or, when those
    are too old or the sample is far worse, with one taken now). That sample was picked for looking good,
    so it is left out of the pairs: each block is candidate, best, best, candidate — a linear trend adds
    the same amount to both pairs' differences with opposite signs — and pair i of both sides runs with
    AUTORESEARCH_REPEAT=i, the same seed.
    """
    direction, metric = run.segment.direction, run.segment.metric_name
    if not recent and not run.take(0, of="best"):
        return None
    if not run.take(0):
        return None
    run.looks = 1
    screen = recent or run.best_samples
    gain = decide.gain_of(run.samples[0], stats.mean(screen), direction)
    noise = run.noise()
    if recent and gain < 0 and noise.known and -gain > STALE_SIGMAS * noise.sigma:
        # far worse than the best's recent samples: the machine may have slowed down since; measure the best now
        if not run.take(0, of="best"):
            return None
        recent, screen = None, run.best_samples
        gain = decide.gain_of(run.samples[0], stats.mean(screen), direction)
    if gain <= 0:
        word = "recent samples" if recent else "sample measured next to it"
        return decide.Decision("discard", f"not better than the best's {len(screen)} {word} ({stats.mean(screen):g})",
                               None, None, None, 0, run.samples[0], stats.mean(screen))
    _require_variation(noise, gain, plan, metric)
    if not run.checks_pass():
        return None
    first_c, first_b = len(run.samples), len(run.best_samples)
    looks = plan.paired_looks
    for look in range(looks):
        for role, offset in (("candidate", 1), ("best", 1), ("best", 2), ("candidate", 2)):
            if not run.take(2 * look + offset, of=role):
                return None
        run.looks += 1
        noise = run.noise()
        candidate, best = run.samples[first_c:], run.best_samples[first_b:]
        gain = sum(decide.gain_of(c, b, direction) for c, b in zip(candidate, best)) / len(candidate)
        _require_variation(noise, gain, plan, metric)
        decision = decide.decide_paired(candidate, best, noise, direction, plan.false_keep_rate,
                                        looks - look - 1, looks)
        if decision.verdict != "confirm":
            return decision
    return decision


def _mean_metrics(per_sample: List[dict], leave_out: Sequence[str]) -> dict:
    names = set.intersection(*(set(m) for m in per_sample)) - set(leave_out) if per_sample else set()
    return {name: round(sum(m[name] for m in per_sample) / len(per_sample), 6) for name in sorted(names)}


def _holdout(per_sample: List[dict], name: Optional[str]) -> Optional[dict]:
    """The held-out metric's mean over the samples that printed it; None when none did or none is declared."""
    values = [m[name] for m in per_sample if name in m] if name else []
    return {name: round(sum(values) / len(values), 6)} if values else None


def _pairing(ws: Workspace, segment: Segment,
             commit: Optional[str]) -> Tuple[Optional[treeswap.TreeSwap], Optional[str]]:
    """The tree swap that measures the best next to the candidate, or why the stored samples serve instead."""
    best = latest_kept(segment)
    repo = gitops.toplevel(ws.session_dir)
    if not repo or not commit:
        return None, "not a git repository, so the best cannot be measured next to the candidate"
    best_commit = gitops.resolve(repo, str(best.get("commit") or "-"))
    if best_commit is None:
        return None, f"the best's commit {best.get('commit')} is not in this repository"
    return treeswap.TreeSwap(repo, ws.owned_paths(repo), gitops.resolve(repo, commit), best_commit), None


def run_experiment(ws: Workspace, segment: Segment, command: List[str], timeout: float, checks_timeout: float,
                   plan: Plan, commit: Optional[str] = None) -> dict:
    """Measure (and check) the tree of `commit`, HEAD when the run starts; the result is filed under it.
    The caller holds exclusive_run(ws)."""
    started = time.time()
    reference = reference_samples(latest_kept(segment) if plan.rule == "noise" else segment.best_record)
    exact = plan.deterministic and decide.noise_model(segment_sample_groups(segment)).sigma == 0
    swap, fallback = None, None
    if reference is not None and plan.rule == "noise" and not exact:
        swap, fallback = _pairing(ws, segment, commit)
    run = Sampling(ws, segment, command, timeout, checks_timeout, swap)
    try:
        if plan.rule == "strict":
            decision = _strict(run, plan, reference)
            if decision and decision.verdict == "keep":
                run.checks_pass()
        elif reference is None:
            decision = _baseline(run, plan)
            if decision:
                run.checks_pass()
        elif swap is not None:
            decision = _paired(run, plan, recent_best_samples(segment, plan.reference_max_age))
        else:
            decision = _unpaired(run, plan, reference)
            if decision and fallback:
                decision.reason += f" ({fallback}: compared with its stored samples)"
    finally:
        if swap:
            swap.head()
    checks = None if run.checks is None or run.checks["result"] == "none" else run.checks
    if run.crash:
        status, metric, reason = "crash", None, run.crash
    elif checks and checks["result"] != "passed":
        status, metric, reason = "checks_failed", stats.mean(run.samples), checks["reason"]
    else:
        status, metric, reason = decision.verdict, decision.candidate, decision.reason
    head = commit
    result = {
        "metric_name": segment.metric_name,
        "metric": metric,
        "metrics": _mean_metrics(run.secondary, [segment.metric_name, segment.holdout_metric]),
        "holdout": _holdout(run.secondary, segment.holdout_metric),
        "status": status,
        "reason": reason,
        "exit_code": run.last["exit_code"],
        "timed_out": run.last["timed_out"],
        "duration_s": run.last["duration_s"],
        "samples": run.samples,
        "reference_samples": run.reference or None,
        "best_samples": run.best_samples or None,
        "best_commit": swap.best_commit[:7] if swap and run.best_samples else None,
        "decision": decision.as_record(plan.rule, max(1, run.looks), plan.false_keep_rate) if decision else None,
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
