"""A reader that stops early (`| head`, `| cut`) gets no error message from the engine."""

import os
import subprocess
import sys

from engine_helpers import ENGINE

MANY = "".join(f"METRIC m{i}=1\n" for i in range(50_000))  # far more output than a pipe buffer holds


def with_a_closed_reader(project, *args, stdin=None):
    """Run the engine with stdout a pipe whose reading end is already closed; (exit code, stderr)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, ENGINE, *args], cwd=project.path, stdout=write_end, input=stdin,
                                stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    return result.returncode, result.stderr


def test_output_into_a_closed_pipe_is_quiet(session):
    for args, stdin in ((("metrics",), MANY), (("status",), None), (("resume",), None)):
        code, stderr = with_a_closed_reader(session, *args, stdin=stdin)
        assert stderr == "" and code == 141, (args, code, stderr)


def test_head_through_a_shell_pipe_prints_no_error(session):
    shell = f"{sys.executable} {ENGINE} metrics | head -n 1"
    result = subprocess.run(["bash", "-c", shell], cwd=session.path, input=MANY, capture_output=True, text=True,
                            timeout=60)
    assert result.stdout == "m0=1\n" and result.stderr == ""
