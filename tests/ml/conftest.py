"""Fixtures for the autoresearch-ml template tests."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ml_helpers import TINY_FLAGS, load_prepare, run_prepare, write_corpus  # noqa: E402


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    return write_corpus(str(tmp_path_factory.mktemp("corpus")))


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory, tiny_corpus):
    """A prepared dataset from the tiny local corpus (prepared once per session)."""
    cache = tmp_path_factory.mktemp("cache")
    run_prepare(cache, "--source", "local", "--path", tiny_corpus, *TINY_FLAGS)
    return cache


@pytest.fixture(scope="session")
def prep(tiny_cache):
    return load_prepare(tiny_cache)
