"""VQA-RAD (paper Table 1). Closed = gold answer yes/no (MedUniEval's rule; the HF copy has
no answer_type). Accepts the HF schema (image, question, answer) and the original/MEVF JSON
(qid, image_name, question, answer, image_organ, question_type, ...) with images in images/."""

from __future__ import annotations

from typing import Any

from ..data.sources import HubSource
from ..types import Sample
from .base import Benchmark, RowContext, pick, yes_no_closed


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    answer = str(pick(row, "answer"))
    image = ctx.image(row, "image" if "image" in row else "image_name")
    meta = {k: row[k] for k in ("image_organ", "question_type") if row.get(k) is not None}
    return Sample(
        id=str(row.get("qid", ctx.index)),
        benchmark="vqa_rad",
        question=str(pick(row, "question")),
        answer=answer,
        answer_type=yes_no_closed(answer),
        media=[image],
        meta=meta,
    )


BENCHMARK = Benchmark(
    name="vqa_rad",
    title="VQA-RAD",
    task="vqa",
    to_sample=to_sample,
    hub=HubSource("flaviagiammarino/vqa-rad", split="test"),
    local_files=("test.parquet", "testset.json", "test.json", "VQA_RAD Dataset Public.json"),
    lazy_columns=("image",),
    image_dirs=("", "images", "VQA_RAD Image Folder"),
    group_by=("answer_type", "question_type", "image_organ"),
    compat_vqa="vqa_rad",
    max_new_tokens=128,
    description="Radiology VQA, 451 test QA (251 yes/no closed, 200 open)",
)
