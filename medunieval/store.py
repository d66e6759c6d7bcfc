"""The response store: every generated response, keyed by request key, shared across runs.

SQLite in WAL mode, so several processes on one machine (data-parallel workers, a second run)
can read and write one store safely; never several machines (``store_hosts``). Failed
generations are never stored: a re-run retries them.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from .store_hosts import claim, merge_stores, record_host
from .types import Response

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL
)
"""


class ResponseStore:
    """A key -> Response cache on disk, used from one machine (``store_hosts``)."""

    def __init__(self, path: Path, fallback: Path | None = None) -> None:
        """``fallback``: the store to use instead if another machine has written to ``path``
        (default: a per-host file next to it)."""
        self.path = claim(Path(path), fallback)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=60000")
        self._db.execute(SCHEMA)
        record_host(self._db)

    def merge_from(self, sources: Iterable[Path]) -> int:
        """Add every response of the stores ``sources``; returns how many were new."""
        return merge_stores(self._db, sources)

    def get_many(self, keys: Sequence[str]) -> dict[str, Response]:
        """The stored responses among ``keys``."""
        out: dict[str, Response] = {}
        for i in range(0, len(keys), 500):
            chunk = list(keys[i : i + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, response FROM responses WHERE key IN ({marks})", chunk
            )
            for key, payload in rows:
                resp = Response.from_dict(json.loads(payload))
                resp.cached = True
                out[key] = resp
        return out

    def put_many(self, items: Iterable[tuple[str, str, Response]]) -> int:
        """Store ``(key, fingerprint, response)`` triples in one transaction; errors skipped."""
        now = time.time()
        rows = [
            (key, fp, json.dumps({**resp.to_dict(), "cached": False}, ensure_ascii=False), now)
            for key, fp, resp in items
            if resp.error is None and resp.text is not None
        ]
        if rows:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return len(rows)

    def keys(self) -> set[str]:
        return {k for (k,) in self._db.execute("SELECT key FROM responses")}

    def stats(self) -> dict[str, int]:
        """Number of stored responses per model fingerprint."""
        rows = self._db.execute(
            "SELECT fingerprint, COUNT(*) FROM responses GROUP BY fingerprint ORDER BY 2 DESC"
        )
        return {fp: n for fp, n in rows}

    def close(self) -> None:
        self._db.close()
