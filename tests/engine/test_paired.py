"""Decisions that hold up when the machine changes: the best measured next to the candidate, repeats that
vary the seed, checks before extra samples, and a working tree always given back to the candidate."""

import json
import os
import signal
import subprocess
import sys
import time

from engine_helpers import ENGINE

# score = the code's value + the machine's offset (untracked: it is the machine, not the code) + noise
MACHINE_BENCH = """#!/usr/bin/env bash
python3 - <<'PY'
import os, random
count = int(open("../count").read()) if os.path.exists("../count") else 0
open("../count", "w").write(str(count + 1))
machine = float(open("../machine.txt").read())
level = float(open("value.txt").read())
print(f"METRIC score={level + machine + random.Random(count).gauss(0, 1):.4f}")
PY
"""


def machine(project, offset):
    with open(os.path.join(project.path, "..", "machine.txt"), "w") as handle:
        handle.write(f"{offset}\n")


def run_json(project, *extra):
    return json.loads(project.engine("run", "--json", *extra).stdout)


def start_noisy(project, *init_flags):
    machine(project, 0)
    project.write("autoresearch.sh", MACHINE_BENCH)
    project.commit("benchmark")
    project.engine("init", "--name", "small score", "--metric-name", "score", "--direction", "lower", *init_flags)
    project.engine("run")
    project.engine("log", "--description", "baseline")


def test_a_machine_that_speeds_up_does_not_make_a_no_op_a_keep(project):
    start_noisy(project)
    machine(project, -8)  # the machine became faster after the baseline: every score drops by 8 sigma
    project.write("README.md", "the same code, other words\n")
    project.commit("no-op")
    result = run_json(project)
    assert result["status"] == "discard", result["reason"]
    assert result["best_samples"] and max(result["best_samples"]) < 96  # the best was measured on the fast machine
    project.engine("log", "--description", "no-op")
    project.engine("revert")
    # the rule that compares with the stored samples of the best keeps the same no-op
    project.write("README.md", "the same code, other words\n")
    project.commit("no-op again")
    assert run_json(project, "--rule", "unpaired")["status"] == "keep"


def test_a_real_gain_is_kept_on_a_machine_that_slowed_down(project):
    start_noisy(project)
    machine(project, 10)  # a much slower machine, and a candidate 5 sigma better: next to stale samples it looks worse
    project.set_value(95)
    project.commit("real gain")
    result = run_json(project)
    assert result["status"] == "keep" and result["decision"]["pairs"] >= 2, (result["reason"], result["samples"], result["best_samples"])
    project.engine("log", "--description", "real gain")
    assert result["metric"] > 102  # logged worse than the baseline's 100, measured on the faster machine
    # yet it is the best: a no-op on top of it is measured against it, not against the baseline commit
    project.write("README.md", "the same code, other words\n")
    project.commit("no-op")
    after = run_json(project)
    assert after["status"] == "discard" and after["best_commit"] == result["commit"], after["reason"]


def test_checks_run_after_the_first_winning_sample_and_before_any_other(project):
    start_noisy(project)
    project.write("autoresearch.checks.sh", "exit 1\n")
    project.set_value(90)
    project.commit("faster but broken")
    result = run_json(project)
    assert result["status"] == "checks_failed" and len(result["samples"]) == 1 and result["best_samples"] is None
    project.engine("log", "--description", "broken")
    project.engine("revert")
    project.set_value(110)
    project.commit("slower")
    result = run_json(project)  # a loser is discarded on its first sample, without the checks
    assert result["status"] == "discard" and result["checks"] is None and len(result["samples"]) == 1


def test_each_sample_gets_its_repeat_index(session):
    session.write("autoresearch.sh", 'echo "$AUTORESEARCH_REPEAT" >> ../repeats\necho "METRIC score=$(cat value.txt)"\n')
    session.commit("benchmark that records its repeat index")
    session.engine("run")
    with open(os.path.join(session.path, "..", "repeats")) as handle:
        assert handle.read().split() == ["0", "1", "2", "3", "4"]


def test_identical_repeats_count_as_no_noise_only_when_declared(project):
    project.engine("init", "--name", "small score", "--metric-name", "score", "--direction", "lower")
    baseline = run_json(project)
    assert baseline["status"] == "keep" and "AUTORESEARCH_REPEAT" in baseline["reason"]
    project.engine("log", "--description", "baseline")
    project.set_value(101)
    project.commit("worse")
    assert run_json(project)["status"] == "discard"
    project.engine("log", "--description", "worse")
    project.engine("revert")
    project.set_value(99.9)
    project.commit("a little better, or a different seed?")
    refused = project.engine("run", check=False)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "$AUTORESEARCH_REPEAT" in refused.stderr and "deterministic: true" in refused.stderr
    project.write(".claude/autoresearch.local.md", "---\ndeterministic: true\n---\n")
    assert run_json(project)["status"] == "keep"


def test_a_killed_run_gives_the_candidates_files_back(project):
    machine(project, 0)
    hang = 'if [ -f ../hang ] && grep -q best value.txt; then echo $$ > ../bench.pid; exec sleep 60; fi\n'
    project.write("autoresearch.sh", hang + MACHINE_BENCH.replace('open("value.txt").read()',
                                                                  'open("value.txt").read().split()[0]'))
    project.set_value("100 best")
    project.commit("benchmark")
    project.engine("init", "--name", "small score", "--metric-name", "score", "--direction", "lower")
    project.engine("run")
    project.engine("log", "--description", "baseline")
    project.set_value("90 candidate")
    project.commit("candidate")
    open(os.path.join(project.path, "..", "hang"), "w").close()
    engine = subprocess.Popen([sys.executable, ENGINE, "run"], cwd=project.path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid_file = os.path.join(project.path, "..", "bench.pid")
    deadline = time.monotonic() + 60
    while not os.path.exists(pid_file) and time.monotonic() < deadline and engine.poll() is None:
        time.sleep(0.1)
    assert os.path.exists(pid_file), "the best was never measured"
    engine.kill()
    engine.wait()
    time.sleep(0.2)
    with open(pid_file) as handle:
        os.kill(int(handle.read()), signal.SIGKILL)
    assert project.read("value.txt") == "100 best\n"  # killed with the best's files in place
    os.remove(os.path.join(project.path, "..", "hang"))
    result = project.engine("run")
    assert "files of" in result.stderr and "are back" in result.stderr
    assert project.read("value.txt") == "90 candidate\n"
    assert project.git("status", "--porcelain", "--untracked-files=no") == ""
    assert not os.path.exists(os.path.join(project.path, ".git", "autoresearch-swap.json"))
