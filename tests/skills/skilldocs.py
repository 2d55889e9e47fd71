"""Helpers for the skill tests: read SKILL.md files, pull out their shell blocks, build install layouts,
and run the documented commands in a temporary project, the way an agent would."""

import json
import os
import re
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SKILLS = ("autoresearch", "autoresearch-ml")
SHARED_SCHEMAS = os.path.join(os.path.dirname(REPO), "shared", "schemas")
SCHEMAS_MISSING = (f"the Claude Code JSON Schemas are not in {SHARED_SCHEMAS}: to run this check, put "
                   "claude-code-plugin-manifest.json and claude-code-marketplace.json there, from SchemaStore "
                   "(github.com/SchemaStore/schemastore, folder src/schemas/json)")
NO_RUN = re.compile(r"<!--\s*no-run\b[^>]*-->")

# The front-matter keys of the Agent Skills specification.
SPEC_KEYS = {"name", "description", "license", "compatibility", "metadata", "allowed-tools"}


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def skill_md(name, root=REPO):
    return read(os.path.join(root, "skills", name, "SKILL.md"))


def split_front_matter(text):
    """(front matter as a dict, body). Reads the YAML subset SKILL.md uses: `key: value` lines and one
    level of indented `key: value` lines under a key with no value. Anything else is an error."""
    if not text.startswith("---\n"):
        raise ValueError("SKILL.md must start with a '---' line")
    end = text.find("\n---\n", 3)
    if end == -1:
        raise ValueError("the front matter is not closed by a '---' line")
    block, body = text[4:end], text[end + 5:]
    data, parent = {}, None
    for line in block.splitlines():
        if not line.strip():
            continue
        nested = line.startswith("  ")
        match = re.match(r"^\s*([A-Za-z][A-Za-z0-9_-]*):(?:\s+(.*))?$", line)
        if not match:
            raise ValueError(f"not a 'key: value' line: {line!r}")
        key, value = match.group(1), _scalar(match.group(2))
        if nested:
            if parent is None:
                raise ValueError(f"indented line without a parent key: {line!r}")
            data[parent][key] = value
        elif value is None:
            data[key], parent = {}, key
        else:
            if key in data:
                raise ValueError(f"duplicate key {key!r}")
            data[key], parent = value, None
    return data, body


def _scalar(raw):
    if raw is None or raw.strip() == "":
        return None
    raw = raw.strip()
    if raw[0] in "\"'":
        if raw[-1] != raw[0]:
            raise ValueError(f"unclosed quote: {raw!r}")
        return raw[1:-1]
    if ": " in raw or " #" in raw or raw[0] in "[{&*!|>%@`":
        raise ValueError(f"this plain value would not read back as one string in YAML: {raw!r}")
    return raw


def bash_blocks(text):
    """[(runnable, code)] for every ```bash block, in order. A block is not run when the line before its
    opening fence (blank lines aside) is an HTML comment starting with `no-run`."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```bash":
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            before = [line for line in lines[:i] if line.strip()]
            marked = bool(before) and bool(NO_RUN.search(before[-1]))
            blocks.append((not marked, "\n".join(lines[i + 1:j])))
            i = j + 1
        else:
            i += 1
    return blocks


def plugin_repository():
    with open(os.path.join(REPO, ".claude-plugin", "plugin.json"), encoding="utf-8") as handle:
        return json.load(handle)["repository"]


def engine_version():
    sys.path.insert(0, os.path.join(REPO, "skills", "autoresearch", "scripts"))
    import autoresearch_engine

    return autoresearch_engine.__version__


# ---- install layouts ---------------------------------------------------------------------------

def tree_files(root=REPO):
    """The files a clone of the working tree would hold: tracked and untracked, minus ignored ones."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root, check=True,
                         capture_output=True, text=True).stdout
    return sorted(p for p in out.split("\0") if p and os.path.isfile(os.path.join(root, p)))


def copy_files(paths, src_root, dest_root, strip=""):
    for rel in paths:
        target = os.path.join(dest_root, rel[len(strip):])
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(src_root, rel), target)


def make_clone(dest):
    """A copy of the repository as a fresh clone would have it."""
    copy_files(tree_files(), REPO, dest)
    return dest


def make_git_remote(dest):
    """A git repository holding the working tree in one commit: what the fetch instructions clone."""
    make_clone(dest)
    env = git_env()
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "bundle"]):
        subprocess.run(["git", *args], cwd=dest, check=True, capture_output=True, env=env)
    return dest


def install_skill_alone(name, project):
    """What `npx skills add` leaves: the skill folder copied on its own into .claude/skills/<name>/,
    without dotfiles and __pycache__."""
    prefix = f"skills/{name}/"
    keep = [p for p in tree_files() if p.startswith(prefix)
            and not any(part.startswith(".") or part == "__pycache__" for part in p[len(prefix):].split("/"))]
    dest = os.path.join(project, ".claude", "skills", name)
    copy_files(keep, REPO, dest, strip=prefix)
    return dest


def install_skill_md_only(name, project):
    """What `npx mdskills install` leaves: the SKILL.md text and nothing else."""
    dest = os.path.join(project, ".claude", "skills", name)
    os.makedirs(dest, exist_ok=True)
    shutil.copy2(os.path.join(REPO, "skills", name, "SKILL.md"), os.path.join(dest, "SKILL.md"))
    return dest


# ---- running documented commands ---------------------------------------------------------------

def git_env(extra=None):
    env = dict(os.environ)
    env.update({
        "GIT_AUTHOR_NAME": "Doc Test", "GIT_AUTHOR_EMAIL": "doc@example.com",
        "GIT_COMMITTER_NAME": "Doc Test", "GIT_COMMITTER_EMAIL": "doc@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        # python3 is the interpreter running the tests (it has what the ML check imports)
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
    })
    env.pop("CLAUDE_PROJECT_DIR", None)
    env.update(extra or {})
    return env


SAMPLE_TESTS = '''import unittest


class Sample(unittest.TestCase):
    def test_sum(self):
        self.assertEqual(sum(range(10)), 45)

    def test_sorted(self):
        self.assertEqual(sorted([3, 1, 2]), [1, 2, 3])

    def test_text(self):
        self.assertTrue("autoresearch".startswith("auto"))
'''


def make_project(path):
    """A small git repository with a unit-test suite: the kind of project the example harness fits."""
    os.makedirs(os.path.join(path, "tests"), exist_ok=True)
    with open(os.path.join(path, "tests", "test_sample.py"), "w", encoding="utf-8") as handle:
        handle.write(SAMPLE_TESTS)
    env = git_env()
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "project"]):
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True, env=env)
    return path


def run_block(code, cwd, skill_dir=None, substitutions=(), timeout=300):
    """Run one documented block as the agent would (${CLAUDE_SKILL_DIR} filled in by the host), with -e so
    that any failing line fails the block. Returns the CompletedProcess."""
    if skill_dir is not None:
        code = code.replace("${CLAUDE_SKILL_DIR}", skill_dir)
    for old, new in substitutions:
        code = code.replace(old, new)
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", code], cwd=cwd, env=git_env(),
                          capture_output=True, text=True, timeout=timeout)


def run_doc(text, cwd, skill_dir=None, stop_after=None):
    """Run every runnable bash block of a document in order; fail with the block and its output."""
    outputs = []
    for number, (runnable, code) in enumerate(bash_blocks(text), start=1):
        if not runnable:
            continue
        result = run_block(code, cwd, skill_dir)
        if result.returncode != 0:
            raise AssertionError(f"block {number} failed (exit {result.returncode}):\n{code}\n--- stdout\n"
                                 f"{result.stdout}\n--- stderr\n{result.stderr}")
        outputs.append((code, result.stdout + result.stderr))
        if stop_after is not None and number >= stop_after:
            break
    return outputs
