"""`medunieval regress`: paired McNemar verdicts, the CI band for summary baselines, JUnit XML
and exit codes, on real replay runs that differ on known samples."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import gold_response, load_samples, replay_cli, write_predictions, wrong_response
from typer.testing import CliRunner

from medunieval.cli import app
from medunieval.stats import mcnemar_exact, wilson_interval

runner = CliRunner()


def test_statistics_golden_values() -> None:
    lo, hi = wilson_interval(8, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)
    assert wilson_interval(0, 0) is None
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert mcnemar_exact(6, 0) == 0.03125  # 2 * 0.5**6
    assert mcnemar_exact(5, 1) == pytest.approx(0.21875)  # 2 * (1 + 6) / 64
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(3, 3) == 1.0


def _run(tmp: Path, data_root: Path, run_id: str, wrong_medqa: int, wrong_vqa: int = 0) -> Path:
    rows = []
    for bench, n_wrong in (("medqa", wrong_medqa), ("vqa_rad", wrong_vqa)):
        for i, s in enumerate(load_samples(bench, data_root)):
            rows.append((bench, s.id, wrong_response(s) if i < n_wrong else gold_response(s)))
    preds = write_predictions(tmp / f"{run_id}.jsonl", rows)
    res = replay_cli(tmp, preds, ["medqa", "vqa_rad"], data_dir=data_root, run_id=run_id)
    assert res.exit_code == 0, res.output
    return tmp / "runs" / run_id


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("regress")
    return {
        "base": _run(tmp, data_root, "base", 0),
        "small": _run(tmp, data_root, "small", 2),  # 2 lost: p = 0.5, not significant
        "big": _run(tmp, data_root, "big", 8),  # 8 lost: p = 0.0078, a regression
        "vqa_worse": _run(tmp, data_root, "vqa_worse", 0, wrong_vqa=10),
    }


def _regress(base: Path, cand: Path, *extra: str):
    return runner.invoke(app, ["regress", "--baseline", str(base), "--candidate", str(cand),
                               *extra])  # fmt: skip


def test_regression_detected_with_junit(runs: dict[str, Path], tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    res = _regress(runs["base"], runs["big"], "--junit", str(junit))
    assert res.exit_code == 1, res.output
    assert "regression: medqa" in res.output
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuite" and root.get("tests") == "2" and root.get("failures") == "1"
    cases = {c.get("name"): c for c in root.iter("testcase")}
    failure = cases["medqa"].find("failure")
    assert failure is not None and "8 lost, 0 gained" in failure.text
    assert "p=0.007812" in failure.text and "method=paired-mcnemar" in failure.text
    assert cases["vqa_rad"].find("failure") is None


def test_small_drop_is_not_significant(runs: dict[str, Path], tmp_path: Path) -> None:
    junit = tmp_path / "j.xml"
    res = _regress(runs["base"], runs["small"], "--junit", str(junit))
    assert res.exit_code == 0, res.output
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "0"
    medqa = next(c for c in root.iter("testcase") if c.get("name") == "medqa")
    assert "status=ok" in medqa.find("system-out").text
    assert "2 lost, 0 gained" in medqa.find("system-out").text


def test_improvement_and_identical(runs: dict[str, Path]) -> None:
    res = _regress(runs["big"], runs["base"])  # the reverse: 8 gained
    assert res.exit_code == 0 and "improved" in res.output
    res = _regress(runs["base"], runs["base"])  # identical runs
    assert res.exit_code == 0 and "regression:" not in res.output
    res = _regress(runs["base"], runs["vqa_worse"])  # the other benchmark regresses
    assert res.exit_code == 1 and "regression: vqa_rad" in res.output


def test_tolerance_lets_a_significant_small_drop_pass(runs: dict[str, Path]) -> None:
    # 8 of 60 lost = -13.3 pp: fails at tolerance 10, passes at tolerance 15
    assert _regress(runs["base"], runs["big"], "--tolerance", "10").exit_code == 1
    assert _regress(runs["base"], runs["big"], "--tolerance", "15").exit_code == 0


def test_summary_baseline_uses_the_ci_band(runs: dict[str, Path]) -> None:
    res = _regress(runs["base"] / "summary.json", runs["big"])
    assert res.exit_code == 1 and "ci-band" in res.output
    bench_summary = runs["base"] / "vqa_rad" / "summary.json"  # one benchmark's summary
    res = _regress(bench_summary, runs["big"])
    assert res.exit_code == 0 and "ci-band" in res.output


def test_missing_benchmark_and_bad_inputs(runs: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    partial = tmp_path / "partial"
    shutil.copytree(runs["base"], partial)
    shutil.rmtree(partial / "medqa")
    summary = (partial / "summary.json").read_text().replace('"medqa":', '"medqa_gone":')
    (partial / "summary.json").write_text(summary)
    res = _regress(runs["base"], partial)
    assert res.exit_code == 1 and "missing" in res.output
    res = _regress(runs["base"], runs["base"] / "summary.json")  # candidate needs records
    assert res.exit_code == 2 and "must be a run directory" in res.output
    res = _regress(tmp_path / "nope", runs["base"])
    assert res.exit_code == 2
    res = _regress(runs["base"], runs["big"], "--profile", "lenient")
    assert res.exit_code == 2
