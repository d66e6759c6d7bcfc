"""``medunieval compare``: how far two or more runs of the same benchmarks agree.

The first run is the reference; every other run is compared with it, benchmark by benchmark,
on the samples both hold (matched on sample id):

- scores of both runs on those samples, the paired difference with a 95% percentile bootstrap
  interval (:func:`stats.paired_bootstrap_ci`) and the exact McNemar p-value the regression gate
  uses (:func:`stats.mcnemar_exact`);
- agreement of raw responses (exact text), extracted answers and verdicts;
- every disagreeing sample, most important first (a verdict flip, then an error on one side,
  then a flip in the other profile, an extracted answer, a response text only), with both
  responses and where they first diverge: the first differing token id when both records hold
  ``response.token_ids``, else the first differing character (records today hold token
  *counts*, not ids).

Runs whose inputs differ are refused (:func:`input_problems`): data fingerprints or the prompt
template hash in the manifests, or per record the prompt, gold answer, question, options, media
digests or an input digest field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .rundir import RunDir
from .stats import mcnemar_exact, paired_bootstrap_ci

# Per-record fields that must be equal for two records to be the same input.
INPUT_FIELDS = ("prompt", "answer", "question", "choices")
# Digest fields a record may carry for its inputs (top level or under ``provenance``); the model
# fingerprint is not an input, so ``request_key`` is never compared.
DIGEST_FIELDS = ("input_digest", "inputs_digest", "input_sha256", "prompt_digest")
# Manifest facts shown when they differ between runs (dotted paths).
SETUP_FIELDS = (
    "backend.name",
    "backend.fingerprint",
    "model.model",
    "model.revision",
    "model.dtype",
    "model.adapter",
    "config.batch_size",
    "config.device",
    "config.max_new_tokens",
    "config.temperature",
    "config.top_p",
    "config.seed",
    "medunieval_version",
    "git.commit",
    "environment.packages.torch",
    "environment.packages.transformers",
    "environment.packages.vllm",
    "environment.packages.openai",
)
KINDS = ("verdict_flip", "error", "other_profile_flip", "extracted", "response")


@dataclass
class RunView:
    """One run directory as compare reads it: the manifest and the raw record dicts."""

    path: Path
    label: str
    manifest: dict[str, Any]
    records: dict[str, dict[str, dict[str, Any]]]  # benchmark -> sample id -> record
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)  # benchmark -> summary


def _records(rd: RunDir, bench: str) -> dict[str, dict[str, Any]]:
    """Raw records of one benchmark, the last one per sample id, in first-seen order (damaged
    lines skipped with one warning, by ``rundir``)."""
    return {rec["sample_id"]: rec for rec in rd.read_record_dicts(bench)}


def load_run(path: Path) -> RunView:
    """Read a run directory; ConfigError when it is not one."""
    path = Path(path)
    files = sorted(path.glob("*/records.jsonl")) if path.is_dir() else []
    if not files:
        raise ConfigError(f"{path}: not a run directory (no <bench>/records.jsonl)")
    rd = RunDir(path)
    manifest: dict[str, Any] = rd.read_manifest() or {}  # damaged -> one line, exit 2
    summaries = {}
    for f in files:
        summary = rd.read_summary(f.parent.name, lenient="compared without it")
        if summary is not None:
            summaries[f.parent.name] = summary
    records = {f.parent.name: _records(rd, f.parent.name) for f in files}
    return RunView(path, path.name, manifest, records, summaries)


def _get(d: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(d, dict):
            return None
        d = d.get(part)
    return d


def _digests(rec: dict[str, Any]) -> dict[str, Any]:
    out = {k: rec[k] for k in DIGEST_FIELDS if rec.get(k) is not None}
    prov = rec.get("provenance")
    if isinstance(prov, dict):
        out.update({f"provenance.{k}": prov[k] for k in DIGEST_FIELDS if prov.get(k) is not None})
    return out


def _media(rec: dict[str, Any]) -> list[Any]:
    return [m.get("sha256") or m.get("source") for m in rec.get("media") or []]


def record_input_difference(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """The first input field in which two records of the same sample differ, or None."""
    for name in INPUT_FIELDS:
        if a.get(name) != b.get(name):
            return name
    if _media(a) != _media(b):
        return "media"
    da, db = _digests(a), _digests(b)
    for name in sorted(set(da) & set(db)):
        if da[name] != db[name]:
            return name
    return None


def input_problems(ref: RunView, other: RunView) -> list[str]:
    """Why ``other`` did not see the same inputs as ``ref`` (empty when it did)."""
    problems: list[str] = []
    ta, tb = (
        ref.manifest.get("prompt_template_sha256"),
        other.manifest.get("prompt_template_sha256"),
    )
    if ta and tb and ta != tb:
        problems.append(f"prompt templates differ (prompt_template_sha256 {ta[:12]} vs {tb[:12]})")
    for bench in sorted(set(ref.records) & set(other.records)):
        fa = _get(ref.manifest, f"benchmarks.{bench}.data_fingerprint")
        fb = _get(other.manifest, f"benchmarks.{bench}.data_fingerprint")
        if fa and fb and fa != fb:
            problems.append(f"{bench}: data differ (data_fingerprint {fa[:12]} vs {fb[:12]})")
        ra, rb = ref.records[bench], other.records[bench]
        diffs: dict[str, list[str]] = {}
        for sid in ra:
            if sid in rb and (what := record_input_difference(ra[sid], rb[sid])) is not None:
                diffs.setdefault(what, []).append(sid)
        for what, ids in diffs.items():
            problems.append(f"{bench}: {len(ids)} sample(s) with another {what} (e.g. id {ids[0]})")
    return problems


# ------------------------------------------------------------------------------ comparison
@dataclass
class Side:
    """One run's view of one sample."""

    response: str | None
    extracted: str | None
    correct: bool
    other_correct: bool
    error: str | None
    token_ids: list[int] | None = None
    graded: bool = True  # False where the benchmark has no right/wrong verdict per sample
    completion_tokens: int | None = None
    finish_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "response": self.response,
            "extracted": self.extracted,
            "correct": self.correct,
            "error": self.error,
            "completion_tokens": self.completion_tokens,
            "finish_reason": self.finish_reason,
        }


@dataclass
class SampleDiff:
    """A sample on which the two runs disagree."""

    id: str
    kind: str  # one of KINDS
    a: Side
    b: Side
    divergence: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "divergence": self.divergence,
        }


@dataclass
class BenchComparison:
    """One benchmark, reference run vs one other run."""

    benchmark: str
    n: int
    only_a: int
    only_b: int
    score_a: float | None
    score_b: float | None
    lost: int  # right in the reference only
    gained: int  # right in the other run only
    ci: tuple[float, float] | None
    p_value: float | None
    significant: bool | None
    same_response: int
    same_extracted: int
    same_verdict: int
    same_stripped: int = 0  # responses equal after stripping surrounding whitespace
    same_finish: int = 0
    token_counts: int = 0  # samples with a completion token count on both sides
    same_token_count: int = 0
    disagreements: list[SampleDiff] = field(default_factory=list)
    note: str | None = None  # set when samples have no right/wrong verdict

    @property
    def delta(self) -> float | None:
        if self.score_a is None or self.score_b is None:
            return None
        return self.score_b - self.score_a

    def rate(self, count: int) -> float | None:
        return count / self.n if self.n else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "only_in_a": self.only_a,
            "only_in_b": self.only_b,
            "score_a": self.score_a,
            "score_b": self.score_b,
            "delta": self.delta,
            "ci95": list(self.ci) if self.ci else None,
            "lost": self.lost,
            "gained": self.gained,
            "p_value": self.p_value,
            "significant": self.significant,
            "agreement": {
                "response": self.rate(self.same_response),
                "extracted": self.rate(self.same_extracted),
                "verdict": self.rate(self.same_verdict) if self.note is None else None,
                "response_stripped": self.rate(self.same_stripped),
                "finish_reason": self.rate(self.same_finish),
                "completion_tokens": self.same_token_count / self.token_counts
                if self.token_counts
                else None,
            },
            "disagreements": {d.id: d.to_dict() for d in self.disagreements},
            "note": self.note,
        }


@dataclass
class PairComparison:
    a: str
    b: str
    benchmarks: list[BenchComparison]
    input_problems: list[str]


@dataclass
class Comparison:
    """The whole report."""

    runs: list[RunView]
    profile: str
    alpha: float
    pairs: list[PairComparison]
    setup: list[tuple[str, list[Any]]]
    token_level: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "alpha": self.alpha,
            "divergence_unit": "token" if self.token_level else "char",
            "runs": [{"label": r.label, "path": str(r.path)} for r in self.runs],
            "setup_differences": {k: v for k, v in self.setup},
            "pairs": [
                {
                    "a": p.a,
                    "b": p.b,
                    "input_problems": p.input_problems,
                    "benchmarks": {bc.benchmark: bc.to_dict() for bc in p.benchmarks},
                }
                for p in self.pairs
            ],
        }


def _side(rec: dict[str, Any], profile: str, other: str) -> Side:
    resp = rec.get("response") or {}
    scores = rec.get("scores") or {}
    error = None
    if rec.get("error"):
        error = str(rec["error"].get("kind", "error"))
    elif not resp:
        error = "no_response"
    elif resp.get("error"):
        error = str(resp["error"]).split(":", 1)[0]
    ids = resp.get("token_ids")
    return Side(
        response=resp.get("text"),
        extracted=(scores.get(profile) or {}).get("extracted"),
        correct=bool((scores.get(profile) or {}).get("correct")),
        graded=(scores.get(profile) or {}).get("correct") is not None,
        other_correct=bool((scores.get(other) or {}).get("correct")),
        error=error,
        token_ids=list(ids) if isinstance(ids, list) else None,
        completion_tokens=resp.get("completion_tokens"),
        finish_reason=resp.get("finish_reason"),
    )


def first_divergence(a: Side, b: Side, context: int = 30) -> dict[str, Any] | None:
    """Where two responses first differ: by token id when both sides hold ``token_ids``, else
    by character; ``None`` when either has no text or they are equal."""
    if a.token_ids is not None and b.token_ids is not None and a.token_ids != b.token_ids:
        i = next(
            (k for k, (x, y) in enumerate(zip(a.token_ids, b.token_ids, strict=False)) if x != y),
            min(len(a.token_ids), len(b.token_ids)),
        )
        return {
            "unit": "token",
            "index": i,
            "a": a.token_ids[i : i + 5],
            "b": b.token_ids[i : i + 5],
        }
    if a.response is None or b.response is None or a.response == b.response:
        return None
    ta, tb = a.response, b.response
    i = next(
        (k for k, (x, y) in enumerate(zip(ta, tb, strict=False)) if x != y), min(len(ta), len(tb))
    )
    lo = max(0, i - context)
    return {"unit": "char", "index": i, "a": ta[lo : i + context], "b": tb[lo : i + context]}


def _kind(a: Side, b: Side) -> str | None:
    if a.correct != b.correct:
        return "verdict_flip"
    if (a.error is None) != (b.error is None):
        return "error"
    if a.other_correct != b.other_correct:
        return "other_profile_flip"
    if a.extracted != b.extracted:
        return "extracted"
    if a.response != b.response:
        return "response"
    return None


def _counts(a: Side, b: Side) -> bool:
    return a.completion_tokens is not None and b.completion_tokens is not None


def compare_bench(
    bench: str,
    ra: dict[str, dict[str, Any]],
    rb: dict[str, dict[str, Any]],
    profile: str = "strict",
    alpha: float = 0.05,
    summary_scores: tuple[float | None, float | None] = (None, None),
) -> BenchComparison:
    """One benchmark's comparison on the sample ids both runs hold. Benchmarks without a
    right/wrong verdict per sample (reports, HealthBench rubrics) get their summary scores
    (``summary_scores``) and no paired test."""
    other = "compat" if profile == "strict" else "strict"
    ids = [sid for sid in ra if sid in rb]
    n = len(ids)
    sides = [(sid, _side(ra[sid], profile, other), _side(rb[sid], profile, other)) for sid in ids]
    lost = sum(a.correct and not b.correct for _, a, b in sides)
    gained = sum(b.correct and not a.correct for _, a, b in sides)
    p = mcnemar_exact(lost, gained)
    diffs = []
    for sid, a, b in sides:
        kind = _kind(a, b)
        if kind is not None:
            diffs.append(SampleDiff(sid, kind, a, b, first_divergence(a, b)))
    diffs.sort(key=lambda d: KINDS.index(d.kind))  # stable: dataset order within a kind
    graded = any(a.graded or b.graded for _, a, b in sides)
    note = None
    if not graded:
        note = "no right/wrong verdict per sample: summary scores, no paired test"
    bc = BenchComparison(
        benchmark=bench,
        n=n,
        only_a=len(set(ra) - set(rb)),
        only_b=len(set(rb) - set(ra)),
        score_a=sum(a.correct for _, a, _ in sides) / n if n else None,
        score_b=sum(b.correct for _, _, b in sides) / n if n else None,
        lost=lost,
        gained=gained,
        ci=paired_bootstrap_ci(lost, gained, n),
        p_value=p,
        significant=p < alpha,
        same_response=sum(a.response == b.response and a.error == b.error for _, a, b in sides),
        same_extracted=sum(a.extracted == b.extracted for _, a, b in sides),
        same_verdict=sum(a.correct == b.correct for _, a, b in sides),
        same_stripped=sum(
            a.error == b.error and (a.response or "").strip() == (b.response or "").strip()
            for _, a, b in sides
        ),
        same_finish=sum(a.finish_reason == b.finish_reason for _, a, b in sides),
        token_counts=len(counted := [(a, b) for _, a, b in sides if _counts(a, b)]),
        same_token_count=sum(a.completion_tokens == b.completion_tokens for a, b in counted),
        disagreements=diffs,
        note=note,
    )
    if note is not None:
        bc.score_a, bc.score_b = summary_scores
        bc.ci = bc.p_value = bc.significant = None
    return bc


def _summary_score(run: RunView, bench: str, profile: str) -> float | None:
    return _get(run.summaries.get(bench), f"profiles.{profile}.score")


def setup_differences(runs: list[RunView]) -> list[tuple[str, list[Any]]]:
    """The manifest facts (backend, model, dtype, generation per benchmark, versions) that
    differ."""
    out = []
    benches = sorted(set.intersection(*(set(r.records) for r in runs)))
    keys = [*SETUP_FIELDS, *(f"benchmarks.{b}.generation" for b in benches)]
    for key in keys:
        values = [_get(r.manifest, key) for r in runs]
        if len({json.dumps(v, sort_keys=True, default=str) for v in values}) > 1:
            out.append((key, values))
    return out


def compare_runs(
    paths: list[Path],
    profile: str = "strict",
    alpha: float = 0.05,
    allow_different_inputs: bool = False,
) -> Comparison:
    """Compare every run with the first one. Raises ConfigError for fewer than two runs, no
    benchmark in common, or (unless ``allow_different_inputs``) runs with different inputs."""
    if len(paths) < 2:
        raise ConfigError("compare needs at least two run directories")
    if profile not in ("strict", "compat"):
        raise ConfigError(f"--profile must be strict or compat, got {profile!r}")
    runs = [load_run(p) for p in paths]
    labels = [r.label for r in runs]
    if len(set(labels)) < len(labels):
        for i, r in enumerate(runs):
            r.label = f"{chr(ord('A') + i)}:{r.label}" if i < 26 else f"{i}:{r.label}"
    ref = runs[0]
    pairs = []
    for other in runs[1:]:
        common = sorted(set(ref.records) & set(other.records))
        if not common:
            raise ConfigError(f"{ref.path} and {other.path} have no benchmark in common")
        problems = input_problems(ref, other)
        if problems and not allow_different_inputs:
            raise ConfigError(
                f"{other.path} did not see the same inputs as {ref.path}: {problems[0]}"
                + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
                + "; pass --allow-different-inputs to compare anyway"
            )
        benches = [
            compare_bench(b, ref.records[b], other.records[b], profile, alpha,
                          (_summary_score(ref, b, profile), _summary_score(other, b, profile)))
            for b in common
        ]  # fmt: skip
        pairs.append(PairComparison(ref.label, other.label, benches, problems))
    token_level = any(
        d.divergence and d.divergence["unit"] == "token"
        for p in pairs
        for bc in p.benchmarks
        for d in bc.disagreements
    )
    return Comparison(runs, profile, alpha, pairs, setup_differences(runs), token_level)
