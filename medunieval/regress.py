"""The CI regression gate: compare a candidate run with a baseline, benchmark by benchmark.

With per-sample records on both sides the test is **paired**: the two runs are matched on
sample id and an exact McNemar test is applied to the discordant pairs (baseline right and
candidate wrong, or the reverse). A benchmark regresses when the candidate is worse, the
difference is significant (``p < alpha``) and the drop exceeds ``tolerance`` points. With only a
summary as baseline, a **tolerance band** is used instead: the candidate regresses when its
score is below the lower end of the baseline's 95% Wilson interval minus ``tolerance``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .rundir import RunDir, read_json_file
from .stats import mcnemar_exact, wilson_interval


@dataclass
class Side:
    """One side of the comparison: per benchmark, a summary entry and (optionally) the
    per-sample correctness verdicts."""

    label: str
    summaries: dict[str, dict[str, Any]]
    verdicts: dict[str, dict[str, bool]] = field(default_factory=dict)


@dataclass
class Verdict:
    benchmark: str
    status: str  # ok | improved | regression | missing
    method: str  # paired-mcnemar | ci-band | -
    baseline: float | None
    candidate: float | None
    delta: float | None
    n: int
    p_value: float | None = None
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status in ("regression", "missing")


def _read_json(path: Path) -> dict[str, Any]:
    data = read_json_file(path, "summary")  # damaged -> one line, exit 2
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is damaged (a JSON {type(data).__name__}, not an object)")
    return data


def load_side(path: Path, profile: str, label: str, need_records: bool = False) -> Side:
    """A run directory (summaries + records) or a ``summary.json`` (run-level or one
    benchmark's)."""
    if path.is_dir():
        summary_path = path / "summary.json"
        if not summary_path.is_file():
            raise ConfigError(f"{label} {path}: not a run directory (no summary.json)")
        summaries = _read_json(summary_path).get("benchmarks") or {}
        rd = RunDir(path)
        verdicts = {
            name: {r.sample_id: bool(r.scores.get(profile, {}).get("correct")) for r in recs}
            for name in rd.benchmarks()
            if (recs := rd.read_records(name))
        }
        return Side(label, summaries, verdicts)
    if need_records:
        raise ConfigError(f"{label} must be a run directory (with per-sample records): {path}")
    if not path.is_file():
        raise ConfigError(f"{label} {path} does not exist")
    data = _read_json(path)
    if "benchmarks" in data:
        return Side(label, data["benchmarks"])
    if "benchmark" in data:
        return Side(label, {data["benchmark"]: data})
    raise ConfigError(f"{label} {path}: neither a run summary nor a benchmark summary")


def _score(summary: dict[str, Any], profile: str) -> tuple[float | None, int, int]:
    entry = (summary.get("profiles") or {}).get(profile) or {}
    return entry.get("score"), int(entry.get("correct") or 0), int(entry.get("n") or 0)


def compare(
    baseline: Side,
    candidate: Side,
    profile: str = "strict",
    alpha: float = 0.05,
    tolerance: float = 0.0,
) -> list[Verdict]:
    """One verdict per baseline benchmark (``tolerance`` in percentage points)."""
    out: list[Verdict] = []
    for name in sorted(baseline.summaries):
        base_score, base_correct, base_n = _score(baseline.summaries[name], profile)
        cand_score, cand_n = None, 0
        if name in candidate.summaries:
            cand_score, _, cand_n = _score(candidate.summaries[name], profile)
        if base_score is None or cand_score is None:
            why = (
                "benchmark absent from the candidate run"
                if name not in candidate.summaries
                else f"no {profile} score on one side"
            )
            out.append(Verdict(name, "missing", "-", base_score, cand_score, None, 0, detail=why))
            continue
        b_v, c_v = baseline.verdicts.get(name), candidate.verdicts.get(name)
        if b_v and c_v:
            out.append(_paired(name, b_v, c_v, alpha, tolerance))
            continue
        lo_hi = wilson_interval(base_correct, base_n) or (base_score, base_score)
        delta = cand_score - base_score
        floor = lo_hi[0] - tolerance / 100
        status = "regression" if cand_score < floor else "ok"
        if cand_score > lo_hi[1] + tolerance / 100:
            status = "improved"
        out.append(
            Verdict(
                name,
                status,
                "ci-band",
                base_score,
                cand_score,
                delta,
                cand_n,
                detail=f"baseline 95% CI [{lo_hi[0]:.3f}, {lo_hi[1]:.3f}]",
            )
        )
    return out


def _paired(
    name: str, base: dict[str, bool], cand: dict[str, bool], alpha: float, tolerance: float
) -> Verdict:
    ids = sorted(set(base) & set(cand))
    n = len(ids)
    if n == 0:
        return Verdict(
            name, "missing", "paired-mcnemar", None, None, None, 0, detail="no sample id in common"
        )
    b = sum(base[i] and not cand[i] for i in ids)  # lost by the candidate
    c = sum(cand[i] and not base[i] for i in ids)  # gained by the candidate
    base_score = sum(base[i] for i in ids) / n
    cand_score = sum(cand[i] for i in ids) / n
    delta = cand_score - base_score
    p = mcnemar_exact(b, c)
    status = "ok"
    if p < alpha and abs(delta) * 100 > tolerance:
        status = "regression" if delta < 0 else "improved"
    only = len(set(base) ^ set(cand))
    detail = f"{b} lost, {c} gained"
    if only:
        detail += f"; {only} sample(s) on one side only, not compared"
    return Verdict(name, status, "paired-mcnemar", base_score, cand_score, delta, n, p, detail)


def junit_xml(verdicts: list[Verdict], suite: str = "medunieval.regress") -> str:
    """JUnit XML: one testcase per benchmark, a ``failure`` element for each regression."""
    failures = sum(v.failed for v in verdicts)
    root = ET.Element(
        "testsuite",
        name=suite,
        tests=str(len(verdicts)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    for v in verdicts:
        case = ET.SubElement(root, "testcase", classname=suite, name=v.benchmark)
        text = (
            f"status={v.status} method={v.method} baseline={_fmt(v.baseline)} "
            f"candidate={_fmt(v.candidate)} delta={_fmt(v.delta)} n={v.n} "
            f"p={'-' if v.p_value is None else f'{v.p_value:.4g}'} {v.detail}"
        )
        if v.failed:
            ET.SubElement(case, "failure", message=f"{v.benchmark}: {v.status}").text = text
        else:
            ET.SubElement(case, "system-out").text = text
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"
