"""HealthBench scoring, as the official simple-evals formula (PRIOR_ART §3.13).

Per example: achieved points (items whose ``criteria_met`` is true; negative items subtract) over
the total of positive points; not clipped per example. Per rubric tag the same formula over the
items carrying the tag (reported only when the tag has a positive item); every example tag gets
the example's overall score. Aggregate: for every metric, the mean clipped to [0, 1], its count,
and the standard deviation of 1,000 clipped bootstrap means drawn with a seeded NumPy
``RandomState`` (the same stream as the official code's global RNG after ``np.random.seed``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..types import Record
from .aggregate import error_examples

BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_SEED = 42  # MedUniEval seeds NumPy's global RNG with 42 per dataset


def rubric_score(rubrics: Sequence[dict[str, Any]], met: Sequence[bool]) -> float | None:
    """Achieved / total positive points; None when no item has positive points."""
    total = sum(float(r["points"]) for r in rubrics if float(r["points"]) > 0)
    if total == 0:
        return None
    achieved = sum(float(r["points"]) for r, m in zip(rubrics, met, strict=True) if m)
    return achieved / total


def example_metrics(
    rubrics: Sequence[dict[str, Any]], met: Sequence[bool], example_tags: Sequence[str]
) -> dict[str, float] | None:
    """The official per-example metrics dict: ``overall_score``, each example tag, each rubric
    tag with a defined score. None when the example has no positive points."""
    overall = rubric_score(rubrics, met)
    if overall is None:
        return None
    out: dict[str, float] = {"overall_score": overall}
    out.update({tag: overall for tag in example_tags})
    by_tag: dict[str, list[int]] = {}
    for i, item in enumerate(rubrics):
        for tag in item.get("tags") or []:
            by_tag.setdefault(tag, []).append(i)
    for tag, idx in by_tag.items():
        score = rubric_score([rubrics[i] for i in idx], [met[i] for i in idx])
        if score is not None:
            out[tag] = score
    return out


def record_verdict(rec: Record) -> dict[str, Any]:
    """One graded (non-failed) record's score dict, the same in both profiles."""
    rubrics = rec.meta.get("rubrics") or []
    judge = rec.judge if rec.judge and rec.judge.get("task") == "rubric" else None
    items = judge.get("items") if judge else None
    if items is None or len(items) != len(rubrics):
        return {"correct": None, "parsed": False, "extracted": None, "graded": False}
    if rec.judge and rec.judge.get("error"):
        return {
            "correct": None,
            "parsed": False,
            "extracted": None,
            "graded": False,
            "judge_error": True,
        }
    met = [bool(it.get("criteria_met")) for it in items]
    metrics = example_metrics(rubrics, met, rec.meta.get("example_tags") or [])
    return {
        "correct": None,
        "parsed": True,
        "extracted": None,
        "graded": True,
        "overall_score": None if metrics is None else metrics["overall_score"],
        "rubric_metrics": metrics,
    }


def failed_metrics(rec: Record) -> dict[str, float]:
    """A failed generation's metrics: graded as a response that meets no rubric item, so it
    scores 0 overall and stays in its example tags (themes) and rubric tags (axes), as every
    example does in the official code."""
    rubrics = rec.meta.get("rubrics") or []
    tags = rec.meta.get("example_tags") or []
    metrics = example_metrics(rubrics, [False] * len(rubrics), tags) if rubrics else None
    return metrics if metrics is not None else {"overall_score": 0.0, **dict.fromkeys(tags, 0.0)}


def _clipped_mean(values: Sequence[float]) -> float:
    import numpy as np

    return float(np.clip(np.mean(values), 0, 1))


def clipped_stats(
    per_example: Sequence[dict[str, float]], seed: int = BOOTSTRAP_SEED
) -> dict[str, Any]:
    """The official ``_aggregate_get_clipped_mean``: ``{name, name:n_samples,
    name:bootstrap_std}`` for every metric plus ``score`` (= overall_score), metrics in order of
    first appearance, bootstrap draws from one ``RandomState(seed)`` in that order."""
    import numpy as np

    rng = np.random.RandomState(seed)
    name2values: dict[str, list[float]] = {}
    for metrics in per_example:
        for name, value in metrics.items():
            name2values.setdefault(name, []).append(value)
        name2values.setdefault("score", []).append(metrics["overall_score"])
    final: dict[str, Any] = {}
    for name, values in name2values.items():
        final[name] = _clipped_mean(values)
        final[f"{name}:n_samples"] = len(values)
        # One (samples x n) draw is the official loop's 1,000 successive draws of n, row by row.
        draws = rng.choice(np.asarray(values, dtype=float), (BOOTSTRAP_SAMPLES, len(values)))
        means = np.clip(draws.mean(axis=1), 0, 1)
        final[f"{name}:bootstrap_std"] = float(np.std(means))
    return final


def _groups(final: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {
        name[len(prefix) :]: {
            "score": final[name],
            "n": final[f"{name}:n_samples"],
            "bootstrap_std": final[f"{name}:bootstrap_std"],
        }
        for name in sorted(final)
        if name.startswith(prefix) and ":" not in name[len(prefix) :]
    }


def summarize(bench: Any, records: list[Record]) -> dict[str, Any]:
    """A HealthBench benchmark summary. Failed generations count as score 0 (they stay in the
    denominator and in their theme and axis breakdowns, see ``failed_metrics``); ungraded
    records (no judge yet, or a judge error) are left out of the score and counted
    (``ungraded``, ``judge.errors``)."""
    n = len(records)
    kinds = Counter(k for k in (r.error_kind() for r in records) if k is not None)
    failed = sum(kinds.values())
    per_example: list[dict[str, float]] = []
    ungraded = 0
    for rec in records:
        if rec.failed:
            per_example.append(failed_metrics(rec))
            continue
        verdict = rec.scores.get("strict") or record_verdict(rec)
        if not verdict.get("graded"):
            ungraded += 1
        elif verdict.get("rubric_metrics") is not None:
            per_example.append(verdict["rubric_metrics"])
    answered = n - failed
    scorable = bool(per_example) and not (answered > 0 and answered == ungraded)
    final = clipped_stats(per_example) if scorable else {}
    entry: dict[str, Any] = {
        "metric": "healthbench_score",
        "score": final.get("overall_score"),
        "n": final.get("overall_score:n_samples", 0),
        "bootstrap_std": final.get("overall_score:bootstrap_std"),
        "parse_rate": (answered - ungraded) / answered if answered else None,
        "unparsed": ungraded,
        "subscores": {
            k: v
            for k, v in {"theme": _groups(final, "theme:"), "axis": _groups(final, "axis:")}.items()
            if v
        },
        "metrics": {},
        "final_metrics": final,
    }
    examples = error_examples(records, kinds)
    out: dict[str, Any] = {
        "benchmark": bench.name,
        "title": bench.title,
        "n": n,
        "errors": failed,
        "error_kinds": dict(kinds),
        "error_examples": examples,
        "ungraded": ungraded,
        "profiles": {"strict": entry, "compat": dict(entry)},
    }
    if ungraded and answered:
        out["note"] = (
            f"{ungraded} of {answered} responses are not graded: run with --judge PRESET "
            "(or `medunieval rescore RUN --judge PRESET`) to grade them"
        )
    return out
