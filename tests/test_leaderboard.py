"""Leaderboard: the reference data reproduce the published tables exactly; marks, formats,
runs as rows (values, deltas, intervals, markers) and the CLI."""

from __future__ import annotations

import csv
import io
import json
import re
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
from medunieval.leaderboard.reference import compute_marks, load_representative

runner = CliRunner()


# ----------------------------------------------------------- the published markdown, parsed
def _published(table_no: int) -> dict:
    """Column groups and (row group, model, values) rows of a table in paper_tables.md."""
    text = (FIXTURES / "paper_tables.md").read_text(encoding="utf-8")
    start = text.index(f"### 3.{table_no} Table {table_no}")
    end = text.index("###", start + 5)
    lines = [ln for ln in text[start:end].splitlines() if ln.startswith("|")]
    groups, rows, group = [], [], None
    i = 2
    while not lines[i].startswith("| Models"):
        label, cols = (c.strip() for c in lines[i].strip("|").split("|"))
        groups.append((label, [c.strip() for c in cols.split(",")]))
        i += 1
    for line in lines[i + 2 :]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0].startswith("***"):
            group = cells[0].strip("*")
            continue
        values = [None if v == "-" else float(v) for v in cells[1:]]
        rows.append((group, cells[0].strip("*"), values))
    return {"groups": groups, "rows": rows}


def _data(table) -> dict:
    return {
        "groups": [(g.label, [c.label for c in g.columns]) for g in table.column_groups],
        "rows": [(g.label, r.model, r.values) for g in table.row_groups for r in g.rows],
    }


def _parse_md(md: str) -> dict:
    """Our markdown output parsed back (marks stripped)."""
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    groups, rows, group = [], [], None
    i = 2
    while not lines[i].startswith("| Models"):
        label, cols = (c.strip() for c in lines[i].strip("|").split("|"))
        groups.append((label, [c.strip() for c in cols.split(",")]))
        i += 1
    for line in lines[i + 2 :]:
        cells = [re.sub(r"\*\*|</?u>", "", c.strip()) for c in line.strip("|").split("|")]
        if line.startswith("| ***"):
            group = cells[0].strip("*")
            continue
        rows.append((group, cells[0], [None if v == "-" else float(v) for v in cells[1:]]))
    return {"groups": groups, "rows": rows}


@pytest.mark.parametrize("table_no", [1, 2])
def test_reference_data_and_markdown_reproduce_the_published_table(table_no: int) -> None:
    published = _published(table_no)
    table = load_table(str(table_no))
    assert _data(table) == published  # every value, row, row group and column group, in order
    assert _parse_md(render(table, "md")) == published
    assert len(published["rows"]) == (23 if table_no == 1 else 25)


def test_marks_match_a_hand_checked_subgroup() -> None:
    t1 = load_table("1")
    med = t1.group("medical_lt10b")
    marks = compute_marks(med, len(t1.columns))
    by_model = {}
    for (r, c), mark in marks.items():
        by_model.setdefault(med.rows[r].model, {})[t1.columns[c].label] = mark
    # Hulu-Med-7B is best in every column; the runner-up differs per column.
    assert by_model["Hulu-Med-7B"] == {c.label: "best" for c in t1.columns}
    assert by_model["Lingshu-7B"] == {
        "OM.VQA": "second", "PMCVQA": "second", "SLAKE": "second", "PathVQA": "second",
        "MedXQA": "second",
    }  # fmt: skip
    assert by_model["MedGemma-4B-IT"] == {"VQA-RAD": "second"}
    assert by_model["HuatuoGPT-V-7B"] == {"MMMU-Med": "second"}  # Lingshu's "-" takes no part
    assert "LLaVA-Med-7B" not in by_model
    # Table 1 marks only that subgroup; proprietary rows are never marked
    assert not compute_marks(t1.group("proprietary"), len(t1.columns))
    assert not compute_marks(t1.group("general_lt10b"), len(t1.columns))
    # Table 2, general < 10B: a tie for best shares the mark
    t2 = load_table("2")
    gen = t2.group("general_lt10b")
    m2 = compute_marks(gen, len(t2.columns))
    col = [c.label for c in t2.columns].index("PubMedQA")
    got = {gen.rows[r].model: m for (r, c), m in m2.items() if c == col}
    assert got == {"Qwen2.5VL-7B": "best", "InternVL2.5-8B": "best", "InternVL3-8B": "second"}


def test_later_rows_flags_and_representative_table() -> None:
    assert "Hulu-Med-4B" not in [r.model for g in load_table("1").row_groups for r in g.rows]
    t1 = load_table("1", include_later=True)
    models = [r.model for r in t1.group("medical_lt10b").rows]
    assert models.index("Hulu-Med-4B") == models.index("Hulu-Med-7B") - 1
    four_b = t1.group("medical_lt10b").rows[models.index("Hulu-Med-4B")]
    assert four_b.values == [81.6, 64.6, 71.6, 85.0, 60.1, 26.4, 50.5] and four_b.added
    ds = next(r for g in load_table("2").row_groups for r in g.rows if r.model == "Deepseek-V3")
    assert set(ds.flags) == {"medmcqa", "medqa"}
    rep = load_representative()
    assert [r["benchmark"] for r in rep["rows"]] == [
        "omnimedvqa", "mimic_cxr", "m3d_vqa", "cholec80_vqa", "medxpertqa_text", "mmedbench",
    ]  # fmt: skip
    assert rep["rows"][5]["hulu_med_7b"] == 71.38


def test_results_reference_is_the_packaged_data() -> None:
    from importlib import resources

    ref = Path(__file__).parent.parent / "results" / "reference"
    packaged = resources.files("medunieval.reference")
    for name in ("table1.yaml", "table2.yaml", "representative.yaml"):
        assert (ref / name).read_text() == packaged.joinpath(name).read_text()


def test_latex_csv_html() -> None:
    t1 = load_table("1")
    tex = render(t1, "latex")
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"\multicolumn{2}{c}{Multi-modality Benchmarks}" in tex
    assert r"\cmidrule(lr){2-3}" in tex and r"\cmidrule(lr){4-6}" in tex
    assert r"Hulu-Med-7B & \textbf{84.2} & \textbf{66.8}" in tex
    assert r"Lingshu-7B & \underline{82.9}" in tex
    assert r"\textit{Medical Multimodal VLMs (Models $<$ 10B)}" in tex
    rows = list(csv.DictReader(io.StringIO(render(t1, "csv"))))
    assert len(rows) == 23
    hulu = next(r for r in rows if r["model"] == "Hulu-Med-7B")
    assert hulu["OM.VQA"] == "84.2" and hulu["row_group"].startswith("Medical")
    lingshu = next(r for r in rows if r["model"] == "Lingshu-7B")
    assert lingshu["MMMU-Med"] == "" and "OM.VQA=second" in lingshu["marks"]
    page = render(t1, "html")
    assert '<th colspan="2">Multi-modality Benchmarks</th>' in page
    assert "<td><b>84.2</b></td>" in page and "<td><u>82.9</u></td>" in page


# ------------------------------------------------------------------------------ runs as rows
def _medqa_run(tmp: Path, data_root: Path, *extra: object, run_id: str = "r1") -> Path:
    samples = load_samples("medqa", data_root)
    preds = write_predictions(
        tmp / f"{run_id}.jsonl",
        [
            ("medqa", s.id, gold_response(s) if i % 4 else wrong_response(s))
            for i, s in enumerate(samples)
        ],
    )
    res = replay_cli(tmp, preds, ["medqa"], *extra, data_dir=data_root, run_id=run_id)
    assert res.exit_code == 0, res.output
    return tmp / "runs" / run_id


def _as_preset(run: Path, name: str, group: str) -> None:
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["model"].update(name=name, group=group)
    (run / "manifest.json").write_text(json.dumps(manifest))
    summary = json.loads((run / "summary.json").read_text())
    summary["model"] = f"{name} (ours)"
    (run / "summary.json").write_text(json.dumps(summary))


def test_run_rows_values_deltas_intervals_and_markers(tmp_path: Path, data_root: Path) -> None:
    run = _medqa_run(tmp_path, data_root)
    score = json.loads((run / "medqa" / "summary.json").read_text())["profiles"]["compat"]
    expected = round(100 * score["score"], 1)
    assert expected == 75.0  # every 4th of 60 answers is wrong
    [row_run] = load_runs([tmp_path / "runs"])
    table = build_table(load_table("2"), [row_run])
    new = table.row_groups[-1]
    assert new.label == "New runs" and [r.model for r in new.rows] == ["replay-model (run r1)"]
    medqa = [c.benchmark for c in table.columns].index("medqa")
    row = new.rows[0]
    assert row.values[medqa] == expected
    assert sum(v is not None for v in row.values) == 1  # other columns: "-"
    assert row.cells[medqa]["ci"] == (62.8, 84.2)  # Wilson 45/60
    md = render(table, "md", delta=True, ci=True)
    assert "| replay-model (run r1) | - | - | - | - | - | - | 75.0 [62.8, 84.2] | - |" in md

    # placed by the preset's group, with the delta to the published value of that model
    _as_preset(run, "Hulu-Med-7B", "medical_lt10b")
    table = build_table(load_table("2"), load_runs([run]))
    group = table.group("medical_lt10b")
    ours = group.rows[-1]
    assert ours.model == "Hulu-Med-7B (ours) (run r1)" and ours.cells[medqa]["delta"] == round(
        75.0 - 73.5, 1
    )
    assert table.row_groups[-1].label != "New runs"
    assert "75.0 (+1.5)" in render(table, "md", delta=True)
    # a run in a marked group competes for the marks: 75.0 beats Hulu-Med-7B's 73.5
    marks = compute_marks(group, len(table.columns))
    assert marks[(len(group.rows) - 1, medqa)] == "best"

    # another profile than the table's, and a partial run, are marked, never silently mixed
    strict = build_table(load_table("2"), load_runs([run]), profile="strict")
    assert "profile" in strict.group("medical_lt10b").rows[-1].cells[medqa]["markers"]
    assert "† scored with another profile" in render(strict, "md")
    partial = _medqa_run(tmp_path, data_root, "--limit", "8", run_id="r2")
    cells = build_table(load_table("2"), load_runs([partial])).row_groups[-1].rows[0].cells
    assert cells[medqa]["markers"] == ["partial"] and cells[medqa]["n"] == 8


def test_benchmark_version_mismatch_is_marked(tmp_path: Path, data_root: Path) -> None:
    run = _medqa_run(tmp_path, data_root)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["benchmarks"]["medqa"]["version"] == "1"
    manifest["benchmarks"]["medqa"]["version"] = "2"
    (run / "manifest.json").write_text(json.dumps(manifest))
    table = build_table(load_table("2"), load_runs([run]))
    assert "‡" in render(table, "md")


def test_leaderboard_cli(tmp_path: Path, data_root: Path) -> None:
    run = _medqa_run(tmp_path, data_root)
    out = tmp_path / "t2.tex"
    res = runner.invoke(
        app, ["leaderboard", "--table", "2", "--runs", str(run), "--format", "latex",
              "--output", str(out), "--delta", "--ci"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    tex = out.read_text()
    assert r"\begin{tabular}{lcccccccc}" in tex and "replay-model" in tex
    res = runner.invoke(app, ["leaderboard", "--table", "1", "--runs", str(tmp_path / "none")])
    assert res.exit_code == 2 and "no such run directory" in res.output
    res = runner.invoke(app, ["leaderboard", "--format", "pdf", "--runs", str(run)])
    assert res.exit_code == 2 and "--format must be one of" in res.output
    res = runner.invoke(app, ["leaderboard", "--table", "3", "--runs", str(run)])
    assert res.exit_code == 2 and "unknown table" in res.output
    res = runner.invoke(app, ["leaderboard", "--table", "all", "--format", "csv", "--runs",
                              str(run)])  # fmt: skip
    assert res.exit_code == 0 and res.output.count("row_group,model") == 2
