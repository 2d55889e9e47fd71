"""Helpers for the report and finalize tests: sessions made with the real engine (no hand-written fixtures)."""

import contextlib
import io
import json
import os
import subprocess
import sys

from autoresearch_engine import cli

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENGINE = os.path.join(REPO, "skills", "autoresearch", "scripts", "autoresearch")

HOSTILE = '</script><script>document.title="pwned"</script><img src=x onerror="document.title=1">'


def engine(cwd, *args, check=True, python=None, timeout=120):
    result = subprocess.run([python or sys.executable, ENGINE, *args], cwd=str(cwd), capture_output=True,
                            text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise AssertionError(f"autoresearch {args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def cli_in_process(*argv):
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        code = cli.main([str(a) for a in argv])
    assert code == 0, f"autoresearch {argv} exited {code}: {sink.getvalue()}"


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=str(cwd), check=True, capture_output=True, text=True).stdout


def write_session(folder, runs=30, segments=2):
    """A logged session: keeps, discards, crashes and a checks failure, across `segments` segments.

    Returns the descriptions in run order."""
    folder = str(folder)
    cli_in_process("init", "-C", folder, "--name", "make it fast", "--metric-name", "total_ms", "--unit", "ms",
                   "--direction", "lower")
    descriptions = []
    best = 100.0
    per_segment = runs // segments
    for run in range(1, runs + 1):
        if run > 1 and (run - 1) % per_segment == 0 and (run - 1) // per_segment < segments:
            cli_in_process("init", "-C", folder, "--new-segment", "--name", "make it fast, bigger input",
                           "--metric-name", "total_ms", "--unit", "ms", "--direction", "lower")
            best += 20
        args = ["log", "-C", folder, "--no-pending", "--commit", f"{run:07x}"]
        kind = run % 7
        if (run - 1) % per_segment == 0:
            description, status, metric = "baseline", "keep", best
        elif kind == 3:
            description, status, metric = f"run {run}: inline the hot loop {HOSTILE}", "crash", None
        elif kind == 5:
            description, status, metric = f"run {run}: cache the parser", "checks_failed", best - 1
        elif kind in (1, 4):
            description, status, metric = f"run {run}: precompute tables", "keep", best - 2
        else:
            description, status, metric = f"run {run}: try a bigger buffer", "discard", best + 3
        if metric is not None:
            best = metric if status == "keep" else best
            args += ["--metric", metric]
        args += ["--status", status, "--description", description]
        if status in ("keep", "crash"):
            args += ["--asi", json.dumps({"hypothesis": HOSTILE, "note": f"run {run}"})]
        cli_in_process(*args)
        descriptions.append(description)
    return descriptions


def noisy_project(tmp_path):
    """A session whose benchmark prints the next value of values.txt each run (lower is better)."""
    folder = tmp_path / "p"
    folder.mkdir()
    git(folder, "init", "-q", "-b", "main")
    git(folder, "config", "user.email", "t@example.com")
    git(folder, "config", "user.name", "T")
    (folder / "autoresearch.sh").write_text(
        "value=$(head -n 1 values.txt)\ntail -n +2 values.txt > values.next && mv values.next values.txt\n"
        "echo \"METRIC ms=$value\"\n")
    (folder / ".git" / "info" / "exclude").write_text("values.txt\nvalues.next\n")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "harness")
    engine(folder, "init", "--name", "noisy", "--metric-name", "ms", "--direction", "lower")
    return folder
