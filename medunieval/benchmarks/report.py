"""Shared schema mapping of the 2D report-generation benchmarks (IU-Xray, MIMIC-CXR, CheXpert
Plus). Two local layouts are accepted, row by row:

- MedEvalKit: ``{"id", "image": [paths] | path, "findings", "impression"}``; the reference is
  MedEvalKit's ``"Findings: {findings} Impression: {impression}."``.
- Hulu-Med (LLaVA style): ``{"image" | "images": [paths] | path, "conversations": [human, gpt]}``;
  the reference is ``conversations[1].value`` as written (MedUniEval does not strip its labels).

The prompt is MedUniEval's fixed report prompt (``prompts.REPORT_PROMPT``); images are passed
in row order (CheXpert Plus: the first image only, as MedUniEval does).
"""

from __future__ import annotations

from typing import Any

from ..types import Sample
from .base import RowContext, pick


def reference(row: dict[str, Any]) -> str:
    """The reference report of a row in either layout."""
    convs = row.get("conversations")
    if convs is not None:
        if not isinstance(convs, list) or len(convs) < 2 or not isinstance(convs[1], dict):
            raise ValueError("conversations must hold a human turn and the reference report turn")
        return str(pick(convs[1], "value"))
    if row.get("findings") is None and row.get("impression") is None:
        pick(row, "findings", "impression", "conversations")  # raises MissingField naming them
    findings = row.get("findings") or ""
    impression = row.get("impression") or ""
    return f"Findings: {findings} Impression: {impression}."


def image_paths(row: dict[str, Any]) -> list[Any]:
    """The row's images, in order (``image`` or ``images``; one value or a list)."""
    value = pick(row, "image", "images", "image_path")
    paths = list(value) if isinstance(value, (list, tuple)) else [value]
    if not paths:
        raise ValueError("the row lists no image")
    return paths


def report_sample(row: dict[str, Any], ctx: RowContext, first_image_only: bool = False) -> Sample:
    """A report-generation sample for a row in either layout."""
    paths = image_paths(row)
    if first_image_only:
        paths = paths[:1]
    sid = next(
        (row[k] for k in ("id", "study_id", "dicom_id") if row.get(k) not in (None, "")), ctx.index
    )
    return Sample(
        id=str(sid),
        benchmark=ctx.bench.name,
        question="",
        answer=reference(row),
        answer_type="report",
        media=[ctx.image({"image": p}, "image") for p in paths],
        meta={"layout": "conversations" if "conversations" in row else "findings_impression"},
    )


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    return report_sample(row, ctx)


def to_sample_first_image(row: dict[str, Any], ctx: RowContext) -> Sample:
    return report_sample(row, ctx, first_image_only=True)
