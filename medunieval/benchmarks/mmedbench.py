"""MMedBench: multilingual medical MCQ in 6 languages (English, Chinese, Japanese, French,
Russian, Spanish); HF ``Henrychur/MMedBench`` test (8,518 questions). Rows (jsonl): question,
options{A..}, answer_idx, rationale, human_checked, human_check_passed. The language comes from
a ``lang``/``language`` column when present, else the file name ``<Language>.jsonl`` (official
layout ``Test/<Language>.jsonl``: a folder is read as one split from ``Test/*.jsonl`` or
``*.jsonl``). The hub source is a file snapshot of the repository; its archive name
(``MMedBench.zip``) and unpacked layout are not verified here.

MedUniEval has no MMedBench code, so this follows its text-MCQ pattern: the English MC prompt
for every language (including Chinese), choices written ``A. text``. Sub-scores by language; the
overall is the micro average over all questions -- the MMedBench paper may report the macro
average over languages (open question), which the per-language sub-scores allow to compute."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.sources import HubSource
from ..types import Sample
from .base import Benchmark, RowContext, as_choices, gold_letter, pick


def _language(row: dict[str, Any], ctx: RowContext) -> str | None:
    named = row.get("lang") or row.get("language")
    if named:
        return str(named)
    source = row.get("_file") or ctx.raw.origin
    stem = Path(str(source)).stem
    return stem if stem and stem.lower() not in {"test", "train"} else None


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    choices = as_choices(pick(row, "options"))
    answer = gold_letter(choices, pick(row, "answer_idx"))
    language = _language(row, ctx)
    meta: dict[str, Any] = {"language": language} if language else {}
    return ctx.mcq(
        row.get("id", f"{language}-{ctx.index}" if language else ctx.index),
        pick(row, "question"),
        choices,
        answer,
        meta,
    )


BENCHMARK = Benchmark(
    name="mmedbench",
    title="MMedBench",
    task="mcq",
    to_sample=to_sample,
    hub=HubSource(
        "Henrychur/MMedBench",
        split="test",
        snapshot=True,
        archives=("MMedBench.zip",),
        revision="d817c67d0bca216e63ea784fcf8a642c57bc372b",
    ),
    local_files=("Test/*.jsonl", "MMedBench/Test/*.jsonl", "*.jsonl"),
    group_by=("language",),
    description="Multilingual medical MCQ, 6 languages (8,518 test questions)",
)
