"""A run directory: ``manifest.json``, ``summary.json`` and, per benchmark,
``<bench>/records.jsonl`` (append-only, fsync'd per batch) and ``<bench>/summary.json``.

Appends end with a newline; a line cut short by a crash is dropped when the file is next
opened, so a re-run resumes cleanly. The last record of a sample id wins. An exclusive lock
(``run.lock``) keeps a second process from writing the same run at the same time.

This module is the one reader of a run's files for every command (run, rescore, report, merge,
regress, leaderboard): a damaged records line (not JSON, not UTF-8, not a record, torn) is
skipped and counted with one warning per file and kept aside in ``records.skipped`` when the
file is rewritten; a damaged ``manifest.json`` / ``summary.json`` raises ``DamagedFile`` (a
``ConfigError``: one line, exit 2) unless the caller chooses to go on without it. A failed
write (disk full, read-only folder) raises ``WriteError`` saying what is safe on disk.
Temporary files left by a killed writer are removed when the run is next locked.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .types import Record, Response

# ``.<name>.<mkstemp suffix>``: the temporary files this module writes before a rename
_TEMP = re.compile(r"^\.(records|[A-Za-z0-9_-]+\.json)\.[A-Za-z0-9_]{8}$")


class DamagedFile(ConfigError):
    """A run file (manifest / summary) that cannot be parsed."""


class WriteError(ConfigError):
    """Writing a run file or the store failed (disk full, read-only); the message says what is
    safe on disk and that re-running the same command resumes."""


def warn(message: str) -> None:
    """One warning line on stderr."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the folder is read-only"
    return exc.strerror or str(exc)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _temp_file(folder: Path, prefix: str) -> tuple[int, str]:
    """``mkstemp`` in ``folder`` with the permissions a plain ``open`` would give (umask)."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=folder)
    os.fchmod(fd, 0o666 & ~_umask())
    return fd, tmp


def atomic_write_text(path: Path, chunks: Iterable[str], prefix: str, what_is_safe: str) -> None:
    """Write ``chunks`` via a temp file in the same folder + fsync + rename (never a
    half-written file; the temp file is removed on any failure). A failed write (disk full,
    read-only folder) raises ``WriteError`` naming ``what_is_safe``; the old file stays."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _temp_file(path.parent, prefix)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise WriteError(f"cannot write {path}: {_why(exc)}; {what_is_safe}") from None
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (``atomic_write_text``)."""
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    atomic_write_text(
        path,
        (text, "\n"),
        f".{path.name}.",
        "what was written before is intact — free space or fix permissions and re-run the same "
        "command to resume",
    )


def read_json_file(path: Path, what: str = "file") -> Any:
    """Parse a JSON file we wrote; damage (not JSON, not UTF-8, truncated, too deep) raises
    ``DamagedFile`` with one line naming the file."""
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        reason = "nested too deeply"
        if not isinstance(exc, RecursionError):
            reason = " ".join(str(exc).split())[:120]
        raise DamagedFile(f"{path} is damaged ({what}: {reason})") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None


def record_dict(line: bytes) -> dict[str, Any] | str:
    """A records line as a record's JSON object (its shape checked), or why it is not one."""
    try:
        d = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return "not UTF-8"
    except RecursionError:
        return "nested too deeply"
    except ValueError:
        return "not JSON"
    if not isinstance(d, dict):
        return f"a JSON {type(d).__name__}, not a record"
    for key in ("sample_id", "benchmark", "answer", "answer_type"):
        if not isinstance(d.get(key), str):
            return f"'{key}' is missing or not a string"
    for key in ("request_key", "prompt", "question"):
        if d.get(key) is not None and not isinstance(d[key], str):
            return f"'{key}' is not a string"
    resp = d.get("response")
    if resp is not None and (
        not isinstance(resp, dict)
        or not isinstance(resp.get("text"), str | None)
        or not isinstance(resp.get("error"), str | None)
    ):
        return "'response' is not a response object"
    for key, kind in (("scores", dict), ("meta", dict), ("media", list)):
        if key in d and not isinstance(d[key], kind):
            return f"'{key}' is not a {kind.__name__}"
    for key in ("error", "judge", "choices"):
        if d.get(key) is not None and not isinstance(d[key], dict):
            return f"'{key}' is not an object"
    if not all(isinstance(v, dict) for v in (d.get("scores") or {}).values()):
        return "'scores' holds a verdict that is not an object"
    return d


def parse_record(line: bytes) -> Record | str:
    """A records line as a ``Record``, or the reason it is not one."""
    d = record_dict(line)
    if isinstance(d, str):
        return d
    try:
        resp = d.get("response")
        fields = {k: v for k, v in d.items() if k in Record.__dataclass_fields__}
        fields["response"] = Response.from_dict(resp) if resp else None
        return Record(**fields)
    except TypeError as exc:
        return f"not a record ({exc})"


class RunDir:
    """Reads and writes one run's files."""

    def __init__(self, path: Path, on_warning: Callable[[str], None] = warn) -> None:
        self.path = Path(path)
        self._lock_fh: Any = None
        self._warn = on_warning
        self._skipped: dict[str, list[bytes]] = {}  # damaged lines of the last read, per bench

    # ------------------------------------------------------------------ locking
    def lock(self) -> None:
        """Take the run's exclusive lock, or fail at once naming the holder; then remove the
        temporary files a killed writer left behind."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fh = (self.path / "run.lock").open("a+")
        except FileExistsError:
            raise ConfigError(f"{self.path} is a file, not a run directory") from None
        except NotADirectoryError:
            raise ConfigError(
                f"cannot create run directory {self.path}: a parent is a file"
            ) from None
        except OSError as exc:
            raise ConfigError(
                f"cannot write run directory {self.path}: {_why(exc)} (choose another --output)"
            ) from None
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
        self.clean_temp_files()

    def clean_temp_files(self) -> int:
        """Remove ``.<name>.<random>`` temp files left by a kill mid-write (call with the lock
        held: no other writer exists). Returns how many were removed."""
        removed = 0
        for folder in (self.path, *(p for p in self.path.iterdir() if p.is_dir())):
            for f in folder.iterdir():
                if _TEMP.match(f.name) and f.is_file():
                    f.unlink(missing_ok=True)
                    removed += 1
        return removed

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
        """Append records and fsync. A failed write (disk full) is cut back to the last whole
        record and raises ``WriteError`` saying how many records are safe."""
        data = "".join(r.to_json() + "\n" for r in records).encode("utf-8")
        if not data:
            return
        path = self.records_path(bench)
        start = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("ab") as fh:
                start = fh.tell()
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            if start is not None:
                try:
                    os.truncate(path, start)
                except OSError:
                    pass  # a torn tail is cut by repair_tail on the next run
            safe = self._count_lines(path)
            raise WriteError(
                f"cannot append to {path}: {_why(exc)}; {safe} record line(s) of {bench} are "
                f"safe on disk — free space and re-run the same command to resume"
            ) from None

    @staticmethod
    def _count_lines(path: Path) -> int:
        try:
            with path.open("rb") as fh:
                return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
        except OSError:
            return 0

    def read_records(self, bench: str) -> list[Record]:
        """All records of ``bench``, last one per sample id, in first-seen order. Damaged lines
        (and a torn last line) are skipped and counted, with one warning for the file."""
        return list(self._read_valid(bench, parse_record).values())

    def read_record_dicts(self, bench: str) -> list[dict[str, Any]]:
        """``read_records`` as the records' JSON objects (for tools that diff raw fields)."""
        return list(self._read_valid(bench, record_dict).values())

    def _read_valid(self, bench: str, parse: Callable[[bytes], Any]) -> dict[str, Any]:
        path = self.records_path(bench)
        self._skipped[bench] = []
        if not path.exists():
            return {}
        latest: dict[str, Any] = {}
        bad: list[tuple[int, str]] = []
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
        lines = data.split(b"\n")
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            rec = "torn last line" if n == len(lines) else parse(line)  # no newline: a crash
            if isinstance(rec, str):
                bad.append((n, rec))
                self._skipped[bench].append(line)
                continue
            latest[rec["sample_id"] if isinstance(rec, dict) else rec.sample_id] = rec
        if bad:
            n, why = bad[0]
            self._warn(
                f"{path}: skipped {len(bad)} damaged line(s) (first: line {n}, {why}); "
                f"{len(latest)} record(s) read"
            )
        return latest

    def rewrite_records(self, bench: str, records: Iterable[Record]) -> None:
        """Replace a benchmark's records atomically (used by rescore, merge, the judge). Lines
        the last ``read_records`` skipped are appended to ``records.skipped``, never lost."""
        path = self.records_path(bench)
        skipped = self._skipped.pop(bench, [])
        if skipped:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with (path.parent / "records.skipped").open("ab") as fh:
                    fh.write(b"".join(line + b"\n" for line in skipped))
            except OSError as exc:
                raise WriteError(
                    f"cannot write {path.parent / 'records.skipped'}: {_why(exc)}; "
                    "the records file is unchanged — free space and re-run the command"
                ) from None
            self._warn(f"{len(skipped)} damaged line(s) kept in {path.parent / 'records.skipped'}")
        atomic_write_text(
            path,
            (r.to_json() + "\n" for r in records),
            ".records.",
            "the previous file is intact — free space and re-run the command",
        )

    def benchmarks(self) -> list[str]:
        return sorted(p.parent.name for p in self.path.glob("*/records.jsonl"))

    # ------------------------------------------------------------------ summaries
    def write_summary(self, bench: str, summary: dict[str, Any]) -> None:
        atomic_write_json(self.path / bench / "summary.json", summary)

    def read_summary(self, bench: str, lenient: bool | str = False) -> dict[str, Any] | None:
        """A benchmark's summary; None when absent; ``DamagedFile`` when damaged (``lenient``:
        one warning and None — for commands that rewrite it; a string says what happens)."""
        path = self.path / bench / "summary.json"
        consequence = lenient if isinstance(lenient, str) else "it is rebuilt"
        return self._read(path, "summary", consequence if lenient else None)

    def read_run_summary(self) -> dict[str, Any] | None:
        """The run-level ``summary.json``; None when absent; ``DamagedFile`` when damaged."""
        return self._read(self.path / "summary.json", "summary", None)

    def read_manifest(self, on_damage: str = "raise") -> dict[str, Any] | None:
        """The manifest; None when absent. When damaged: ``raise`` ``DamagedFile``; ``warn``:
        one warning and None; ``set_aside``: also rename it to ``manifest.json.damaged`` (the
        caller writes a new one)."""
        path = self.path / "manifest.json"
        if on_damage == "set_aside":
            try:
                return self._read(path, "manifest", None)
            except DamagedFile as exc:
                kept = self.set_aside(path.name)
                self._warn(f"{exc}; kept as {kept.name}, a new manifest is started")
                return None
        return self._read(path, "manifest", "going on without it" if on_damage == "warn" else None)

    def _read(self, path: Path, what: str, lenient: str | None) -> dict[str, Any] | None:
        if not path.exists():
            return None
        try:
            data = _mapping(read_json_file(path, what), path)
            if what == "manifest" and not (
                isinstance(data.get("benchmarks"), dict)
                and isinstance(data.get("invocations"), list)
            ):
                raise DamagedFile(f"{path} is damaged (no 'benchmarks' / 'invocations')")
            return data
        except DamagedFile as exc:
            if lenient is None:
                raise
            self._warn(f"{exc}; {lenient}")
            return None

    def set_aside(self, name: str) -> Path:
        """Rename a damaged run file to ``<name>.damaged`` (kept for inspection)."""
        src = self.path / name
        dst = src.with_name(src.name + ".damaged")
        os.replace(src, dst)
        return dst

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        atomic_write_json(self.path / "manifest.json", manifest)


def _mapping(data: Any, path: Path) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise DamagedFile(f"{path} is damaged (a JSON {type(data).__name__}, not an object)")
    return data
