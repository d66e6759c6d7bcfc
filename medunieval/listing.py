"""What ``medunieval list`` shows: registered benchmarks, model presets, backends, suites, as
rows of plain strings, rendered as a rich table, tab-separated text or JSON."""

from __future__ import annotations

import json
from typing import Any

from .errors import ConfigError

KINDS = ("benchmarks", "models", "backends", "suites")
FORMATS = ("table", "plain", "json")


def rows(what: str) -> tuple[list[str], list[list[str]]]:
    """Column names and rows for ``what`` (one of ``KINDS``)."""
    from .backends import BACKENDS
    from .benchmarks import BENCHMARKS
    from .presets import builtin_presets

    if what == "benchmarks":
        cols = ["id", "paper column", "task", "sample id", "hub source", "description"]
        out = []
        for name in BENCHMARKS.names():
            b = BENCHMARKS.get(name)
            source = b.hub.describe() if b.hub else (b.url or "local only")
            out.append([name, b.title, b.task, sample_id_doc(name), source, b.description])
        return cols, out
    if what == "models":
        from .model_routes import how_tested, paper_rows, route

        cols = ["preset", "paper row", "route", "model", "tested by"]
        rows_of = paper_rows()
        return cols, [
            [name, ", ".join(rows_of.get(name, [])) or "-", route(p), p.model, how_tested(p)]
            for name, p in sorted(builtin_presets().items(), key=lambda kv: kv[0].lower())
        ]
    if what == "backends":
        return ["backend"], [[name] for name in BACKENDS.names()]
    if what == "suites":
        from .suites import load_suite, suite_names

        out = []
        for name in suite_names():
            suite = load_suite(name)
            spec = next(iter(suite.subset.values()), None)
            out.append(
                [
                    name,
                    ", ".join(suite.benchmarks),
                    f"{spec.n} per benchmark, seed {spec.seed}" if spec else "all samples",
                    suite.description.split(". ")[0],
                ]
            )
        return ["suite", "benchmarks", "subset", "description"], out
    raise ConfigError(f"nothing called {what!r} to list: use {', '.join(KINDS)}")


def sample_id_doc(name: str) -> str:
    """How a benchmark's sample ids are formed (``docs/benchmarks.md``), or ``""``."""
    from .sample_ids import SAMPLE_IDS

    return SAMPLE_IDS.get(name, "")


def render_plain(cols: list[str], table: list[list[str]]) -> str:
    """Tab-separated rows, no header: the first field is the id (``cut -f1``, ``grep``)."""
    return "".join("\t".join(_one_line(c) for c in row) + "\n" for row in table)


def render_json(cols: list[str], table: list[list[str]]) -> str:
    """A JSON list of objects keyed by column name."""
    return json.dumps([dict(zip(cols, row, strict=True)) for row in table], indent=1) + "\n"


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())
