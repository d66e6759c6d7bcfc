"""SuperGPQA medicine subset (paper Table 2): HF ``m-a-p/SuperGPQA`` split ``train`` (the only
split), rows with ``discipline == "Medicine"``. Schema: uuid, question, options (list), answer
(text), answer_letter, discipline, field, subfield, difficulty. Sub-scores by ``field`` and
``difficulty``, each under its own name (MedUniEval swaps the two labels). Choices written
``A.text`` without a space (MedUniEval)."""

from __future__ import annotations

from typing import Any

from ..data.sources import HubSource
from ..types import Sample
from .base import Benchmark, RowContext, as_choices, gold_letter, pick


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    choices = as_choices(pick(row, "options"))
    gold = row.get("answer_letter") or pick(row, "answer")
    return ctx.mcq(
        row.get("uuid", ctx.index),
        pick(row, "question"),
        choices,
        gold_letter(choices, gold),
        {k: row[k] for k in ("field", "difficulty") if row.get(k) not in (None, "")},
    )


BENCHMARK = Benchmark(
    name="supergpqa_med",
    title="SuperGPQA-Med",
    task="mcq",
    to_sample=to_sample,
    hub=HubSource(
        "m-a-p/SuperGPQA", split="train", revision="05eef0be7d48bb605979bc70f9b95b1a9d417073"
    ),
    local_files=("SuperGPQA-all.jsonl", "train.jsonl", "train.parquet"),
    choice_format="{letter}.{text}",
    row_filter=lambda row: row.get("discipline") == "Medicine",
    group_by=("field", "difficulty"),
    description="Graduate-level MCQ (up to 10 options), discipline Medicine",
)
