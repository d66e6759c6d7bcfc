"""Scoring hooks for judged benchmarks: HealthBench rubrics, RareBench diagnosis ranks, and the
VQA judge verdict in ``compat``. Dispatched from ``profiles.py`` and ``aggregate.py``.

The judge (``medunieval/judge.py``) produces judgements: raw output, parsed verdict, judge
fingerprint and template hash in ``Record.judge``. Scoring decides verdicts from them, here and
in ``strict.py``; it never imports the judge (the dependency runs judge -> scoring). A judgement
is in one of four states (``judge_state``): none, judged, unparseable (the judge answered,
never in the required format: MedUniEval counts it incorrect; flagged) or unavailable (the
judge could not be reached: the sample is not judged, its rule-based verdict stands, marked
``not_judged``, and the run's judged scores are incomplete).
"""

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


def judge_state(judge: dict[str, Any] | None) -> str:
    """``none`` | ``judged`` | ``unparseable`` | ``unavailable`` (see the module docstring)."""
    if judge is None:
        return "none"
    if not judge.get("error"):
        return "judged"
    if judge.get("status") == "unavailable" or "judge_call_failed" in str(judge["error"]):
        return "unavailable"
    return "unparseable"


def vqa_covers(bench: Benchmark, rec: Record) -> bool:
    """Which records the VQA judge sees: open questions everywhere; closed ones too where
    MedUniEval judged them (SLAKE, PathVQA) so compat can reproduce it."""
    return rec.answer_type == "open" or bench.compat_vqa in ("slake", "path_vqa")


def judge_needed(bench: Benchmark, rec: Record) -> bool:
    """Whether a (non-failed) record of ``bench`` is one the judge has to see."""
    if rec.failed or bench.judge is None:
        return False
    if bench.judge == "vqa":
        return vqa_covers(bench, rec)
    if bench.judge == "rubric":
        return bool(rec.meta.get("rubrics"))
    return True


def diagnosis_verdict(rec: Record) -> dict[str, Any]:
    """RareBench: the judge's rank when present; an unparseable judge reply is unparsed and
    wrong; without a verdict (no judge, judge unavailable), exact (normalised) name match of a
    listed line with a gold name."""
    judge = rec.judge if rec.judge and rec.judge.get("task") == "diagnosis" else None
    state = judge_state(judge)
    if state == "unparseable":
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
    out: dict[str, Any] = {
        "correct": rank == 1,
        "parsed": True,
        "extracted": str(rank) if rank else None,
        "rank": rank,
        "top1": float(rank == 1),
        "top10": float(1 <= rank <= 10),
        "scored_by": scored_by,
    }
    if state == "unavailable":
        out["not_judged"] = True
    return out


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
    records the judge stage covered). An unparseable reply is MedUniEval's "incorrect" (its tag
    rule), flagged and counted, not hidden; an unavailable judge leaves the rule's verdict."""
    judge = rec.judge
    if judge is None or judge.get("task") != "vqa":
        return verdict
    state = judge_state(judge)
    if state == "judged" and isinstance(judge.get("correct"), bool):
        verdict["correct"] = judge["correct"]
        verdict["scored_by"] = "judge"
    elif state == "unavailable":  # not judged: the rule's verdict stands, marked
        verdict["not_judged"] = True
    elif state == "unparseable":
        verdict["correct"] = False
        verdict["judge_error"] = True
        verdict["scored_by"] = "judge_error"
    return verdict


def extend_summary(bench: Benchmark, records: list[Record], summary: dict[str, Any]) -> None:
    """Add the ``judge`` block, and RareBench's top-1 / top-10 recall over all samples."""
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


def judge_summary(bench: Benchmark, records: list[Record]) -> dict[str, Any] | None:
    """The summary's ``judge`` block: who judged, how many records needed it, how many have a
    verdict, how many judge errors (``unavailable`` of them: judge unreachable), how many were
    not judged, and which policy produced the open / rubric / diagnosis scores."""
    if bench.judge is None:
        return None
    task = bench.judge
    judged = [r for r in records if r.judge is not None and r.judge.get("task") == task]
    states = [judge_state(r.judge) for r in judged]
    errors = [r for r, st in zip(judged, states, strict=True) if st != "judged"]
    needing = sum(1 for r in records if judge_needed(bench, r))
    judges = sorted({str(r.judge.get("judge")) for r in judged if r.judge})
    out: dict[str, Any] = {
        "task": task,
        "judges": judges,
        "needing": needing,
        "judged": len(judged) - len(errors),
        "errors": len(errors),
        "unavailable": states.count("unavailable"),
        "unjudged": needing - len(judged),
    }
    if errors:
        out["error_example"] = errors[0].judge.get("error") if errors[0].judge else None
    if task == "vqa":
        out["open_policy"] = {
            "strict": "judge" if judged else "exact_match (no --judge; token F1 beside it)",
            "compat": (
                "judge: open only (VQA-RAD)"
                if bench.compat_vqa == "vqa_rad"
                else "judge: open and closed"
            )
            if judged
            else "em (MedUniEval without judge)",
        }
        if out["unavailable"]:
            out["open_policy"]["not_judged"] = (
                "judge unavailable: the rule-based verdict stands, marked not_judged"
            )
    return out
