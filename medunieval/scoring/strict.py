"""The ``strict`` profile: explicit rules, no guessing (see docs/scoring.md).

- mcq: the option letter from ``extract.extract_choice``; none or several -> unparsed, wrong.
- closed, gold yes/no: ``extract.extract_yes_no`` (whole words); none or both -> unparsed, wrong.
- closed, other gold: normalised exact match of the answer span.
- open: a judge verdict when the record carries one (an unparseable judge reply: unparsed,
  wrong, flagged; an unreachable judge: not judged, exact match stands, marked ``not_judged``),
  else normalised exact match; token F1 is reported beside it.
"""

from __future__ import annotations

from typing import Any

from .. import extract
from ..types import Record
from .judged import judge_state


def score(rec: Record) -> dict[str, Any]:
    """The strict verdict for one (non-failed) record."""
    text = rec.response.text if rec.response else ""
    if rec.answer_type == "mcq":
        letter = extract.extract_choice(text, rec.choices or {})
        return {"correct": letter == rec.answer, "parsed": letter is not None, "extracted": letter}
    gold = rec.answer.strip().lower()
    if rec.answer_type == "closed" and gold in {"yes", "no"}:
        yn = extract.extract_yes_no(text)
        return {"correct": yn == gold, "parsed": yn is not None, "extracted": yn}
    span = extract.answer_span(text)
    em = bool(span) and extract.normalize(span) == extract.normalize(rec.answer)
    verdict: dict[str, Any] = {
        "correct": em,
        "parsed": bool(span),
        "extracted": span,
        "exact_match": float(em),
    }
    if rec.answer_type == "open":
        verdict["token_f1"] = extract.token_f1(span, rec.answer)
        verdict["scored_by"] = "exact_match"
        judge = rec.judge if rec.judge and rec.judge.get("task", "vqa") == "vqa" else None
        state = judge_state(judge)
        if state == "unparseable":
            verdict.update(correct=False, parsed=False, judge_error=True, scored_by="judge_error")
        elif state == "unavailable":  # not judged: exact match stands, marked
            verdict["not_judged"] = True
        elif judge is not None and isinstance(judge.get("correct"), bool):
            verdict["correct"] = judge["correct"]
            verdict["scored_by"] = "judge"
    return verdict
