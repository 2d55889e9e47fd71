#!/usr/bin/env python3
"""Make docs/progress.png and docs/dashboard.png from a synthetic 100-run session.

The session is written through the engine's own `autoresearch init` and `autoresearch log`
(deterministic: the same figures every time, apart from the generation time), then
`autoresearch report` draws progress.png (needs matplotlib) and autoresearch.html, and headless
Chromium photographs the dashboard.

    .venv/bin/python scripts/make_docs_screenshots.py [--out docs] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "skills", "autoresearch", "scripts"))

from autoresearch_engine import cli  # noqa: E402

IDEAS = [
    "raise the learning rate to 6e-4", "cosine schedule with 10% warm-up", "swap GELU for SwiGLU",
    "RMSNorm instead of LayerNorm", "rotary embeddings", "tie input and output embeddings",
    "double the batch, halve the steps", "weight decay 0.1 on matrices only", "gradient clipping at 1.0",
    "Muon optimizer for hidden matrices", "remove dropout", "depth 12, width 640", "depth 8, width 896",
    "value embeddings on alternate layers", "sliding-window attention on half the layers",
    "QK-norm", "logit soft-capping at 15", "bf16 autocast for the MLP", "fused AdamW",
    "longer warm-down", "zero-init the output projections", "ReLU squared MLP", "smaller vocabulary",
    "larger head dim (128)", "grouped-query attention, 4 KV heads", "sequence length 1024",
    "sequence length 4096", "EMA of weights for eval", "learning-rate warm-down to 0",
]


def _cli(*argv: str) -> None:
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        code = cli.main(list(argv))
    if code != 0:
        raise SystemExit(f"autoresearch {argv[0]} failed: {sink.getvalue().strip()}")


def make_session(folder: str, runs: int = 100, seed: int = 7) -> None:
    """A plausible night: slow gains with noise, some crashes, a new segment after 62 runs."""
    rng = random.Random(seed)
    _cli("init", "-C", folder, "--name", "GPT pretraining, 5-minute budget", "--metric-name", "val_bpb",
         "--unit", "bpb", "--direction", "lower")
    best = 1.000
    for run in range(1, runs + 1):
        if run == 63:
            _cli("init", "-C", folder, "--new-segment", "--name", "GPT pretraining, 5-minute budget, larger eval set",
                 "--metric-name", "val_bpb", "--unit", "bpb", "--direction", "lower")
            best += 0.012
        commit = f"{rng.getrandbits(28):07x}"
        idea = IDEAS[rng.randrange(len(IDEAS))]
        args = ["log", "-C", folder, "--no-pending", "--commit", commit]
        if run in (1, 63):
            args += ["--status", "keep", "--metric", f"{best:.4f}", "--description", "baseline"]
            _cli(*args)
            continue
        roll = rng.random()
        if roll < 0.06:
            args += ["--status", "crash", "--description", idea,
                     "--asi", json.dumps({"error": "CUDA out of memory", "hypothesis": "activations too large"})]
        else:
            value = round(best + rng.gauss(0.007, 0.006) - 0.004 * (rng.random() < 0.3), 4)
            status = "keep" if value < best else "discard"
            if status == "discard" and roll > 0.96:
                status = "checks_failed"
            args += ["--status", status, "--metric", f"{value:.4f}", "--description", idea]
            if status == "keep":
                best = value
                args += ["--asi", json.dumps({"hypothesis": f"{idea} should help", "next": "combine with the best so far",
                                              "peak_vram_gb": round(40 + rng.random() * 20, 1)})]
        _cli(*args)


def screenshot(chromium: str, page: str, target: str, size: str = "1400,1400") -> None:
    profile = tempfile.mkdtemp(prefix="autoresearch-chromium-")
    try:
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={size}",
             f"--screenshot={target}", "file://" + page],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(ROOT, "docs"), help="folder for the images (default: docs/)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="autoresearch-docs-") as folder:
        make_session(folder)
        _cli("report", "-C", folder, "--out", folder)
        if not os.path.exists(os.path.join(folder, "progress.png")):
            raise SystemExit("progress.png was not drawn: install matplotlib (pip install matplotlib).")
        shutil.copyfile(os.path.join(folder, "progress.png"), os.path.join(args.out, "progress.png"))
        if not os.path.exists(args.chromium):
            raise SystemExit(f"no Chromium at {args.chromium}; install it (apt-get install chromium) or pass --chromium.")
        screenshot(args.chromium, os.path.join(folder, "autoresearch.html"), os.path.join(args.out, "dashboard.png"))
    print(f"wrote {os.path.join(args.out, 'progress.png')} and {os.path.join(args.out, 'dashboard.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
