"""Driving the real engine in real git repositories: paths, a project wrapper, a benchmark."""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(REPO, "skills", "autoresearch", "scripts")
ENGINE = os.path.join(SCRIPTS, "autoresearch")


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


class Project:
    """A temporary git repository with a benchmark, driven through the engine's command line."""

    def __init__(self, path):
        self.path = str(path)

    def engine(self, *args, input=None, check=True, timeout=120):
        result = subprocess.run(
            [sys.executable, ENGINE, *args],
            cwd=self.path,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"engine {args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def git(self, *args):
        return git(self.path, *args)

    def write(self, name, text):
        full = os.path.join(self.path, name)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as handle:
            handle.write(text)

    def read(self, name):
        with open(os.path.join(self.path, name), encoding="utf-8") as handle:
            return handle.read()

    def exists(self, name):
        return os.path.exists(os.path.join(self.path, name))

    def commit(self, message, *files):
        self.git("add", *(files or ["-A"]))
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "--short=7", "HEAD").strip()

    def records(self, kind="experiment"):
        out = []
        with open(os.path.join(self.path, "autoresearch.jsonl"), encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                is_experiment = "type" not in record
                if kind == "all" or (kind == "experiment" and is_experiment) or record.get("type") == kind:
                    out.append(record)
        return out

    def log_bytes(self):
        path = os.path.join(self.path, "autoresearch.jsonl")
        with open(path, "rb") as handle:
            return handle.read()

    def set_value(self, value):
        """The benchmark below prints METRIC score=<contents of value.txt>."""
        self.write("value.txt", f"{value}\n")

    def status(self):
        return json.loads(self.engine("status", "--json").stdout)


BENCHMARK = """#!/usr/bin/env bash
set -e
echo "benchmarking"
echo "METRIC score=$(cat value.txt)"
echo "METRIC size_kb=12.5"
"""


def pid_alive(pid):
    """Whether process `pid` runs (a zombie, waiting for its parent to reap it, does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:][:1] != b"Z"
