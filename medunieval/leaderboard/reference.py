"""The published tables as data (``medunieval/reference/*.yaml``, also at ``results/reference``)
and the best / second-best marks, computed per row group from the numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from ..errors import ConfigError

REFERENCE_PACKAGE = "medunieval.reference"
# run-cell markers that keep a value out of the best / second-best marks (a judge marker does not)
NOT_COMPARABLE = frozenset({"partial", "profile", "version"})


@dataclass
class Column:
    label: str
    benchmark: str
    metric: str = "accuracy"
    profile: str = "compat"
    version: str = "1"


@dataclass
class ColumnGroup:
    label: str
    columns: list[Column]


@dataclass
class Row:
    """One model's values (percent, one decimal as printed; None = not reported).

    ``cells`` holds optional display annotations per column index (delta, interval, markers)
    for rows computed from runs; reference rows leave it empty."""

    model: str
    values: list[float | None]
    preset: str | None = None
    highlight: bool = False
    added: str | None = None
    source: str | None = None
    flags: dict[str, str] = field(default_factory=dict)
    run: str | None = None
    cells: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass
class RowGroup:
    id: str
    label: str
    marked: bool
    rows: list[Row]


@dataclass
class RefTable:
    id: str
    title: str
    caption: str
    source: str
    marks: str
    column_groups: list[ColumnGroup]
    row_groups: list[RowGroup]

    @property
    def columns(self) -> list[Column]:
        return [c for g in self.column_groups for c in g.columns]

    def group(self, group_id: str) -> RowGroup | None:
        return next((g for g in self.row_groups if g.id == group_id), None)

    def benchmarks(self) -> list[str]:
        """The benchmark ids the table's columns need, in column order, without repeats."""
        return list(dict.fromkeys(c.benchmark for c in self.columns))


def table_ids() -> list[str]:
    """The reference tables shipped with the package (``table1``, ``table2``)."""
    names = [e.name for e in resources.files(REFERENCE_PACKAGE).iterdir()]
    return sorted(
        n[: -len(".yaml")] for n in names if n.startswith("table") and n.endswith(".yaml")
    )


def load_table(table_id: str, include_later: bool = False) -> RefTable:
    """Load a reference table. Rows published after the paper (``added``) are left out unless
    ``include_later``, so the default output is the table exactly as published."""
    if table_id in ("1", "2"):
        table_id = f"table{table_id}"
    if table_id not in table_ids():
        raise ConfigError(f"unknown table {table_id!r}; available: {', '.join(table_ids())}")
    raw = yaml.safe_load(
        resources.files(REFERENCE_PACKAGE).joinpath(f"{table_id}.yaml").read_text("utf-8")
    )
    groups = [
        ColumnGroup(g["label"], [Column(**c) for c in g["columns"]]) for g in raw["column_groups"]
    ]
    width = sum(len(g.columns) for g in groups)
    row_groups = []
    for rg in raw["row_groups"]:
        rows = []
        for r in rg["rows"]:
            if r.get("added") and not include_later:
                continue
            if len(r["values"]) != width:
                raise ValueError(f"{table_id}: row {r['model']} has {len(r['values'])} values")
            rows.append(Row(**r))
        row_groups.append(RowGroup(rg["id"], rg["label"], bool(rg["marked"]), rows))
    return RefTable(
        raw["id"], raw["title"], raw["caption"], raw["source"], raw["marks"], groups, row_groups
    )


def load_representative() -> dict[str, Any]:
    """The representative-benchmark table (Hulu-Med-7B vs the previous best under 10B)."""
    text = resources.files(REFERENCE_PACKAGE).joinpath("representative.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def compute_marks(group: RowGroup, n_columns: int) -> dict[tuple[int, int], str]:
    """``{(row index, column index): "best" | "second"}`` for a marked row group.

    Per column, the highest value is ``best`` and the next lower distinct value ``second``;
    ties share a mark; missing values take no part, and neither do run cells that are not
    comparable with the table (a partial run, another profile or benchmark version)."""
    marks: dict[tuple[int, int], str] = {}
    if not group.marked:
        return marks

    def competes(row: Row, col: int) -> bool:
        markers = set(row.cells.get(col, {}).get("markers", ()))
        return row.values[col] is not None and not markers & NOT_COMPARABLE

    for col in range(n_columns):
        present = sorted({r.values[col] for r in group.rows if competes(r, col)})[::-1]
        for rank, name in zip(present[:2], ("best", "second"), strict=False):
            for i, row in enumerate(group.rows):
                if competes(row, col) and row.values[col] == rank:
                    marks[(i, col)] = name
    return marks


def printed_marks(group: RowGroup, n_columns: int) -> dict[tuple[int, int], str]:
    """The marks as the published Markdown prints them: a bold row (``highlight``, every
    Hulu-Med row) reads as bold on each of its values; nothing is underlined."""
    return {
        (i, col): "best"
        for i, row in enumerate(group.rows)
        if row.highlight
        for col in range(n_columns)
        if row.values[col] is not None
    }


def mark_contradictions(table: RefTable) -> list[dict[str, Any]]:
    """The cells where the printed marks differ from the caption's rule (``compute_marks``)."""
    out = []
    n = len(table.columns)
    for group in table.row_groups:
        printed, computed = printed_marks(group, n), compute_marks(group, n)
        for i, row in enumerate(group.rows):
            for col in range(n):
                if printed.get((i, col)) != computed.get((i, col)):
                    out.append(
                        {
                            "table": table.id,
                            "row_group": group.label,
                            "model": row.model,
                            "column": table.columns[col].label,
                            "value": row.values[col],
                            "printed": printed.get((i, col)) or "none",
                            "caption": computed.get((i, col)) or "none",
                        }
                    )
    return out


def reference_value(table: RefTable, preset: str, column: int) -> float | None:
    """The published value of ``preset``'s row in ``table`` (None when absent)."""
    for group in table.row_groups:
        for row in group.rows:
            if row.preset == preset and row.run is None:
                return row.values[column]
    return None
