"""``medunieval judge calibrate``: a scripted judge against label files with known agreement
(kappa checked against hand-computed values), the HealthBench meta-eval format, the
calibration shown with judged scores (CLI, summary.json, leaderboard, HTML report), and end to
end through the openai backend on the local fake server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import load_samples, replay_cli, run_summary, write_predictions
from fake_chat_server import FakeChatServer
from judge_helpers import write_jsonl
from typer.testing import CliRunner

from medunieval.calibration import (
    agreement,
    calibration_key,
    load_labels,
    pairwise,
    template_sha256,
)
from medunieval.cli import app
from medunieval.errors import ConfigError

runner = CliRunner()


def _vqa_labels(path: Path) -> Path:
    """10 items on which the scripted judge (correct iff response == gold) and the human give
    TP=4, FP=1, FN=2, TN=3: accuracy 0.7; p_e = (5*6 + 5*4)/100 = 0.5, kappa = 0.2/0.5 = 0.4."""
    rows = []
    plan = [(True, True)] * 4 + [(True, False)] + [(False, True)] * 2 + [(False, False)] * 3
    for i, (same, human) in enumerate(plan):
        gold = f"answer {i}"
        rows.append({"id": f"q{i}", "question": f"What is shown in image {i}?", "gold": gold,
                     "response": gold if same else f"synonym {i}", "human": human})  # fmt: skip
    return write_jsonl(path, rows)


def test_kappa_matches_hand_computed_value():
    judge = [True] * 4 + [True] + [False] * 2 + [False] * 3
    human = [True] * 4 + [False] + [True] * 2 + [False] * 3
    m = agreement(judge, human)
    assert m["confusion"] == {"tp": 4, "fp": 1, "fn": 2, "tn": 3}
    assert m["accuracy"] == pytest.approx(0.7) and m["kappa"] == pytest.approx(0.4)
    lo, hi = m["kappa_ci95"]
    assert -1 <= lo < 0.4 < hi <= 1
    assert agreement(judge, human) == m  # seeded bootstrap
    assert agreement([True, True], [True, True])["kappa"] is None  # p_e = 1: undefined


def test_calibrate_vqa_labels_with_a_scripted_judge(tmp_path, scripted_judge):
    judge_cls, preset = scripted_judge
    labels = _vqa_labels(tmp_path / "labels.jsonl")
    res = runner.invoke(app, ["judge", "calibrate", "--judge", str(preset), "--labels",
                              str(labels), "--results-dir", str(tmp_path / "results")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "0.400" in res.stdout and "4/1/2/3" in res.stdout and "70.0" in res.stdout
    key = calibration_key("scripted-judge:v1", template_sha256("vqa"))
    stored = json.loads((tmp_path / "results/calibration" / f"{key}.json").read_text())
    assert stored["metrics"]["kappa"] == pytest.approx(0.4)
    assert stored["metrics"]["confusion"] == {"tp": 4, "fp": 1, "fn": 2, "tn": 3}
    assert stored["task"] == "vqa" and stored["labels"]["items"] == 10
    assert stored["judge"]["preset"] == "scripted-judge"
    assert stored["template_sha256"] == template_sha256("vqa")
    assert judge_cls.calls == 10
    # the judge saw MedUniEval's VQA judge prompt with the item's fields
    prompt = judge_cls.prompts[0].prompt_text()
    assert "The standard answer: answer 0\n" in prompt and "The user's answer: answer 0\n" in prompt
    # a second calibration is answered from the response store
    res = runner.invoke(app, ["judge", "calibrate", "--judge", str(preset), "--labels",
                              str(labels), "--results-dir", str(tmp_path / "results")])  # fmt: skip
    assert res.exit_code == 0 and judge_cls.calls == 10
    # --limit: the first 5 items (TP=4, FP=1), from the store; kappa = (0.8 - 0.8) / 0.2 = 0
    store = tmp_path / "results/cache/responses.sqlite"
    res = runner.invoke(app, ["judge", "calibrate", "--judge", str(preset), "--labels",
                              str(labels), "--results-dir", str(tmp_path / "lim"), "--limit", "5",
                              "--cache", str(store)])  # fmt: skip
    assert res.exit_code == 0, res.output
    stored = json.loads((tmp_path / "lim/calibration" / f"{key}.json").read_text())
    assert stored["labels"]["items"] == 5 and stored["labels"]["limit"] == 5
    assert stored["metrics"]["confusion"] == {"tp": 4, "fp": 1, "fn": 0, "tn": 0}
    assert stored["metrics"]["kappa"] == pytest.approx(0.0) and judge_cls.calls == 10


def _meta_rows() -> list[dict]:
    """HealthBench meta-eval rows; the scripted grader says met iff the rubric says MET."""
    convo = [{"role": "user", "content": "I have a headache, what should I do?"}]
    spec = [("MET a", [True, True, False]), ("no b", [False, False]), ("no c", [True, False]),
            ("MET d", [False, False, True]), ("no e", [True, True]), ("no f", [False])]  # fmt: skip
    return [
        {"prompt": convo, "completion": f"response {i}", "rubric": rubric, "binary_labels": labels,
         "anonymized_physician_ids": [f"p{k}" for k in range(len(labels))],
         "category": "cluster:emergency_referrals", "prompt_id": "p1", "completion_id": f"c{i}"}
        for i, (rubric, labels) in enumerate(spec)
    ]  # fmt: skip


def test_calibrate_healthbench_meta_eval_format(tmp_path, scripted_judge):
    judge_cls, preset = scripted_judge
    judge_cls.script = staticmethod(
        lambda p: json.dumps({"explanation": "x", "criteria_met": "MET" in p.split("Rubric")[-1]})
    )
    labels = write_jsonl(tmp_path / "meta.jsonl", _meta_rows())
    task, items, ties = load_labels(labels)
    assert task == "rubric" and len(items) == 5 and ties == 1  # "no c" is split 1-1
    res = runner.invoke(app, ["judge", "calibrate", "--judge", str(preset), "--labels",
                              str(labels), "--results-dir", str(tmp_path)])  # fmt: skip
    assert res.exit_code == 0, res.output
    key = calibration_key("scripted-judge:v1", template_sha256("rubric"))
    m = json.loads((tmp_path / "calibration" / f"{key}.json").read_text())["metrics"]
    # majority labels T F F T F vs judge T F T F F: TP=1 FP=1 FN=1 TN=2;
    # p_o = 0.6, p_e = (2*2 + 3*3)/25 = 0.52, kappa = 0.08/0.48 = 1/6
    assert m["confusion"] == {"tp": 1, "fp": 1, "fn": 1, "tn": 2}
    assert m["kappa"] == pytest.approx(1 / 6)
    # every physician label: 6 of 11 pairs agree; precision/recall 0.5/0.6 (pos), 0.6/0.5 (neg)
    assert m["physician_pairwise"]["agreement"] == pytest.approx(6 / 11)
    assert m["physician_pairwise"]["f1_balanced"] == pytest.approx(6 / 11)
    assert "tied item(s)" in res.output
    prompt = judge_cls.prompts[0].prompt_text()
    assert "user: I have a headache, what should I do?\n\nassistant: response 0" in prompt
    assert "MET a" in prompt  # the rubric text as is, as the official meta-evaluation does


def test_pairwise_without_negative_judgements():
    assert pairwise([True], [[True, False]])["f1_balanced"] is None


def test_bad_label_files_are_one_line_errors(tmp_path, scripted_judge):
    _, preset = scripted_judge
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "gold": "a", "response": "a"}\n')
    with pytest.raises(ConfigError, match="line 1: missing field 'human'"):
        load_labels(bad)
    vqa = '{"question": "q", "gold": "a", "response": "a", "human": true}'
    meta = '{"prompt": [], "completion": "", "rubric": "", "binary_labels": [true]}'
    bad.write_text(f"{vqa}\n{meta}\n")
    with pytest.raises(ConfigError, match="line 2: mixes"):
        load_labels(bad)
    res = runner.invoke(app, ["judge", "calibrate", "--judge", str(preset), "--labels",
                              str(tmp_path / "none.jsonl")])  # fmt: skip
    assert res.exit_code == 2 and "does not exist" in res.output


def test_judged_summaries_show_calibration_or_uncalibrated(tmp_path, data_root, scripted_judge):
    _, preset = scripted_judge
    samples = load_samples("vqa_rad", data_root)
    preds = write_predictions(tmp_path / "p.jsonl", [("vqa_rad", s.id, s.answer) for s in samples])
    res = replay_cli(tmp_path, preds, ["vqa_rad"], "--judge", preset, data_dir=data_root)
    assert res.exit_code == 0, res.output
    cal = run_summary(tmp_path, "vqa_rad")["judge"]["calibration"]
    assert cal == {"status": "uncalibrated", "fingerprint": "scripted-judge:v1"}
    assert "· uncalibrated" in res.output
    runs = tmp_path / "runs"
    res = runner.invoke(app, ["leaderboard", "--table", "1", "--runs", str(runs / "r1")])
    assert res.exit_code == 0 and "°" in res.stdout and "° judged by a judge with no" in res.stdout

    # calibrate (results folder = the runs' parent), then rescore: the calibration is found
    labels = _vqa_labels(tmp_path / "labels.jsonl")
    res = runner.invoke(app, ["judge", "calibrate", "--judge", str(preset), "--labels",
                              str(labels), "--results-dir", str(tmp_path)])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["rescore", str(runs / "r1")])
    assert res.exit_code == 0, res.output
    assert "calibrated: κ 0.40" in res.output
    cal = run_summary(tmp_path, "vqa_rad")["judge"]["calibration"]
    assert cal["status"] == "calibrated" and cal["kappa"] == pytest.approx(0.4) and cal["n"] == 10
    whole = json.loads((runs / "r1" / "summary.json").read_text())
    assert whole["benchmarks"]["vqa_rad"]["judge"]["calibration"]["status"] == "calibrated"
    res = runner.invoke(app, ["leaderboard", "--table", "1", "--runs", str(runs / "r1")])
    assert "ᵏ" in res.stdout and "°" not in res.stdout
    res = runner.invoke(app, ["report", str(runs / "r1")])
    page = (runs / "r1" / "report.html").read_text()
    assert "<ul id='judge-calibration'><li>vqa_rad: judge scripted-judge" in page
    assert "calibrated: κ 0.40" in page


def test_calibrate_end_to_end_through_the_openai_backend(tmp_path, monkeypatch):
    monkeypatch.setenv("MUE_TEST_KEY", "sk-test-calibration")
    labels = _vqa_labels(tmp_path / "labels.jsonl")
    with FakeChatServer(answer="<think>same meaning</think>\n<judge>0</judge>") as server:
        server.rules["image 9?"] = ["500"]  # one judge call fails: counted, left out
        preset = tmp_path / "judge.yaml"
        preset.write_text(json.dumps({"name": "fake-judge", "model": "fake-judge",
                                      "backend": "openai", "options": {
                                          "base_url": server.base_url, "max_retries": 0,
                                          "api_key_env": "MUE_TEST_KEY"}}))  # fmt: skip
        res = runner.invoke(app, ["judge", "calibrate", "--judge", str(preset), "--labels",
                                  str(labels), "--results-dir", str(tmp_path)])  # fmt: skip
        assert res.exit_code == 0, res.output
        assert len(server.log) == 10
        assert all(e["body"]["temperature"] == 0 for e in server.log)
    assert "1 judge error(s)" in res.output and "sk-test-calibration" not in res.output
    [path] = (tmp_path / "calibration").glob("*.json")
    stored = json.loads(path.read_text())
    assert stored["fingerprint"].startswith("openai:fake-judge:")
    assert path.stem == calibration_key(stored["fingerprint"], template_sha256("vqa"))
    # the judge says "correct" to all 9 answered items; humans: 6 correct, 3 not (q9 dropped)
    m = stored["metrics"]
    assert m["confusion"] == {"tp": 6, "fp": 3, "fn": 0, "tn": 0}
    assert m["kappa"] == pytest.approx(0.0)
    assert stored["labels"]["judge_errors"] == 1
    assert "sk-test-calibration" not in path.read_text()
