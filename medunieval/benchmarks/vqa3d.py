"""Shared schema mapping of the 3D VQA and 3D report benchmarks.

Layouts accepted, row by row:

- Hulu-Med / MedUniEval (LLaVA style): ``{"video": [slice folder], "conversations": [human,
  gpt], "Question_Type": "CLOSE" | "OPEN", "type": ..., "sub-type": ...}``. The question is the
  human turn with ``<image>`` / ``<video>`` removed; the answer is ``conversations[1].value``.
- Tabular releases (M3D-VQA csv, 3D-RAD csv): a volume column (``.npy`` / ``.nii.gz`` / folder),
  ``Question``, ``Answer``, optional ``Choice A..D`` + ``Answer Choice``.

Prompts (MedUniEval, PRIOR_ART §2.8): the question, ``\\n``, then the multiple-choice instruction
(closed) or the open-ended instruction (open).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import prompts
from ..data.sources import RawRows, read_local, read_many
from ..types import Sample
from .base import Benchmark, MissingField, RowContext, pick

VOLUME_COLUMNS = (
    "video",
    "Image Path",
    "Image_Path",
    "image_path",
    "VolumeName",
    "volume",
    "image",
)
_TOKENS = re.compile(r"<(image|video)>\s*")
_OPTION_LINE = re.compile(r"(?:^|\s)\(?([A-D])[.)]\s*(.+?)(?=\s+\(?[A-D][.)]\s|$)", re.S)


def clean_question(text: str) -> str:
    """A LLaVA human turn without its ``<image>`` / ``<video>`` tokens."""
    return _TOKENS.sub("", str(text)).strip()


def options_in_text(text: str) -> dict[str, str]:
    """Lettered options written into a question (``A. x B. y`` / one per line), if any."""
    tail = text.split("Choices:", 1)[1] if "Choices:" in text else text
    found = {m.group(1): m.group(2).strip() for m in _OPTION_LINE.finditer(tail)}
    return found if len(found) >= 2 else {}


def prompt(bench: Benchmark, sample: Sample, reasoning: bool) -> str:
    """MedUniEval's 3D prompt (reports: the fixed report prompt)."""
    if sample.answer_type == "report":
        return prompts.REPORT_PROMPT
    style = "mcq" if sample.answer_type == "closed" else "open"
    return f"{sample.question}\n{prompts.instruction(style, bench.lang, reasoning)}"


def _volume(row: dict[str, Any], ctx: RowContext) -> Any:
    column = next((c for c in VOLUME_COLUMNS if row.get(c) not in (None, "", [])), None)
    if column is None:
        raise MissingField(" or ".join(repr(c) for c in VOLUME_COLUMNS))
    return ctx.volume(row, column)


def _sid(row: dict[str, Any], ctx: RowContext) -> str:
    base = next(
        (row[k] for k in ("id", "question_id", "qid") if row.get(k) not in (None, "")), None
    )
    sid = str(base if base is not None else row.get("_row", ctx.index))
    return f"{sid}-{row['_mode']}" if "_mode" in row else sid


def vqa_sample(row: dict[str, Any], ctx: RowContext, meta: dict[str, Any]) -> Sample:
    """A closed (lettered) or open 3D VQA sample from a row in either layout."""
    convs = row.get("conversations")
    if convs is not None:
        question = clean_question(pick(convs[0], "value"))
        answer = str(pick(convs[1], "value")).strip()
        qt = str(row.get("Question_Type", "OPEN")).strip().upper()
        closed = qt in ("CLOSE", "CLOSED")
        choices = options_in_text(question) if closed else None
    else:
        question = str(pick(row, "Question", "question")).strip()
        letters = [k for k in "ABCD" if row.get(f"Choice {k}") not in (None, "")]
        mode = row.get("_mode") or (
            "closed"
            if str(row.get("Question_Type", row.get("Question Type", "")))
            .upper()
            .startswith("CLOS")
            else "open"
        )
        closed = mode == "closed" and bool(letters)
        if closed:
            choices = {k: str(row[f"Choice {k}"]).strip() for k in letters}
            question = f"{question} Choices: " + " ".join(f"{k}. {v}" for k, v in choices.items())
            answer = str(pick(row, "Answer Choice", "Answer_Choice")).strip().upper()
        else:
            choices = None
            answer = str(pick(row, "Answer", "answer")).strip()
    return Sample(
        id=_sid(row, ctx),
        benchmark=ctx.bench.name,
        question=question,
        answer=answer,
        answer_type="closed" if closed else "open",
        choices=choices or None,
        media=[_volume(row, ctx)],
        meta={k: v for k, v in meta.items() if v not in (None, "")},
    )


def report_sample(row: dict[str, Any], ctx: RowContext, reference_keys: tuple[str, ...]) -> Sample:
    """A 3D report-generation sample (LLaVA layout, or a row with a report column)."""
    convs = row.get("conversations")
    if convs is not None:
        reference = str(pick(convs[1], "value"))
    else:
        reference = str(pick(row, *reference_keys))
    return Sample(
        id=_sid(row, ctx),
        benchmark=ctx.bench.name,
        question="",
        answer=reference,
        answer_type="report",
        media=[_volume(row, ctx)],
    )


def expand_closed_open(rows: RawRows) -> RawRows:
    """Tabular rows with both options and a free-text answer (M3D-VQA) become two samples
    each: ``<id>-closed`` (the lettered question) and ``<id>-open`` (the free-text one)."""
    out: list[dict[str, Any]] = []
    for index, row in rows:
        if "conversations" not in row and any(row.get(f"Choice {k}") for k in "ABCD"):
            out.extend({**row, "_mode": mode, "_row": index} for mode in ("closed", "open"))
        else:
            out.append(row)
    return RawRows(out, rows.origin, rows.fingerprint, rows.root, None, rows.cache)


def local_reader(
    expand: bool,
) -> Callable[[Benchmark, Path], RawRows]:
    """A ``Benchmark.local_reader`` reading ``local_files`` (optionally expanded)."""

    def read(bench: Benchmark, path: Path) -> RawRows:
        files = bench.resolve_local(path)
        root = path if path.is_dir() else path.parent
        # One file below the data folder (3D-RAD's test/Task*/<sub>.csv) is read like several:
        # its path relative to the folder is kept (task / sub-task) and media resolve there.
        below = path.is_dir() and len(files) == 1 and files[0].parent != root
        raw = read_local(files[0]) if len(files) == 1 and not below else read_many(files, root)
        return expand_closed_open(raw) if expand else raw

    return read
