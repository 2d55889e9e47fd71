#!/usr/bin/env python3
"""Time (and optionally profile) the ML template's training step without a whole training run.

Runs train.py up to its training loop (setup, compilation, warm-up), prints the compile-time
breakdown, then times --steps steps on a prepared dataset ($AUTORESEARCH_CACHE_DIR). Knobs can be
overridden without editing the file: --set FUSED_CE=False --set ATTENTION='"flex"'.
--profile adds a per-kernel table of two steps (CUDA).

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

t_proc = time.time()
src = open(args.train).read()
for item in args.set:
    k, v = item.split("=", 1)
    src, n = re.subn(rf"^{k}\s*=.*$", f"{k} = {v}", src, count=1, flags=re.M)
    if n != 1:
        sys.exit(f"--set {item}: train.py has no knob {k}.")
cut = src.index("# Training loop")
src = src[:src.rindex("\n# ----", 0, cut)]
sys.path.insert(0, os.path.dirname(os.path.abspath(args.train)))

ns = {"__name__": "train_bench", "__file__": os.path.abspath(args.train)}
exec(compile(src, os.path.abspath(args.train), "exec"), ns)
t_setup = time.time() - t_proc

import torch  # noqa: E402

try:
    from torch._dynamo.utils import compile_times
    print(compile_times(repr="str", aggregate=True))
except Exception as e:  # noqa: BLE001
    print("compile_times unavailable:", e)

loader = ns["make_dataloader"](ns["tokenizer"], ns["B"], ns["T"], "train", device=ns["device"])
train_step, sync = ns["train_step"], ns["sync"]
times = []
for i in range(args.steps):
    t0 = time.perf_counter()
    loss, _ = train_step(loader, 1.0, 0.95, 0.1)
    sync()
    times.append(time.perf_counter() - t0)
    print(f"step {i} {times[-1] * 1000:.1f} ms loss {loss.item():.4f}", flush=True)
steady = sorted(times[2:] if len(times) > 4 else times)
med = steady[len(steady) // 2]
fpt, peak = ns["flops_per_token"], ns["peak"]
mfu = 100 * fpt * ns["TOTAL_BATCH_SIZE"] / med / peak if peak else 0
dev_name = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
print(f"RESULT {dev_name} {args.label} {' '.join(args.set)}: setup+compile {t_setup:.1f}s "
      f"median step {med * 1000:.1f} ms, MFU {mfu:.1f}%, peak mem {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB",
      flush=True)

if args.profile:
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(2):
            train_step(loader, 1.0, 0.95, 0.1)
        sync()
    rows = []
    for e in prof.key_averages():
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
loader.close()
