"""Every shell block the SKILL.md files and the README show runs, in a temporary project, in every install
layout: the plugin root, each skill folder copied alone (npx skills add), clone-and-copy, and SKILL.md alone
(npx mdskills install), where the fetch instructions must bring the rest."""

import json
import os
import subprocess
import sys

import pytest
from autoresearch_engine import config

from skilldocs import (REPO, bash_blocks, engine_version, git_env, install_skill_alone, install_skill_md_only, make_clone,
                       make_git_remote, make_project, plugin_repository, read, run_block, run_doc)

ML_TEMPLATE = ("prepare.py", "train.py", "machine.py", "program.md", "pyproject.toml")
LAYOUTS = ("plugin-root", "skills-add", "clone-and-copy")


def install(layout, tmp_path, project, names=("autoresearch", "autoresearch-ml")):
    """Install the skills the way `layout` does; the folder of each installed skill."""
    if layout == "plugin-root":
        root = make_clone(str(tmp_path / "plugin"))
        return {name: os.path.join(root, "skills", name) for name in names}
    if layout == "skills-add":
        return {name: install_skill_alone(name, project) for name in names}
    if layout == "clone-and-copy":
        clone = make_clone(str(tmp_path / "clone"))
        os.makedirs(os.path.join(project, ".claude", "skills"), exist_ok=True)
        for name in names:
            subprocess.run(["cp", "-R", os.path.join(clone, "skills", name), os.path.join(project, ".claude", "skills")],
                           check=True)
        return {name: os.path.join(project, ".claude", "skills", name) for name in names}
    raise ValueError(layout)


@pytest.fixture
def project(tmp_path):
    return make_project(str(tmp_path / "project"))


def records(project):
    with open(os.path.join(project, "autoresearch.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_autoresearch_skill_commands_run(layout, tmp_path, project):
    skill_dir = install(layout, tmp_path, project)["autoresearch"]
    outputs = run_doc(read(os.path.join(skill_dir, "SKILL.md")), project, skill_dir)
    assert "MISSING" not in outputs[0][1] and "autoresearch " in outputs[0][1]
    log = records(project)
    experiments = [r for r in log if "run" in r]
    assert experiments and experiments[0]["status"] == "keep" and experiments[0]["metric"] > 0
    states = [r["state"] for r in log if r.get("type") == "status"]
    assert "cancelled" in states and states[-1] == "running", "the doc cancels, then reopens"
    assert sum(1 for r in log if r.get("type") == "config") >= 1
    text = "\n".join(out for _, out in outputs)
    assert "faster unit tests" in text


def _ml_template_complete():
    missing = [f for f in ML_TEMPLATE if not os.path.isfile(os.path.join(REPO, "skills", "autoresearch-ml", "assets", f))]
    if missing:
        pytest.skip(f"the ML template is not complete yet (assets missing: {', '.join(missing)}); nothing to do: "
                    "this check runs once the template holds them")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_ml_skill_commands_run_beside_the_engine(layout, tmp_path, project):
    _ml_template_complete()
    skill_dir = install(layout, tmp_path, project)["autoresearch-ml"]
    outputs = run_doc(read(os.path.join(skill_dir, "SKILL.md")), project, skill_dir)
    assert "ml template: ok" in outputs[0][1] and "MISSING" not in outputs[0][1]
    config = [r for r in records(project) if r.get("type") == "config"]
    assert config[0]["metricName"] == "val_bpb" and config[0]["bestDirection"] == "lower"
    for name in ML_TEMPLATE + ("autoresearch.sh",):
        assert subprocess.run(["git", "ls-files", "--error-unmatch", name], cwd=project,
                              capture_output=True).returncode == 0, f"{name} is committed"


def test_ml_skill_installed_alone_says_the_engine_is_missing(project):
    skill_dir = install_skill_alone("autoresearch-ml", project)
    first = [code for runnable, code in bash_blocks(read(os.path.join(skill_dir, "SKILL.md"))) if runnable][0]
    result = run_block(first, project, skill_dir)
    assert result.returncode == 0
    assert "ml template: ok" in result.stdout
    assert "autoresearch engine MISSING: install the autoresearch skill beside this one" in result.stdout


@pytest.mark.parametrize("name", ["autoresearch", "autoresearch-ml"])
def test_skill_md_alone_gets_fetch_instructions_that_work(name, tmp_path, project):
    skill_dir = install_skill_md_only(name, project)
    text = read(os.path.join(skill_dir, "SKILL.md"))
    blocks = bash_blocks(text)
    first = [code for runnable, code in blocks if runnable][0]
    result = run_block(first, project, skill_dir)
    assert result.returncode == 0 and "MISSING" in result.stdout and "fetch the whole bundle" in result.stdout
    # the git fetch, with the public address pointed at a local copy of this repository
    url = plugin_repository()
    fetch = [code for runnable, code in blocks if not runnable and "git clone" in code]
    assert len(fetch) == 1 and url in fetch[0]
    remote = make_git_remote(str(tmp_path / "remote"))
    bundle = str(tmp_path / "bundle")
    result = run_block(fetch[0], project, skill_dir, substitutions=[(url, remote), ("/tmp/autoresearch-bundle", bundle)])
    assert result.returncode == 0, result.stderr
    # now the installed SKILL.md is the full one and its own commands run
    text = read(os.path.join(skill_dir, "SKILL.md"))
    if name == "autoresearch-ml":
        _ml_template_complete()
    outputs = run_doc(text, project, skill_dir)
    assert "MISSING" not in outputs[0][1]


README_SELF = ("scripts/test.sh", "scripts/demo.py")


def test_readme_commands_run(tmp_path):
    text = read(os.path.join(REPO, "README.md"))
    blocks = bash_blocks(text)
    assert blocks, "the README shows its commands in ```bash blocks"
    for runnable, code in blocks:
        if runnable and any(name in code for name in README_SELF):
            pytest.fail(f"README.md: put '<!-- no-run -->' on the line before the block running {code.strip()!r}: "
                        "it runs the test suite or the demo, which the tests must not run inside themselves")
    clone = make_clone(str(tmp_path / "clone"))
    for number, (runnable, code) in enumerate(blocks, start=1):
        if runnable:
            result = run_block(code, clone)
            assert result.returncode == 0, f"README block {number} failed:\n{code}\n{result.stdout}\n{result.stderr}"


@pytest.mark.skipif(os.environ.get("AUTORESEARCH_TEST_NPX") != "1",
                    reason="the real `npx skills add` needs npm and the network; set AUTORESEARCH_TEST_NPX=1 to run it")
def test_real_npx_skills_add_install_runs_the_documented_commands(tmp_path, project):
    remote = make_git_remote(str(tmp_path / "remote"))
    result = subprocess.run(["npx", "--yes", "skills", "add", remote, "--skill", "autoresearch", "--skill",
                             "autoresearch-ml", "-a", "claude-code", "-y"], cwd=project, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    skill_dir = os.path.join(project, ".claude", "skills", "autoresearch")
    outputs = run_doc(read(os.path.join(skill_dir, "SKILL.md")), project, skill_dir)
    assert "MISSING" not in outputs[0][1]
    ml_dir = os.path.join(project, ".claude", "skills", "autoresearch-ml")
    first = [code for runnable, code in bash_blocks(read(os.path.join(ml_dir, "SKILL.md"))) if runnable][0]
    assert "MISSING" not in run_block(first, project, ml_dir).stdout


def test_ml_benchmark_runs_the_project_environment_on_the_dataset_named_at_setup(tmp_path, project, monkeypatch):
    _ml_template_complete()
    cache = str(tmp_path / "the-session-cache")
    monkeypatch.setenv("AUTORESEARCH_CACHE_DIR", cache)
    skill_dir = install("plugin-root", tmp_path, project)["autoresearch-ml"]
    run_doc(read(os.path.join(skill_dir, "SKILL.md")), project, skill_dir)
    settings = config.load(project)
    assert (settings.baseline_repeat, settings.max_pairs) == (3, 4)
    with open(os.path.join(project, "train.py"), "w", encoding="utf-8") as handle:
        handle.write("import os, sys\nprint(sys.prefix)\nprint(os.environ['AUTORESEARCH_CACHE_DIR'])\n")
    # uv on PATH must not be what runs train.py: `uv run` syncs, and on a CPU machine that replaces torch
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uv").write_text(f"#!/bin/sh\ntouch {tmp_path / 'uv-was-called'}\nexit 1\n")
    (bin_dir / "uv").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "AUTORESEARCH_CACHE_DIR"}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"

    def bench():
        result = subprocess.run(["bash", "autoresearch.sh"], cwd=project, env=env, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    prefix, used_cache = bench()
    assert used_cache == cache and not prefix.startswith(project)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", os.path.join(project, ".venv")], check=True)
    prefix, used_cache = bench()
    assert prefix == os.path.join(project, ".venv") and used_cache == cache
    assert not (tmp_path / "uv-was-called").exists()


def test_engine_check_finds_the_skill_folder_when_the_host_leaves_claude_skill_dir_empty(tmp_path, project):
    skill_dir = install("skills-add", tmp_path, project)["autoresearch"]
    first = [code for runnable, code in bash_blocks(read(os.path.join(skill_dir, "SKILL.md"))) if runnable][0]
    env = dict(git_env(), HOME=str(tmp_path / "home"))
    env.pop("CLAUDE_SKILL_DIR", None)
    found = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", first], cwd=project, env=env, capture_output=True,
                           text=True, timeout=60)
    assert found.returncode == 0 and "MISSING" not in found.stdout, found.stdout + found.stderr
    assert f"CLAUDE_SKILL_DIR is empty (this host does not fill it in); the skill folder is {skill_dir}" in found.stdout
    assert f"autoresearch {engine_version()}" in found.stdout
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    lost = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", first], cwd=elsewhere, env=env, capture_output=True,
                          text=True, timeout=60)
    assert "no installed skill was found" in lost.stdout and "fetch the whole bundle" in lost.stdout
