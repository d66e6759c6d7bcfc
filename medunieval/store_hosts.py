"""One response store, one machine.

SQLite's WAL mode keeps its index in shared memory, so every process that opens a WAL database
must run on the same host, and SQLite's locks over network file systems cannot be trusted. A
store therefore records the hostnames that wrote to it (table ``hosts``). When a process on
another host finds a store already claimed by a different machine, it warns once and uses a
store of its own instead (``fallback``, else ``<name>.<host>.sqlite`` next to it): the shared
file is never written from two machines. ``merge_stores`` copies stores into one (``medunieval
merge`` does it for shard runs).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import sys
import time
from collections.abc import Iterable
from pathlib import Path

HOSTS_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS hosts (hostname TEXT PRIMARY KEY, first_seen REAL NOT NULL, "
    "last_seen REAL NOT NULL)"
)
_warned: set[tuple[str, str]] = set()


def hostname() -> str:
    """This machine's name (``MEDUNIEVAL_HOSTNAME`` overrides it: containers that share a
    hostname, tests that play several machines)."""
    return os.environ.get("MEDUNIEVAL_HOSTNAME") or socket.gethostname() or "unknown-host"


def recorded_hosts(path: Path) -> list[str]:
    """The hostnames recorded in the store at ``path`` (none for a new or older store)."""
    if not path.is_file():
        return []
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=60.0)
    except sqlite3.Error:
        return []  # unreadable: opening it for real reports why
    try:
        return [h for (h,) in db.execute("SELECT hostname FROM hosts ORDER BY first_seen")]
    except sqlite3.Error:  # no hosts table yet (an older store), or not a database
        return []
    finally:
        db.close()


def per_host_path(path: Path, host: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in host)
    return path.with_name(f"{path.stem}.{safe}{path.suffix or '.sqlite'}")


def claim(path: Path, fallback: Path | None = None) -> Path:
    """The store this process may use: ``path`` unless another host has written to it, in
    which case one warning (per store and process) and ``fallback`` (default: a per-host file
    next to ``path``). The chosen store records this host."""
    me = hostname()
    others = [h for h in recorded_hosts(path) if h != me]
    if others:
        chosen = fallback or per_host_path(path, me)
        if (str(path), me) not in _warned:
            _warned.add((str(path), me))
            print(
                f"medunieval: warning: response store {path} is used by another machine "
                f"({', '.join(others)}); SQLite stores must not be shared between machines, so "
                f"this process (host {me}) uses {chosen} instead (`medunieval merge` merges "
                "shard stores)",
                file=sys.stderr,
                flush=True,
            )
        return claim(chosen) if chosen != path else chosen
    return path


def record_host(db: sqlite3.Connection) -> None:
    """Record this host in an open store (once per open)."""
    now = time.time()
    db.execute(HOSTS_SCHEMA)
    db.execute(
        "INSERT INTO hosts VALUES (?, ?, ?) ON CONFLICT(hostname) DO UPDATE SET last_seen = ?",
        (hostname(), now, now, now),
    )


def merge_stores(db: sqlite3.Connection, sources: Iterable[Path]) -> int:
    """Copy every response of ``sources`` (other store files) into the open store ``db``;
    responses already present are kept. Returns the number of responses added."""
    added = 0
    for src in sources:
        db.execute("ATTACH DATABASE ? AS src", (str(src),))
        try:
            db.execute("BEGIN IMMEDIATE")
            cur = db.execute("INSERT OR IGNORE INTO responses SELECT * FROM src.responses")
            added += max(cur.rowcount, 0)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.execute("DETACH DATABASE src")
    return added
