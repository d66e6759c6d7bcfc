"""MMMU-Med: the five medical subjects of MMMU (HF ``MMMU/MMMU``) -- Basic_Medical_Science,
Clinical_Medicine, Diagnostics_and_Laboratory_Medicine, Pharmacy, Public_Health -- validation
split. Official row schema: ``id`` (``validation_<Subject>_<n>``),
``question``, ``options`` (a *string* holding a Python list literal), ``answer`` (a letter, or the
text of an open question), ``question_type`` (``multiple-choice`` | ``open``), ``image_1`` ..
``image_7``, ``subfield``, ``img_type``.

Data: each subject is its own HF config, and the loader reads one config per source, so the
declared hub source is ``Clinical_Medicine`` alone. For the five-subject set pass a local folder
(``--data mmmu_med=DIR``) holding one ``validation.parquet`` (the five configs concatenated) or
JSON/JSONL exports (``*.jsonl`` / ``*/*.jsonl``: all matches are read as one split). Rows of
non-medical subjects are skipped.

Prompts (MedUniEval): multiple-choice questions use the shared MC template with ``"A. opt"``
lines; open questions are the question plus "Answer the question using a single word or phrase."
``<image k>`` placeholders stay in the text. Compat scoring is the official MMMU scorer
(``scoring/mmmu.py``); strict scoring is the shared strict rules.

Deviation: every non-null ``image_1`` .. ``image_7`` is passed, in order (MedUniEval passes
``image_1`` only and none at all when the options hold more than one ``<img='...'>`` tag).

The test split's answers are not public (``?``): ``mmmu_med_test`` runs it, reports no score
and writes ``submission.json`` (id -> the official parser's option letter, or the open answer)
for the MMMU evaluation server; pointing ``mmmu_med`` at test rows is a ConfigError.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from typing import Any

from .. import prompts
from ..data.sources import HubSource, is_lazy
from ..errors import ConfigError
from ..types import MediaRef, Sample
from .base import Benchmark, RowContext, SkipRow, as_choices, gold_letter, pick

SUBJECTS: tuple[str, ...] = (
    "Basic_Medical_Science",
    "Clinical_Medicine",
    "Diagnostics_and_Laboratory_Medicine",
    "Pharmacy",
    "Public_Health",
)
IMAGE_COLUMNS: tuple[str, ...] = tuple(f"image_{k}" for k in range(1, 8))
_ID = re.compile(r"^(?:dev|validation|test)_(.+)_\d+$")
TEST_SPLIT_MESSAGE = (
    "MMMU test answers are not public; use --bench mmmu_med_test to produce a submission file, "
    "or the validation split for a score"
)


def subject_of(sample_id: str) -> str:
    """``validation_Clinical_Medicine_12`` -> ``Clinical_Medicine``."""
    m = _ID.match(sample_id)
    if m is None:
        raise ValueError(f"id {sample_id!r} is not <split>_<Subject>_<n>")
    return m.group(1)


def parse_options(value: Any) -> list[str]:
    """``options`` is a string holding a Python list literal (a real list is accepted too)."""
    if isinstance(value, str):
        value = ast.literal_eval(value) if value.strip() else []
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"options must be a list literal, not {type(value).__name__}")
    return [str(v) for v in value]


def _has_image(row: dict[str, Any], ctx: RowContext, column: str) -> bool:
    value = row.get(column)
    if is_lazy(value) and ctx.raw.lazy is not None:
        cell = ctx.raw.lazy(ctx.index, column)  # peek: null cells of absent images
        return cell is not None and (not isinstance(cell, dict) or any(cell.values()))
    return value not in (None, "")


def images(row: dict[str, Any], ctx: RowContext) -> list[MediaRef]:
    """Every non-null ``image_k`` (k = 1..7), in order."""
    return [ctx.image(row, c) for c in IMAGE_COLUMNS if c in row and _has_image(row, ctx, c)]


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    sid = str(pick(row, "id"))
    answer = row.get("answer")
    hidden = answer == "?" or (sid.startswith("test_") and answer in (None, ""))
    if hidden and ctx.bench.answers_public:
        raise ConfigError(f"{ctx.bench.name}: {ctx.where}: {TEST_SPLIT_MESSAGE}")
    if not ctx.bench.answers_public:
        row = {**row, "answer": ""}
    subject = subject_of(sid)
    if subject not in SUBJECTS:
        raise SkipRow(subject)
    meta: dict[str, Any] = {"subject": subject}
    for key in ("subfield", "img_type"):
        if row.get(key) not in (None, ""):
            meta[key] = row[key]
    qtype = str(pick(row, "question_type")).strip()
    common = dict(id=sid, benchmark=ctx.bench.name, question=str(pick(row, "question")))
    if qtype == "open":
        return Sample(
            **common,
            answer=str(pick(row, "answer")),
            answer_type="open",
            media=images(row, ctx),
            meta=meta,
        )
    if qtype != "multiple-choice":
        raise ValueError(f"question_type {qtype!r} is neither 'multiple-choice' nor 'open'")
    choices = as_choices(parse_options(pick(row, "options")))
    return Sample(
        **common,
        answer=gold_letter(choices, pick(row, "answer")) if ctx.bench.answers_public else "",
        answer_type="mcq",
        choices=choices,
        media=images(row, ctx),
        meta=meta,
    )


def build_prompt(bench: Benchmark, sample: Sample, reasoning: bool) -> str:
    """MedUniEval: the MC template for multiple-choice, question + short-answer line for open."""
    if sample.answer_type == "mcq":
        return prompts.multiple_choice(
            sample.question, bench.formatted_choices(sample.choices or {}), bench.lang, reasoning
        )
    return prompts.short_answer(sample.question, "closed", bench.lang, reasoning)


BENCHMARK = Benchmark(
    name="mmmu_med",
    title="MMMU-Med",
    task="mcq",
    to_sample=to_sample,
    hub=HubSource("MMMU/MMMU", split="validation", config="Clinical_Medicine"),
    local_files=(
        "validation.parquet",
        "validation.jsonl",
        "validation.json",
        "*.jsonl",
        "*/*.jsonl",
        "*/validation-*.parquet",
    ),
    group_by=("subject", "answer_type"),
    lazy_columns=IMAGE_COLUMNS,
    prompt_builder=build_prompt,
    compat_scorer="mmmu",
    description=(
        "MMMU medical subjects (5), validation split: 150 questions, multiple-choice and open, "
        "1-7 images each; hub source = Clinical_Medicine only, local folder for all five"
    ),
)


def submission(records: list[Any]) -> dict[str, str]:
    """MMMU's upload format: id -> the option letter the official parser picks (the compat
    verdict's ``extracted``) or, for open questions, the stripped response; "" on errors."""
    out: dict[str, str] = {}
    for rec in records:
        if rec.failed:
            out[rec.sample_id] = ""
        elif rec.answer_type == "mcq":
            out[rec.sample_id] = rec.scores["compat"].get("extracted") or ""
        else:
            out[rec.sample_id] = (rec.response.text or "").strip()
    return out


BENCHMARK_TEST = dataclasses.replace(
    BENCHMARK,
    name="mmmu_med_test",
    title="MMMU-Med (test)",
    hub=HubSource("MMMU/MMMU", split="test", config="Clinical_Medicine"),
    local_files=("test.parquet", "test.jsonl", "test.json", "*/test-*.parquet", "*.jsonl"),
    answers_public=False,
    submission=submission,
    description="MMMU medical subjects, test split (answers withheld): submission file, no score",
)
