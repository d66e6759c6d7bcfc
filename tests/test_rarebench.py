"""RareBench: RareBench-schema rows with id mappings, the diagnosis prompt, top-1 / top-10
recall with the judge deciding matches, and the rule-based fallback without a judge."""

from __future__ import annotations

import shutil

import pytest
from conftest import FIXTURES, replay_cli, run_records, run_summary, write_predictions

from medunieval.benchmarks import BENCHMARKS
from medunieval.engine import build_request
from medunieval.types import GenParams

DATA = FIXTURES / "rarebench"


def _samples(path=DATA):
    bench = BENCHMARKS.get("rarebench")
    return bench, bench.samples(bench.load_raw(path))


def test_rows_map_ids_to_names_and_prompt_is_system_plus_user():
    bench, samples = _samples()
    ok = [s for s in samples if s.error is None]
    assert [s.meta["subset"] for s in ok] == ["RAMEDIS", "RAMEDIS", "RAMEDIS"]
    assert samples[0].error.kind == "malformed_row"  # MME row: gold code not in the mapping
    first = next(s for s in ok if s.answer == "Phenylketonuria" and "Seizure" in s.question)
    assert first.question == "Seizure,Global developmental delay,Microcephaly"
    gaucher = next(s for s in ok if "Hepatomegaly" in s.question)
    assert gaucher.meta["diagnoses"] == ["Gaucher disease", "Gaucher disease type 1"]
    hyp = next(s for s in ok if s.question == "Hypotonia")  # unknown HPO id dropped (RareBench)
    assert hyp.answer == "Phenylketonuria"
    req = build_request(bench, first, GenParams(), False)
    assert [m.role for m in req.messages] == ["system", "user"]
    assert req.prompt_text() == (
        "Patient's phenotype: Seizure,Global developmental delay,Microcephaly\n"
        "List the 10 most likely diagnoses, most likely first, one diagnosis per line, covering "
        "as many distinct possibilities as you can (at least 10). The top 10 diagnoses are:"
    )


def test_ids_without_mapping_files_are_row_errors(tmp_path):
    shutil.copy(DATA / "RAMEDIS.jsonl", tmp_path / "test.jsonl")
    _, samples = _samples(tmp_path)
    assert all(s.error and "phenotype_mapping.json" in s.error.reason for s in samples)


def _rank_judge(prompt: str) -> str:
    """Rank of the first listed line that contains the gold's first word (a lenient matcher)."""
    listed = prompt.split("Predicted diagnoses:\n", 1)[1].split("\nGold diagnosis: ")[0]
    gold = prompt.rsplit("Gold diagnosis: ", 1)[1].split(",")[0].split()[0].lower()
    for i, line in enumerate(listed.splitlines()[:10], 1):
        if gold in line.lower():
            return str(i)
    return "No"


@pytest.fixture()
def preds(tmp_path):
    _, samples = _samples()
    answers = {
        "Seizure": "1. Phenylketonuria\n2. Rett syndrome",
        "Hepatomegaly": "1. Niemann-Pick disease\n2. Glycogen storage disease\n"
        "3. Gaucher's disease",
        "Hypotonia": "1. Spinal muscular atrophy\n2. Prader-Willi syndrome",
    }
    rows = [
        ("rarebench", s.id, next(v for k, v in answers.items() if s.question.startswith(k)))
        for s in samples
        if s.error is None
    ]
    return write_predictions(tmp_path / "p.jsonl", rows)


def test_top1_top10_with_judge(tmp_path, preds, scripted_judge):
    judge_cls, preset = scripted_judge
    judge_cls.script = staticmethod(_rank_judge)
    res = replay_cli(
        tmp_path, preds, ["rarebench"], "--judge", preset, "--data", f"rarebench={DATA}",
        "--max-error-rate", "0.5",  # the fixture's malformed row is 1 of 4
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    recs = {r["question"]: r for r in run_records(tmp_path, "rarebench")}
    assert recs["Hepatomegaly,Splenomegaly,Failure to thrive"]["judge"]["rank"] == 3
    summary = run_summary(tmp_path, "rarebench")
    strict = summary["profiles"]["strict"]
    # 4 samples (1 malformed): ranks 1, 3, none -> top-1 1/4, top-10 2/4.
    assert strict["metric"] == "top1_recall"
    assert strict["top1_recall"] == pytest.approx(0.25)
    assert strict["top10_recall"] == pytest.approx(0.5)
    assert strict["score"] == pytest.approx(0.25)
    assert summary["errors"] == 1 and summary["judge"]["judged"] == 3
    assert "Predicted diagnoses:\n1. Phenylketonuria" in judge_cls.prompts[0].prompt_text()


def test_without_judge_exact_name_match(tmp_path, preds):
    res = replay_cli(
        tmp_path, preds, ["rarebench"], "--data", f"rarebench={DATA}", "--max-error-rate", "0.5"
    )
    assert res.exit_code == 0, res.output
    strict = run_summary(tmp_path, "rarebench")["profiles"]["strict"]
    # "Gaucher's disease" is not the exact name "Gaucher disease": only the judge matches it.
    assert strict["top1_recall"] == pytest.approx(0.25)
    assert strict["top10_recall"] == pytest.approx(0.25)
    recs = run_records(tmp_path, "rarebench")
    assert {r["scores"]["strict"].get("scored_by") for r in recs if r["response"]} == {
        "exact_match"
    }
