"""Runs as leaderboard rows: values, 95% intervals, deltas and compatibility markers."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..rundir import DamagedFile, read_json_file, warn
from ..stats import wilson_interval
from .reference import RefTable, Row, RowGroup, reference_value

NEW_GROUP = RowGroup("new_runs", "New runs", marked=False, rows=[])


@dataclass
class RunRow:
    """What the leaderboard needs from one run directory."""

    path: Path
    model: str
    preset: str | None
    group: str | None
    benchmarks: dict[str, dict[str, Any]]
    bench_meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    partial: bool = False


def _read_json(path: Path) -> dict[str, Any]:
    data = read_json_file(path, path.stem)
    if not isinstance(data, dict):
        raise DamagedFile(f"{path} is damaged (a JSON {type(data).__name__}, not an object)")
    return data


def load_run(path: Path) -> RunRow:
    """Read a run directory (or its ``summary.json``)."""
    run_dir = path.parent if path.name == "summary.json" else path
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        raise ConfigError(f"{path}: not a run directory (no summary.json)")
    summary = _read_json(summary_path)
    manifest_path = run_dir / "manifest.json"
    manifest = _read_json(manifest_path) if manifest_path.is_file() else {}
    model = manifest.get("model") or {}
    config = manifest.get("config") or {}
    return RunRow(
        path=run_dir,
        model=summary.get("model") or model.get("name") or run_dir.name,
        preset=model.get("name"),
        group=model.get("group"),
        benchmarks=summary.get("benchmarks") or {},
        bench_meta=manifest.get("benchmarks") or {},
        partial=bool(config.get("limit") or config.get("subset")),
    )


def load_runs(paths: list[Path]) -> list[RunRow]:
    """Runs from explicit paths; a folder without summary.json is searched one level down
    (``results/runs`` holds one run directory per run)."""
    out: list[RunRow] = []
    for path in paths:
        if (path / "summary.json").is_file() or path.name == "summary.json":
            out.append(load_run(path))
        elif path.is_dir():  # a folder of runs: a damaged run is skipped with a warning
            for p in sorted(path.glob("*/summary.json")):
                try:
                    out.append(load_run(p.parent))
                except DamagedFile as exc:
                    warn(f"{exc}; run skipped (`medunieval rescore {p.parent}` rebuilds it)")
        else:
            raise ConfigError(f"{path}: no such run directory")
    return out


def run_cells(
    table: RefTable, run: RunRow, profile: str | None = None
) -> tuple[list[float | None], dict[int, dict[str, Any]]]:
    """Values (percent) and per-cell annotations of ``run`` for ``table``'s columns.

    A cell is annotated with ``n``, a Wilson 95% interval (``ci``, percent), the ``delta`` to
    the published value of the same preset, and ``markers`` when it is not comparable with the
    table: another scoring profile, another benchmark version, or a partial run (limit/subset).
    """
    values: list[float | None] = []
    cells: dict[int, dict[str, Any]] = {}
    for i, col in enumerate(table.columns):
        summ = run.benchmarks.get(col.benchmark)
        used = profile or col.profile
        entry = ((summ or {}).get("profiles") or {}).get(used)
        if not entry or entry.get("score") is None:
            values.append(None)
            continue
        value = round(100 * float(entry["score"]), 1)
        values.append(value)
        cell: dict[str, Any] = {"n": entry.get("n"), "markers": []}
        if entry.get("correct") is not None and entry.get("n"):
            lo_hi = wilson_interval(int(entry["correct"]), int(entry["n"]))
            if lo_hi is not None:
                cell["ci"] = (round(100 * lo_hi[0], 1), round(100 * lo_hi[1], 1))
        if run.preset:
            ref = reference_value(table, run.preset, i)
            if ref is not None:
                cell["delta"] = round(value - ref, 1)
        if used != col.profile:
            cell["markers"].append("profile")
        version = str((run.bench_meta.get(col.benchmark) or {}).get("version", "1"))
        if version != col.version:
            cell["markers"].append("version")
        if run.partial:
            cell["markers"].append("partial")
        judge = (summ or {}).get("judge") or {}
        if judge.get("judged"):
            status = (judge.get("calibration") or {}).get("status")
            cell["markers"].append("calibrated" if status == "calibrated" else "uncalibrated")
        cells[i] = cell
    return values, cells


def build_table(table: RefTable, runs: list[RunRow], profile: str | None = None) -> RefTable:
    """A copy of ``table`` with one row per run, placed in the row group named by the run's
    preset ``group`` (a row-group id such as ``medical_lt10b``), else in a final "New runs"
    group."""
    out = copy.deepcopy(table)
    extra = copy.deepcopy(NEW_GROUP)
    for run in runs:
        values, cells = run_cells(table, run, profile)
        row = Row(model=run.model, values=values, preset=run.preset, run=str(run.path), cells=cells)
        group = out.group(run.group) if run.group else None
        (group or extra).rows.append(row)
    if extra.rows:
        out.row_groups.append(extra)
    return out
