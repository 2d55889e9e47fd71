"""`autoresearch finalize` on a session driven through the real loop: edit, commit, run, log, revert."""

import os
import subprocess
import sys

import pytest

from report_helpers import ENGINE, engine, git

BENCHMARK = """#!/usr/bin/env bash
set -e
if grep -q crash d.txt; then echo "the program crashed" >&2; exit 1; fi
awk '$1 == "cost" { total += $2 } END { print "METRIC score=" total }' a.txt b.txt c.txt d.txt
"""


def write(repo, name, text):
    with open(os.path.join(repo, name), "w", encoding="utf-8") as handle:
        handle.write(text)


def read_at(repo, rev, name):
    return git(repo, "show", f"{rev}:{name}")


def experiment(repo, description, changes, expect):
    for name, text in changes.items():
        write(repo, name, text)
    git(repo, "commit", "-q", "-am", description)
    proposed = engine(repo, "run", check=False)
    assert f": {expect}" in proposed.stdout, proposed.stdout + proposed.stderr
    engine(repo, "log", "--description", description)
    if expect != "keep":
        engine(repo, "revert")


def cost(value, note=""):
    return f"# tuning knob\ncost {value}\n{note}"


def make_session(tmp_path, checks=None):
    """main holds the harness (and `checks` as autoresearch.checks.sh); the session branch holds three kept
    groups, a discard and a crash."""
    repo = str(tmp_path / "project")
    os.makedirs(repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "test@example.com")
    git(repo, "config", "user.name", "Test")
    write(repo, "autoresearch.sh", BENCHMARK)
    if checks is not None:
        write(repo, "autoresearch.checks.sh", checks)
    for name in "abcd":
        write(repo, f"{name}.txt", cost(10))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "harness")
    git(repo, "checkout", "-q", "-b", "autoresearch/score")
    engine(repo, "init", "--deterministic", "--name", "Lower the score", "--metric-name", "score", "--unit", "pt", "--direction", "lower")
    git(repo, "commit", "-q", "--allow-empty", "-m", "baseline")
    engine(repo, "run")
    engine(repo, "log", "--description", "baseline")
    experiment(repo, "smaller a", {"a.txt": cost(8)}, "keep")                     # run 2
    experiment(repo, "bigger b", {"b.txt": cost(12, "bigger buffers\n")}, "discard")  # run 3
    experiment(repo, "cut c", {"c.txt": cost(7)}, "keep")                         # run 4
    experiment(repo, "even smaller a", {"a.txt": cost(6)}, "keep")                # run 5
    experiment(repo, "crashy d", {"d.txt": cost(1, "crash\n")}, "crash")          # run 6
    experiment(repo, "trim b", {"b.txt": cost(9, "trimmed\n")}, "keep")           # run 7
    return repo


@pytest.fixture
def session_repo(tmp_path):
    return make_session(tmp_path)


def branches(repo):
    return git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/").split()


def snapshot(repo):
    return (git(repo, "rev-parse", "HEAD"), git(repo, "symbolic-ref", "HEAD"), git(repo, "status", "--porcelain"),
            sorted(branches(repo)))


def test_finalize_makes_one_clean_branch_per_group(session_repo):
    repo = session_repo
    head, ref, status, _ = snapshot(repo)
    base = git(repo, "rev-parse", "main").strip()
    result = engine(repo, "finalize", "--yes")
    prefix = "autoresearch/final/lower-the-score"
    assert sorted(branches(repo)) == sorted(["main", "autoresearch/score", f"{prefix}-1", f"{prefix}-2", f"{prefix}-3"])
    assert "a.txt" in result.stdout and "left out: #1" in result.stdout
    # the session branch, HEAD and the working tree are untouched
    assert snapshot(repo)[:3] == (head, ref, status)

    groups = {}
    for n in (1, 2, 3):
        branch = f"{prefix}-{n}"
        assert git(repo, "rev-list", "--count", f"main..{branch}").strip() == "1"
        assert git(repo, "rev-parse", f"{branch}^").strip() == base
        changed = git(repo, "diff", "--name-only", "main", branch).split()
        groups[tuple(changed)] = branch
    assert set(groups) == {("a.txt",), ("c.txt",), ("b.txt",)}
    a, b, c = groups[("a.txt",)], groups[("b.txt",)], groups[("c.txt",)]
    assert read_at(repo, a, "a.txt") == cost(6)  # both kept changes to a.txt, in order
    assert read_at(repo, b, "b.txt") == cost(9, "trimmed\n")  # the kept change ...
    for branch in (a, b, c):
        assert "bigger buffers" not in read_at(repo, branch, "b.txt")  # ... and never the reverted one
        assert "crash" not in read_at(repo, branch, "d.txt")
    message = git(repo, "log", "-1", "--format=%B", a)
    assert message.startswith("smaller a; even smaller a\n\n")
    assert "metric: 40 → 33 pt" in message
    assert "- #2 smaller a" in message and "- #5 even smaller a" in message
    assert "trim b" in git(repo, "log", "-1", "--format=%B", b) and "metric: 40 → 32 pt" in git(repo, "log", "-1", "--format=%B", b)

    # each branch applies cleanly to main, and together they rebuild exactly the session's result
    worktree = os.path.join(os.path.dirname(repo), "check")
    git(repo, "worktree", "add", "-q", "-b", "together", worktree, "main")
    for branch in (a, b, c):
        assert subprocess.run(["git", "apply", "--check"], cwd=worktree, input=git(repo, "diff", "main", branch),
                              text=True).returncode == 0
        git(worktree, "merge", "-q", "--no-edit", branch)
    assert git(repo, "rev-parse", "together^{tree}") == git(repo, "rev-parse", "autoresearch/score^{tree}")


def test_squash_makes_one_branch_with_every_kept_change(session_repo):
    repo = session_repo
    engine(repo, "finalize", "--squash", "--yes")
    branch = "autoresearch/final/lower-the-score"
    assert branch in branches(repo)
    assert git(repo, "rev-list", "--count", f"main..{branch}").strip() == "1"
    assert git(repo, "rev-parse", f"{branch}^{{tree}}") == git(repo, "rev-parse", "autoresearch/score^{tree}")
    message = git(repo, "log", "-1", "--format=%B", branch)
    assert message.startswith("Lower the score: 4 kept experiments\n")
    assert "metric: 40 → 32 pt" in message
    assert "crashy d" not in message and "bigger b" not in message


def test_requested_groups(session_repo):
    repo = session_repo
    result = engine(repo, "finalize", "--group", "2,5", "--group", "4", "--prefix", "review/x", "--yes")
    assert sorted(b for b in branches(repo) if b.startswith("review/")) == ["review/x-1", "review/x-2"]
    assert git(repo, "diff", "--name-only", "main", "review/x-1").split() == ["a.txt"]
    assert git(repo, "diff", "--name-only", "main", "review/x-2").split() == ["c.txt"]
    assert "created review/x-1" in result.stdout


def test_conflicting_groups_are_refused(session_repo):
    repo = session_repo
    before = snapshot(repo)
    result = engine(repo, "finalize", "--group", "2,4", "--group", "5", "--yes", check=False)
    assert result.returncode == 2
    assert "a.txt" in result.stderr and "conflict" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(repo) == before


def test_a_group_that_needs_another_runs_change_is_refused(session_repo):
    repo = session_repo
    before = snapshot(repo)
    result = engine(repo, "finalize", "--group", "5", "--yes", check=False)
    assert result.returncode == 2 and "run #5" in result.stderr and "does not apply" in result.stderr
    assert snapshot(repo) == before


def test_refuses_a_dirty_tree(session_repo):
    repo = session_repo
    write(repo, "c.txt", cost(1))
    before = snapshot(repo)
    result = engine(repo, "finalize", "--yes", check=False)
    assert result.returncode == 2 and "uncommitted changes (c.txt)" in result.stderr
    assert snapshot(repo) == before


def test_without_yes_and_without_a_terminal_only_the_plan_is_shown(session_repo):
    repo = session_repo
    before = snapshot(repo)
    result = engine(repo, "finalize", check=False)
    assert result.returncode == 2 and "--yes" in result.stderr
    assert "#2" in result.stdout and "autoresearch/final/lower-the-score-1" in result.stdout
    dry = engine(repo, "finalize", "--dry-run")
    assert dry.stdout == result.stdout
    assert snapshot(repo) == before


def test_checks_run_on_each_new_branch(tmp_path):
    # on main, so every new branch has it; it passes during the session and, on the new branches, fails
    # where b.txt holds the trimmed version
    repo = make_session(tmp_path, 'echo checking "$(pwd)"\n'
                                  'case "$(pwd)" in */autoresearch-checks-*) ! grep -q trimmed b.txt ;; esac\n')
    result = engine(repo, "finalize", "--yes", check=False)
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("checks on ")]
    assert sorted(lines) == sorted(["checks on autoresearch/final/lower-the-score-1: passed",
                                    "checks on autoresearch/final/lower-the-score-2: passed",
                                    "checks on autoresearch/final/lower-the-score-3: FAILED"])
    assert "failed on autoresearch/final/lower-the-score-3" in result.stderr
    assert git(repo, "worktree", "list").count("\n") == 1  # no worktree is left registered


def test_existing_branch_and_missing_base_are_clear_errors(session_repo, tmp_path):
    repo = session_repo
    git(repo, "branch", "autoresearch/final/lower-the-score-2", "main")
    result = engine(repo, "finalize", "--yes", check=False)
    assert result.returncode == 2 and "exists already" in result.stderr
    assert "autoresearch/final/lower-the-score-1" not in branches(repo)
    git(repo, "branch", "-m", "main", "trunk")
    result = engine(repo, "finalize", "--yes", check=False)
    assert result.returncode == 2 and "--base" in result.stderr
    result = engine(repo, "finalize", "--base", "trunk", "--prefix", "done", "--yes")
    assert "done-1" in branches(repo)


def test_help_explains_the_options():
    out = engine(".", "finalize", "--help").stdout
    for text in ("--group", "--squash", "--base", "--yes", "--dry-run", "--prefix", "merge-base", "autoresearch.checks.sh"):
        assert text in out


def test_a_kept_run_reverted_later_is_left_out(session_repo):
    repo = session_repo
    engine(repo, "revert", "--force")  # takes back run 7, "trim b", although it was kept
    result = engine(repo, "finalize", "--yes")
    assert "#7 " in result.stdout and "reverted later" in result.stdout
    made = [b for b in branches(repo) if b.startswith("autoresearch/final/")]
    assert len(made) == 2
    for branch in made:
        assert "b.txt" not in git(repo, "diff", "--name-only", "main", branch).split()


@pytest.mark.parametrize("answer, created", [("y\n", True), ("n\n", False)])
def test_asks_on_a_terminal(session_repo, answer, created):
    import pty

    repo = session_repo
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, ENGINE, "finalize"], cwd=repo, stdin=secondary,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.write(primary, answer.encode())
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(primary)
        os.close(secondary)
    assert "Create 3 branch(es)? [y/N]" in out
    made = [b for b in branches(repo) if b.startswith("autoresearch/final/")]
    if created:
        assert proc.returncode == 0 and len(made) == 3, err
    else:
        assert proc.returncode == 1 and made == [] and "nothing created" in out


def test_unlogged_commits_are_named_and_left_out(session_repo):
    repo = session_repo
    write(repo, "d.txt", cost(10, "a manual edit\n"))
    git(repo, "commit", "-q", "-am", "manual edit, never measured")
    result = engine(repo, "finalize", "--dry-run")
    assert "'manual edit, never measured' is not a logged experiment" in result.stdout
    engine(repo, "finalize", "--squash", "--yes")
    assert "a manual edit" not in read_at(repo, "autoresearch/final/lower-the-score", "d.txt")
