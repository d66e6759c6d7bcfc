"""MMLU-Pro-Med (paper Table 2): MMLU-Pro test, ``category == "health"`` (818 questions, up to
10 options A..J). Accepts the official ``TIGER-Lab/MMLU-Pro`` schema (question_id, question,
options[list], answer letter, answer_index, category, src), Hulu-Med's ``mmlu_pro_test.json``
(``problem``, ``choices`` dict A..J, ``answer``) and the MedAgentsBench conversion (realidx,
options, answer_idx). Only real options are kept: MedUniEval under ``datasets`` 3.6 pads the
dict to ten letters with ``None`` (PRIOR_ART §2.5), which is a defect. Choices written
``A. text``. Sub-scores by ``src`` (the original MMLU/STEM source, e.g. ori_mmlu-virology).

MedUniEval's prompt has no ``Question:/Options:`` wrapper (question, option lines,
instruction), and its scorer receives the choices as a dict, so it compares against the letter
keys (``compat_choice_keys``). Its reasoning prompt had a backspace instead of ``\\boxed``; the
correct reasoning instruction is used here."""

from __future__ import annotations

from typing import Any

from .. import prompts
from ..data.sources import HubSource
from ..types import Sample
from .base import Benchmark, RowContext, as_choices, gold_letter, pick


def build_prompt(bench: Benchmark, sample: Sample, reasoning: bool) -> str:
    """Question, newline, ``X. text`` lines, newline, instruction (MedUniEval's MMLU_Pro)."""
    options = "\n".join(bench.formatted_choices(sample.choices or {}))
    return f"{sample.question}\n{options}\n{prompts.instruction('mcq', bench.lang, reasoning)}"


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    choices = as_choices(pick(row, "options", "choices"))  # drops None padding
    choices = {k: v for k, v in choices.items() if v.strip()}
    answer = gold_letter(choices, pick(row, "answer_idx", "answer", "answer_index"))
    meta = {"source": row["src"]} if row.get("src") else {}
    return ctx.mcq(
        row.get("question_id", row.get("realidx", ctx.index)),
        pick(row, "question", "problem"),
        choices,
        answer,
        meta,
    )


BENCHMARK = Benchmark(
    name="mmlu_pro_med",
    title="MMLU-Pro-Med",
    task="mcq",
    to_sample=to_sample,
    hub=HubSource(
        "TIGER-Lab/MMLU-Pro", split="test", revision="62a98303d9e610d626b6b5e6c047dd5fac6af9f1"
    ),
    local_files=("mmlu_pro_test.json", "test.jsonl", "test.parquet", "test.json"),
    group_by=("source",),
    prompt_builder=build_prompt,
    compat_choice_keys=True,
    row_filter=lambda row: row.get("category", "health") == "health",
    description="MMLU-Pro health category, up to 10 options (818)",
)
