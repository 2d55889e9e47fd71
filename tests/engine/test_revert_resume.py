"""Discarding an experiment without losing anything, and picking the session up after a reset."""

import json


SESSION_FILES = {
    "autoresearch.md": "# Goal\nmake score small\n## Learnings\n- smaller values win\n",
    "autoresearch.ideas.md": "- [ ] try 42\n- [x] tried 7\n- halve it\n",
    ".claude/autoresearch.local.md": "---\nmax_iterations: 50\ndeterministic: true\n---\nnotes\n",
}


def baseline(session):
    session.engine("run")
    session.engine("log", "--description", "baseline", "--asi", '{"hypothesis": "starting point"}')


def discard_experiment(session, value=150, description="worse"):
    session.set_value(value)
    sha = session.commit(description)
    session.engine("run")
    session.engine("log", "--description", description, "--asi", json.dumps({"result": f"{description} lost"}))
    return sha


def test_revert_keeps_session_files_and_history(session):
    for name, text in SESSION_FILES.items():
        session.write(name, text)
    baseline(session)
    sha = discard_experiment(session)
    log_before = session.log_bytes()
    run_log_before = session.read("run.log")
    out = session.engine("revert").stdout
    assert out.startswith(f"Reverted {sha}")
    assert session.read("value.txt") == "100\n"
    assert session.git("log", "-1", "--format=%B").strip().endswith(f"This reverts commit {session.git('rev-parse', sha).strip()}.")
    assert sha in session.git("log", "--format=%h")  # the experiment's diff stays in history
    for name, text in SESSION_FILES.items():
        assert session.read(name) == text
    assert session.log_bytes() == log_before and session.read("run.log") == run_log_before


def test_revert_restores_session_files_an_experiment_commit_swept_in(session):
    baseline(session)
    session.set_value(150)
    session.write("autoresearch.md", "notes v1\n")
    session.git("add", "-f", "autoresearch.md", "value.txt")  # a careless `git add -f`
    session.git("commit", "-q", "-m", "experiment that swept in the notes")
    session.write("autoresearch.md", "notes v2, written after the commit\n")
    session.engine("run")
    session.engine("log", "--description", "swept")
    session.engine("revert")
    assert session.read("autoresearch.md") == "notes v2, written after the commit\n"
    assert session.read("value.txt") == "100\n"


def test_revert_refuses_over_uncommitted_edits(session):
    baseline(session)
    discard_experiment(session)
    session.write("README.md", "an edit the user has not committed\n")
    head = session.git("rev-parse", "HEAD")
    result = session.engine("revert", check=False)
    assert result.returncode == 2 and "uncommitted changes would be lost: README.md" in result.stderr
    assert session.git("rev-parse", "HEAD") == head
    assert session.read("README.md") == "an edit the user has not committed\n"


def test_revert_refuses_kept_unlogged_and_already_reverted(session):
    result = session.engine("revert", check=False)
    assert result.returncode == 2 and "first commit" in result.stderr
    session.set_value(101)
    session.commit("a second commit, so that HEAD has a parent")
    baseline(session)
    result = session.engine("revert", check=False)
    assert result.returncode == 2 and "logged as kept" in result.stderr
    session.set_value(150)
    session.commit("unlogged")
    session.engine("run")
    result = session.engine("revert", check=False)
    assert result.returncode == 2 and "measured but not logged" in result.stderr
    session.engine("log", "--description", "now logged")
    session.engine("revert")
    result = session.engine("revert", check=False)
    assert result.returncode == 2 and "already a revert" in result.stderr


def test_resume_after_a_simulated_context_reset(session):
    for name, text in SESSION_FILES.items():
        session.write(name, text)
    baseline(session)
    discard_experiment(session, 150, "double it")
    session.engine("revert")
    session.set_value(80)
    session.commit("shrink")
    session.engine("run")
    session.engine("log", "--description", "shrink to 80", "--asi", '{"next_action_hint": "try 60"}')
    # a fresh agent knows nothing: everything must come from the files
    text = session.engine("resume").stdout
    assert "# autoresearch resume: make score small" in text
    assert "metric score (pt, lower is better)" in text
    assert "best 80 pt (run 3: shrink to 80)" in text
    assert "git: HEAD" in text and "matches the log" in text
    assert "smaller values win" in text  # autoresearch.md
    assert "    next_action_hint: try 60" in text and "double it lost" in text  # ASI of the last runs
    assert "- [ ] try 42" in text and "halve it" in text and "tried 7" not in text  # open ideas only
    assert "iterations: 3 of 50 used, 47 left" in text


def test_resume_warns_about_unlogged_and_unreverted_commits(session):
    baseline(session)
    session.set_value(70)
    sha = session.commit("experiment never logged")
    text = session.engine("resume").stdout
    assert "WARNING 1 commit(s) after the last logged run were never logged" in text and sha in text
    session.engine("run")
    session.engine("log", "--status", "discard", "--description", "logged after all")
    text = session.engine("resume").stdout
    assert "was never reverted" in text
    session.engine("revert")
    assert "matches the log" in session.engine("resume").stdout


def test_resume_mentions_a_pending_result(session):
    baseline(session)
    session.set_value(60)
    session.commit("pending")
    session.engine("run")
    text = session.engine("resume").stdout
    assert "is not logged; run 'autoresearch log'" in text


def test_resume_and_status_without_a_session(project):
    assert "no autoresearch session here" in project.engine("resume").stdout
    data = project.status()
    assert data["exists"] is False and data["runs"] == 0 and data["best"] is None
