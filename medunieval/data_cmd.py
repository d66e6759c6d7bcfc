"""``medunieval data list | fetch``: every benchmark's default source (hub repository or URL),
its pinned revision, split, expected rows and whether it is already cached; and a command that
downloads and verifies every source a run needs before the long GPU run starts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from .data.cards import LATEST, card_for, requested_revision
from .errors import ConfigError, MedUniEvalError

data_app = typer.Typer(
    no_args_is_help=True, help="Default data sources: list them, or download and verify them."
)
out = Console()
err = Console(stderr=True)


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache (``HF_HUB_CACHE``, else ``HF_HOME/hub``, else
    ``~/.cache/huggingface/hub``), read when called."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or str(Path.home() / ".cache" / "huggingface")
    return Path(home).expanduser() / "hub"


def hub_cached(repo: str, revision: str | None) -> bool:
    """True when the hub cache holds a snapshot of ``repo`` at ``revision`` (any snapshot when
    unpinned)."""
    snaps = hub_cache_dir() / f"datasets--{repo.replace('/', '--')}" / "snapshots"
    if revision:
        return (snaps / revision).is_dir()
    return snaps.is_dir() and any(snaps.iterdir())


def source_rows(names: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per benchmark with a default source: what ``data list`` shows."""
    from .benchmarks import BENCHMARKS
    from .data.download import download_dir

    rows: list[dict[str, Any]] = []
    for name in names or BENCHMARKS.names():
        bench = BENCHMARKS.get(name)
        if bench.hub is not None:
            card = card_for(name)
            rows.append(
                {
                    "benchmark": name,
                    "source": bench.hub.id + (f" [{bench.hub.config}]" if bench.hub.config else ""),
                    "revision": bench.hub.revision,
                    "split": bench.hub.split,
                    "rows": card.rows if card else None,
                    "schema": _schema_kind(card),
                    "cached": hub_cached(bench.hub.id, bench.hub.revision),
                }
            )
        elif bench.url is not None:
            local = download_dir() / name / Path(bench.url).name
            rows.append(
                {
                    "benchmark": name,
                    "source": bench.url,
                    "revision": f"sha256:{bench.url_sha256}" if bench.url_sha256 else None,
                    "split": "-",
                    "rows": None,
                    "schema": "-",
                    "cached": local.is_file(),
                }
            )
    return rows


def _schema_kind(card: Any) -> str:
    if card is None or card.features is None:
        return "rows only" if card is not None and card.rows is not None else "none"
    return "card" if card.exact else "fields"


@data_app.command("list")
def list_sources(
    bench: str | None = typer.Option(None, "--bench", "-b", help="Comma-separated ids."),
) -> None:
    """Per benchmark: source, pinned revision, split, expected rows, recorded schema, cached."""
    try:
        names = _names(bench, None)
        rows = source_rows(names)
    except MedUniEvalError as exc:
        _fail(exc)
    table = Table("benchmark", "source", "revision", "split", "rows", "schema", "cached")
    for column in table.columns:
        column.overflow = "fold"
    for r in rows:
        rev = r["revision"]
        table.add_row(
            r["benchmark"],
            r["source"],
            (rev[:19] if rev.startswith("sha256:") else rev[:12]) if rev else "unpinned",
            r["split"],
            f"{r['rows']:,}" if r["rows"] is not None else "-",
            r["schema"],
            "yes" if r["cached"] else "no",
        )
    out.print(table, width=max(out.width, 150))


@data_app.command("fetch")
def fetch(
    bench: str | None = typer.Option(None, "--bench", "-b", help="Comma-separated ids."),
    suite: str | None = typer.Option(None, help="Every benchmark of a suite."),
    data_revision: list[str] = typer.Option(
        [],
        "--data-revision",
        help="REV or NAME=REV (repeatable): another commit, or 'latest' (warn, not stop, on a "
        "changed dataset).",
    ),
) -> None:
    """Download and verify every default source the benchmarks need (run it before a long
    GPU run: a failure costs seconds). Exit 2 if any source fails."""
    try:
        names = _names(bench, suite)
        overrides = parse_revisions(data_revision)
    except MedUniEvalError as exc:
        _fail(exc)
    from .benchmarks import BENCHMARKS

    failed: list[str] = []
    for name in names:
        b = BENCHMARKS.get(name)
        if b.hub is None and b.url is None:
            out.print(f"skip  {name}: local data only (--data {name}=PATH)", highlight=False)
            continue
        try:
            raw = b.load_raw(None, requested_revision(name, overrides))
        except MedUniEvalError as exc:
            failed.append(name)
            message = str(exc).removeprefix(f"{name}: ")
            out.print(f"FAIL  {name}: {message}", highlight=False, soft_wrap=True)
            continue
        rev = raw.revision[:12] if raw.revision else "unpinned"
        out.print(
            f"ok    {name}: {len(raw):,} rows at {rev} ({raw.check})",
            highlight=False,
            soft_wrap=True,
        )
    if failed:
        _fail(ConfigError(f"{len(failed)} source(s) failed: {', '.join(failed)}"))


def parse_revisions(items: list[str]) -> dict[str, str]:
    """``--data-revision`` values: ``NAME=REV`` for one benchmark, a bare ``REV`` for all
    (stored under ``*``); ``latest`` = the default branch, checked with warnings only."""
    from .benchmarks import BENCHMARKS

    out_map: dict[str, str] = {}
    for item in items:
        name, sep, rev = item.partition("=")
        if not sep:
            name, rev = "*", item
        name, rev = name.strip(), rev.strip()
        if not rev or not name:
            raise ConfigError(f"--data-revision expects REV or NAME=REV, got {item!r}")
        if name != "*":
            BENCHMARKS.get(name)  # unknown name -> ConfigError with suggestions
        if rev != LATEST and not _looks_like_revision(rev):
            raise ConfigError(
                f"--data-revision {item!r}: expected a commit hash, a branch or tag name, or "
                f"'{LATEST}'"
            )
        out_map[name] = rev
    return out_map


def _looks_like_revision(rev: str) -> bool:
    return all(ch.isalnum() or ch in "-_./" for ch in rev)


def _names(bench: str | None, suite: str | None) -> list[str]:
    from .benchmarks import BENCHMARKS

    if bench and suite:
        raise ConfigError("give --bench or --suite, not both")
    if suite:
        from .suites import load_suite

        return list(load_suite(suite).benchmarks)
    names = [b.strip() for b in (bench or "").split(",") if b.strip()]
    for n in names:
        BENCHMARKS.get(n)
    return names or list(BENCHMARKS.names())


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)
