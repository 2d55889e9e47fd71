#!/usr/bin/env python3
"""Measure how long the plugin hooks take, as Claude Code runs them (the command in hooks/hooks.json).

    python3 scripts/bench_hooks.py [--runs 30]

Prints the median and 95th percentile in milliseconds for: the Stop and SessionStart hooks in a project
without a session (the path every project pays for; the goal is at most 100 ms), and the same hooks in a
project with an active session (they start Python, read the log and call git for the resume brief).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGINE = os.path.join(REPO, "skills", "autoresearch", "scripts", "autoresearch")
GOAL_MS = 100


def hook_command(event):
    with open(os.path.join(REPO, "hooks", "hooks.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    command = config["hooks"][event][0]["hooks"][0]["command"]
    return command.replace("${CLAUDE_PLUGIN_ROOT}", REPO)


def timed(command, payload, cwd, runs):
    samples = []
    text = json.dumps(payload)
    env = {k: v for k, v in os.environ.items() if k != "CLAUDE_PROJECT_DIR"}
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(["bash", "-c", command], input=text, cwd=cwd, env=env, capture_output=True, text=True)
        samples.append((time.perf_counter() - start) * 1000)
        if done.returncode != 0:
            sys.exit(f"bench_hooks: the hook failed ({done.returncode}): {done.stderr.strip()}")
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)], done.stdout


def make_session(path):
    env = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@example.com",
               GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@example.com")
    with open(os.path.join(path, "autoresearch.sh"), "w") as handle:
        handle.write("echo METRIC score=1\n")
    for args in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "harness"]):
        subprocess.run(args, cwd=path, check=True, env=env, capture_output=True)
    for args in (["init", "--deterministic", "--name", "bench", "--metric-name", "score", "--direction", "lower"], ["run"],
                 ["log", "--description", "baseline"]):
        subprocess.run([sys.executable, ENGINE, *args], cwd=path, check=True, env=env, capture_output=True)


def main():
    parser = argparse.ArgumentParser(description="Time the autoresearch hooks as Claude Code runs them.")
    parser.add_argument("--runs", type=int, default=30, help="runs per case (default 30)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as empty, tempfile.TemporaryDirectory() as active:
        make_session(active)
        for label, cwd in (("no session", empty), ("active session", active)):
            stop = {"session_id": "b", "transcript_path": "", "cwd": cwd, "hook_event_name": "Stop",
                    "stop_hook_active": False}
            start = {"session_id": "b", "transcript_path": "", "cwd": cwd, "hook_event_name": "SessionStart",
                     "source": "compact"}
            for event, payload in (("Stop", stop), ("SessionStart", start)):
                median, p95, out = timed(hook_command(event), payload, cwd, args.runs)
                rows.append((f"{event}, {label}", median, p95, "output" if out.strip() else "silent"))
    print(f"{'case':<28} {'median ms':>10} {'p95 ms':>8}  result")
    for case, median, p95, result in rows:
        print(f"{case:<28} {median:>10.1f} {p95:>8.1f}  {result}")
    worst = max(p95 for case, _, p95, _ in rows if "no session" in case)
    verdict = "within" if worst <= GOAL_MS else "OVER"
    print(f"no-session p95 {worst:.1f} ms: {verdict} the {GOAL_MS} ms goal")
    return 0 if worst <= GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
