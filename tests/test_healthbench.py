"""HealthBench: the official formula, the whole conversation reaching the
model, rubric grading through a scripted judge on real rows, three separate benchmarks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, replay_cli, run_records, run_summary, write_predictions
from judge_helpers import rubric_rule

from medunieval.benchmarks import BENCHMARKS
from medunieval.engine import build_request
from medunieval.errors import ConfigError
from medunieval.scoring import healthbench as hb
from medunieval.types import GenParams

ROWS = [
    json.loads(line) for line in (FIXTURES / "healthbench_oss_eval.jsonl").read_text().splitlines()
]


def _samples(path: Path = FIXTURES / "healthbench_oss_eval.jsonl", name: str = "healthbench"):
    bench = BENCHMARKS.get(name)
    return bench, bench.samples(bench.load_raw(path))


def test_worked_example_of_prior_art():
    items = [{"points": 5, "criterion": "a"}, {"points": 3, "criterion": "b"}]
    items.append({"points": -4, "criterion": "c"})
    assert hb.rubric_score(items, [True, False, True]) == pytest.approx(0.125)
    # Example scores -0.5 and 0.2: mean -0.15, clipped to 0.0 (the clip is on the mean).
    final = hb.clipped_stats([{"overall_score": -0.5}, {"overall_score": 0.2}])
    assert final["overall_score"] == 0.0 and final["score"] == 0.0
    assert final["overall_score:n_samples"] == 2


def test_negative_points_are_not_clipped_per_example_and_tags_score_separately():
    items = [
        {"points": 4, "criterion": "good", "tags": ["axis:accuracy"]},
        {"points": -6, "criterion": "harmful", "tags": ["axis:accuracy"]},
        {"points": -2, "criterion": "verbose", "tags": ["axis:communication_quality"]},
    ]
    metrics = hb.example_metrics(items, [False, True, True], ["theme:hedging"])
    assert metrics["overall_score"] == pytest.approx(-2.0)  # (-6 - 2) / 4
    assert metrics["theme:hedging"] == metrics["overall_score"]
    assert metrics["axis:accuracy"] == pytest.approx(-1.5)
    assert "axis:communication_quality" not in metrics  # no positive item: undefined
    assert hb.rubric_score(items[1:], [True, True]) is None


def test_bootstrap_std_is_seeded_and_matches_the_official_global_rng_stream():
    per = [{"overall_score": v, "theme:a": v} for v in (0.1, 0.9, -0.3, 0.5, 0.7)]
    first, second = hb.clipped_stats(per), hb.clipped_stats(per)
    assert first == second
    # The official code: np.random.seed(42), then np.random.choice per metric, in order.
    np.random.seed(42)
    expected = {}
    for name in ("overall_score", "theme:a", "score"):
        values = [p["overall_score"] for p in per]
        means = [np.clip(np.mean(np.random.choice(values, len(values))), 0, 1) for _ in range(1000)]
        expected[name] = float(np.std(means))
    for name, std in expected.items():
        assert first[f"{name}:bootstrap_std"] == pytest.approx(std, abs=1e-12)
    assert (
        hb.clipped_stats(per, seed=7)["overall_score:bootstrap_std"]
        != first["overall_score:bootstrap_std"]
    )


def test_real_rows_map_and_the_whole_conversation_reaches_the_model():
    bench, samples = _samples()
    assert len(samples) == 30 and all(s.error is None for s in samples)
    multi = samples[3]
    assert [t["role"] for t in ROWS[3]["prompt"]] == [
        m.role for m in build_request(bench, multi, GenParams(), False).messages
    ]
    req = build_request(bench, multi, GenParams(), False)
    assert [m.content[0].text for m in req.messages] == [t["content"] for t in ROWS[3]["prompt"]]
    single = build_request(bench, samples[0], GenParams(), False)
    assert len(single.messages) == 1 and single.prompt_text() == ROWS[0]["prompt"][0]["content"]
    assert samples[0].meta["theme"] == "context_seeking"


def test_grader_prompt_uses_the_template_conversation_and_rubric_item(tmp_path, scripted_judge):
    judge_cls, preset = scripted_judge
    judge_cls.script = staticmethod(rubric_rule)
    preds = write_predictions(
        tmp_path / "p.jsonl", [("healthbench", r["prompt_id"], "RESPONSE TEXT") for r in ROWS]
    )
    res = replay_cli(
        tmp_path,
        preds,
        ["healthbench"],
        "--judge",
        preset,
        "--limit",
        "4",
        "--data",
        f"healthbench={FIXTURES / 'healthbench_oss_eval.jsonl'}",
    )
    assert res.exit_code == 0, res.output
    grader = [r.prompt_text() for r in judge_cls.prompts]
    assert len(grader) == sum(len(r["rubrics"]) for r in ROWS[:4])
    convo = "\n\n".join(f"{t['role']}: {t['content']}" for t in ROWS[3]["prompt"])
    item = ROWS[3]["rubrics"][0]
    assert any(
        f"# Conversation\n{convo}\n\nassistant: RESPONSE TEXT\n\n# Rubric item\n"
        f"[{item['points']}] {item['criterion']}\n\n# Instructions" in g
        for g in grader
    )


def test_end_to_end_on_real_rows_with_scripted_grader(tmp_path, scripted_judge):
    judge_cls, preset = scripted_judge
    judge_cls.script = staticmethod(rubric_rule)  # every item met, negative ones too
    preds = write_predictions(
        tmp_path / "p.jsonl", [("healthbench", r["prompt_id"], "ok") for r in ROWS]
    )
    data = f"healthbench={FIXTURES / 'healthbench_oss_eval.jsonl'}"
    res = replay_cli(tmp_path, preds, ["healthbench"], "--judge", preset, "--data", data)
    assert res.exit_code == 0, res.output
    # Golden: with every item met, an example scores (all points) / (positive points).
    per = []
    for r in ROWS:
        pos = sum(x["points"] for x in r["rubrics"] if x["points"] > 0)
        per.append(sum(x["points"] for x in r["rubrics"]) / pos)
    summary = run_summary(tmp_path, "healthbench")
    strict = summary["profiles"]["strict"]
    assert strict["score"] == pytest.approx(float(np.clip(np.mean(per), 0, 1)))
    assert strict["n"] == 30 and summary["judge"]["errors"] == 0
    assert summary["profiles"]["compat"]["score"] == strict["score"]
    assert set(strict["subscores"]["theme"]) >= {"hedging", "global_health", "communication"}
    assert "accuracy" in strict["subscores"]["axis"]
    recs = run_records(tmp_path, "healthbench")
    assert recs[0]["scores"]["strict"]["overall_score"] == pytest.approx(per[0])
    assert len(recs[0]["judge"]["items"]) == len(ROWS[0]["rubrics"])
    assert recs[0]["judge"]["items"][0]["criteria_met"] is True

    judge_cls.calls = 0
    res = replay_cli(
        tmp_path, preds, ["healthbench"], "--judge", preset, "--data", data, run_id="r2"
    )
    assert res.exit_code == 0 and judge_cls.calls == 0


def test_failed_generation_stays_in_its_theme_and_axis_breakdowns(tmp_path, scripted_judge):
    judge_cls, preset = scripted_judge
    judge_cls.script = staticmethod(rubric_rule)
    # No prediction for the first row: a failed generation (score 0), which must stay in its
    # theme and axes (it vanished from both before: theme n = 30 - 1 for its theme).
    preds = write_predictions(
        tmp_path / "p.jsonl", [("healthbench", r["prompt_id"], "ok") for r in ROWS[1:]]
    )
    data = f"healthbench={FIXTURES / 'healthbench_oss_eval.jsonl'}"
    replay_cli(tmp_path, preds, ["healthbench"], "--judge", preset, "--data", data)
    summary = run_summary(tmp_path, "healthbench")
    strict = summary["profiles"]["strict"]
    assert summary["errors"] == 1 and strict["n"] == 30
    themes = [t for r in ROWS for t in r["example_tags"] if t.startswith("theme:")]
    for theme, entry in strict["subscores"]["theme"].items():
        assert entry["n"] == themes.count(f"theme:{theme}"), theme
    assert sum(e["n"] for e in strict["subscores"]["theme"].values()) == len(themes)
    failed_theme = next(t for t in ROWS[0]["example_tags"] if t.startswith("theme:"))
    axes = {t for x in ROWS[0]["rubrics"] if x["points"] > 0 for t in x.get("tags", [])}
    for axis in (a for a in axes if a.startswith("axis:")):
        n_axis = sum(
            any(axis in x.get("tags", []) and x["points"] > 0 for x in r["rubrics"]) for r in ROWS
        )
        assert strict["subscores"]["axis"][axis[5:]]["n"] == n_axis, axis
    assert strict["subscores"]["theme"][failed_theme[6:]]["score"] < 1.0


def test_ungraded_run_says_how_to_grade(tmp_path):
    preds = write_predictions(
        tmp_path / "p.jsonl", [("healthbench", r["prompt_id"], "ok") for r in ROWS[:3]]
    )
    data = f"healthbench={FIXTURES / 'healthbench_oss_eval.jsonl'}"
    res = replay_cli(tmp_path, preds, ["healthbench"], "--data", data, "--limit", "3")
    assert res.exit_code == 3, res.output  # a score that needs a judge is incomplete
    assert "judged scores incomplete: 3 of 3" in res.output
    summary = run_summary(tmp_path, "healthbench")
    assert summary["profiles"]["strict"]["score"] is None and summary["ungraded"] == 3
    assert "--judge" in summary["note"]


def test_three_separate_benchmarks_and_offline_error(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDUNIEVAL_DATA_CACHE", str(tmp_path / "dl"))
    urls = {
        n: BENCHMARKS.get(n).url
        for n in ("healthbench", "healthbench_hard", "healthbench_consensus")
    }
    assert len(set(urls.values())) == 3
    assert urls["healthbench_hard"].endswith("hard_2025-05-08-21-00-10.jsonl")
    with pytest.raises(ConfigError, match="--data healthbench_hard=PATH"):
        BENCHMARKS.get("healthbench_hard").load_raw(None)


def test_malformed_rows_are_sample_errors(tmp_path):
    bad = dict(ROWS[0], prompt=[{"role": "assistant", "content": "hi"}])
    norubric = dict(ROWS[1], rubrics=[])
    path = tmp_path / "hb.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (bad, norubric, ROWS[2])))
    _, samples = _samples(path)
    assert [s.error.kind if s.error else None for s in samples] == [
        "malformed_row",
        "malformed_row",
        None,
    ]


def test_cli_without_data_and_network_exits_2_naming_data(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDUNIEVAL_DATA_CACHE", str(tmp_path / "dl"))
    preds = write_predictions(tmp_path / "p.jsonl", [("healthbench", "x", "ok")])
    res = replay_cli(tmp_path, preds, ["healthbench"])
    assert res.exit_code == 2
    assert "--data healthbench=PATH" in res.output
