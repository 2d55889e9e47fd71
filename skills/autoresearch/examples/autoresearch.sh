#!/usr/bin/env bash
# autoresearch benchmark: how long the project's unit tests take, as the median of 3 runs.
# The engine runs it as `bash autoresearch.sh` in the session folder, keeps its output in run.log,
# and reads every `METRIC name=value` line; the primary metric here is total_ms (lower is better).
# A failing test is a crash: a faster suite that no longer passes is not an improvement.
# Adapt TEST_CMD to the project; once the baseline is logged, change this file only in a new segment.
set -euo pipefail

TEST_CMD=(python3 -m unittest discover -s tests -q)
RUNS=3

python3 - "$RUNS" "${TEST_CMD[@]}" <<'PY'
import statistics
import subprocess
import sys
import time

runs, command = int(sys.argv[1]), sys.argv[2:]
samples = []
for _ in range(runs):
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    samples.append((time.perf_counter() - start) * 1000)
    if done.returncode != 0:
        sys.stdout.write(done.stdout)
        sys.exit(f"the test command failed with exit code {done.returncode}")
print(f"METRIC total_ms={statistics.median(samples):.1f}")
print(f"METRIC spread_ms={max(samples) - min(samples):.1f}")
PY
