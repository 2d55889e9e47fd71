"""`run` under attack: termination signals, re-forking benchmarks, huge output, two runs at once, crash reasons."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from engine_helpers import ENGINE

REFORK = """import os, signal, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
beat = os.open("heartbeat", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
while True:  # a chain: each process forks a successor in a session of its own and exits at once
    if os.fork() == 0:
        os.setsid()
        os.write(beat, b".")
        continue
    os._exit(0)
"""


def _marked(token):
    """Live (not zombie) processes whose command line holds token."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                cmdline = handle.read()
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        if token.encode() in cmdline and stat[stat.rfind(b")") + 2:][:1] != b"Z":
            found.append(int(name))
    return found


def _last_pid():
    with open("/proc/loadavg") as handle:
        return int(handle.read().split()[-1])


def _kill_marked(token, seconds=20):
    """Kill every process holding token the moment it is seen; a chain that forks and exits in a loop
    stays ahead of any listing of /proc, so the pids handed out after the listing are read as they come."""
    def kill_if_marked(pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if token.encode() in handle.read():
                    os.kill(pid, signal.SIGKILL)
                    return True
        except OSError:
            pass
        return False

    for pid in _marked(token):
        kill_if_marked(pid)
    seen, quiet, deadline = _last_pid(), 0, time.monotonic() + seconds
    while quiet < 2000 and time.monotonic() < deadline:
        latest = _last_pid()
        span = range(seen + 1, latest + 1) if latest >= seen else [*range(seen + 1, 4194305), *range(1, latest + 1)]
        quiet = 0 if any([kill_if_marked(pid) for pid in span]) else quiet + 1
        seen = latest
    for pid in _marked(token):
        kill_if_marked(pid)


@pytest.fixture
def token():
    mark = f"ar-test-{uuid.uuid4().hex}"
    yield mark
    _kill_marked(mark)


def sleeper(token):
    """A shell command for a process that sleeps 120 s with token in its command line."""
    return f"python3 -c 'import time; time.sleep(120)' {token}"


def _ignore_marks(session):
    """The marks a benchmark below leaves are ignored, as build outputs are, so the tree stays a commit."""
    session.write(".gitignore", "started.txt\nheartbeat\n")


def _start_run(session, *args):
    return subprocess.Popen([sys.executable, ENGINE, "run", *args], cwd=session.path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_termination_signal_ends_the_benchmark_tree_and_records_nothing(session, token, sig):
    session.write("autoresearch.sh", f"{sleeper(token)} &\nbash -c \"{sleeper(token)}\" &\n"
                                     f"echo started > started.txt\n{sleeper(token)}\n")
    _ignore_marks(session)
    session.commit("slow benchmark")
    proc = _start_run(session)
    assert _wait_for(lambda: session.exists("started.txt") and len(_marked(token)) >= 3)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and "Traceback" not in err
    assert err.count("\n") == 1 and "interrupted" in err and "nothing was logged" in err
    time.sleep(0.3)
    assert _marked(token) == []
    assert not session.exists("autoresearch.pending.json")
    assert [name for name in os.listdir(session.path) if ".tmp-" in name] == []
    assert session.records() == []


def test_a_benchmark_that_keeps_forking_new_sessions_does_not_outlive_the_timeout(session, token):
    session.write("refork.py", REFORK)
    session.write("autoresearch.sh", f"python3 refork.py {token} &\necho METRIC score=1\nsleep 120\n")
    _ignore_marks(session)
    session.commit("a benchmark that re-forks")
    result = json.loads(session.engine("run", "--json", "--timeout", "1").stdout)
    assert result["status"] == "crash" and result["timed_out"]
    beats = os.path.getsize(os.path.join(session.path, "heartbeat"))
    assert beats > 10  # the chain ran
    time.sleep(1)
    assert os.path.getsize(os.path.join(session.path, "heartbeat")) == beats, "the chain is still forking"


def _peak_rss_kb(command, cwd, stdin=None):
    """Peak resident memory of command (a child of a fresh Python, which is all it measures)."""
    probe = ("import resource, subprocess, sys\n"
             "stdin = open(sys.argv[1], 'rb') if sys.argv[1] else None\n"
             "code = subprocess.run(sys.argv[2:], stdin=stdin, stdout=subprocess.DEVNULL).returncode\n"
             "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    out = subprocess.run([sys.executable, "-c", probe, stdin or "", *command], cwd=cwd, capture_output=True,
                         text=True, timeout=600, check=True).stdout.split()
    return int(out[0]), int(out[1])


HUGE = 150_000_000  # bytes of benchmark output


@pytest.mark.parametrize("shape", ["lines", "one line"])
def test_memory_does_not_grow_with_benchmark_output(session, shape):
    producer = "yes 'step 1 of many: loss 2.5 lr 0.001'" if shape == "lines" else "tr '\\0' x < /dev/zero"
    session.write("autoresearch.sh", f"{producer} | head -c {HUGE}\necho\necho METRIC score=42\n")
    session.commit("a chatty benchmark")
    code, peak_kb = _peak_rss_kb([sys.executable, ENGINE, "run", "--baseline-repeat", "1"], session.path)
    assert code == 0
    assert peak_kb < 100_000, f"peak RSS {peak_kb} kB for {HUGE} bytes of output"
    pending = json.loads(session.read("autoresearch.pending.json"))
    assert pending["metric"] == 42
    code, peak_kb = _peak_rss_kb([sys.executable, ENGINE, "metrics", "score"], session.path,
                                 stdin=os.path.join(session.path, "run.log"))
    assert code == 0 and peak_kb < 100_000, f"metrics: peak RSS {peak_kb} kB"


def test_a_second_run_at_the_same_time_is_refused(session, token):
    session.write("autoresearch.sh", "echo started > started.txt\nsleep 3\necho METRIC score=7\n")
    _ignore_marks(session)
    session.commit("slow")
    first = _start_run(session, "--json")
    assert _wait_for(lambda: session.exists("started.txt"))
    second = session.engine("run", check=False)
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert "another 'autoresearch run'" in second.stderr and second.stderr.count("\n") == 1
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert json.loads(out)["metric"] == 7
    assert "METRIC score=7" in session.read("run.log") and session.read("run.log").count("started") == 0
    session.engine("run")  # the lock went with the first run


def test_a_killed_run_does_not_leave_the_lock_behind(session, token):
    session.write("autoresearch.sh", f"echo started > started.txt\n{sleeper(token)}\necho METRIC score=7\n")
    _ignore_marks(session)
    session.commit("slow")
    first = _start_run(session)
    assert _wait_for(lambda: session.exists("started.txt"))
    first.kill()
    first.communicate(timeout=30)
    _kill_marked(token)
    session.write("autoresearch.sh", "echo METRIC score=7\n")
    session.commit("fast again")
    assert json.loads(session.engine("run", "--json").stdout)["metric"] == 7


@pytest.mark.parametrize("script, expected", [
    ("echo starting\necho 'FAIL: expected 3 items, got 4'\necho cleaning up\nexit 1\n",
     "FAIL: expected 3 items, got 4"),
    ("echo starting\npython3 -c 'raise ValueError(\"the tokenizer is missing\")'\n",
     "ValueError: the tokenizer is missing"),
])
def test_a_crash_record_keeps_the_failing_line(session, script, expected):
    session.write("autoresearch.sh", script)
    session.commit("breaks")
    session.engine("run")
    session.engine("log", "--description", "breaks")
    record = session.records()[-1]
    assert record["status"] == "crash"
    assert expected in record["reason"]
    assert "exit" in record["reason"] and "code 1" in record["reason"]


def test_the_crash_reason_is_bounded(session):
    session.write("autoresearch.sh", "python3 -c 'print(\"Error: \" + \"x\" * 100000)'\nexit 3\n")
    session.commit("breaks loudly")
    session.engine("run")
    session.engine("log", "--description", "breaks loudly")
    reason = session.records()[-1]["reason"]
    assert "Error: xxx" in reason and len(reason) <= 400


def test_secondary_metrics_of_a_nan_run_are_kept(session):
    session.write("autoresearch.sh", "echo METRIC score=nan\necho METRIC size_kb=12.5\necho METRIC steps=300\n")
    session.commit("diverges")
    result = json.loads(session.engine("run", "--json").stdout)
    assert result["status"] == "crash"
    session.engine("log", "--description", "diverges")
    record = session.records()[-1]
    assert record["metrics"] == {"size_kb": 12.5, "steps": 300}
    assert "score is nan" in record["reason"]
