#!/usr/bin/env python3
"""Whole-process timings of the engine on a large log: `status --json` on 10,000 records and one `log`.

    python3 scripts/bench_engine.py [--records 10000] [--repeat 15]

Prints the median and best wall time of each command, started as a fresh process each time, and
the machine it ran on. Goal: status --json on 10,000 records in at most 0.3 s on a 2-core machine.
"""

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time

ENGINE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "skills", "autoresearch", "scripts",
                      "autoresearch")


def write_log(path: str, count: int) -> None:
    rng = random.Random(0)
    best = 1000.0
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps({"type": "config", "name": "bench", "metricName": "total_ms", "metricUnit": "ms",
                                 "bestDirection": "lower"}) + "\n")
        for run in range(1, count + 1):
            metric = round(best * rng.uniform(0.97, 1.05), 3)
            status = "keep" if metric < best else rng.choice(["discard", "discard", "crash", "checks_failed"])
            if status == "keep":
                best = metric
            record = {"run": run, "commit": f"{run:07x}", "metric": None if status == "crash" else metric,
                      "metrics": {"compile_ms": rng.randint(100, 900), "memory_mb": rng.randint(100, 900)},
                      "status": status, "description": f"experiment {run}: try variant {rng.randint(0, 99)}",
                      "timestamp": 1_700_000_000 + run, "segment": 0, "confidence": round(rng.uniform(0, 4), 2),
                      "asi": {"hypothesis": "some words about it " * 3, "result": "what happened"}}
            handle.write(json.dumps(record, separators=(",", ":")) + "\n")


def timed(args, cwd) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, ENGINE, *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {platform.platform()}")
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "autoresearch.jsonl")
        write_log(log, args.records)
        print(f"log: {args.records} records, {os.path.getsize(log) / 1e6:.1f} MB")
        timed(["status", "--json"], tmp)  # warm the page cache
        status = [timed(["status", "--json"], tmp) for _ in range(args.repeat)]
        print(f"status --json: median {statistics.median(status) * 1000:.0f} ms, best {min(status) * 1000:.0f} ms "
              f"over {args.repeat} runs (goal <= 300 ms)")
        logs = [timed(["log", "--status", "discard", "--metric", "1234.5", "--commit", "abc1234",
                       "--description", "bench"], tmp) for _ in range(args.repeat)]
        print(f"log (on a {args.records}-record log): median {statistics.median(logs) * 1000:.0f} ms, "
              f"best {min(logs) * 1000:.0f} ms over {args.repeat} runs")
        baseline = [timed(["--version"], tmp) for _ in range(args.repeat)]
        print(f"engine start-up alone (--version): median {statistics.median(baseline) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
