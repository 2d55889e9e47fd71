#!/usr/bin/env bash
# autoresearch checks: run after every benchmark that produced a metric. A non-zero exit turns the
# result into checks_failed, so a change that wins the metric by breaking the project is never kept.
# Here: every test still passes, and no test was deleted or skipped to make the suite faster.
set -euo pipefail

MIN_TESTS=3   # the test count at the baseline; never lower it to let an experiment through

out=$(python3 -m unittest discover -s tests 2>&1) || { printf '%s\n' "$out" | tail -n 20; exit 1; }
ran=$(printf '%s\n' "$out" | sed -n 's/^Ran \([0-9][0-9]*\) tests\{0,1\}.*/\1/p' | tail -n 1)
skipped=$(printf '%s\n' "$out" | sed -n 's/.*skipped=\([0-9][0-9]*\).*/\1/p' | tail -n 1)
if [ -z "$ran" ] || [ "$ran" -lt "$MIN_TESTS" ]; then
  echo "checks: ${ran:-no} tests ran, fewer than the baseline's $MIN_TESTS; removing tests is not a speed-up."
  exit 1
fi
if [ -n "$skipped" ] && [ "$skipped" -gt 0 ]; then
  echo "checks: $skipped tests were skipped; skipping tests is not a speed-up."
  exit 1
fi
echo "checks: $ran tests passed"
