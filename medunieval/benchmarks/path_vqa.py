"""PathVQA (paper Table 1). Closed = gold answer yes/no (MedUniEval's rule). Accepts the HF
schema (image, question, answer) and JSON exports with an ``image_path`` column."""

from __future__ import annotations

from typing import Any

from ..data.sources import HubSource
from ..types import Sample
from .base import Benchmark, RowContext, yes_no_prompt, yes_no_vqa_sample


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    return yes_no_vqa_sample(row, ctx, "id", ("image", "image_path"), ("question_type",))


BENCHMARK = Benchmark(
    name="path_vqa",
    title="PathVQA",
    task="vqa",
    to_sample=to_sample,
    hub=HubSource(
        "flaviagiammarino/path-vqa",
        split="test",
        revision="12d11bc4ecfb8779899e7b8e95105b7812b63469",
    ),
    local_files=("test.parquet", "test.json"),
    lazy_columns=("image",),
    group_by=("answer_type", "question_type"),
    prompt_builder=yes_no_prompt(lower=False),  # MedUniEval's prompt choice, see yes_no_prompt
    compat_vqa="path_vqa",
    judge="vqa",
    max_new_tokens=128,
    description="Pathology VQA (yes/no closed + open)",
)
