#!/usr/bin/env bash
# autoresearch benchmark: how long the project's unit tests take, one run of the suite per sample
# (the engine repeats the benchmark itself to learn the noise; repeating here too would only multiply
# the runs). The engine runs it as `bash autoresearch.sh` in the session folder, keeps its output in
# run.log, and reads every `METRIC name=value` line; the primary metric here is total_ms (lower is
# better). tests_ran and tests_skipped go to run.log too: autoresearch.checks.sh reads them there
# instead of running the suite a second time.
# A failing test is a crash: a faster suite that no longer passes is not an improvement. The first
# failure is printed last, where `autoresearch run` shows it.
# Adapt TEST_CMD to the project; once the baseline is logged, change this file only in a new segment.
set -euo pipefail

TEST_CMD=(python3 -m unittest discover -s tests)

python3 - "${TEST_CMD[@]}" <<'PY'
import re
import subprocess
import sys
import time

command = sys.argv[1:]
start = time.perf_counter()
done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
elapsed_ms = (time.perf_counter() - start) * 1000
output = done.stdout
if done.returncode != 0:
    sys.stdout.write(output)
    print(f"\nthe test command failed with exit code {done.returncode}; the first failure:")
    # unittest: a '====' line, 'FAIL: test (id)' or 'ERROR: test (id)', a '----' line, the traceback
    first = re.search(r"^(?:FAIL|ERROR): [^\n]*\n-+\n(.*?)\n(?:-{10,}|={10,}|\Z)", output, re.M | re.S)
    if first:
        error = [line for line in first.group(1).splitlines() if line.strip()]
        print(f"{first.group(0).splitlines()[0]}: {error[-1].strip() if error else ''}")
    else:
        print(([line for line in output.splitlines() if line.strip()] or ["(no output)"])[-1])
    sys.exit(1)
ran = re.findall(r"^Ran (\d+) tests?", output, re.M)
skipped = re.findall(r"skipped=(\d+)", output)
print(f"METRIC total_ms={elapsed_ms:.1f}")
print(f"METRIC tests_ran={ran[-1] if ran else 0}")
print(f"METRIC tests_skipped={skipped[-1] if skipped else 0}")
PY
