"""A run directory: ``manifest.json``, ``summary.json`` and, per benchmark,
``<bench>/records.jsonl`` (append-only, fsync'd per batch) and ``<bench>/summary.json``.

Appends end with a newline; a line cut short by a crash is dropped when the file is next
opened, so a re-run resumes cleanly. The last record of a sample id wins. An exclusive lock
(``run.lock``) keeps a second process from writing the same run at the same time.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .types import Record


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON via a temp file in the same folder + rename (never a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False, default=str)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunDir:
    """Reads and writes one run's files."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock_fh: Any = None

    # ------------------------------------------------------------------ locking
    def lock(self) -> None:
        """Take the run's exclusive lock, or fail at once naming the holder."""
        self.path.mkdir(parents=True, exist_ok=True)
        fh = (self.path / "run.lock").open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise ConfigError(
                f"run directory {self.path} is in use by {holder}; wait for it to finish or "
                f"choose another --run-id"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        self._lock_fh = fh

    def unlock(self) -> None:
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    # ------------------------------------------------------------------ records
    def records_path(self, bench: str) -> Path:
        return self.path / bench / "records.jsonl"

    def repair_tail(self, bench: str) -> None:
        """Cut a trailing partial line (a crash mid-append) so new appends stay valid JSONL."""
        path = self.records_path(bench)
        if not path.exists():
            return
        with path.open("rb+") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            if size == 0:
                return
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return
            data = path.read_bytes()
            fh.truncate(data.rfind(b"\n") + 1)

    def append_records(self, bench: str, records: Iterable[Record]) -> None:
        """Append records and fsync."""
        lines = "".join(r.to_json() + "\n" for r in records)
        if not lines:
            return
        path = self.records_path(bench)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(lines)
            fh.flush()
            os.fsync(fh.fileno())

    def read_records(self, bench: str) -> list[Record]:
        """All records of ``bench``, last one per sample id, in first-seen order."""
        path = self.records_path(bench)
        if not path.exists():
            return []
        latest: dict[str, Record] = {}
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.endswith("\n"):
                    break  # a partial last line from a crash
                try:
                    rec = Record.from_json(line)
                except (json.JSONDecodeError, TypeError):
                    continue
                latest[rec.sample_id] = rec
        return list(latest.values())

    def rewrite_records(self, bench: str, records: Iterable[Record]) -> None:
        """Replace a benchmark's records atomically (used by rescore)."""
        path = self.records_path(bench)
        fd, tmp = tempfile.mkstemp(prefix=".records.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for r in records:
                fh.write(r.to_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def benchmarks(self) -> list[str]:
        return sorted(p.parent.name for p in self.path.glob("*/records.jsonl"))

    # ------------------------------------------------------------------ summaries
    def write_summary(self, bench: str, summary: dict[str, Any]) -> None:
        atomic_write_json(self.path / bench / "summary.json", summary)

    def read_summary(self, bench: str) -> dict[str, Any] | None:
        path = self.path / bench / "summary.json"
        return json.loads(path.read_text("utf-8")) if path.exists() else None

    def read_manifest(self) -> dict[str, Any] | None:
        path = self.path / "manifest.json"
        return json.loads(path.read_text("utf-8")) if path.exists() else None

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        atomic_write_json(self.path / "manifest.json", manifest)
