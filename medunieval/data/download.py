"""Data files published at a plain URL (HealthBench's jsonl files): downloaded once into a local
cache; without network, a one-line error naming the ``--data`` fix, at once."""

from __future__ import annotations

import hashlib
import os
import socket
import sys
import tempfile
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from ..errors import ConfigError
from .sources import hub_offline


def download_dir() -> Path:
    """Where downloaded data files are kept (``MEDUNIEVAL_DATA_CACHE``, else
    ``~/.cache/medunieval/data``)."""
    env = os.environ.get("MEDUNIEVAL_DATA_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "medunieval" / "data"


def _reachable(url: str, timeout: float = 3.0) -> bool:
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_sha256(path: Path, sha256: str | None, bench: str, url: str) -> Path:
    """``path`` when its SHA-256 is ``sha256``; a one-line error otherwise. Without a pinned
    value: a warning that the file is unpinned."""
    if sha256 is None:
        print(
            f"WARNING: {bench}: {url} is not pinned by a SHA-256; the file may change under the "
            f"same URL",
            file=sys.stderr,
        )
        return path
    got = file_sha256(path)
    if got != sha256:
        raise ConfigError(
            f"{bench}: {path} has SHA-256 {got}, the pinned value is {sha256}: the published "
            f"file changed (or the download is corrupt); delete it to download again, or pass "
            f"a verified copy with --data {bench}=PATH"
        )
    return path


def fetch_url(url: str, bench: str, sha256: str | None = None) -> Path:
    """The local copy of ``url`` (downloaded atomically on first use), checked against the
    pinned ``sha256``."""
    target = download_dir() / bench / Path(urlparse(url).path).name
    if target.is_file():
        return verify_sha256(target, sha256, bench, url)
    fix = f"download {url} on a machine with network access and pass it with --data {bench}=PATH"
    if hub_offline() or not _reachable(url):
        raise ConfigError(f"{bench}: no network access to {urlparse(url).hostname}; {fix}")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".download.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
            while block := resp.read(1 << 20):
                out.write(block)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"{bench}: cannot download {url} ({exc}); {fix}") from exc
    return verify_sha256(target, sha256, bench, url)
