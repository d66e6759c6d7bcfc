"""Chinese-exam benchmarks (CMB, CMExam, MedQA-MCMLE, CMMLU-Med) and MMedBench.

Fixtures are HAND-WRITTEN rows (no real rows were available) using the official field names:
- ``cmb_exam_test_handwritten.json``: 8 CMB-Exam rows (6 单项选择题, 2 多项选择题; one with the
  ``[{key, value}]`` option layout);
- ``cmexam_test_handwritten.jsonl``: 8 CMExam rows (2 multi-answer, skipped);
- ``mcmle_test_handwritten.jsonl``: 6 MedQA-MCMLE rows;
- ``cmmlu_<subject>.csv``: official CMMLU CSV layout, 3 medical subjects + agronomy (filtered);
- ``mmedbench_<Language>.jsonl``: 8 rows over the 6 languages.
"""

from __future__ import annotations

import shutil
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
from medunieval.data.sources import RawRows

for _name, _target in {
    "cmb": "cmb:BENCHMARK",
    "cmexam": "cmexam:BENCHMARK",
    "medqa_mcmle": "medqa_mcmle:BENCHMARK",
    "cmmlu_med": "cmmlu_med:BENCHMARK",
    "mmedbench": "mmedbench:BENCHMARK",
}.items():
    if _name not in BENCHMARKS.names():
        BENCHMARKS.register(_name, f"medunieval.benchmarks.{_target}")

BENCHES = ["cmb", "cmexam", "medqa_mcmle", "cmmlu_med", "mmedbench"]
LANGS = ["English", "Chinese", "Japanese", "French", "Russian", "Spanish"]
CMMLU = ["anatomy", "traditional_chinese_medicine", "virology", "agronomy"]
LAYOUT = {  # bench -> [(fixture, path in the benchmark's data folder)]
    "cmb": [("cmb_exam_test_handwritten.json", "test.json")],
    "cmexam": [("cmexam_test_handwritten.jsonl", "test.jsonl")],
    "medqa_mcmle": [("mcmle_test_handwritten.jsonl", "train.jsonl")],
    "cmmlu_med": [(f"cmmlu_{s}.csv", f"test/{s}.csv") for s in CMMLU],
    "mmedbench": [(f"mmedbench_{lang}.jsonl", f"Test/{lang}.jsonl") for lang in LANGS],
}
N = {"cmb": 6, "cmexam": 6, "medqa_mcmle": 6, "cmmlu_med": 7, "mmedbench": 8}
ZH = "请直接使用给定选项中的选项字母来回答该问题。"
MC = "Answer with the option's letter from the given choices directly."
runner = CliRunner()


def load(bench: str, path: Path):
    spec = BENCHMARKS.get(bench)
    return spec.samples(spec.load_raw(path))


@pytest.fixture(scope="module")
def zh_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("zh")
    for bench, files in LAYOUT.items():
        for src, dst in files:
            (root / bench / dst).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(FIXTURES / src, root / bench / dst)
    return root


# ------------------------------------------------------------------------------ loading


def test_cmb_single_choice_only_and_both_option_layouts(zh_root):
    samples = load("cmb", zh_root / "cmb")
    assert [(s.id, s.answer) for s in samples] == [
        ("0", "B"),
        ("1", "D"),
        ("2", "C"),
        ("3", "A"),
        ("4", "E"),
        ("6", "B"),
    ]
    assert all(s.error is None for s in samples)
    assert samples[3].choices == {
        "A": "100～120次",
        "B": "60～80次",
        "C": "80～100次",
        "D": "120～140次",
    }
    assert list(samples[5].choices) == ["A", "B", "C", "D"]  # empty "E" padding dropped
    assert samples[0].meta == {
        "exam_type": "医师考试",
        "exam_class": "执业医师",
        "exam_subject": "临床执业医师",
    }


def test_cmexam_skips_multi_answer_rows(zh_root):
    samples = load("cmexam", zh_root / "cmexam")
    assert [(s.id, s.answer) for s in samples] == [
        ("0", "A"),
        ("1", "B"),
        ("2", "A"),
        ("3", "C"),
        ("5", "D"),
        ("7", "A"),
    ]
    assert samples[1].meta == {"department": "内科", "disease_group": "循环系统疾病"}
    # The GitHub CSV writes Options as "A text" lines.
    row = {"Question": "q", "Options": "A 甲\nB 乙\nC 丙", "Answer": "B"}
    [s] = BENCHMARKS.get("cmexam").samples(RawRows([row], "mem", "x"))
    assert s.choices == {"A": "甲", "B": "乙", "C": "丙"} and s.answer == "B"


def test_mcmle_ids_and_gold(zh_root):
    samples = load("medqa_mcmle", zh_root / "medqa_mcmle")
    assert [s.answer for s in samples] == ["B", "B", "A", "C", "D", "E"]
    assert samples[0].choices["B"] == "胃镜检查" and samples[0].meta == {
        "meta_info": "第一部分　历年真题"
    }


def test_cmmlu_subject_from_file_name_and_filter(zh_root):
    samples = load("cmmlu_med", zh_root / "cmmlu_med")
    assert [s.id for s in samples] == [
        "anatomy-0",
        "anatomy-1",
        "anatomy-2",
        "traditional_chinese_medicine-0",
        "traditional_chinese_medicine-1",
        "virology-0",
        "virology-1",
    ]  # agronomy filtered out
    assert [s.answer for s in samples] == ["B", "C", "B", "A", "D", "C", "C"]
    single = load("cmmlu_med", FIXTURES / "cmmlu_virology.csv")  # "cmmlu_virology" is no subject
    assert single[0].meta == {} and single[0].id == "0"
    row = {"Question": "q", "A": "a", "B": "b", "C": "c", "D": "d", "Answer": "D", "task": "x"}
    assert BENCHMARKS.get("cmmlu_med").samples(RawRows([row], "mem", "x")) == []


def test_mmedbench_language_from_file_and_column(zh_root):
    samples = load("mmedbench", zh_root / "mmedbench")
    assert len(samples) == 8 and all(s.error is None for s in samples)
    assert {s.meta["language"] for s in samples} == set(LANGS)
    assert [s.answer for s in samples] == ["B", "B", "A", "C", "B", "C", "A", "C"]  # name order
    assert samples[0].id == "Chinese-0"
    row = {"question": "q", "options": {"A": "a", "B": "b"}, "answer_idx": "B", "lang": "French"}
    [s] = BENCHMARKS.get("mmedbench").samples(RawRows([row], "mem", "x"))
    assert s.meta == {"language": "French"} and s.answer == "B"


# ------------------------------------------------------------------------------ prompts


def test_prompt_snapshots(zh_root):
    cmb = load("cmb", zh_root / "cmb")[0]
    assert BENCHMARKS.get("cmb").prompt(cmb) == (
        "\n问题： 男，45岁。反复上腹痛5年，进食后缓解，夜间痛明显。最可能的诊断是\n选项： \n"
        f"A.胃溃疡\nB.十二指肠溃疡\nC.慢性胃炎\nD.胃癌\nE.胆囊炎\n{ZH}"
    )
    cmx = load("cmexam", zh_root / "cmexam")[1]
    assert BENCHMARKS.get("cmexam").prompt(cmx) == (
        "\n问题： 急性心肌梗死最早升高的心肌损伤标志物是\n选项： \n"
        f"A.肌钙蛋白I\nB.肌红蛋白\nC.CK-MB\nD.LDH\nE.AST\n{ZH}"
    )
    mc = load("medqa_mcmle", zh_root / "medqa_mcmle")[0]
    assert BENCHMARKS.get("medqa_mcmle").prompt(mc) == (  # values only, no letters (defect)
        "\n问题： 男，60岁。进行性吞咽困难3个月，体重下降5kg。首选的检查是\n选项： \n"
        f"胸部X线片\n胃镜检查\n腹部B超\n血常规\n肿瘤标志物\n{ZH}"
    )
    cm = load("cmmlu_med", zh_root / "cmmlu_med")[0]
    assert BENCHMARKS.get("cmmlu_med").prompt(cm, reasoning=True) == (
        "\n问题： 人体最大的器官是\n选项： \nA.肝脏\nB.皮肤\nC.肺\nD.小肠\n"
        '请直接使用给定选项中的选项字母来回答该问题,并将答案包裹在"\\boxed{}"里'
    )
    mm = load("mmedbench", zh_root / "mmedbench")[0]  # Chinese row, English template
    assert BENCHMARKS.get("mmedbench").prompt(mm) == (
        "\nQuestion: 急性胰腺炎最常见的病因在我国是\nOptions: \n"
        f"A. 酗酒\nB. 胆道疾病\nC. 高脂血症\nD. 外伤\nE. 药物\n{MC}"
    )


# ----------------------------------------------------------------------- end to end


def run_replay(tmp: Path, root: Path, preds: Path):
    return replay_cli(tmp, preds, BENCHES, data_dir=root)


summary = run_summary


@pytest.mark.parametrize("right", [True, False], ids=["all_correct", "all_wrong"])
def test_replay_end_to_end(tmp_path, zh_root, right):
    make = gold_response if right else wrong_response
    rows = [(b, s.id, make(s)) for b in BENCHES for s in load(b, zh_root / b)]
    res = run_replay(tmp_path, zh_root, write_predictions(tmp_path / "preds.jsonl", rows))
    assert res.exit_code == 0, res.output
    for bench in BENCHES:
        s = summary(tmp_path, bench)
        assert s["n"] == N[bench] and s["errors"] == 0, bench
        assert s["profiles"]["strict"]["score"] == (1.0 if right else 0.0), bench
        assert s["profiles"]["strict"]["parse_rate"] == 1.0, bench
        # A bare gold letter: compat's rule 1 (s == gold letter) holds even for MCMLE's
        # letterless choices; a different letter hits rule 2 and is wrong with no fallback.
        assert s["profiles"]["compat"]["score"] == (1.0 if right else 0.0), bench
    if right:
        sub = lambda b, k: summary(tmp_path, b)["profiles"]["strict"]["subscores"][k]  # noqa: E731
        langs = sub("mmedbench", "language")
        assert {k: v["n"] for k, v in langs.items()} == {
            "Chinese": 1,
            "English": 2,
            "French": 1,
            "Japanese": 1,
            "Russian": 1,
            "Spanish": 2,
        }
        assert all(v["score"] == 1.0 for v in langs.values())
        assert {k: v["n"] for k, v in sub("cmmlu_med", "subject").items()} == {
            "anatomy": 3,
            "traditional_chinese_medicine": 2,
            "virology": 2,
        }
        assert {k: v["n"] for k, v in sub("cmb", "exam_type").items()} == {
            "医师考试": 2,
            "护理考试": 2,
            "药师考试": 2,
        }
        assert {k: v["n"] for k, v in sub("cmexam", "department").items()} == {
            "儿科": 2,
            "内科": 2,
            "外科": 2,
        }


# -------------------------------------------------------------------- response styles

STYLES = ["B", "答案：B", "\\boxed{B}", "<option text>", "我无法回答", ""]
# strict: the four committed styles are correct and parsed; refusal/empty unparsed (wrong).
# compat: "B"/"\boxed{B}" hit the letter rule. "答案：B" (full-width colon, not
# one of parse_response's patterns) and the option text fall to forced similarity, which finds
# "b." in the "B.text" choices -> correct but unparsed. MCMLE's bare-text choices: "答案：B" has
# no character in common with any option -> index 0 (A) -> wrong; the option text equals a
# choice (rule 3) -> correct and parsed. Refusal/empty: every ratio 0 -> A -> wrong.
LETTERED = [(1, 1), (1, 0), (1, 1), (1, 0), (0, 0), (0, 0)]
EXPECTED = {
    "cmb": LETTERED,
    "cmexam": LETTERED,
    "cmmlu_med": LETTERED,
    "mmedbench": LETTERED,
    "medqa_mcmle": [(1, 1), (0, 0), (1, 1), (1, 1), (0, 0), (0, 0)],
}


@pytest.mark.parametrize("bench", BENCHES)
@pytest.mark.parametrize("i", range(len(STYLES)))
def test_response_styles(zh_root, bench, i):
    sample = next(s for s in load(bench, zh_root / bench) if s.answer == "B")
    text = sample.choices["B"] if STYLES[i] == "<option text>" else STYLES[i]
    scores = score_text(bench, sample, text)
    committed = i < 4
    assert scores["strict"]["correct"] is committed
    assert scores["strict"]["parsed"] is committed
    correct, parsed = EXPECTED[bench][i]
    assert (scores["compat"]["correct"], scores["compat"]["parsed"]) == (
        bool(correct),
        bool(parsed),
    )
