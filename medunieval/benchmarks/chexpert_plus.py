"""CheXpert Plus report generation (Stanford AIMI). Local data only: Hulu-Med's
``chexpert_val.json`` (``image, conversations``) or a MedEvalKit-style ``test.json``
(``image, findings, impression``). The first image only, as MedUniEval passes it."""

from __future__ import annotations

from .base import Benchmark
from .report import to_sample_first_image

BENCHMARK = Benchmark(
    name="chexpert_plus",
    title="CheXpert Plus",
    task="report",
    to_sample=to_sample_first_image,
    hub=None,
    local_files=("chexpert_val.json", "test.json", "val.json"),
    image_dirs=("", "images"),
    max_new_tokens=1024,
    description="Chest X-ray report generation, first image only; local data only",
)
