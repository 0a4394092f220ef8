"""download() against a local HTTP server: cache, checksum, clear errors. Never the internet."""

from __future__ import annotations

import hashlib
import http.server
import threading
from functools import partial

import pytest

from helpers.data.download import download, sha256sum


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "corpus.txt").write_bytes(b"hello world\n" * 1000)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()


def test_download_checks_and_caches(server, tmp_path):
    url, root = server
    digest = hashlib.sha256((root / "corpus.txt").read_bytes()).hexdigest()
    path = download(f"{url}/corpus.txt", digest, directory=tmp_path / "cache", progress=False)
    assert path.read_bytes() == (root / "corpus.txt").read_bytes() and sha256sum(path) == digest
    (root / "corpus.txt").unlink()  # the server no longer has it: the cached copy is used
    assert download(f"{url}/corpus.txt", digest, directory=tmp_path / "cache", progress=False) == path


def test_checksum_mismatch_keeps_nothing(server, tmp_path):
    url, _ = server
    with pytest.raises(ValueError, match="checksum mismatch"):
        download(f"{url}/corpus.txt", "0" * 64, directory=tmp_path / "cache", progress=False)
    assert not list((tmp_path / "cache").iterdir())


def test_offline_or_missing_file_is_a_clear_error(server, tmp_path):
    url, _ = server
    with pytest.raises(ConnectionError, match="place it at"):
        download(f"{url}/missing.bin", "0" * 64, directory=tmp_path / "cache", progress=False)
    with pytest.raises(ConnectionError, match="offline"):
        download("http://127.0.0.1:9/nothing.bin", "0" * 64, directory=tmp_path / "cache", progress=False, timeout=2)


@pytest.mark.parametrize("url, sha, words", [("ftp://x/y", "0" * 64, "http"), ("http://x/y", "abc", "64-character")])
def test_bad_arguments(url, sha, words, tmp_path):
    with pytest.raises(ValueError, match=words):
        download(url, sha, directory=tmp_path)


def test_downloads_land_in_the_xdg_cache_readable_by_a_class_account(server, tmp_path, monkeypatch):
    import os
    import stat
    import sys

    url, root = server
    monkeypatch.delenv("NEXTWORD_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    digest = hashlib.sha256((root / "corpus.txt").read_bytes()).hexdigest()
    old = os.umask(0o022)
    try:
        path = download(f"{url}/corpus.txt", digest, progress=False)
    finally:
        os.umask(old)
    if sys.platform.startswith("linux"):
        assert path == tmp_path / "xdg" / "nextword" / "downloads" / "corpus.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # group and others may read it, as with any file
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o755
    assert not list(path.parent.glob("*.part"))
