"""``medunieval judge calibrate``: measure a judge's agreement with human verdicts.

A labelled set is judged with the same templates, parsing, cache and retries as a run's judge
stage (:meth:`judge.Judge.ask`); the judge's verdicts are compared with the human ones:
accuracy (95% Wilson interval), Cohen's kappa (95% percentile bootstrap over items, 2,000
resamples, seed 0) and the confusion counts ("positive" = the judge says correct / criterion
met). The result is stored as ``<results>/calibration/<key>.json``, ``key`` derived from the
judge backend's fingerprint and the SHA-256 of the judge template, and every summary with
judged scores carries the calibration found for its judge and template, or "uncalibrated"
(:func:`attach_calibration`).

Label files (JSONL, one item per line; the format is detected from the first line):

- HealthBench's physician meta-evaluation (``2025-05-07-06-14-12_oss_meta_eval.jsonl``):
  ``prompt`` (conversation turns), ``completion`` (the response graded), ``rubric`` (one rubric
  item), ``binary_labels`` (one verdict per physician), optional ``anonymized_physician_ids``,
  ``category``, ``prompt_id``, ``completion_id``. The grader prompt is built as the official
  meta-evaluation does (rubric text as is). Human verdict: the physicians' majority; ties are
  left out and counted. Also reported: agreement with every single physician label and the
  official ``pairwise_model_f1_balanced``.
- Open VQA: ``question``, ``gold``, ``response``, ``human`` (true = the response is correct),
  optional ``id`` and ``benchmark`` (applies that benchmark's judge-input preprocessing, e.g.
  VQA-RAD's lower-casing; without it the response is used as is).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .judge import TASKS, Judge, conversation_string, template
from .judge import template_sha256 as judge_template_sha256
from .stats import wilson_interval
from .types import Record, Response, canonical_json, sha256_hex

TEMPLATES = {"vqa": "vqa_judge.txt", "rubric": "healthbench_grader.txt"}
BOOTSTRAP_REPS = 2000
ENV_DIR = "MEDUNIEVAL_CALIBRATION_DIR"


@dataclass
class LabelItem:
    """One labelled judge input: the prompt the judge sees and the human verdict(s)."""

    id: str
    prompt: str
    human: bool
    labels: list[bool]  # every individual human label (physicians); [human] for VQA


def template_sha256(task: str) -> str | None:
    """SHA-256 of the judge template a task uses (None for tasks without a shipped one)."""
    return judge_template_sha256(task) if task in TEMPLATES else None


def calibration_key(fingerprint: str, template_hash: str) -> str:
    """The store key of a (judge fingerprint, template hash) pair."""
    return sha256_hex(canonical_json([fingerprint, template_hash]).encode())[:20]


def calibration_dir(results: Path) -> Path:
    """``$MEDUNIEVAL_CALIBRATION_DIR``, else ``<results>/calibration``."""
    env = os.environ.get(ENV_DIR)
    return Path(env) if env else Path(results) / "calibration"


# ------------------------------------------------------------------------------ label files
def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    raise ConfigError(f"{where}: expected true/false, got {value!r}")


def _rubric_item(row: dict[str, Any], where: str, lineno: int) -> LabelItem | None:
    """A meta-evaluation row; None when the physicians are split evenly (no majority)."""
    convo = row.get("prompt")
    if not isinstance(convo, list) or not all(isinstance(t, dict) for t in convo):
        raise ConfigError(f"{where}: 'prompt' must be a list of conversation turns")
    labels = row.get("binary_labels")
    if not isinstance(labels, list) or not labels:
        raise ConfigError(f"{where}: 'binary_labels' must be a non-empty list")
    labels = [_bool(x, where) for x in labels]
    if sum(labels) * 2 == len(labels):
        return None
    prompt = (
        template("healthbench_grader.txt")
        .replace("<<conversation>>", conversation_string(convo, str(row.get("completion", ""))))
        .replace("<<rubric_item>>", str(row.get("rubric", "")))
    )
    sid = f"{row.get('completion_id', 'item')}:{lineno}"
    return LabelItem(sid, prompt, sum(labels) * 2 > len(labels), labels)


def _vqa_item(row: dict[str, Any], where: str, lineno: int) -> LabelItem:
    from .benchmarks import BENCHMARKS
    from .judge import vqa_judge_input

    for key in ("question", "gold", "response", "human"):
        if key not in row:
            raise ConfigError(f"{where}: missing field {key!r} (question, gold, response, human)")
    human = _bool(row["human"], where)
    response, gold = str(row["response"]), str(row["gold"])
    if row.get("benchmark"):
        rec = Record(str(lineno), str(row["benchmark"]), gold, "open", None, None,
                     Response(text=response))  # fmt: skip
        response, gold = vqa_judge_input(BENCHMARKS.get(str(row["benchmark"])), rec)
    prompt = template("vqa_judge.txt").format(
        question=row["question"], answer=gold, response=response
    )
    return LabelItem(str(row.get("id", lineno)), prompt, human, [human])


def load_labels(path: Path) -> tuple[str, list[LabelItem], int]:
    """``(task, items, ties)`` from a label file; ConfigError naming the line when malformed."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read --labels {path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"--labels {path}: not UTF-8 (byte {exc.start})") from None
    task: str | None = None
    items: list[LabelItem] = []
    ties = 0
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path} line {lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not valid JSON ({exc.msg})") from None
        except RecursionError:
            raise ConfigError(f"{where}: nested too deeply") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{where}: expected a JSON object")
        kind = "rubric" if "binary_labels" in row else "vqa"
        if task is None:
            task = kind
        elif kind != task:
            raise ConfigError(f"{where}: mixes HealthBench meta-eval and VQA label items")
        item = (
            _rubric_item(row, where, lineno) if kind == "rubric" else _vqa_item(row, where, lineno)
        )
        if item is None:
            ties += 1
            continue
        items.append(item)
    if task is None or not items:
        raise ConfigError(f"--labels {path}: no labelled item")
    return task, items, ties


# ---------------------------------------------------------------------------------- metrics
def _kappa(tp: int, fp: int, fn: int, tn: int) -> float | None:
    n = tp + fp + fn + tn
    if n == 0:
        return None
    po = (tp + tn) / n
    pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n)
    return None if pe >= 1 else (po - pe) / (1 - pe)


def agreement(judge: list[bool], human: list[bool], seed: int = 0) -> dict[str, Any]:
    """Accuracy with a Wilson interval, Cohen's kappa with a bootstrap interval, confusion."""
    import numpy as np

    pairs = list(zip(judge, human, strict=True))
    n = len(pairs)
    tp, fp = pairs.count((True, True)), pairs.count((True, False))
    fn, tn = pairs.count((False, True)), pairs.count((False, False))
    out: dict[str, Any] = {
        "n": n,
        "accuracy": (tp + tn) / n if n else None,
        "accuracy_ci95": list(wilson_interval(tp + tn, n) or ()) or None,
        "kappa": _kappa(tp, fp, fn, tn),
        "kappa_ci95": None,
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
    }
    if n:
        # Resampling items with replacement = a multinomial draw over the four confusion cells.
        rng = np.random.default_rng(seed)
        cells = rng.multinomial(n, [tp / n, fp / n, fn / n, tn / n], size=BOOTSTRAP_REPS)
        btp, bfp, bfn, btn = cells.T
        po = (btp + btn) / n
        pe = ((btp + bfp) * (btp + bfn) + (bfn + btn) * (bfp + btn)) / (n * n)
        with np.errstate(divide="ignore", invalid="ignore"):
            kappas = np.where(pe < 1, (po - pe) / (1 - pe), np.nan)
        kappas = kappas[~np.isnan(kappas)]
        if len(kappas):
            lo, hi = np.quantile(kappas, [0.025, 0.975])
            out["kappa_ci95"] = [float(lo), float(hi)]
    return out


def pairwise(judge: list[bool], labels: list[list[bool]]) -> dict[str, Any]:
    """Agreement with every individual human label, and HealthBench's balanced F1: the mean
    over positive and negative of the F1 of agreement-given-judge-label (precision) and
    agreement-given-human-label (recall), over all (judge, physician label) pairs."""
    pairs = [(j, x) for j, xs in zip(judge, labels, strict=True) for x in xs]
    if not pairs:
        return {"pairs": 0}

    def rate(sel: list[bool]) -> float | None:
        return sum(sel) / len(sel) if sel else None

    f1 = {}
    for side in (True, False):
        prec = rate([j == x for j, x in pairs if j == side])
        rec = rate([j == x for j, x in pairs if x == side])
        if prec is None or rec is None:
            f1[side] = None
        else:
            f1[side] = 0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec)
    bal = None if None in f1.values() else (f1[True] + f1[False]) / 2  # type: ignore[operator]
    return {
        "pairs": len(pairs),
        "agreement": rate([j == x for j, x in pairs]),
        "f1_balanced": bal,
    }


# ------------------------------------------------------------------------------------- run
def calibrate(
    judge: Judge, labels_path: Path, results: Path, limit: int | None = None
) -> dict[str, Any]:
    """Judge every labelled item (the first ``limit`` usable ones), measure agreement, store and
    return the calibration."""
    task, items, ties = load_labels(labels_path)
    if limit is not None:
        items = items[:limit]
    outcomes = judge.ask("calibration", [it.prompt for it in items], TASKS[task],
                         [it.id for it in items])  # fmt: skip
    field_name = "correct" if task == "vqa" else "criteria_met"
    verdicts: list[bool] = []
    humans: list[bool] = []
    all_labels: list[list[bool]] = []
    errors: list[str] = []
    for it, oc in zip(items, outcomes, strict=True):
        if oc.error is not None or oc.parsed is None:
            errors.append(f"{it.id}: {oc.error}")
            continue
        verdicts.append(bool(oc.parsed[field_name]))
        humans.append(it.human)
        all_labels.append(it.labels)
    fp = judge.fingerprint()
    tsha = template_sha256(task)
    assert tsha is not None
    key = calibration_key(fp, tsha)
    metrics = agreement(verdicts, humans)
    if task == "rubric":
        metrics["physician_pairwise"] = pairwise(verdicts, all_labels)
    result = {
        "key": key,
        "task": task,
        "judge": judge.describe(),
        "fingerprint": fp,
        "template": TEMPLATES[task],
        "template_sha256": tsha,
        "labels": {
            "path": str(labels_path),
            "sha256": sha256_hex(Path(labels_path).read_bytes()),
            "format": "healthbench_meta_eval" if task == "rubric" else "vqa_jsonl",
            "items": len(items),
            "limit": limit,
            "ties_left_out": ties,
            "judge_errors": len(errors),
            "judge_error_example": errors[0] if errors else None,
        },
        "metrics": metrics,
        "intervals": "accuracy: Wilson 95%; kappa: percentile bootstrap 95% over items "
        f"({BOOTSTRAP_REPS} resamples, seed 0)",
        "created": time.time(),
    }
    from .rundir import atomic_write_json

    atomic_write_json(calibration_dir(results) / f"{key}.json", result)
    return result


# --------------------------------------------------------------------------- in summaries
def find_calibration(fingerprint: str, task: str, folder: Path) -> dict[str, Any] | None:
    """The stored calibration of a judge fingerprint on a task's template, if any."""
    tsha = template_sha256(task)
    if tsha is None:
        return None
    path = folder / f"{calibration_key(fingerprint, tsha)}.json"
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _entry(fp: str, task: str, folder: Path) -> dict[str, Any]:
    cal = find_calibration(fp, task, folder)
    if cal is None:
        return {"status": "uncalibrated", "fingerprint": fp}
    m = cal.get("metrics") or {}
    return {
        "status": "calibrated",
        "fingerprint": fp,
        "key": cal.get("key"),
        "n": m.get("n"),
        "accuracy": m.get("accuracy"),
        "accuracy_ci95": m.get("accuracy_ci95"),
        "kappa": m.get("kappa"),
        "kappa_ci95": m.get("kappa_ci95"),
        "labels": (cal.get("labels") or {}).get("path"),
    }


def attach_calibration(summary: dict[str, Any], records: list[Record], folder: Path) -> None:
    """Put ``judge.calibration`` in a summary with judged scores: the calibration of the judge
    (fingerprint) and template that judged, or status ``uncalibrated``."""
    block = summary.get("judge")
    if not block or not block.get("judged"):
        return
    task = block.get("task")
    fps = sorted(
        {
            str(r.judge["fingerprint"])
            for r in records
            if r.judge and r.judge.get("task") == task and r.judge.get("fingerprint")
        }
    )
    entries = [_entry(fp, str(task), folder) for fp in fps]
    if len(entries) == 1:
        block["calibration"] = entries[0]
    else:
        ok = entries and all(e["status"] == "calibrated" for e in entries)
        block["calibration"] = {"status": "calibrated" if ok else "uncalibrated", "judges": entries}


def describe(cal: dict[str, Any] | None) -> str:
    """One line for tables: ``calibrated: κ 0.62 [0.41, 0.80], accuracy 85.0% (n=40)`` or
    ``uncalibrated``."""
    if not cal or cal.get("status") != "calibrated":
        return "uncalibrated"
    if "judges" in cal:
        return "calibrated (" + "; ".join(describe(e) for e in cal["judges"]) + ")"
    k, ci = cal.get("kappa"), cal.get("kappa_ci95")
    kappa = "κ -" if k is None else f"κ {k:.2f}"
    if ci:
        kappa += f" [{ci[0]:.2f}, {ci[1]:.2f}]"
    acc = cal.get("accuracy")
    acc_text = "-" if acc is None else f"{100 * acc:.1f}%"
    return f"calibrated: {kappa}, accuracy {acc_text} (n={cal.get('n')})"
