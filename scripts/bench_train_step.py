#!/usr/bin/env python3
"""Time (and optionally profile) the ML template's training step without a whole training run.

Runs train.py as it is, on a prepared dataset ($AUTORESEARCH_CACHE_DIR), except that its budget
ends after --steps timed steps (prepare.budget_progress is replaced), then prints the compile-time
breakdown and the median step. Knobs can be overridden without editing the file:
--set KERNELS=False --set DEPTH=12. --profile adds a per-kernel table of the last two steps (CUDA).

    python3 scripts/bench_train_step.py --steps 10 --profile
"""
import argparse
import os
import re
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--train", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "skills", "autoresearch-ml", "assets", "train.py"))
ap.add_argument("--set", action="append", default=[])
ap.add_argument("--steps", type=int, default=10)
ap.add_argument("--profile", action="store_true")
ap.add_argument("--label", default="")
args = ap.parse_args()
if args.steps < 3 if args.profile else args.steps < 1:
    sys.exit("--steps must be at least 1 (3 with --profile).")

t_proc = time.time()
path = os.path.abspath(args.train)
src = open(path).read()
for item in args.set:
    k, v = item.split("=", 1)
    src, n = re.subn(rf"^{k}\s*=.*$", f"{k} = {v}", src, count=1, flags=re.M)
    if n != 1:
        sys.exit(f"--set {item}: train.py has no knob {k}.")
sys.path.insert(0, os.path.dirname(path))

import prepare  # noqa: E402  (the copy train.py imports: its budget is replaced below)
import torch  # noqa: E402

profiler = None


def steps_budget(tokens, seconds):
    """prepare.budget_progress for this benchmark: done after --steps steps; profiles the last two."""
    global profiler
    step = tokens // ns["TOTAL_BATCH_SIZE"]
    if args.profile and step == args.steps - 2:
        from torch.profiler import ProfilerActivity, profile
        profiler = profile(activities=[ProfilerActivity.CUDA])
        profiler.__enter__()
    if profiler is not None and step == args.steps:
        profiler.__exit__(None, None, None)  # before the evaluation
    return step / args.steps


prepare.budget_progress = steps_budget
ns = {"__name__": "__main__", "__file__": path}
exec(compile(src, path, "exec"), ns)  # the whole of train.py: setup, warm-up, the steps, evaluation

try:
    from torch._dynamo.utils import compile_times
    print(compile_times(repr="str", aggregate=True))
except Exception as e:  # noqa: BLE001
    print("compile_times unavailable:", e)

times = ns["step_times"]
steady = sorted(times[2:] if len(times) > 4 else times)
med = steady[len(steady) // 2]
fpt, peak = ns["flops_per_token"], ns["peak"]
mfu = 100 * fpt * ns["TOTAL_BATCH_SIZE"] / med / peak if peak else 0
dev_name = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
print(f"RESULT {dev_name} {args.label} {' '.join(args.set)}: outside the steps {ns['total_seconds'] - ns['training_time']:.1f}s, "
      f"median step {med * 1000:.1f} ms, MFU {mfu:.1f}%, "
      f"peak mem {torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else 0:.1f} GiB", flush=True)

if profiler is not None:
    rows = []
    for e in profiler.key_averages():
        t = getattr(e, "device_time_total", None) or getattr(e, "cuda_time_total", 0)
        if t > 0 and e.count > 0:
            rows.append((t, e.count, e.key))
    total = sum(r[0] for r in rows)

    def cat(name):
        n = name.lower()
        if any(s in n for s in ("flex", "fmha", "attention", "cudnn", "flash", "sdpa")):
            return "attention"
        if any(s in n for s in ("gemm", "nvjet", "cutlass", "xmma", "matmul", "sm90", "mma")):
            return "matmul"
        if "triton" in n:
            return "triton (inductor/fused)"
        return "other"
    cats = {}
    for t, c, k in rows:
        cats[cat(k)] = cats.get(cat(k), 0) + t
    print(f"PROFILE 2 steps: {total / 1e3:.1f} ms of kernel time")
    for k, t in sorted(cats.items(), key=lambda x: -x[1]):
        print(f"  {k:28s} {t / 1e3:8.1f} ms {100 * t / total:5.1f}%")
    print("  top kernels (ms per step, calls per step):")
    for t, c, k in sorted(rows, reverse=True)[:45]:
        print(f"  {t / 2e3:7.2f} {c // 2:4d}  {k[:110]}")
