"""PubMedQA PQA-L (paper Table 2), 500 test questions, yes/no/maybe as options A/B/C.

Sources: HF openlifescienceai/pubmedqa (``data.Question/Context/Options/Correct Option``), the
HF qiaojin/PubMedQA ``pqa_labeled`` layout (``pubid, question, context.contexts,
final_decision``), and the official release (``ori_pqal.json`` keyed by PMID, restricted to
the PMIDs and labels of ``test_ground_truth.json`` when that file sits beside it).
Prompt: ``Context: `` + contexts joined by newlines, a newline, then the MC prompt with
``A.yes`` style choices (MedUniEval)."""

from __future__ import annotations

from typing import Any

from ..data.sources import HubSource, load_json_file
from ..types import Sample
from .base import Benchmark, RowContext, SkipRow, as_choices, gold_letter, pick

LABELS = {"A": "yes", "B": "no", "C": "maybe"}


def _ground_truth(ctx: RowContext) -> dict[str, str] | None:
    cache = ctx.raw.cache
    if "pubmedqa_gt" not in cache:
        root = ctx.raw.root
        path = root / "test_ground_truth.json" if root else None
        cache["pubmedqa_gt"] = (
            load_json_file(path, "pubmedqa ground truth") if path and path.is_file() else None
        )
    return cache["pubmedqa_gt"]


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    if "data" in row:  # HF openlifescienceai layout
        data = row["data"]
        choices = as_choices(pick(data, "Options"))
        answer = gold_letter(choices, pick(data, "Correct Option", "Correct Answer"))
        contexts, question = pick(data, "Context"), pick(data, "Question")
        rid = str(row.get("id", ctx.index))
    else:  # official ori_pqal.json, keyed by PMID
        rid = str(pick(row, "_key", "pubid"))
        gt = _ground_truth(ctx)
        if gt is not None and rid not in gt:
            raise SkipRow  # a PQA-L row outside the official test split
        label = gt[rid] if gt is not None else pick(row, "final_decision")
        choices = dict(LABELS)
        answer = gold_letter(choices, label)
        question = pick(row, "QUESTION", "question")
        nested = row.get("context")  # qiaojin/PubMedQA pqa_labeled: context.contexts
        contexts = nested["contexts"] if isinstance(nested, dict) else pick(row, "CONTEXTS")
    if isinstance(contexts, str):
        contexts = [contexts]
    return Sample(
        id=rid,
        benchmark="pubmedqa",
        question=str(question),
        answer=answer,
        answer_type="mcq",
        choices=choices,
        meta={"context": "\n".join(contexts), "label": choices[answer]},
    )


BENCHMARK = Benchmark(
    name="pubmedqa",
    title="PubMedQA",
    task="mcq",
    to_sample=to_sample,
    hub=HubSource(
        "openlifescienceai/pubmedqa",
        split="test",
        revision="50fc41dcd0bd6eb63c18d436d854c6f9e8f3c7e2",
    ),
    local_files=("test.parquet", "ori_pqal.json", "pubmedqa_pqal_test.json"),
    choice_format="{letter}.{text}",
    group_by=("label",),
    prompt_prefix=lambda s: "Context: " + s.meta["context"] + "\n",
    description="Biomedical research QA (yes/no/maybe), PQA-L test split (500)",
)
