"""Report-generation metrics (BLEU-1..4, ROUGE-1/2/L, METEOR, CIDEr), computed on the records.

Two profiles (docs/scoring.md, "Report generation"):

- ``compat`` reproduces MedUniEval's ``cal_report_metrics.py`` (PRIOR_ART §3.12): ``Findings:``
  / ``Impression:`` removed from the response only (case-sensitive); a response that is then
  exactly ``""`` is skipped, yet every sample stays in the denominator; MedUniEval's tokenisation
  (lower-case, ``.`` -> `` .``, split on single spaces); NLTK sentence BLEU without smoothing;
  ``rouge`` 1.0.1 on the lower-cased response cut to 2,048 characters; NLTK METEOR. CIDEr is
  MedEvalKit's addition (original CIDEr over the non-skipped samples).
- ``strict`` strips the labels from response and reference alike, drops ``<think>`` blocks,
  tokenises words and punctuation (no newline glued into tokens), scores ROUGE with
  ``rouge-score``, reports CIDEr-D, and averages every metric over all samples, with empty
  reports and failed samples counting 0; ``empty`` says how many were empty.

Sentence-level metrics are per-record values (``record.scores[profile]``); CIDEr needs document
frequencies over the whole benchmark, so it is computed in ``summarize``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..types import Record
from . import compat

SENTENCE_METRICS: tuple[str, ...] = (
    "bleu1",
    "bleu2",
    "bleu3",
    "bleu4",
    "rouge1",
    "rouge2",
    "rougeL",
    "meteor",
)
HEADLINE = "rougeL"  # the summary's ``score`` (RaTEScore, the paper's metric, needs weights)
MUE_MAX_HYP_CHARS = 2048

_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_LABEL = re.compile(r"\b(?:findings|impressions?)\s*:", re.I)
_WORDS = re.compile(r"\w+|[^\w\s]")
_PUNCT = re.compile(r"^[^\w]+$")


# ------------------------------------------------------------------------ tokenisation
def mue_tokens(text: str) -> list[str]:
    """MedUniEval ``prep_reports``: lower-case, ``.`` -> `` .``, split on single spaces, drop
    empty tokens (newlines stay inside tokens)."""
    return [t for t in str(text).lower().replace(".", " .").split(" ") if t]


def strict_tokens(text: str) -> list[str]:
    """Lower-cased words and punctuation marks as separate tokens."""
    return _WORDS.findall(text.lower())


def cider_tokens(text: str) -> list[str]:
    """Tokens for CIDEr: lower-cased words, punctuation dropped (as the COCO caption tools)."""
    return [t for t in _WORDS.findall(text.lower()) if not _PUNCT.match(t)]


def mue_strip_labels(response: str) -> str:
    """MedUniEval: every ``Findings:`` and ``Impression:`` removed (case-sensitive), no strip."""
    return response.replace("Findings:", "").replace("Impression:", "")


def strict_report(text: str) -> str:
    """The report body: ``<think>`` blocks dropped, section labels removed (any case), spaces
    collapsed."""
    return " ".join(_LABEL.sub(" ", _THINK.sub(" ", text)).split())


# ----------------------------------------------------------------------------- metrics
def bleu(ref: Sequence[str], hyp: Sequence[str]) -> dict[str, float]:
    """NLTK sentence BLEU-1..4 (uniform weights, no smoothing: 0 when an order has no match)."""
    return {f"bleu{n}": compat._bleu(list(ref), list(hyp), n) for n in (1, 2, 3, 4)}


def meteor(ref: Sequence[str], hyp: Sequence[str]) -> float:
    """NLTK ``single_meteor_score`` (alpha .9, beta 3, gamma .5) with the harness's WordNet."""
    from nltk.translate.meteor_score import single_meteor_score

    from .wordnet_data import wordnet

    if not ref or not hyp:
        return 0.0
    return float(single_meteor_score(list(ref), list(hyp), wordnet=wordnet()))


def rouge_strict(hyp: str, ref: str) -> dict[str, float]:
    """``rouge-score`` ROUGE-1/2/L F-measures (its tokeniser: lower-case alphanumerics)."""
    from rouge_score import rouge_scorer

    s = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"]).score(ref, hyp)
    return {k: float(v.fmeasure) for k, v in s.items()}


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def cider(
    hyps: Sequence[Sequence[str]],
    refs: Sequence[Sequence[Sequence[str]]],
    variant: str = "cider-d",
    n: int = 4,
    sigma: float = 6.0,
) -> list[float]:
    """Per-sample CIDEr (Vedantam et al., 2015) for token lists ``hyps`` against ``refs`` (a
    list of references per sample). TF-IDF n-gram vectors, document frequencies over all
    samples' references, cosine similarity averaged over references and over n = 1..``n``.

    ``cider-d``: hypothesis counts clipped by the reference's and a Gaussian length penalty
    ``exp(-(len_h - len_r)^2 / (2 sigma^2))``. ``cider``: the original form (no clipping, no
    penalty). Both carry the factor 10 of the original CIDEr code (and of pycocoevalcap and
    ``cidereval``), so a verbatim copy scores 10. A sample whose hypothesis is empty scores 0.
    """
    if variant not in ("cider", "cider-d"):
        raise ValueError(f"unknown CIDEr variant {variant!r}")
    if len(hyps) != len(refs):
        raise ValueError("hyps and refs differ in length")
    df: list[Counter[tuple[str, ...]]] = [Counter() for _ in range(n)]
    for sample_refs in refs:
        for k in range(n):
            df[k].update(set().union(*(_ngrams(r, k + 1).keys() for r in sample_refs)))
    log_docs = math.log(float(len(refs))) if refs else 0.0

    def vec(tokens: Sequence[str], k: int) -> tuple[dict[tuple[str, ...], float], float]:
        v = {
            g: c * (log_docs - math.log(max(1.0, df[k][g])))
            for g, c in _ngrams(tokens, k + 1).items()
        }
        return v, math.sqrt(sum(x * x for x in v.values()))

    scores: list[float] = []
    for hyp, sample_refs in zip(hyps, refs, strict=True):
        if not hyp or not sample_refs:
            scores.append(0.0)
            continue
        total = 0.0
        for ref in sample_refs:
            per_n = 0.0
            for k in range(n):
                vh, nh = vec(hyp, k)
                vr, nr = vec(ref, k)
                if nh == 0.0 or nr == 0.0:
                    continue
                if variant == "cider-d":
                    dot = sum(min(x, vr[g]) * vr[g] for g, x in vh.items() if g in vr)
                else:
                    dot = sum(x * vr[g] for g, x in vh.items() if g in vr)
                sim = dot / (nh * nr)
                if variant == "cider-d":
                    sim *= math.exp(-((len(hyp) - len(ref)) ** 2) / (2 * sigma**2))
                per_n += sim
            total += per_n / n
        score = total / len(sample_refs)
        scores.append(score * 10.0)
    return scores


# -------------------------------------------------------------------------- per sample
def compat_sample(reference: str, response: str) -> dict[str, Any]:
    """MedUniEval's per-sample report metrics; ``skipped`` (no metric values) when the
    label-stripped response is exactly empty."""
    hyp = mue_strip_labels(response)
    if hyp == "":
        return {"correct": None, "parsed": False, "extracted": None, "empty": True}
    hyp_tok, ref_tok = mue_tokens(hyp), mue_tokens(reference)
    out: dict[str, Any] = {"correct": None, "parsed": True, "extracted": None, "empty": False}
    out.update(bleu(ref_tok, hyp_tok))
    r = compat._rouge(hyp.lower()[:MUE_MAX_HYP_CHARS], reference.lower())
    out.update(rouge1=r["rouge1"], rouge2=r["rouge2"], rougeL=r["rougel"])
    out["meteor"] = meteor(ref_tok, hyp_tok)
    return out


def strict_sample(reference: str, response: str) -> dict[str, Any]:
    """Strict per-sample report metrics: labels stripped on both sides; an empty report scores 0
    on every metric (and says so)."""
    hyp, ref = strict_report(response), strict_report(reference)
    hyp_tok, ref_tok = strict_tokens(hyp), strict_tokens(ref)
    if not hyp_tok or not ref_tok:
        out: dict[str, Any] = {"correct": None, "parsed": bool(hyp_tok), "extracted": None}
        out["empty"] = not hyp_tok
        out.update({m: 0.0 for m in SENTENCE_METRICS})
        return out
    out = {"correct": None, "parsed": True, "extracted": None, "empty": False}
    out.update(bleu(ref_tok, hyp_tok))
    out.update(rouge_strict(hyp, ref))
    out["meteor"] = meteor(ref_tok, hyp_tok)
    return out


def score(profile: str, reference: str, response: str) -> dict[str, Any]:
    """The per-sample verdict of ``profile`` (``compat`` or ``strict``)."""
    return (
        compat_sample(reference, response)
        if profile == "compat"
        else strict_sample(reference, response)
    )


# ------------------------------------------------------------------------- aggregation
def response_text(rec: Record) -> str:
    """The record's response text (``""`` when there is none)."""
    return rec.response.text if rec.response is not None and rec.response.text else ""


def summarize(records: list[Record], profile: str) -> dict[str, Any]:
    """One profile's summary entry for a report benchmark (see the module docstring)."""
    n = len(records)
    failed = sum(r.failed for r in records)
    answered = n - failed
    verdicts = [r.scores[profile] for r in records]
    empty = sum(
        bool(v.get("empty")) for r, v in zip(records, verdicts, strict=True) if not r.failed
    )
    metrics: dict[str, dict[str, Any]] = {}
    for m in SENTENCE_METRICS:
        total = sum(float(v.get(m, 0.0)) for v in verdicts)
        metrics[m] = {"mean": total / n if n else None, "n": n}
    if profile == "compat":  # MedEvalKit: CIDEr over the samples it did not skip
        kept = [
            r for r, v in zip(records, verdicts, strict=True) if not r.failed and not v.get("empty")
        ]
        values = cider(
            [cider_tokens(mue_strip_labels(response_text(r))) for r in kept],
            [[cider_tokens(r.answer)] for r in kept],
            variant="cider",
        )
        metrics["cider"] = {"mean": sum(values) / len(values) if values else None, "n": len(kept)}
    else:  # CIDEr-D over every sample; failed and empty ones score 0
        values = cider(
            [[] if r.failed else cider_tokens(strict_report(response_text(r))) for r in records],
            [[cider_tokens(strict_report(r.answer))] for r in records],
            variant="cider-d",
        )
        metrics["cider_d"] = {"mean": sum(values) / n if n else None, "n": n}
    return {
        "metric": HEADLINE,
        "score": metrics[HEADLINE]["mean"],
        "n": n,
        "empty": empty,
        "parse_rate": (answered - empty) / answered if answered else None,
        "unparsed": empty,
        "subscores": {},
        "metrics": metrics,
    }
