"""MedXpertQA-Text, SuperGPQA-Med and OmniMedVQA on fixture rows.

Fixtures (provenance of the real ones in tests/fixtures/README.md):
- ``medxpertqa_text_test.medagents.jsonl``: real, MedAgentsBench conversion; rows 0-29 and
  150-159 of the shared file (first 30 of ``medxpertqa-r``, first 10 of ``medxpertqa-u``).
- ``omnimedvqa_medvlmr1.json``: real, MedVLM-R1 conversion; first 14 MR, 13 CT, 13 X-Ray rows.
- ``supergpqa_med_handwritten.jsonl``: HAND-WRITTEN (no real rows available), official field
  names; 8 Medicine rows + 2 rows of other disciplines that the filter must drop.
- ``omnimedvqa_official_handwritten_{chest_ct,acrima}.json``: HAND-WRITTEN rows in the official
  ``QA_information/Open-access/*.json`` layout (2- to 4-option rows, one with the stray
  ``modality`` key seen in the real ``Chest CT Scan.json``).
"""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path

import pytest
from conftest import (
    FIXTURES,
    RESPONSE_STYLES,
    gold_response,
    replay_cli,
    run_summary,
    score_text,
    write_predictions,
    wrong_response,
)
from typer.testing import CliRunner

from medunieval.benchmarks import BENCHMARKS
from medunieval.cli import app
from medunieval.demo import synth_image

for _name, _target in {
    "medxpertqa_text": "medxpertqa:BENCHMARK",
    "supergpqa_med": "supergpqa:BENCHMARK",
    "omnimedvqa": "omnimedvqa:BENCHMARK",
}.items():
    if _name not in BENCHMARKS.names():
        BENCHMARKS.register(_name, f"medunieval.benchmarks.{_target}")

BENCHES = ["medxpertqa_text", "supergpqa_med", "omnimedvqa"]
MXQ = "medxpertqa_text_test.medagents.jsonl"
SGP = "supergpqa_med_handwritten.jsonl"
OMNI = "omnimedvqa_medvlmr1.json"
OMNI_OFFICIAL = {
    "Chest CT Scan.json": "omnimedvqa_official_handwritten_chest_ct.json",
    "ACRIMA.json": "omnimedvqa_official_handwritten_acrima.json",
}
MC = "Answer with the option's letter from the given choices directly."
MR = "MR (Mag-netic Resonance Imaging)"
CT = "CT(Computed Tomography)"
runner = CliRunner()


def jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / name).read_text("utf-8").splitlines()]


def load(bench: str, path: Path):
    spec = BENCHMARKS.get(bench)
    return spec.samples(spec.load_raw(path))


def _images(folder: Path, names: list[str]) -> None:
    for i, name in enumerate(sorted(set(names))):
        synth_image(folder / name, seed=i)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``root/<bench>/`` in each benchmark's local layout, plus ``root/omni_official``."""
    base = tmp_path_factory.mktemp("mcq_more")
    (base / "medxpertqa_text").mkdir()
    shutil.copy(FIXTURES / MXQ, base / "medxpertqa_text" / "test.jsonl")
    (base / "supergpqa_med").mkdir()
    shutil.copy(FIXTURES / SGP, base / "supergpqa_med" / "SuperGPQA-all.jsonl")
    omni = base / "omnimedvqa"
    omni.mkdir()
    shutil.copy(FIXTURES / OMNI, omni / "MRI_CT_XRAY_300each_dataset.json")
    _images(omni, [r["image"][0] for r in json.loads((FIXTURES / OMNI).read_text("utf-8"))])
    official = base / "omni_official"
    qa = official / "QA_information" / "Open-access"
    qa.mkdir(parents=True)
    for dst, src in OMNI_OFFICIAL.items():
        shutil.copy(FIXTURES / src, qa / dst)
        _images(official, [r["image_path"] for r in json.loads((FIXTURES / src).read_text())])
    return base


# ----------------------------------------------------------------------------- loading
def test_medxpertqa_loads_real_rows(root):
    rows = jsonl(MXQ)
    samples = load("medxpertqa_text", root / "medxpertqa_text")
    assert len(samples) == 40 and all(s.error is None for s in samples)
    assert [s.id for s in samples] == [r["realidx"] for r in rows]
    for i in (0, 8, 30, 39):
        assert samples[i].answer == rows[i]["answer_idx"]
        assert samples[i].choices == rows[i]["options"] and len(samples[i].choices) == 10
        assert samples[i].choices[samples[i].answer] == rows[i]["answer"]
        assert samples[i].question == rows[i]["question"].split("Answer Choices:")[0].rstrip()
    assert samples[0].id == "Text-0" and samples[0].answer == "E"
    assert all("Answer Choices" not in s.question for s in samples)
    assert samples[0].meta == {}  # the MedAgentsBench copy has no task / body-system fields


def test_medxpertqa_official_schema_row(tmp_path):
    row = jsonl(MXQ)[0]
    official = {
        "id": row["realidx"],
        "question": row["question"],
        "options": row["options"],
        "label": row["answer_idx"],
        "medical_task": "Treatment",
        "body_system": "Skeletal",
        "question_type": "Reasoning",
    }
    (tmp_path / "Text").mkdir()
    (tmp_path / "Text" / "test.jsonl").write_text(json.dumps(official) + "\n")
    (s,) = load("medxpertqa_text", tmp_path)
    assert (s.id, s.answer) == ("Text-0", "E")
    assert s.meta == {"medical_task": "Treatment", "body_system": "Skeletal",
                      "question_type": "Reasoning"}  # fmt: skip


def test_supergpqa_filters_medicine_and_labels_groups(root):
    rows = [r for r in jsonl(SGP) if r["discipline"] == "Medicine"]
    samples = load("supergpqa_med", root / "supergpqa_med")
    assert len(samples) == 8 and all(s.error is None for s in samples)
    assert [s.id for s in samples] == [r["uuid"] for r in rows]
    for s, r in zip(samples, rows, strict=True):
        assert s.answer == r["answer_letter"] and s.choices[s.answer] == r["answer"]
        assert s.meta == {"field": r["field"], "difficulty": r["difficulty"]}


def test_supergpqa_falls_back_to_answer_text(tmp_path):
    row = {k: v for k, v in jsonl(SGP)[0].items() if k != "answer_letter"}
    (tmp_path / "train.jsonl").write_text(json.dumps(row) + "\n")
    (s,) = load("supergpqa_med", tmp_path)
    assert s.answer == "B" and s.choices["B"] == "Artemether-lumefantrine"


def test_omnimedvqa_loads_medvlmr1_rows(root):
    rows = json.loads((FIXTURES / OMNI).read_text("utf-8"))
    samples = load("omnimedvqa", root / "omnimedvqa")
    assert len(samples) == 40 and all(s.error is None for s in samples)
    assert [s.id for s in samples] == [str(i) for i in range(40)]
    for i in (0, 1, 18, 39):
        assert samples[i].answer == rows[i]["solution"]
        assert samples[i].choices[samples[i].answer] == rows[i]["answer"]
        assert samples[i].meta["modality"] == rows[i]["subset"]
        assert samples[i].media[0].source.endswith(rows[i]["image"][0])
    assert samples[0].answer == "D" and samples[18].choices == {"A": "No", "B": "Yes."}
    assert samples[0].media[0].open_image().size[0] > 0


def test_omnimedvqa_official_folder_layout(root):
    samples = load("omnimedvqa", root / "omni_official")
    # files are read in name order: ACRIMA.json, then Chest CT Scan.json
    assert [s.id for s in samples] == [
        "ACRIMA_0000",
        "ACRIMA_0001",
        "Chest CT Scan_0000",
        "Chest CT Scan_0001",
        "Chest CT Scan_0002",
    ]
    assert all(s.error is None for s in samples)
    assert [s.answer for s in samples] == ["C", "B", "B", "C", "A"]
    assert samples[3].choices == {"A": "MRI", "B": "PET", "C": "CT"}
    assert samples[4].meta == {
        "modality": CT,
        "question_type": "Disease Diagnosis",
        "dataset": "Chest CT Scan",
    }
    assert all(s.media[0].open_image() for s in samples)
    # one official QA file passed by itself: image paths still resolve from the dataset root
    qa = root / "omni_official" / "QA_information" / "Open-access" / "ACRIMA.json"
    single = load("omnimedvqa", qa)
    assert [s.id for s in single] == ["ACRIMA_0000", "ACRIMA_0001"]
    assert single[0].media[0].open_image().size[0] > 0


# ----------------------------------------------------------------------------- prompts
def test_medxpertqa_prompt_is_cut_at_answer_choices(root):
    s = load("medxpertqa_text", root / "medxpertqa_text")[0]
    assert BENCHMARKS.get("medxpertqa_text").prompt(s) == (
        "\nQuestion: Which patient scenario represents the most appropriate indication for "
        "eccentric anterior glenoid reaming during shoulder surgery?\nOptions: \n"
        "A. 70-year-old male with glenoid retroversion of 18-degrees undergoing shoulder "
        "arthroplasty\n"
        "B. 70-year-old female with humeral anteversion of 13-degrees undergoing shoulder "
        "arthroplasty\n"
        "C. 63-year-old female with glenoid retroversion of 22-degrees and mild posterior wear "
        "undergoing shoulder arthroplasty\n"
        "D. 65-year-old female with glenoid retroversion of 25-degrees undergoing shoulder "
        "arthroplasty\n"
        "E. 65-year-old female with a glenoid retroversion of 13-degrees undergoing shoulder "
        "arthroplasty\n"
        "F. 68-year-old female with glenoid retroversion of 20-degrees undergoing reverse "
        "shoulder arthroplasty\n"
        "G. 72-year-old male with glenoid retroversion of 15-degrees undergoing shoulder "
        "arthroplasty\n"
        "H. 65-year-old female with glenoid retroversion of 30-degrees and severe posterior wear "
        "undergoing shoulder arthroplasty\n"
        "I. 58-year-old male with glenoid retroversion of 12-degrees undergoing shoulder "
        "arthroplasty\n"
        "J. 55-year-old male with glenoid retroversion of 8-degrees undergoing total shoulder "
        "arthroplasty\n"
        f"{MC}"
    )


def test_supergpqa_prompt_has_unspaced_choices(root):
    s = load("supergpqa_med", root / "supergpqa_med")[3]
    assert BENCHMARKS.get("supergpqa_med").prompt(s) == (
        "\nQuestion: Which cranial nerve carries the afferent limb of the corneal reflex?\n"
        "Options: \nA.Facial nerve\nB.Ophthalmic division of the trigeminal nerve\n"
        "C.Oculomotor nerve\nD.Abducens nerve\nE.Optic nerve\n"
        f"{MC}"
    )


def test_omnimedvqa_prompt(root):
    s = load("omnimedvqa", root / "omnimedvqa")[18]
    assert BENCHMARKS.get("omnimedvqa").prompt(s) == (
        "\nQuestion: Does this image show any visible abnormality?\n"
        f"Options: \nA. No\nB. Yes.\n{MC}"
    )


# ------------------------------------------------------------------------ replay via CLI
def _run(tmp: Path, root: Path, preds: Path):
    return replay_cli(tmp, preds, BENCHES, data_dir=root)


_summary = run_summary


def _all_samples(root: Path):
    return {b: load(b, root / b) for b in BENCHES}


def test_replay_all_correct_then_all_wrong(tmp_path, root):
    samples = _all_samples(root)
    rows = [(b, s.id, gold_response(s)) for b in BENCHES for s in samples[b]]
    res = _run(tmp_path / "ok", root, write_predictions(tmp_path / "ok.jsonl", rows))
    assert res.exit_code == 0, res.output
    for bench in BENCHES:
        s = _summary(tmp_path / "ok", bench)
        assert s["n"] == len(samples[bench]) and s["errors"] == 0
        for profile in ("strict", "compat"):
            assert s["profiles"][profile]["score"] == 1.0, (bench, profile)
    sub = _summary(tmp_path / "ok", "omnimedvqa")["profiles"]["strict"]["subscores"]
    assert {k: v["n"] for k, v in sub["modality"].items()} == {MR: 14, CT: 13, "X-Ray": 13}
    sub = _summary(tmp_path / "ok", "supergpqa_med")["profiles"]["strict"]["subscores"]
    assert {k: v["n"] for k, v in sub["difficulty"].items()} == {"easy": 2, "middle": 4, "hard": 2}
    assert {k: v["n"] for k, v in sub["field"].items()} == {
        "Clinical Medicine": 2,
        "Basic Medicine": 2,
        "Pharmacy": 1,
        "Stomatology": 1,
        "Public Health and Preventive Medicine": 1,
        "Traditional Chinese Medicine": 1,
    }
    assert all(v["score"] == 1.0 for v in sub["field"].values())

    rows = [(b, s.id, wrong_response(s)) for b in BENCHES for s in samples[b]]
    res = _run(tmp_path / "bad", root, write_predictions(tmp_path / "bad.jsonl", rows))
    assert res.exit_code == 0, res.output
    for bench in BENCHES:
        strict = _summary(tmp_path / "bad", bench)["profiles"]["strict"]
        assert strict["score"] == 0.0 and strict["parse_rate"] == 1.0, bench


def test_replay_subscores_for_official_medxpertqa_fields(tmp_path):
    rows = jsonl(MXQ)[:6]
    meta = [("Diagnosis", "Skeletal", "Reasoning"), ("Treatment", "Nervous", "Understanding")]
    data = tmp_path / "medxpertqa_text"
    data.mkdir()
    with (data / "test.jsonl").open("w") as fh:
        for i, r in enumerate(rows):
            task, body, qtype = meta[i % 2]
            fh.write(json.dumps({"id": r["realidx"], "question": r["question"],
                                 "options": r["options"], "label": r["answer_idx"],
                                 "medical_task": task, "body_system": body,
                                 "question_type": qtype}) + "\n")  # fmt: skip
    preds = write_predictions(
        tmp_path / "p.jsonl",
        [("medxpertqa_text", r["realidx"], r["answer_idx"] if i % 2 == 0 else "Z")
         for i, r in enumerate(rows)],
    )  # fmt: skip
    res = runner.invoke(
        app,
        ["run", "--model", "m", "--backend", "replay", "--predictions", str(preds), "--bench",
         "medxpertqa_text", "--data-dir", str(tmp_path), "--output", str(tmp_path / "runs"),
         "--run-id", "r1"],
        catch_exceptions=False,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    sub = _summary(tmp_path, "medxpertqa_text")["profiles"]["strict"]["subscores"]
    assert (
        sub["medical_task"]["Diagnosis"]["n"] == 3
        and sub["medical_task"]["Diagnosis"]["score"] == 1.0
    )
    assert sub["body_system"]["Nervous"]["n"] == 3 and sub["body_system"]["Nervous"]["score"] == 0
    assert sub["question_type"]["Reasoning"]["score"] == 1.0


# ---------------------------------------------------------------------- response styles
STYLES = RESPONSE_STYLES


def similarity_pick(choices: list[str], r: str) -> int:
    """MedUniEval's similarity fallback: first index of the best ratio(choice, response), else 0."""
    best, k = 0.0, 0
    for i, c in enumerate(choices):
        ratio = difflib.SequenceMatcher(None, c.lower(), r).ratio()
        if ratio > best:
            best, k = ratio, i
    return k


def _gold_b_sample(bench: str, root: Path):
    return next(s for s in load(bench, root / bench) if s.answer == "B")


@pytest.mark.parametrize("bench", BENCHES)
@pytest.mark.parametrize("i", range(len(STYLES)))
def test_response_styles(bench, i, root):
    spec = BENCHMARKS.get(bench)
    sample = _gold_b_sample(bench, root)
    text = sample.choices["B"] if STYLES[i] == "<option text>" else STYLES[i]
    scores = score_text(bench, sample, text)
    committed = i < 8  # everything but the refusal and the empty answer names option B
    assert scores["strict"]["correct"] is committed
    assert scores["strict"]["parsed"] is committed
    compat = scores["compat"]
    if i in (0, 2, 3, 4, 5):  # a bare letter after MedUniEval's answer extraction
        assert (compat["correct"], compat["parsed"]) == (True, True)
    elif i == 9:  # an empty response always counts as option A
        assert (compat["correct"], compat["parsed"]) == (False, False)
    else:  # forced choice by string similarity against the formatted choices
        r = text.lower().strip()
        k = similarity_pick(spec.formatted_choices(sample.choices), r)
        assert compat["parsed"] is False
        assert compat["correct"] is (k == 1), (bench, text, k)
    if i == 6:  # the option text itself is the most similar choice in these rows
        assert compat["correct"] is True
