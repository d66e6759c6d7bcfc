"""MedQA-USMLE (paper Table 2): 4-option (``medqa``, HF GBaker/MedQA-USMLE-4-options) and the
original 5-option set (``medqa_op5``, jind11 ``US/test.jsonl``). Schema: question,
options{A..}, answer, answer_idx, meta_info. Choices written ``A. text`` (MedUniEval)."""

from __future__ import annotations

from typing import Any

from ..data.sources import HubSource
from ..types import Sample
from .base import Benchmark, RowContext, as_choices, gold_letter, pick


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    choices = as_choices(pick(row, "options"))
    answer = gold_letter(choices, pick(row, "answer_idx", "answer"))
    meta = {"step": row["meta_info"]} if row.get("meta_info") else {}
    return ctx.mcq(
        row.get("realidx", row.get("id", ctx.index)), pick(row, "question"), choices, answer, meta
    )


BENCHMARK = Benchmark(
    name="medqa",
    title="MedQA",
    task="mcq",
    to_sample=to_sample,
    hub=HubSource(
        "GBaker/MedQA-USMLE-4-options",
        split="test",
        revision="0fb93dd23a7339b6dcd27e241cb9b5eca62d4d18",
    ),
    local_files=("test.jsonl", "test.parquet", "phrases_no_exclude_test.jsonl"),
    group_by=("step",),
    description="USMLE-style 4-option MCQ, 1,273 test questions",
)

BENCHMARK_OP5 = Benchmark(
    name="medqa_op5",
    title="MedQA (5 options)",
    task="mcq",
    to_sample=to_sample,
    hub=None,
    local_files=("test.jsonl",),
    group_by=("step",),
    description="USMLE-style 5-option MCQ (original jind11 release), 1,273 test questions",
)
