#!/usr/bin/env python3
"""How often does a keep rule keep noise, and how often does it keep real gains, on stationary and drifting noise?

    python3 scripts/bench_decisions.py [--sessions 2] [--candidates 40] [--jobs N] [--seed 1] [--kinds …] [--rules …]

A simulated benchmark with known true effects runs as a real subprocess (bash autoresearch.sh ->
python3 bench.py printing `METRIC score=…`) in a real git repository under the real engine
(`autoresearch init`, `run`, `log`, `revert`, called in-process). Each candidate is a commit that
changes `level.txt`, the code's true score; a discarded one is reverted, a kept one becomes the best,
as in a real session, so measuring the best means measuring the best commit's files. Candidates have a
true effect of 0, 1, 2 or 3 noise sigma (lower is better), drawn in equal shares.

Noise kinds (sigma 1 throughout):
  gaussian  independent Gaussian noise on every run
  heavy     Student t with 3 degrees of freedom, scaled to unit standard deviation
  drift     Gaussian, plus a trend of 0.05 sigma per benchmark run: faster in even sessions, slower in odd
  step      Gaussian, plus a step of 5 sigma before a random candidate: the machine gets faster (even
            sessions) or slower (odd sessions) once
  seeded    the noise is a function of the code and $AUTORESEARCH_REPEAT: repeats of the same code with the
            same repeat index are bit-identical, another seed (or other code) draws anew

Rules compared on the same candidate streams:
  naive     keep if better than the best (one sample each; the seed's rule)
  unpaired  the engine's previous default: baseline repeats, t-test against the best's stored samples,
            confirmation re-runs, fresh reference samples after a keep (`--rule unpaired`)
  noise     the engine's default: one first sample, then the best measured alongside in blocks of
            candidate, best, best, candidate, decision on the paired differences

Prints one RESULT line per rule and noise kind. runs_per_decision counts every benchmark run, the
baselines' and the best's included, per candidate.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import os
import platform
import random
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "skills", "autoresearch", "scripts"))

from autoresearch_engine import cli  # noqa: E402

EFFECTS = (0, 1, 2, 3)
KINDS = ("gaussian", "heavy", "drift", "step", "seeded")
RULES = {
    "naive": ["--rule", "strict", "--repeat", "1", "--baseline-repeat", "1"],
    "unpaired": ["--rule", "unpaired"],
    "noise": [],
}
DRIFT_PER_RUN = 0.05
STEP = 5.0

BENCH = """import math, os, random
here = os.path.dirname(os.path.abspath(__file__))
path = os.path.join(here, "draws")
count = int(open(path).read()) if os.path.exists(path) else 0
open(path, "w").write(str(count + 1))
level, code = open("level.txt").read().split()
level = float(level)
kind, sign = "{KIND}", {SIGN}
if kind == "seeded":
    rng = random.Random(f"{SEED}-{code}-{os.environ['AUTORESEARCH_REPEAT']}")
else:
    rng = random.Random(f"{SEED}-{count}")
if kind == "heavy":
    chi2 = sum(rng.gauss(0, 1) ** 2 for _ in range(3))
    noise = rng.gauss(0, 1) / math.sqrt(chi2 / 3) / math.sqrt(3)
else:
    noise = rng.gauss(0, 1)
if kind == "drift":
    noise -= sign * {DRIFT} * count
if kind == "step":
    noise += float(open(os.path.join(here, "machine.txt")).read())
print(f"METRIC score={level + noise:.6f}")
"""


def engine(*args: str) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return cli.main(list(args))


def git(folder: str, *args: str) -> None:
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)


def run_session(folder: str, kind: str, rule: str, candidates: int, seed: str, session: int,
                stream: random.Random) -> dict:
    os.makedirs(folder)
    sign = 1 if session % 2 == 0 else -1  # +1: the machine gets faster, lower scores look better
    step_at = random.Random(f"{seed}-step").randrange(1, max(2, candidates))
    bench = (BENCH.replace("{SEED}", seed).replace("{KIND}", kind).replace("{SIGN}", str(sign))
             .replace("{DRIFT}", str(DRIFT_PER_RUN)))
    with open(os.path.join(folder, "bench.py"), "w") as handle:
        handle.write(bench)
    with open(os.path.join(folder, "autoresearch.sh"), "w") as handle:
        handle.write("python3 -S bench.py\n")
    with open(os.path.join(folder, ".gitignore"), "w") as handle:
        handle.write("draws\nmachine.txt\n")

    def machine(offset: float) -> None:  # the step kind's machine speed, untracked: the best's runs see it too
        with open(os.path.join(folder, "machine.txt"), "w") as handle:
            handle.write(f"{offset}\n")

    def commit(level: float, name: str) -> None:
        with open(os.path.join(folder, "level.txt"), "w") as handle:
            handle.write(f"{level} {name}\n")
        git(folder, "add", "-A")
        git(folder, "commit", "-q", "-m", name)

    git(folder, "init", "-q", "-b", "main")
    git(folder, "config", "user.email", "bench@example.com")
    git(folder, "config", "user.name", "bench")
    true_best = 100.0
    machine(0.0)
    commit(true_best, "baseline")
    engine("init", "-C", folder, "--name", "bench", "--metric-name", "score", "--direction", "lower")
    engine("run", "-C", folder, *RULES[rule])
    engine("log", "-C", folder, "--description", "baseline")
    kept = {effect: 0 for effect in EFFECTS}
    tried = {effect: 0 for effect in EFFECTS}
    for number in range(candidates):
        if number == step_at:
            machine(-sign * STEP)
        effect = stream.choice(EFFECTS)
        level = true_best - effect
        commit(level, f"candidate-{number}")
        if engine("run", "-C", folder, *RULES[rule]) != 0:
            raise SystemExit(f"bench: the engine's run failed in {folder}")
        engine("log", "-C", folder, "--description", f"effect {effect}")
        with open(os.path.join(folder, "autoresearch.jsonl")) as handle:
            status = json.loads(handle.readlines()[-1])["status"]
        tried[effect] += 1
        if status == "keep":
            kept[effect] += 1
            true_best = level
        elif engine("revert", "-C", folder) != 0:
            raise SystemExit(f"bench: the engine's revert failed in {folder}")
    with open(os.path.join(folder, "draws")) as handle:
        runs = int(handle.read())
    return {"kept": kept, "tried": tried, "runs": runs, "decisions": candidates}


def session_task(task: tuple) -> dict:
    folder, kind, rule, candidates, seed, session = task
    return run_session(folder, kind, rule, candidates, seed, session, random.Random(seed))


def empty() -> dict:
    return {"kept": dict.fromkeys(EFFECTS, 0), "tried": dict.fromkeys(EFFECTS, 0), "runs": 0, "decisions": 0}


def add(total: dict, part: dict) -> None:
    for key in ("kept", "tried"):
        for effect in EFFECTS:
            total[key][effect] += part[key][effect]
    total["runs"] += part["runs"]
    total["decisions"] += part["decisions"]


def line(prefix: str, total: dict) -> str:
    rate = lambda e: total["kept"][e] / max(1, total["tried"][e])  # noqa: E731
    return (f"{prefix} false_keep={rate(0):.3f} true_keep_1sigma={rate(1):.3f} true_keep_2sigma={rate(2):.3f} "
            f"true_keep_3sigma={rate(3):.3f} runs_per_decision={total['runs'] / total['decisions']:.2f} "
            f"tried_per_effect={min(total['tried'].values())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=2, help="sessions per rule and noise kind (default 2)")
    parser.add_argument("--candidates", type=int, default=40, help="candidates per session (default 40)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="sessions run at the same time (default: one per core)")
    parser.add_argument("--seed", default="1", help="seed of the candidate streams and the noise")
    parser.add_argument("--kinds", default=",".join(KINDS), help="noise kinds, comma-separated (default: all)")
    parser.add_argument("--rules", default=",".join(RULES), help="rules, comma-separated (default: all)")
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    rules = [r for r in args.rules.split(",") if r]
    unknown = [k for k in kinds if k not in KINDS] + [r for r in rules if r not in RULES]
    if unknown or min(args.sessions, args.candidates, args.jobs) < 1:
        raise SystemExit(f"bench_decisions: unknown kind or rule {', '.join(unknown)}; kinds are {', '.join(KINDS)}, "
                         f"rules {', '.join(RULES)}, and --sessions, --candidates and --jobs must be at least 1.")
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{args.sessions} sessions x {args.candidates} candidates per rule and noise kind; effects 0-3 sigma in equal "
          f"shares; seed {args.seed}", flush=True)
    started = time.monotonic()
    # on a memory file system when there is one: the engine fsyncs every log append
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as tmp:
        # the same candidate stream and noise draws for every rule
        tasks = [(os.path.join(tmp, f"{kind}-{rule}-{session}"), kind, rule, args.candidates,
                  f"{args.seed}-{kind}-{session}", session)
                 for kind in kinds for rule in rules for session in range(args.sessions)]
        with multiprocessing.Pool(args.jobs) as pool:
            total = empty()
            for number, part in enumerate(pool.imap(session_task, tasks), start=1):
                add(total, part)
                if number % args.sessions == 0:
                    _, kind, rule, *_ = tasks[number - 1]
                    print(line(f"RESULT rule={rule} noise={kind}", total), flush=True)
                    total = empty()
    print(f"took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
