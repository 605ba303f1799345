"""Shared by the download tests: a private cache and no mirror from the environment, and a file pinned
by its own size and SHA-256."""

import hashlib

import pytest

from genlab.data.cache.download import Pinned


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GENLAB_MIRROR", raising=False)


def pinned(name: str, body: bytes, url: str = "") -> Pinned:
    return Pinned(name, len(body), hashlib.sha256(body).hexdigest(), url)
