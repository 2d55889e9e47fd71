"""Settings and the flags that override them: one spec, its bounds enforced in the file and on the command line."""

import math

import pytest
from hypothesis import given, settings as hsettings
from hypothesis import strategies as st

from autoresearch_engine import config
from autoresearch_engine.errors import EngineError
from autoresearch_engine.settings import BY_NAME, SETTINGS

MARKED = """#!/usr/bin/env bash
set -e
echo ran >> ran.txt
echo "METRIC score=$(cat value.txt)"
"""


@pytest.fixture
def marked(session):
    """A session whose benchmark leaves ran.txt behind, so a refused run can be told from a run."""
    session.write("autoresearch.sh", MARKED)
    session.write(".gitignore", "ran.txt\n")
    session.commit("marked benchmark")
    return session


def assert_refused(project, result, words):
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autoresearch: error: "), result.stderr
    assert words in lines[0]
    assert not project.exists("ran.txt"), "the benchmark ran although the value was refused"
    assert not project.exists("autoresearch.pending.json")


@pytest.mark.parametrize("flag, value, words", [
    ("--timeout", "nan", "--timeout must be a number of seconds from 1 to 604800, not 'nan'"),
    ("--timeout", "0", "--timeout must be a number of seconds from 1"),
    ("--timeout", "-5", "--timeout must be a number of seconds from 1"),
    ("--timeout", "inf", "--timeout must be"),
    ("--timeout", "soon", "--timeout must be a number of seconds from 1 to 604800, not 'soon'"),
    ("--checks-timeout", "nan", "--checks-timeout must be"),
    ("--checks-timeout", "0", "--checks-timeout must be"),
    ("--repeat", "0", "--repeat must be a whole number, 1 or more, not '0'"),
    ("--baseline-repeat", "0", "--baseline-repeat must be a whole number, 1 or more"),
    ("--confirm-runs", "-1", "--confirm-runs must be a whole number, 0 or more"),
    ("--rule", "lenient", "--rule must be noise or unpaired or strict"),
])
def test_run_refuses_flag_values_outside_the_bounds(marked, flag, value, words):
    assert_refused(marked, marked.engine("run", flag, value, check=False), words)


@pytest.mark.parametrize("line, words", [
    ("benchmark_timeout: nan", "benchmark_timeout must be a number of seconds from 1 to 604800, not nan"),
    ("benchmark_timeout: .inf", "benchmark_timeout must be"),
    ("benchmark_timeout: 1e400", "benchmark_timeout must be"),
    ("checks_timeout: -nan", "checks_timeout must be"),
    ("repeat: 0", "repeat must be a whole number, 1 or more"),
    ("false_keep_rate: nan", "false_keep_rate must be a number between 0 and 0.5"),
])
def test_run_refuses_setting_values_outside_the_bounds(marked, line, words):
    marked.write(".claude/autoresearch.local.md", f"---\n{line}\n---\n")
    assert_refused(marked, marked.engine("run", check=False), words)


def test_flags_override_the_settings_for_one_run_only(marked):
    marked.write(".claude/autoresearch.local.md",
                 "---\nkeep_rule: unpaired\nrepeat: 3\nbaseline_repeat: 3\nconfirm_runs: 2\n---\n")
    result = marked.engine("run", "--json", "--repeat", "1", "--baseline-repeat", "1", "--confirm-runs", "0")
    assert marked.read("ran.txt").count("ran") == 1, result.stdout
    marked.engine("log", "--description", "baseline")
    marked.write("ran.txt", "")
    marked.engine("run", "--json")  # the settings again, without flags: a baseline-free keep takes repeat: 3
    assert marked.read("ran.txt").count("ran") >= 3


def test_init_refuses_a_negative_max_iterations(project):
    result = project.engine("init", "--name", "n", "--metric-name", "score", "--direction", "lower",
                            "--max-iterations", "-1", check=False)
    assert result.returncode == 2
    assert "--max-iterations must be a whole number, 0 or more, not '-1'" in result.stderr
    assert not project.exists("autoresearch.jsonl")


def test_the_default_settings_file_reads_back_as_the_defaults(tmp_path):
    (tmp_path / ".claude").mkdir()
    (tmp_path / config.CONFIG_RELPATH).write_text(config.DEFAULT_TEXT, encoding="utf-8")
    loaded = config.load(str(tmp_path))
    for setting in SETTINGS:
        assert getattr(loaded, setting.name) == setting.default, setting.name


@hsettings(max_examples=300, deadline=None)
@given(name=st.sampled_from([s.name for s in SETTINGS if s.flag]),
       text=st.one_of(st.text(), st.floats().map(repr), st.integers(-10**6, 10**6).map(str),
                      st.sampled_from(["nan", "-nan", "inf", "-inf", "1e400", "1e-400", "0", "-0", "1_000"])))
def test_a_flag_value_is_refused_or_inside_its_bounds(name, text):
    setting = BY_NAME[name]
    try:
        value = setting.from_flag(text)
    except EngineError as exc:
        message = str(exc)
        assert message.startswith(f"{setting.flag} must be ") and "\n" not in message
        return
    if setting.kind == "choice":
        assert value in setting.choices
    elif setting.kind == "globs":
        assert isinstance(value, list) and all(glob and glob == glob.strip() and not glob.startswith(("/", ".."))
                                               for glob in value)
    elif setting.kind == "int":
        assert isinstance(value, int) and value >= setting.minimum
    else:
        assert math.isfinite(value) and setting.minimum <= value <= setting.maximum
