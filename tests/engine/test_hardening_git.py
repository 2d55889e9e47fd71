"""Git, the working tree and the user's files: what the engine must never lose or mis-measure (issue 14).

Each test drives the real engine in a real repository; the ones about timing use a `git` wrapper on
PATH that slows every git call down or kills the engine just before its Nth git call.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from engine_helpers import ENGINE, git, pid_alive

REAL_GIT = shutil.which("git")

GIT_WRAPPER = """#!/bin/bash
if [ -n "$WRAP_DELAY" ]; then sleep "$WRAP_DELAY"; fi
if [ -n "$WRAP_KILL_AT" ]; then
  n=$(( $(cat "$WRAP_COUNTER" 2>/dev/null || echo 0) + 1 ))
  echo "$n" > "$WRAP_COUNTER"
  if [ "$n" -eq "$WRAP_KILL_AT" ]; then kill -9 "$PPID"; exit 1; fi
fi
exec "{real}" "$@"
"""


def wrapped_env(tmp_path, **values):
    folder = tmp_path / "wrapped-git"
    if not folder.exists():
        folder.mkdir()
        script = folder / "git"
        script.write_text(GIT_WRAPPER.format(real=REAL_GIT))
        script.chmod(0o755)
    env = dict(os.environ, PATH=f"{folder}{os.pathsep}{os.environ['PATH']}")
    env.update({key: str(value) for key, value in values.items()})
    return env


def engine_in(path, *args, env=None, timeout=60):
    return subprocess.run([sys.executable, ENGINE, *args], cwd=str(path), capture_output=True, text=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def one_clear_error(result):
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("autoresearch: error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def baseline(session):
    session.engine("run")
    session.engine("log", "--description", "baseline")


def logged_discard(session, value=150, description="worse"):
    session.set_value(value)
    sha = session.commit(description)
    session.engine("run")
    session.engine("log", "--status", "discard", "--description", description)
    return sha


def tree(session, rev="HEAD"):
    return session.git("rev-parse", f"{rev}^{{tree}}").strip()


# ---- 1: bytes that are not UTF-8 ---------------------------------------------------------------

def test_latin1_bytes_in_a_kept_diff_do_not_throw_away_the_run(session):
    baseline(session)
    session.set_value(40)
    with open(os.path.join(session.path, "notes.txt"), "wb") as handle:
        handle.write(b"caf\xe9 cr\xe8me\n")
    session.commit("smaller, with a Latin-1 note")
    result = session.engine("run", "--json", check=False)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert json.loads(result.stdout)["status"] == "keep"
    session.engine("log", "--description", "latin-1")
    assert session.records()[-1]["metric"] == 40


def test_a_file_name_that_is_not_utf8_breaks_no_command(session):
    baseline(session)
    logged_discard(session)
    name = os.path.join(os.fsencode(session.path), b"caf\xe9.txt")
    with open(name, "wb") as handle:
        handle.write(b"untracked\n")
    for args in (("status",), ("status", "--json"), ("resume",), ("revert",), ("finalize", "--dry-run")):
        result = session.engine(*args, check=False)
        assert "Traceback" not in result.stderr, (args, result.stderr)
        assert result.returncode in (0, 2), (args, result.returncode)
    assert os.path.exists(name)
    assert session.read("value.txt") == "100\n"  # the revert went through
    refused = one_clear_error(session.engine("run", check=False))
    assert "caf" in refused and ".txt" in refused


def test_a_project_folder_whose_name_is_not_utf8_breaks_no_command(tmp_path):
    folder = os.path.join(os.fsencode(str(tmp_path)), b"caf\xe9")
    os.mkdir(folder)
    for args in (("init", "-q", "-b", "main"), ("config", "user.email", "t@example.com"), ("config", "user.name", "T")):
        subprocess.run([REAL_GIT, *args], cwd=folder, check=True)
    with open(os.path.join(folder, b"autoresearch.sh"), "w") as handle:
        handle.write("echo METRIC score=$(cat value.txt)\n")
    with open(os.path.join(folder, b"value.txt"), "w") as handle:
        handle.write("5\n")
    subprocess.run([REAL_GIT, "add", "-A"], cwd=folder, check=True)
    subprocess.run([REAL_GIT, "commit", "-q", "-m", "harness"], cwd=folder, check=True)
    strict = dict(os.environ, PYTHONIOENCODING="utf-8:strict", PYTHONUTF8="0")
    steps = [("init", "--deterministic", "--name", "n", "--metric-name", "score", "--direction", "lower"), ("run",),
             ("log", "--description", "baseline"), ("status",), ("status", "--json"), ("resume",),
             ("report",), ("run", "--", "sh", "-c", b"echo METRIC score=4; echo caf\xe9"), ("log", "--status", "discard", "--description", "d")]
    for args in steps:
        result = subprocess.run([sys.executable, ENGINE, *args], cwd=folder, capture_output=True, env=strict,
                                stdin=subprocess.DEVNULL, timeout=60)
        assert b"Traceback" not in result.stderr, (args, result.stderr.decode("utf-8", "replace"))
        assert result.returncode == 0, (args, result.stderr.decode("utf-8", "replace"))


# ---- 2: revert never writes over what log confirmed meanwhile ------------------------------------

def test_records_logged_while_revert_runs_stay(session, tmp_path):
    baseline(session)
    logged_discard(session)
    commit = session.git("rev-parse", "--short", "HEAD").strip()
    slow = wrapped_env(tmp_path, WRAP_DELAY=0.15)
    revert = subprocess.Popen([sys.executable, ENGINE, "revert"], cwd=session.path, env=slow,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    confirmed = []
    for i in range(8):
        done = session.engine("log", "--no-pending", "--status", "discard", "--metric", "7", "--commit", commit,
                              "--description", f"concurrent {i}", check=False)
        if done.returncode == 0 and "Logged:" in done.stdout:
            confirmed.append(f"concurrent {i}")
        time.sleep(0.25)
    _, err = revert.communicate(timeout=60)
    assert revert.returncode == 0, err
    present = [record["description"] for record in session.records()]
    assert confirmed and all(description in present for description in confirmed)


# ---- 3: killing revert never loses an edit to a tracked session file -----------------------------

def test_killing_revert_at_every_git_call_keeps_the_users_notes(session, tmp_path):
    baseline(session)
    session.set_value(150)
    session.write("autoresearch.md", "notes v1\n")
    session.git("add", "-f", "autoresearch.md", "value.txt")
    session.git("commit", "-q", "-m", "experiment that swept in the notes")
    session.engine("run")
    session.engine("log", "--status", "discard", "--description", "swept")
    session.write("autoresearch.md", "notes v2, not committed\n")
    template = tmp_path / "template"
    shutil.copytree(session.path, template, symlinks=True)
    finished = False
    for kill_at in range(1, 60):
        trial = tmp_path / f"trial-{kill_at}"
        shutil.copytree(template, trial, symlinks=True)
        env = wrapped_env(tmp_path, WRAP_KILL_AT=kill_at, WRAP_COUNTER=tmp_path / f"count-{kill_at}")
        result = engine_in(trial, "revert", env=env)
        with open(trial / "autoresearch.md", encoding="utf-8") as handle:
            assert handle.read() == "notes v2, not committed\n", f"killed before git call {kill_at}"
        if result.returncode == 0:
            finished = True
            assert (trial / "value.txt").read_text() == "100\n"
            break
    assert finished


# ---- 4: revert never overwrites an ignored file the experiment stopped tracking -----------------

def test_revert_keeps_an_ignored_file_the_experiment_untracked(session):
    session.write(".gitignore", ".env\n")
    session.write(".env", "TOKEN=default\n")
    session.git("add", "-f", ".env", ".gitignore")
    session.git("commit", "-q", "-m", "track the default .env")
    baseline(session)
    session.set_value(150)
    session.git("rm", "-q", "--cached", ".env")
    session.commit("stop tracking .env", "value.txt")
    session.write(".env", "TOKEN=my own secret\n")
    session.engine("run")
    session.engine("log", "--status", "discard", "--description", "untracked .env")
    result = session.engine("revert", check=False)
    assert session.read(".env") == "TOKEN=my own secret\n"
    if result.returncode != 0:
        assert ".env" in one_clear_error(result)


# ---- 12: a benchmark that commits -----------------------------------------------------------------

def test_a_benchmark_that_commits_is_measured_for_the_experiment_commit(session):
    baseline(session)
    session.set_value(90)
    experiment = session.commit("experiment")
    session.write("autoresearch.sh", "git commit -q --allow-empty -m 'made by the benchmark'\n"
                                     "echo METRIC score=$(cat value.txt)\n")
    experiment = session.commit("experiment whose benchmark commits")
    result = session.engine("run", "--json")
    assert json.loads(result.stdout)["commit"] == experiment
    assert "HEAD" in result.stderr  # the move is reported
    session.engine("log", "--description", "committing benchmark")
    assert session.records()[-1]["commit"] == experiment


# ---- 13: staged session files and failing reverts ------------------------------------------------

def test_reverting_an_empty_experiment_leaves_a_staged_session_file_out(session):
    baseline(session)
    session.git("commit", "-q", "--allow-empty", "-m", "empty experiment")
    session.engine("run")
    session.engine("log", "--status", "discard", "--description", "nothing changed")
    session.write("autoresearch.md", "staged notes\n")
    session.git("add", "-f", "autoresearch.md")
    session.engine("revert")
    assert session.git("ls-tree", "--name-only", "HEAD", "autoresearch.md") == ""
    assert session.read("autoresearch.md") == "staged notes\n"
    assert "This reverts commit" in session.git("log", "-1", "--format=%B")


def test_a_staged_session_file_does_not_block_revert(session):
    baseline(session)
    logged_discard(session)
    session.write("autoresearch.md", "staged notes\n")
    session.git("add", "-f", "autoresearch.md")
    result = session.engine("revert", check=False)
    assert result.returncode == 0, result.stderr
    assert session.read("value.txt") == "100\n" and session.read("autoresearch.md") == "staged notes\n"
    assert session.git("ls-tree", "--name-only", "HEAD", "autoresearch.md") == ""


def test_a_revert_that_cannot_go_through_says_why(session):
    session.write("data.txt", "tracked data\n")
    session.commit("data")
    baseline(session)
    session.set_value(150)
    session.git("rm", "-q", "data.txt")
    session.commit("drop data")
    session.engine("run")
    session.engine("log", "--status", "discard", "--description", "dropped data")
    session.write("data.txt", "the user's own data\n")
    head = session.git("rev-parse", "HEAD")
    message = one_clear_error(session.engine("revert", check=False))
    assert "data.txt" in message and "fatal: revert failed" not in message
    assert session.read("data.txt") == "the user's own data\n" and session.git("rev-parse", "HEAD") == head


# ---- 17: a buried unlogged commit -------------------------------------------------------------------

def test_a_replaced_unlogged_run_is_detected_and_reverted(session):
    baseline(session)
    kept = session.git("rev-parse", "HEAD").strip()
    session.write("seed.txt", "seed 2\n")
    buried = session.commit("commit A: a seed")
    session.engine("run")
    session.set_value(150)
    session.commit("commit B")
    assert "never logged" in session.engine("run").stderr
    session.engine("log", "--status", "discard", "--description", "B")
    git(session.path, "revert", "--no-edit", "HEAD")  # by hand: only B is undone, A stays
    for text in (session.engine("resume").stdout, session.engine("status").stdout):
        assert "WARNING" in text and buried in text, text
    session.engine("revert")
    assert tree(session) == tree(session, kept) and not session.exists("seed.txt")
    assert "matches the log" in session.engine("resume").stdout


def test_revert_after_a_replaced_run_undoes_both_commits(session):
    baseline(session)
    kept = session.git("rev-parse", "HEAD").strip()
    session.write("seed.txt", "seed 2\n")
    session.commit("commit A")
    session.engine("run")
    session.set_value(150)
    session.commit("commit B")
    session.engine("run")
    session.engine("log", "--status", "discard", "--description", "B")
    session.engine("revert")
    assert tree(session) == tree(session, kept)


# ---- 19 and 20: the measured tree is a commit -------------------------------------------------------

def test_run_refuses_uncommitted_edits(session):
    baseline(session)
    session.set_value(50)  # not committed
    message = one_clear_error(session.engine("run", check=False))
    assert "value.txt" in message and "commit" in message
    assert not session.exists("autoresearch.pending.json")
    message = one_clear_error(session.engine("log", "--status", "keep", "--metric", "50",
                                             "--description", "dirty", check=False))
    assert "value.txt" in message
    assert len(session.records()) == 1


def test_run_refuses_untracked_files(session):
    baseline(session)
    session.write("helper.py", "print('new')\n")
    message = one_clear_error(session.engine("run", check=False))
    assert "helper.py" in message
    session.write(".gitignore", "helper.py\n")
    session.commit("ignore the helper", ".gitignore")
    session.engine("run")  # ignored files are not part of the experiment


def test_run_accepts_untracked_files_of_the_agent_host(session):
    """Skills installed into .claude/skills (npx skills add) are the agent's tools, not the experiment."""
    baseline(session)
    session.write(os.path.join(".claude", "skills", "autoresearch", "SKILL.md"), "# installed, not committed\n")
    session.engine("run")
    session.write(os.path.join("src", ".claude-notes.md"), "not the host's folder\n")
    assert ".claude-notes.md" in one_clear_error(session.engine("run", check=False))


# ---- 16: finalize checks the branch it made, and leaves nothing behind -----------------------------

def branch_session(project, checks_on_main=None, checks_on_session=None):
    """main holds the harness (and maybe a checks script); the session branch keeps one experiment."""
    if checks_on_main is not None:
        project.write("autoresearch.checks.sh", checks_on_main)
        project.commit("checks on main")
    project.git("checkout", "-q", "-b", "autoresearch/session")
    project.engine("init", "--deterministic", "--name", "score", "--metric-name", "score", "--direction", "lower")
    if checks_on_session is not None:
        project.write("autoresearch.checks.sh", checks_on_session)
        project.commit("session's own checks")
    baseline(project)
    project.set_value(60)
    project.commit("smaller")
    project.engine("run")
    project.engine("log", "--description", "smaller")
    return project


def test_finalize_runs_the_checks_of_the_branch_it_checks(project):
    branch_session(project, checks_on_main="echo main checks; exit 1\n", checks_on_session="exit 0\n")
    result = project.engine("finalize", "--yes", check=False)
    assert "checks on autoresearch/final/score-1: FAILED" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 1 and "main checks" in result.stdout


def test_finalize_says_when_a_branch_has_no_checks_script(project):
    branch_session(project, checks_on_session="exit 0\n")
    result = project.engine("finalize", "--yes", check=False)
    assert result.returncode == 0, result.stderr
    assert "checks on autoresearch/final/score-1: passed" not in result.stdout
    assert "no autoresearch.checks.sh" in result.stdout


def test_killing_finalize_leaves_no_worktree_and_no_checks_process(project, tmp_path):
    pids = tmp_path / "checks.pids"
    branch_session(project, checks_on_main='if [ -n "$CHECKS_PIDS" ]; then sleep 30 & echo $! >> "$CHECKS_PIDS"; wait; fi\n')
    proc = subprocess.Popen([sys.executable, ENGINE, "finalize", "--yes"], cwd=project.path,
                            env=dict(os.environ, CHECKS_PIDS=str(pids)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not (pids.exists() and pids.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    started = [int(pid) for pid in pids.read_text().split()]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while any(pid_alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = [pid for pid in started if pid_alive(pid)]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, "the checks process outlived finalize"
    assert project.git("worktree", "list").count("\n") == 1, project.git("worktree", "list")


def test_a_run_that_leaves_untracked_files_says_so_at_once(session):
    session.write("autoresearch.sh", "echo out > result.txt\necho METRIC score=$(cat value.txt)\n")
    session.commit("benchmark that writes a file")
    warned = session.engine("run").stderr
    assert "result.txt" in warned and ".gitignore" in warned
    assert "result.txt" in one_clear_error(session.engine("run", check=False))


def test_the_checks_guard_ends_the_checks_of_an_engine_killed_before_it_started(tmp_path):
    """The engine may die before the guard's Python has even started: the guard still ends the checks."""
    sys.path.insert(0, os.path.dirname(ENGINE))
    from autoresearch_engine.finalize import GUARD

    pid_file = tmp_path / "checks.pid"
    parent = ("import os, subprocess, sys\n"
              "subprocess.Popen([sys.executable, '-c', sys.argv[1], str(os.getpid()), 'sh', '-c', "
              "'echo $$ > \"$0\"; exec sleep 30', sys.argv[2]], start_new_session=True)\n"
              "os._exit(0)\n")
    subprocess.run([sys.executable, "-c", parent, GUARD, str(pid_file)], check=True, timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if pid_file.exists() and pid_file.read_text().strip():
            break
        time.sleep(0.05)
    if pid_file.exists() and pid_file.read_text().strip():
        pid = int(pid_file.read_text())
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(pid), "the checks outlived the engine that started them"
