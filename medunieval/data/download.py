"""Data files published at a plain URL (HealthBench's jsonl files): downloaded once into a local
cache; without network, a one-line error naming the ``--data`` fix, at once."""

from __future__ import annotations

import os
import socket
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


def fetch_url(url: str, bench: str) -> Path:
    """The local copy of ``url`` (downloaded atomically on first use)."""
    target = download_dir() / bench / Path(urlparse(url).path).name
    if target.is_file():
        return target
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
    return target
