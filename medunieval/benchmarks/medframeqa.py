"""MedFrameQA: HF ``SuhaoYu1020/MedFrameQA`` split test, multi-frame image MCQ. Fields used:
question, options (list), correct_answer (a letter or the option text), image_1..image_5 (HF
image cells; the non-null ones, in order, are the sample's frames), modality. Choices written
``A.opt`` (no space). Sub-scores by ``frame_count`` (number of frames, as a string) and
``modality``. MedUniEval judges the raw response (no ``<answer>`` extraction first); here the
shared compat MC path applies (see the report/README note)."""

from __future__ import annotations

import ast
from typing import Any

from ..data.sources import HubSource, is_lazy
from ..types import MediaRef, Sample
from .base import Benchmark, RowContext, as_choices, gold_letter, pick

IMAGE_COLUMNS = tuple(f"image_{i}" for i in range(1, 6))


def _present(row: dict[str, Any], ctx: RowContext, column: str) -> bool:
    value = row.get(column)
    if is_lazy(value) and ctx.raw.lazy is not None:
        # Lazy Arrow cell: read it once to learn whether the frame exists (not kept).
        return ctx.raw.lazy(ctx.index, column) is not None
    return value not in (None, "")


def _frames(row: dict[str, Any], ctx: RowContext) -> list[MediaRef]:
    return [ctx.image(row, c) for c in IMAGE_COLUMNS if c in row and _present(row, ctx, c)]


def _options(value: Any) -> dict[str, str]:
    if isinstance(value, str):  # a list stored as its Python/JSON literal
        value = ast.literal_eval(value)
    return as_choices(value)


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    choices = _options(pick(row, "options"))
    media = _frames(row, ctx)
    if not media:
        raise ValueError("no non-null image_1..image_5 frame")
    meta = {"frame_count": str(len(media)), "modality": row.get("modality")}
    for key in ("system", "organ", "keyword"):
        meta[key] = row.get(key)
    return Sample(
        id=str(row.get("question_id", ctx.index)),
        benchmark=ctx.bench.name,
        question=str(pick(row, "question")),
        answer=gold_letter(choices, pick(row, "correct_answer")),
        answer_type="mcq",
        choices=choices,
        media=media,
        meta={k: v for k, v in meta.items() if v not in (None, "")},
    )


BENCHMARK = Benchmark(
    compat_answer_tag=False,  # MedUniEval judges the raw response here
    name="medframeqa",
    title="MedFrameQA",
    task="mcq",
    to_sample=to_sample,
    hub=HubSource("SuhaoYu1020/MedFrameQA", split="test"),
    local_files=("test.parquet", "data/test-00000-of-00001.parquet", "test.jsonl", "test.json"),
    choice_format="{letter}.{text}",
    lazy_columns=IMAGE_COLUMNS,
    group_by=("frame_count", "modality"),
    description="Multi-frame (2-5 images) medical video-frame MCQ",
)
