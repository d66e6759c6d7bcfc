"""Raw rows from a Hugging Face hub dataset or a local file (json, jsonl, csv, parquet).

Text fields are read into plain dicts; heavy columns (embedded images) stay in the Arrow file,
memory-mapped, and are fetched one cell at a time when a request is built.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import ConfigError

LOCAL_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet")


@dataclass(frozen=True)
class HubSource:
    """An official HF dataset: id, optional config name, split, and the commit it is pinned to
    (``revision``; None = unpinned, see ``data/hub_cards.yaml`` for why)."""

    id: str
    split: str
    config: str | None = None
    snapshot: bool = False
    archives: tuple[str, ...] = ()
    revision: str | None = None

    def describe(self, revision: str | None = None) -> str:
        cfg = f" config {self.config}" if self.config else ""
        rev = f"@{revision[:12]}" if revision else ""
        return f"HF {self.id}{rev}{cfg} split {self.split}"


@dataclass
class RawRows:
    """Rows of one data source. ``lazy(index, column)`` fetches a heavy cell on demand."""

    rows: list[dict[str, Any]]
    origin: str
    fingerprint: str
    root: Path | None = None
    lazy: Callable[[int, str], Any] | None = field(default=None, repr=False)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)
    revision: str | None = None
    check: str | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        return iter(enumerate(self.rows))


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_local(path: Path, lazy_columns: tuple[str, ...] = ()) -> RawRows:
    """Read a local data file. JSON may be a list of rows or a dict of rows keyed by id (the key
    is kept as ``_key``). Parquet goes through ``datasets`` so image columns stay on disk.

    A JSONL line or CSV record that cannot be parsed (bad JSON, not UTF-8, nested too deeply,
    a field over the CSV size limit) becomes that row's ``malformed_row`` error; a whole file
    that cannot be parsed (JSON, parquet) is a ``ConfigError``."""
    suffix = path.suffix.lower()
    origin = str(path)
    try:
        if suffix == ".parquet":
            return _read_arrow(
                "parquet",
                {"data_files": str(path), "split": "train"},
                origin,
                path.parent,
                lazy_columns,
            )
        data = path.read_bytes()
    except ConfigError:
        raise
    except OSError as exc:
        raise ConfigError(f"cannot read data file {path}: {exc}") from exc
    # universal newlines, as the text read this replaced hashed (fingerprints stay the same)
    fp = hashlib.sha256(data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")).hexdigest()
    if suffix == ".jsonl":
        rows = _jsonl_rows(data, path.name)
        return RawRows(rows=rows, origin=origin, fingerprint=fp, root=path.parent)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"cannot read data file {path}: not UTF-8 (byte {exc.start}); re-save it as UTF-8"
        ) from None
    if suffix == ".json":
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError) as exc:
            why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise ConfigError(
                f"{path} is not valid JSON ({why}); fix or re-download the file"
            ) from None
        if isinstance(parsed, dict):
            rows = [
                {**v, "_key": k} if isinstance(v, dict) else {"_key": k, "_value": v}
                for k, v in parsed.items()
            ]
        elif isinstance(parsed, list):
            rows = [r if isinstance(r, dict) else {"_value": r} for r in parsed]
        else:
            raise ConfigError(f"{path}: expected a JSON list or object of rows")
    elif suffix == ".csv":
        rows = _csv_rows(text, path.name)
    else:
        raise ConfigError(
            f"{path}: unsupported data file type {suffix!r}; use one of {LOCAL_SUFFIXES}"
        )
    return RawRows(rows=rows, origin=origin, fingerprint=fp, root=path.parent)


def load_json_file(path: Path, what: str) -> Any:
    """A whole JSON file a benchmark reads besides its rows (ground truth, mappings, splits);
    unreadable, not UTF-8, not JSON or nested too deeply is a one-line ``ConfigError``."""
    try:
        return json.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path}: {exc.strerror or exc}") from None
    except RecursionError:
        raise ConfigError(f"{what}: {path} is nested too deeply to be data") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        msg = " ".join(str(exc).split())[:160]
        raise ConfigError(f"{what}: {path} is not valid UTF-8 JSON ({msg})") from None


def _jsonl_rows(data: bytes, name: str) -> list[dict[str, Any]]:
    """One row per non-blank line; a line that is not a JSON object is a malformed row."""
    rows: list[dict[str, Any]] = []
    for n, raw_line in enumerate(data.split(b"\n"), 1):
        if not raw_line.strip():
            continue
        try:
            row = json.loads(raw_line.decode("utf-8"))
        except UnicodeDecodeError:
            row = {"_malformed": f"{name} line {n} is not UTF-8"}
        except RecursionError:
            row = {"_malformed": f"{name} line {n} is nested too deeply"}
        except ValueError:
            # A malformed line is a malformed row (recorded per sample), not a dead run.
            row = {"_malformed": f"{name} line {n} is not valid JSON"}
        rows.append(row if isinstance(row, dict) else {"_malformed": f"line {n} is not an object"})
    return rows


def _csv_rows(text: str, name: str) -> list[dict[str, Any]]:
    """CSV records as dicts; a record the csv module rejects is a malformed row."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows: list[dict[str, Any]] = []
    while True:
        line = reader.line_num
        try:
            row = next(reader)
        except StopIteration:
            return rows
        except csv.Error as exc:
            rows.append({"_malformed": f"{name} record after line {line}: {exc}"})
            continue
        rows.append(dict(row))


def read_many(files: list[Path], root: Path, lazy_columns: tuple[str, ...] = ()) -> RawRows:
    """Several data files read as one split, in the given order. Text files (json/jsonl/csv):
    each row gets ``_file`` (its path relative to ``root``). Parquet files (e.g. MMMU's
    per-subject files) go through ``datasets`` together, heavy columns staying on disk."""
    if all(f.suffix.lower() == ".parquet" for f in files):
        return _read_arrow(
            "parquet",
            {"data_files": [str(f) for f in files], "split": "train"},
            f"{root} ({len(files)} parquet files)",
            root,
            lazy_columns,
        )
    rows: list[dict[str, Any]] = []
    prints: list[str] = []
    for file in files:
        if file.suffix.lower() == ".parquet":
            raise ConfigError(f"{file}: parquet files cannot be mixed with json/jsonl/csv files")
        part = read_local(file)
        rel = str(file.relative_to(root)) if file.is_relative_to(root) else str(file)
        rows.extend({**r, "_file": rel} for r in part.rows)
        prints.append(f"{rel}:{part.fingerprint}")
    fp = hashlib.sha256("\n".join(prints).encode()).hexdigest()
    return RawRows(rows=rows, origin=f"{root} ({len(files)} files)", fingerprint=fp, root=root)


def _read_arrow(
    builder: str,
    kwargs: dict[str, Any],
    origin: str,
    root: Path | None,
    lazy_columns: tuple[str, ...],
) -> RawRows:
    import datasets

    try:
        ds = datasets.load_dataset(builder, **kwargs)
    except Exception as exc:  # pyarrow / datasets raise many kinds on a damaged file
        msg = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ConfigError(f"cannot read {origin}: {msg}; fix or re-download the file") from None
    return _from_dataset(ds, origin, root, lazy_columns)


def _from_dataset(
    ds: Any, origin: str, root: Path | None, lazy_columns: tuple[str, ...]
) -> RawRows:
    import datasets

    heavy = [c for c in lazy_columns if c in ds.column_names]
    for col in heavy:
        if isinstance(ds.features[col], datasets.Image):
            ds = ds.cast_column(col, datasets.Image(decode=False))
    light = ds.remove_columns(heavy) if heavy else ds
    rows = light.to_list()
    views = {c: ds.select_columns([c]) for c in heavy}

    def lazy(index: int, column: str) -> Any:
        return views[column][index][column]

    for row in rows:
        for c in heavy:
            row[c] = _LAZY
    return RawRows(rows=rows, origin=origin, fingerprint=ds._fingerprint, root=root, lazy=lazy)


class _LazyCell:
    """Placeholder for a heavy cell that ``RawRows.lazy`` fetches on demand."""

    def __repr__(self) -> str:
        return "<lazy>"


_LAZY = _LazyCell()


def is_lazy(value: Any) -> bool:
    return value is _LAZY


def _truthy_env(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def hub_offline() -> bool:
    """True when the user asked for offline mode (then only the local HF cache is used)."""
    return _truthy_env("HF_HUB_OFFLINE") or _truthy_env("HF_DATASETS_OFFLINE")


def hub_reachable(timeout: float = 3.0) -> bool:
    """A quick TCP check of the hub endpoint, so a missing network fails in seconds, not minutes."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urlparse(endpoint)
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (443 if parsed.scheme != "http" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def hub_location(source: HubSource) -> str:
    """What ``datasets.load_dataset`` is given for ``source``: its hub id (tests point it at a
    local stand-in of the repository, so the same loading code runs)."""
    return source.id


def hub_snapshot(repo_id: str, revision: str | None) -> Path:
    """A local copy of a hub dataset repository at ``revision`` (``huggingface_hub``)."""
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id, repo_type="dataset", revision=revision))


def load_hub(
    source: HubSource,
    bench: str,
    lazy_columns: tuple[str, ...] = (),
    requested: str | None = None,
) -> RawRows:
    """Load an official HF dataset at its pinned revision (or the ``requested`` one) and check
    it against its recorded card; without network, fail at once with the local-data fix."""
    from .cards import check_received, received_features, resolve_revision

    fix = (
        f"download {source.id} on a machine with network access and pass it with "
        f"`--data-dir DIR` (or `--data {bench}=PATH`), or pre-fill the HF cache and set "
        f"HF_HUB_OFFLINE=1"
    )
    if not hub_offline() and not hub_reachable():
        raise ConfigError(f"{bench}: the Hugging Face hub is unreachable; {fix}")
    try:
        import datasets

        revision = resolve_revision(bench, source.revision, requested)
        kwargs: dict[str, Any] = {"split": source.split, "revision": revision}
        if source.config:
            kwargs["name"] = source.config
        ds = datasets.load_dataset(hub_location(source), **kwargs)
    except Exception as exc:  # datasets raises many types; all mean "no data"
        msg = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ConfigError(f"{bench}: cannot load {source.describe()} ({msg}); {fix}") from exc
    check = check_received(bench, received_features(ds), ds.num_rows, requested)
    raw = _from_dataset(ds, source.describe(revision), None, lazy_columns)
    raw.revision, raw.check = revision, check
    return raw


def _safe_extract(archive: Path, dest: Path) -> None:
    """Unpack a zip/tar archive, refusing members that would land outside ``dest``."""
    import tarfile
    import zipfile

    dest_resolved = dest.resolve()

    def check(name: str) -> None:
        target = (dest_resolved / name).resolve()
        if target != dest_resolved and dest_resolved not in target.parents:
            raise ConfigError(f"archive {archive} has a member escaping its folder: {name!r}")

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                check(name)
            zf.extractall(dest)
    else:
        with tarfile.open(archive) as tf:
            for m in tf.getmembers():
                check(m.name)
            tf.extractall(dest, filter="data")


def snapshot_hub(source: HubSource, bench: str, revision: str | None = None) -> Path:
    """Download a hub dataset repository at ``revision`` (files as published, e.g. SLAKE's
    test.json and imgs.zip) and unpack its archives once; returns the local folder."""
    fix = (
        f"download the {source.id} repository elsewhere and pass the folder with "
        f"`--data {bench}=DIR`"
    )
    if not hub_offline() and not hub_reachable():
        raise ConfigError(f"{bench}: the Hugging Face hub is unreachable; {fix}")
    try:
        folder = hub_snapshot(source.id, revision)
    except Exception as exc:
        raise ConfigError(f"{bench}: cannot download {source.id} ({exc}); {fix}") from exc
    for name in source.archives:
        marker = folder / f".{name}.unpacked"
        if (folder / name).is_file() and not marker.exists():
            _safe_extract(folder / name, folder)
            marker.touch()
    return folder
