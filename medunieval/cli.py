"""``medunieval`` command line (typer + rich)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from .errors import ConfigError, MedUniEvalError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Evaluate medical vision-language models on the Hulu-Med benchmarks.",
)
out = Console()
err = Console(stderr=True)


class RateColumn(ProgressColumn):
    """Samples per second."""

    def render(self, task: Any) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:6.1f} samples/s" if speed else "      - samples/s", style="cyan")


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _parse_data(items: list[str]) -> dict[str, Path]:
    data: dict[str, Path] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--data expects NAME=PATH, got {item!r}")
        data[name.strip()] = Path(path).expanduser()
    return data


def _load_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        cfg = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read --config {path}: {exc}") from exc
    if not isinstance(cfg, dict):
        raise ConfigError(f"--config {path}: expected a mapping")
    return cfg


def _batch_size(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        size = int(value)
    except ValueError:
        raise ConfigError(
            f"--batch-size must be 'auto' or a positive integer, got {value!r}"
        ) from None
    if size < 1:
        raise ConfigError("--batch-size must be at least 1")
    return size


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def print_summary(
    summaries: dict[str, dict[str, Any]], profiles: tuple[str, ...], console: Console = out
) -> None:
    """The per-benchmark summary table, then the sub-scores."""
    table = Table(title="Results (accuracy %, micro-averaged)", show_lines=False)
    table.add_column("benchmark")
    table.add_column("n", justify="right")
    for p in profiles:
        table.add_column(p, justify="right")
        table.add_column(f"{p} parsed", justify="right")
    table.add_column("errors", justify="right")
    for name, s in summaries.items():
        row = [name, str(s["n"])]
        for p in profiles:
            prof = s.get("profiles", {}).get(p, {"score": None, "parse_rate": None})
            row += [_pct(prof["score"]), _pct(prof["parse_rate"])]
        row.append(str(s["errors"]))
        table.add_row(*row)
    console.print(table)
    for name, s in summaries.items():
        for kind, count in s["error_kinds"].items():
            example = (s.get("error_examples") or {}).get(kind) or ""
            console.print(
                f"[yellow]{name}: {count} × {kind}[/] (e.g. {example})",
                highlight=False,
                soft_wrap=True,
            )
    for name, s in summaries.items():
        if s.get("judge"):
            j = s["judge"]
            console.print(
                f"[cyan]{name}: judge {', '.join(j['judges']) or '-'}[/] · judged {j['judged']}, "
                f"judge errors {j['errors']}, not judged {j['unjudged']}"
                + (f" (e.g. {j['error_example']})" if j.get("error_example") else ""),
                highlight=False,
                soft_wrap=True,
            )
    for name, s in summaries.items():
        if "note" in s:
            console.print(
                f"[cyan]{name}: {s['note']}[/] ({s.get('submission', '')})",
                highlight=False,
                soft_wrap=True,
            )
        for p in profiles if "profiles" in s else ():
            subs = s["profiles"][p]["subscores"]
            for field, groups in subs.items():
                cells = "  ".join(
                    f"{k}: {_pct(v['score'])} (n={v['n']})" for k, v in groups.items()
                )
                console.print(f"[dim]{name} · {p} · {field}[/]  {cells}", highlight=False)


@app.command()
def run(
    model: str = typer.Option(
        ..., "--model", "-m", help="Preset name, preset YAML, local model dir or hub id."
    ),
    bench: str = typer.Option(..., "--bench", "-b", help="Comma-separated benchmark ids."),
    backend: str | None = typer.Option(None, help="hf | replay (default: the preset's)."),
    limit: int | None = typer.Option(
        None, min=1, help="Evaluate only the first N samples of each benchmark."
    ),
    data_dir: Path | None = typer.Option(
        None,
        help="Local data: a file/folder (one benchmark), or one sub-folder per benchmark.",
    ),
    data: list[str] = typer.Option([], help="Per-benchmark local data, NAME=PATH (repeatable)."),
    config: Path | None = typer.Option(
        None,
        help="YAML file with defaults for these options (e.g. data: {vqa_rad: /data/vqa_rad}).",
    ),
    predictions: Path | None = typer.Option(None, help="Predictions JSONL for the replay backend."),
    reasoning: bool = typer.Option(
        False, help="Use the reasoning prompt variants (\\boxed{} answers)."
    ),
    max_new_tokens: int | None = typer.Option(
        None, min=1, help="Override the benchmark's max_new_tokens."
    ),
    temperature: float = typer.Option(0.0, min=0.0, help="0 = greedy."),
    top_p: float = typer.Option(1.0, min=0.0, max=1.0),
    seed: int = typer.Option(0),
    batch_size: str = typer.Option("auto", help="'auto' (backs off on out-of-memory) or N."),
    device: str | None = typer.Option(
        None, help="hf: cuda, cuda:1, cpu (default: cuda if available)."
    ),
    output: Path = typer.Option(Path("results/runs"), help="Folder holding run directories."),
    run_id: str | None = typer.Option(
        None,
        help="Run directory name (default: derived from the arguments, so re-running resumes).",
    ),
    cache: Path | None = typer.Option(
        None,
        envvar="MEDUNIEVAL_CACHE",
        help="Response store (default: <output>/../cache/responses.sqlite).",
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Do not read or write the response store."
    ),
    trust_remote_code: bool = typer.Option(
        False, help="hf: allow the model repository's own Python code (as the preset's key)."
    ),
    profile: str = typer.Option(
        "both", help="Profiles to show: both | strict | compat (records always hold both)."
    ),
    judge: str | None = typer.Option(
        None,
        "--judge",
        help="Judge model preset (name, YAML, model dir or hub id) for open VQA answers, "
        "HealthBench rubrics and RareBench diagnoses; verdicts are cached and kept in records.",
    ),
) -> None:
    """Run benchmarks for a model; re-running the same command resumes where it stopped."""
    from .engine import Engine, RunConfig

    try:
        profiles = _profiles(profile)
        cfg_file = _load_config(config)
        data_map = {k: Path(v) for k, v in (cfg_file.get("data") or {}).items()}
        data_map.update(_parse_data(data))
        cfg = RunConfig(
            model=model,
            benchmarks=[b for b in bench.split(",") if b.strip()],
            backend=backend,
            limit=limit,
            data_dir=data_dir or (Path(cfg_file["data_dir"]) if cfg_file.get("data_dir") else None),
            data=data_map,
            predictions=predictions,
            reasoning=reasoning,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            batch_size=_batch_size(batch_size),
            device=device,
            output=output,
            run_id=run_id,
            cache=cache,
            use_cache=not no_cache,
            trust_remote_code=trust_remote_code,
            judge=judge,
        )
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=err,
            transient=False,
        ) as progress:
            tasks: dict[str, Any] = {}

            def hook(name: str, advance: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = progress.add_task(name, total=total)
                    progress.update(tasks[name], completed=advance)
                else:
                    progress.advance(tasks[name], advance)

            engine = Engine(cfg, progress=hook)
            err.print(f"run directory: {engine.run_dir.path}", highlight=False)
            result = engine.run()
    except MedUniEvalError as exc:
        _fail(exc)
    print_summary({r.name: r.summary for r in result.results}, profiles)
    gen = sum(r.generated for r in result.results)
    hit = sum(r.cached for r in result.results)
    skip = sum(r.skipped for r in result.results)
    err.print(
        f"generated {gen}, from cache {hit}, already done {skip} · results in {result.run_dir}",
        highlight=False,
    )


def _profiles(profile: str) -> tuple[str, ...]:
    choices = {"both": ("strict", "compat"), "strict": ("strict",), "compat": ("compat",)}
    if profile not in choices:
        raise ConfigError(f"--profile must be one of {list(choices)}, got {profile!r}")
    return choices[profile]


@app.command()
def rescore(
    run_dir: Path = typer.Argument(..., help="A run directory (results/runs/<run-id>)."),
    profile: str = typer.Option("both", help="Profiles to show: both | strict | compat."),
    judge: str | None = typer.Option(
        None, "--judge", help="Judge preset: fill the judge verdicts records are missing."
    ),
    cache: Path | None = typer.Option(
        None, envvar="MEDUNIEVAL_CACHE", help="Response store for judge verdicts."
    ),
) -> None:
    """Re-score a finished (or partial) run with the current scorers; never calls the model
    (with --judge, only the judge, for verdicts still missing)."""
    from .engine import rescore as do_rescore

    try:
        profiles = _profiles(profile)
        summaries = do_rescore(run_dir, judge=judge, cache=cache)
    except MedUniEvalError as exc:
        _fail(exc)
    print_summary(summaries, profiles)


@app.command("list")
def list_(what: str = typer.Argument(..., help="benchmarks | models | backends")) -> None:
    """List registered benchmarks, model presets or backends."""
    from .backends import BACKENDS
    from .benchmarks import BENCHMARKS
    from .presets import builtin_presets

    try:
        if what == "benchmarks":
            table = Table("id", "paper column", "task", "hub source", "description")
            for name in BENCHMARKS.names():
                b = BENCHMARKS.get(name)
                table.add_row(
                    name,
                    b.title,
                    b.task,
                    b.hub.describe() if b.hub else (b.url or "local only"),
                    b.description,
                )
        elif what == "models":
            table = Table("preset", "model", "backend", "adapter", "group")
            for name, p in sorted(builtin_presets().items()):
                table.add_row(name, p.model, p.backend, p.adapter, p.group or "")
        elif what == "backends":
            table = Table("backend")
            for name in BACKENDS.names():
                table.add_row(name)
        else:
            raise ConfigError(
                f"nothing called {what!r} to list: use benchmarks, models or backends"
            )
    except MedUniEvalError as exc:
        _fail(exc)
    out.print(table)


@app.command("cache")
def cache_stats(
    path: Path = typer.Option(Path("results/cache/responses.sqlite"), envvar="MEDUNIEVAL_CACHE"),
) -> None:
    """Response-store statistics: stored responses per model fingerprint."""
    from .store import ResponseStore

    if not path.exists():
        _fail(ConfigError(f"no response store at {path}"))
    store = ResponseStore(path)
    table = Table("model fingerprint", "responses")
    for fp, n in store.stats().items():
        table.add_row(fp, str(n))
    out.print(table)
    store.close()


@app.command()
def demo(
    workdir: Path = typer.Option(
        Path("results/demo"), help="Where the demo model, data and run go."
    ),
) -> None:
    """Build a tiny random Qwen2-VL offline and run VQA-RAD + MedQA on bundled real rows."""
    from .demo import run_demo

    try:
        summaries = run_demo(workdir, console=err)
    except MedUniEvalError as exc:
        _fail(exc)
    print_summary(summaries, ("strict", "compat"))


def main() -> None:  # pragma: no cover - console entry point wrapper
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted; re-run the same command to resume")
        sys.exit(130)
