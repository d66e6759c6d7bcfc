"""SLAKE 1.0 (paper Table 1), English questions (as MedUniEval and the paper). Closed/open
comes from the dataset's ``answer_type`` field. Official ``test.json`` + ``imgs/``."""

from __future__ import annotations

from typing import Any

from ..data.sources import HubSource
from ..types import Sample
from .base import Benchmark, RowContext, pick


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    kind = str(pick(row, "answer_type")).strip().upper()
    if kind not in {"OPEN", "CLOSED"}:
        raise ValueError(f"answer_type must be OPEN or CLOSED, got {kind!r}")
    meta = {k: row[k] for k in ("modality", "content_type", "location", "base_type") if row.get(k)}
    return Sample(
        id=str(pick(row, "qid")),
        benchmark="slake",
        question=str(pick(row, "question")),
        answer=str(pick(row, "answer")),
        answer_type="closed" if kind == "CLOSED" else "open",
        media=[ctx.image(row, "img_name")],
        meta=meta,
    )


BENCHMARK = Benchmark(
    name="slake",
    title="SLAKE",
    task="vqa",
    to_sample=to_sample,
    hub=HubSource(
        "BoKelvin/SLAKE",
        split="test",
        snapshot=True,
        archives=("imgs.zip",),
        revision="a9083ce6c34ac3ffb17671a605962924d8a8f9e9",
    ),
    local_files=("test.json",),
    image_dirs=("imgs", ""),
    row_filter=lambda row: row.get("q_lang", "en") == "en",
    group_by=("answer_type", "modality", "content_type"),
    compat_vqa="slake",
    judge="vqa",
    max_new_tokens=128,
    description="Bilingual radiology VQA; English test questions (1,061)",
)
