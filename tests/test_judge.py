"""The LLM judge: templates byte for byte, VQA judging end to end (replay model + scripted
judge), cache reuse, bounded retries -> counted judge errors, rescore with stored verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES, load_samples, replay_cli, run_records, run_summary, write_predictions
from typer.testing import CliRunner

from medunieval.cli import app
from medunieval.judge import parse_diagnosis, parse_rubric, parse_vqa, template


def _block(heading: str) -> str:
    text = (FIXTURES / "protocol_prompts.md").read_text("utf-8")
    section = text[text.index(heading) :]
    start = section.index("~~~") + 3
    return section[start : section.index("~~~", start)]


def test_templates_are_byte_exact():
    vqa = template("vqa_judge.txt")
    assert vqa == _block("## VQA correctness judge")
    assert vqa.startswith("\nYour task is to determine") and vqa.endswith("<judge>0</judge>\n    ")
    # The grader is simple-evals' GRADER_TEMPLATE, which is the block with .strip() applied.
    grader = template("healthbench_grader.txt")
    assert grader == _block("## HealthBench rubric grader template").strip()
    assert grader.count("<<conversation>>") == 1 and grader.count("<<rubric_item>>") == 1


def test_vqa_prompt_renders_single_braces(data_root):
    rendered = template("vqa_judge.txt").format(question="Q?", answer="lung", response="the lung")
    assert "<think>{your concise think step}</think>\n<judge>{0/1}</judge>" in rendered
    assert "The question is: Q?\n\nThe standard answer: lung\n\nThe user's answer: the lung\n" in (
        rendered
    )


def test_parsers():
    assert parse_vqa("<think>x</think><judge>0</judge>") == {"correct": True}
    assert parse_vqa("<judge> 1 </judge>") == {"correct": False}
    assert parse_vqa("0") == {"correct": True}  # MedUniEval reads the whole reply without tags
    assert parse_vqa("<judge>0</judge><judge>1</judge>") is None
    assert parse_vqa("I think it is correct") is None
    assert parse_rubric('```json\n{"explanation": "e", "criteria_met": false}\n```') == {
        "criteria_met": False,
        "explanation": "e",
    }
    assert parse_rubric('{"criteria_met": "yes"}') is None
    assert parse_rubric("not json") is None
    assert parse_diagnosis("3") == {"rank": 3} and parse_diagnosis("No.") == {"rank": 0}
    assert parse_diagnosis("Rank: 1") == {"rank": 1}
    assert parse_diagnosis("11") is None and parse_diagnosis("maybe the second") is None


def _vqa_preds(tmp: Path, data_root: Path) -> tuple[Path, list]:
    samples = load_samples("vqa_rad", data_root)
    rows = []
    for i, s in enumerate(samples):
        text = s.answer if i % 2 == 0 else "something else entirely"
        rows.append(("vqa_rad", s.id, text))
    return write_predictions(tmp / "preds.jsonl", rows), samples


def test_vqa_judge_end_to_end_cache_and_rescore(tmp_path, data_root, scripted_judge):
    judge_cls, preset = scripted_judge
    preds, samples = _vqa_preds(tmp_path, data_root)
    res = replay_cli(tmp_path, preds, ["vqa_rad"], "--judge", preset, data_dir=data_root)
    assert res.exit_code == 0, res.output
    n_open = sum(s.answer_type == "open" for s in samples)
    assert judge_cls.calls == n_open  # VQA-RAD: MedUniEval judges open questions only
    assert all(r.benchmark == "judge:vqa_rad" for r in judge_cls.prompts)
    recs = run_records(tmp_path, "vqa_rad")
    opened = [r for r in recs if r["answer_type"] == "open"]
    assert all(r["judge"]["raw"].startswith("<think>") for r in opened)
    assert all(r["judge"] is None for r in recs if r["answer_type"] == "closed")
    for r in opened:
        expected = r["response"]["text"].lower().strip() == r["answer"].lower().strip()
        assert r["judge"]["correct"] is expected
        assert r["scores"]["strict"]["correct"] is expected
        assert r["scores"]["strict"]["scored_by"] == "judge"
        assert r["scores"]["compat"]["correct"] is expected
    summary = run_summary(tmp_path, "vqa_rad")
    assert summary["judge"]["judged"] == n_open and summary["judge"]["errors"] == 0
    assert f"judged {n_open}, judge errors 0" in res.output
    assert summary["judge"]["open_policy"]["strict"] == "judge"
    manifest = json.loads((tmp_path / "runs" / "r1" / "manifest.json").read_text())
    assert manifest["judge"]["preset"] == "scripted-judge"
    assert manifest["judge"]["fingerprint"] == "scripted-judge:v1"
    assert manifest["judge"]["generation"]["temperature"] == 0.0

    # A new run directory on the same cache: the judge is not called again.
    judge_cls.calls = 0
    res = replay_cli(
        tmp_path, preds, ["vqa_rad"], "--judge", preset, data_dir=data_root, run_id="r2"
    )
    assert res.exit_code == 0, res.output
    assert judge_cls.calls == 0
    assert run_summary(tmp_path, "vqa_rad", "r2")["profiles"] == summary["profiles"]

    # Rescore without a judge keeps the stored verdicts.
    res = CliRunner().invoke(app, ["rescore", str(tmp_path / "runs" / "r1")])
    assert res.exit_code == 0, res.output
    assert run_summary(tmp_path, "vqa_rad")["profiles"] == summary["profiles"]
    assert judge_cls.calls == 0


def test_slake_compat_judges_closed_questions_too(tmp_path, data_root, scripted_judge):
    judge_cls, preset = scripted_judge
    samples = load_samples("slake", data_root)
    preds = write_predictions(tmp_path / "p.jsonl", [("slake", s.id, s.answer) for s in samples])
    res = replay_cli(tmp_path, preds, ["slake"], "--judge", preset, data_dir=data_root)
    assert res.exit_code == 0, res.output
    recs = run_records(tmp_path, "slake")  # SLAKE: MedUniEval judges every question
    assert all(r["judge"]["correct"] is True for r in recs)
    assert judge_cls.calls <= len(samples)  # identical judge prompts are asked once
    summary = run_summary(tmp_path, "slake")
    assert summary["profiles"]["compat"]["score"] == 1.0
    assert summary["profiles"]["strict"]["score"] == 1.0


def test_unparseable_judge_output_is_retried_then_a_counted_error(
    tmp_path, data_root, scripted_judge
):
    judge_cls, preset = scripted_judge
    judge_cls.script = staticmethod(lambda prompt: "I believe the answer is fine.")
    preds, samples = _vqa_preds(tmp_path, data_root)
    res = replay_cli(tmp_path, preds, ["vqa_rad"], "--judge", preset, data_dir=data_root)
    assert res.exit_code == 3, res.output  # judged scores incomplete
    assert "judged scores incomplete" in res.output
    n_open = sum(s.answer_type == "open" for s in samples)
    assert judge_cls.calls == 3 * n_open  # one attempt + two retries each
    retry = [r for r in judge_cls.prompts if len(r.messages) == 3]
    assert len(retry) == n_open and retry[0].messages[1].role == "assistant"
    assert "could not be parsed" in retry[0].prompt_text()
    recs = run_records(tmp_path, "vqa_rad")
    for r in recs:
        if r["answer_type"] == "open":
            assert r["judge"]["error"].startswith("1 of 1 judge item(s) failed")
            assert r["judge"]["items"][0]["attempts"] == 3
            assert r["scores"]["strict"]["judge_error"] is True
            assert r["scores"]["strict"]["parsed"] is False
            assert r["scores"]["compat"]["judge_error"] is True
    summary = run_summary(tmp_path, "vqa_rad")
    assert summary["judge"]["errors"] == n_open and summary["judge"]["judged"] == 0
    assert summary["profiles"]["strict"]["unparsed"] >= n_open

    # Re-running retries the judge errors; the same replies come from the cache.
    judge_cls.calls = 0
    res = replay_cli(tmp_path, preds, ["vqa_rad"], "--judge", preset, data_dir=data_root)
    assert res.exit_code == 3 and judge_cls.calls == 0


def test_failed_judge_calls_are_errors_and_not_cached(tmp_path, data_root, scripted_judge):
    judge_cls, preset = scripted_judge
    from medunieval.types import Response

    original = judge_cls.generate

    def failing(self, requests):
        for req in requests:
            type(self).calls += 1
            yield req, Response(text=None, error="api_error: HTTP 500")

    judge_cls.generate = failing
    try:
        preds, samples = _vqa_preds(tmp_path, data_root)
        res = replay_cli(tmp_path, preds, ["vqa_rad"], "--judge", preset, data_dir=data_root)
        assert res.exit_code == 3, res.output  # judged scores incomplete
        n_open = sum(s.answer_type == "open" for s in samples)
        assert judge_cls.calls == n_open  # a failed call is not an unparseable reply
        judge = run_summary(tmp_path, "vqa_rad")["judge"]
        assert judge["errors"] == judge["unavailable"] == n_open
    finally:
        judge_cls.generate = original
    judge_cls.calls = 0
    res = replay_cli(tmp_path, preds, ["vqa_rad"], "--judge", preset, data_dir=data_root)
    assert res.exit_code == 0 and judge_cls.calls == n_open  # nothing was cached: asked again
    assert run_summary(tmp_path, "vqa_rad")["judge"]["errors"] == 0


def test_rescore_with_judge_fills_missing_verdicts(tmp_path, data_root, scripted_judge):
    judge_cls, preset = scripted_judge
    preds, samples = _vqa_preds(tmp_path, data_root)
    res = replay_cli(tmp_path, preds, ["vqa_rad"], data_dir=data_root)
    assert res.exit_code == 0, res.output
    before = run_summary(tmp_path, "vqa_rad")
    assert before["judge"]["unjudged"] == sum(s.answer_type == "open" for s in samples)
    assert before["judge"]["open_policy"]["strict"].startswith("exact_match")
    res = CliRunner().invoke(
        app, ["rescore", str(tmp_path / "runs" / "r1"), "--judge", str(preset)]
    )
    assert res.exit_code == 0, res.output
    after = run_summary(tmp_path, "vqa_rad")
    assert after["judge"]["unjudged"] == 0 and judge_cls.calls == before["judge"]["unjudged"]


def test_unknown_judge_preset_is_a_config_error(tmp_path, data_root):
    preds, _ = _vqa_preds(tmp_path, data_root)
    res = replay_cli(tmp_path, preds, ["vqa_rad"], "--judge", "no-such-judge", data_dir=data_root)
    assert res.exit_code == 2
    assert "no-such-judge" in res.output


def test_judge_through_the_openai_backend_against_a_local_server(tmp_path, data_root, monkeypatch):
    """Any backend can judge: here the OpenAI-compatible one, on a local fake server."""
    pytest.importorskip("openai")
    from fake_chat_server import FakeChatServer

    monkeypatch.setenv("MUE_JUDGE_KEY", "sk-judge-test")
    preds, samples = _vqa_preds(tmp_path, data_root)
    n_open = sum(s.answer_type == "open" for s in samples)
    with FakeChatServer(answer="<think>same meaning</think>\n<judge>0</judge>") as server:
        preset = tmp_path / "api-judge.yaml"
        preset.write_text(json.dumps({
            "name": "api-judge", "model": "judge-model", "backend": "openai",
            "options": {"base_url": server.base_url, "api_key_env": "MUE_JUDGE_KEY",
                        "concurrency": 4, "max_retries": 1, "timeout_s": 5},
        }))  # fmt: skip
        res = replay_cli(tmp_path, preds, ["vqa_rad"], "--judge", preset, data_dir=data_root)
        assert res.exit_code == 0, res.output
        assert len(server.log) == n_open
        assert {e["body"]["temperature"] for e in server.log} == {0.0}
        assert all("The standard answer:" in e["prompt"] for e in server.log)
        summary = run_summary(tmp_path, "vqa_rad")
        assert summary["judge"]["judged"] == n_open
        opened = summary["profiles"]["strict"]["subscores"]["answer_type"]["open"]
        assert opened["score"] == 1.0  # the server's judge says "correct" to everything
        res = replay_cli(
            tmp_path, preds, ["vqa_rad"], "--judge", preset, data_dir=data_root, run_id="r2"
        )
        assert res.exit_code == 0 and len(server.log) == n_open  # verdicts from the store
