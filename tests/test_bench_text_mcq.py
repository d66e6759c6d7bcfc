"""Text MCQ benchmarks MMLU-Pro-Med, MMLU-Med and Medbullets (op4/op5) on real rows.

Fixtures (real rows; provenance in tests/fixtures/README.md):
- ``mmlu_pro_health_hulumed.json``: first 40 of Hulu-Med's ``mmlu_pro_test.json`` rows;
  ``mmlu_pro_test.official_schema.jsonl``: the same 40 rows rewritten with the official
  ``TIGER-Lab/MMLU-Pro`` field names (``question``, ``options`` list) -- a conversion.
- ``mmlu_medical_test.medagents.jsonl``: first 8 rows of each of the 6 subjects (48 rows).
- ``mmlu_medical_genetics_test.csv``: first 40 rows of the flattened CSV.
- ``medbullets_op4_official_schema.excerpt.csv``: whole (5 rows, official columns).
- ``medbullets_op5_test.medagents.jsonl``: first 40 rows (MedAgentsBench conversion).
"""

from __future__ import annotations

import csv
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
from medunieval.data.sources import RawRows

for _name, _target in {
    "mmlu_pro_med": "mmlu_pro:BENCHMARK",
    "mmlu_med": "mmlu_med:BENCHMARK",
    "medbullets_op4": "medbullets:BENCHMARK_OP4",
    "medbullets_op5": "medbullets:BENCHMARK_OP5",
}.items():
    if _name not in BENCHMARKS.names():
        BENCHMARKS.register(_name, f"medunieval.benchmarks.{_target}")

BENCHES = ["mmlu_pro_med", "mmlu_med", "medbullets_op4", "medbullets_op5"]
LAYOUT = {  # bench -> (fixture, name in the benchmark's data folder)
    "mmlu_pro_med": ("mmlu_pro_health_hulumed.json", "mmlu_pro_test.json"),
    "mmlu_med": ("mmlu_medical_test.medagents.jsonl", "test.jsonl"),
    "medbullets_op4": ("medbullets_op4_official_schema.excerpt.csv", "medbullets_op4.csv"),
    "medbullets_op5": ("medbullets_op5_test.medagents.jsonl", "test.jsonl"),
}
MC = "Answer with the option's letter from the given choices directly."
runner = CliRunner()


def load(bench: str, path: Path):
    spec = BENCHMARKS.get(bench)
    return spec.samples(spec.load_raw(path))


def jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / name).read_text("utf-8").splitlines()]


@pytest.fixture(scope="module")
def text_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("textmcq")
    for bench, (src, dst) in LAYOUT.items():
        (root / bench).mkdir()
        shutil.copy(FIXTURES / src, root / bench / dst)
    return root


# ------------------------------------------------------------------------------ loading


def test_mmlu_pro_hulumed_and_official_layouts_agree():
    src = json.loads((FIXTURES / "mmlu_pro_health_hulumed.json").read_text("utf-8"))
    hulu = load("mmlu_pro_med", FIXTURES / "mmlu_pro_health_hulumed.json")
    official = load("mmlu_pro_med", FIXTURES / "mmlu_pro_test.official_schema.jsonl")
    assert len(hulu) == len(official) == 40
    assert all(s.error is None for s in hulu + official)
    assert [s.id for s in hulu][:3] == ["6001", "6002", "6003"]
    for row, a, b in zip(src, hulu, official, strict=True):
        assert a.id == b.id == str(row["question_id"])
        assert a.answer == b.answer == row["answer"] == "ABCDEFGHIJ"[row["answer_index"]]
        assert a.choices == b.choices == row["choices"]
        assert a.question == b.question == row["problem"]
        assert a.meta == {"source": row["src"]}
    short = [s for s in hulu if len(s.choices) < 10]
    assert short, "fixture must hold questions with fewer than 10 options"
    assert hulu[0].choices == {
        "A": "Herbal remedies",
        "B": "Use of antibiotics",
        "C": "Regular intake of vitamins",
        "D": "Administration of tetanus vaccine",
        "E": "Attention to sewage control and hygiene",
        "F": "Natural immunity acquired through exposure",
        "G": "Use of antiviral drugs",
    }
    for s in short:
        assert None not in s.choices.values() and "None" not in s.choices.values()
        assert "None" not in BENCHMARKS.get("mmlu_pro_med").prompt(s)


def test_mmlu_pro_drops_datasets_36_none_padding_and_filters_category():
    row = json.loads((FIXTURES / "mmlu_pro_health_hulumed.json").read_text("utf-8"))[1]
    padded = {**row, "choices": {**row["choices"], **{k: None for k in "EFGHIJ"}}}
    other = {**row, "question_id": 1, "category": "law"}
    spec = BENCHMARKS.get("mmlu_pro_med")
    samples = spec.samples(RawRows([padded, other], "mem", "x"))
    assert len(samples) == 1 and list(samples[0].choices) == ["A", "B", "C", "D"]


def test_mmlu_med_layouts():
    rows = jsonl("mmlu_medical_test.medagents.jsonl")
    samples = load("mmlu_med", FIXTURES / "mmlu_medical_test.medagents.jsonl")
    assert len(samples) == 48 and all(s.error is None for s in samples)
    for row, s in zip(rows, samples, strict=True):
        assert (s.id, s.answer, s.choices) == (
            str(row["realidx"]),
            row["answer_idx"],
            row["options"],
        )
        assert s.meta == {"subject": row["subject"]}
    assert {s.meta["subject"] for s in samples} == {
        "anatomy",
        "clinical_knowledge",
        "college_biology",
        "college_medicine",
        "medical_genetics",
        "professional_medicine",
    }
    # HF cais/mmlu rows: choices list + int answer; non-medical subjects are filtered out.
    hf = [
        {
            "question": r["question"],
            "subject": r["subject"],
            "choices": list(r["options"].values()),
            "answer": "ABCD".index(r["answer_idx"]),
        }
        for r in rows[:5]
    ] + [{"question": "q", "subject": "astronomy", "choices": ["a", "b", "c", "d"], "answer": 0}]
    mapped = BENCHMARKS.get("mmlu_med").samples(RawRows(hf, "mem", "x"))
    assert [(s.answer, s.choices) for s in mapped] == [(s.answer, s.choices) for s in samples[:5]]


def test_mmlu_med_flattened_csv_takes_subject_from_file_name(tmp_path):
    with (FIXTURES / "mmlu_medical_genetics_test.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    plain = load("mmlu_med", FIXTURES / "mmlu_medical_genetics_test.csv")
    assert len(plain) == 40
    for row, s in zip(rows, plain, strict=True):
        assert s.answer == "ABCD"[int(row["answer"])]
        assert list(s.choices.values()) == [row[f"choice{i}"] for i in range(4)]
    assert plain[0].meta == {"subject": "medical_genetics"}  # "mmlu_medical_genetics_test.csv"
    assert [s.answer for s in plain[:4]] == ["B", "A", "A", "C"]
    shutil.copy(FIXTURES / "mmlu_medical_genetics_test.csv", tmp_path / "genetics.csv")
    assert load("mmlu_med", tmp_path / "genetics.csv")[0].meta == {}
    # The CSV rows are the same questions as the MedAgentsBench medical_genetics rows.
    med = [
        s
        for s in load("mmlu_med", FIXTURES / "mmlu_medical_test.medagents.jsonl")
        if s.meta["subject"] == "medical_genetics"
    ]
    by_q = {s.question: s for s in plain}
    for s in med:
        assert by_q[s.question].answer == s.answer and by_q[s.question].choices == s.choices


def test_medbullets_op4_official_csv():
    samples = load("medbullets_op4", FIXTURES / "medbullets_op4_official_schema.excerpt.csv")
    assert [s.id for s in samples] == [
        "https://bit.ly/47KxMQs",
        "https://bit.ly/3GZtkBx",
        "https://step2.medbullets.com/testview?qid=217175",
        "https://bit.ly/40qTdn2",
        "https://bit.ly/3QOJp1p",
    ]
    assert [s.answer for s in samples] == ["C", "B", "A", "D", "A"]
    assert all(list(s.choices) == ["A", "B", "C", "D"] for s in samples)
    assert samples[0].choices["C"] == "Purkinje fibers > atria > ventricles > AV node"


def test_medbullets_op5_medagents_and_official_columns():
    rows = jsonl("medbullets_op5_test.medagents.jsonl")
    samples = load("medbullets_op5", FIXTURES / "medbullets_op5_test.medagents.jsonl")
    assert len(samples) == 40 and all(s.error is None for s in samples)
    for row, s in zip(rows, samples, strict=True):
        assert (s.id, s.answer, s.choices) == (
            str(row["realidx"]),
            row["answer_idx"],
            row["options"],
        )
        assert len(s.choices) == 5
    official = [
        {
            "link": f"L{i}",
            "question": r["question"],
            "answer_idx": r["answer_idx"],
            "answer": r["answer"],
            **{f"op{c}": r["options"][c.upper()] for c in "abcde"},
        }
        for i, r in enumerate(rows[:5])
    ]
    mapped = BENCHMARKS.get("medbullets_op5").samples(RawRows(official, "mem", "x"))
    assert [s.id for s in mapped] == [f"L{i}" for i in range(5)]
    assert [(s.answer, s.choices) for s in mapped] == [(s.answer, s.choices) for s in samples[:5]]


# ------------------------------------------------------------------------------ prompts


def test_prompt_snapshots():
    mmlu = load("mmlu_med", FIXTURES / "mmlu_medical_test.medagents.jsonl")[0]
    assert BENCHMARKS.get("mmlu_med").prompt(mmlu) == (
        "\nQuestion: A lesion causing compression of the facial nerve at the stylomastoid foramen "
        "will cause ipsilateral\nOptions: \nA. paralysis of the facial muscles.\n"
        "B. paralysis of the facial muscles and loss of taste.\n"
        "C. paralysis of the facial muscles, loss of taste and lacrimation.\n"
        "D. paralysis of the facial muscles, loss of taste, lacrimation and decreased salivation."
        f"\n{MC}"
    )
    mb = load("medbullets_op4", FIXTURES / "medbullets_op4_official_schema.excerpt.csv")[0]
    assert BENCHMARKS.get("medbullets_op4").prompt(mb) == (
        "\nQuestion: A 42-year-old woman is enrolled in a randomized controlled trial to study "
        "cardiac function in the setting of several different drugs. She is started on verapamil "
        "and instructed to exercise at 50% of her VO2 max while several cardiac parameters are "
        "being measured. During this experiment, which of the following represents the relative "
        "conduction speed through the heart from fastest to slowest?\nOptions: \n"
        "A.AV node > ventricles > atria > Purkinje fibers\n"
        "B.Purkinje fibers > ventricles > atria > AV node\n"
        "C.Purkinje fibers > atria > ventricles > AV node\n"
        "D.Purkinje fibers > AV node > ventricles > atria\n"
        f"{MC}"
    )
    op5 = load("medbullets_op5", FIXTURES / "medbullets_op5_test.medagents.jsonl")[0]
    text = BENCHMARKS.get("medbullets_op5").prompt(op5, reasoning=True)
    assert text.endswith(
        f"\nE.{op5.choices['E']}\nPlease reason step by step, and put your final answer within "
        "\\boxed{}."
    )


POLIO_OPTIONS = (
    "A. Herbal remedies\nB. Use of antibiotics\nC. Regular intake of vitamins\n"
    "D. Administration of tetanus vaccine\nE. Attention to sewage control and hygiene\n"
    "F. Natural immunity acquired through exposure\nG. Use of antiviral drugs\n"
)


def test_mmlu_pro_prompt_medunieval_layout():
    """MedUniEval's MMLU-Pro prompt: no Question:/Options: wrapper."""
    s = load("mmlu_pro_med", FIXTURES / "mmlu_pro_health_hulumed.json")[0]
    spec = BENCHMARKS.get("mmlu_pro_med")
    assert spec.prompt(s) == (
        f"Polio can be eradicated by which of the following?\n{POLIO_OPTIONS}{MC}"
    )
    assert spec.prompt(s, reasoning=True).endswith(
        "\nPlease reason step by step, and put your final answer within \\boxed{}."
    )
    assert "\b" not in spec.prompt(s, reasoning=True)


# ----------------------------------------------------------------------- end to end


def run_replay(tmp: Path, root: Path, preds: Path):
    return replay_cli(tmp, preds, BENCHES, data_dir=root)


summary = run_summary


@pytest.mark.parametrize("right", [True, False], ids=["all_correct", "all_wrong"])
def test_replay_end_to_end(tmp_path, text_root, right):
    make = gold_response if right else wrong_response
    rows = [(b, s.id, make(s)) for b in BENCHES for s in load(b, text_root / b)]
    preds = write_predictions(tmp_path / "preds.jsonl", rows)
    res = run_replay(tmp_path, text_root, preds)
    assert res.exit_code == 0, res.output
    expected_n = {"mmlu_pro_med": 40, "mmlu_med": 48, "medbullets_op4": 5, "medbullets_op5": 40}
    for bench in BENCHES:
        s = summary(tmp_path, bench)
        assert s["n"] == expected_n[bench] and s["errors"] == 0, bench
        assert s["profiles"]["strict"]["score"] == (1.0 if right else 0.0), bench
        assert s["profiles"]["strict"]["parse_rate"] == 1.0, bench
        if right:
            assert s["profiles"]["compat"]["score"] == 1.0, bench
    if right:
        subs = summary(tmp_path, "mmlu_med")["profiles"]["strict"]["subscores"]["subject"]
        assert subs["anatomy"]["n"] == 8
        src = summary(tmp_path, "mmlu_pro_med")["profiles"]["strict"]["subscores"]["source"]
        assert sum(v["n"] for v in src.values()) == 40


# -------------------------------------------------------------------- response styles

# (response, strict correct, compat correct, compat parsed) on a real row whose gold is B.
# Strict: a committed letter/text is correct and parsed; refusal/empty are unparsed (wrong).
# Compat: letter rules first; otherwise forced similarity against the
# formatted choices ("A. text" or "A.text"), so these vary with the option strings.
STYLES = RESPONSE_STYLES
EXPECTED = {
    # bench: compat (correct, parsed) per style, in STYLES order
    "mmlu_med": [(1, 1), (0, 0), (1, 1), (1, 1), (1, 1), (1, 1), (1, 0), (0, 0), (0, 0), (0, 0)],
    "medbullets_op4": [
        (1, 1),
        (1, 0),
        (1, 1),
        (1, 1),
        (1, 1),
        (1, 1),
        (1, 0),
        (1, 0),
        (0, 0),
        (0, 0),
    ],
    "medbullets_op5": [
        (1, 1),
        (1, 0),
        (1, 1),
        (1, 1),
        (1, 1),
        (1, 1),
        (1, 0),
        (1, 0),
        (0, 0),
        (0, 0),
    ],
    # MedUniEval iterates MMLU-Pro's dict choices, i.e. compares against the letter keys:
    # "(B)"/"答案：B" -> similarity finds only "b"; the option text "Anaerobic respiration." and
    # the refusal contain an "a" first -> A (wrong); "" -> A.
    "mmlu_pro_med": [
        (1, 1),
        (1, 0),
        (1, 1),
        (1, 1),
        (1, 1),
        (1, 1),
        (0, 0),
        (1, 0),
        (0, 0),
        (0, 0),
    ],
}
FIXTURE_OF = {b: FIXTURES / src for b, (src, _) in LAYOUT.items()}


def _cases():
    for bench in BENCHES:
        for i in range(len(STYLES)):
            yield pytest.param(bench, i, id=f"{bench}-{i}")


@pytest.mark.parametrize("bench,i", list(_cases()))
def test_response_styles(bench, i):
    sample = next(s for s in load(bench, FIXTURE_OF[bench]) if s.answer == "B")
    style = STYLES[i]
    text = sample.choices["B"] if style == "<option text>" else style
    scores = score_text(bench, sample, text)
    committed = i < 8
    assert scores["strict"]["correct"] is committed
    assert scores["strict"]["parsed"] is committed
    correct, parsed = EXPECTED[bench][i]
    assert (scores["compat"]["correct"], scores["compat"]["parsed"]) == (
        bool(correct),
        bool(parsed),
    )
