"""IU-Xray report generation (Open-i chest X-rays, frontal + lateral views). Local data only:
MedEvalKit's ``test.json`` (``id, image, findings, impression``; 296 studies) or Hulu-Med's
``iu_xray_test.json`` (``image, conversations``), images under the folder or ``images/``."""

from __future__ import annotations

from .base import Benchmark
from .report import to_sample

BENCHMARK = Benchmark(
    name="iu_xray",
    title="IU-Xray",
    task="report",
    to_sample=to_sample,
    hub=None,
    local_files=("test.json", "iu_xray_test.json"),
    image_dirs=("", "images"),
    max_new_tokens=1024,
    description="Chest X-ray report generation (findings + impression); local data only",
)
