"""``medunieval compare``: two replay runs that differ on known samples are reported on exactly
those samples (sorted by importance); runs with other data are refused; md/json/html output."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import load_samples, replay_cli, write_predictions, wrong_response
from typer.testing import CliRunner

from medunieval.cli import app
from medunieval.compare import Side, compare_bench, compare_runs, first_divergence
from medunieval.stats import paired_bootstrap_ci

runner = CliRunner()


def _two_runs(tmp: Path, data_root: Path) -> dict[str, str]:
    """Run A answers every medqa and pubmedqa sample right; run B differs on four known
    samples: a wrong letter (verdict flip), the same letter phrased otherwise (response only),
    a missing prediction (error) and, on pubmedqa, a wrong label (verdict flip)."""
    mq = load_samples("medqa", data_root)[:12]
    pq = load_samples("pubmedqa", data_root)[:12]
    rows_a = [("medqa", s.id, s.answer) for s in mq] + [("pubmedqa", s.id, s.answer) for s in pq]
    known = {
        "flip": mq[3].id,
        "phrased": mq[5].id,
        "missing": mq[8].id,
        "pq_flip": pq[2].id,
    }
    rows_b = []
    for bench, sid, text in rows_a:
        if sid == known["flip"] and bench == "medqa":
            text = wrong_response(mq[3])
        elif sid == known["phrased"] and bench == "medqa":
            text = f"The answer is {text}."
        elif sid == known["missing"] and bench == "medqa":
            continue
        elif sid == known["pq_flip"] and bench == "pubmedqa":
            text = wrong_response(pq[2])
        rows_b.append((bench, sid, text))
    for name, rows in (("a", rows_a), ("b", rows_b)):
        preds = write_predictions(tmp / f"{name}.jsonl", rows)
        res = replay_cli(tmp, preds, ["medqa", "pubmedqa"], "--limit", "12",
                         "--max-error-rate", "1",  # run b misses one prediction on purpose
                         data_dir=data_root, run_id=name)  # fmt: skip
        assert res.exit_code == 0, res.output
    return known


def test_report_finds_exactly_the_known_disagreements(tmp_path, data_root):
    known = _two_runs(tmp_path, data_root)
    runs = tmp_path / "runs"
    res = runner.invoke(app, ["compare", str(runs / "a"), str(runs / "b"), "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    benches = data["pairs"][0]["benchmarks"]
    mq = benches["medqa"]
    assert list(mq["disagreements"]) == [known["flip"], known["missing"], known["phrased"]]
    kinds = {sid: d["kind"] for sid, d in mq["disagreements"].items()}
    # the missing prediction is wrong in B: a verdict flip too, sorted with the flips
    assert kinds == {known["flip"]: "verdict_flip", known["missing"]: "verdict_flip",
                     known["phrased"]: "response"}  # fmt: skip
    assert mq["disagreements"][known["missing"]]["b"]["error"] == "missing_prediction"
    phrased = mq["disagreements"][known["phrased"]]
    assert phrased["divergence"] == {"unit": "char", "index": 0, "a": phrased["a"]["response"],
                                     "b": phrased["b"]["response"][:30]}  # fmt: skip
    assert mq["n"] == 12 and mq["score_a"] == 1.0 and mq["score_b"] == 10 / 12
    assert (mq["lost"], mq["gained"]) == (2, 0)
    assert mq["agreement"] == {"response": 9 / 12, "extracted": 10 / 12, "verdict": 10 / 12,
                               "response_stripped": 9 / 12, "finish_reason": 11 / 12,
                               "completion_tokens": None}  # fmt: skip
    assert mq["p_value"] == 0.5 and mq["significant"] is False  # exact McNemar, b=2, c=0
    lo, hi = mq["ci95"]
    assert lo < -2 / 12 < hi <= 0.0
    pq = benches["pubmedqa"]
    assert list(pq["disagreements"]) == [known["pq_flip"]]
    assert data["divergence_unit"] == "char"

    # Markdown: the table and the samples, verdict flips first
    res = runner.invoke(app, ["compare", str(runs / "a"), str(runs / "b")])
    assert res.exit_code == 0, res.output
    md = res.stdout
    assert "| medqa | a → b | 12 | 100.0 | 83.3 | -16.7 |" in md
    section = md[md.index("## medqa: a vs b — 3 disagreement(s)") :]
    order = [section.index(f"| {known[k]} |") for k in ("flip", "missing", "phrased")]
    assert order == sorted(order)
    assert "(the records hold no token ids)" in md

    # HTML: self-contained, written beside the first run's report
    res = runner.invoke(app, ["compare", str(runs / "a"), str(runs / "b"), "--format", "html"])
    assert res.exit_code == 0, res.output
    page = (runs / "a" / "compare-b.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script src" not in page and "http" not in page
    assert page.count("class='flip'") == 3  # two medqa flips, one pubmedqa flip
    assert f"data-id='{known['phrased']}'" in page and "<mark>" in page


def test_identical_runs_agree_fully(tmp_path, data_root):
    mq = load_samples("medqa", data_root)[:5]
    preds = write_predictions(tmp_path / "p.jsonl", [("medqa", s.id, s.answer) for s in mq])
    for rid, tokens in (("x", "64"), ("y", "7")):
        res = replay_cli(tmp_path, preds, ["medqa"], "--limit", "5", "--max-new-tokens", tokens,
                         data_dir=data_root, run_id=rid)  # fmt: skip
        assert res.exit_code == 0
    cmp = compare_runs([tmp_path / "runs/x", tmp_path / "runs/y"])
    setup = dict(cmp.setup)  # generation settings are not inputs: shown, not refused
    assert setup["config.max_new_tokens"] == [64, 7]
    assert [g["max_new_tokens"] for g in setup["benchmarks.medqa.generation"]] == [64, 7]
    bc = cmp.pairs[0].benchmarks[0]
    assert bc.disagreements == [] and bc.same_response == bc.same_verdict == 5
    assert bc.p_value == 1.0 and bc.ci == (0.0, 0.0)


def test_runs_with_other_data_are_refused_unless_allowed(tmp_path, data_root, fresh_data):
    mq = load_samples("medqa", data_root)[:4]
    preds = write_predictions(tmp_path / "p.jsonl", [("medqa", s.id, s.answer) for s in mq])
    res = replay_cli(tmp_path, preds, ["medqa"], "--limit", "4", data_dir=data_root, run_id="a")
    assert res.exit_code == 0
    path = fresh_data / "medqa" / "test.jsonl"
    lines = path.read_text().splitlines()
    row = json.loads(lines[1])
    row["question"] = row["question"] + " (edited)"
    lines[1] = json.dumps(row)
    path.write_text("\n".join(lines) + "\n")
    res = replay_cli(tmp_path, preds, ["medqa"], "--limit", "4", data_dir=fresh_data, run_id="b")
    assert res.exit_code == 0
    runs = tmp_path / "runs"
    res = runner.invoke(app, ["compare", str(runs / "a"), str(runs / "b")])
    assert res.exit_code == 2
    lines_out = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines_out) == 1 and "medqa: data differ" in res.output
    assert "--allow-different-inputs" in res.output and "Traceback" not in res.output
    res = runner.invoke(
        app, ["compare", str(runs / "a"), str(runs / "b"), "--allow-different-inputs"]
    )
    assert res.exit_code == 0, res.output
    assert "**inputs differ** (b): medqa: data differ" in res.stdout
    assert "1 sample(s) with another prompt" in res.stdout


def test_misuse_is_one_line_exit_2(tmp_path):
    res = runner.invoke(app, ["compare", str(tmp_path)])
    assert res.exit_code == 2 and "at least two" in res.output
    res = runner.invoke(app, ["compare", str(tmp_path), str(tmp_path / "nope")])
    assert res.exit_code == 2 and "not a run directory" in res.output
    for run, bench in (("a", "medqa"), ("b", "pubmedqa")):
        (tmp_path / run / bench).mkdir(parents=True)
        (tmp_path / run / bench / "records.jsonl").write_text('{"sample_id": "1"}\n')
    res = runner.invoke(app, ["compare", str(tmp_path / "a"), str(tmp_path / "b")])
    assert res.exit_code == 2 and "no benchmark in common" in res.output
    res = runner.invoke(app, ["compare", str(tmp_path / "a"), str(tmp_path / "a"), "--format", "x"])
    assert res.exit_code == 2 and "--format must be one of md, json, html" in res.output


def test_first_divergence_prefers_token_ids():
    a = Side("the cat sat", None, True, True, None, token_ids=[1, 2, 3])
    b = Side("the cat sit", None, True, True, None, token_ids=[1, 2, 4])
    assert first_divergence(a, b) == {"unit": "token", "index": 2, "a": [3], "b": [4]}
    a.token_ids = b.token_ids = None
    assert first_divergence(a, b)["index"] == 9
    assert first_divergence(a, Side(None, None, False, False, "x")) is None


def test_paired_bootstrap_interval():
    assert paired_bootstrap_ci(0, 0, 10) == (0.0, 0.0)
    lo, hi = paired_bootstrap_ci(0, 30, 100)
    assert 0.2 < lo < 0.3 < hi < 0.4
    assert paired_bootstrap_ci(0, 30, 100) == (lo, hi)  # seeded
    assert paired_bootstrap_ci(1, 1, 0) is None


def test_benchmarks_without_per_sample_verdicts_get_summary_scores():
    """Report / rubric benchmarks: no right/wrong per sample, so no paired test; the summary
    scores are shown and the responses still compared."""

    def rec(sid: str, text: str) -> dict:
        verdict = {"correct": None, "parsed": True, "extracted": None, "rouge_l": 0.5}
        return {"sample_id": sid, "response": {"text": text, "finish_reason": "stop"},
                "scores": {"strict": verdict, "compat": dict(verdict)}}  # fmt: skip

    ra = {"1": rec("1", "no acute findings"), "2": rec("2", "small effusion")}
    rb = {"1": rec("1", "no acute findings"), "2": rec("2", "large effusion")}
    bc = compare_bench("iu_xray", ra, rb, summary_scores=(0.31, 0.29))
    assert (bc.score_a, bc.score_b, bc.p_value, bc.ci, bc.significant) == (0.31, 0.29, None,
                                                                           None, None)  # fmt: skip
    assert bc.note and bc.to_dict()["agreement"]["verdict"] is None
    assert [(d.id, d.kind) for d in bc.disagreements] == [("2", "response")]
    assert bc.disagreements[0].divergence["index"] == 0
