"""VQA-RAD (paper Table 1). Closed = gold answer yes/no (MedUniEval's rule; the HF copy has
no answer_type). Accepts the HF schema (image, question, answer) and the original/MEVF JSON
(qid, image_name, question, answer, image_organ, question_type, ...) with images in images/."""

from __future__ import annotations

from typing import Any

from ..data.sources import HubSource
from ..types import Sample
from .base import Benchmark, RowContext, yes_no_prompt, yes_no_vqa_sample


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    return yes_no_vqa_sample(
        row, ctx, "qid", ("image", "image_name"), ("image_organ", "question_type")
    )


BENCHMARK = Benchmark(
    name="vqa_rad",
    title="VQA-RAD",
    task="vqa",
    to_sample=to_sample,
    hub=HubSource(
        "flaviagiammarino/vqa-rad",
        split="test",
        revision="0be11a5dbdd87e29586d0c9028153cb4f44dc877",
    ),
    local_files=("test.parquet", "testset.json", "test.json", "VQA_RAD Dataset Public.json"),
    lazy_columns=("image",),
    image_dirs=("", "images", "VQA_RAD Image Folder"),
    group_by=("answer_type", "question_type", "image_organ"),
    prompt_builder=yes_no_prompt(lower=True),  # MedUniEval's prompt choice, see yes_no_prompt
    compat_vqa="vqa_rad",
    judge="vqa",
    max_new_tokens=128,
    description="Radiology VQA, 451 test QA (251 yes/no closed, 200 open)",
)
