#!/usr/bin/env python3
"""How often does a keep rule keep noise, and how often does it keep real gains?

    python3 scripts/bench_decisions.py [--sessions 8] [--candidates 200] [--seed 1]

A simulated benchmark with known true effects runs as a real subprocess (bash autoresearch.sh ->
python3 bench.py printing `METRIC score=…`) under the real engine (`autoresearch init`, `run`,
`log`, called in-process). Each session measures a baseline, then a stream of candidates whose
true effect on the metric is 0, 1, 2 or 3 noise sigma (lower is better), drawn in equal shares.
A kept candidate becomes the new best, as in a real session. Noise is Gaussian or heavy-tailed
(Student t with 3 degrees of freedom, scaled to unit standard deviation).

Rules compared on the same candidate streams:
  naive  keep if better than the best (one sample each; the seed's rule)
  noise  the engine's default: baseline repeats, t-test against the best, confirmation re-runs

Prints one RESULT line per rule (both noise kinds together), then one line per rule and noise
kind. runs_per_decision counts every benchmark run, the baselines' included, per candidate.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import random
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "skills", "autoresearch", "scripts"))

from autoresearch_engine import cli  # noqa: E402

EFFECTS = (0, 1, 2, 3)
RULES = {
    "naive": ["--rule", "strict", "--repeat", "1", "--baseline-repeat", "1"],
    "noise": [],
}

BENCH = """import math, os, random
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "draws")
count = int(open(path).read()) if os.path.exists(path) else 0
open(path, "w").write(str(count + 1))
rng = random.Random(f"{SEED}-{count}")
level = float(open("level.txt").read())
if "{NOISE}" == "gaussian":
    noise = rng.gauss(0, 1)
else:
    chi2 = sum(rng.gauss(0, 1) ** 2 for _ in range(3))
    noise = rng.gauss(0, 1) / math.sqrt(chi2 / 3) / math.sqrt(3)
print(f"METRIC score={level + noise:.6f}")
"""


def engine(*args: str) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return cli.main(list(args))


def run_session(folder: str, noise: str, rule: str, candidates: int, seed: str, stream: random.Random) -> dict:
    os.makedirs(folder)
    with open(os.path.join(folder, "bench.py"), "w") as handle:
        handle.write(BENCH.replace("{SEED}", seed).replace("{NOISE}", noise))
    with open(os.path.join(folder, "autoresearch.sh"), "w") as handle:
        handle.write("python3 -S bench.py\n")
    write_level = lambda value: open(os.path.join(folder, "level.txt"), "w").write(f"{value}\n")  # noqa: E731
    engine("init", "-C", folder, "--name", "bench", "--metric-name", "score", "--direction", "lower")
    true_best = 100.0
    write_level(true_best)
    engine("run", "-C", folder, *RULES[rule])
    engine("log", "-C", folder, "--description", "baseline")
    kept = {effect: 0 for effect in EFFECTS}
    tried = {effect: 0 for effect in EFFECTS}
    for _ in range(candidates):
        effect = stream.choice(EFFECTS)
        level = true_best - effect
        write_level(level)
        if engine("run", "-C", folder, *RULES[rule]) != 0:
            raise SystemExit("bench: the engine's run failed")
        engine("log", "-C", folder, "--description", f"effect {effect}")
        with open(os.path.join(folder, "autoresearch.jsonl")) as handle:
            status = json.loads(handle.readlines()[-1])["status"]
        tried[effect] += 1
        if status == "keep":
            kept[effect] += 1
            true_best = level
    with open(os.path.join(folder, "draws")) as handle:
        runs = int(handle.read())
    return {"kept": kept, "tried": tried, "runs": runs, "decisions": candidates}


def add(total: dict, part: dict) -> None:
    for key in ("kept", "tried"):
        for effect in EFFECTS:
            total[key][effect] += part[key][effect]
    total["runs"] += part["runs"]
    total["decisions"] += part["decisions"]


def line(prefix: str, total: dict) -> str:
    rate = lambda e: total["kept"][e] / max(1, total["tried"][e])  # noqa: E731
    return (f"{prefix} false_keep={rate(0):.3f} true_keep_1sigma={rate(1):.3f} true_keep_2sigma={rate(2):.3f} "
            f"true_keep_3sigma={rate(3):.3f} runs_per_decision={total['runs'] / total['decisions']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=8, help="sessions per rule and noise kind (default 8)")
    parser.add_argument("--candidates", type=int, default=200, help="candidates per session (default 200)")
    parser.add_argument("--seed", default="1", help="seed of the candidate streams and the noise")
    args = parser.parse_args()
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{args.sessions} sessions x {args.candidates} candidates per rule and noise kind; effects 0-3 sigma in equal "
          f"shares; seed {args.seed}", flush=True)
    started = time.monotonic()
    totals = {rule: {"kept": dict.fromkeys(EFFECTS, 0), "tried": dict.fromkeys(EFFECTS, 0), "runs": 0, "decisions": 0}
              for rule in RULES}
    details = []
    with tempfile.TemporaryDirectory() as tmp:
        for noise in ("gaussian", "heavy"):
            for rule in RULES:
                part_total = {"kept": dict.fromkeys(EFFECTS, 0), "tried": dict.fromkeys(EFFECTS, 0), "runs": 0,
                              "decisions": 0}
                for session in range(args.sessions):
                    # the same candidate stream and noise draws for both rules
                    stream = random.Random(f"{args.seed}-{noise}-{session}")
                    folder = os.path.join(tmp, f"{noise}-{rule}-{session}")
                    part = run_session(folder, noise, rule, args.candidates, f"{args.seed}-{noise}-{session}", stream)
                    add(part_total, part)
                add(totals[rule], part_total)
                details.append(line(f"BY_NOISE rule={rule} noise={noise}", part_total))
                print(details[-1], flush=True)
    for rule in RULES:
        print(line(f"RESULT rule={rule}", totals[rule]))
    tried = totals["noise"]["tried"]
    print(f"candidates per effect (each rule): {', '.join(f'{e} sigma: {tried[e]}' for e in EFFECTS)}; "
          f"took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
