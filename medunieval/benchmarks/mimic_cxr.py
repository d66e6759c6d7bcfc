"""MIMIC-CXR report generation (PhysioNet, credentialed: never bundled). Local data only:
MedEvalKit's ``test.json`` (``image, findings, impression``) or Hulu-Med's ``mimic_test.json``
(``image, conversations``); every listed image is passed."""

from __future__ import annotations

from .base import Benchmark
from .report import to_sample

BENCHMARK = Benchmark(
    name="mimic_cxr",
    title="MIMIC-CXR",
    task="report",
    to_sample=to_sample,
    hub=None,
    local_files=("test.json", "mimic_test.json"),
    image_dirs=("", "images", "files"),
    max_new_tokens=1024,
    description="Chest X-ray report generation (PhysioNet credentialed data); local data only",
)
