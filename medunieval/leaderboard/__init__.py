"""Regenerate the paper's result tables from reference data and add new runs as rows."""

from .reference import Column, ColumnGroup, RefTable, Row, RowGroup, load_table, table_ids
from .render import FORMATS, render
from .runs import RunRow, build_table, load_runs

__all__ = [
    "FORMATS",
    "Column",
    "ColumnGroup",
    "RefTable",
    "Row",
    "RowGroup",
    "RunRow",
    "build_table",
    "load_runs",
    "load_table",
    "render",
    "table_ids",
]
