"""The generic skill's example harness on a real unit-test project: one suite run per sample, checks that
reuse the benchmark's result, and a crash that names the first failing test."""

import json
import os
import shutil
import subprocess
import sys

from skilldocs import REPO, SAMPLE_TESTS, git_env, make_project

EXAMPLES = os.path.join(REPO, "skills", "autoresearch", "examples")
ENGINE = os.path.join(REPO, "skills", "autoresearch", "scripts", "autoresearch")
COUNTER = "import os\nwith open(os.path.join(os.path.dirname(__file__), '..', 'suite-runs.txt'), 'a') as f:\n    f.write('run\\n')\n"


def git(project, *args):
    subprocess.run(["git", *args], cwd=project, check=True, capture_output=True, env=git_env())


def engine(project, *args):
    return subprocess.run([sys.executable, ENGINE, *args], cwd=project, capture_output=True, text=True,
                          env=git_env(), timeout=300)


def harnessed_project(tmp_path, tests=SAMPLE_TESTS):
    project = make_project(str(tmp_path / "project"))
    with open(os.path.join(project, "tests", "test_sample.py"), "w", encoding="utf-8") as handle:
        handle.write(COUNTER + tests)
    for name in ("autoresearch.sh", "autoresearch.checks.sh"):
        shutil.copy(os.path.join(EXAMPLES, name), project)
    with open(os.path.join(project, ".git", "info", "exclude"), "a", encoding="utf-8") as handle:
        handle.write("suite-runs.txt\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "harness")
    assert engine(project, "init", "--name", "faster tests", "--metric-name", "total_ms", "--unit", "ms",
                  "--direction", "lower").returncode == 0
    return project


def suite_runs(project):
    path = os.path.join(project, "suite-runs.txt")
    return len(open(path).read().splitlines()) if os.path.exists(path) else 0


def test_one_suite_run_per_sample_and_the_checks_do_not_run_it_again(tmp_path):
    project = harnessed_project(tmp_path)
    result = engine(project, "run", "--json")
    assert result.returncode == 0, result.stderr
    pending = json.loads(result.stdout)
    assert pending["status"] == "keep" and pending["checks"]["result"] == "passed"
    assert suite_runs(project) == len(pending["samples"]) == 5
    assert "checks: 3 tests passed" in open(os.path.join(project, "run.log"), encoding="utf-8").read()


def test_a_failing_test_is_a_crash_that_ends_with_the_first_failure(tmp_path):
    broken = SAMPLE_TESTS.replace("sum(range(10)), 45", "sum(range(10)), 46")
    project = harnessed_project(tmp_path, broken)
    result = engine(project, "run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert "crash" in lines[0], result.stdout
    quoted = [line for line in lines if line.startswith("  | ")]  # the end of run.log, fenced as benchmark output
    assert "FAIL: test_sum" in quoted[-1] and "AssertionError: 45 != 46" in quoted[-1], result.stdout


def test_a_skipped_test_fails_the_checks_from_the_benchmark_output(tmp_path):
    skipping = SAMPLE_TESTS.replace('self.assertTrue("autoresearch".startswith("auto"))', 'self.skipTest("slow")')
    project = harnessed_project(tmp_path, skipping)
    result = engine(project, "run", "--json")
    pending = json.loads(result.stdout)
    assert pending["status"] == "checks_failed"
    assert "1 tests were skipped" in open(os.path.join(project, "run.log"), encoding="utf-8").read()
    assert suite_runs(project) == len(pending["samples"])
