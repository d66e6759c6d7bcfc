"""M3D-VQA (3D CT; closed MCQ + open VQA, five question types: 1 Plane, 2 Phase, 3 Organ,
4 Abnormality, 5 Location). Accepts the public ``M3D_VQA_test.csv`` (``Image Path`` to a
``.npy`` volume, ``Question Type``, ``Question``, ``Choice A..D``, ``Answer``, ``Answer Choice``:
each row is one closed and one open sample) and Hulu-Med's processed ``M3D_test.json`` (slice
folders; ``Question_Type`` CLOSE/OPEN, ``type`` 1-5). Scores: closed accuracy and open token
metrics per question type, overall as macro (MedUniEval) and micro."""

from __future__ import annotations

from typing import Any

from ..data.volume import VolumeSpec
from ..types import Sample
from . import vqa3d
from .base import Benchmark, RowContext

TYPES = {"1": "Plane", "2": "Phase", "3": "Organ", "4": "Abnormality", "5": "Location"}


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    raw = row.get("type", row.get("Question Type", row.get("Question_Type_Id")))
    key = str(raw).strip() if raw is not None else ""
    qtype = TYPES.get(key, f"Unknown Type {key}" if key else None)
    return vqa3d.vqa_sample(row, ctx, {"question_type": qtype})


BENCHMARK = Benchmark(
    name="m3d_vqa",
    title="M3D-VQA",
    task="vqa",
    to_sample=to_sample,
    hub=None,
    local_files=("M3D_test.json", "M3D_VQA_test.csv", "test.json", "test.csv"),
    local_reader=vqa3d.local_reader(expand=True),
    prompt_builder=vqa3d.prompt,
    compat_scorer="m3d",
    group_by=("answer_type", "question_type"),
    max_new_tokens=256,
    # MedUniEval sends every slice of a volume; M3D's npy volumes have 32 axial slices
    volume_spec=VolumeSpec(sampling="all"),
    description="3D CT VQA: closed MCQ + open, 5 question types (macro and micro overall)",
)
