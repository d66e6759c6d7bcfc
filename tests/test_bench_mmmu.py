"""MMMU-Med: the official MMMU scorer (compat), the benchmark mapping, and end-to-end replay runs.

Fixtures:
- ``mmmu_med_validation_handwritten.json``: 8 hand-written rows in the official ``MMMU/MMMU``
  validation schema (``options`` as a string list literal, one open question, one row with two
  images; ``images`` = how many synthetic images the test attaches, not an MMMU field).
- ``tests/fixtures/mmmu_medical_test_id_to_choices.json`` (+ ``_answers``): real test
  choices/answers (MedEvalKit ``utils/MMMU``), used for parser cases only (no questions).
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
from conftest import FIXTURES, replay_cli, run_records, run_summary, write_predictions
from PIL import Image
from typer.testing import CliRunner

from medunieval.benchmarks import BENCHMARKS
from medunieval.cli import app
from medunieval.errors import ConfigError
from medunieval.scoring import mmmu
from medunieval.scoring.profiles import score_record
from medunieval.types import Record, Response

if "mmmu_med" not in BENCHMARKS.names():
    BENCHMARKS.register("mmmu_med", "medunieval.benchmarks.mmmu:BENCHMARK")

REAL = FIXTURES  # the real MMMU test answers/choices, copied into tests/fixtures
CHOICES = ["A", "B", "C", "D"]
INDEX2ANS = {"A": "Right Atrium", "B": "Left Atrium", "C": "Right Ventricle", "D": "Left Ventricle"}
runner = CliRunner()


def parse(text: str, seed: str = "s") -> str:
    return mmmu.parse_multi_choice_response(text, CHOICES, INDEX2ANS, random.Random(seed))


# ------------------------------------------------------------------------------ MC parser


@pytest.mark.parametrize(
    ("text", "letter", "rule"),
    [
        ("B", "B", "letter"),
        ("B.", "B", "letter"),
        ("The answer is B because", "B", "letter"),
        ("(B) Left Atrium", "B", "bracket"),
        ("(A) or maybe (C)", "C", "bracket"),  # several: the last by rfind
        ("Between A and C, I pick C ", "C", "letter"),
        ("C is wrong, A is right", "A", "letter"),
        ("(D) looks tempting but C is it", "D", "bracket"),  # brackets win over bare letters
        ("<answer>D</answer> then A", "D", "letter"),
        ("\\boxed{C}", "C", "letter"),
        ("It is clearly the left ventricle in this image", "D", "text"),
        ("Not the right atrium, it is the left atrium here", "B", "text"),  # last by rfind
    ],
)
def test_multi_choice_golden_cases(text, letter, rule):
    got, how = mmmu.parse_multi_choice(text, CHOICES, INDEX2ANS, random.Random(0))
    assert (got, how) == (letter, rule)


def test_lowercase_letter_and_short_text_fall_back_to_a_seeded_random_choice():
    for text in ("b", "left atrium", "", "I don't know"):
        assert mmmu.parse_multi_choice(text, CHOICES, INDEX2ANS, random.Random(1))[1] == "random"
    v = mmmu.score("B", "b", "mcq", INDEX2ANS, "validation_Pharmacy_3", seed=7)
    assert v["parsed"] is False and v["rule"] == "random" and v["extracted"] in CHOICES
    # Reproducible: same seed + id -> same pick, whatever was scored before or in between.
    ids = [f"validation_Pharmacy_{i}" for i in range(30)]
    first = {i: mmmu.score("A", "b", "mcq", INDEX2ANS, i, seed=7)["extracted"] for i in ids}
    again = {i: mmmu.score("A", "b", "mcq", INDEX2ANS, i, seed=7)["extracted"] for i in ids[::-1]}
    assert first == again
    assert len(set(first.values())) > 1  # it is a random choice, not a constant
    other = {i: mmmu.score("A", "b", "mcq", INDEX2ANS, i, seed=8)["extracted"] for i in ids}
    assert other != first


def test_parser_on_real_mmmu_test_choices():
    id2c = json.loads((REAL / "mmmu_medical_test_id_to_choices.json").read_text())
    answers = json.loads((REAL / "mmmu_medical_test_answers.json").read_text())
    checked = 0
    for sid, c in list(id2c.items())[:60]:
        gold = answers[sid]["ground_truth"]
        if answers[sid]["question_type"] != "multiple-choice":
            continue
        all_c, i2a = c["all_choices"], c["index2ans"]
        rng = random.Random(0)
        assert mmmu.parse_multi_choice_response(f"({gold})", all_c, i2a, rng) == gold
        assert mmmu.parse_multi_choice_response(f"{gold}.", all_c, i2a, rng) == gold
        long = f"After reviewing the findings the best option here is {i2a[gold]}"
        got, rule = mmmu.parse_multi_choice(long, all_c, i2a, rng)
        if rule == "text" and not any(
            i2a[gold].lower() in v.lower() or v.lower() in i2a[gold].lower()
            for k, v in i2a.items()
            if k != gold
        ):
            assert got == gold, sid
        checked += 1
    assert checked >= 50
    sid = "test_Basic_Medical_Science_1"  # Left Atrium = B
    assert mmmu.parse_multi_choice(
        "The vessel drains into the left atrium of the heart", *id2c[sid].values(), random.Random()
    ) == ("B", "text")


# ---------------------------------------------------------------------------- open questions


@pytest.mark.parametrize(
    ("gold", "response", "correct"),
    [
        ("12", "12", True),
        ("12", "12.0", True),
        ("12.0", "The answer is 12 mg", True),
        ("1,200", "1200", True),
        ("0.333", "so it is 0.33", True),
        ("12", "13", False),
        ("12", "120", False),
        ("aspirin", "The drug is Aspirin.", True),
        ("aspirin", "<answer>aspirin</answer>", True),
        ("aspirin", "ibuprofen", False),
        ("['24/7', 'always']", "It is always open", True),
        ("C", "Option c", True),
    ],
)
def test_open_questions_follow_the_official_eval_open(gold, response, correct):
    v = mmmu.score(gold, response, "open", None, "validation_Pharmacy_1")
    assert v["correct"] is correct, v


def test_open_parse_is_a_list_not_the_raw_string():
    assert mmmu.parse_open_response("12") == [12.0]
    preds = mmmu.parse_open_response("The final answer is 12 mg")
    assert "12 mg" in preds and 12.0 in preds
    assert mmmu.eval_open("12", preds)
    # MedUniEval passes the raw string: iterating characters never matches.
    assert not mmmu.eval_open("12", "12")


@pytest.mark.parametrize(
    ("text", "numbers"),
    [("5mg", []), ("5 mg", ["5"]), ("take 2.5mg", ["2.5"]), ("x=12", ["12"]),
     ("1e-3", ["1e-3", "-3"]), ("3rd", [])],  # "-3" too: the official parser's own quirk
)  # fmt: skip
def test_extract_numbers_keeps_the_official_word_boundary(text, numbers):
    # Official MMMU ``extract_numbers``: the simple pattern is ``\d+\b``, so a number glued to
    # a unit ("5mg") is not a number; a decimal still is ("2.5mg": ``\d+\.\d+`` has no \b).
    assert mmmu.extract_numbers(text) == numbers
    assert mmmu.eval_open("5", mmmu.parse_open_response("The dose is 5mg")) is False


# ------------------------------------------------------------------------- data + end to end


def _png(value: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (value, value, value)).save(buf, format="PNG")
    return buf.getvalue()


def hand_rows() -> list[dict]:
    return json.loads((FIXTURES / "mmmu_med_validation_handwritten.json").read_text("utf-8"))


def write_parquet(path: Path, rows: list[dict]) -> Path:
    import datasets

    cols = ["id", "question", "options", "answer", "question_type", "subfield", "img_type"]
    data: dict[str, list] = {c: [r[c] for r in rows] for c in cols}
    for k in range(1, 8):
        data[f"image_{k}"] = [
            {"bytes": _png(20 * i + k), "path": f"{r['id']}_{k}.png"} if k <= r["images"] else None
            for i, r in enumerate(rows)
        ]
    feats = {c: datasets.Value("string") for c in cols}
    feats.update({f"image_{k}": datasets.Image() for k in range(1, 8)})
    ds = datasets.Dataset.from_dict(data, features=datasets.Features(feats))
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_parquet(path)
    return path


@pytest.fixture(scope="module")
def mmmu_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mmmu")
    write_parquet(root / "validation.parquet", hand_rows())
    return root


def load(path: Path):
    spec = BENCHMARKS.get("mmmu_med")
    return spec.samples(spec.load_raw(path))


def test_official_schema_maps_to_samples(mmmu_root):
    samples = {s.id: s for s in load(mmmu_root)}
    assert len(samples) == 8 and not any(s.error for s in samples.values())
    s = samples["validation_Basic_Medical_Science_2"]
    assert s.answer_type == "mcq" and s.answer == "C"
    assert s.choices["D"] == "Pineal body (it's calcified)"
    assert len(s.media) == 2
    assert s.media[0].source.endswith("[image_1]") and s.media[1].source.endswith("[image_2]")
    assert s.media[0].open_image().getpixel((0, 0)) == (21, 21, 21)
    assert s.media[1].open_image().getpixel((0, 0)) == (22, 22, 22)
    assert s.meta["subject"] == "Basic_Medical_Science"
    o = samples["validation_Pharmacy_1"]
    assert o.answer_type == "open" and o.answer == "12" and o.choices is None
    spec = BENCHMARKS.get("mmmu_med")
    assert spec.prompt(o) == (f"{o.question}\nAnswer the question using a single word or phrase.")
    assert spec.prompt(s) == (
        "\nQuestion: Compare <image 1> and <image 2>. Which structure is enlarged in the second "
        "image?\nOptions: \nA. Thalamus\nB. Hypothalamus\nC. Pituitary gland\n"
        "D. Pineal body (it's calcified)\nAnswer with the option's letter from the given choices "
        "directly."
    )


def test_validation_benchmark_refuses_test_rows_with_a_clear_message(tmp_path):
    rows = hand_rows()[:2]
    for r in rows:
        r["id"] = r["id"].replace("validation_", "test_")
        r["answer"] = "?"
    path = tmp_path / "test.jsonl"
    path.write_text("\n".join(json.dumps({k: v for k, v in r.items()}) for r in rows))
    with pytest.raises(ConfigError, match="MMMU test answers are not public"):
        load(path)


def test_non_medical_subjects_are_skipped(tmp_path):
    rows = hand_rows()[:1] + [dict(hand_rows()[0], id="validation_Art_Theory_1", images=0)]
    path = tmp_path / "validation.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    assert [s.id for s in load(path)] == ["validation_Basic_Medical_Science_1"]


def _run(tmp: Path, data: Path, preds: Path):
    res = replay_cli(tmp, preds, ["mmmu_med"], "--data", f"mmmu_med={data}")
    assert res.exit_code == 0, res.output
    return run_summary(tmp, "mmmu_med"), run_records(tmp, "mmmu_med")


def test_all_correct_scores_one_in_both_profiles(tmp_path, mmmu_root):
    samples = load(mmmu_root)
    answers = {"validation_Pharmacy_1": "12.0"}  # an open answer, number-normalised
    rows = [("mmmu_med", s.id, answers.get(s.id, s.answer)) for s in samples]
    summary, recs = _run(tmp_path, mmmu_root, write_predictions(tmp_path / "p.jsonl", rows))
    assert summary["n"] == 8 and summary["errors"] == 0
    assert summary["profiles"]["compat"]["score"] == 1.0
    assert summary["profiles"]["compat"]["parse_rate"] == 1.0
    # Strict is exact match on the open answer: "12.0" != "12"; the letters are all right.
    assert summary["profiles"]["strict"]["correct"] == 7
    subs = summary["profiles"]["compat"]["subscores"]["subject"]
    assert set(subs) == {
        "Basic_Medical_Science",
        "Clinical_Medicine",
        "Diagnostics_and_Laboratory_Medicine",
        "Pharmacy",
        "Public_Health",
    }
    assert subs["Public_Health"]["n"] == 2 and subs["Public_Health"]["score"] == 1.0
    two = next(r for r in recs if r["sample_id"] == "validation_Basic_Medical_Science_2")
    assert len(two["media"]) == 2
    assert two["media"][0] != two["media"][1]


def test_all_gold_text_is_one_in_strict_and_all_wrong_is_zero(tmp_path, mmmu_root):
    samples = load(mmmu_root)
    rows = [("mmmu_med", s.id, s.answer) for s in samples]
    summary, _ = _run(tmp_path, mmmu_root, write_predictions(tmp_path / "p.jsonl", rows))
    for profile in ("strict", "compat"):
        assert summary["profiles"][profile]["score"] == 1.0, profile

    wrong = [
        ("mmmu_med", s.id, next(k for k in s.choices if k != s.answer) if s.choices else "7")
        for s in samples
    ]
    tmp2 = tmp_path / "w"
    tmp2.mkdir()
    summary, _ = _run(tmp2, mmmu_root, write_predictions(tmp2 / "p.jsonl", wrong))
    assert summary["profiles"]["strict"]["score"] == 0.0
    assert summary["profiles"]["strict"]["parse_rate"] == 1.0
    assert summary["profiles"]["compat"]["score"] == 0.0
    subs = summary["profiles"]["strict"]["subscores"]["subject"]
    assert all(v["score"] == 0.0 for v in subs.values())


def test_compat_dispatch_uses_the_mmmu_scorer():
    spec = BENCHMARKS.get("mmmu_med")
    rec = Record(
        sample_id="validation_Pharmacy_9",
        benchmark="mmmu_med",
        answer="B",
        answer_type="mcq",
        request_key=None,
        prompt=None,
        response=Response(text="the answer is b"),  # lowercase: MMMU ignores it
        choices=dict(INDEX2ANS),
    )
    scores = score_record(spec, rec)
    assert scores["compat"]["rule"] == "random" and scores["compat"]["parsed"] is False
    assert scores["strict"]["extracted"] == "B"  # strict rules are unchanged
    again = score_record(spec, rec)
    assert again["compat"] == scores["compat"]


def test_test_split_runs_without_a_score_and_writes_a_submission(tmp_path):
    rows = hand_rows()[:3]
    for r in rows:
        r["id"] = r["id"].replace("validation_", "test_")
        r["answer"] = "?"
    data = write_parquet(tmp_path / "data" / "test.parquet", rows)
    ids = [r["id"] for r in rows]
    preds = write_predictions(
        tmp_path / "p.jsonl",
        [("mmmu_med_test", ids[0], "The answer is (B)."), ("mmmu_med_test", ids[1], "C")],
    )
    args = [
        "run",
        "--model",
        "m",
        "--backend",
        "replay",
        "--predictions",
        preds,
        "--bench",
        "mmmu_med_test",
        "--data",
        f"mmmu_med_test={data}",
        "--output",
        tmp_path / "runs",
        "--run-id",
        "t",
    ]
    res = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 3, res.output  # 1 of 3 without a prediction (> 5% errors)
    folder = tmp_path / "runs" / "t" / "mmmu_med_test"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["scored"] is False and "profiles" not in summary and summary["n"] == 3
    assert summary["error_kinds"] == {"missing_prediction": 1}
    sub = json.loads((folder / "submission.json").read_text())
    assert sub == {ids[0]: "B", ids[1]: "C", ids[2]: ""}
    assert "answers are not public" in res.output
    again = runner.invoke(app, ["rescore", str(tmp_path / "runs" / "t")])
    assert again.exit_code == 0 and json.loads((folder / "submission.json").read_text()) == sub
