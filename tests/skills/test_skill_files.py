"""The SKILL.md files: front matter by the Agent Skills specification, size, paths, and what they reference."""

import os
import re
import subprocess
import sys

import pytest

from skilldocs import REPO, SKILLS, SPEC_KEYS, bash_blocks, engine_version, plugin_repository, skill_md, split_front_matter

ML_TEMPLATE = ("prepare.py", "train.py", "machine.py", "program.md", "pyproject.toml")
ENGINE = os.path.join(REPO, "skills", "autoresearch", "scripts", "autoresearch")


@pytest.mark.parametrize("name", SKILLS)
def test_front_matter_follows_the_specification(name):
    data, body = split_front_matter(skill_md(name))
    assert set(data) <= SPEC_KEYS, f"keys outside the specification: {set(data) - SPEC_KEYS}"
    assert data["name"] == name
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) and len(name) <= 64
    description = data["description"]
    assert isinstance(description, str) and 0 < len(description) <= 1024
    assert "<" not in description and ">" not in description
    assert isinstance(data["license"], str) and data["license"]
    assert isinstance(data["compatibility"], str) and 0 < len(data["compatibility"]) <= 500
    assert isinstance(data["metadata"], dict)
    assert all(isinstance(v, str) for v in data["metadata"].values()), "metadata maps strings to strings"
    assert data["metadata"]["version"] == engine_version()
    assert body.strip()


def test_front_matter_reader_rejects_what_other_hosts_reject():
    bad = "---\nname: x\nversion: 1\nargument-hint: [goal]\ndescription: a: b\n---\nbody\n"
    with pytest.raises(ValueError):
        split_front_matter(bad)
    data, _ = split_front_matter("---\nname: x\nversion: 1\n---\nbody\n")
    assert set(data) - SPEC_KEYS == {"version"}


@pytest.mark.parametrize("name", SKILLS)
def test_skill_is_short_and_uses_skill_dir_paths(name):
    text = skill_md(name)
    assert len(text.splitlines()) < 300
    assert "CLAUDE_PLUGIN_ROOT" not in text, "an installed skill has no plugin root; use ${CLAUDE_SKILL_DIR}"
    assert "${CLAUDE_SKILL_DIR}/" in text
    assert "total_mem)" not in text and "total_mem " not in text


@pytest.mark.parametrize("name", SKILLS)
def test_fetch_instructions_name_the_plugin_repository(name):
    url = plugin_repository()
    data, body = split_front_matter(skill_md(name))
    assert data["metadata"]["repository"] == url
    owner_repo = url.split("github.com/")[1]
    blocks = [code for _, code in bash_blocks(body)]
    assert any(f"npx skills add {owner_repo} --skill autoresearch --skill autoresearch-ml" in c for c in blocks)
    clone = [c for c in blocks if "git clone" in c]
    assert clone and url in clone[0] and "skills/autoresearch" in clone[0]
    first = [code for runnable, code in bash_blocks(body) if runnable][0]
    assert "MISSING" in first, "the first runnable block checks that the scripts are present"


def _referenced_paths(name, text):
    """Paths the SKILL.md names: ${CLAUDE_SKILL_DIR}/... and bare references/, examples/, assets/ paths."""
    paths = set()
    for match in re.finditer(r"\$\{CLAUDE_SKILL_DIR\}/([A-Za-z0-9_./-]+)", text):
        paths.add(match.group(1).rstrip("./") or ".")
    for match in re.finditer(r"`((?:\.\./autoresearch/)?(?:references|examples|assets|scripts)/[A-Za-z0-9_.-]+)`", text):
        paths.add(match.group(1))
    for match in re.finditer(r"`(\.\./autoresearch/SKILL\.md)`", text):
        paths.add(match.group(1))
    return sorted(paths)


@pytest.mark.parametrize("name", SKILLS)
def test_every_referenced_file_exists(name):
    text = skill_md(name)
    skill_dir = os.path.join(REPO, "skills", name)
    paths = _referenced_paths(name, text)
    assert len(paths) >= 4
    missing = [p for p in paths if not os.path.exists(os.path.normpath(os.path.join(skill_dir, p)))]
    pending = {f"assets/{f}" for f in ML_TEMPLATE}
    if missing and name == "autoresearch-ml" and set(missing) <= pending:
        pytest.skip(f"the ML template is not complete yet (missing: {', '.join(missing)}); nothing to do: this "
                    "check runs once the template holds them")
    assert not missing, f"{name}/SKILL.md names files that do not exist: {missing}"
    scripts = [p for p in paths if p.endswith("scripts/autoresearch")]
    assert scripts and all(os.access(os.path.join(skill_dir, p), os.X_OK) for p in scripts)


@pytest.mark.parametrize("name", SKILLS)
def test_references_are_one_level_deep(name):
    folder = os.path.join(REPO, "skills", name, "references")
    if not os.path.isdir(folder):
        pytest.skip(f"{name} has no references folder; nothing to do")
    for entry in os.listdir(folder):
        path = os.path.join(folder, entry)
        assert os.path.isfile(path) and entry.endswith(".md"), f"references/ holds only .md files: {entry}"
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        assert "references/" not in text, f"{entry} points to another reference; keep references one level deep"


def _subcommands():
    out = subprocess.run([sys.executable, ENGINE, "--help"], capture_output=True, text=True, check=True).stdout
    section = out.split("positional arguments:")[1].split("options:")[0]
    return set(re.findall(r"^    ([a-z][a-z-]*)", section, flags=re.MULTILINE))


@pytest.mark.parametrize("name", SKILLS)
def test_engine_commands_in_the_skill_exist_with_their_options(name):
    commands = _subcommands()
    text = skill_md(name)
    used = re.findall(r"scripts/autoresearch\"? ([a-z][a-z-]*)((?: --?[a-z][a-z-]*(?: (?:\"[^\"]*\"|'[^']*'|[^ -][^ ]*))?)*)", text)
    assert used
    for command, rest in used:
        assert command in commands, f"{name}/SKILL.md uses 'autoresearch {command}', which the engine lacks"
        helptext = subprocess.run([sys.executable, ENGINE, command, "--help"], capture_output=True, text=True).stdout
        for option in re.findall(r"(--[a-z][a-z-]*)", rest):
            assert option in helptext, f"'autoresearch {command}' has no option {option}"
    words = set(re.findall(r"`autoresearch ([a-z]+)", text))
    assert words <= commands | {"status", "cancel"}, f"unknown sub-commands named: {words - commands}"


def _settings():
    sys.path.insert(0, os.path.join(REPO, "skills", "autoresearch", "scripts"))
    from autoresearch_engine import settings

    return settings


def test_settings_table_is_the_one_the_engine_makes():
    settings = _settings()
    with open(os.path.join(REPO, "skills", "autoresearch", "references", "files.md"), encoding="utf-8") as handle:
        text = handle.read()
    expected = settings.markdown_table()
    assert expected in text, f"references/files.md's settings table must read, as the engine makes it:\n{expected}"


def test_readme_names_every_setting_with_its_default():
    settings = _settings()
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    start = text.index("Settings live in")
    sentence = text[start:text.index("\n\n", start)]
    named = re.findall(r"`([a-z_]+)`(?: \(([0-9.]+) s\))?", sentence)
    assert [name for name, _ in named] == [s.name for s in settings.SETTINGS], sentence
    for name, shown in named:
        if shown:
            assert shown == settings.BY_NAME[name].shown_default, f"README says {name} is {shown} s"


def test_ml_pyproject_sends_torch_to_no_index_but_pypi():
    """A Linux machine without the CUDA index (or without a GPU) must not be sent there by `uv sync`."""
    tomllib = pytest.importorskip("tomllib", reason="reading TOML needs Python 3.11 or newer: to run this check, install one")
    with open(os.path.join(REPO, "skills", "autoresearch-ml", "assets", "pyproject.toml"), "rb") as handle:
        uv = tomllib.load(handle).get("tool", {}).get("uv", {})
    assert "index" not in uv and "torch" not in uv.get("sources", {})


def test_ml_program_names_the_engine_path_and_the_failure_prefixes_the_template_prints():
    assets = os.path.join(REPO, "skills", "autoresearch-ml", "assets")
    program = open(os.path.join(assets, "program.md"), encoding="utf-8").read()
    assert ".claude/skills/autoresearch/scripts/autoresearch" in program and os.access(ENGINE, os.X_OK)
    assert "-- uv run" not in program, "the engine runs autoresearch.sh; uv run would re-sync the environment"
    sample = program.split("The end of a run's output", 1)[1].split("```", 1)[0]
    assert "H100" in sample, "the sample output says which machine printed it"
    # train.py's failures are printed by the fixed machine.py it imports
    for prefix, script, printer in (("FAIL:", "train.py", "machine.py"), ("ERROR:", "prepare.py", "prepare.py")):
        assert f"`{prefix}` (`{script}`" in program or f"`{prefix}` (`{script}`:" in program
        assert f'print(f"{prefix} {{message}}"' in open(os.path.join(assets, printer), encoding="utf-8").read()
