"""3D VQA scoring (M3D-VQA, 3D-RAD): MedUniEval's ``eval_3d`` and its fix.

Per sample, both profiles report LLaVA-Med token metrics on open questions (``exact_match`` --
really token precision --, ``f1``, ``precision``, ``recall``), ROUGE-1/2/L F,
BLEU-1..4 (NLTK, smoothing method 1) and METEOR. ``correct`` is the closed-question verdict; on
open questions it is a normalised exact match (MedUniEval has no open correctness; the open
metrics are the result).

- ``compat``: closed answers by the first-letter rule (``extract_choice_letter``: a response
  *starting with* a-d is that letter, so "Brain" reads as "b"); BLEU-3 weights (.33, .33, .33);
  any METEOR exception gives 0.
- ``strict``: the closed answer is an option letter found by ``extract.extract_choice`` (a
  letter standing as an option -- "C", "(C)", "Answer: C" -- or the unique option text, never
  the first letter of a word); BLEU-3 weights 1/3 each; METEOR errors are not hidden.

``native`` (per profile, fractions in [0, 1]): ``by_category`` as MedUniEval reports it, and an
``overall`` with both ``macro`` (unweighted mean of category means: MedUniEval's M3D overall)
and ``micro`` (over all samples). 3D-RAD's MedUniEval reports no overall, so its compat
``overall`` is None. Failed samples are kept: a wrong closed answer, open metrics 0.
"""

from __future__ import annotations

import warnings
from typing import Any

from .. import extract
from ..types import Record
from . import compat

OPEN_METRICS = (
    "exact_match",
    "f1",
    "precision",
    "recall",
    "rouge1",
    "rouge2",
    "rougel",
    "bleu1",
    "bleu2",
    "bleu3",
    "bleu4",
    "meteor",
)
_BLEU_WEIGHTS = {
    "compat": ((1, 0, 0, 0), (0.5, 0.5, 0, 0), (0.33, 0.33, 0.33, 0), (0.25, 0.25, 0.25, 0.25)),
    "strict": ((1, 0, 0, 0), (0.5, 0.5, 0, 0), (1 / 3, 1 / 3, 1 / 3, 0), (0.25,) * 4),
}


def _bleu(ref: list[str], hyp: list[str], profile: str) -> dict[str, float]:
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    smooth = SmoothingFunction().method1
    out: dict[str, float] = {}
    for n, weights in enumerate(_BLEU_WEIGHTS[profile], 1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                out[f"bleu{n}"] = float(
                    sentence_bleu([ref], hyp, weights=weights, smoothing_function=smooth)
                )
        except (ZeroDivisionError, ValueError, KeyError):
            out[f"bleu{n}"] = 0.0
    return out


def _meteor(ref: list[str], hyp: list[str], profile: str) -> float:
    from nltk.translate.meteor_score import meteor_score

    from .wordnet_data import wordnet

    if not hyp or not ref:
        return 0.0
    if profile == "strict":
        return float(meteor_score([ref], hyp, wordnet=wordnet()))
    try:
        return float(meteor_score([ref], hyp, wordnet=wordnet()))
    except Exception:  # MedUniEval: any METEOR failure silently scores 0
        return 0.0


def open_metrics(answer: str, response: str, profile: str) -> dict[str, float]:
    """The open-question metrics of one sample (``g``/``p`` lower-cased and stripped)."""
    g, p = str(answer).strip().lower(), str(response).strip().lower()
    f1, precision, recall = compat.calculate_f1score(p, g)
    out = {
        "exact_match": compat.calculate_exactmatch(p, g),
        "f1": f1,
        "precision": precision,
        "recall": recall,
    }
    out.update(compat._rouge(p, g) if p else {"rouge1": 0.0, "rouge2": 0.0, "rougel": 0.0})
    out.update(_bleu(g.split(), p.split(), profile))
    out["meteor"] = _meteor(g.split(), p.split(), profile)
    return out


def gold_letter(answer: str, choices: dict[str, str] | None) -> str:
    """The gold option letter of a closed sample (a letter, ``"C. text"`` or the option text)."""
    text = answer.strip()
    if choices and text.upper() in choices:
        return text.upper()
    found = extract.extract_choice(text, choices or {})
    return found or text


def score(rec: Record, profile: str) -> dict[str, Any]:
    """One non-failed record's verdict under ``profile``."""
    text = rec.response.text if rec.response and rec.response.text is not None else ""
    if rec.answer_type == "closed":
        if profile == "compat":
            got, want = compat.extract_choice_letter(text), compat.extract_choice_letter(rec.answer)
            return {
                "correct": got == want,
                "parsed": True,
                "extracted": got,
                "rule": "first_letter",
            }
        letter = extract.extract_choice(text, rec.choices or {})
        return {
            "correct": letter is not None and letter == gold_letter(rec.answer, rec.choices),
            "parsed": letter is not None,
            "extracted": letter,
        }
    verdict: dict[str, Any] = open_metrics(rec.answer, text, profile)
    if profile == "compat":
        em = compat.normalize_word(text.strip().lower()) == compat.normalize_word(
            rec.answer.strip().lower()
        )
        verdict.update(correct=em and bool(text.strip()), parsed=True, extracted=text.strip())
    else:
        span = extract.answer_span(text)
        em = bool(span) and extract.normalize(span) == extract.normalize(rec.answer)
        verdict.update(correct=em, parsed=bool(span), extracted=span)
    return verdict


#: ``Benchmark.compat_scorer`` -> (sample ``meta`` key of the category, MedUniEval overall?)
SCORERS: dict[str, tuple[str, bool]] = {"m3d": ("question_type", True), "rad3d": ("task", False)}


def native(scorer: str, records: list[Record], profile: str) -> dict[str, Any]:
    """The ``native`` block of one profile (strict always reports an overall)."""
    key, overall = SCORERS[scorer]
    return aggregate(records, profile, key, overall or profile == "strict")


# ------------------------------------------------------------------------------- aggregation
def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def aggregate(
    records: list[Record], profile: str, category_key: str, overall: bool
) -> dict[str, Any]:
    """MedUniEval-style ``by_category`` plus ``overall`` (micro and macro, labelled)."""
    cats: dict[str, dict[str, list[Any]]] = {}
    for rec in records:
        name = rec.meta.get(category_key)
        if name in (None, ""):
            name = "Unknown"
        bucket = cats.setdefault(str(name), {"closed": [], "open": []})
        verdict = rec.scores.get(profile, {})
        if rec.answer_type == "closed":
            bucket["closed"].append(bool(verdict.get("correct")))
        else:
            bucket["open"].append({m: float(verdict.get(m) or 0.0) for m in OPEN_METRICS})
    by_category: dict[str, Any] = {}
    for name in sorted(cats):
        closed, opened = cats[name]["closed"], cats[name]["open"]
        by_category[name] = {
            "open": {m: _mean([o[m] for o in opened]) for m in OPEN_METRICS} if opened else {},
            "closed": {
                "accuracy": _mean([float(c) for c in closed]),
                "total": len(closed),
                "correct": sum(closed),
            },
            "open_count": len(opened),
            "closed_count": len(closed),
            "total_samples": len(closed) + len(opened),
        }
    out: dict[str, Any] = {"category_key": category_key, "by_category": by_category}
    if not overall:
        out["overall"] = None
        out["note"] = "MedUniEval reports no overall for this benchmark (per category only)"
        return out
    all_closed = [c for v in cats.values() for c in v["closed"]]
    all_open = [o for v in cats.values() for o in v["open"]]
    with_open = [v for v in by_category.values() if v["open_count"]]
    with_closed = [v for v in by_category.values() if v["closed_count"]]
    out["overall"] = {
        "macro": {
            "description": "unweighted mean of the category means (MedUniEval's M3D overall)",
            "closed_accuracy": _mean([v["closed"]["accuracy"] for v in with_closed]),
            "open": {m: _mean([v["open"][m] for v in with_open]) for m in OPEN_METRICS},
        },
        "micro": {
            "description": "mean over all samples",
            "closed_accuracy": _mean([float(c) for c in all_closed]),
            "open": {m: _mean([o[m] for o in all_open]) for m in OPEN_METRICS},
        },
        "closed_total": len(all_closed),
        "closed_correct": sum(all_closed),
        "open_total": len(all_open),
    }
    return out
