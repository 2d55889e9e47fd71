#!/usr/bin/env python3
"""Measure the peak memory of `autoresearch run` on a benchmark that prints a lot, and of `autoresearch metrics`
reading that output back.

    python3 scripts/bench_run_memory.py [--bytes 1000000000]

The benchmark prints --bytes of output (short lines, then the same again as one line without a newline),
then its METRIC line. The goal is a peak resident set of at most 100 MB for each, whatever the output size:
the engine reads run.log in chunks and keeps only a bounded tail. Prints each figure and the machine.
"""

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGINE = os.path.join(REPO, "skills", "autoresearch", "scripts", "autoresearch")
GOAL_MB = 100
SHAPES = {
    "short lines": "yes 'step 1 of many: loss 2.5 lr 0.001'",
    "one line": "tr '\\0' x < /dev/zero",
}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            kb = int(next(line.split()[1] for line in handle if line.startswith("MemTotal")))
        memory = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    return (f"{cpu}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}")


def peak_rss_mb(command, cwd, stdin_path=None):
    """Run command to its end; (exit code, its peak resident set in MB, seconds)."""
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    started = time.monotonic()
    try:
        proc = subprocess.Popen(command, cwd=cwd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if stdin_path:
            stdin.close()
    peak_kb = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss / 1024  # macOS counts bytes
    return proc.returncode, peak_kb / 1024, time.monotonic() - started


def make_project(path, producer, size):
    """A git project whose autoresearch.sh prints size bytes from producer, then its METRIC line."""
    env = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@example.com",
               GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@example.com")
    with open(os.path.join(path, "autoresearch.sh"), "w", encoding="utf-8") as handle:
        handle.write(f"{producer} | head -c {size}\necho\necho METRIC score=42\n")
    for git_args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "harness"]):
        subprocess.run(["git", *git_args], cwd=path, check=True, env=env, capture_output=True)
    subprocess.run([sys.executable, ENGINE, "init", "--name", "bench", "--metric-name", "score", "--direction",
                    "lower"], cwd=path, check=True, env=env, capture_output=True)


def main():
    parser = argparse.ArgumentParser(description="Peak memory of autoresearch run on a benchmark with huge output.")
    parser.add_argument("--bytes", type=int, default=10**9, help="bytes of benchmark output (default 1 GB)")
    args = parser.parse_args()
    rows = []
    for shape, producer in SHAPES.items():
        with tempfile.TemporaryDirectory() as project:
            make_project(project, producer, args.bytes)
            code, run_mb, run_s = peak_rss_mb([sys.executable, ENGINE, "run", "--baseline-repeat", "1"], project)
            if code != 0:
                sys.exit(f"bench_run_memory: autoresearch run failed with exit code {code}")
            run_log = os.path.join(project, "run.log")
            size = os.path.getsize(run_log)
            code, metrics_mb, metrics_s = peak_rss_mb([sys.executable, ENGINE, "metrics", "score"], project, run_log)
            if code != 0:
                sys.exit(f"bench_run_memory: autoresearch metrics failed with exit code {code}")
            rows.append((shape, size, run_mb, run_s, metrics_mb, metrics_s))
    print(f"machine: {machine()}")
    print(f"{'output':<12} {'run.log bytes':>14} {'run peak MB':>12} {'run s':>7} {'metrics peak MB':>16} {'metrics s':>10}")
    for shape, size, run_mb, run_s, metrics_mb, metrics_s in rows:
        print(f"{shape:<12} {size:>14} {run_mb:>12.1f} {run_s:>7.1f} {metrics_mb:>16.1f} {metrics_s:>10.1f}")
    worst = max(max(row[2], row[4]) for row in rows)
    print(f"peak {worst:.1f} MB: {'within' if worst <= GOAL_MB else 'OVER'} the {GOAL_MB} MB goal")
    return 0 if worst <= GOAL_MB else 1


if __name__ == "__main__":
    sys.exit(main())
