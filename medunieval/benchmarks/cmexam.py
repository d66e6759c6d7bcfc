"""CMExam (Chinese National Medical Licensing Examination): HF ``fzkuji/CMExam`` split ``test``.
Schema: Question, Options (list of ``{key, value}``; a dict, or the GitHub CSV's string of
``"A text"`` lines, is accepted too), Answer,
Explanation, and when present Disease Group, Clinical Department, Medical Discipline,
Competency Area, Difficulty level. Chinese MedUniEval prompt, choices written ``A.text``;
sub-scores by clinical department.

Multi-answer questions (``Answer`` such as ``"ABD"``) are skipped (``SkipRow``), a deliberate
choice: they cannot be scored as a single-letter MCQ, and MedUniEval's MC judge cannot score
them either (it compares one extracted letter or option with the gold string, so a multi-letter
gold is only matched by the literal string "abd"). How many rows this drops from the official
test split is not verified here (no real data at hand); the run's ``n`` is after skipping."""

from __future__ import annotations

from typing import Any

from ..data.sources import HubSource
from ..types import Sample
from .base import Benchmark, RowContext, SkipRow, gold_letter, pick
from .cmb import _options

_META = {
    "Clinical Department": "department",
    "Disease Group": "disease_group",
    "Medical Discipline": "discipline",
    "Competency Area": "competency",
    "Difficulty level": "difficulty",
}


def _parse_options(value: Any) -> dict[str, str]:
    if isinstance(value, str):  # GitHub CSV: one "A text" line per option
        lines = [ln.strip() for ln in value.splitlines() if ln.strip()]
        return _options({ln[0]: ln[1:].strip() for ln in lines})
    return _options(value)


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    choices = _parse_options(pick(row, "Options"))
    gold = str(pick(row, "Answer")).strip()
    if len(gold) > 1 and all(ch.upper() in choices for ch in gold):
        raise SkipRow(f"multi-answer question ({gold})")
    answer = gold_letter(choices, gold)
    meta = {key: str(row[col]) for col, key in _META.items() if row.get(col) not in (None, "")}
    return ctx.mcq(row.get("id", ctx.index), pick(row, "Question"), choices, answer, meta)


BENCHMARK = Benchmark(
    name="cmexam",
    title="CMExam",
    task="mcq",
    to_sample=to_sample,
    hub=HubSource("fzkuji/CMExam", split="test"),
    local_files=(
        "test_with_annotations.csv",
        "test.csv",
        "test.jsonl",
        "test.json",
        "test.parquet",
    ),
    choice_format="{letter}.{text}",
    group_by=("department",),
    lang="zh",
    description="Chinese medical licensing exam MCQ (single-answer questions only)",
)
