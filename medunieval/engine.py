"""The run pipeline: samples -> requests -> store / backend -> records -> summaries.

Resume is the default: samples that already have a successful record in the run directory are
skipped, and requests whose key is in the response store are never regenerated. Responses are
stored before their records are appended, so a crash between the two loses nothing.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from . import __version__, prompts, provenance
from .backends import BACKENDS, Backend
from .benchmarks import BENCHMARKS
from .benchmarks.base import Benchmark, prior_turns
from .calibration import attach_calibration, calibration_dir
from .data.cards import requested_revision
from .data.parts import MediaSpecs, build_all, media_part, media_specs, media_workers
from .data.sources import RawRows
from .distributed.shards import select_shard
from .errors import ConfigError, SampleError
from .exit_policy import DEFAULT_MAX_ERROR_RATE, apply_exit_policy
from .judge import Judge, judge_records
from .manifest import environment, git_info
from .model_identity import cache_file_for
from .model_identity import identity as model_identity
from .presets import ModelPreset, resolve_model
from .rundir import RunDir, atomic_write_json
from .scoring.aggregate import summarize
from .scoring.profiles import score_record
from .store import ResponseStore
from .suites import SubsetSpec, select_subset
from .types import (
    GenParams,
    Message,
    Record,
    Request,
    Response,
    Sample,
    TextPart,
    canonical_json,
    sha256_hex,
)
from .usage import usage_summary

ProgressHook = Callable[[str, int, int], None]  # (benchmark, advance, total)


@dataclass
class RunConfig:
    """Everything a run depends on (the CLI fills it; tests may build it directly)."""

    model: str
    benchmarks: list[str]
    backend: str | None = None
    limit: int | None = None
    data_dir: Path | None = None
    data: dict[str, Path] = field(default_factory=dict)
    predictions: Path | None = None
    reasoning: bool = False
    max_new_tokens: int | None = None
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    batch_size: int | str = "auto"
    device: str | None = None
    output: Path = Path("results/runs")
    run_id: str | None = None
    cache: Path | None = None
    use_cache: bool = True
    trust_remote_code: bool = False
    flush_every: int = 64
    suite: str | None = None
    subset: dict[str, SubsetSpec] = field(default_factory=dict)
    num_shards: int = 1
    shard_index: int = 0
    data_parallel: int = 1
    executor: str = "local"
    ray_address: str | None = None
    gpus: list[str] | None = None
    concurrency: int | None = None
    judge: str | None = None
    max_image_pixels: int | None = None
    data_revision: dict[str, str] = field(default_factory=dict)
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE


@dataclass
class BenchResult:
    name: str
    summary: dict[str, Any]
    generated: int = 0
    cached: int = 0
    skipped: int = 0
    #: records re-run this invocation because an input changed, by reason
    rerun: dict[str, int] = field(default_factory=dict)
    #: records of samples no longer in the data, removed from the run
    dropped: int = 0


@dataclass
class RunResult:
    run_dir: Path
    results: list[BenchResult]
    #: 0, or ``exit_policy.EXIT_INCOMPLETE`` with ``problems`` saying why
    exit_code: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. unmatched replay predictions


# ----------------------------------------------------------------------------- helpers
def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "model"


def resolve_benchmarks(names: Iterable[str]) -> list[Benchmark]:
    """Look every name up before anything heavy happens (unknown name -> ConfigError)."""
    out = [BENCHMARKS.get(n.strip()) for n in names if n.strip()]
    if not out:
        raise ConfigError(
            "no benchmark given: pass --bench NAME[,NAME...] (see `medunieval list benchmarks`)"
        )
    return out


def data_path(cfg: RunConfig, bench: Benchmark) -> Path | None:
    """Where ``bench`` loads from: --data NAME=PATH, else --data-dir/<name>, else --data-dir
    itself for a single benchmark, else None (the official hub dataset)."""
    if bench.name in cfg.data:
        return cfg.data[bench.name]
    if cfg.data_dir is not None:
        sub = cfg.data_dir / bench.name
        if sub.exists():
            return sub
        if len(cfg.benchmarks) == 1:
            return cfg.data_dir
        raise ConfigError(
            f"{bench.name}: no folder {sub}; with several benchmarks --data-dir must hold one "
            f"folder per benchmark (or use --data {bench.name}=PATH)"
        )
    return None


def load_all_raw(cfg: RunConfig, benches: list[Benchmark]) -> list[RawRows]:
    """Every benchmark's rows; the data problems of all benchmarks are reported at once."""
    raws, problems = [], []
    for bench in benches:
        try:
            revision = requested_revision(bench.name, cfg.data_revision)
            raws.append(bench.load_raw(data_path(cfg, bench), revision))
        except ConfigError as exc:
            problems.append(str(exc))
    if len(problems) == 1:
        raise ConfigError(problems[0])
    if problems:
        raise ConfigError(
            f"{len(problems)} benchmarks cannot load their data: " + " | ".join(problems)
        )
    return raws


def gen_params(cfg: RunConfig, bench: Benchmark, preset: ModelPreset) -> GenParams:
    """Generation parameters: benchmark default, then preset, then command line."""
    base = dict(max_new_tokens=bench.max_new_tokens if not cfg.reasoning else 4096)
    base.update({k: v for k, v in preset.generation.items() if k in GenParams.__dataclass_fields__})
    if cfg.max_new_tokens is not None:
        base["max_new_tokens"] = cfg.max_new_tokens
    base.update(temperature=cfg.temperature, top_p=cfg.top_p, seed=cfg.seed)
    return GenParams(**base)


def run_id_for(cfg: RunConfig, preset: ModelPreset) -> str:
    """A deterministic run id, so re-running the same command resumes the same run."""
    if cfg.run_id:
        check_run_id(cfg.run_id)
        return cfg.run_id + shard_suffix(cfg)
    ident = {
        "preset": {k: v for k, v in preset.to_dict().items() if k != "source"},
        "benchmarks": sorted(cfg.benchmarks),
        "limit": cfg.limit,
        "data": {k: str(v) for k, v in sorted(cfg.data.items())},
        "data_dir": str(cfg.data_dir) if cfg.data_dir else None,
        "predictions": str(cfg.predictions) if cfg.predictions else None,
        "reasoning": cfg.reasoning,
        "max_new_tokens": cfg.max_new_tokens,
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
        "seed": cfg.seed,
    }
    if cfg.subset:
        ident["subset"] = {k: v.to_dict() for k, v in sorted(cfg.subset.items())}
    if cfg.data_revision:  # another dataset revision is another run
        ident["data_revision"] = dict(sorted(cfg.data_revision.items()))
    digest = sha256_hex(canonical_json(ident).encode())[:10]
    return f"{_slug(preset.name)}-{digest}{shard_suffix(cfg)}"


_SAFE_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=@-]{0,199}$")


def check_run_id(run_id: str) -> None:
    """A run id is one safe path component (letters, digits, ``._+=@-``, not starting with a
    dot): ``--run-id ../x`` must not write outside ``--output``."""
    if not _SAFE_RUN_ID.match(run_id):
        raise ConfigError(
            f"--run-id {run_id!r}: use one folder name of letters, digits and ._+=@- "
            "(no path separators, not starting with a dot)"
        )


SHARD_STORE = "responses.sqlite"  # a shard run's own response store, inside its run directory


def store_path(cfg: RunConfig, run_dir: Path | None = None) -> Path:
    """The response store: ``--cache``; else, for a shard run (``run_dir`` given), its own
    store inside the shard's run directory (shards may run on other machines, and SQLite must
    not be shared between machines); else ``<output>/../cache/responses.sqlite``."""
    if cfg.cache is None and cfg.num_shards > 1 and run_dir is not None:
        return run_dir / SHARD_STORE
    return cache_path(cfg.cache, cfg.output)


def shard_suffix(cfg: RunConfig) -> str:
    """``-shard<i>of<K>`` for a shard run, else nothing (data parallelism, the executor and
    shards do not change results, so they are not part of the run's identity)."""
    if cfg.num_shards <= 1:
        return ""
    return f"-shard{cfg.shard_index}of{cfg.num_shards}"


def check_sharding(cfg: RunConfig) -> None:
    """Reject impossible shard / parallelism settings before any work."""
    if cfg.num_shards < 1 or not 0 <= cfg.shard_index < cfg.num_shards:
        raise ConfigError(
            f"--shard-index must be in 0..{cfg.num_shards - 1} (got {cfg.shard_index}) and "
            f"--num-shards >= 1 (got {cfg.num_shards})"
        )
    if cfg.data_parallel < 1:
        raise ConfigError(f"--data-parallel must be >= 1 (got {cfg.data_parallel})")
    if cfg.executor not in ("local", "ray"):
        raise ConfigError(f"--executor must be local or ray (got {cfg.executor!r})")


def build_request(
    bench: Benchmark,
    sample: Sample,
    params: GenParams,
    reasoning: bool,
    specs: MediaSpecs | None = None,
    check: bool = True,
) -> Request:
    """The request for one sample; a broken row or unreadable media raises ``SampleError``.
    ``check=False``: media digests without decoding (to compare inputs, not to generate)."""
    if sample.error is not None:
        raise sample.error
    parts: list[Any] = []
    for ref in sample.media:
        parts.append(media_part(ref, specs or media_specs(bench), check))
    parts.append(TextPart(bench.prompt(sample, reasoning)))
    messages = (*prior_turns(sample), Message("user", tuple(parts)))
    return Request(sample.id, bench.name, messages, params)


MAX_RESPONSE_CHARS = 200_000  # ~50k tokens; beyond this a response is an error outcome


def _check_size(response: Response | None) -> Response | None:
    """A response longer than ``MAX_RESPONSE_CHARS`` becomes an ``oversized_output`` error (its
    head is kept for inspection) instead of being scored or bloating the records."""
    if response is None or response.text is None or len(response.text) <= MAX_RESPONSE_CHARS:
        return response
    return Response(
        text=None,
        error=f"oversized_output: {len(response.text)} characters (limit {MAX_RESPONSE_CHARS}); "
        f"starts with {response.text[:200]!r}",
        finish_reason=response.finish_reason,
        prompt_tokens=response.prompt_tokens,
        completion_tokens=response.completion_tokens,
        latency_s=response.latency_s,
        cached=response.cached,
    )


def _record(
    sample: Sample,
    request: Request | None,
    key: str | None,
    response: Response | None,
    error: SampleError | None,
    prov: dict[str, Any] | None = None,
) -> Record:
    return Record(
        sample_id=sample.id,
        benchmark=sample.benchmark,
        answer=sample.answer,
        answer_type=sample.answer_type,
        request_key=key,
        prompt=request.prompt_text() if request else None,
        response=_check_size(response),
        choices=sample.choices,
        media=[{"source": p.ref.source, "sha256": p.digest} for p in request.media()]
        if request
        else [{"source": m.source} for m in sample.media],
        meta={k: v for k, v in sample.meta.items() if k != "context"},
        question=sample.question,
        error={"kind": error.kind, "reason": error.reason} if error else None,
        provenance=prov,
    )


def subset_strata(bench: Benchmark, samples: list[Sample], spec: SubsetSpec) -> list[str | None]:
    """The stratum of each sample for a seeded subset: ``spec.stratify`` or the benchmark's
    first ``group_by`` field (``answer_type`` is the sample's own)."""
    field_name = spec.stratify or (bench.group_by[0] if bench.group_by else None)
    if field_name is None:
        return [None] * len(samples)
    if field_name == "answer_type":
        return [s.answer_type for s in samples]
    return [None if s.meta.get(field_name) is None else str(s.meta[field_name]) for s in samples]


# ------------------------------------------------------------------------------- engine
class Engine:
    """Runs benchmarks for one model into one run directory."""

    def __init__(
        self,
        cfg: RunConfig,
        progress: ProgressHook | None = None,
        backend: Backend | None = None,
        close_backend: bool = True,
        preset: ModelPreset | None = None,
    ) -> None:
        """``backend``: an already loaded backend to use, e.g. a data-parallel worker's model
        reused across the shards it processes; ``close_backend=False`` keeps the backend open
        after ``run`` (the caller closes it). ``preset``: the model's description when it is
        not resolved from ``cfg.model`` (a Python model object passed to ``evaluate``)."""
        self.cfg = cfg
        check_sharding(cfg)
        self.benches = resolve_benchmarks(cfg.benchmarks)
        if cfg.backend is not None:
            BACKENDS.get(cfg.backend)
        self.preset = preset or resolve_model(cfg.model, cfg.backend)
        if cfg.backend is None and cfg.predictions is not None:
            self.preset.backend = "replay"
        if cfg.trust_remote_code:
            self.preset.trust_remote_code = True
        if backend is None or preset is None:
            BACKENDS.get(self.preset.backend)  # unknown backend -> ConfigError before any work
        self.run_dir = RunDir(cfg.output / run_id_for(cfg, self.preset))
        self.progress = progress or (lambda *_: None)
        self._backend: Backend | None = backend
        self._close_backend = close_backend
        self._store: ResponseStore | None = None
        self._records: dict[str, Record] = {}  # the current benchmark's records, by sample id
        self._judge: Judge | None = None
        if cfg.judge is not None:  # unknown judge preset / backend -> ConfigError now
            self._judge = Judge.from_spec(
                cfg.judge,
                store_path(cfg, self.run_dir.path) if cfg.use_cache else None,
                batch_size=cfg.batch_size,
                device=cfg.device,
            )
        self._specs: MediaSpecs | None = None  # the current benchmark's volume / video specs
        self._all_ids: dict[str, list[str]] = {}  # every sample id of each benchmark's data
        self._model_fp: str | None = None

    @property
    def loaded_backend(self) -> Backend | None:
        """The backend if it was created (None while no request needed a model)."""
        return self._backend

    # backend and store are created on first need: a finished run re-scores without a model
    @property
    def backend(self) -> Backend:
        if self._backend is None:
            cls = BACKENDS.get(self.preset.backend)
            self._backend = cls.from_preset(
                self.preset,
                predictions=self.cfg.predictions,
                batch_size=self.cfg.batch_size,
                device=self.cfg.device,
                concurrency=self.cfg.concurrency,
                identity=self._model_fp or self._identity(),
            )
        return self._backend

    def _backend_class(self) -> Any:
        """The backend's class: a registered one, or a Python model object's own (``evaluate``
        passes the object; its ``fingerprint()`` is then the model identity)."""
        if self._backend is not None and self.preset.backend not in BACKENDS.names():
            return type(self._backend)
        return BACKENDS.get(self.preset.backend)

    def _identity(self) -> str | None:
        # the weight-digest cache lives beside the store even with --no-cache (it holds no
        # answers, and a large checkpoint should not be hashed again on every run)
        cls = self._backend_class()
        cache = cache_file_for(store_path(self.cfg))
        return model_identity(self.preset, cls, self.cfg.device, cache)

    @property
    def model_fingerprint(self) -> str:
        """The model identity in every request key, computed without loading the model
        (``model_identity``); only a backend unknown there is loaded to ask it."""
        if self._model_fp is None:
            self._model_fp = self._identity() or self.backend.fingerprint()
        return self._model_fp

    @property
    def uses_store(self) -> bool:
        """Whether this run reads / writes the response store (its backend is cacheable)."""
        return bool(getattr(self._backend_class(), "cacheable", True))

    @property
    def store(self) -> ResponseStore | None:
        if self._store is None and self.cfg.use_cache and self.uses_store:
            shard_store = self.run_dir.path / SHARD_STORE if self.cfg.num_shards > 1 else None
            self._store = ResponseStore(store_path(self.cfg, self.run_dir.path), shard_store)
        return self._store

    def run(self) -> RunResult:
        rd = self.run_dir
        rd.lock()
        started = time.time()
        try:
            manifest = rd.read_manifest(on_damage="set_aside") or self._new_manifest()
            # Every data source is resolved before any generation: a wrong path for the last
            # benchmark must not surface after hours spent on the first.
            raws = load_all_raw(self.cfg, self.benches)
            results = [
                self._run_bench(b, raw, manifest) for b, raw in zip(self.benches, raws, strict=True)
            ]
            # The records of this invocation's benchmarks were all made (or verified) with this
            # invocation's inputs: the manifest describes them, and keeps the history.
            config = self._config_dict()
            manifest["config"], manifest["model"] = config, self.preset.to_dict()
            manifest["prompt_template_sha256"] = prompts.template_hash()
            manifest["seed"] = self.cfg.seed
            manifest["backend"] = {"name": self.preset.backend, "fingerprint": self._model_fp}
            manifest["invocations"].append(
                {
                    "started": started,
                    "finished": time.time(),
                    "argv": sys.argv,
                    "config": config,
                    "model_fingerprint": self._model_fp,
                    "generated": sum(r.generated for r in results),
                    "cached": sum(r.cached for r in results),
                    "skipped": sum(r.skipped for r in results),
                    "rerun": {r.name: r.rerun for r in results if r.rerun},
                    "dropped": {r.name: r.dropped for r in results if r.dropped},
                }
            )
            if self._judge is not None:
                manifest["judge"] = self._judge.describe()
            warnings = self._replay_warnings()
            if warnings:
                manifest["invocations"][-1]["warnings"] = warnings
            rd.write_manifest(manifest)
            summaries = {r.name: r.summary for r in results}
            rerun = {r.name: {"rerun": r.rerun, "dropped": r.dropped} for r in results}
            write_run_summary(rd, self.preset.name, summaries, {"provenance": rerun})
            code, problems = apply_exit_policy(rd.path, summaries, self.cfg.max_error_rate)
            return RunResult(rd.path, results, code, problems, warnings)
        finally:
            if self._backend is not None and self._close_backend:
                self._backend.close()
            if self._store is not None:
                self._store.close()
            if self._judge is not None:
                self._judge.close()
            rd.unlock()

    def _replay_warnings(self) -> list[str]:
        if self.preset.backend != "replay":
            return []
        from .replay_check import check_predictions, predictions_path

        path = predictions_path(self.preset, self.cfg.predictions)
        return check_predictions(path, self._all_ids) if path is not None else []

    def _config_dict(self) -> dict[str, Any]:
        cfg = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self.cfg).items()}
        cfg["data"] = {k: str(v) for k, v in self.cfg.data.items()}
        return cfg

    def _new_manifest(self) -> dict[str, Any]:
        cfg = self._config_dict()
        return {
            "run_id": self.run_dir.path.name,
            "created": time.time(),
            "medunieval_version": __version__,
            "git": git_info(),
            "environment": environment(),
            "config": cfg,
            "model": self.preset.to_dict(),
            "backend": {"name": self.preset.backend, "fingerprint": None},
            "seed": self.cfg.seed,
            "profiles": ["strict", "compat"],
            "prompt_template_sha256": prompts.template_hash(),
            "benchmarks": {},
            "invocations": [],
        }

    def _run_bench(self, bench: Benchmark, raw: RawRows, manifest: dict[str, Any]) -> BenchResult:
        cfg, rd = self.cfg, self.run_dir
        samples = bench.samples(raw)
        self._all_ids[bench.name] = [s.id for s in samples]
        subset = cfg.subset.get(bench.name)
        if subset is not None:
            strata = subset_strata(bench, samples, subset)
            samples = select_subset(bench.name, samples, subset, strata)
        if cfg.limit is not None:
            samples = samples[: cfg.limit]
        params = gen_params(cfg, bench, self.preset)
        fingerprint = sha256_hex(
            canonical_json(
                [raw.fingerprint, [[s.id, s.question, s.answer, s.choices] for s in samples]]
            ).encode()
        )
        shard = None
        if cfg.num_shards > 1:
            # the whole id list, in dataset order: `merge` checks completeness and orders by it
            shard = {"index": cfg.shard_index, "of": cfg.num_shards, "ids": [s.id for s in samples]}
            samples = select_shard(bench.name, samples, cfg.num_shards, cfg.shard_index)
        fp = self.model_fingerprint
        manifest["benchmarks"][bench.name] = {
            "source": raw.origin,
            "data_revision": raw.revision,
            "data_check": raw.check,
            "data_fingerprint": fingerprint,
            "n_samples": len(samples),
            "shard": shard,
            "version": bench.version,
            "subset": subset.to_dict() if subset is not None else None,
            "generation": params.to_dict(),
            "reasoning": cfg.reasoning,
            "model_fingerprint": fp,
            "prompt_template_sha256": prompts.template_hash(),
        }
        self._specs = media_specs(bench, self.preset.options, cfg.max_image_pixels)
        if any(m.kind != "image" for s in samples for m in s.media):
            manifest["benchmarks"][bench.name]["media"] = self._specs.to_dict()
        rd.repair_tail(bench.name)
        # The run lock makes this process the only writer: the records read here plus those it
        # emits are the file's content, so it is read once, not again at the end. Records of
        # samples no longer in the data are removed: they must not count (here or in rescore).
        ids = {s.id for s in samples}
        existing = rd.read_records(bench.name)
        self._records = {r.sample_id: r for r in existing if r.sample_id in ids}
        result = BenchResult(bench.name, {}, dropped=len(existing) - len(self._records))
        if result.dropped:
            rd.rewrite_records(bench.name, list(self._records.values()))
        todo = self._stale(bench, samples, params, fp, result)
        self.progress(bench.name, result.skipped, len(samples))
        if todo:
            self._generate(bench, todo, fp, result)
        records = [self._records[s.id] for s in samples if s.id in self._records]
        if self._judge is not None:
            rejudged = judge_records(bench, records, self._judge)
            if rejudged:
                rd.rewrite_records(bench.name, list(self._records.values()))
                for reason, n in rejudged.items():
                    if reason != "new":  # a first verdict is no re-run
                        result.rerun[reason] = result.rerun.get(reason, 0) + n
        summary = summarize(bench, records)
        attach_calibration(summary, records, calibration_dir(cfg.output.parent))
        write_submission(rd, bench, records, summary)
        summary["usage"] = usage_summary(records, self.preset.options.get("price"))
        summary["generation"] = {
            "generated": result.generated,
            "cached": result.cached,
            "skipped": result.skipped,
        }
        rd.write_summary(bench.name, summary)
        result.summary = summary
        return result

    def _stale(
        self,
        bench: Benchmark,
        samples: list[Sample],
        params: GenParams,
        fp: str,
        result: BenchResult,
    ) -> list[tuple[Sample, Request | SampleError, str | None, dict[str, Any] | None]]:
        """Build every sample's request and provenance; return those whose record is missing,
        failed or made from other inputs (``provenance.stale_reason``), counting the reasons in
        ``result.rerun`` and the reusable records in ``result.skipped``."""
        cls = self._backend_class()
        predict = None
        if getattr(cls, "per_sample_answers", False):  # replay: answers are per sample id
            holder = self.backend  # a wrapper (e.g. the Ray executor's) may not read the file
            if not hasattr(holder, "prediction_digest"):
                holder = cls.from_preset(self.preset, predictions=self.cfg.predictions)
            predict = holder.prediction_digest
        sampled = params.temperature > 0

        def build(sample: Sample, check: bool = True) -> Request:
            p = params
            if sampled:  # each sample its own draw, seeded per sample
                p = replace(params, seed=provenance.sample_seed(params.seed, bench.name, sample.id))
            return build_request(bench, sample, p, self.cfg.reasoning, self._specs, check)

        def prov_of(sample: Sample, req: Request) -> tuple[dict[str, Any], str | None]:
            pred = predict(bench.name, sample.id) if predict is not None else None
            return provenance.make(sample, req, fp, params, pred), pred

        # Samples with a successful record are checked first from media digests alone (nothing
        # decoded); only the samples that must run are fully built and checked.
        reasons: Counter[str] = Counter()
        counted: set[str] = set()
        full: list[Sample] = []
        done = {sid for sid, r in self._records.items() if not r.failed}
        reusable = [s for s in samples if s.id in done]
        others = [s for s in samples if s.id not in done]
        for sample, req in build_all(lambda s: build(s, False), reusable, media_workers(reusable)):
            if isinstance(req, SampleError):
                full.append(sample)  # the full build records the error (and the reason)
                continue
            reason = provenance.stale_reason(self._records[sample.id], prov_of(sample, req)[0])
            if reason is None:
                result.skipped += 1
                continue
            reasons[reason] += 1
            counted.add(sample.id)
            full.append(sample)
        todo = []
        rebuild = full + others if full else others
        for sample, req in build_all(build, rebuild, media_workers(rebuild)):
            old = None if sample.id in counted else self._records.get(sample.id)
            if isinstance(req, SampleError):
                if old is not None and not old.failed:
                    reasons[provenance.COMPONENTS["data"]] += 1  # e.g. its image is gone
                elif old is not None:
                    reasons[provenance.RETRY_FAILED] += 1
                todo.append((sample, req, None, None))
                continue
            prov, pred = prov_of(sample, req)
            if old is not None:
                reasons[provenance.stale_reason(old, prov) or provenance.RETRY_FAILED] += 1
            todo.append((sample, req, req.key(fp, provenance.per_sample_key(req, pred)), prov))
        result.rerun.update(reasons)
        return todo

    def _generate(
        self,
        bench: Benchmark,
        todo: list[tuple[Sample, Request | SampleError, str | None, dict[str, Any] | None]],
        fp: str,
        result: BenchResult,
    ) -> None:
        failed: list[Record] = []
        by_key: dict[str, list[tuple[Sample, Request, dict[str, Any] | None]]] = {}
        for sample, req, key, prov in todo:
            if isinstance(req, SampleError) or key is None:
                failed.append(_record(sample, None, None, None, req))  # type: ignore[arg-type]
                continue
            by_key.setdefault(key, []).append((sample, req, prov))
        self._emit(bench, failed)
        store = self.store
        hits = store.get_many(list(by_key)) if store is not None else {}
        hits = {k: v for k, v in hits.items() if _check_size(v) is v}  # oversized: regenerate
        self._emit(
            bench, [_record(s, r, k, hits[k], None, p) for k in hits for s, r, p in by_key[k]]
        )
        result.cached += sum(len(by_key[k]) for k in hits)
        pending = [(k, v[0][1]) for k, v in by_key.items() if k not in hits]
        key_of = {id(req): key for key, req in pending}
        buffer: list[tuple[str, Response]] = []
        last_flush = time.monotonic()
        # a crash loses at most one flush; answers that cost nothing (replay) flush less often
        cacheable = getattr(self._backend_class(), "cacheable", True)
        every = self.cfg.flush_every if cacheable else max(self.cfg.flush_every, 4096)

        def flush() -> None:
            if store is not None:  # an oversized answer is an error: never stored
                store.put_many((k, fp, _check_size(resp)) for k, resp in buffer)
            recs = [_record(s, r, k, resp, None, p) for k, resp in buffer for s, r, p in by_key[k]]
            self._emit(bench, recs)
            buffer.clear()

        if not pending:  # everything came from the store: the model is never loaded
            return
        try:  # a backend that stops the run (auth failure, dead server) keeps what it returned
            for req, resp in self.backend.generate([r for _, r in pending]):
                key = key_of[id(req)]
                buffer.append((key, resp))
                result.generated += 1
                # the first answer is written at once: a run shows (and keeps) progress early
                first = cacheable and result.generated == 1
                if first or len(buffer) >= every or time.monotonic() - last_flush > 2.0:
                    flush()
                    last_flush = time.monotonic()
        finally:
            flush()

    def _emit(self, bench: Benchmark, records: list[Record]) -> None:
        if not records:
            return
        for rec in records:
            rec.scores = score_record(bench, rec)
            self._records[rec.sample_id] = rec
        self.run_dir.append_records(bench.name, records)
        self.progress(bench.name, len(records), 0)


def write_run_summary(
    rd: RunDir, model: str | None, summaries: dict[str, Any], extra: dict[str, Any] | None = None
) -> None:
    """The run-level ``summary.json``: every benchmark's summary, keyed by benchmark id (and
    ``extra``: this invocation's re-runs by reason, under ``provenance``)."""
    data = {"run_id": rd.path.name, "model": model, "benchmarks": summaries, **(extra or {})}
    atomic_write_json(rd.path / "summary.json", data)


def write_submission(
    rd: RunDir, bench: Benchmark, records: list[Record], summary: dict[str, Any]
) -> None:
    """For benchmarks with withheld answers: write ``<bench>/submission.json``."""
    if bench.submission is None:
        return

    path = rd.path / bench.name / "submission.json"
    atomic_write_json(path, bench.submission(records))
    summary["submission"] = str(path)


def cache_path(cache: Path | None, output: Path) -> Path:
    """The response store: ``--cache``, else ``<output>/../cache/responses.sqlite``."""
    return cache or (output.parent / "cache" / "responses.sqlite")


def rescore(
    run_path: Path, judge: str | None = None, cache: Path | None = None
) -> dict[str, dict[str, Any]]:
    """Re-score every record of a run with the current scorers; rewrites records + summaries.
    With ``judge`` (a preset), records still missing a judge verdict are judged first."""
    rd = RunDir(run_path)
    if not rd.path.is_dir():
        raise ConfigError(f"{run_path} is not a run directory")
    benches = rd.benchmarks()
    if not benches:
        raise ConfigError(f"{run_path} holds no records (expected <bench>/records.jsonl)")
    judge_ = Judge.from_spec(judge, cache_path(cache, rd.path.parent)) if judge else None
    rd.lock()
    try:
        out: dict[str, dict[str, Any]] = {}
        for name in benches:
            bench = BENCHMARKS.get(name)
            records = rd.read_records(name)
            for rec in records:
                rec.scores = score_record(bench, rec)
            if judge_ is not None:
                judge_records(bench, records, judge_)
            rd.rewrite_records(name, records)
            summary = summarize(bench, records)
            attach_calibration(summary, records, calibration_dir(rd.path.parent.parent))
            write_submission(rd, bench, records, summary)
            previous = rd.read_summary(name, lenient=True) or {}
            if "generation" in previous:
                summary["generation"] = previous["generation"]
            rd.write_summary(name, summary)
            out[name] = summary
        manifest = rd.read_manifest(on_damage="warn") or {}
        if judge_ is not None and manifest:
            manifest["judge"] = judge_.describe()
            rd.write_manifest(manifest)
        write_run_summary(rd, manifest.get("model", {}).get("name"), out)
        return out
    finally:
        if judge_ is not None:
            judge_.close()
        rd.unlock()
