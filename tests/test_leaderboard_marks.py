"""Leaderboard with one's own runs (issue 13): the latest complete run per preset by default,
rows labelled by run, partial runs never take marks, CSV with source and markers, and the
published marks reproduced byte for byte (``--marks printed``) beside the caption's rule."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import (
    FIXTURES,
    gold_response,
    load_samples,
    replay_cli,
    write_predictions,
    wrong_response,
)
from typer.testing import CliRunner

from medunieval.cli import app
from medunieval.leaderboard import build_table, load_runs, load_table, render
from medunieval.leaderboard.reference import compute_marks, mark_contradictions

runner = CliRunner()


def _published_block(table_no: int) -> str:
    """The published Markdown of a table: its column-group table and its results table."""
    text = (FIXTURES / "paper_tables.md").read_text("utf-8")
    section = text.split(f"### 3.{table_no} Table {table_no}", 1)[1]
    start = section.index("| Group | Columns |")
    lines = section[start:].split("\n")
    models = next(i for i, line in enumerate(lines) if line.startswith("| Models |"))
    end = next(i for i in range(models, len(lines)) if not lines[i].startswith("|"))
    return "\n".join(lines[:end]) + "\n"


@pytest.mark.parametrize("table_no", [1, 2])
def test_printed_marks_reproduce_the_published_markdown_byte_for_byte(table_no: int) -> None:
    published = _published_block(table_no)
    assert published.count("\n") > 20 and "**Hulu-Med-7B**" in published
    assert published in render(load_table(str(table_no)), "md", marks="printed")
    assert published not in render(load_table(str(table_no)), "md")  # computed marks differ


def test_contradictions_between_printed_marks_and_caption() -> None:
    cells = [c for t in ("1", "2") for c in mark_contradictions(load_table(t))]
    assert len(cells) == 73
    by_cell = {(c["table"], c["model"], c["column"]): (c["printed"], c["caption"]) for c in cells}
    # Table 1's caption marks only "Medical VLM < 10B": bold Hulu-Med-14B rows contradict it
    assert by_cell["table1", "Hulu-Med-14B", "OM.VQA"] == ("best", "none")
    assert by_cell["table1", "Lingshu-7B", "OM.VQA"] == ("none", "second")
    assert ("table1", "Hulu-Med-7B", "OM.VQA") not in by_cell  # bold and best: agree
    res = runner.invoke(app, ["leaderboard", "--list-contradictions", "--runs", str(FIXTURES)])
    assert res.exit_code == 0 and "73 cell(s) differ" in res.output


def _run(root: Path, data_root: Path, run_id: str, *extra: str, wrong_every: int = 4) -> Path:
    samples = load_samples("medqa", data_root)
    rows = [
        (
            "medqa",
            s.id,
            wrong_response(s) if wrong_every and not i % wrong_every else gold_response(s),
        )
        for i, s in enumerate(samples)
    ]
    preds = write_predictions(root / f"{run_id}.jsonl", rows)
    res = replay_cli(root, preds, ["medqa"], *extra, data_dir=data_root, run_id=run_id)
    assert res.exit_code == 0, res.output
    return root / "runs" / run_id


def _place(run: Path, preset: str, group: str) -> None:
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["model"].update(name=preset, group=group)
    (run / "manifest.json").write_text(json.dumps(manifest))


def test_partial_runs_never_take_marks_and_csv_keeps_markers(
    tmp_path: Path, data_root: Path
) -> None:
    partial = _run(tmp_path, data_root, "p1", "--limit", "8", wrong_every=0)  # 8/8 right
    _place(partial, "Hulu-Med-7B", "medical_lt10b")
    table = build_table(load_table("2"), load_runs([partial]))
    group = table.group("medical_lt10b")
    medqa = [c.benchmark for c in table.columns].index("medqa")
    run_row = len(group.rows) - 1
    assert group.rows[run_row].values[medqa] == 100.0
    marks = compute_marks(group, len(table.columns))
    assert (run_row, medqa) not in marks
    assert marks[[r.model for r in group.rows].index("Hulu-Med-7B"), medqa] == "best"
    rows = list(csv.DictReader(io.StringIO(render(table, "csv"))))
    ours = next(r for r in rows if r["source"] == "run p1")
    assert ours["model"] == "replay-model (run p1)" and ours["markers"] == "MedQA=partial"
    assert {r["source"] for r in rows} == {"paper", "run p1"}


def test_default_rows_are_the_latest_complete_run_per_preset(
    tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "results"
    root.mkdir()
    _run(root, data_root, "a1")
    _run(root, data_root, "b1", wrong_every=2)
    _run(root, data_root, "c1", "--limit", "8")
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["leaderboard", "--table", "2", "--format", "csv"])
    assert res.exit_code == 0, res.output
    runs = [r for r in csv.DictReader(io.StringIO(res.output)) if r["source"] != "paper"]
    assert [r["model"] for r in runs] == ["replay-model (run b1)"] and runs[0]["MedQA"] == "50.0"
    res = runner.invoke(app, ["leaderboard", "--table", "2", "--format", "csv", "--all-runs"])
    runs = [r for r in csv.DictReader(io.StringIO(res.output)) if r["source"] != "paper"]
    assert sorted(r["source"] for r in runs) == ["run a1", "run b1", "run c1"]
    res = runner.invoke(app, ["leaderboard", "--marks", "bold"])
    assert res.exit_code == 2 and "--marks must be one of" in res.output
