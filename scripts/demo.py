#!/usr/bin/env python3
"""A demo of the whole autoresearch loop, driven through the engine exactly as an agent drives it.

    python3 scripts/demo.py [--workdir DIR] [--no-ml]

Part 1 needs only Python and git: a scratch git repository holds a small real benchmark (a sort
routine, measured by the comparisons it makes on fixed data, with a correctness check). The
demo runs the baseline, then four scripted candidate changes — one better, one worse, one that
crashes, one that fails autoresearch.checks.sh — and shows keep / discard / crash /
checks_failed, `status` and `resume`.

Part 2 trains a small GPT on the CPU with the autoresearch-ml template: it prepares the Python
standard library as a corpus, then runs one training experiment through the engine. It needs
torch, numpy, pyarrow, rustbpe and tiktoken; when they are missing, the demo installs them into
.venv (pip install -e '.[ml]'), and skips part 2 with the reason if that fails. --no-ml skips it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGINE = os.path.join(REPO, "skills", "autoresearch", "scripts", "autoresearch")
ML_ASSETS = os.path.join(REPO, "skills", "autoresearch-ml", "assets")
ML_MODULES = ("torch", "numpy", "pyarrow", "rustbpe", "tiktoken")

BENCH = '''\
"""Sorts fixed pseudo-random lists and reports how many comparisons the sort needed."""
import random
import time

import sort

class Counted:
    comparisons = 0
    def __init__(self, value):
        self.value = value
    def __lt__(self, other):
        Counted.comparisons += 1
        return self.value < other.value

rng = random.Random(1234)
data = [[Counted(rng.randint(0, 10_000)) for _ in range(300)] for _ in range(20)]
started = time.perf_counter()
for items in data:
    sort.sort(items)
print(f"METRIC comparisons={Counted.comparisons}")
print(f"METRIC time_ms={(time.perf_counter() - started) * 1000:.1f}")
'''

TEST = '''\
import random
import sort

rng = random.Random(7)
for size in (0, 1, 2, 5, 50, 301):
    items = [rng.randint(-50, 50) for _ in range(size)]
    assert sort.sort(list(items)) == sorted(items), f"wrong order for {size} items"
print("sort is correct")
'''

INSERTION = '''\
def sort(items):
    """Insertion sort."""
    for i in range(1, len(items)):
        current = items[i]
        j = i - 1
        while j >= 0 and current < items[j]:
            items[j + 1] = items[j]
            j -= 1
        items[j + 1] = current
    return items
'''

MERGE = '''\
def sort(items):
    """Merge sort."""
    if len(items) <= 1:
        return items
    middle = len(items) // 2
    left, right = sort(items[:middle]), sort(items[middle:])
    merged, i, j = [], 0, 0
    while i < len(left) and j < len(right):
        if right[j] < left[i]:
            merged.append(right[j])
            j += 1
        else:
            merged.append(left[i])
            i += 1
    merged.extend(left[i:])
    merged.extend(right[j:])
    items[:] = merged
    return items
'''

BUBBLE = '''\
def sort(items):
    """Bubble sort."""
    for end in range(len(items) - 1, 0, -1):
        for i in range(end):
            if items[i + 1] < items[i]:
                items[i], items[i + 1] = items[i + 1], items[i]
    return items
'''

CRASH = MERGE.replace("middle = len(items) // 2", "middle = len(itmes) // 2")

CHEAT = '''\
def sort(items):
    """Already sorted, surely."""
    return items
'''

# (description, code, ASI, the line of autoresearch.ideas.md it tries, ticked once tried)
CANDIDATES = [
    ("merge sort instead of insertion sort", MERGE, {"hypothesis": "O(n log n) comparisons beat O(n^2)"}, "merge sort"),
    ("bubble sort", BUBBLE, {"hypothesis": "fewer swaps", "result": "many more comparisons"}, "bubble sort"),
    ("merge sort with a typo", CRASH, {"error_details": "NameError: itmes"}, None),
    ("skip sorting entirely", CHEAT, {"hypothesis": "zero comparisons", "result": "fails the correctness check"}, None),
]


def banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def sh(cwd: str, *command: str, check: bool = True, show: bool = True, env=None) -> subprocess.CompletedProcess:
    shown = " ".join(shlex.quote(c) for c in command)
    shown = shown.replace(f"{shlex.quote(sys.executable)} {shlex.quote(ENGINE)}", "autoresearch")
    if show:
        print(f"$ {shown}", flush=True)
    result = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, env=env)
    if show:
        for stream in (result.stdout, result.stderr):
            if stream.strip():
                print(textwrap.indent(stream.rstrip(), "  "), flush=True)
    if check and result.returncode != 0:
        raise SystemExit(f"demo: '{shown}' failed with exit code {result.returncode}")
    return result


def engine(cwd: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh(cwd, sys.executable, ENGINE, *args, check=check)


def write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def new_repo(path: str) -> None:
    os.makedirs(path)
    for command in (["git", "init", "-q", "-b", "main"], ["git", "config", "user.email", "demo@autoresearch.local"],
                    ["git", "config", "user.name", "autoresearch demo"]):
        sh(path, *command, show=False)


def loop_demo(root: str) -> None:
    repo = os.path.join(root, "sort-project")
    new_repo(repo)
    banner("Part 1: the loop on a small real benchmark")
    write(os.path.join(repo, "sort.py"), INSERTION)
    write(os.path.join(repo, "bench.py"), BENCH)
    write(os.path.join(repo, "test_sort.py"), TEST)
    write(os.path.join(repo, "autoresearch.sh"), "#!/usr/bin/env bash\nset -euo pipefail\npython3 bench.py\n")
    write(os.path.join(repo, "autoresearch.checks.sh"), "#!/usr/bin/env bash\nset -euo pipefail\npython3 test_sort.py\n")
    write(os.path.join(repo, "autoresearch.md"), textwrap.dedent("""\
        # Goal
        Fewer comparisons in sort.sort on bench.py's fixed data, without breaking test_sort.py.
        ## Files in scope
        sort.py
        ## Learnings
        """))
    write(os.path.join(repo, "autoresearch.ideas.md"), "- [ ] merge sort\n- [ ] bubble sort\n- [ ] binary insertion\n")
    print(f"scratch repository: {repo}")
    sh(repo, "git", "add", "sort.py", "bench.py", "test_sort.py", "autoresearch.sh", "autoresearch.checks.sh")
    sh(repo, "git", "commit", "-q", "-m", "insertion sort with its benchmark and checks")
    engine(repo, "init", "--deterministic", "--name", "fewer comparisons in sort", "--metric-name", "comparisons", "--unit", "",
           "--direction", "lower")
    engine(repo, "run")
    engine(repo, "log", "--description", "baseline: insertion sort", "--asi", '{"hypothesis": "starting point"}')

    import json

    for description, code, asi, idea in CANDIDATES:
        banner(f"candidate: {description}")
        write(os.path.join(repo, "sort.py"), code)
        sh(repo, "git", "commit", "-q", "-am", f"experiment: {description}")
        engine(repo, "run")
        engine(repo, "log", "--description", description, "--asi", json.dumps(asi))
        last = json.loads(sh(repo, sys.executable, ENGINE, "status", "--json", show=False).stdout)["last_runs"][-1]
        if last["status"] != "keep":
            engine(repo, "revert")
        if idea:  # as the skill asks: a tried idea is ticked, so that resume no longer offers it
            ideas = os.path.join(repo, "autoresearch.ideas.md")
            with open(ideas, encoding="utf-8") as handle:
                text = handle.read()
            write(ideas, text.replace(f"- [ ] {idea}\n", f"- [x] {idea}\n"))

    banner("status")
    engine(repo, "status")
    banner("resume (what a fresh agent reads after a context reset)")
    engine(repo, "resume")
    banner("git history: kept commits stay, discarded ones are reverted")
    sh(repo, "git", "log", "--oneline")
    statuses = [json.loads(line)["status"] for line in open(os.path.join(repo, "autoresearch.jsonl"))
                if '"run"' in line]
    expected = ["keep", "keep", "discard", "crash", "checks_failed"]
    if statuses != expected:
        raise SystemExit(f"demo: expected the outcomes {expected}, got {statuses}")
    print(f"\noutcomes: {', '.join(statuses)} — as expected")


def find_ml_python(install: bool):
    candidates = [sys.executable, os.path.join(REPO, ".venv", "bin", "python")]
    probe = "import importlib.util, sys; sys.exit(0 if all(importlib.util.find_spec(m) for m in %r) else 1)" % (ML_MODULES,)
    for python in candidates:
        if os.path.exists(python) and subprocess.run([python, "-c", probe]).returncode == 0:
            return python, None
    if not install:
        return None, "the ML packages are not installed"
    venv = os.path.join(REPO, ".venv")
    python = os.path.join(venv, "bin", "python")
    print(f"installing the ML packages into {venv} (pip install -e '.[ml]'; torch is large: minutes, "
          "pip's progress follows) …", flush=True)
    if not os.path.exists(python):
        if subprocess.run([sys.executable, "-m", "venv", venv]).returncode != 0:
            return None, "could not create .venv"
    started = time.monotonic()
    pip = subprocess.Popen([python, "-m", "pip", "install", "--progress-bar", "off", "--disable-pip-version-check",
                            "--retries", "1", "--timeout", "15", "-e", f"{REPO}[ml]"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    last = "no output"
    for line in pip.stdout:
        if line.strip():
            last = line.strip()
        if not line.startswith("Requirement already satisfied"):
            print(f"  {line.rstrip()}", flush=True)
    if pip.wait() != 0:
        return None, f"pip could not install the ML packages ({last})"
    print(f"installed in {time.monotonic() - started:.0f} s", flush=True)
    return python, None


def ml_demo(root: str, install: bool) -> None:
    banner("Part 2: one CPU training experiment with the autoresearch-ml template")
    if not os.path.isfile(os.path.join(ML_ASSETS, "train.py")):
        print("skipped: the ML template is not in this checkout.")
        return
    python, reason = find_ml_python(install)
    if python is None:
        print(f"skipped: {reason}. Install them with: python3 -m pip install -e '.[ml]'")
        return
    repo = os.path.join(root, "ml-project")
    new_repo(repo)
    for name in ("prepare.py", "train.py", "machine.py", "program.md"):
        if os.path.exists(os.path.join(ML_ASSETS, name)):
            shutil.copy(os.path.join(ML_ASSETS, name), repo)
    env = dict(os.environ, AUTORESEARCH_CACHE_DIR=os.path.join(root, "cache"), PYTHONUNBUFFERED="1")
    write(os.path.join(repo, "autoresearch.sh"),
          f"#!/usr/bin/env bash\nset -euo pipefail\nexport AUTORESEARCH_CACHE_DIR={shlex.quote(env['AUTORESEARCH_CACHE_DIR'])}\n"
          f"{shlex.quote(python)} train.py\n")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-q", "-m", "autoresearch-ml template")
    started = time.monotonic()
    sh(repo, python, "prepare.py", "--source", "stdlib", "--profile", "cpu", env=env)
    engine(repo, "init", "--name", "lower val_bpb on the CPU", "--metric-name", "val_bpb", "--unit", "bpb",
           "--direction", "lower")
    # one training run is the whole experiment here; a real session takes 5 baseline samples (see SKILL.md)
    engine(repo, "run", "--timeout", "300", "--baseline-repeat", "1")
    engine(repo, "log", "--description", "baseline: the template as shipped")
    with open(os.path.join(repo, "run.log"), encoding="utf-8", errors="replace") as handle:
        summary = [line.rstrip() for line in handle if line.startswith(("val_bpb:", "training_seconds:", "num_steps:"))]
    print("\n".join(summary))
    print(f"part 2 took {time.monotonic() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", help="where to create the scratch repositories (default: a new temp folder)")
    parser.add_argument("--no-ml", action="store_true", help="skip part 2, the CPU training experiment")
    parser.add_argument("--no-install", action="store_true", help="do not install the ML packages when missing")
    args = parser.parse_args()
    for tool in ("git",):
        if shutil.which(tool) is None:
            raise SystemExit(f"demo: {tool} is not installed; install it and run the demo again.")
    root = os.path.abspath(args.workdir) if args.workdir else tempfile.mkdtemp(prefix="autoresearch-demo-")
    if os.path.exists(root) and os.listdir(root):
        raise SystemExit(f"demo: {root} is not empty; pass an empty or new --workdir.")
    os.makedirs(root, exist_ok=True)
    started = time.monotonic()
    loop_demo(root)
    if not args.no_ml:
        ml_demo(root, install=not args.no_install)
    print(f"\ndemo finished in {time.monotonic() - started:.0f} s; files are in {root}")


if __name__ == "__main__":
    main()
