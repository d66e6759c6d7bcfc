"""The response store: every generated response, keyed by request key, shared across runs.

SQLite in WAL mode, so several processes on one machine (data-parallel workers, a second run)
can read and write one store safely; never several machines (``store_hosts``). Failed
generations are never stored: a re-run retries them.

A path that is a folder, a file that is not a SQLite database, a corrupt page, a read-only
folder or a full disk raise ``StoreError`` (a ``ConfigError``: one line, exit 2) naming the
store and the fix; records already written stay valid and a re-run resumes.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import ConfigError
from .store_hosts import claim, merge_stores, record_host
from .types import Response


class StoreError(ConfigError):
    """The response store cannot be opened, read or written."""


def _store_error(path: Path, exc: Exception) -> StoreError:
    msg = str(exc)
    low = msg.lower()
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        fix = "it is damaged or not a response store: move it aside or pass another --cache"
    elif "disk is full" in low or "disk i/o" in low:
        fix = "the disk is full: free space and re-run the same command to resume"
    elif "readonly" in low or "read-only" in low or "unable to open" in low:
        fix = "it cannot be written (read-only folder?): pass a writable --cache or --no-cache"
    else:
        fix = "pass another --cache or --no-cache"
    return StoreError(f"response store {path}: {msg}; {fix}")


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
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreError(
                f"response store {self.path} is a folder: pass a file path to --cache "
                f"(e.g. {self.path / 'responses.sqlite'})"
            )
        self.path = claim(self.path, fallback)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise _store_error(self.path, exc) from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=60000")
            self._db.execute(SCHEMA)
            record_host(self._db)
        except sqlite3.Error as exc:
            self._db.close()
            raise _store_error(self.path, exc) from None

    def merge_from(self, sources: Iterable[Path]) -> int:
        """Add every response of the stores ``sources``; returns how many were new."""
        return merge_stores(self._db, sources)

    def get_many(self, keys: Sequence[str]) -> dict[str, Response]:
        """The stored responses among ``keys``."""
        out: dict[str, Response] = {}
        try:
            for i in range(0, len(keys), 500):
                chunk = list(keys[i : i + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, response FROM responses WHERE key IN ({marks})", chunk
                ).fetchall()
                for key, payload in rows:
                    try:
                        resp = Response.from_dict(json.loads(payload))
                    except (ValueError, TypeError, AttributeError, RecursionError):
                        continue  # a damaged entry is a miss: the request is generated again
                    resp.cached = True
                    out[key] = resp
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc) from None
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
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)", rows
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise _store_error(self.path, exc) from None
        return len(rows)

    def keys(self) -> set[str]:
        try:
            return {k for (k,) in self._db.execute("SELECT key FROM responses")}
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc) from None

    def stats(self) -> dict[str, int]:
        """Number of stored responses per model fingerprint."""
        try:
            rows = self._db.execute(
                "SELECT fingerprint, COUNT(*) FROM responses GROUP BY fingerprint ORDER BY 2 DESC"
            ).fetchall()
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc) from None
        return {fp: n for fp, n in rows}

    def close(self) -> None:
        self._db.close()
