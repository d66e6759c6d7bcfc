"""CMMLU-Med: the medical subjects of CMMLU (HF ``haonan-li/cmmlu``, one config per subject,
split ``test``). MedUniEval's 7 subjects: anatomy, clinical_knowledge, college_medicine,
genetics, nutrition, traditional_chinese_medicine, virology. Schema: Question, A, B, C, D,
Answer (the official CSVs also carry an unnamed index column). The subject comes from a
``subject``/``task`` column when present, else from the file name ``<subject>.csv``, else it is
unknown. The hub repository is a loading script (``cmmlu.py``, refused by datasets >= 4) next to
``cmmlu_v1_0_1.zip``: it is downloaded as a snapshot and the archive's ``test/*.csv`` are read,
like a local folder of subject CSVs (``test/*.csv`` or ``*.csv``): every match is read as one
split and non-medical subjects are filtered out. Chinese MedUniEval prompt, choices written
``A.text``; sub-scores by subject."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.sources import HubSource
from ..types import Sample
from .base import Benchmark, RowContext, gold_letter, pick

SUBJECTS = (
    "anatomy",
    "clinical_knowledge",
    "college_medicine",
    "genetics",
    "nutrition",
    "traditional_chinese_medicine",
    "virology",
)


def _subject(row: dict[str, Any], origin: str | None = None) -> str | None:
    """A ``subject``/``task`` column, else the stem of the row's file (``_file``, set when a
    folder is read), else the stem of ``origin`` when it names one of the 7 subjects."""
    named = row.get("subject") or row.get("task")
    if named:
        return str(named)
    if row.get("_file"):
        return Path(str(row["_file"])).stem.lower()
    stem = Path(str(origin)).stem.lower() if origin else None
    return stem if stem in SUBJECTS else None


def _keep(row: dict[str, Any]) -> bool:
    subject = _subject(row)
    return subject is None or subject in SUBJECTS


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    choices = {k: str(pick(row, k)) for k in "ABCD"}
    answer = gold_letter(choices, pick(row, "Answer"))
    subject = _subject(row, ctx.raw.origin)
    local = row.get("", row.get("Unnamed: 0", ctx.index))
    return ctx.mcq(
        f"{subject}-{local}" if subject else str(row.get("id", ctx.index)),
        pick(row, "Question"),
        choices,
        answer,
        {"subject": subject} if subject else {},
    )


BENCHMARK = Benchmark(
    name="cmmlu_med",
    title="CMMLU-Med",
    task="mcq",
    to_sample=to_sample,
    hub=HubSource(
        "haonan-li/cmmlu",
        split="test",
        snapshot=True,
        archives=("cmmlu_v1_0_1.zip",),
        revision="efcc940752ea4a1ea94d2727f11f83858d64fc8e",
    ),
    local_files=("test/*.csv", "*/test/*.csv", "*.csv"),
    choice_format="{letter}.{text}",
    group_by=("subject",),
    lang="zh",
    row_filter=_keep,
    description="CMMLU medical subjects (MedUniEval's 7)",
)
