"""MedXpertQA-Text (paper Table 2): HF ``TsinghuaC3I/MedXpertQA`` config ``Text``, test (2,450
questions, 10 options A-J). Official schema (id, question, options{A..J}, label, medical_task,
body_system, question_type) and the MedAgentsBench conversion (realidx, question, options,
answer_idx). The question text repeats the options after ``Answer Choices:``; MedUniEval cuts it
there before building the prompt (MEK does not, so its prompt lists the options twice). Choices
written ``A. text`` (MedUniEval)."""

from __future__ import annotations

from typing import Any

from ..data.sources import HubSource
from ..types import Sample
from .base import Benchmark, RowContext, as_choices, gold_letter, pick

META_KEYS = ("medical_task", "body_system", "question_type")


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    choices = as_choices(pick(row, "options"))
    question = str(pick(row, "question")).split("Answer Choices:")[0].rstrip()
    return ctx.mcq(
        row.get("id", row.get("realidx", ctx.index)),
        question,
        choices,
        gold_letter(choices, pick(row, "label", "answer_idx")),
        {k: row[k] for k in META_KEYS if row.get(k) not in (None, "")},
    )


BENCHMARK = Benchmark(
    name="medxpertqa_text",
    title="MedXpertQA-Text",
    task="mcq",
    to_sample=to_sample,
    hub=HubSource(
        "TsinghuaC3I/MedXpertQA",
        split="test",
        config="Text",
        revision="f4e6fe7e5a9e13d6c97d7aa2b91cdd8b80c9cc61",
    ),
    local_files=("Text/test.jsonl", "test.jsonl", "test.parquet"),
    group_by=META_KEYS,
    description="Expert-level text MCQ (10 options), 2,450 test questions",
)
