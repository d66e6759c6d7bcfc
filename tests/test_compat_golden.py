"""Golden vectors (observed MedUniEval outputs), plus the documented
deviations of ``medunieval.scoring.compat``."""

from __future__ import annotations

import warnings

import pytest
from rouge import Rouge

from medunieval.scoring import compat

CHOICES = ["A. Left lung", "B. Right lung", "C. Heart", "D. Liver"]

# ------------------------------------------------------------------ judge_multi_choice


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
        ("B\n\nExplanation: the right lung is opaque.", "B"),
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
    verdict = compat.multi_choice(CHOICES, scored_as, response)
    assert verdict.correct is True
    assert verdict.picked == scored_as.lower()
    # Forced choice: exactly one gold letter is scored correct for any response.
    assert [x for x in "ABCD" if compat.judge_multi_choice(CHOICES, x, response)] == [scored_as]


@pytest.mark.parametrize(
    "response,answer,rule",
    [
        ("", "A", "similarity"),
        ("heart", "C", "similarity"),
        ("Answer: (C) Heart", "C", "similarity"),
        ("I cannot determine", "C", "similarity"),
        ("E", "C", "similarity"),
        ("The answer is B.", "B", "letter"),
        ("\\boxed{D}", "D", "letter"),
        ("**Answer**: C", "C", "letter"),
        ("The answer is B.", "A", "letter"),
    ],
)
def test_multi_choice_reports_the_rule(response, answer, rule):
    assert compat.multi_choice(CHOICES, answer, response).rule == rule


def test_wrong_letter_is_wrong_without_fallback():
    assert compat.multi_choice(CHOICES, "B", "C") == compat.MCVerdict(False, "c", "letter")


@pytest.mark.parametrize(
    "answer,response,expected",
    [
        ("C. Heart", "C", True),  # gold given as option text, response as its letter (rule 2)
        ("C. Heart", "B", False),
        ("C", "c. heart", True),  # "c. heart" is cut at "." to "c" (rule 1)
        ("maybe", "The answer is maybe", True),  # rule 1 on a non-option string
    ],
)
def test_multi_choice_gold_shapes(answer, response, expected):
    assert compat.judge_multi_choice(CHOICES, answer, response) is expected


def test_exact_rule_on_a_non_option_string():
    verdict = compat.multi_choice(CHOICES, "maybe", "maybe")
    assert verdict == compat.MCVerdict(True, "maybe", "exact")


@pytest.mark.parametrize(
    "response,rule", [("C", "letter"), ("Heart", "text"), ("The answer is C", "letter")]
)
def test_unlettered_choices(response, rule):
    choices = ["Left lung", "Right lung", "Heart", "Liver"]
    assert [x for x in "ABCD" if compat.judge_multi_choice(choices, x, response)] == ["C"]
    assert compat.multi_choice(choices, "C", response) == compat.MCVerdict(True, "c", rule)


MMLU_PRO_CHOICES = {
    "A": "Hypokalaemia",
    "B": "Hyperkalaemia",
    "C": "Hyponatraemia",
    "D": "Hypercalcaemia",
    "E": "Metabolic alkalosis",
}


@pytest.mark.parametrize(
    "response,expected",
    [
        ("E", True),
        ("E. Metabolic alkalosis", True),
        ("The answer is E", True),
        ("Metabolic alkalosis", False),  # options are the dict keys, so text falls to similarity
    ],
)
def test_dict_choices_iterate_keys_mmlu_pro_quirk(response, expected):
    assert compat.judge_multi_choice(MMLU_PRO_CHOICES, "E", response) is expected


def test_dict_choices_bare_text_is_a_similarity_guess():
    verdict = compat.multi_choice(MMLU_PRO_CHOICES, "E", "Metabolic alkalosis")
    assert verdict.rule == "similarity" and verdict.picked != "e"


def test_empty_choice_list_does_not_crash():
    assert compat.multi_choice([], "A", "B") == compat.MCVerdict(False, None, "similarity")


# ------------------------------------------------------ judge_judgement / close_end_vqa


@pytest.mark.parametrize(
    "answer,response,expected",
    [
        ("no", "normal", True),
        ("yes", "eyes are visible", True),
        ("no", "unknown", True),
        ("yes", "Yes, there is no", False),
        ("no", "There is no fracture", True),
        # further substring artefacts listed in §3.4
        ("no", "not", True),
        ("no", "none", True),
        ("no", "nodule", True),
        ("no", "abnormal", True),
        ("yes", "Yes.", True),
        ("no", "Yes", False),
    ],
)
def test_judge_judgement_substring_rule(answer, response, expected):
    assert compat.judge_judgement(answer, response) is expected


@pytest.mark.parametrize(
    "answer,response,expected",
    [("CT ", "ct", False), ("left", "Left.", True), ("left", " left", False)],
)
def test_judge_close_end_vqa(answer, response, expected):
    assert compat.judge_close_end_vqa(answer, response) is expected


# ----------------------------------------------------------------------- open_end_vqa


def test_open_end_vqa_ct_scan_with_keys_relabelled():
    m = compat.open_end_vqa("ct", "ct scan")
    assert m["em"] is False
    assert m["bleu1"] == pytest.approx(0.5)
    assert m["rouge1"] == pytest.approx(0.6667, abs=1e-4)
    assert (m["precision"], m["recall"], m["f1"]) == pytest.approx((0.5, 1.0, 0.6667), abs=1e-4)


def test_calculate_f1_mue_order_explains_the_mue_mislabelling():
    raw = compat.calculate_f1_mue("ct scan", "ct")
    assert raw == pytest.approx((0.6667, 0.5, 1.0), abs=1e-4)
    # MUE unpacks (F1, P, R) as (precision, recall, f1): the §3.14 stored values.
    mue_dict = dict(zip(("precision", "recall", "f1"), raw, strict=True))
    assert mue_dict == pytest.approx({"precision": 0.6667, "recall": 0.5, "f1": 1.0}, abs=1e-4)


def test_open_end_vqa_leading_space_breaks_em():
    assert compat.parse_response("answer: brain") == " brain"
    assert compat.open_end_vqa("brain", "answer: brain")["em"] is False


def test_open_end_vqa_exact():
    m = compat.open_end_vqa("Liver", "liver")
    assert m["em"] is True
    assert [m[k] for k in ("bleu1", "rouge1", "precision", "recall", "f1")] == pytest.approx(
        [1.0, 1.0, 1.0, 1.0, 1.0]
    )


@pytest.mark.parametrize("response", ["", ".", "   "])
def test_open_end_vqa_inputs_that_crash_mue_score_zero(response):
    m = compat.open_end_vqa("ct", response)
    assert m["em"] is False
    for key in compat.OPEN_METRICS:
        if key != "em":
            assert m[key] == 0.0, key


def test_why_mue_crashes_on_those_inputs():
    for hyp in ("", "."):
        with pytest.raises(ValueError):
            Rouge().get_scores(hyp, "ct")
    assert compat.calculate_f1_mue("   ", "ct") == 0  # scalar: MUE's tuple unpack -> TypeError
    assert compat.calculate_f1_mue("mri", "ct") == (0, 0, 0)


def test_open_end_vqa_emits_no_nltk_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = compat.open_end_vqa("ct", "ct scan of the chest")
    assert m["bleu2"] < 1e-100  # NLTK's sys.float_info.min substitution, unsmoothed


def test_open_end_vqa_long_sentence_rouge_l_overflow_is_zero():
    response = " ".join(f"w{i}" for i in range(1200))  # rouge's recursive LCS overflows
    m = compat.open_end_vqa("w5", response)
    assert m["rougel"] == 0.0 and m["rouge1"] > 0.0


# ------------------------------------------------------------------ parse / extract


@pytest.mark.parametrize(
    "response,expected",
    [
        ("The final answer is: yes", ": yes"),
        ("Boxed answer unknown", "None"),
        ("answer: brain", " brain"),
        ("\\boxed{\\text{B}}", "\\text{b}"),
        ("<answer> Left </answer>", "left"),
        ("答案:B", "b"),
        ("答案：B", "答案：b"),  # full-width colon is not a pattern
        ("**Answer**: C", " c"),
    ],
)
def test_parse_response(response, expected):
    assert compat.parse_response(response) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        (None, ""),
        ("", ""),
        ("<judge> 0 </judge>", "0"),
        ("0", "0"),
        ("<judge>0</judge><judge>1</judge>", "0 1"),
        ("<judge>0</judge><judge>1", "0"),  # a final unclosed tag is ignored
    ],
)
def test_extract_tag(text, expected):
    assert compat.extract_tag(text, "judge") == expected


def test_extract_tag_soft():
    assert compat.extract_tag("no tags", "judge", hard=False) == ""
    assert compat.extract_tag("<judge></judge>", "judge") == "<judge></judge>"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("so \\boxed{a} then \\boxed{\\text{B}}", "\\text{B}"),
        ("\\boxed{ x }", "x"),
        ("\\boxed{unbalanced", "None"),
        ("no box", "None"),
    ],
)
def test_extract_boxed_content(text, expected):
    assert compat.extract_boxed_content(text) == expected


# --------------------------------------------------------------------- eval_metrics


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
        ("dont", "don't"),
        ("3.5 cm", "3.5 cm"),
    ],
)
def test_normalize_word(text, expected):
    assert compat.normalize_word(text) == expected


def test_normalize_word_removes_at_most_32_periods():
    assert compat.normalize_word("a." * 40).count(".") == 8


def test_normalize_word_does_not_grow_a_global_map():
    before = dict(compat._MANUAL_MAP)
    compat.normalize_word("some unseen words")
    assert compat._MANUAL_MAP == before


@pytest.mark.parametrize(
    "cand,ref,em,f1",
    [
        ("ct scan of the chest", "ct", 0.25, (0.4, 0.25, 1.0)),
        ("liver liver", "liver", 0.5, (1.0, 1.0, 1.0)),
        ("", "liver", 0.0, (0.0, 0.0, 0.0)),
        ("spleen", "liver", 0.0, (0.0, 0.0, 0.0)),
    ],
)
def test_llava_med_metrics(cand, ref, em, f1):
    assert compat.calculate_exactmatch(cand, ref) == pytest.approx(em)
    assert compat.calculate_f1score(cand, ref) == pytest.approx(f1)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Brain", "b"),
        ("Chest", "c"),
        ("axial", "a"),
        ("Definitely C", "d"),
        ("(B) coronal", "(b) coronal"),
        ("  c:liver", "c"),
        ("Eye", "eye"),
    ],
)
def test_extract_choice_letter(text, expected):
    assert compat.extract_choice_letter(text) == expected


# ----------------------------------------------------------------- VQA aggregation


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
    assert m["close"] == {"total": 2, "right": 2, "acc": 1.0}
    assert (m["open"]["total"], m["open"]["right"]) == (2, 1)
    assert m["open"]["acc"] == pytest.approx(0.5)  # MUE's VQA-RAD prints 0.25 ...
    assert m["open_acc_mue_printed"] == pytest.approx(0.25)  # ... kept for comparison
    assert m["open"]["em"] == pytest.approx(0.5)
    assert m["open"]["bleu1"] == pytest.approx(0.5)
    assert set(m["open"]) == {"total", "right", "acc", *compat.OPEN_METRICS}


@pytest.mark.parametrize("bench", ["path_vqa", "slake"])
def test_path_vqa_and_slake_aggregate(bench):
    m = compat.vqa_aggregate(_four(bench))
    assert m["open"]["acc"] == pytest.approx(0.5)
    assert m["total metrics"]["acc"] == pytest.approx(0.75)


def test_vqa_sample_preprocessing():
    s = compat.vqa_sample("vqa_rad", " Liver ", "<answer> LIVER </answer>", False)
    assert s["extracted"] == "liver" and s["correct"] is True
    s = compat.vqa_sample("vqa_rad", "yes", "\\boxed{Yes}", True)
    assert s == {"closed": True, "extracted": "yes", "correct": True}
    # SLAKE keeps case at benchmark level (the helpers lower-case internally)
    assert compat.vqa_sample("slake", "Lung", "<answer>Lung</answer>", False)["extracted"] == "Lung"


def test_empty_subsets_do_not_divide_by_zero():
    m = compat.vqa_aggregate([compat.vqa_sample("vqa_rad", "yes", "yes", True)])
    assert m["open"]["acc"] == 0.0 and m["open_acc_mue_printed"] == 0.0
    assert compat.vqa_aggregate([])["total metrics"]["acc"] == 0.0


def test_slake_closed_non_yes_no_uses_exact_match_and_guards_empty():
    assert compat.vqa_sample("slake", "Left", "left", True)["correct"] is True
    assert compat.vqa_sample("slake", "Left", "  ", True)["correct"] is False
    assert compat.vqa_sample("slake", "yes", "Yes", True)["correct"] is True


def test_slake_empty_open_response_scores_zero():
    s = compat.vqa_sample("slake", "CT", " ", False)
    assert s["correct"] is False and s["em"] is False
    assert all(s[k] == 0.0 for k in compat.OPEN_METRICS if k != "em")


def test_vqa_rad_empty_open_response_does_not_crash():
    s = compat.vqa_sample("vqa_rad", "ct", "", False)
    assert s["correct"] is False and s["rouge1"] == 0.0
