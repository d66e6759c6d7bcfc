"""Medbullets (paper Table 2): USMLE Step 2/3-style questions, 308 each, with 4 options
(``medbullets_op4``) or 5 (``medbullets_op5``). Accepts the official CSV (link, question,
opa..opd[, ope], answer_idx, answer, explanation; trailing empty columns ignored), the HF
copies (``options`` dict or ``opa..ope``, ``answer_idx``) and the MedAgentsBench conversion
(realidx, options{A..E}, answer_idx). Choices written ``A.text`` (MedUniEval)."""

from __future__ import annotations

from typing import Any

from ..data.sources import HubSource
from ..types import Sample
from .base import Benchmark, RowContext, as_choices, gold_letter, pick


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    if "opa" in row:
        choices = {
            letter: str(row[f"op{c}"])
            for letter, c in zip("ABCDE", "abcde", strict=True)
            if row.get(f"op{c}") not in (None, "")
        }
    else:
        choices = as_choices(pick(row, "options"))
    answer = gold_letter(choices, pick(row, "answer_idx", "answer"))
    return Sample(
        id=str(row.get("link") or row.get("realidx", ctx.index)),
        benchmark=ctx.bench.name,
        question=str(pick(row, "question")),
        answer=answer,
        answer_type="mcq",
        choices=choices,
    )


def _declare(n: int, hub: str) -> Benchmark:
    return Benchmark(
        name=f"medbullets_op{n}",
        title=f"Medbullets ({n} options)",
        task="mcq",
        to_sample=to_sample,
        hub=HubSource(hub, split="train"),
        local_files=(
            f"medbullets_op{n}.csv",
            "test.jsonl",
            "train.parquet",
            f"medbullets_op{n}.json",
        ),
        choice_format="{letter}.{text}",
        description=f"Medbullets USMLE-style {n}-option MCQ (308)",
    )


BENCHMARK_OP4 = _declare(4, "tuenguyen/Medical-Eval-MedBullets_op4")
BENCHMARK_OP5 = _declare(5, "LangAGI-Lab/medbullets_op5")
