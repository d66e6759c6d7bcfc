"""Rad-ReStruct and MedMNIST-VQA.

Fixtures:
- ``radrestruct/``: REAL rows -- 5 of the 360 Rad-ReStruct test reports (MedEvalKit
  ``datas/Radrestruct``): 237 QA items, 228 single_choice (222 yes/no, 6 with other options) and
  9 multi_choice items (6 with one gold answer, 3 with two), which are SKIPPED -> 228 samples.
  Images are drawn here (synthetic PNGs named by the excerpt mapping).
- ``medmnist_vqa_handwritten.json``: 6 HAND-WRITTEN rows in Hulu-Med's ``medminist_test.json``
  layout (no real rows were available).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from conftest import (
    FIXTURES,
    gold_response,
    replay_cli,
    run_summary,
    score_text,
    write_predictions,
    wrong_response,
)
from typer.testing import CliRunner

from medunieval.benchmarks import BENCHMARKS
from medunieval.demo import synth_image
from medunieval.errors import ConfigError

for _name, _target in {
    "radrestruct": "radrestruct:BENCHMARK",
    "medmnist_vqa": "medmnist_vqa:BENCHMARK",
}.items():
    if _name not in BENCHMARKS.names():
        BENCHMARKS.register(_name, f"medunieval.benchmarks.{_target}")

BENCHES = ["radrestruct", "medmnist_vqa"]
RR = FIXTURES / "radrestruct"
MNIST = "medmnist_vqa_handwritten.json"
MC = "Answer with the option's letter from the given choices directly."
runner = CliRunner()


def load(bench: str, path: Path):
    spec = BENCHMARKS.get(bench)
    return spec.samples(spec.load_raw(path))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("rr_mnist")
    rr = base / "radrestruct"
    shutil.copytree(RR, rr)
    mapping = json.loads((RR / "id_to_img_mapping_frontal_reports.excerpt.json").read_text())
    for i, name in enumerate(sorted(n for names in mapping.values() for n in names)):
        synth_image(rr / "imgs" / f"{name}.png", seed=i)
    mn = base / "medmnist_vqa"
    mn.mkdir()
    shutil.copy(FIXTURES / MNIST, mn / "medminist_test.json")
    for i, row in enumerate(json.loads((FIXTURES / MNIST).read_text())):
        synth_image(mn / row["images"][0], seed=i)
    return base


def _raw_items() -> dict[str, list]:
    return {
        p.stem: json.loads(p.read_text()) for p in sorted((RR / "test_qa_pairs").glob("*.json"))
    }


# ----------------------------------------------------------------------------- loading
def test_radrestruct_counts_ids_and_skipped_multilabel(root):
    raw = _raw_items()
    kinds = Counter(item[3]["answer_type"] for items in raw.values() for item in items)
    assert sum(kinds.values()) == 237 and kinds == {"single_choice": 228, "multi_choice": 9}
    samples = load("radrestruct", root / "radrestruct")
    assert len(samples) == 228 and all(s.error is None for s in samples)
    assert samples[0].id == "100-0" and samples[-1].id == "1043-71"
    ids = {s.id for s in samples}
    assert "1015-10" not in ids and "1015-9" in ids  # 1015 item 10 is multi_choice
    for s in samples:  # each sample is its own QA item (no MedEvalKit shared-dict copies)
        report, index = s.id.rsplit("-", 1)
        q, answers, _, info = raw[report][int(index)]
        assert (s.question, s.choices[s.answer]) == (q, answers[0])
        assert s.meta["path"] == info["path"] and s.meta["answer_type"] == "single_choice"
        assert s.meta["area"] == info["path"].split("_")[0]
        assert len(s.media) == (2 if report == "1015" else 1)
    per_report = Counter(s.meta["report"] for s in samples)
    assert per_report == {"100": 28, "1005": 28, "1015": 40, "1031": 64, "1043": 68}
    # Repeated question texts in a report are real repeats (different history), not copies.
    for report in per_report:
        got = Counter(s.question for s in samples if s.meta["report"] == report)
        want = Counter(i[0] for i in raw[report] if i[3]["answer_type"] == "single_choice")
        assert got == want
    assert len({s.question for s in samples}) > 50
    assert Counter(s.meta["question_kind"] for s in samples) == {"yes_no": 222, "choice": 6}
    golds = Counter(s.answer for s in samples if s.meta["question_kind"] == "yes_no")
    assert sum(golds.values()) == 222 and set(golds) == {"A", "B"}
    s = next(s for s in samples if s.id == "1031-44")
    assert (s.answer, s.choices["B"]) == ("B", "mild")


def test_radrestruct_single_report_file_and_no_hub(root):
    samples = load("radrestruct", root / "radrestruct" / "test_qa_pairs" / "1031.json")
    assert len(samples) == 64 and samples[0].id == "1031-0" and samples[0].error is None
    with pytest.raises(ConfigError, match="distributed by the Rad-ReStruct authors"):
        BENCHMARKS.get("radrestruct").load_raw(None)


def test_medmnist_loads_handwritten_rows(root):
    samples = load("medmnist_vqa", root / "medmnist_vqa")
    assert [(s.id, s.answer, s.meta["split"]) for s in samples] == [
        ("pathmnist_0", "C", "pathmnist"),
        ("pathmnist_1", "B", "pathmnist"),  # answer stored as option text
        ("chestmnist_0", "A", "chestmnist"),
        ("dermamnist_0", "B", "dermamnist"),  # answer stored as "B. melanoma"
        ("bloodmnist_0", "H", "bloodmnist"),
        ("organamnist_0", "D", "organamnist"),
    ]
    # The trailing instruction line is not swallowed by the last option.
    assert samples[1].choices["D"] == "smooth muscle"
    assert len(samples[4].choices) == 8 and len(samples[0].media) == 1


def test_medmnist_accepts_correct_spelling(tmp_path):
    shutil.copy(FIXTURES / MNIST, tmp_path / "medmnist_test.json")
    assert len(load("medmnist_vqa", tmp_path)) == 6


# ----------------------------------------------------------------------------- prompts
def test_radrestruct_prompts(root):
    spec = BENCHMARKS.get("radrestruct")
    samples = {s.id: s for s in load("radrestruct", root / "radrestruct")}
    assert spec.prompt(samples["100-0"]) == (
        "Are there any foreign objects?\nAnswer the question using a single word or phrase."
    )
    assert spec.prompt(samples["1031-6"]) == (
        "\nQuestion: In which part of the body?\nOptions: \n"
        f"abdomen\nthoracic vertebrae\nthorax\nunspecified\n{MC}"
    )
    assert samples["1031-6"].answer == "D"


def test_medmnist_prompts(root):
    spec = BENCHMARKS.get("medmnist_vqa")
    s = load("medmnist_vqa", root / "medmnist_vqa")
    assert spec.prompt(s[0]) == (
        "Which tissue type is shown in this colon pathology image?\n"
        f"A. adipose\nB. background\nC. lymphocytes\nD. mucus\n{MC}"
    )
    # MedUniEval verbatim: removing "<image>\n" joins the question and the first option.
    assert spec.prompt(s[2]) == f"Does this chest X-ray show signs of effusion?A. yes\nB. no\n{MC}"


# ------------------------------------------------------------------------ replay via CLI
def _run(tmp: Path, root: Path, preds: Path):
    return replay_cli(tmp, preds, BENCHES, data_dir=root)


_summary = run_summary


def test_replay_all_correct_then_all_wrong(tmp_path, root):
    samples = {b: load(b, root / b) for b in BENCHES}
    rows = [(b, s.id, gold_response(s)) for b in BENCHES for s in samples[b]]
    res = _run(tmp_path / "ok", root, write_predictions(tmp_path / "ok.jsonl", rows))
    assert res.exit_code == 0, res.output
    for bench in BENCHES:
        s = _summary(tmp_path / "ok", bench)
        assert s["n"] == len(samples[bench]) and s["errors"] == 0
        for profile in ("strict", "compat"):
            assert s["profiles"][profile]["score"] == 1.0, (bench, profile)
    sub = _summary(tmp_path / "ok", "radrestruct")["profiles"]["strict"]["subscores"]
    assert {k: v["n"] for k, v in sub["question_kind"].items()} == {"yes_no": 222, "choice": 6}
    assert sum(v["n"] for v in sub["area"].values()) == 228 and "lung" in sub["area"]
    sub = _summary(tmp_path / "ok", "medmnist_vqa")["profiles"]["strict"]["subscores"]
    assert {k: v["n"] for k, v in sub["split"].items()} == {
        "pathmnist": 2, "chestmnist": 1, "dermamnist": 1, "bloodmnist": 1, "organamnist": 1,
    }  # fmt: skip

    rows = [(b, s.id, wrong_response(s)) for b in BENCHES for s in samples[b]]
    res = _run(tmp_path / "bad", root, write_predictions(tmp_path / "bad.jsonl", rows))
    assert res.exit_code == 0, res.output
    for bench in BENCHES:
        strict = _summary(tmp_path / "bad", bench)["profiles"]["strict"]
        assert strict["score"] == 0.0 and strict["parse_rate"] == 1.0, bench


# ---------------------------------------------------------------------- response styles
_score = score_text


@pytest.mark.parametrize(
    ("text", "strict", "compat"),
    [("no", True, True), ("No.", True, True), ("B", True, True), ("Yes", False, False),
     ("No, there are no foreign objects.", True, True), ("", False, False)],
)  # fmt: skip
def test_radrestruct_yes_no_styles(root, text, strict, compat):
    sample = next(s for s in load("radrestruct", root / "radrestruct") if s.id == "100-0")
    scores = _score("radrestruct", sample, text)  # gold "no" = B
    assert scores["strict"]["correct"] is strict
    assert scores["compat"]["correct"] is compat


@pytest.mark.parametrize(
    ("text", "strict", "compat"),
    [("D", True, True), ("(D)", True, False), ("The answer is D.", True, True),
     ("liver", True, True), ("\\boxed{D}", True, True), ("A", False, False)],
)  # fmt: skip
def test_medmnist_styles(root, text, strict, compat):
    sample = load("medmnist_vqa", root / "medmnist_vqa")[5]  # gold D = liver; "(D)" is
    # MedUniEval's similarity fallback under compat (not a bare letter), which picks another option
    scores = _score("medmnist_vqa", sample, text)
    assert scores["strict"]["correct"] is strict
    assert scores["compat"]["correct"] is compat
