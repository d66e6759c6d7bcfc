"""Scoring hooks for judged benchmarks: HealthBench rubrics, RareBench diagnosis ranks, and the
VQA judge verdict in ``compat``. Dispatched from ``profiles.py`` and ``aggregate.py``."""

from __future__ import annotations

import re
from typing import Any

from ..benchmarks.base import Benchmark
from ..extract import normalize
from ..types import Record

_LIST_MARK = re.compile(r"^\s*(?:\d{1,2}\s*[.):-]|[-*•])\s*")


def listed_diagnoses(text: str) -> list[str]:
    """The diagnoses a response lists: one per non-empty line, numbering/bullets removed."""
    lines = [_LIST_MARK.sub("", line).strip(" *") for line in text.splitlines()]
    return [line for line in lines if line]


def diagnosis_verdict(rec: Record) -> dict[str, Any]:
    """RareBench: the judge's rank when present; a judge error is unparsed and wrong; without a
    judge, exact (normalised) name match of a listed line with a gold name."""
    judge = rec.judge if rec.judge and rec.judge.get("task") == "diagnosis" else None
    if judge is not None and judge.get("error"):
        return {
            "correct": False,
            "parsed": False,
            "extracted": None,
            "top1": 0.0,
            "top10": 0.0,
            "judge_error": True,
            "scored_by": "judge_error",
        }
    if judge is not None and isinstance(judge.get("rank"), int):
        rank, scored_by = judge["rank"], "judge"
    else:
        gold = {normalize(g) for g in rec.meta.get("diagnoses") or [rec.answer]}
        listed = [normalize(d) for d in listed_diagnoses(rec.response.text or "")][:10]
        rank = next((i + 1 for i, d in enumerate(listed) if d in gold), 0)
        scored_by = "exact_match"
    return {
        "correct": rank == 1,
        "parsed": True,
        "extracted": str(rank) if rank else None,
        "rank": rank,
        "top1": float(rank == 1),
        "top10": float(1 <= rank <= 10),
        "scored_by": scored_by,
    }


def score(bench: Benchmark, rec: Record) -> dict[str, dict[str, Any]] | None:
    """Both profiles' verdicts for a rubric / diagnosis benchmark record (the same formula in
    both); None for every other benchmark."""
    if bench.judge == "rubric":
        from .healthbench import record_verdict

        verdict = record_verdict(rec)
    elif bench.judge == "diagnosis":
        verdict = diagnosis_verdict(rec)
    else:
        return None
    return {"strict": verdict, "compat": dict(verdict)}


def apply_vqa_judge(verdict: dict[str, Any], rec: Record) -> dict[str, Any]:
    """``compat`` with a judge: the verdict replaces the rule wherever MedUniEval judged (the
    records the judge stage covered). A judge error is MedUniEval's "incorrect" (its tag rule on
    an unparseable reply), flagged and counted, not hidden."""
    judge = rec.judge
    if judge is None or judge.get("task") != "vqa":
        return verdict
    if isinstance(judge.get("correct"), bool) and not judge.get("error"):
        verdict["correct"] = judge["correct"]
        verdict["scored_by"] = "judge"
    elif judge.get("error"):
        verdict["correct"] = False
        verdict["judge_error"] = True
        verdict["scored_by"] = "judge_error"
    return verdict


def extend_summary(bench: Benchmark, records: list[Record], summary: dict[str, Any]) -> None:
    """Add the ``judge`` block, and RareBench's top-1 / top-10 recall over all samples."""
    from ..judge import judge_summary

    block = judge_summary(bench, records)
    if block is not None:
        summary["judge"] = block
    if bench.judge == "diagnosis" and "profiles" in summary:
        n = len(records)
        for profile, entry in summary["profiles"].items():
            entry["metric"] = "top1_recall"
            for k in ("top1", "top10"):
                hits = sum(float(r.scores[profile].get(k) or 0.0) for r in records)
                entry[f"{k}_recall"] = hits / n if n else None
