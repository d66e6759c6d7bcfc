"""MMLU-Med (paper Table 2): the medical subjects of MMLU's test split. MedUniEval's set is 9
subjects (anatomy, clinical_knowledge, college_biology, college_medicine, medical_genetics,
professional_medicine, nutrition, virology, high_school_biology = 1,871 questions); the paper
may use fewer. Accepts HF ``cais/mmlu`` (question, subject, choices[list], answer int), the
MedAgentsBench conversion (realidx, options{A..D}, answer_idx, subject) and the flattened CSV
(question, choice0..choice3, answer int), whose subject comes from a ``<subject>_test.csv``
file name. Choices written ``A. text``; sub-scores by subject."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..data.sources import HubSource
from ..types import Sample
from .base import Benchmark, RowContext, as_choices, gold_letter, pick

SUBJECTS = (
    "anatomy",
    "clinical_knowledge",
    "college_biology",
    "college_medicine",
    "medical_genetics",
    "professional_medicine",
    "nutrition",
    "virology",
    "high_school_biology",
)
_FILE_SUBJECT = re.compile(rf"(?:.*[_-])?({'|'.join(SUBJECTS)})_test\.csv", re.I)


def _file_subject(row: dict[str, Any], ctx: RowContext) -> str | None:
    m = _FILE_SUBJECT.fullmatch(Path(str(row.get("_file") or ctx.raw.origin)).name)
    return m.group(1).lower() if m else None


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    if "choice0" in row:  # flattened CSV: choice0..choice3, answer 0-3, no subject
        choices = as_choices([pick(row, f"choice{i}") for i in range(4)])
        answer = gold_letter(choices, int(pick(row, "answer")))
        subject = _file_subject(row, ctx)
    else:
        choices = as_choices(pick(row, "options", "choices"))
        answer = gold_letter(choices, pick(row, "answer_idx", "answer"))
        subject = row.get("subject") or None
    return ctx.mcq(
        row.get("realidx", row.get("id", ctx.index)),
        pick(row, "question"),
        choices,
        answer,
        {"subject": subject} if subject else {},
    )


BENCHMARK = Benchmark(
    name="mmlu_med",
    title="MMLU-Med",
    task="mcq",
    to_sample=to_sample,
    hub=HubSource("cais/mmlu", split="test", config="all"),
    local_files=("test.jsonl", "test.parquet", "test.json", "test.csv"),
    group_by=("subject",),
    row_filter=lambda row: not row.get("subject") or row["subject"] in SUBJECTS,
    description="MMLU medical subjects (MedUniEval's 9 = 1,871 test questions)",
)
