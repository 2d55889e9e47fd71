"""Fixtures for driving the real engine in real git repositories."""

import pytest

from engine_helpers import BENCHMARK, Project, git


@pytest.fixture
def project(tmp_path):
    path = tmp_path / "project"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "test@example.com")
    git(path, "config", "user.name", "Test")
    proj = Project(path)
    proj.write("autoresearch.sh", BENCHMARK)
    proj.set_value(100)
    proj.write("README.md", "project under test\n")
    proj.commit("harness")
    return proj


@pytest.fixture
def session(project):
    project.engine("init", "--name", "make score small", "--metric-name", "score", "--unit", "pt", "--direction", "lower",
                   "--deterministic")
    return project
