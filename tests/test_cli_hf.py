"""End-to-end CLI runs through the hf backend on tiny random models of real architectures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medunieval.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    from medunieval.tiny_models import build_tiny_qwen2_lm, build_tiny_qwen2_vl

    root = tmp_path_factory.mktemp("tiny")
    return {"vl": build_tiny_qwen2_vl(root / "vl"), "lm": build_tiny_qwen2_lm(root / "lm")}


def run(
    model: Path, bench: str, data: Path, out: Path, run_id: str, *extra: str, expect_errors=False
):
    args = [
        "run",
        "--model",
        str(model),
        "--bench",
        bench,
        "--data-dir",
        str(data),
        "--output",
        str(out / "runs"),
        "--run-id",
        run_id,
        "--cache",
        str(out / "cache.sqlite"),
        "--device",
        "cpu",
        "--max-new-tokens",
        "6",
        *extra,
    ]
    res = runner.invoke(app, args, catch_exceptions=False)
    assert res.exit_code == (3 if expect_errors else 0), res.output  # 3: exit policy
    return res


def load(out: Path, run_id: str, bench: str) -> tuple[dict, list[dict]]:
    folder = out / "runs" / run_id / bench
    recs = [json.loads(x) for x in (folder / "records.jsonl").read_text().splitlines()]
    return json.loads((folder / "summary.json").read_text()), recs


def texts(recs: list[dict]) -> dict[str, str]:
    return {r["sample_id"]: r["response"]["text"] for r in recs}


def test_vlm_batched_run_then_resume_and_cache_reuse(tmp_path, data_root, tiny):
    run(
        tiny["vl"],
        "vqa_rad",
        data_root / "vqa_rad",
        tmp_path,
        "a",
        "--limit",
        "12",
        "--batch-size",
        "4",
    )
    summary, recs = load(tmp_path, "a", "vqa_rad")
    assert summary["n"] == 12 and summary["errors"] == 0
    assert summary["generation"] == {"generated": 12, "cached": 0, "skipped": 0}
    assert all(
        r["response"]["text"] is not None and r["response"]["prompt_tokens"] > 0 for r in recs
    )
    assert all(len(r["media"]) == 1 and len(r["media"][0]["sha256"]) == 64 for r in recs)
    assert {"strict", "compat"} <= set(recs[0]["scores"])

    run(
        tiny["vl"],
        "vqa_rad",
        data_root / "vqa_rad",
        tmp_path,
        "a",
        "--limit",
        "12",
        "--batch-size",
        "4",
    )  # same command: resumes, nothing to do
    assert load(tmp_path, "a", "vqa_rad")[0]["generation"]["skipped"] == 12

    run(
        tiny["vl"],
        "vqa_rad",
        data_root / "vqa_rad",
        tmp_path,
        "b",
        "--limit",
        "12",
        "--batch-size",
        "2",
    )  # another run, same model and prompts: all from the store
    summary_b, recs_b = load(tmp_path, "b", "vqa_rad")
    assert summary_b["generation"]["cached"] == 12 and summary_b["generation"]["generated"] == 0
    assert texts(recs_b) == texts(recs)
    assert summary_b["profiles"] == summary["profiles"]


def test_text_lm_batched_equals_unbatched(tmp_path, data_root, tiny):
    run(
        tiny["lm"],
        "medqa",
        data_root / "medqa",
        tmp_path,
        "b1",
        "--limit",
        "10",
        "--batch-size",
        "1",
        "--no-cache",
    )
    run(
        tiny["lm"],
        "medqa",
        data_root / "medqa",
        tmp_path,
        "b5",
        "--limit",
        "10",
        "--batch-size",
        "5",
        "--no-cache",
    )
    one, recs1 = load(tmp_path, "b1", "medqa")
    five, recs5 = load(tmp_path, "b5", "medqa")
    assert texts(recs1) == texts(recs5)
    assert one["profiles"] == five["profiles"] and one["errors"] == 0


def test_text_only_model_on_an_image_benchmark_records_errors(tmp_path, data_root, tiny):
    res = run(tiny["lm"], "slake", data_root / "slake", tmp_path, "c", "--limit", "5",
              expect_errors=True)  # fmt: skip
    summary, recs = load(tmp_path, "c", "slake")
    assert summary["errors"] == 5 and summary["error_kinds"] == {"unsupported_modality": 5}
    assert summary["profiles"]["strict"]["score"] == 0.0
    assert "unsupported_modality" in res.output
