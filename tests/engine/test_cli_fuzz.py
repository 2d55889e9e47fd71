"""Every sub-command, driven with arbitrary argument strings and bytes in a real session: never a traceback,
and only the documented exit codes."""

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from autoresearch_engine import cli
from engine_helpers import ENGINE, git

EXAMPLES = int(os.environ.get("AR_FUZZ_EXAMPLES", "15"))  # per sub-command; the suite runs every one of them
EXIT_CODES = {0, 1, 2}
EXIT_LIMIT = 3  # run: max_iterations reached, a documented code of its own

PARSER = cli.build_parser()
SUBPARSERS = PARSER._subparsers._group_actions[0].choices
NEVER = {"--watch", "--interval"}  # report --watch loops until interrupted, by design
REPEATS = {"--repeat", "--baseline-repeat", "--confirm-runs", "--reference-repeat"}


def _flags(name):
    takes_value, alone = [], []
    for action in SUBPARSERS[name]._actions:
        strings = [s for s in action.option_strings if s not in NEVER]
        if not strings or isinstance(action, argparse._HelpAction):
            continue
        (alone if action.nargs == 0 else takes_value).extend(strings)
    return takes_value, alone


def _value_flags(name):
    """One option string per option that takes a value."""
    return [next(s for s in action.option_strings if s.startswith("--") or s == action.option_strings[-1])
            for action in SUBPARSERS[name]._actions
            if action.option_strings and action.nargs != 0 and not set(action.option_strings) & NEVER
            and not isinstance(action, argparse._HelpAction)]


def _safe(token):
    """Nothing that names a place outside the scratch folder (the tests run as any user, root included)."""
    return "/" not in token and "~" not in token and not token.startswith("..")


# what argv can hold: any text without NUL, and any bytes without NUL as Python decodes them
argv_text = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=12)
argv_bytes = st.binary(max_size=12).filter(lambda b: b"\x00" not in b).map(os.fsdecode)
# every value-taking flag of every sub-command gets each of these; the fuzzer draws from more
HOSTILE = ["0", "-3", "1e300", "9" * 400, "nan", "inf", "", "--", "100000000", "[" * 5000, "\udcff", "1_0"]
numbers = st.sampled_from(HOSTILE + ["1", "3", "-0", "1.5", "0x10", "-", "=", "٣", '{"a": ' * 3000, " "])
token = (argv_text | argv_bytes | numbers).filter(_safe)


def argv_for(name):
    takes_value, alone = _flags(name)
    pieces = [st.tuples(st.sampled_from(takes_value), token)] if takes_value else []
    if alone:
        pieces.append(st.sampled_from(alone).map(lambda flag: (flag,)))
    if name not in ("run",):  # a free word after `run` is the command to run: never let a fuzzer pick one
        pieces.append(token.map(lambda word: (word,)))
        pieces.append(st.sampled_from(["--help", "--", "-h", "--version"]).map(lambda word: (word,)))
    return st.lists(st.one_of(*pieces), max_size=6).map(lambda groups: [name] + [w for g in groups for w in g])


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A git project with a logged baseline, a discarded experiment and a pending run."""
    path = tmp_path_factory.mktemp("fuzz") / "project"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "test@example.com")
    git(path, "config", "user.name", "Test")
    (path / "autoresearch.sh").write_text("echo METRIC score=$(cat value.txt)\necho METRIC size_kb=3\n")
    (path / "value.txt").write_text("10\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "harness")

    def engine(*args):
        subprocess.run([sys.executable, ENGINE, *args], cwd=path, check=True, capture_output=True)

    engine("init", "--name", "fuzz", "--metric-name", "score", "--direction", "lower")
    engine("run", "--repeat", "1", "--baseline-repeat", "2")
    engine("log", "--description", "baseline")
    (path / "value.txt").write_text("12\n")
    git(path, "commit", "-qam", "worse")
    engine("run")
    return path


def drive(template, scratch, argv, stdin=b""):
    workdir = scratch / "project"
    if workdir.exists():
        shutil.rmtree(workdir)
    shutil.copytree(template, workdir, symlinks=True)
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    real_stdin = sys.stdin
    os.chdir(workdir)
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8", errors="surrogateescape")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as exc:  # argparse: usage errors (2), --help and --version (0)
                code = exc.code
    finally:
        sys.stdin = real_stdin
        os.chdir(here)
    return code, out.getvalue(), err.getvalue()


FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.filter_too_much])


@pytest.mark.parametrize("name", sorted(SUBPARSERS))
def test_every_sub_command_takes_any_arguments_without_a_traceback(template, tmp_path, name):
    @FUZZ
    @given(argv=argv_for(name), stdin=st.binary(max_size=200))
    def check(argv, stdin):
        if name == "run":
            assume(not any(_too_many_samples(flag, value) for flag, value in zip(argv, argv[1:])))
        if name == "report":
            argv = argv + ["--no-png"]  # the chart takes a second to draw; the data behind it is the same
        code, _, err = drive(template, tmp_path, argv, stdin)
        allowed = EXIT_CODES | ({EXIT_LIMIT} if name == "run" else set())
        assert code in allowed, (argv, code, err)
        assert "Traceback" not in err, (argv, err)

    check()


# what a command needs to get past its first refusal, so a hostile value reaches the code behind it
GIVEN = {"log": ["--description", "x", "--status", "discard", "--metric", "11"]}


def _too_many_samples(flag, value):
    return flag in REPEATS and value.strip().isdigit() and len(value.strip()) > 2


@pytest.mark.parametrize("name", sorted(SUBPARSERS))
def test_every_flag_takes_every_hostile_value(template, tmp_path, name):
    allowed = EXIT_CODES | ({EXIT_LIMIT} if name == "run" else set())
    for flag in _value_flags(name):
        for value in HOSTILE:
            if _too_many_samples(flag, value):
                continue
            given = GIVEN.get(name, [])
            if flag in given:
                given = given[:given.index(flag)] + given[given.index(flag) + 2:]
            argv = [name, flag, value, *given] + (["--no-png"] if name == "report" else [])
            code, _, err = drive(template, tmp_path, argv)
            assert code in allowed, (argv, code, err)
            assert "Traceback" not in err, (argv, err)
