"""Rad-ReStruct (structured radiology reporting VQA on IU-Xray; PRIOR_ART §2.1, §2.10). Local
data only, in the authors' release layout as MedEvalKit reads it::

    <root>/test_qa_pairs/<report>.json             one file per report (report id = file stem)
    <root>/id_to_img_mapping_frontal_reports.json  report id -> [image name, ...]
    <root>/imgs/<image>.png

Each QA file is a list of ``[question, [answers], history, {answer_type, options, path}]``.

One sample per QA item, id ``<report>-<index>`` (index in the report file). MedEvalKit builds
every question of an image from one shared, mutated dict, so all questions of an image become
copies of the last one (PRIOR_ART §4.1 item 10); here each item is its own sample. Questions
legitimately repeat inside a report ("Is there another opacity in the lung?" with a different
``history``); their ids differ by index.

- ``single_choice`` with options yes/no: MedUniEval's judgement prompt (question + "Answer the
  question using a single word or phrase."); other ``single_choice``: the MC prompt listing the
  raw option names WITHOUT letters (MedEvalKit), so choices are written ``{text}`` as for
  MedQA-MCMLE. Every sample is an MCQ over its options with a letter gold (A = first option), so
  a "yes"/"no" answer reads as the option text under both profiles.
- ``multi_choice`` (select all that apply): MedEvalKit keeps only ``answer[0]``; a one-letter
  MCQ cannot score these, so they are SKIPPED (not scored, not in the denominator).
- ``history`` (the hierarchical follow-up context) is ignored, as in MedEvalKit.
- All frontal images mapped to the report are attached (MedEvalKit makes one entry per image).
- meta: ``path``, ``answer_type`` (as stored), ``area`` (top-level ``path`` component before
  the first ``_``), ``question_kind`` (``yes_no`` | ``choice``); sub-scores by ``question_kind``
  and ``area``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import prompts
from ..data.media import file_image
from ..data.sources import RawRows, load_json_file
from ..errors import ConfigError, SampleError
from ..types import Sample
from .base import Benchmark, RowContext, SkipRow, as_choices, gold_letter

MAPPING_FILES = (
    "id_to_img_mapping_frontal_reports.json",
    "id_to_img_mapping_frontal_reports.excerpt.json",
)


def _data_root(ctx: RowContext) -> Path:
    """The dataset folder: the glob root, or the parent of ``test_qa_pairs`` when one QA file is
    passed by itself."""
    root = ctx.raw.root
    if root is None:
        raise SampleError("missing_media", f"{ctx.where}: no data root")
    root = Path(root)
    return root.parent if root.name == "test_qa_pairs" else root


def _mapping(ctx: RowContext) -> dict[str, list[str]]:
    """Report id -> image names, read once from the data root (cached on the raw rows)."""
    cache = ctx.raw.cache
    if "radrestruct_mapping" not in cache:
        root = _data_root(ctx)
        path = next((root / n for n in MAPPING_FILES if (root / n).is_file()), None)
        if path is None:
            raise ConfigError(
                f"radrestruct: none of {list(MAPPING_FILES)} found in {root} (the test set is "
                "distributed by the Rad-ReStruct authors)"
            )
        data = load_json_file(path, "radrestruct")
        if not isinstance(data, dict):
            raise ConfigError(f"radrestruct: {path} is not a mapping of report ids")
        cache["radrestruct_mapping"] = {str(k): list(v) for k, v in data.items()}
    return cache["radrestruct_mapping"]


def _report_and_index(row: dict[str, Any], ctx: RowContext) -> tuple[str, int]:
    """The report id (QA file stem) and the item's index within its report file."""
    file = str(row.get("_file") or ctx.raw.origin)
    first = ctx.raw.cache.setdefault("radrestruct_first_index", {})
    start = first.setdefault(file, ctx.index)  # rows of one file are contiguous and in order
    return Path(file).stem, ctx.index - start


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    report, index = _report_and_index(row, ctx)
    item = row.get("_value")
    if not isinstance(item, list) or len(item) < 4 or not isinstance(item[3], dict):
        raise ValueError("expected [question, [answers], history, {answer_type, options, path}]")
    question, answers, _history, info = item[0], item[1], item[2], item[3]
    kind = str(info.get("answer_type", ""))
    if kind == "multi_choice":
        raise SkipRow  # several correct options: not scorable as a one-letter MCQ
    if kind != "single_choice":
        raise ValueError(f"answer_type must be single_choice or multi_choice, got {kind!r}")
    if not isinstance(answers, list) or len(answers) != 1:
        raise ValueError(f"single_choice item with {answers!r} as answers")
    choices = as_choices(list(info.get("options") or []))
    if not choices:
        raise ValueError("no options")
    yes_no = {v.strip().lower() for v in choices.values()} == {"yes", "no"}
    path = str(info.get("path", ""))
    images = _mapping(ctx).get(report)
    if not images:
        raise SampleError("missing_media", f"{ctx.where}: report {report} has no mapped image")
    root = _data_root(ctx)
    return Sample(
        id=f"{report}-{index}",
        benchmark=ctx.bench.name,
        question=str(question),
        answer=gold_letter(choices, str(answers[0])),
        answer_type="mcq",
        choices=choices,
        media=[file_image(root, f"imgs/{name}.png") for name in images],
        meta={
            "report": report,
            "path": path,
            "answer_type": kind,
            "area": path.split("_", 1)[0],
            "question_kind": "yes_no" if yes_no else "choice",
        },
    )


def build_prompt(bench: Benchmark, sample: Sample, reasoning: bool) -> str:
    """MedEvalKit: judgement prompt for yes/no questions, else the MC prompt, options unlettered."""
    if sample.meta.get("question_kind") == "yes_no":
        return prompts.short_answer(sample.question, "judgement", bench.lang, reasoning)
    return prompts.multiple_choice(
        sample.question, bench.formatted_choices(sample.choices or {}), bench.lang, reasoning
    )


class _LocalOnly(Benchmark):
    """A benchmark without a hub source whose error names where the data comes from."""

    def load_raw(self, path: Path | None, revision: str | None = None) -> RawRows:
        if path is None:
            raise ConfigError(
                "radrestruct has no hub source: the test set is distributed by the Rad-ReStruct "
                "authors; pass its folder with --data radrestruct=DIR (holding "
                "test_qa_pairs/*.json, id_to_img_mapping_frontal_reports.json and imgs/)"
            )
        return super().load_raw(path)


BENCHMARK = _LocalOnly(
    name="radrestruct",
    title="Rad-ReStruct",
    task="mcq",
    to_sample=to_sample,
    hub=None,
    local_files=("test_qa_pairs/*.json",),
    choice_format="{text}",
    prompt_builder=build_prompt,
    group_by=("question_kind", "area"),
    max_new_tokens=128,
    description=(
        "Structured chest X-ray report questions (IU-Xray); single-choice only, multi-label "
        "items skipped; local data only (the test set is distributed by the Rad-ReStruct authors)"
    ),
)
