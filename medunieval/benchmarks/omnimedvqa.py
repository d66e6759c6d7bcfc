"""OmniMedVQA (paper Table 1): image MCQ with 2-4 options. Official QA JSON
(``QA_information/Open-access/*.json``, all files read as one split; question_id, dataset,
question_type, question, gt_answer, image_path, option_A..option_D, modality_type) and the
MedVLM-R1 conversion (image [list], problem, solution = gold letter, question, options [list],
answer, dataset, subset = modality). The gold is the letter whose option text equals
``gt_answer``. Image paths are relative to the dataset root. Choices written ``A. text``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..data.media import file_image
from ..data.sources import HubSource
from ..types import MediaRef, Sample
from .base import LETTERS, Benchmark, RowContext, as_choices, gold_letter, pick

QA_DIR = "QA_information/Open-access"


def _gold(choices: dict[str, str], text: str, solution: Any) -> str:
    if solution is not None:
        m = re.fullmatch(r"\s*(?:<answer>)?\s*([A-Z])\s*(?:</answer>)?\s*", str(solution))
        if m and m.group(1) in choices:
            return m.group(1)
    exact = [k for k, v in choices.items() if v == text]
    return exact[0] if len(exact) == 1 else gold_letter(choices, text)


def _image(row: dict[str, Any], ctx: RowContext) -> MediaRef:
    if "image_path" not in row:  # MedVLM-R1: a one-item list of paths
        paths = pick(row, "image")
        return ctx.image({"image": paths[0] if isinstance(paths, list) else paths}, "image")
    root = ctx.raw.root
    # One official QA file passed by itself: its paths are relative to the dataset root.
    if root is not None and Path(root).as_posix().endswith(QA_DIR):
        return file_image(Path(root).parent.parent, str(row["image_path"]), ctx.bench.image_dirs)
    return ctx.image(row, "image_path")


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    if "option_A" in row:
        choices = {x: str(row[f"option_{x}"]) for x in LETTERS[:4] if row.get(f"option_{x}")}
    else:
        choices = as_choices(pick(row, "options"))
    answer = _gold(choices, str(pick(row, "gt_answer", "answer")), row.get("solution"))
    meta = {"modality": row.get("modality_type", row.get("modality", row.get("subset")))}
    meta["question_type"] = row.get("question_type")
    meta["dataset"] = row.get("dataset")
    return Sample(
        id=str(row.get("question_id", ctx.index)),
        benchmark=ctx.bench.name,
        question=str(pick(row, "question")),
        answer=answer,
        answer_type="mcq",
        choices=choices,
        media=[_image(row, ctx)],
        meta={k: v for k, v in meta.items() if v not in (None, "")},
    )


BENCHMARK = Benchmark(
    name="omnimedvqa",
    title="OmniMedVQA",
    task="mcq",
    to_sample=to_sample,
    hub=HubSource(
        "foreverbeliever/OmniMedVQA",
        split="test",
        snapshot=True,
        archives=("OmniMedVQA.zip",),
        revision="1ba51c28fc0773bdf7efb8396e5bcfd4227e22da",
    ),
    local_files=(
        f"{QA_DIR}/*.json",
        f"OmniMedVQA/{QA_DIR}/*.json",
        "MRI_CT_XRAY_300each_dataset.json",
        "test.json",
    ),
    image_dirs=("", "OmniMedVQA"),
    group_by=("modality", "question_type"),
    description="Medical image MCQ over 12 modalities (Open-access part, 2-4 options)",
)
