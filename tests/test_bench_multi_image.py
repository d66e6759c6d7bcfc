"""MedXpertQA-MM, MedFrameQA and PMC-VQA: multi-image MCQ on HAND-WRITTEN fixture rows.

No real rows were available for these three; every fixture row is written by hand with exactly
the official field names, and the images are synthetic:
- ``medxpertqa_mm_test_handwritten.jsonl``: official ``MM/test.jsonl`` schema, 6 rows with 1-3
  image file names each (written under ``images/``).
- ``medframeqa_test_handwritten.json``: MedFrameQA columns with ``image_1..image_5`` as frame
  names or null; the test turns them into a parquet with HF ``Image`` features.
- ``pmc_vqa_test_2_handwritten.csv``: ``test_2.csv`` layout (unnamed index column, choice
  strings carrying their own ``" A:"`` prefixes, ``Answer`` letter); images under ``figures/``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import (
    FIXTURES,
    replay_cli,
    run_summary,
    score_text,
    write_predictions,
    wrong_response,
)
from typer.testing import CliRunner

from medunieval.benchmarks import BENCHMARKS
from medunieval.demo import synth_image
from medunieval.types import Record, Response

for _name in ("medxpertqa_mm", "medframeqa", "pmc_vqa"):
    if _name not in BENCHMARKS.names():
        BENCHMARKS.register(_name, f"medunieval.benchmarks.{_name}:BENCHMARK")

BENCHES = ["medxpertqa_mm", "medframeqa", "pmc_vqa"]
MXM = "medxpertqa_mm_test_handwritten.jsonl"
MFQ = "medframeqa_test_handwritten.json"
PMC = "pmc_vqa_test_2_handwritten.csv"
MC = "Answer with the option's letter from the given choices directly."
runner = CliRunner()


def mm_rows() -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / MXM).read_text("utf-8").splitlines()]


def mfq_rows() -> list[dict]:
    return json.loads((FIXTURES / MFQ).read_text("utf-8"))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(bench: str, path: Path):
    spec = BENCHMARKS.get(bench)
    return spec.samples(spec.load_raw(path))


def build_root(base: Path) -> tuple[Path, dict[str, Path]]:
    """``base/<bench>/`` in each local layout; returns it and every image name -> file."""
    import datasets

    files: dict[str, Path] = {}
    seed = 0

    def image(path: Path) -> Path:
        nonlocal seed
        seed += 1
        synth_image(path, seed=seed)
        files[path.name] = path
        return path

    mm = base / "medxpertqa_mm"
    (mm / "images").mkdir(parents=True)
    shutil.copy(FIXTURES / MXM, mm / "test.jsonl")
    for row in mm_rows():
        for name in row["images"]:
            image(mm / "images" / name)

    pmc = base / "pmc_vqa"
    (pmc / "figures").mkdir(parents=True)
    shutil.copy(FIXTURES / PMC, pmc / "test_2.csv")
    for line in (FIXTURES / PMC).read_text().splitlines()[1:]:
        image(pmc / "figures" / line.split(",")[1])

    mfq = base / "medframeqa"
    frames = base / "_frames"
    frames.mkdir()
    rows = mfq_rows()
    cols: dict[str, list] = {k: [r[k] for r in rows] for k in rows[0]}
    for i in range(1, 6):
        cols[f"image_{i}"] = [
            {"bytes": image(frames / r[f"image_{i}"]).read_bytes(), "path": r[f"image_{i}"]}
            if r[f"image_{i}"]
            else None
            for r in rows
        ]
    feats = {k: datasets.Value("string") for k in cols}
    feats["options"] = datasets.Sequence(datasets.Value("string"))
    feats.update({f"image_{i}": datasets.Image() for i in range(1, 6)})
    mfq.mkdir()
    datasets.Dataset.from_dict(cols, features=datasets.Features(feats)).to_parquet(
        mfq / "test.parquet"
    )
    return base, files


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    return build_root(tmp_path_factory.mktemp("multi_image"))


@pytest.fixture(scope="module")
def root(built) -> Path:
    return built[0]


# ----------------------------------------------------------------------------- loading
def test_medxpertqa_mm_loads_all_images_in_order(root, built):
    rows = mm_rows()
    samples = load("medxpertqa_mm", root / "medxpertqa_mm")
    assert [s.id for s in samples] == [r["id"] for r in rows]
    assert all(s.error is None for s in samples)
    for s, r in zip(samples, rows, strict=True):
        assert s.answer == r["label"] and s.choices == r["options"]
        assert s.question == r["question"].split("Answer Choices:")[0].rstrip()
        assert [Path(m.source).name for m in s.media] == r["images"]
        assert [hashlib.sha256(m.read_bytes()).hexdigest() for m in s.media] == [
            sha(built[1][n]) for n in r["images"]
        ]
        assert s.meta == {k: r[k] for k in ("medical_task", "body_system", "question_type")}
    assert [len(s.media) for s in samples] == [2, 1, 3, 1, 2, 1]


def test_medxpertqa_mm_hub_layout_images_next_to_mm_folder(root, tmp_path):
    shutil.copytree(root / "medxpertqa_mm" / "images", tmp_path / "images")
    (tmp_path / "MM").mkdir()
    shutil.copy(FIXTURES / MXM, tmp_path / "MM" / "test.jsonl")
    samples = load("medxpertqa_mm", tmp_path)
    assert all(m.read_bytes() for s in samples for m in s.media)


def test_medframeqa_loads_non_null_frames_in_order(root, built):
    rows = mfq_rows()
    raw = BENCHMARKS.get("medframeqa").load_raw(root / "medframeqa")
    assert all(repr(r["image_1"]) == "<lazy>" for r in raw.rows)  # bytes stay on disk
    samples = BENCHMARKS.get("medframeqa").samples(raw)
    assert [s.id for s in samples] == [r["question_id"] for r in rows]
    assert all(s.error is None for s in samples)
    assert [s.answer for s in samples] == ["B", "A", "A", "C", "B", "B"]  # letters and texts
    for s, r in zip(samples, rows, strict=True):
        names = [r[f"image_{i}"] for i in range(1, 6) if r[f"image_{i}"]]
        assert [hashlib.sha256(m.read_bytes()).hexdigest() for m in s.media] == [
            sha(built[1][n]) for n in names
        ]
        assert s.meta["frame_count"] == str(len(names)) and s.meta["modality"] == r["modality"]
        assert s.choices == dict(zip("ABCD", r["options"], strict=True))


def test_pmc_vqa_strips_own_prefix_and_rebuilds_csv_strings(root):
    samples = load("pmc_vqa", root / "pmc_vqa")
    assert [s.id for s in samples] == [str(i) for i in range(6)]
    assert [s.answer for s in samples] == ["A", "B", "C", "D", "A", "B"]
    assert samples[0].choices == {"A": "Liver ", "B": "Spleen ", "C": "Kidney ", "D": "Pancreas "}
    spec = BENCHMARKS.get("pmc_vqa")
    assert spec.formatted_choices(samples[0].choices) == [
        " A:Liver ",
        " B:Spleen ",
        " C:Kidney ",
        " D:Pancreas ",
    ]  # the CSV strings, byte for byte
    assert Path(samples[1].media[0].source).parts[-2:] == ("figures", "PMC3042925_fig1_7.jpg")
    assert samples[1].media[0].open_image().size[0] > 0


def test_pmc_vqa_falls_back_to_images_folder_without_garbage_path(root, tmp_path):
    shutil.copy(root / "pmc_vqa" / "test_2.csv", tmp_path / "test_2.csv")
    shutil.copytree(root / "pmc_vqa" / "figures", tmp_path / "images")
    s = load("pmc_vqa", tmp_path)[0]
    assert Path(s.media[0].source) == (tmp_path / "images" / "PMC8253867_Fig2_41.jpg").resolve()
    assert s.media[0].read_bytes()


# ----------------------------------------------------------------------------- prompts
def test_prompt_snapshots(root):
    mm = load("medxpertqa_mm", root / "medxpertqa_mm")[1]
    assert BENCHMARKS.get("medxpertqa_mm").prompt(mm) == (
        "\nQuestion: A 7-year-old girl falls on her outstretched hand. Based on the radiograph, "
        "what is the best next step in management?\nOptions: \nA. Long arm cast\n"
        "B. Closed reduction and percutaneous pinning\nC. Open reduction and internal fixation\n"
        f"D. Sling and early mobilization\nE. MRI of the elbow\n{MC}"
    )
    fq = load("medframeqa", root / "medframeqa")[2]
    assert BENCHMARKS.get("medframeqa").prompt(fq) == (
        "\nQuestion: Based on the MRI frames shown in order, which structure is compressed by "
        "the mass?\nOptions: \nA.Optic chiasm\nB.Cerebral aqueduct\nC.Fourth ventricle\n"
        f"D.Internal capsule\n{MC}"
    )
    pmc = load("pmc_vqa", root / "pmc_vqa")[1]
    assert BENCHMARKS.get("pmc_vqa").prompt(pmc) == (
        "\nQuestion: What imaging modality was used?\nOptions: \n"
        f" A:CT scan \n B:X-ray \n C:MRI \n D:Ultrasound \n{MC}"
    )


# ------------------------------------------------------------------------ replay via CLI
def _run(tmp: Path, root: Path, preds: Path, benches=BENCHES):
    return replay_cli(tmp, preds, benches, data_dir=root)


_summary = run_summary


def _records(tmp: Path, bench: str) -> list[dict]:
    path = tmp / "runs" / "r1" / bench / "records.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_replay_all_correct_then_all_wrong(tmp_path, root):
    samples = {b: load(b, root / b) for b in BENCHES}
    rows = [(b, s.id, s.answer) for b in BENCHES for s in samples[b]]
    res = _run(tmp_path / "ok", root, write_predictions(tmp_path / "ok.jsonl", rows))
    assert res.exit_code == 0, res.output
    for bench in BENCHES:
        s = _summary(tmp_path / "ok", bench)
        assert s["n"] == 6 and s["errors"] == 0, bench
        for profile in ("strict", "compat"):
            assert s["profiles"][profile]["score"] == 1.0, (bench, profile)
        # one sha256 per image, in order
        for rec, smp in zip(_records(tmp_path / "ok", bench), samples[bench], strict=True):
            assert rec["sample_id"] == smp.id
            assert [m["sha256"] for m in rec["media"]] == [
                hashlib.sha256(m.read_bytes()).hexdigest() for m in smp.media
            ]
    sub = _summary(tmp_path / "ok", "medframeqa")["profiles"]["strict"]["subscores"]
    assert {k: v["n"] for k, v in sub["frame_count"].items()} == {"2": 2, "3": 2, "4": 1, "5": 1}
    assert {k: v["n"] for k, v in sub["modality"].items()} == {
        "Ultrasound": 1, "CT": 2, "MRI": 1, "X-ray": 1, "Other": 1
    }  # fmt: skip
    sub = _summary(tmp_path / "ok", "medxpertqa_mm")["profiles"]["strict"]["subscores"]
    assert {k: v["n"] for k, v in sub["medical_task"].items()} == {
        "Diagnosis": 3, "Treatment": 2, "Basic Science": 1
    }  # fmt: skip
    assert sub["question_type"]["Reasoning"] == {"score": 1.0, "correct": 3, "n": 3}

    rows = [(b, s.id, wrong_response(s)) for b in BENCHES for s in samples[b]]
    res = _run(tmp_path / "bad", root, write_predictions(tmp_path / "bad.jsonl", rows))
    assert res.exit_code == 0, res.output
    for bench in BENCHES:
        strict = _summary(tmp_path / "bad", bench)["profiles"]["strict"]
        assert strict["score"] == 0.0 and strict["parse_rate"] == 1.0, bench


def test_missing_second_image_is_a_counted_missing_media_error(tmp_path, root):
    data = tmp_path / "data"
    shutil.copytree(root / "medxpertqa_mm", data / "medxpertqa_mm")
    (data / "medxpertqa_mm" / "images" / "MM-0-b.jpeg").unlink()
    samples = load("medxpertqa_mm", data / "medxpertqa_mm")
    preds = write_predictions(
        tmp_path / "p.jsonl", [("medxpertqa_mm", s.id, s.answer) for s in samples]
    )
    res = _run(tmp_path, data, preds, ["medxpertqa_mm"])
    assert res.exit_code == 3, res.output  # 1 of 6 (> 5% errors)
    s = _summary(tmp_path, "medxpertqa_mm")
    assert s["n"] == 6 and s["errors"] == 1
    assert s["error_kinds"] == {"missing_media": 1}
    assert s["profiles"]["strict"]["score"] == pytest.approx(5 / 6)
    rec = next(r for r in _records(tmp_path, "medxpertqa_mm") if r["sample_id"] == "MM-0")
    assert "MM-0-b.jpeg" in json.dumps(rec)


# ---------------------------------------------------------------------- response styles
STYLES = ["B", "(B)", "The answer is B.", "\\boxed{B}", "<option text>",
          "I cannot answer this question.", ""]  # fmt: skip
GOLD_B = {"medxpertqa_mm": "MM-0", "medframeqa": "MFQ-0", "pmc_vqa": "1"}


def similarity_pick(choices: list[str], r: str) -> int:
    """MedUniEval's similarity fallback: first index of the best ratio(choice, response), else 0."""
    best, k = 0.0, 0
    for i, c in enumerate(choices):
        ratio = difflib.SequenceMatcher(None, c.lower(), r).ratio()
        if ratio > best:
            best, k = ratio, i
    return k


@pytest.mark.parametrize("bench", BENCHES)
@pytest.mark.parametrize("i", range(len(STYLES)))
def test_response_styles(bench, i, root):
    spec = BENCHMARKS.get(bench)
    sample = next(s for s in load(bench, root / bench) if s.id == GOLD_B[bench])
    assert sample.answer == "B"
    text = sample.choices["B"].strip() if STYLES[i] == "<option text>" else STYLES[i]
    scores = score_text(bench, sample, text)
    committed = i < 5  # all but the refusal and the empty answer name option B
    assert scores["strict"]["correct"] is committed
    assert scores["strict"]["parsed"] is committed
    compat = scores["compat"]
    if i in (0, 2, 3):  # a bare letter after MedUniEval's answer parsing
        assert (compat["correct"], compat["parsed"]) == (True, True)
    elif i == 6:  # an empty response is forced onto option A
        assert (compat["correct"], compat["parsed"]) == (False, False)
    else:  # "(b)", option text, refusal: forced choice by similarity to the formatted choices
        k = similarity_pick(spec.formatted_choices(sample.choices), text.lower().strip())
        assert compat["parsed"] is False
        assert compat["correct"] is (k == 1), (bench, text, k)
    if i == 4:  # the option text is most similar to its own choice string
        assert compat["correct"] is True


def test_compat_judges_the_raw_response_where_medunieval_does():
    from medunieval.scoring.profiles import compat_score

    choices = {"A": "Left lung", "B": "Right lung", "C": "Heart", "D": "Liver"}
    text = "B\n\n<answer>C</answer>"
    rec = Record("1", "x", "B", "mcq", "k", "p", Response(text=text), choices=choices)
    # PMC-VQA / MedFrameQA: no <answer> extraction first, so the first-paragraph rule reads "b".
    assert compat_score(BENCHMARKS.get("medframeqa"), rec)["extracted"] == "b"
    # MedMNIST-VQA: MedUniEval judges the raw response too (not the <answer> content).
    assert compat_score(BENCHMARKS.get("medmnist_vqa"), rec)["extracted"] == "b"
    # OmniMedVQA extracts <answer> first, so it reads "c".
    assert compat_score(BENCHMARKS.get("omnimedvqa"), rec)["extracted"] == "c"
