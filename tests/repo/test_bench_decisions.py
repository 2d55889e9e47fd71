"""scripts/bench_decisions.py end to end, kept tiny: every rule and noise kind prints its RESULT line."""

import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "scripts", "bench_decisions.py")


def test_every_rule_and_noise_kind_prints_a_result_line():
    result = subprocess.run([sys.executable, SCRIPT, "--sessions", "1", "--candidates", "2", "--jobs", "2"],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    found = re.findall(r"^RESULT rule=(\w+) noise=(\w+) false_keep=[\d.]+ true_keep_1sigma=[\d.]+ "
                       r"true_keep_2sigma=[\d.]+ true_keep_3sigma=[\d.]+ runs_per_decision=[\d.]+", result.stdout, re.M)
    assert sorted(found) == sorted((rule, kind) for rule in ("naive", "unpaired", "noise")
                                   for kind in ("gaussian", "heavy", "drift", "step", "seeded"))


def test_an_unknown_noise_kind_is_one_sentence():
    result = subprocess.run([sys.executable, SCRIPT, "--kinds", "pink"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "unknown kind or rule pink" in result.stderr
