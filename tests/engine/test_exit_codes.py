"""The exit codes in references/files.md are the ones the engine gives, each checked on a real trigger."""

import os
import re

import pytest

from autoresearch_engine import errors
from engine_helpers import REPO

FILES_MD = os.path.join(REPO, "skills", "autoresearch", "references", "files.md")


def documented() -> dict:
    with open(FILES_MD, encoding="utf-8") as handle:
        text = handle.read()
    section = text[text.index("## Exit codes"):]
    section = section[: section.index("\n## ", 1)]
    return {int(code): meaning for code, meaning in re.findall(r"^\| (\d+) \| (.*) \|$", section, flags=re.MULTILINE)}


def test_every_exit_code_of_the_engine_is_documented():
    codes = {value for name, value in vars(errors).items() if name.startswith("EXIT_")}
    assert codes == set(documented())


@pytest.mark.parametrize("args, stdin, code, words", [
    (("log", "--status", "keep", "--metric", "1"), None, errors.EXIT_REFUSED, "refused"),  # no --description
    (("run", "--timeout", "nan"), None, errors.EXIT_REFUSED, "bad argument"),
    (("no-such-command",), None, errors.EXIT_REFUSED, "usage error"),
    (("metrics", "total_ms"), "METRIC other=1\n", errors.EXIT_FAILED, "`metrics NAME` found no such metric"),
    (("metrics",), "METRIC total_ms=1\n", errors.EXIT_DONE, "done"),
])
def test_a_trigger_exits_with_the_code_its_documented_meaning_names(session, args, stdin, code, words):
    result = session.engine(*args, input=stdin, check=False)
    assert result.returncode == code, result.stderr
    assert words in documented()[code]
    if code == errors.EXIT_REFUSED:
        assert result.stderr.strip().count("\n") <= 1 or result.stderr.startswith("usage:"), result.stderr


def test_the_run_limit_exits_3(session):
    session.write(".claude/autoresearch.local.md", "---\nmax_iterations: 1\n---\n")
    session.engine("run")
    session.engine("log", "--description", "baseline")
    result = session.engine("run", check=False)
    assert result.returncode == errors.EXIT_LIMIT == 3
    assert "max_iterations" in documented()[errors.EXIT_LIMIT]
