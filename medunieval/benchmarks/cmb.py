"""CMB (Chinese Medical Benchmark, CMB-Exam): HF ``FreedomIntelligence/CMB`` config ``CMB-Exam``
split ``test``. MedUniEval keeps only single-choice questions (``question_type ==
"单项选择题"``); multiple-choice "多项选择题" rows are filtered out. Schema: exam_type,
exam_class, exam_subject, question, answer, question_type, option -- ``option`` is a dict
letter -> text, or in some copies a list of ``{key, value}``; both are accepted. Options with an
empty text (CMB pads some questions to five letters) are dropped -- MedUniEval's handling of
them is not verified. Chinese MedUniEval prompt, choices written ``A.text``; sub-scores by
exam_type."""

from __future__ import annotations

from typing import Any

from ..data.sources import HubSource
from ..types import Sample
from .base import Benchmark, RowContext, gold_letter, pick

SINGLE_CHOICE = "单项选择题"


def _options(value: Any) -> dict[str, str]:
    """``letter -> text`` from a dict or a list of ``{key, value}``; empty texts dropped."""
    if isinstance(value, (list, tuple)):
        value = {str(o["key"]): o["value"] for o in value}
    if not isinstance(value, dict):
        raise ValueError(f"option must be a dict or a list, not {type(value).__name__}")
    return {str(k).strip(): str(v) for k, v in value.items() if v not in (None, "")}


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    choices = _options(pick(row, "option", "options"))
    answer = gold_letter(choices, pick(row, "answer"))
    meta = {k: row[k] for k in ("exam_type", "exam_class", "exam_subject") if row.get(k)}
    return ctx.mcq(row.get("id", ctx.index), pick(row, "question"), choices, answer, meta)


BENCHMARK = Benchmark(
    name="cmb",
    title="CMB",
    task="mcq",
    to_sample=to_sample,
    hub=HubSource("FreedomIntelligence/CMB", split="test", config="CMB-Exam"),
    local_files=("CMB-test-choice-question-merge.json", "test.json", "test.jsonl"),
    choice_format="{letter}.{text}",
    group_by=("exam_type",),
    lang="zh",
    row_filter=lambda row: row.get("question_type") == SINGLE_CHOICE,
    description="Chinese medical licensing/exam MCQ (CMB-Exam test, single-choice only)",
)
