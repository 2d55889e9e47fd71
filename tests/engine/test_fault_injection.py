"""Fault injection: `kill -9` at random moments of `log`, `revert` and `finalize` on a scripted session.

Each trial copies a prepared repository, starts the command with a concurrent `log` beside it, kills the
command at a random moment within its measured duration, and then checks: every line of the log is a
JSON object, every record that was confirmed ("Logged: …" printed) is there, the user's uncommitted
notes and ignored file are intact, no worktree is left registered and no checks process is left running.
The figure (trials, records checked, losses) is printed; run with -s to see it.

The repository has a slow post-commit hook (a user's, as many have): whatever runs git's commit machinery
is slow, so a moment in the middle of a revert is as likely as any other. The checks that finalize runs take
3 s, longer than any kill is delayed: a kill during the checks leaves them running unless finalize's guard
ends them. Kills fall within each command's uncut duration (finalize's measured without the checks, plus
half a second into them).
"""

import json
import os
from concurrent.futures import ThreadPoolExecutor
import random
import shutil
import subprocess
import sys
import time


from engine_helpers import BENCHMARK, ENGINE, git, pid_alive

TRIALS = 200
WORKERS = 2  # trials are independent and mostly wait on the commands they kill
NOTES = "# notes the user is still editing\n"
LOCAL = "password = the user's own\n"
CHECKS = 'if [ -n "$CHECKS_PIDS" ]; then sleep 3 & echo $! >> "$CHECKS_PIDS"; wait; fi\n'
SLOW_HOOK = "#!/bin/sh\nsleep 0.3\n"


def write(path, name, text):
    with open(os.path.join(path, name), "w", encoding="utf-8") as handle:
        handle.write(text)


def engine(path, *args):
    result = subprocess.run([sys.executable, ENGINE, *args], cwd=path, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=120)
    assert result.returncode == 0, f"{args}: {result.stdout}{result.stderr}"
    return result


def experiment(path, value, description, status=None):
    write(path, "value.txt", f"{value}\n")
    git(path, "commit", "-q", "-am", description)
    engine(path, "run")
    engine(path, "log", "--description", description, *(("--status", status) if status else ()))


def make_session(path):
    """main: the harness, an ignored local file, checks. The session branch: a baseline, a kept change, a discard
    whose commit swept in autoresearch.md (edited since), and a measured run of a new commit not yet logged."""
    os.makedirs(path)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "test@example.com")
    git(path, "config", "user.name", "Test")
    write(path, "autoresearch.sh", BENCHMARK)
    write(path, "autoresearch.checks.sh", CHECKS)
    write(path, "value.txt", "100\n")
    write(path, ".gitignore", "local.cfg\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "harness")
    write(path, "local.cfg", LOCAL)
    git(path, "checkout", "-q", "-b", "autoresearch/session")
    engine(path, "init", "--deterministic", "--name", "score", "--metric-name", "score", "--direction", "lower")
    git(path, "commit", "-q", "--allow-empty", "-m", "baseline")
    engine(path, "run")
    engine(path, "log", "--description", "baseline")
    experiment(path, 80, "smaller")
    write(path, "autoresearch.md", "# notes as committed\n")
    write(path, "value.txt", "150\n")
    git(path, "add", "-f", "autoresearch.md", "value.txt")
    git(path, "commit", "-q", "-m", "bigger, with the notes swept in")
    engine(path, "run")
    engine(path, "log", "--status", "discard", "--description", "bigger")


def prepared(root):
    """Three templates: revert has a logged discard at HEAD; log has a measured run waiting; finalize is
    back at the kept state with the discard reverted."""
    base = os.path.join(root, "base")
    make_session(base)
    templates = {}
    for name in ("revert", "log", "finalize"):
        path = os.path.join(root, f"template-{name}")
        shutil.copytree(base, path, symlinks=True)
        if name != "revert":
            engine(path, "revert")
        if name == "log":
            experiment_commit(path)
        write(path, "autoresearch.md", NOTES)
        hook = os.path.join(path, ".git", "hooks", "post-commit")
        write(os.path.dirname(hook), "post-commit", SLOW_HOOK)
        os.chmod(hook, 0o755)
        templates[name] = path
    return templates


def experiment_commit(path):
    write(path, "value.txt", "70\n")
    git(path, "commit", "-q", "-am", "smaller still")
    engine(path, "run")


COMMANDS = {
    "revert": ("revert",),
    "log": ("log", "--description", "the killed log"),
    "finalize": ("finalize", "--yes", "--prefix", "final/t"),
}
TIMED = dict(COMMANDS, finalize=COMMANDS["finalize"] + ("--no-checks",))
INTO_THE_CHECKS = 0.5


def descriptions(path):
    out = []
    with open(os.path.join(path, "autoresearch.jsonl"), encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                value = json.loads(line)  # every line valid JSON, or the trial fails here
                assert isinstance(value, dict), f"line {number} is not an object"
                if "description" in value:
                    out.append(value["description"])
    return out


def read(path, name):
    try:
        with open(os.path.join(path, name), encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def start(path, args, env):
    return subprocess.Popen([sys.executable, ENGINE, *args], cwd=path, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def trial(template, kind, path, kill_after, number, env):
    shutil.copytree(template, path, symlinks=True)
    before = descriptions(path)
    commit = git(path, "rev-parse", "--short", "HEAD").strip()
    command = start(path, COMMANDS[kind], env)
    beside = start(path, ("log", "--no-pending", "--status", "discard", "--metric", "5", "--commit", commit,
                          "--description", f"beside {number}"), env)
    time.sleep(kill_after)
    command.kill()
    out, _ = command.communicate()
    beside_out, _ = beside.communicate(timeout=60)
    confirmed = list(before)
    if "Logged:" in out:
        confirmed.append("the killed log")
    if "Logged:" in beside_out:
        confirmed.append(f"beside {number}")
    present = descriptions(path)
    losses = [f"record {d!r}" for d in confirmed if present.count(d) < confirmed.count(d)]
    if read(path, "autoresearch.md") != NOTES:
        losses.append("the user's notes")
    if read(path, "local.cfg") != LOCAL:
        losses.append("the ignored local.cfg")
    if git(path, "worktree", "list").count("\n") != 1:
        losses.append("a registered worktree")
    pids_file = env["CHECKS_PIDS"]
    pids = []
    if os.path.exists(pids_file):
        with open(pids_file) as handle:
            pids = [int(pid) for pid in handle.read().split()]
    deadline = time.monotonic() + 5  # the guard looks every 0.1 s; a loaded machine may be slower to run it
    while any(pid_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in pids if pid_alive(pid)]
    if left:
        losses.append(f"checks processes {left} still running")
        for pid in left:
            os.kill(pid, 9)
    return len(confirmed), losses


def test_kill_9_at_random_moments_loses_nothing(tmp_path):
    templates = prepared(str(tmp_path))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    durations = {}
    for kind, template in templates.items():
        path = str(tmp_path / f"timing-{kind}")
        shutil.copytree(template, path, symlinks=True)
        started = time.monotonic()
        subprocess.run([sys.executable, ENGINE, *TIMED[kind]], cwd=path, capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=120,
                       env=dict(os.environ, TMPDIR=str(scratch), CHECKS_PIDS=str(tmp_path / "timing.pids")))
        durations[kind] = time.monotonic() - started + (INTO_THE_CHECKS if kind == "finalize" else 0)
    rng = random.Random(14)
    kinds = list(templates)
    plans = [(number, kinds[number % len(kinds)]) for number in range(TRIALS)]
    plans = [(number, kind, rng.uniform(0, durations[kind])) for number, kind in plans]

    def one(plan):
        number, kind, kill_after = plan
        env = dict(os.environ, TMPDIR=str(scratch), CHECKS_PIDS=str(tmp_path / f"pids-{number}"))
        path = str(tmp_path / f"trial-{number}")
        count, lost = trial(templates[kind], kind, path, kill_after, number, env)
        shutil.rmtree(path, ignore_errors=True)
        return count, [f"trial {number} ({kind}, killed after {kill_after:.3f} s): {what}" for what in lost]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = list(pool.map(one, plans))
    checked = sum(count for count, _ in outcomes)
    losses = [what for _, lost in outcomes for what in lost]
    elapsed = time.monotonic() - started
    print(f"\nfault injection: {TRIALS} trials of kill -9 during log/revert/finalize "
          f"(uncut durations {', '.join(f'{k} {v:.2f} s' for k, v in durations.items())}); "
          f"{checked} confirmed records checked; {len(losses)} losses; {elapsed:.0f} s")
    assert not losses, "\n".join(losses[:20])
