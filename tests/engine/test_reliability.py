"""Concurrent appends, timeouts that kill whole process trees, and logs damaged by others."""

import json
import os
import subprocess
import sys
import textwrap
import time

from engine_helpers import ENGINE, SCRIPTS

WORKERS = 8
CALLS = 200


def test_concurrent_log_calls_lose_nothing(tmp_path):
    log = tmp_path / "autoresearch.jsonl"
    log.write_text('{"type":"config","name":"c","metricName":"m","metricUnit":"","bestDirection":"lower"}\n')
    worker = textwrap.dedent(f"""
        import sys, contextlib, io
        sys.path.insert(0, {SCRIPTS!r})
        from autoresearch_engine import cli
        worker = sys.argv[1]
        for i in range({CALLS}):
            with contextlib.redirect_stdout(io.StringIO()):
                code = cli.main(["log", "-C", {str(tmp_path)!r}, "--status", "discard", "--metric", str(i),
                                 "--commit", "abc1234", "--description", f"worker {{worker}} call {{i}} \\"quoted\\"\\n"])
            if code != 0:
                sys.exit(code)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", worker, str(w)]) for w in range(WORKERS)]
    assert [p.wait(timeout=600) for p in procs] == [0] * WORKERS
    lines = log.read_bytes().split(b"\n")
    assert lines[-1] == b""
    records = [json.loads(line) for line in lines[1:-1]]
    assert len(records) == WORKERS * CALLS
    assert sorted(r["run"] for r in records) == list(range(1, WORKERS * CALLS + 1))
    seen = {(r["description"], r["metric"]) for r in records}
    expected = {(f'worker {w} call {i} "quoted"\n', i) for w in range(WORKERS) for i in range(CALLS)}
    assert seen == expected


FORKING_BENCHMARK = """#!/usr/bin/env bash
sleep 300 & echo $! >> pids
( sleep 300 & echo $! >> pids; wait ) & echo $! >> pids
python3 -c 'import os, time
if os.fork() == 0:
    os.setsid()
    with open("pids", "a") as f: f.write(str(os.getpid()) + "\\n")
    time.sleep(300)
' &
sleep 1
echo "METRIC score=1"
sleep 300
"""


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_timeout_kills_the_whole_tree_and_is_a_crash(session):
    session.write("autoresearch.sh", FORKING_BENCHMARK)
    session.commit("hangs")
    started = time.monotonic()
    result = json.loads(session.engine("run", "--json", "--timeout", "3").stdout)
    elapsed = time.monotonic() - started
    assert elapsed < 3 + 5
    assert result["status"] == "crash" and result["timed_out"] and "timed out after 3 s" in result["reason"]
    pids = [int(p) for p in session.read("pids").split()]
    assert len(pids) == 4
    time.sleep(0.2)
    assert [pid for pid in pids if _alive(pid)] == []
    session.engine("log", "--description", "hangs forever")
    assert session.records()[-1]["status"] == "crash"


def test_leftover_background_processes_are_ended_after_a_normal_exit(session):
    session.write("autoresearch.sh", "sleep 300 & echo $! > pids\necho METRIC score=5\n")
    session.commit("leaves a child")
    result = json.loads(session.engine("run", "--json").stdout)
    assert result["status"] == "keep" and result["duration_s"] < 5
    pid = int(session.read("pids"))
    time.sleep(0.2)
    assert not _alive(pid)


def test_truncated_last_line_is_tolerated_and_repaired_by_next_append(session):
    session.engine("run")
    session.engine("log", "--description", "baseline")
    path = os.path.join(session.path, "autoresearch.jsonl")
    with open(path, "ab") as handle:
        handle.write(b'{"run":2,"commit":"abc","metric":4')  # a writer killed mid-line
    status = session.engine("status", "--json")
    data = json.loads(status.stdout)
    assert data["runs"] == 1 and data["best"] == 100
    assert any("cut off" in w for w in data["warnings"])
    session.engine("run")
    session.engine("log", "--description", "after the damage")
    lines = open(path, "rb").read().split(b"\n")
    assert lines[-1] == b""
    parsed = []
    for line in lines[:-1]:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            assert line == b'{"run":2,"commit":"abc","metric":4'
    assert [r.get("description") for r in parsed if "run" in r] == ["baseline", "after the damage"]
    assert parsed[-1]["run"] == 2


def test_reads_a_log_written_by_the_seed_scripts(project):
    seed = (
        '{"type":"config","name":"Optimize tests","metricName":"total_ms","metricUnit":"ms","bestDirection":"lower"}\n'
        '{"type":"status","state":"running","timestamp":1700000000}\n'
        '{"run":1,"commit":"abc1234","metric":4500,"status":"keep","description":"baseline","timestamp":1700000000,"segment":0}\n'
        '{"run":2,"commit":"abc1235","metric":4230,"status":"keep","description":"parallel","timestamp":1700000100,"segment":0,'
        '"metrics":{"compile_ms":1200},"confidence":2.3,"asi":{"hypothesis":"parallel tests reduce wall time"}}\n'
        '{"run":3,"commit":"abc1236","metric":4800,"status":"discard","description":"cache","timestamp":1700000200,"segment":0}\n'
    )
    project.write("autoresearch.jsonl", seed)
    data = project.status()
    assert (data["runs"], data["kept"], data["discarded"], data["baseline"], data["best"]) == (3, 2, 1, 4500, 4230)
    assert data["metric_name"] == "total_ms" and data["confidence"] is not None
    resume = project.engine("resume").stdout
    assert "parallel tests reduce wall time" in resume


def test_corrupt_middle_line_warns_and_keeps_the_rest(session):
    session.engine("run")
    session.engine("log", "--description", "one")
    path = os.path.join(session.path, "autoresearch.jsonl")
    with open(path, "a") as handle:
        handle.write("this is not json\n")
    session.engine("run")
    session.engine("log", "--description", "two")
    result = session.engine("status")
    assert "line 4 is not a JSON object" in result.stderr
    assert session.status()["runs"] == 2


def test_unusable_log_paths_are_one_clear_error(session):
    os.mkdir(os.path.join(session.path, "adir.jsonl"))
    for target, message in (("missing/dir/log.jsonl", "does not exist"), ("adir.jsonl", "cannot open")):
        result = session.engine("log", "--file", target, "--status", "keep", "--metric", "1", "--description", "x",
                                check=False)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_engine_runs_without_the_package_installed(tmp_path):
    result = subprocess.run([sys.executable, "-S", "-I", ENGINE, "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and "init" in result.stdout
