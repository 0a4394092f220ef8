"""Optional downloads for users with internet (Colab): bigger corpora or pretrained weights.

Nothing in the tests or the default notebook path calls this; a notebook offers it behind an
explicit switch (``USE_BIG_DATA = False``). Every file is pinned by its SHA-256, kept in the
cache folder, and verified before use. Offline, the error says where to put the file by hand.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from tqdm.auto import tqdm

from helpers.data.corpora import cache_dir, publish

__all__ = ["download", "sha256sum"]

_CHUNK = 1 << 20


def sha256sum(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    url: str,
    sha256: str,
    filename: str | None = None,
    directory: str | os.PathLike | None = None,
    timeout: float = 30.0,
    progress: bool = True,
) -> Path:
    """Fetch ``url`` into the cache (once), check its SHA-256 and return the local path.

    A file already in the cache with the right checksum is returned without any network
    access, so a notebook that downloaded once keeps working offline.
    """
    if not re.fullmatch(r"[0-9a-fA-F]{64}", sha256 or ""):
        raise ValueError(f"sha256={sha256!r} is not a 64-character hex digest; pin the file's checksum")
    if urlparse(url).scheme not in ("http", "https"):
        raise ValueError(f"url={url!r} must start with http:// or https://")
    sha256 = sha256.lower()
    name = filename or Path(urlparse(url).path).name
    if not name:
        raise ValueError(f"cannot infer a file name from url={url!r}: pass filename=")
    folder = Path(directory) if directory is not None else cache_dir() / "downloads"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if target.exists():
        if sha256sum(target) == sha256:
            return target
        target.unlink()  # stale or damaged: fetch again

    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=name, disable=not progress) as bar:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        partial.unlink(missing_ok=True)
        raise ConnectionError(
            f"could not download {url} ({error}). You seem to be offline or the address is "
            f"unreachable: download the file elsewhere and place it at {target}, "
            "or keep the notebook's default offline data."
        ) from error
    actual = sha256sum(partial)
    if actual != sha256:
        partial.unlink(missing_ok=True)
        raise ValueError(
            f"checksum mismatch for {url}: expected sha256 {sha256}, got {actual}. "
            "The file changed upstream or was damaged in transit; nothing was kept."
        )
    publish(partial, target)
    return target
