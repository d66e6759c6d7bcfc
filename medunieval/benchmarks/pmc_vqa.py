"""PMC-VQA (paper Table 1): HF ``RadGenome/PMC-VQA`` test split, local ``test_2.csv`` (or
``test_clean.csv``). Columns: an unnamed pandas index, Figure_path, Caption, Question,
Choice A..Choice D, Answer (the gold letter; ``Answer_label`` preferred where present), split.
Images at ``figures/<Figure_path>`` (then ``images/``, then the data folder itself; the first
that exists -- MedUniEval's fallback joined ``images/`` onto the already-joined path).

The CSV choice strings carry their own letter prefix (``" A:heart"``), which MedUniEval puts in
the prompt as is. Here the prefix is split off so ``choices`` holds the option text (strict
option-text matching needs it) and ``choice_format=" {letter}:{text}"`` writes the CSV string
back byte for byte, for the prompt and for the compat scorer's choice list."""

from __future__ import annotations

import re
from typing import Any

from ..data.sources import HubSource
from ..types import Sample
from .base import LETTERS, Benchmark, RowContext, gold_letter, pick

_PREFIX = re.compile(r"^\s*([A-Z])\s*:")
_INDEX_COLUMNS = ("", "index", "Unnamed: 0")


def _strip(letter: str, value: str) -> str:
    """The option text of a CSV choice string (its own ``" X:"`` prefix removed)."""
    m = _PREFIX.match(value)
    return value[m.end() :] if m and m.group(1) == letter else value


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    choices: dict[str, str] = {}
    for letter in LETTERS[:4]:
        value = row.get(f"Choice {letter}")
        if value not in (None, ""):
            choices[letter] = _strip(letter, str(value))
    if len(choices) < 2:
        raise ValueError("fewer than two 'Choice X' columns")
    gold = str(pick(row, "Answer_label", "Answer")).strip()
    m = _PREFIX.match(gold)
    if m and m.group(1) in choices and len(gold) > m.end():  # " B:heart" written out in full
        gold = m.group(1)
    rid = next((str(row[k]) for k in _INDEX_COLUMNS if row.get(k) not in (None, "")), None)
    meta = {"split": row.get("split")}
    return Sample(
        id=rid if rid is not None else str(ctx.index),
        benchmark=ctx.bench.name,
        question=str(pick(row, "Question")),
        answer=gold_letter(choices, gold),
        answer_type="mcq",
        choices=choices,
        media=[ctx.image(row, "Figure_path")],
        meta={k: v for k, v in meta.items() if v not in (None, "")},
    )


BENCHMARK = Benchmark(
    compat_answer_tag=False,  # MedUniEval judges the raw response here
    name="pmc_vqa",
    title="PMC-VQA",
    task="mcq",
    to_sample=to_sample,
    hub=HubSource("RadGenome/PMC-VQA", split="test", snapshot=True, archives=("images_2.zip",)),
    local_files=("test_2.csv", "test_clean.csv"),
    choice_format=" {letter}:{text}",
    image_dirs=("figures", "images", ""),
    description="Image MCQ from PubMed Central figures (4 options), test_2 split",
)
