"""Fixtures for the report and finalize tests."""

import pytest

from report_helpers import write_session


@pytest.fixture
def logged_session(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    descriptions = write_session(folder)
    return folder, descriptions
