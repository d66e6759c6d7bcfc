"""3D-RAD (3D chest CT from CT-RATE; closed + open VQA, six tasks).

Layouts: MedUniEval's ``Rad3D_test.json`` (slice folders; ``type`` = task, ``sub-type``) and
the public HF release ``Tang-xiaoxiao/3D-RAD``, whose ``test/Task<k>_<Name>/<subtask>.csv``
files give the task from the folder name and the sub-task from the file name. The release's
folder numbers differ from the paper's task numbers (folders: 1 Image Observation, 2 Anomaly
Detection, 3 Medical Computation, 4 Existence Detection, 5 Static Temporal Diagnosis,
6 Longitudinal Temporal Diagnosis; the paper numbers Anomaly Detection 1 and Image Observation
2), so tasks are reported by name, never by number. Scores per task; MedUniEval reports no
overall (compat), strict adds micro and macro."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from ..data.volume import VolumeSpec
from ..types import Sample
from . import vqa3d
from .base import Benchmark, RowContext

_FOLDER = re.compile(r"^Task\d+_(.+)$")


def task_names(row: dict[str, Any]) -> tuple[str | None, str | None]:
    """(task, sub-task) of a row: its own fields, else its ``Task<k>_<Name>/<sub>.csv`` path."""
    task, sub = row.get("type") or row.get("task"), row.get("sub-type") or row.get("subtask")
    if task is None and row.get("_file"):
        parts = PurePosixPath(str(row["_file"]).replace("\\", "/")).parts
        folder = next((m.group(1) for p in parts if (m := _FOLDER.match(p))), None)
        task = folder.replace("_", " ") if folder else None
        sub = sub or PurePosixPath(parts[-1]).stem.replace("_", " ")
    return (str(task) if task else None), (str(sub) if sub else None)


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    task, sub = task_names(row)
    return vqa3d.vqa_sample(row, ctx, {"task": task, "subtask": sub})


BENCHMARK = Benchmark(
    name="rad3d",
    title="3D-RAD",
    task="vqa",
    to_sample=to_sample,
    hub=None,
    local_files=("Rad3D_test.json", "test/Task*/*.csv", "Task*/*.csv", "test.json"),
    local_reader=vqa3d.local_reader(expand=False),
    prompt_builder=vqa3d.prompt,
    compat_scorer="rad3d",
    group_by=("answer_type", "task", "subtask"),
    max_new_tokens=256,
    # MedUniEval: load_video(dir, fps=1, max_frames=1800) on the slice folder
    volume_spec=VolumeSpec(sampling="max", num_slices=1800),
    description="3D chest CT VQA, six tasks (per task; no overall in MedUniEval)",
)
