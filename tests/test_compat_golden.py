"""Golden vectors of PRIOR_ART.md §3.14: MedUniEval's scorers, reproduced."""

from __future__ import annotations

import pytest

from medunieval.scoring import compat

CHOICES = ["A. Left lung", "B. Right lung", "C. Heart", "D. Liver"]


@pytest.mark.parametrize(
    "response,scored_as",
    [
        ("", "A"),
        ("A", "A"),
        ("a", "A"),
        ("A.", "A"),
        ("The answer is B.", "B"),
        ("**Answer**: C", "C"),
        ("\\boxed{D}", "D"),
        ("Answer: (C) Heart", "C"),
        ("heart", "C"),
        ("I think it is the heart", "C"),
        ("<answer>B</answer>", "B"),
        ("B\n\nExplanation: the right lung is opaque", "B"),
        ("Explanation...\n\nD. Liver", "D"),
        ("Final Answer: B", "B"),
        ("答案：B", "B"),
        ("答案:B", "B"),
        ("Option: B", "C"),
        ("The correct option is D", "A"),
        ("E", "C"),
        ("I cannot determine", "C"),
        ("none of the above", "C"),
        ("B, C", "B"),
        ("b and c", "B"),
    ],
)
def test_judge_multi_choice_table(response, scored_as):
    hits = [x for x in "ABCD" if compat.judge_multi_choice(CHOICES, x, response)]
    assert hits == [scored_as]


@pytest.mark.parametrize(
    "response,rule",
    [
        ("", "similarity"),
        ("heart", "similarity"),
        ("I cannot determine", "similarity"),
        ("The answer is B.", "exact"),
        ("E", "similarity"),
    ],
)
def test_multi_choice_reports_the_rule_used(response, rule):
    assert compat.multi_choice(CHOICES, "B", response).rule == rule


def test_wrong_letter_is_wrong_without_fallback():
    v = compat.multi_choice(CHOICES, "B", "C")
    assert (v.correct, v.picked, v.rule) == (False, "c", "letter")


@pytest.mark.parametrize("response", ["C", "Heart", "The answer is C"])
def test_unlettered_choices(response):
    choices = ["Left lung", "Right lung", "Heart", "Liver"]
    assert [x for x in "ABCD" if compat.judge_multi_choice(choices, x, response)] == ["C"]


def test_dict_choices_compare_against_letter_keys_mmlu_pro_quirk():
    choices = {
        "A": "Memory",
        "B": "Perception",
        "C": "Language",
        "D": "Emotion",
        "E": "Attention to detail",
    }
    assert compat.judge_multi_choice(choices, "E", "E")
    assert compat.judge_multi_choice(choices, "E", "E. Attention to detail")
    assert not compat.judge_multi_choice(choices, "E", "Attention to detail")


@pytest.mark.parametrize(
    "answer,response,expected",
    [
        ("no", "normal", True),
        ("yes", "eyes are visible", True),
        ("no", "unknown", True),
        ("yes", "Yes, there is no", False),
        ("no", "There is no fracture", True),
    ],
)
def test_judge_judgement_substring_rule(answer, response, expected):
    assert compat.judge_judgement(answer, response) is expected


@pytest.mark.parametrize(
    "answer,response,expected", [("CT ", "ct", False), ("left", "Left.", True)]
)
def test_judge_close_end_vqa(answer, response, expected):
    assert compat.judge_close_end_vqa(answer, response) is expected


def test_open_end_vqa_ct_scan_with_keys_relabelled():
    m = compat.open_end_vqa("ct", "ct scan")
    assert m["em"] is False
    assert m["bleu1"] == pytest.approx(0.5)
    assert m["rouge1"] == pytest.approx(2 / 3, abs=1e-6)
    # MedUniEval stores these permuted as precision=0.6667 (F1), recall=0.5 (P), f1=1.0 (R).
    assert (m["precision"], m["recall"], m["f1"]) == pytest.approx((0.5, 1.0, 2 / 3))
    assert compat.calculate_f1_mue("ct scan", "ct") == pytest.approx((2 / 3, 0.5, 1.0))


def test_open_end_vqa_leading_space_breaks_em():
    assert compat.open_end_vqa("brain", "answer: brain")["em"] is False


@pytest.mark.parametrize("response", ["", ".", "   "])
def test_open_end_vqa_inputs_that_crash_medunieval_score_zero(response):
    # MedUniEval raises ValueError ("" and ".") or TypeError ("   ") here (deviation 3).
    m = compat.open_end_vqa("ct", response)
    assert m["rouge1"] == m["f1"] == m["precision"] == m["recall"] == 0.0 and m["em"] is False
    assert compat.calculate_f1_mue("   ", "ct") == 0


@pytest.mark.parametrize(
    "response,expected",
    [
        ("The final answer is: yes", ": yes"),
        ("Boxed answer unknown", "None"),
    ],
)
def test_parse_response(response, expected):
    assert compat.parse_response(response) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        (None, ""),
        ("<judge> 0 </judge>", "0"),
        ("0", "0"),
        ("<judge>0</judge><judge>1</judge>", "0 1"),
    ],
)
def test_extract_tag(text, expected):
    assert compat.extract_tag(text, "judge") == expected


def test_extract_boxed_content():
    assert compat.extract_boxed_content("so \\boxed{a} then \\boxed{\\text{B}}") == "\\text{B}"
    assert compat.extract_boxed_content("\\boxed{unbalanced") == "None"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("The right lung.", "right lung"),
        ("None", "0"),
        ("two lesions", "2 lesions"),
        ("1,000", "1000"),
        ("left/right", "left right"),
        ("x-ray", "x ray"),
        ("a (b) c", "b c"),
        ("1,2 and a,b", "12 and ab"),
    ],
)
def test_normalize_word(text, expected):
    assert compat.normalize_word(text) == expected


def test_normalize_word_removes_at_most_32_periods():
    assert compat.normalize_word("a." * 40).count(".") == 8


def test_llava_med_metrics():
    assert compat.calculate_exactmatch("ct scan of the chest", "ct") == 0.25
    assert compat.calculate_f1score("ct scan of the chest", "ct") == pytest.approx((0.4, 0.25, 1.0))
    assert compat.calculate_exactmatch("liver liver", "liver") == 0.5
    assert compat.calculate_f1score("liver liver", "liver") == (1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Brain", "b"),
        ("Chest", "c"),
        ("axial", "a"),
        ("Definitely C", "d"),
        ("(B) coronal", "(b) coronal"),
        ("  c:liver", "c"),
    ],
)
def test_extract_choice_letter(text, expected):
    assert compat.extract_choice_letter(text) == expected


def _four(bench):
    return [
        compat.vqa_sample(bench, "yes", "Yes", True),
        compat.vqa_sample(bench, "no", "normal", True),
        compat.vqa_sample(bench, "liver", "Liver", False),
        compat.vqa_sample(bench, "ct", "MRI", False),
    ]


def test_vqa_rad_aggregate_divides_open_accuracy_once():
    m = compat.vqa_aggregate(_four("vqa_rad"))
    assert m["total metrics"] == {"total": 4, "right": 3, "acc": 0.75}
    assert m["close"]["acc"] == 1.0
    assert m["open"]["acc"] == 0.5  # deviation 1: MedUniEval prints 0.25
    assert m["open_acc_mue_printed"] == 0.25  # ... which is kept for comparison


def test_path_vqa_aggregate():
    assert compat.vqa_aggregate(_four("path_vqa"))["open"]["acc"] == 0.5


def test_empty_subsets_do_not_divide_by_zero():
    m = compat.vqa_aggregate([compat.vqa_sample("vqa_rad", "yes", "yes", True)])
    assert m["open"]["acc"] == 0.0 and m["open_acc_mue_printed"] == 0.0


def test_slake_closed_non_yes_no_uses_exact_match_and_guards_empty():
    assert compat.vqa_sample("slake", "Left", "left", True)["correct"] is True
    assert compat.vqa_sample("slake", "Left", "", True)["correct"] is False
    assert compat.vqa_sample("slake", "CT", "", False)["rouge1"] == 0.0
