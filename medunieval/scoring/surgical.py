"""Surgical VQA scoring (Cholec80-VQA, EndoVis18-VQA, PSI-AVA-VQA): classification-style
answers, accuracy plus the macro precision / recall / F1 over answer classes that the
Surgical-VQA papers report.

MedUniEval's video evaluation code is not public (Hulu-Med issue #33), so ``compat`` is the
original papers' protocol applied to generated text: the whole response, lower-cased, stripped
of whitespace and a final period, must equal the class label. ``strict`` extracts the answer
span and accepts it when it is the label, or when exactly one class label of the split occurs
in it as whole words (several -> unparsed).
"""

from __future__ import annotations

import re
from typing import Any

from .. import extract
from ..types import Record


def _label(text: str) -> str:
    return " ".join(str(text).strip().lower().rstrip(".").split())


def score(rec: Record, profile: str) -> dict[str, Any]:
    """One non-failed record's verdict; ``rec.meta["classes"]`` lists the split's labels."""
    text = rec.response.text if rec.response and rec.response.text is not None else ""
    gold = _label(rec.answer)
    if profile == "compat":
        got = _label(text)
        return {"correct": got == gold, "parsed": True, "extracted": got}
    span = _label(extract.answer_span(text))
    classes = [_label(c) for c in rec.meta.get("classes", [])]
    if span in classes or not classes:
        got: str | None = span or None
    else:
        hits = {c for c in classes if re.search(rf"(?<!\w){re.escape(c)}(?!\w)", span)}
        # a label inside a longer matched label ("grasping" in "grasping tissue") is one hit
        hits = {c for c in hits if not any(c != o and c in o for o in hits)}
        got = hits.pop() if len(hits) == 1 else None
    return {"correct": got == gold, "parsed": got is not None, "extracted": got}


def native(records: list[Record], profile: str) -> dict[str, Any]:
    """Accuracy and macro precision / recall / F1 over the gold classes (failed samples are
    wrong predictions of no class)."""
    golds = [_label(r.answer) for r in records]
    verdicts = [r.scores.get(profile, {}) for r in records]
    preds = [
        _label(v["extracted"]) if isinstance(v.get("extracted"), str) else None for v in verdicts
    ]
    classes = sorted(set(golds))
    per_class: dict[str, Any] = {}
    for c in classes:
        tp = sum(1 for g, p in zip(golds, preds, strict=True) if g == c and p == c)
        fp = sum(1 for g, p in zip(golds, preds, strict=True) if g != c and p == c)
        fn = sum(1 for g, p in zip(golds, preds, strict=True) if g == c and p != c)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_class[c] = {"precision": prec, "recall": rec, "f1": f1, "support": tp + fn}
    n = len(records)

    def macro(key: str) -> float | None:
        return sum(v[key] for v in per_class.values()) / len(per_class) if per_class else None

    return {
        "accuracy": sum(g == p for g, p in zip(golds, preds, strict=True)) / n if n else None,
        "macro_precision": macro("precision"),
        "macro_recall": macro("recall"),
        "macro_f1": macro("f1"),
        "averaging": "macro over the gold classes of the split",
        "per_class": per_class,
    }
