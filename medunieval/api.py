"""The Python API: ``evaluate`` runs benchmarks as ``medunieval run`` does (same options, same
run directories, same resume), ``load_run`` opens a finished run; both give a ``Run`` with
summaries and records, and ``Records.to_pandas()`` a DataFrame (``pip install pandas``).

``model`` is what ``--model`` accepts, or any Python object implementing the backend protocol
(``medunieval.backends.base.Backend``: ``name``, ``modalities``, ``cacheable``,
``fingerprint()``, ``generate(requests)``, ``close()``), so a user evaluates their own model
class without writing a plugin package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backends.base import Backend
from .errors import ConfigError


class Records(list):
    """A run's records as JSON objects (one per sample), as in ``<bench>/records.jsonl``."""

    def to_pandas(self) -> Any:
        """One row per record: ids, question, gold ``answer``, prompt, response text, error
        kind, each profile's scalar verdicts (``strict_correct``, ``compat_extracted`` ...) and
        the benchmark's metadata (``meta_<field>``)."""
        return _pandas().DataFrame([_flat(r) for r in self])


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ConfigError("DataFrames need pandas: pip install 'medunieval[pandas]'") from None
    return pandas


def _flat(rec: dict[str, Any]) -> dict[str, Any]:
    response = rec.get("response") or {}
    row: dict[str, Any] = {
        "benchmark": rec.get("benchmark"),
        "sample_id": rec.get("sample_id"),
        "question": rec.get("question"),
        "answer": rec.get("answer"),
        "answer_type": rec.get("answer_type"),
        "prompt": rec.get("prompt"),
        "response": response.get("text"),
        "finish_reason": response.get("finish_reason"),
        "latency_s": response.get("latency_s"),
        "error": (rec.get("error") or {}).get("kind")
        or (response.get("error") or "").split(":")[0]
        or None,
    }
    for profile, verdict in (rec.get("scores") or {}).items():
        for key, value in (verdict or {}).items():
            if value is None or isinstance(value, (bool, int, float, str)):
                row[f"{profile}_{key}"] = value
    for key, value in (rec.get("meta") or {}).items():
        if value is None or isinstance(value, (bool, int, float, str)):
            row[f"meta_{key}"] = value
    return row


@dataclass
class Run:
    """A run directory: its summaries (per benchmark), manifest, records and, for a run made by
    ``evaluate``, how many responses were generated / served from the store / already done."""

    path: Path
    summaries: dict[str, dict[str, Any]]
    manifest: dict[str, Any] = field(default_factory=dict)
    generation: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def benchmarks(self) -> list[str]:
        return list(self.summaries)

    def score(self, benchmark: str, profile: str = "strict") -> float | None:
        """A benchmark's headline score (0-1) in ``profile``."""
        prof = self.summaries[benchmark].get("profiles", {}).get(profile)
        return None if prof is None else prof.get("score")

    def records(self, benchmark: str | None = None) -> Records:
        """Every record of ``benchmark`` (default: of all benchmarks): the latest record per
        sample, in file order (damaged lines are skipped with one warning)."""
        from .rundir import RunDir

        rd = RunDir(self.path)
        out = Records()
        for name in [benchmark] if benchmark else self.benchmarks:
            if not rd.records_path(name).is_file():
                raise ConfigError(f"no records at {rd.records_path(name)}")
            out.extend(rd.read_record_dicts(name))
        return out

    def summary_frame(self) -> Any:
        """One row per benchmark and profile: metric, score, n, parse rate, errors."""
        rows = []
        for name, s in self.summaries.items():
            for profile, prof in (s.get("profiles") or {}).items():
                rows.append(
                    {
                        "benchmark": name,
                        "profile": profile,
                        "metric": prof.get("metric"),
                        "score": prof.get("score"),
                        "n": s.get("n"),
                        "parse_rate": prof.get("parse_rate"),
                        "errors": s.get("errors"),
                    }
                )
        return _pandas().DataFrame(rows)


def load_run(path: str | Path) -> Run:
    """Open a run directory (``results/runs/<run-id>``)."""
    from .rundir import RunDir

    path = Path(path)
    if not path.is_dir():
        raise ConfigError(f"{path} is not a run directory")
    rd = RunDir(path)
    summaries = {}
    for name in rd.benchmarks():
        summary = rd.read_summary(name, lenient="left out")
        if summary is not None:
            summaries[name] = summary
    ordered = (rd.read_run_summary() or {}).get("benchmarks") or {}
    summaries = {**{k: summaries[k] for k in ordered if k in summaries}, **summaries}
    if not summaries:
        raise ConfigError(f"{path} holds no benchmark summary (<bench>/summary.json)")
    return Run(path, summaries, rd.read_manifest(on_damage="warn") or {})


def _object_preset(model: Backend) -> Any:
    from .presets import ModelPreset

    cls = type(model)
    return ModelPreset(
        name=str(getattr(model, "name", "") or cls.__name__),
        model=f"python:{cls.__module__}.{cls.__qualname__}",
        backend="python",
        source="Python object",
    )


def evaluate(
    model: str | Backend,
    benchmarks: Sequence[str] | str | None = None,
    *,
    config: str | Path | None = None,
    progress: Any = None,
    **options: Any,
) -> Run:
    """Run ``benchmarks`` for ``model`` and return the ``Run``.

    ``options`` are ``medunieval run``'s options by their Python names (``limit=20``,
    ``data_dir="..."``, ``data={"vqa_rad": "..."}``, ``backend="replay"``,
    ``predictions="..."``, ``output="results/runs"``, ``cache=...``, ``suite=...``); ``config``
    is a YAML file of the same keys (``options`` override it). Misconfiguration raises
    ``ConfigError``. ``progress(benchmark, advance, total)`` is called as samples finish.
    """
    from .engine import Engine
    from .runconfig import from_sources

    is_object = not isinstance(model, str)
    if is_object and not isinstance(model, Backend):
        raise ConfigError(
            f"model must be a preset name / path / hub id or an object implementing the backend "
            f"protocol (name, modalities, cacheable, fingerprint, generate, close); got "
            f"{type(model).__name__}"
        )
    api: dict[str, Any] = dict(options)
    api["model"] = model if isinstance(model, str) else _object_preset(model).name
    if benchmarks is not None:
        api["benchmarks"] = benchmarks
    cfg, _ = from_sources(config=Path(config) if config else None, api=api)
    if is_object:
        if cfg.data_parallel > 1 or cfg.executor != "local":
            raise ConfigError("a Python model object runs in this process: no data_parallel/ray")
        engine = Engine(
            cfg, progress=progress, backend=model, close_backend=False, preset=_object_preset(model)
        )
        result = engine.run()
    elif cfg.executor == "ray":
        from .distributed.ray_executor import run_ray

        result = run_ray(cfg, progress=progress)
    elif cfg.data_parallel > 1:
        from .distributed.parallel import run_data_parallel

        result = run_data_parallel(cfg, progress=progress)
    else:
        result = Engine(cfg, progress=progress).run()
    run = load_run(result.run_dir)
    run.generation = {
        "generated": sum(r.generated for r in result.results),
        "cached": sum(r.cached for r in result.results),
        "skipped": sum(r.skipped for r in result.results),
    }
    run.warnings = list(result.warnings)
    return run
