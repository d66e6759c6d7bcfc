"""Replay ids users can produce (issue 13): a predictions template per benchmark + data, and
prediction ids that match no sample or repeat are reported, not ignored."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import replay_cli, run_records
from typer.testing import CliRunner

from medunieval.benchmarks import BENCHMARKS
from medunieval.cli import app
from medunieval.sample_ids import SAMPLE_IDS

runner = CliRunner()


def test_every_benchmark_documents_its_sample_id() -> None:
    assert set(SAMPLE_IDS) == set(BENCHMARKS.names())
    docs = (Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md").read_text("utf-8")
    for name in BENCHMARKS.names():
        assert f"| `{name}` |" in docs, name


def test_template_then_replay_matches_every_sample(tmp_path: Path, data_root: Path) -> None:
    out = tmp_path / "template.jsonl"
    res = runner.invoke(
        app,
        ["predictions-template", "--bench", "vqa_rad,medqa", "--data-dir", str(data_root),
         "-o", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    vqa = [e for e in lines if e["benchmark"] == "vqa_rad"]
    assert vqa and all(e["prompt"] and len(e["media"][0]["sha256"]) == 64 for e in vqa)
    # fill the template with answers and replay it: every id matches, nothing is reported
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({**e, "response": "yes"}) + "\n" for e in lines))
    res = replay_cli(tmp_path, preds, ["vqa_rad", "medqa"], data_dir=data_root)
    assert res.exit_code == 0, res.output
    assert "warning" not in res.output
    records = run_records(tmp_path, "vqa_rad")
    assert not [r for r in records if r["error"]]
    prompts = {e["id"]: e["prompt"] for e in vqa}
    assert all(r["prompt"] == prompts[r["sample_id"]] for r in records)


def test_unmatched_and_duplicate_prediction_ids_are_reported(
    tmp_path: Path, data_root: Path
) -> None:
    out = tmp_path / "template.jsonl"
    runner.invoke(
        app, ["predictions-template", "--bench", "medqa", "--data-dir", str(data_root / "medqa"),
              "-o", str(out)],
    )  # fmt: skip
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    rows = [{"id": e["id"], "response": "A"} for e in lines]
    rows += [{"id": "no-such-1", "response": "A"}, {"id": "no-such-2", "response": "A"}]
    rows += [{"id": lines[0]["id"], "response": "B"}]  # a duplicate
    rows += [{"id": "x", "benchmark": "slake", "response": "A"}]  # another benchmark: ignored
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = replay_cli(tmp_path, preds, ["medqa"], data_dir=data_root / "medqa")
    assert res.exit_code == 0, res.output
    assert "2 prediction id(s) match no sample of medqa (e.g. 'no-such-1', 'no-such-2')" in (
        res.output
    )
    assert f"1 id(s) appear on more than one line (e.g. '{lines[0]['id']}')" in res.output
    manifest = json.loads((tmp_path / "runs" / "r1" / "manifest.json").read_text())
    assert len(manifest["invocations"][-1]["warnings"]) == 2
    # --limit does not make the remaining predictions "unmatched"
    res = replay_cli(tmp_path, preds, ["medqa"], "--limit", "3", data_dir=data_root / "medqa",
                     run_id="r2")  # fmt: skip
    assert "2 prediction id(s) match no sample" in res.output
