"""MedQA-MCMLE (MedQA's Mainland China medical licensing exam part, simplified Chinese): HF
``shuyuej/MedQA-MCMLE-Benchmark`` split ``train`` (the test questions). Schema: question,
options{A..E}, answer (text), answer_idx (letter), meta_info.

MedUniEval lists the option VALUES ONLY, without letters, while its Chinese prompt asks for an
option letter (a defect). To reproduce its prompt and its scoring the
choices are written ``{text}``: the model sees bare option texts, and the compat scorer compares
against those same strings. A bare letter still scores under compat (its letter rule maps "B"
to the gold letter "b"); strict reads letters and option texts as for every MCQ."""

from __future__ import annotations

from typing import Any

from ..data.sources import HubSource
from ..types import Sample
from .base import Benchmark, RowContext, as_choices, gold_letter, pick


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    choices = as_choices(pick(row, "options"))
    answer = gold_letter(choices, pick(row, "answer_idx", "answer"))
    meta = {"meta_info": str(row["meta_info"])} if row.get("meta_info") else {}
    return ctx.mcq(row.get("id", ctx.index), pick(row, "question"), choices, answer, meta)


BENCHMARK = Benchmark(
    name="medqa_mcmle",
    title="MedQA-MCMLE",
    task="mcq",
    to_sample=to_sample,
    hub=HubSource("shuyuej/MedQA-MCMLE-Benchmark", split="train"),
    local_files=("test.jsonl", "train.jsonl", "train.parquet", "test.json"),
    choice_format="{text}",
    lang="zh",
    description="MedQA Mainland-China (MCMLE) 5-option MCQ; options shown without letters",
)
