"""The plugin hooks, fed the JSON Claude Code sends on stdin, in real git projects with real engine sessions."""

import json
import os
import subprocess
import sys

import pytest

from skilldocs import REPO, SCHEMAS_MISSING, SHARED_SCHEMAS, git_env, make_project

HOOKS = os.path.join(REPO, "hooks")
RUN_HOOK = os.path.join(HOOKS, "run-hook.sh")
ENGINE = os.path.join(REPO, "skills", "autoresearch", "scripts", "autoresearch")
sys.path.insert(0, os.path.join(REPO, "skills", "autoresearch", "scripts"))
from autoresearch_engine import hooks_support, sessionfiles  # noqa: E402


def hook(event, payload, cwd, env=None):
    """Run a hook exactly as hooks.json does (bash run-hook.sh EVENT), the payload on stdin."""
    command = hooks_json()["hooks"]["Stop" if event == "stop" else "SessionStart"][0]["hooks"][0]["command"]
    command = command.replace("${CLAUDE_PLUGIN_ROOT}", REPO)
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return subprocess.run(["bash", "-c", command], input=text, cwd=cwd, env=git_env(env), capture_output=True,
                          text=True, timeout=60)


def hooks_json():
    with open(os.path.join(HOOKS, "hooks.json"), encoding="utf-8") as handle:
        return json.load(handle)


def stop_payload(cwd, active=False):
    return {"session_id": "s1", "transcript_path": "/nonexistent/t.jsonl", "cwd": cwd,
            "permission_mode": "default", "hook_event_name": "Stop", "stop_hook_active": active}


def start_payload(cwd, source):
    return {"session_id": "s1", "transcript_path": "/nonexistent/t.jsonl", "cwd": cwd,
            "hook_event_name": "SessionStart", "source": source}


def engine(cwd, *args, check=True):
    result = subprocess.run([sys.executable, ENGINE, *args], cwd=cwd, env=git_env(), capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{args}: {result.stdout}{result.stderr}")
    return result


BENCH = "#!/usr/bin/env bash\nset -e\necho \"METRIC score=$(cat value.txt)\"\n"


def commit(cwd, message):
    env = git_env()
    subprocess.run(["git", "add", "-A"], cwd=cwd, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", message], cwd=cwd, check=True, env=env)


def experiment(cwd, value, description):
    with open(os.path.join(cwd, "value.txt"), "w") as handle:
        handle.write(f"{value}\n")
    commit(cwd, f"experiment: {description}")
    engine(cwd, "run")
    engine(cwd, "log", "--description", description)


@pytest.fixture
def project(tmp_path):
    path = str(tmp_path / "project")
    os.makedirs(path)
    make_project(path)
    with open(os.path.join(path, "autoresearch.sh"), "w") as handle:
        handle.write(BENCH)
    with open(os.path.join(path, "value.txt"), "w") as handle:
        handle.write("100\n")
    commit(path, "harness")
    return path


@pytest.fixture
def session(project):
    engine(project, "init", "--deterministic", "--name", "small score", "--metric-name", "score", "--direction", "lower")
    experiment(project, 100, "baseline")
    return project


def snapshot(path):
    """Every file under path (outside .git) with its content, to prove what a hook wrote."""
    files = {}
    for root, dirs, names in os.walk(path):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            full = os.path.join(root, name)
            with open(full, "rb") as handle:
                files[os.path.relpath(full, path)] = handle.read()
    return files


def test_hooks_json_is_valid_plugin_hooks_config():
    config = hooks_json()
    assert set(config["hooks"]) == {"Stop", "SessionStart"}
    assert config["hooks"]["SessionStart"][0]["matcher"] == "compact|resume"
    for groups in config["hooks"].values():
        for group in groups:
            for entry in group["hooks"]:
                assert entry["type"] == "command" and "${CLAUDE_PLUGIN_ROOT}/hooks/" in entry["command"]
                assert 0 < entry["timeout"] <= 60
    schema_path = os.path.join(SHARED_SCHEMAS, "claude-code-plugin-manifest.json")
    if not os.path.isfile(schema_path):
        pytest.skip(SCHEMAS_MISSING)
    import jsonschema

    with open(schema_path, encoding="utf-8") as handle:
        schema = json.load(handle)
    # the manifest schema's inline `hooks` object is the same format as hooks/hooks.json's "hooks"
    jsonschema.validate({"name": "x", "hooks": config["hooks"]}, schema)
    with open(os.path.join(REPO, ".claude-plugin", "plugin.json"), encoding="utf-8") as handle:
        assert "hooks" not in json.load(handle), "hooks/hooks.json loads by itself; listing it again duplicates it"


@pytest.mark.parametrize("event,payload", [("stop", "stop"), ("session_start", "compact"), ("stop", "garbage")])
def test_no_session_means_silence_and_no_writes(tmp_path, event, payload):
    project = str(tmp_path)
    make_project(project)
    before = snapshot(project)
    if payload == "stop":
        data = stop_payload(project)
    elif payload == "garbage":
        data = "not json at all {"
    else:
        data = start_payload(project, payload)
    result = hook(event, data, project)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert snapshot(project) == before


def test_stop_blocks_with_the_resume_brief_while_a_session_runs(session):
    result = hook("stop", stop_payload(session), cwd="/")
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["decision"] == "block"
    assert "still running" in decision["reason"] and "small score" in decision["reason"]
    assert "# autoresearch resume: small score" in decision["reason"], "the resume summary is handed over"


def test_stop_cap_lets_the_stop_through_after_repeated_blocks_without_progress(session):
    decisions = []
    for active in (False, True, True, True, True):
        result = hook("stop", stop_payload(session, active=active), session)
        decisions.append(json.loads(result.stdout)["decision"] if result.stdout.strip() else "allow")
    assert decisions == ["block", "block", "block", "allow", "allow"]
    # a logged experiment is progress: the loop is kept going again
    experiment(session, 90, "smaller")
    result = hook("stop", stop_payload(session, active=True), session)
    assert json.loads(result.stdout)["decision"] == "block"
    # a new turn (stop_hook_active false) starts the count again
    for _ in range(3):
        hook("stop", stop_payload(session, active=True), session)
    assert hook("stop", stop_payload(session, active=True), session).stdout == ""
    assert json.loads(hook("stop", stop_payload(session, active=False), session).stdout)["decision"] == "block"


def test_stop_lets_through_after_cancel_and_the_history_stays(session):
    experiment(session, 90, "smaller")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=session, capture_output=True, text=True).stdout
    lines = open(os.path.join(session, "autoresearch.jsonl")).read().splitlines()
    engine(session, "cancel")
    after = open(os.path.join(session, "autoresearch.jsonl")).read().splitlines()
    assert after[: len(lines)] == lines and len(after) == len(lines) + 1
    assert subprocess.run(["git", "rev-parse", "HEAD"], cwd=session, capture_output=True, text=True).stdout == head
    assert "enabled: false" in open(os.path.join(session, ".claude", "autoresearch.local.md")).read()
    for payload in (stop_payload(session), stop_payload(session, active=True)):
        result = hook("stop", payload, session)
        assert (result.returncode, result.stdout) == (0, "")
    assert hook("session_start", start_payload(session, "compact"), session).stdout == ""
    engine(session, "init", "--continue")
    assert json.loads(hook("stop", stop_payload(session), session).stdout)["decision"] == "block"


def test_stop_lets_through_when_enabled_is_false(session):
    path = os.path.join(session, ".claude", "autoresearch.local.md")
    text = open(path).read().replace("enabled: true", "enabled: false")
    open(path, "w").write(text)
    assert hook("stop", stop_payload(session), session).stdout == ""


def test_stop_lets_through_when_max_iterations_is_reached(project):
    engine(project, "init", "--deterministic", "--name", "small score", "--metric-name", "score", "--direction", "lower",
           "--max-iterations", "2")
    experiment(project, 100, "baseline")
    assert json.loads(hook("stop", stop_payload(project), project).stdout)["decision"] == "block"
    experiment(project, 90, "smaller")
    assert engine(project, "run", check=False).returncode == 3
    assert hook("stop", stop_payload(project), project).stdout == ""


def test_stop_lets_through_after_consecutive_crashes(session):
    with open(os.path.join(session, "autoresearch.sh"), "a") as handle:
        handle.write("exit 1\n")
    commit(session, "experiment: break the benchmark")
    for number in range(hooks_support.CRASH_LIMIT):
        engine(session, "run")
        engine(session, "log", "--description", f"crash {number}")
        reason = hook("stop", stop_payload(session), session).stdout
        if number < hooks_support.CRASH_LIMIT - 1:
            assert json.loads(reason)["decision"] == "block"
    assert hook("stop", stop_payload(session), session).stdout == ""


def test_session_start_injects_the_resume_brief_after_compact_and_resume(session):
    for source in ("compact", "resume"):
        result = hook("session_start", start_payload(session, source), session)
        out = json.loads(result.stdout)["hookSpecificOutput"]
        assert out["hookEventName"] == "SessionStart"
        assert "# autoresearch resume: small score" in out["additionalContext"]
        assert "#1 keep 100" in out["additionalContext"]
    for source in ("startup", "clear"):
        assert hook("session_start", start_payload(session, source), session).stdout == ""


def test_hooks_honour_working_dir_and_the_project_dir_variable(project):
    sub = os.path.join(project, "bench")
    os.makedirs(sub)
    os.rename(os.path.join(project, "autoresearch.sh"), os.path.join(sub, "autoresearch.sh"))
    os.rename(os.path.join(project, "value.txt"), os.path.join(sub, "value.txt"))
    os.makedirs(os.path.join(project, ".claude"))
    with open(os.path.join(project, ".claude", "autoresearch.local.md"), "w") as handle:
        handle.write("---\nenabled: true\nworking_dir: bench\n---\n")
    commit(project, "move the harness")
    engine(project, "init", "--deterministic", "--name", "small score", "--metric-name", "score", "--direction", "lower")
    assert os.path.isfile(os.path.join(sub, "autoresearch.jsonl"))
    assert json.loads(hook("stop", stop_payload(project), project).stdout)["decision"] == "block"
    # the agent cd'ed into a folder of its own: the project root comes from CLAUDE_PROJECT_DIR
    elsewhere = os.path.join(project, "tests")
    result = hook("stop", stop_payload(elsewhere), elsewhere, env={"CLAUDE_PROJECT_DIR": project})
    assert json.loads(result.stdout)["decision"] == "block"
    assert hook("stop", stop_payload(elsewhere), elsewhere).stdout == ""


def test_hooks_write_only_session_files(session):
    before = snapshot(session)
    hook("stop", stop_payload(session), session)
    hook("stop", stop_payload(session, active=True), session)
    hook("session_start", start_payload(session, "compact"), session)
    after = snapshot(session)
    changed = {path for path in set(before) | set(after) if before.get(path) != after.get(path)}
    assert changed == {sessionfiles.HOOKS_STATE_NAME}
    assert changed <= set(sessionfiles.SESSION_FILES)


def test_the_bash_gate_looks_for_the_session_files_the_engine_names():
    with open(os.path.join(REPO, "hooks", "run-hook.sh"), encoding="utf-8") as handle:
        gate = handle.read()
    for name in (sessionfiles.LOG_NAME, sessionfiles.CONFIG_RELPATH.replace(os.sep, "/")):
        assert f"$dir/{name}" in gate, f"hooks/run-hook.sh does not look for {name}"


def test_a_cancelled_log_alone_ends_the_loop(session):
    """The log's cancelled marker counts even where the settings file still says enabled: true."""
    engine(session, "cancel")
    path = os.path.join(session, ".claude", "autoresearch.local.md")
    text = open(path).read().replace("enabled: false", "enabled: true")
    open(path, "w").write(text)
    assert hook("stop", stop_payload(session), session).stdout == ""
    assert hook("session_start", start_payload(session, "resume"), session).stdout == ""


def test_without_a_session_python_is_never_started(tmp_path, session):
    """The fast path is bash alone: a python3 that only leaves a mark shows whether Python was started."""
    fake = tmp_path / "fakebin"
    fake.mkdir()
    mark = tmp_path / "python-started"
    (fake / "python3").write_text(f"#!/bin/sh\ntouch '{mark}'\nexit 0\n")
    (fake / "python3").chmod(0o755)
    env = {"PATH": f"{fake}{os.pathsep}{os.environ.get('PATH', '')}"}
    empty = str(tmp_path / "empty")
    os.makedirs(empty)
    for event, payload in (("stop", stop_payload(empty)), ("session_start", start_payload(empty, "compact"))):
        result = hook(event, payload, empty, env=env)
        assert (result.returncode, result.stdout) == (0, "")
    assert not mark.exists()
    hook("stop", stop_payload(session), session, env=env)
    assert mark.exists(), "with a session the gate hands over to Python"


@pytest.mark.parametrize("event", ["stop", "session_start"])
@pytest.mark.parametrize("payload", ["[" * 100000, '{"cwd": ' + "[" * 100000 + "]" * 100000 + "}",
                                     '{"cwd": "\\ud800"}', '{"cwd": "a\\u0000b"}', "\xff\xfe not json"])
def test_hostile_payloads_are_silence_not_a_traceback(session, event, payload):
    result = hook(event, payload, session)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_a_json_escaped_cwd_reaches_the_session(tmp_path, project):
    """Claude Code may write a non-ASCII cwd as \\u escapes; the bash gate must not miss the session there."""
    unusual = str(tmp_path / "prüfung \"quoted\" \\ back")
    os.rename(project, unusual)
    engine(unusual, "init", "--name", "small score", "--metric-name", "score", "--direction", "lower")
    experiment(unusual, 100, "baseline")
    elsewhere = str(tmp_path / "elsewhere")
    os.makedirs(elsewhere)
    text = json.dumps(stop_payload(unusual), ensure_ascii=True)
    assert "\\u00fc" in text
    result = hook("stop", text, elsewhere)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["decision"] == "block"
