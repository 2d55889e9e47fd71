"""The plugin manifests against Claude Code's JSON Schemas, and the one version number across the bundle."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from skilldocs import REPO, SCHEMAS_MISSING, SHARED_SCHEMAS, SKILLS, engine_version, skill_md, split_front_matter

BUMP = os.path.join(REPO, "scripts", "bump_version.py")
PLUGIN = os.path.join(REPO, ".claude-plugin", "plugin.json")
MARKETPLACE = os.path.join(REPO, ".claude-plugin", "marketplace.json")


def load(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


@pytest.mark.parametrize("manifest,schema", [
    (PLUGIN, "claude-code-plugin-manifest.json"),
    (MARKETPLACE, "claude-code-marketplace.json"),
])
def test_manifest_is_valid_against_its_schema(manifest, schema):
    schema_path = os.path.join(SHARED_SCHEMAS, schema)
    if not os.path.isfile(schema_path):
        pytest.skip(SCHEMAS_MISSING)
    import jsonschema

    validator = jsonschema.Draft7Validator(load(schema_path), format_checker=jsonschema.FormatChecker())
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(load(manifest))]
    assert not errors


def test_schema_check_catches_a_broken_manifest():
    schema_path = os.path.join(SHARED_SCHEMAS, "claude-code-marketplace.json")
    if not os.path.isfile(schema_path):
        pytest.skip(SCHEMAS_MISSING)
    import jsonschema

    broken = load(MARKETPLACE)
    del broken["owner"]
    broken["plugins"][0]["source"] = "no-leading-dot"
    assert list(jsonschema.Draft7Validator(load(schema_path)).iter_errors(broken))


def test_manifests_describe_this_bundle():
    plugin, market = load(PLUGIN), load(MARKETPLACE)
    assert plugin["name"] == "autoresearch" and market["plugins"][0]["name"] == plugin["name"]
    assert market["plugins"][0]["source"] == "./"
    assert market["plugins"][0]["repository"] == plugin["repository"] == plugin["homepage"]
    assert "hooks" not in plugin, "hooks/hooks.json is loaded by itself; naming it in plugin.json duplicates it"
    assert os.path.isfile(os.path.join(REPO, "hooks", "hooks.json"))


def test_one_version_everywhere():
    version = engine_version()
    plugin, market = load(PLUGIN), load(MARKETPLACE)
    assert plugin["version"] == version
    assert market["metadata"]["version"] == version
    assert all(p["version"] == version for p in market["plugins"])
    for name in SKILLS:
        assert split_front_matter(skill_md(name))[0]["metadata"]["version"] == version
    result = subprocess.run([sys.executable, BUMP, "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def copy(tmp_path):
    """The files the version lives in, copied to a scratch root."""
    root = str(tmp_path / "root")
    for rel in ("skills/autoresearch/scripts/autoresearch_engine/__init__.py", ".claude-plugin/plugin.json",
                ".claude-plugin/marketplace.json", "skills/autoresearch/SKILL.md", "skills/autoresearch-ml/SKILL.md"):
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        shutil.copy2(os.path.join(REPO, rel), os.path.join(root, rel))
    return root


def bump(root, *args):
    return subprocess.run([sys.executable, BUMP, "--root", root, *args], capture_output=True, text=True)


def test_bump_changes_every_copy_and_nothing_else(copy):
    before = {}
    for base, _, names in os.walk(copy):
        for name in names:
            before[os.path.join(base, name)] = open(os.path.join(base, name), encoding="utf-8").read()
    old = engine_version()
    major, minor, patch = (int(x) for x in old.split(".")[:3])
    result = bump(copy, "minor")
    assert result.returncode == 0, result.stderr
    new = f"{major}.{minor + 1}.0"
    assert bump(copy, "--check").returncode == 0
    for path, text in before.items():
        after = open(path, encoding="utf-8").read()
        assert after.replace(new, old) == text, f"{path}: only the version may change"
        assert new in after
    assert bump(copy).stdout.splitlines()[0] == new
    assert bump(copy, "2.0.0").returncode == 0 and bump(copy).stdout.startswith("2.0.0")


def test_bump_check_finds_a_copy_that_drifted(copy):
    path = os.path.join(copy, "skills", "autoresearch-ml", "SKILL.md")
    text = open(path, encoding="utf-8").read().replace(f'version: "{engine_version()}"', 'version: "9.9.9"')
    open(path, "w", encoding="utf-8").write(text)
    result = bump(copy, "--check")
    assert result.returncode == 1 and "skills/autoresearch-ml/SKILL.md: 9.9.9" in result.stderr


def test_bump_refuses_a_bad_version_in_one_sentence(copy):
    result = bump(copy, "one.two")
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "neither a version" in result.stderr
    assert bump(copy, "--check").returncode == 0


@pytest.mark.parametrize("target", [".", ".claude-plugin/plugin.json"])
def test_claude_plugin_validate_passes_when_the_cli_is_installed(target):
    claude = shutil.which("claude")
    if claude is None:
        pytest.skip("`claude plugin validate` needs the Claude Code command-line tool: to run this check, install it "
                    "(npm install -g @anthropic-ai/claude-code)")
    result = subprocess.run([claude, "plugin", "validate", "--strict", target], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation passed" in result.stdout
