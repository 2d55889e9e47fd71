#!/usr/bin/env bash
# autoresearch checks: run after every benchmark that produced a metric. A non-zero exit turns the
# result into checks_failed, so a change that wins the metric by breaking the project is never kept.
# Here: no test was deleted or skipped to make the suite faster. Every test passed already: a failing
# test makes autoresearch.sh exit non-zero (a crash). The counts come from the benchmark's own run,
# the METRIC tests_ran / tests_skipped lines the engine wrote to run.log (one per sample), so the
# suite does not run a second time.
set -euo pipefail

MIN_TESTS=3   # the test count at the baseline; never lower it to let an experiment through

ran=$(sed -n 's/^METRIC tests_ran=\([0-9][0-9]*\)$/\1/p' run.log | sort -n | head -n 1)
skipped=$(sed -n 's/^METRIC tests_skipped=\([0-9][0-9]*\)$/\1/p' run.log | sort -n | tail -n 1)
if [ -z "$ran" ]; then
  echo "checks: run.log has no 'METRIC tests_ran=N' line; autoresearch.sh prints one after the tests."
  exit 1
fi
if [ "$ran" -lt "$MIN_TESTS" ]; then
  echo "checks: $ran tests ran, fewer than the baseline's $MIN_TESTS; removing tests is not a speed-up."
  exit 1
fi
if [ "${skipped:-0}" -gt 0 ]; then
  echo "checks: $skipped tests were skipped; skipping tests is not a speed-up."
  exit 1
fi
echo "checks: $ran tests passed"
