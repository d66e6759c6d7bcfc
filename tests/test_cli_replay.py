"""End-to-end CLI runs with the replay backend on the real-schema fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import (
    SIX,
    gold_response,
    load_samples,
    replay_cli,
    run_records,
    run_summary,
    write_predictions,
    wrong_response,
)
from typer.testing import CliRunner

from medunieval.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def run_replay(tmp: Path, data_root: Path, benches: list[str], preds: Path, *extra: str):
    return replay_cli(tmp, preds, benches, *extra, data_dir=data_root)


summary = run_summary


records = run_records


def test_all_correct_scores_one_in_both_profiles(tmp_path, data_root):
    rows = [(b, s.id, gold_response(s)) for b in SIX for s in load_samples(b, data_root)]
    preds = write_predictions(tmp_path / "preds.jsonl", rows)
    res = run_replay(tmp_path, data_root, SIX, preds)
    assert res.exit_code == 0, res.output
    for bench in SIX:
        s = summary(tmp_path, bench)
        n = len(load_samples(bench, data_root))
        assert s["n"] == n and s["errors"] == 0
        for profile in ("strict", "compat"):
            assert s["profiles"][profile]["score"] == 1.0, (bench, profile)
            assert s["profiles"][profile]["parse_rate"] == 1.0, (bench, profile)
    vqa = summary(tmp_path, "vqa_rad")["profiles"]["strict"]["subscores"]["answer_type"]
    assert vqa["closed"]["n"] + vqa["open"]["n"] == 123
    assert "vqa_rad" in res.output and "100.0" in res.output


def test_all_wrong_scores_zero_in_strict(tmp_path, data_root):
    rows = [(b, s.id, wrong_response(s)) for b in SIX for s in load_samples(b, data_root)]
    preds = write_predictions(tmp_path / "preds.jsonl", rows)
    assert run_replay(tmp_path, data_root, SIX, preds).exit_code == 0
    for bench in SIX:
        s = summary(tmp_path, bench)
        assert s["profiles"]["strict"]["score"] == 0.0, bench
        assert s["profiles"]["strict"]["parse_rate"] == 1.0, bench


def test_empty_and_refusal_answers_are_unparsed_in_strict_but_forced_in_compat(tmp_path, data_root):
    samples = load_samples("medqa", data_root)
    rows = [
        ("medqa", s.id, "" if i % 2 else "I cannot determine the answer.")
        for i, s in enumerate(samples)
    ]
    preds = write_predictions(tmp_path / "p.jsonl", rows)
    assert run_replay(tmp_path, data_root, ["medqa"], preds).exit_code == 0
    s = summary(tmp_path, "medqa")
    strict, compat = s["profiles"]["strict"], s["profiles"]["compat"]
    assert strict["score"] == 0.0 and strict["parse_rate"] == 0.0
    # MedUniEval maps every empty answer to option A and refusals by string similarity.
    empty_gold_a = sum(1 for i, smp in enumerate(samples) if i % 2 and smp.answer == "A")
    assert compat["correct"] >= empty_gold_a > 0
    assert compat["parse_rate"] == 0.0  # every one of them was a forced similarity choice


def test_rescore_reproduces_summary_and_never_calls_a_model(tmp_path, data_root):
    rows = [
        ("vqa_rad", s.id, gold_response(s) if i % 3 else "normal")
        for i, s in enumerate(load_samples("vqa_rad", data_root))
    ]
    preds = write_predictions(tmp_path / "p.jsonl", rows)
    # only the "no" samples have predictions: the others are errors, by design here
    assert run_replay(tmp_path, data_root, ["vqa_rad"], preds).exit_code == 0
    before = summary(tmp_path, "vqa_rad")
    preds.unlink()  # rescoring must not need the backend
    res = invoke("rescore", tmp_path / "runs" / "r1", "--profile", "strict")
    assert res.exit_code == 0, res.output
    after = summary(tmp_path, "vqa_rad")
    assert after["profiles"] == before["profiles"]
    assert "compat" not in res.output.split("Results")[1].splitlines()[2]


def test_compat_and_strict_disagree_where_medunieval_is_lenient(tmp_path, data_root):
    samples = [s for s in load_samples("vqa_rad", data_root) if s.answer.lower() == "no"]
    preds = write_predictions(tmp_path / "p.jsonl", [("vqa_rad", s.id, "normal") for s in samples])
    # only the "no" samples have predictions: the others are errors, by design here
    res = run_replay(tmp_path, data_root, ["vqa_rad"], preds, "--max-error-rate", "1")
    assert res.exit_code == 0, res.output
    recs = {r["sample_id"]: r for r in records(tmp_path, "vqa_rad")}
    for s in samples:
        sc = recs[s.id]["scores"]
        assert sc["compat"]["correct"] is True  # substring "no" in "normal"
        assert sc["strict"]["correct"] is False and sc["strict"]["parsed"] is False


def test_missing_prediction_and_missing_image_are_counted_errors(tmp_path, fresh_data):
    samples = load_samples("vqa_rad", fresh_data)
    rows = [("vqa_rad", s.id, gold_response(s)) for s in samples[1:]]
    preds = write_predictions(tmp_path / "p.jsonl", rows)
    victim = samples[5]
    (
        fresh_data
        / "vqa_rad"
        / "images"
        / json.loads((fresh_data / "vqa_rad" / "testset.json").read_text())[5]["image_name"]
    ).unlink()
    res = run_replay(tmp_path, fresh_data, ["vqa_rad"], preds)
    assert res.exit_code == 0, res.output
    s = summary(tmp_path, "vqa_rad")
    assert s["n"] == len(samples)
    assert s["error_kinds"].get("missing_prediction") == 1
    shared = [x for x in samples if x.media[0].source == victim.media[0].source]
    assert s["error_kinds"].get("missing_media") == len(shared)
    assert s["profiles"]["strict"]["score"] == pytest.approx(
        (len(samples) - 1 - len(shared)) / len(samples)
    )
    assert "missing_media" in res.output


def test_corrupt_image_and_malformed_row_are_counted_errors(tmp_path, fresh_data):
    folder = fresh_data / "slake"
    rows = json.loads((folder / "test.json").read_text())
    (folder / "imgs" / rows[0]["img_name"]).write_bytes(b"\x89PNG\r\n\x1a\n not really")
    del rows[3]["answer"]
    (folder / "test.json").write_text(json.dumps(rows))
    samples = load_samples("slake", fresh_data)
    broken = next(s for s in samples if s.error is not None)
    assert "'answer'" in broken.error.reason and "test.json" in broken.error.reason
    preds = write_predictions(
        tmp_path / "p.jsonl", [("slake", s.id, gold_response(s)) for s in samples]
    )
    assert run_replay(tmp_path, fresh_data, ["slake"], preds).exit_code == 0
    s = summary(tmp_path, "slake")
    assert s["error_kinds"]["malformed_row"] == 1
    assert s["error_kinds"]["corrupt_media"] >= 1
    assert s["n"] == len(samples)


def test_media_path_escaping_the_dataset_root_is_rejected(tmp_path, fresh_data):
    folder = fresh_data / "vqa_rad"
    rows = json.loads((folder / "testset.json").read_text())
    (tmp_path / "secret.jpg").write_bytes(b"x")
    rows[0]["image_name"] = "../../secret.jpg"
    rows[1]["image_name"] = str(tmp_path / "secret.jpg")
    (folder / "testset.json").write_text(json.dumps(rows))
    samples = load_samples("vqa_rad", fresh_data)
    assert samples[0].error and samples[0].error.kind == "unsafe_path"
    assert samples[1].error and samples[1].error.kind == "unsafe_path"
    assert all(s.error is None for s in samples[2:])


def test_misconfiguration_is_one_line_with_the_fix(tmp_path, data_root):
    preds = write_predictions(tmp_path / "p.jsonl", [])
    res = runner.invoke(
        app,
        [
            "run",
            "--model",
            "x",
            "--backend",
            "replay",
            "--predictions",
            str(preds),
            "--bench",
            "vqa_radd",
            "--output",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 2
    assert "unknown benchmark 'vqa_radd'" in res.output and "vqa_rad" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(app, ["run", "--model", "/no/such/dir", "--bench", "medqa"])
    assert res.exit_code == 2 and "--model" in res.output
    res = runner.invoke(app, ["run", "--model", "x", "--backend", "nope", "--bench", "medqa"])
    assert res.exit_code == 2 and "unknown backend 'nope'" in res.output
    res = runner.invoke(
        app,
        [
            "run",
            "--model",
            "x",
            "--backend",
            "replay",
            "--bench",
            "medqa",
            "--data-dir",
            str(data_root / "medqa"),
        ],
    )
    assert res.exit_code == 2 and "--predictions" in res.output
    res = runner.invoke(
        app,
        [
            "run",
            "--model",
            "x",
            "--backend",
            "replay",
            "--predictions",
            str(preds),
            "--bench",
            "medqa",
            "--data-dir",
            str(tmp_path / "none"),
        ],
    )
    assert res.exit_code == 2 and "does not exist" in res.output


def test_list_commands():
    for what, expected in [
        ("benchmarks", "pubmedqa"),
        ("models", "Hulu-Med-7B"),
        ("backends", "replay"),
    ]:
        res = runner.invoke(app, ["list", what])
        assert res.exit_code == 0 and expected in res.output, res.output


def test_hub_id_without_network_fails_at_once_with_the_local_data_fix(tmp_path):
    preds = write_predictions(tmp_path / "p.jsonl", [])
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
        "COLUMNS": "300",
    }
    start = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "medunieval",
            "run",
            "--model",
            "x",
            "--backend",
            "replay",
            "--predictions",
            str(preds),
            "--bench",
            "vqa_rad",
            "--output",
            str(tmp_path / "runs"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert time.monotonic() - start < 60
    assert proc.returncode == 2, proc.stderr
    assert "--data-dir" in proc.stderr and "flaviagiammarino/vqa-rad" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_second_process_on_the_same_run_directory_is_refused(tmp_path, data_root):
    from medunieval.errors import ConfigError
    from medunieval.rundir import RunDir

    holder = RunDir(tmp_path / "runs" / "r1")
    holder.lock()
    try:
        preds = write_predictions(tmp_path / "p.jsonl", [])
        res = run_replay(tmp_path, data_root, ["medqa"], preds)
        assert res.exit_code == 2 and "in use" in res.output
        with pytest.raises(ConfigError):
            RunDir(tmp_path / "runs" / "r1").lock()
    finally:
        holder.unlock()


def test_manifest_records_what_the_run_depends_on(tmp_path, data_root):
    samples = load_samples("medqa", data_root)
    preds = write_predictions(tmp_path / "p.jsonl", [("medqa", s.id, "A") for s in samples])
    assert run_replay(tmp_path, data_root, ["medqa"], preds, "--limit", "10").exit_code == 0
    m = json.loads((tmp_path / "runs" / "r1" / "manifest.json").read_text())
    assert m["environment"]["packages"]["medunieval"]
    assert len(m["prompt_template_sha256"]) == 64
    assert m["benchmarks"]["medqa"]["n_samples"] == 10
    assert len(m["benchmarks"]["medqa"]["data_fingerprint"]) == 64
    assert m["backend"]["fingerprint"] == "replay"  # answers are keyed per sample instead
    assert m["seed"] == 0 and m["profiles"] == ["strict", "compat"]
    assert len(records(tmp_path, "medqa")) == 10


def test_empty_output_is_scored_and_huge_output_is_an_error(tmp_path, data_root):
    from medunieval.engine import MAX_RESPONSE_CHARS

    samples = load_samples("medmcqa", data_root)[:4]
    rows = [
        ("medmcqa", samples[0].id, ""),
        ("medmcqa", samples[1].id, "B" * (MAX_RESPONSE_CHARS + 1)),
        ("medmcqa", samples[2].id, samples[2].answer),
        ("medmcqa", samples[3].id, "  "),
    ]
    preds = write_predictions(tmp_path / "p.jsonl", rows)
    res = run_replay(tmp_path, data_root, ["medmcqa"], preds, "--limit", "4")
    assert res.exit_code == 3 and "1 of 4 samples failed" in res.output  # the oversized one
    s = summary(tmp_path, "medmcqa")
    assert s["errors"] == 1 and s["error_kinds"] == {"oversized_output": 1}
    strict = s["profiles"]["strict"]
    assert strict["correct"] == 1 and strict["unparsed"] == 2 and strict["parse_rate"] == 1 / 3
    recs = {r["sample_id"]: r for r in records(tmp_path, "medmcqa")}
    assert len(recs[samples[1].id]["response"]["error"]) < 1000  # the huge text is not stored


def test_bad_data_for_a_later_benchmark_fails_before_any_generation(tmp_path, data_root):
    rows = [("medqa", s.id, "A") for s in load_samples("medqa", data_root)]
    preds = write_predictions(tmp_path / "p.jsonl", rows)
    res = invoke(
        "run",
        "--model",
        "m",
        "--backend",
        "replay",
        "--predictions",
        preds,
        "--bench",
        "medqa,pubmedqa",
        "--data",
        f"medqa={data_root / 'medqa'}",
        "--data",
        f"pubmedqa={tmp_path / 'missing'}",
        "--output",
        tmp_path / "runs",
        "--run-id",
        "r1",
    )
    assert res.exit_code == 2 and "pubmedqa" in res.output and "does not exist" in res.output
    assert not (tmp_path / "runs" / "r1" / "medqa" / "records.jsonl").exists()


def test_duplicate_ids_get_fresh_names_that_never_collide(tmp_path, fresh_data):
    """``dup, dup, dup~2`` used to become ``dup, dup~2, dup~2``: one record lost, one counted
    twice. Renamed ids must be unique across the whole file, and every row keeps a record."""
    path = fresh_data / "vqa_rad" / "testset.json"
    rows = json.loads(path.read_text())[:4]
    for row, qid in zip(rows, ["dup", "dup", "dup~2", "dup"], strict=True):
        row["qid"] = qid
    path.write_text(json.dumps(rows))
    samples = load_samples("vqa_rad", fresh_data)
    assert [s.id for s in samples] == ["dup", "dup~3", "dup~2", "dup~4"]
    golds = {s.id: s.answer for s in samples}
    preds = write_predictions(tmp_path / "p.jsonl", [("vqa_rad", i, a) for i, a in golds.items()])
    res = replay_cli(tmp_path, preds, ["vqa_rad"], data_dir=fresh_data / "vqa_rad")
    assert res.exit_code == 0, res.output
    assert "4 duplicate" not in res.output and "2 duplicate sample id(s) renamed" in res.output
    records = run_records(tmp_path, "vqa_rad")
    assert sorted(r["sample_id"] for r in records) == sorted(golds)
    assert run_summary(tmp_path, "vqa_rad")["n"] == 4
