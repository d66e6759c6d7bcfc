"""MedMCQA (paper Table 2), validation split (4,183). Official schema (id, question, opa..opd,
cop 0-3, choice_type, subject_name, topic_name) and the MedAgentsBench conversion (realidx,
options{A..D}, answer_idx). Choices written ``A. text`` (MedUniEval)."""

from __future__ import annotations

from typing import Any

from ..data.sources import HubSource
from ..types import Sample
from .base import Benchmark, RowContext, as_choices, gold_letter, pick


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    if "opa" in row:
        choices = as_choices([pick(row, f"op{c}") for c in "abcd"])
        answer = gold_letter(choices, int(pick(row, "cop")))
    else:
        choices = as_choices(pick(row, "options"))
        answer = gold_letter(choices, pick(row, "answer_idx"))
    meta = {"subject": row["subject_name"]} if row.get("subject_name") else {}
    return Sample(
        id=str(row.get("id", row.get("realidx", ctx.index))),
        benchmark="medmcqa",
        question=str(pick(row, "question")),
        answer=answer,
        answer_type="mcq",
        choices=choices,
        meta=meta,
    )


BENCHMARK = Benchmark(
    name="medmcqa",
    title="MedMCQA",
    task="mcq",
    to_sample=to_sample,
    hub=HubSource(
        "openlifescienceai/medmcqa",
        split="validation",
        revision="91c6572c454088bf71b679ad90aa8dffcd0d5868",
    ),
    local_files=("validation.parquet", "dev.json", "dev.jsonl", "validation.jsonl", "test.jsonl"),
    group_by=("subject",),
    description="Indian medical entrance MCQ, validation split (4,183)",
)
