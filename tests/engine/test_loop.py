"""The loop end to end through the command line: init, run, log, keep, discard, crash, checks."""

import json
import os

import pytest


def run_json(project, *extra):
    return json.loads(project.engine("run", "--json", *extra).stdout)


def test_baseline_keep_then_discard_equal_and_worse(session):
    first = run_json(session)
    assert first["status"] == "keep" and first["metric"] == 100 and first["reason"].startswith("baseline")
    assert first["metrics"] == {"size_kb": 12.5}
    session.engine("log", "--description", "baseline")

    session.set_value(100)
    session.commit("same")
    assert run_json(session)["status"] == "discard"  # equal is not better
    session.engine("log", "--description", "same value")
    session.engine("revert")

    session.set_value(120)
    session.commit("worse")
    assert run_json(session)["status"] == "discard"
    session.engine("log", "--description", "worse")
    session.engine("revert")

    session.set_value(90)
    session.commit("better")
    result = run_json(session)
    assert result["status"] == "keep" and result["best_before"] == 100
    session.engine("log", "--description", "better")

    statuses = [(r["run"], r["status"], r["metric"]) for r in session.records()]
    assert statuses == [(1, "keep", 100), (2, "discard", 100), (3, "discard", 120), (4, "keep", 90)]
    status = session.status()
    assert (status["runs"], status["kept"], status["discarded"], status["baseline"], status["best"]) == (4, 2, 2, 100, 90)
    assert status["improvement_pct"] == pytest.approx(10.0)


def test_higher_is_better(project):
    project.engine("init", "--deterministic", "--name", "throughput", "--metric-name", "score", "--direction", "higher")
    assert run_json(project)["status"] == "keep"
    project.engine("log", "--description", "baseline")
    project.set_value(99)
    project.commit("lower")
    assert run_json(project)["status"] == "discard"
    project.engine("log", "--description", "lower")
    project.engine("revert")
    project.set_value(101)
    project.commit("higher")
    assert run_json(project)["status"] == "keep"


@pytest.mark.parametrize(
    "script, reason",
    [
        ("echo 'METRIC score=nan'", "not a finite number"),
        ("echo 'METRIC score=inf'", "not a finite number"),
        ("echo 'METRIC score=fast'", "is not a number"),
        ("echo 'no metric here'", "has no 'METRIC score="),
        ("echo 'METRIC score=1'; exit 3", "exited with code 3"),
    ],
)
def test_crashes(session, script, reason):
    session.write("autoresearch.sh", script + "\n")
    session.commit("broken benchmark")
    result = run_json(session)
    assert result["status"] == "crash"
    assert result["metric"] is None
    assert reason in result["reason"]
    session.engine("log", "--description", "broken")
    record = session.records()[-1]
    assert record["status"] == "crash" and record["metric"] is None


def test_crash_cannot_be_logged_as_keep(session):
    session.write("autoresearch.sh", "exit 1\n")
    session.commit("crash")
    run_json(session)
    before = session.log_bytes()
    result = session.engine("log", "--status", "keep", "--description", "pretend", check=False)
    assert result.returncode == 2 and "cannot be logged as keep" in result.stderr
    assert session.log_bytes() == before


def test_checks_failed_and_checks_passed(session):
    session.write("autoresearch.checks.sh", "test \"$(cat value.txt)\" -ge 50\n")
    session.commit("checks")
    assert run_json(session)["checks"]["result"] == "passed"
    session.engine("log", "--description", "baseline")
    session.set_value(10)  # better metric, but the check rejects it
    session.commit("cheat")
    result = run_json(session)
    assert result["status"] == "checks_failed" and result["metric"] == 10
    assert "exit code 1" in result["reason"]
    assert "===== autoresearch: autoresearch.checks.sh" in session.read("run.log")


def test_checks_timeout(session):
    session.write("autoresearch.checks.sh", "sleep 30\n")
    session.commit("slow checks")
    result = run_json(session, "--checks-timeout", "1")
    assert result["status"] == "checks_failed" and "timed out" in result["reason"]


def test_command_after_double_dash_and_run_log(session):
    result = run_json(session, "--", "python3", "-c", "print('METRIC score=7')")
    assert result["metric"] == 7 and result["command"] == "python3 -c 'print('\"'\"'METRIC score=7'\"'\"')'"
    assert "METRIC score=7" in session.read("run.log")


def test_human_line_is_one_line(session):
    out = session.engine("run").stdout
    assert out.count("\n") == 1 and out.startswith("run 1: keep")


def test_max_iterations_enforced(session):
    session.write(".claude/autoresearch.local.md", "---\nmax_iterations: 2\n---\n")
    for i in range(2):
        session.engine("run")
        session.engine("log", "--description", f"run {i}")
    result = session.engine("run", check=False)
    assert result.returncode == 3 and "max_iterations (2) is reached" in result.stderr
    assert session.status()["iterations_left"] == 0


def test_run_without_init_or_benchmark(project):
    result = project.engine("run", check=False)
    assert result.returncode == 2 and "autoresearch init" in result.stderr
    project.engine("init", "--deterministic", "--name", "x", "--metric-name", "score", "--direction", "lower")
    os.remove(os.path.join(project.path, "autoresearch.sh"))
    result = project.engine("run", check=False)
    assert result.returncode == 2 and "there is no autoresearch.sh" in result.stderr


def test_new_segment_has_its_own_baseline(session):
    session.engine("run")
    session.engine("log", "--description", "baseline")
    refused = session.engine("init", "--name", "again", "--metric-name", "score", "--direction", "lower", check=False)
    assert refused.returncode == 2 and "--new-segment" in refused.stderr
    session.engine("init", "--new-segment", "--name", "bigger", "--metric-name", "score", "--direction", "higher")
    session.set_value(5)
    session.commit("tiny")
    result = run_json(session)
    assert result["status"] == "keep" and result["segment"] == 1 and result["reason"] == "baseline of segment 1"
    session.engine("log", "--description", "new baseline")
    status = session.status()
    assert (status["segment"], status["runs"], status["direction"], status["baseline"]) == (1, 1, "higher", 5)


def test_init_refuses_nonsense(project):
    cases = [
        (["--name", "x", "--metric-name", "total ms", "--direction", "lower"], "cannot appear"),
        (["--name", "x", "--metric-name", "ms", "--direction", "down"], "'lower' or 'higher'"),
        (["--name", "  ", "--metric-name", "ms", "--direction", "lower"], "session name is empty"),
        (["--metric-name", "ms", "--direction", "lower"], "init needs --name"),
    ]
    for args, message in cases:
        result = project.engine("init", *args, check=False)
        assert result.returncode == 2, args
        assert message in result.stderr and "Traceback" not in result.stderr
        assert result.stderr.count("\n") == 1
    assert not project.exists("autoresearch.jsonl")


def test_cancel_and_continue(session):
    session.engine("run")
    session.engine("log", "--description", "baseline")
    session.engine("cancel")
    assert session.status()["state"] == "cancelled"
    assert "enabled: false" in session.read(".claude/autoresearch.local.md")
    session.engine("init", "--continue")
    assert session.status()["state"] == "running"
    assert "enabled: true" in session.read(".claude/autoresearch.local.md")
    assert session.status()["runs"] == 1


def test_init_keeps_session_files_out_of_git(session):
    session.write("autoresearch.md", "notes\n")
    session.write("autoresearch.html", "<html></html>\n")
    session.write("autoresearch.hooks.json", "{}\n")
    session.engine("run")
    untracked = session.git("status", "--porcelain")
    for name in ("autoresearch.jsonl", "run.log", "autoresearch.md", "autoresearch.html", "autoresearch.pending.json",
                 "autoresearch.hooks.json"):
        assert name not in untracked


def test_run_excludes_session_files_a_session_started_before_they_existed(session):
    exclude = os.path.join(session.path, ".git", "info", "exclude")
    with open(exclude) as handle:
        lines = [line for line in handle.read().splitlines() if line != "/autoresearch.html"]
    with open(exclude, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    session.write("autoresearch.html", "<html></html>\n")
    assert "autoresearch.html" in session.git("status", "--porcelain")
    session.engine("run")
    assert "autoresearch.html" not in session.git("status", "--porcelain")


def test_config_timeout_and_bad_config(session):
    session.write(".claude/autoresearch.local.md", "---\nbenchmark_timeout: 1\n---\n")
    session.write("autoresearch.sh", "sleep 20\n")
    session.commit("slow")
    result = run_json(session)
    assert result["status"] == "crash" and "timed out after 1 s" in result["reason"]
    session.write(".claude/autoresearch.local.md", "---\nbenchmark_timeout: soon\n---\n")
    bad = session.engine("run", check=False)
    assert bad.returncode == 2 and "benchmark_timeout must be a number" in bad.stderr


def test_working_dir_setting(project):
    project.write("bench/autoresearch.sh", "echo METRIC score=3\n")
    project.commit("bench dir")
    project.write(".claude/autoresearch.local.md", "---\nworking_dir: bench\n---\n")
    project.engine("init", "--deterministic", "--name", "sub", "--metric-name", "score", "--direction", "lower")
    assert project.exists("bench/autoresearch.jsonl")
    assert run_json(project)["metric"] == 3
    assert project.exists("bench/run.log")
