"""Benchmark summaries from records: overall, sub-scores, parse rate, errors, per profile.

Every score is a fraction in [0, 1]; every sub-score is a plain micro average over its samples
with its count; failed samples stay in every denominator.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from ..benchmarks.base import Benchmark
from ..types import Record
from . import compat, judged, report_metrics, surgical, three_d
from .profiles import PROFILES

_NOT_METRICS = {"correct", "parsed", "closed"}


def error_examples(records: list[Record], kinds: Iterable[str]) -> dict[str, str | None]:
    """One example reason per error kind (the first record of that kind)."""
    return {
        kind: next(
            (r.error or {}).get("reason") or (r.response.error if r.response else None)
            for r in records
            if r.error_kind() == kind
        )
        for kind in kinds
    }


def _group_value(rec: Record, field: str) -> str | None:
    value = rec.answer_type if field == "answer_type" else rec.meta.get(field)
    return None if value is None or value == "" else str(value)


def _subscores(bench: Benchmark, records: list[Record], profile: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in bench.group_by:
        groups: dict[str, list[bool]] = {}
        for rec in records:
            key = _group_value(rec, field)
            if key is not None:
                groups.setdefault(key, []).append(bool(rec.scores[profile]["correct"]))
        if groups:
            out[field] = {
                k: {"score": sum(v) / len(v), "correct": sum(v), "n": len(v)}
                for k, v in sorted(groups.items())
            }
    return out


def _metric_means(records: list[Record], profile: str) -> dict[str, Any]:
    sums: dict[str, float] = {}
    counts: Counter[str] = Counter()
    for rec in records:
        for key, value in rec.scores[profile].items():
            if (
                key in _NOT_METRICS
                or isinstance(value, bool)
                or not isinstance(value, (int, float))
            ):
                continue
            sums[key] = sums.get(key, 0.0) + float(value)
            counts[key] += 1
    return {k: {"mean": sums[k] / counts[k], "n": counts[k]} for k in sorted(sums)}


def _compat_native(bench: Benchmark, records: list[Record]) -> dict[str, Any] | None:
    """MedUniEval's own metrics dict (VQA benchmarks), with the documented fixes."""
    if bench.compat_vqa is None:
        return None
    per_sample = []
    for rec in records:
        verdict = dict(rec.scores["compat"])
        verdict["closed"] = rec.answer_type == "closed"
        per_sample.append(verdict)
    return compat.vqa_aggregate(per_sample)


def summarize(bench: Benchmark, records: list[Record]) -> dict[str, Any]:
    """The summary of one benchmark's records (records must already carry their scores)."""
    if bench.judge == "rubric":
        from .healthbench import summarize as healthbench_summary

        hb = healthbench_summary(bench, records)
        judged.extend_summary(bench, records, hb)
        return hb
    n = len(records)
    kinds = Counter(k for k in (r.error_kind() for r in records) if k is not None)
    failed = sum(kinds.values())
    if not bench.answers_public:
        return {
            "benchmark": bench.name,
            "title": bench.title,
            "n": n,
            "errors": failed,
            "error_kinds": dict(kinds),
            "scored": False,
            "note": f"{bench.title}: answers are not public, so no score is computed; upload "
            f"{bench.name}/submission.json to the official evaluation server",
        }
    answered = n - failed
    profiles: dict[str, Any] = {}
    for profile in PROFILES:
        if bench.task == "report":
            profiles[profile] = report_metrics.summarize(records, profile)
            continue
        correct = sum(bool(r.scores[profile]["correct"]) for r in records)
        parsed = sum(bool(r.scores[profile]["parsed"]) for r in records if not r.failed)
        entry: dict[str, Any] = {
            "metric": "accuracy",
            "score": correct / n if n else None,
            "correct": correct,
            "n": n,
            "parse_rate": parsed / answered if answered else None,
            "unparsed": answered - parsed,
            "subscores": _subscores(bench, records, profile),
            "metrics": _metric_means(records, profile),
        }
        if bench.compat_scorer in three_d.SCORERS:
            entry["native"] = three_d.native(bench.compat_scorer, records, profile)
        elif bench.compat_scorer == "surgical":
            entry["native"] = surgical.native(records, profile)
        if profile == "compat":
            native = _compat_native(bench, records)
            if native is not None:
                entry["native"] = native
        profiles[profile] = entry
    examples = error_examples(records, kinds)
    summary = {
        "benchmark": bench.name,
        "title": bench.title,
        "n": n,
        "errors": failed,
        "error_kinds": dict(kinds),
        "error_examples": examples,
        "profiles": profiles,
    }
    judged.extend_summary(bench, records, summary)
    return summary
