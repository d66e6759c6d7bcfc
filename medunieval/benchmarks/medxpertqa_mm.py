"""MedXpertQA-MM (paper Table 1): HF ``TsinghuaC3I/MedXpertQA`` config ``MM``, test (2,000
image questions, 5 options A-E). Official schema (id, question, options{A..E}, label, images
[file names], medical_task, body_system, question_type); the image files live in ``images/``
next to the data file (or next to the ``MM/`` folder in the hub layout). The question is cut at
``Answer Choices:`` as for MedXpertQA-Text; every image is passed, in order. Choices ``A. text``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.media import file_image
from ..data.sources import HubSource
from ..errors import SampleError
from ..types import Sample
from . import medxpertqa
from .base import Benchmark, RowContext, pick


def _image_root(ctx: RowContext) -> Path:
    root = ctx.raw.root
    if root is None:
        raise SampleError("missing_media", f"{ctx.where}: image paths without a data root")
    root = Path(root)
    # Hub layout: MM/test.jsonl with the images in the sibling images/ folder.
    if root.name == "MM" and not (root / "images").is_dir() and (root.parent / "images").is_dir():
        return root.parent
    return root


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    base = medxpertqa.to_sample(row, ctx)
    names = pick(row, "images")
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names:
        raise SampleError("malformed_row", f"{ctx.where}: 'images' must be a non-empty list")
    root = _image_root(ctx)
    base.media = [file_image(root, str(n), ctx.bench.image_dirs) for n in names]
    return base


BENCHMARK = Benchmark(
    name="medxpertqa_mm",
    title="MedXpertQA-MM",
    task="mcq",
    to_sample=to_sample,
    hub=HubSource(
        "TsinghuaC3I/MedXpertQA",
        split="test",
        config="MM",
        snapshot=True,
        archives=("images.zip",),
        revision="f4e6fe7e5a9e13d6c97d7aa2b91cdd8b80c9cc61",
    ),
    local_files=("MM/test.jsonl", "test.jsonl", "test.parquet"),
    image_dirs=("images", ""),
    group_by=medxpertqa.META_KEYS,
    description="Expert-level multimodal MCQ (5 options, 1+ images), 2,000 test questions",
)
