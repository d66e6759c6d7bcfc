"""Both scoring profiles, computed side by side from the same record."""

from __future__ import annotations

from typing import Any

from ..benchmarks.base import Benchmark
from ..types import Record
from . import compat, judged, report_metrics, strict, surgical, three_d

PROFILES: tuple[str, ...] = ("strict", "compat")
#: benchmark-specific scorers of both profiles (``Benchmark.compat_scorer``)
MEDIA_SCORERS = {"m3d": three_d.score, "rad3d": three_d.score, "surgical": surgical.score}


def _failed_verdict(rec: Record) -> dict[str, Any]:
    return {"correct": False, "parsed": False, "extracted": None, "error": rec.error_kind()}


def compat_score(bench: Benchmark, rec: Record) -> dict[str, Any]:
    """MedUniEval's scorer for this benchmark, on a non-failed record."""
    text = rec.response.text if rec.response and rec.response.text is not None else ""
    if bench.compat_scorer == "mmmu":  # the official MMMU scorer, as MedUniEval calls it
        from . import mmmu

        return mmmu.score(rec.answer, text, rec.answer_type, rec.choices, rec.sample_id)
    if bench.task == "mcq":
        choices = bench.compat_choices(rec.choices or {})
        raw = compat.extract_tag(text, "answer") if bench.compat_answer_tag else text
        mc = compat.multi_choice(choices, rec.answer, raw)
        return {
            "correct": mc.correct,
            "parsed": mc.rule != "similarity",
            "extracted": mc.picked,
            "rule": mc.rule,
        }
    if bench.compat_vqa is None:
        raise ValueError(f"{bench.name}: no compat scorer declared")
    out = compat.vqa_sample(bench.compat_vqa, rec.answer, text, closed=rec.answer_type == "closed")
    out.setdefault("parsed", True)  # MedUniEval never reports an unparsed VQA answer
    return judged.apply_vqa_judge(out, rec)


def score_record(bench: Benchmark, rec: Record) -> dict[str, dict[str, Any]]:
    """``{"strict": {...}, "compat": {...}}`` for one record. A failed record is wrong (and
    unparsed) in both profiles; it stays in every denominator."""
    if rec.failed:
        return {p: _failed_verdict(rec) for p in PROFILES}
    if bench.compat_scorer in MEDIA_SCORERS:
        return {p: MEDIA_SCORERS[bench.compat_scorer](rec, p) for p in PROFILES}
    if bench.task == "report":
        text = rec.response.text if rec.response and rec.response.text is not None else ""
        return {p: report_metrics.score(p, rec.answer, text) for p in PROFILES}
    if bench.judge in ("rubric", "diagnosis"):
        return judged.score(bench, rec) or {}
    return {"strict": strict.score(rec), "compat": compat_score(bench, rec)}
