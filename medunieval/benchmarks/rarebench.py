"""RareBench (Chen et al., KDD 2024), task 4: differential diagnosis of rare diseases from a
patient's phenotypes. Rows in the ``chenxz/RareBench`` schema: ``Phenotype`` (HPO ids) and
``RareDisease`` (OMIM / Orphanet / CCRD codes), one jsonl per subset (RAMEDIS, MME, HMS,
LIRICAL, PUMCH_ADM). Ids become names through the RareBench repository's
``phenotype_mapping.json`` and ``disease_mapping.json`` placed next to the data files (the hub
dataset holds ids only); rows already holding names are used as they are.

Protocol (RareBench's zero-shot phenotype setting): an expert system turn, the comma-joined
phenotype names, and a request for the 10 most likely diagnoses, one per line. A judge reads the
list and the gold diagnosis and answers the rank of the first matching diagnosis (or ``no``):
top-1 recall = rank 1, top-10 recall = rank 1-10. The wording here is ours (English), following
the published prompts' structure; see docs/judge.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..data.sources import load_json_file
from ..errors import ConfigError, SampleError
from ..types import Sample
from .base import Benchmark, RowContext, pick

SYSTEM = (
    "You are an expert in rare diseases. You will be given a patient's case; read it carefully "
    "and give a diverse and comprehensive differential diagnosis."
)
INSTRUCTION = (
    "List the 10 most likely diagnoses, most likely first, one diagnosis per line, covering as "
    "many distinct possibilities as you can (at least 10). The top 10 diagnoses are:"
)
JUDGE = (
    "You are given a ranked list of predicted diagnoses for a patient with a rare disease and "
    "the patient's gold-standard diagnosis. Find the first predicted diagnosis that names the "
    "same disease as the gold diagnosis (a synonym or an equivalent name counts; a broader "
    "category or a different disease does not). Output only its rank (a number from 1 to 10), "
    "or output no if none of the first 10 predictions matches. Do not output anything else.\n"
    "Predicted diagnoses:\n{prediction}\n"
    "Gold diagnosis: {gold}"
)
_ID = re.compile(r"^(HP|OMIM|ORPHA|ORPHANET|CCRD|MONDO):\s*\S+$", re.IGNORECASE)
MAPPINGS = ("phenotype_mapping.json", "disease_mapping.json")


def _mapping(ctx: RowContext, name: str) -> dict[str, str]:
    cache = ctx.raw.cache
    if name not in cache:
        path = Path(ctx.raw.root) / name if ctx.raw.root is not None else None
        try:
            cache[name] = load_json_file(path, "rarebench") if path and path.is_file() else {}
        except ConfigError as exc:
            raise SampleError("malformed_row", str(exc)) from None
    return cache[name]


def _names(values: Any, mapping: dict[str, str], what: str, file: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    out = []
    for v in values:
        v = str(v).strip()
        if v in mapping:
            out.append(str(mapping[v]))
        elif _ID.match(v):
            if mapping:
                continue  # RareBench drops ids missing from its mapping
            raise SampleError(
                "malformed_row", f"{what} id {v!r} needs {file} next to the data file"
            )
        elif v:
            out.append(v)
    return out


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    phenotypes = _names(
        pick(row, "Phenotype", "phenotype"), _mapping(ctx, MAPPINGS[0]), "phenotype", MAPPINGS[0]
    )
    diseases = _names(
        pick(row, "RareDisease", "rare_disease"), _mapping(ctx, MAPPINGS[1]), "disease", MAPPINGS[1]
    )
    if not phenotypes or not diseases:
        raise SampleError("malformed_row", f"{ctx.where}: no phenotype or no gold diagnosis")
    case = ",".join(phenotypes)
    user = f"Patient's phenotype: {case}\n{INSTRUCTION}"
    meta: dict[str, Any] = {
        "conversation": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
        "diagnoses": diseases,
    }
    if row.get("_file"):
        meta["subset"] = Path(str(row["_file"])).stem
    if row.get("Department"):
        meta["department"] = str(row["Department"])
    sid = row.get("id", row.get("_key", f"{meta.get('subset', 'case')}-{ctx.index}"))
    return Sample(
        id=str(sid),
        benchmark=ctx.bench.name,
        question=case,
        answer=",".join(diseases),
        answer_type="open",
        meta=meta,
    )


def last_turn(bench: Benchmark, sample: Sample, reasoning: bool) -> str:
    return str(sample.meta["conversation"][-1]["content"])


def judge_prompt(prediction: str, gold: str) -> str:
    """The diagnosis-matching judge prompt (``gold``: the gold names, comma-joined)."""
    return JUDGE.format(prediction=prediction.replace("\n\n\n", "").strip(), gold=gold)


BENCHMARK = Benchmark(
    name="rarebench",
    title="RareBench",
    task="diagnosis",
    to_sample=to_sample,
    hub=None,
    local_files=("test.jsonl", "*.jsonl"),
    prompt_builder=last_turn,
    judge="diagnosis",
    group_by=("subset",),
    max_new_tokens=1024,
    description="Rare-disease differential diagnosis from phenotypes (top-1 / top-10 recall)",
)
