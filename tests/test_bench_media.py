"""The 3D and surgical-video benchmarks end to end with ``replay`` (synthetic volumes and
videos, real-schema rows), with golden scores for MedUniEval's 3D rules and their fixes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import replay_cli, run_records, run_summary, score_text, write_predictions
from media_synth import build_media_root

from medunieval.benchmarks import BENCHMARKS

MEDIA_BENCHES = [
    "m3d_vqa",
    "rad3d",
    "m3d_cap",
    "amos_mm",
    "ct_rate_report",
    "cholec80_vqa",
    "endovis18_vqa",
    "psi_ava_vqa",
]


@pytest.fixture(scope="module")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_media_root(tmp_path_factory.mktemp("media"))


def samples(bench: str, path: Path):
    spec = BENCHMARKS.get(bench)
    return spec.samples(spec.load_raw(path))


# ------------------------------------------------------------------------------ mappings
def test_m3d_csv_rows_become_closed_and_open_samples(media_root: Path) -> None:
    got = samples("m3d_vqa", media_root / "m3d_vqa")
    assert [s.id for s in got][:2] == ["0-closed", "0-open"] and len(got) == 10
    closed, opened = got[0], got[1]
    assert (closed.answer_type, closed.answer, closed.meta) == (
        "closed",
        "C",
        {"question_type": "Plane"},
    )
    assert closed.choices == {"A": "Sagittal", "B": "Coronal", "C": "Axial", "D": "Oblique"}
    assert closed.question.endswith("Choices: A. Sagittal B. Coronal C. Axial D. Oblique")
    assert (opened.answer_type, opened.answer) == ("open", "Axial")
    assert closed.media[0].kind == "volume"
    prompt = BENCHMARKS.get("m3d_vqa").prompt(opened)
    assert prompt == "In which plane is the image scanned?\nPlease answer the question concisely."


def test_m3d_llava_layout(media_root: Path) -> None:
    got = samples("m3d_vqa", media_root / "m3d_vqa_json")
    assert [(s.id, s.answer_type, s.meta["question_type"]) for s in got] == [
        ("m3d-0", "closed", "Plane"),
        ("m3d-1", "open", "Location"),
        ("m3d-2", "closed", "Organ"),
    ]
    assert got[0].question.startswith("In which plane") and "<video>" not in got[0].question
    assert got[0].choices == {"A": "Sagittal", "B": "Coronal", "C": "Axial", "D": "Oblique"}


def test_rad3d_task_names_from_release_folders(media_root: Path) -> None:
    got = samples("rad3d", media_root / "rad3d")
    assert [(s.meta["task"], s.meta["subtask"], s.answer_type) for s in got] == [
        ("Image Observation", "Anatomical observation", "closed"),
        ("Image Observation", "Anatomical observation", "open"),
        ("Anomaly Detection", "Diagnosis", "closed"),
    ]


def test_surgical_layouts(media_root: Path) -> None:
    endo = samples("endovis18_vqa", media_root / "endovis18_vqa")
    assert len(endo) == 4  # test sequences 1, 5, 16 only: seq_2 is not read
    assert endo[0].meta["classes"] == ["Idle", "Tissue_Manipulation", "kidney"]
    assert endo[0].media[0].source.endswith("seq_1/left_frames/frame000.png")
    prompt = BENCHMARKS.get("endovis18_vqa").prompt(endo[0])
    assert prompt == (
        "What organ is being operated?\nCandidate answers: Idle, Tissue_Manipulation, kidney.\n"
        "Answer the question using a single word or phrase."
    )
    cholec = samples("cholec80_vqa", media_root / "cholec80_vqa")
    assert [s.error.kind if s.error else None for s in cholec] == [None] * 4 + ["malformed_row"]
    psi = samples("psi_ava_vqa", media_root / "psi_ava_vqa")
    assert [s.media[0].kind for s in psi] == ["video"] * 3


# ------------------------------------------------------------------------ scoring rules
def test_first_letter_rule_compat_vs_strict(media_root: Path) -> None:
    s = samples("m3d_vqa", media_root / "m3d_vqa")[6]  # gold B (Cyst) of Calculus/Cyst/...
    assert s.answer == "B"
    cases = {
        "B": (True, True),
        "Because it is an abscess": (True, False),  # compat reads the first letter "b"
        "Cyst": (False, True),  # compat reads "c"; strict matches the option text
        "The answer is B": (False, True),
        "b) cyst": (True, True),
        "A or B": (False, False),  # compat reads "a"; strict refuses two letters
    }
    for text, (compat_ok, strict_ok) in cases.items():
        got = score_text("m3d_vqa", s, text)
        assert (got["compat"]["correct"], got["strict"]["correct"]) == (compat_ok, strict_ok), text
    llava = samples("m3d_vqa", media_root / "m3d_vqa_json")[2]  # gold "C. Liver"
    got = score_text("m3d_vqa", llava, "Liver")
    assert (got["compat"]["correct"], got["strict"]["correct"]) == (False, True)


def test_open_metrics_golden(media_root: Path) -> None:
    s = samples("m3d_vqa", media_root / "m3d_vqa")[3]  # gold "Portal venous phase"
    got = score_text("m3d_vqa", s, "portal venous")
    for profile in ("compat", "strict"):
        v = got[profile]
        assert v["exact_match"] == 1.0 and v["precision"] == 1.0
        assert v["recall"] == pytest.approx(2 / 3) and v["f1"] == pytest.approx(0.8)
        assert v["bleu1"] == pytest.approx(0.60653, abs=1e-4)  # precision 1 x BP exp(1 - 3/2)
        assert 0 < v["meteor"] < 1 and v["rouge1"] == pytest.approx(0.8)
    assert got["compat"]["correct"] is False and got["strict"]["correct"] is False
    long = score_text("m3d_vqa", s, "portal venous phase of contrast seen here")
    assert long["compat"]["bleu3"] != long["strict"]["bleu3"]  # .33 weights vs 1/3


# ---------------------------------------------------------------------------- end to end
M3D_RESPONSES = {
    "0-closed": "C",
    "0-open": "Axial",
    "1-closed": "Portal venous",
    "1-open": "portal venous",
    "2-closed": "A. Kidney",
    "2-open": "right kidney",
    "3-closed": "Because it is an abscess",
    "3-open": "",
    "4-closed": "B",
    "4-open": "axial plane",
}


def test_m3d_vqa_end_to_end_micro_and_macro(tmp_path: Path, media_root: Path) -> None:
    preds = write_predictions(
        tmp_path / "p.jsonl", [("m3d_vqa", k, v) for k, v in M3D_RESPONSES.items()]
    )
    result = replay_cli(tmp_path, preds, ["m3d_vqa"], data_dir=media_root / "m3d_vqa")
    assert result.exit_code == 0, result.output
    summary = run_summary(tmp_path, "m3d_vqa")
    compat = summary["profiles"]["compat"]["native"]
    strict = summary["profiles"]["strict"]["native"]
    cats = compat["by_category"]
    assert {k: v["closed"]["accuracy"] for k, v in cats.items()} == {
        "Abnormality": 1.0,
        "Organ": 1.0,
        "Phase": 0.0,
        "Plane": 0.5,
    }
    assert compat["overall"]["macro"]["closed_accuracy"] == pytest.approx(0.625)
    assert compat["overall"]["micro"]["closed_accuracy"] == pytest.approx(0.6)
    assert compat["overall"]["macro"]["open"]["recall"] == pytest.approx((1 + 2 / 3 + 0.5) / 4)
    assert compat["overall"]["micro"]["open"]["recall"] == pytest.approx((2 + 2 / 3 + 0.5) / 5)
    assert {k: v["closed"]["accuracy"] for k, v in strict["by_category"].items()}["Phase"] == 1.0
    assert strict["overall"]["micro"]["closed_accuracy"] == pytest.approx(0.6)
    manifest = json.loads((tmp_path / "runs/r1/manifest.json").read_text())
    assert manifest["benchmarks"]["m3d_vqa"]["media"]["volume"] == {
        "axis": "axial",
        "sampling": "all",
        "num_slices": 32,
        "order": "ascending",
        "window": "auto",
        "resize": "none",
    }
    recs = run_records(tmp_path, "m3d_vqa")
    assert all(len(r["media"]) == 1 and len(r["media"][0]["sha256"]) == 64 for r in recs)


def test_preset_volume_options_change_manifest_and_keys(tmp_path: Path, media_root: Path) -> None:
    preds = write_predictions(tmp_path / "p.jsonl", [("rad3d", str(i), "A") for i in range(3)])
    preset = tmp_path / "preset.yaml"
    preset.write_text(
        "name: replay-3d\nmodel: replay-3d\nbackend: replay\n"
        "options:\n  volume: {sampling: uniform, num_slices: 4, window: ct_lung}\n"
    )
    args = ["run", "--predictions", preds, "--bench", "rad3d", "--output", tmp_path / "runs"]
    from typer.testing import CliRunner

    from medunieval.cli import app

    base = [*map(str, args), "--data-dir", str(media_root / "rad3d")]
    first = CliRunner().invoke(
        app, [*base, "--model", "replay", "--backend", "replay", "--run-id", "a"]
    )
    second = CliRunner().invoke(app, [*base, "--model", str(preset), "--run-id", "b"])
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    manifest = json.loads((tmp_path / "runs/b/manifest.json").read_text())
    vol = manifest["benchmarks"]["rad3d"]["media"]["volume"]
    assert (vol["sampling"], vol["num_slices"], vol["window"]) == ("uniform", 4, "ct_lung")
    keys_a = [r["request_key"] for r in run_records(tmp_path, "rad3d", "a")]
    keys_b = [r["request_key"] for r in run_records(tmp_path, "rad3d", "b")]
    assert set(keys_a).isdisjoint(keys_b)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nmodel: bad\nbackend: replay\noptions:\n  volume: {slices: 4}\n")
    result = CliRunner().invoke(app, [*base, "--model", str(bad), "--run-id", "c"])
    assert result.exit_code == 2 and "unknown volume option" in result.output


def test_rad3d_end_to_end_no_compat_overall(tmp_path: Path, media_root: Path) -> None:
    preds = write_predictions(
        tmp_path / "p.jsonl",
        [("rad3d", "0", "A"), ("rad3d", "1", "The mediastinum is normal."), ("rad3d", "2", "C")],
    )
    result = replay_cli(tmp_path, preds, ["rad3d"], data_dir=media_root / "rad3d")
    assert result.exit_code == 0, result.output
    profiles = run_summary(tmp_path, "rad3d")["profiles"]
    assert profiles["compat"]["native"]["overall"] is None
    cats = profiles["compat"]["native"]["by_category"]
    assert cats["Image Observation"]["closed"]["accuracy"] == 1.0
    assert cats["Anomaly Detection"]["closed"]["accuracy"] == 0.0
    assert profiles["strict"]["native"]["overall"]["micro"]["closed_accuracy"] == 0.5
    assert profiles["strict"]["subscores"]["task"]["Anomaly Detection"]["n"] == 1


def test_surgical_end_to_end_accuracy_and_f1(tmp_path: Path, media_root: Path) -> None:
    rows = [
        ("endovis18_vqa", "seq_1/vqa/Classification/frame000_QA#1", "kidney"),
        ("endovis18_vqa", "seq_1/vqa/Classification/frame000_QA#2", "tissue_manipulation."),
        ("endovis18_vqa", "seq_1/vqa/Classification/frame001_QA#1", "The organ is the kidney."),
        ("endovis18_vqa", "seq_1/vqa/Classification/frame001_QA#2", "Tissue_Manipulation"),
        ("psi_ava_vqa", "case1-clip0", "Pelvic lymph node dissection"),
        ("psi_ava_vqa", "case1-clip1", "Suturing"),
        ("psi_ava_vqa", "case2-clip0", "Suturing"),
    ]
    preds = write_predictions(tmp_path / "p.jsonl", rows)
    result = replay_cli(tmp_path, preds, ["endovis18_vqa", "psi_ava_vqa"], data_dir=media_root)
    assert result.exit_code == 3, result.output  # psi_ava_vqa: 1 of 3 corrupt (> 5% errors)
    endo = run_summary(tmp_path, "endovis18_vqa")["profiles"]
    assert endo["compat"]["score"] == 0.5 and endo["strict"]["score"] == 0.75
    assert endo["compat"]["native"]["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    assert endo["strict"]["native"]["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    psi = run_summary(tmp_path, "psi_ava_vqa")
    assert psi["n"] == 3 and psi["error_kinds"] == {"corrupt_media": 1}
    assert "truncated.mp4" in psi["error_examples"]["corrupt_media"]
    assert psi["profiles"]["compat"]["score"] == pytest.approx(1 / 3)
    recs = {r["sample_id"]: r for r in run_records(tmp_path, "psi_ava_vqa")}
    assert recs["case2-clip0"]["error"]["kind"] == "corrupt_media"


def test_report_benchmarks_end_to_end(tmp_path: Path, media_root: Path) -> None:
    rows = [
        ("m3d_cap", "0", "Findings: Hypodense lesion in the liver. Impression: lesion."),
        ("m3d_cap", "1", "A simple cyst in the left kidney."),
        ("amos_mm", "amos_0013", "Findings: The liver is normal. Impression: Normal."),
        ("amos_mm", "amos_0017", "Findings: none."),
        ("ct_rate_report", "valid_1_a_1", "Findings: The lungs are clear. Impression: Normal."),
        ("ct_rate_report", "valid_2_a_1", "Findings: Nodule. Impression: Nodule."),
    ]
    preds = write_predictions(tmp_path / "p.jsonl", rows)
    benches = ["m3d_cap", "amos_mm", "ct_rate_report"]
    result = replay_cli(tmp_path, preds, benches, data_dir=media_root)
    assert result.exit_code == 3, result.output  # amos_mm: 1 of 2 missing (> 5% errors)
    for bench, n, errors in (("m3d_cap", 2, 0), ("amos_mm", 2, 1), ("ct_rate_report", 2, 0)):
        summary = run_summary(tmp_path, bench)
        assert (summary["n"], summary["errors"]) == (n, errors), bench
        assert summary["profiles"]["strict"]["metrics"]["bleu1"]["mean"] > 0
    amos = run_summary(tmp_path, "amos_mm")
    assert amos["error_kinds"] == {"missing_media": 1}
    cap = {s.id: s for s in samples("m3d_cap", media_root / "m3d_cap")}
    assert cap["0"].answer == "Hypodense lesion in the liver."
    ct = samples("ct_rate_report", media_root / "ct_rate_report")
    assert ct[0].answer == (
        "Findings: The lungs are clear. No pleural effusion. Impression: No acute "
        "cardiopulmonary disease.."
    )
    assert ct[0].media[0].source.endswith("valid/valid_1/valid_1_a/valid_1_a_1.nii.gz")
    assert ct[1].media[0].source.endswith("ct_rate_report/valid_2_a_1.nii.gz")


def test_all_media_benchmarks_registered() -> None:
    for name in MEDIA_BENCHES:
        assert BENCHMARKS.get(name).name == name
