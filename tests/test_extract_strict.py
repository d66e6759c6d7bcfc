"""Strict-profile extraction rules on realistic response styles."""

from __future__ import annotations

import pytest

from medunieval.extract import answer_span, extract_choice, extract_yes_no, normalize, token_f1

CHOICES = {"A": "Left lung", "B": "Right lung", "C": "Heart", "D": "Liver"}


@pytest.mark.parametrize(
    "response,expected",
    [
        ("B", "B"),
        ("b", "B"),
        ("(B)", "B"),
        ("B.", "B"),
        ("B) Right lung", "B"),
        ("The answer is B.", "B"),
        ("**Answer:** B", "B"),
        ("**Answer**: C", "C"),
        ("\\boxed{D}", "D"),
        ("\\boxed{\\text{D}}", "D"),
        ("<answer>B</answer>", "B"),
        ("Final Answer: B", "B"),
        ("答案：B", "B"),
        ("答案:B", "B"),
        ("Option: B", "B"),
        ("The correct option is D", "D"),
        ("Answer: (C) Heart", "C"),
        ("B\n\nExplanation: the right lung is opaque.", "B"),
        ("Explanation...\n\nD. Liver", "D"),
        ("<think>maybe A or B</think>The answer is C", "C"),
        ("heart", "C"),
        ("I think it is the heart", "C"),
        ("left lung", "A"),
        # never guessed: empty, refusals, out-of-range letters, several letters
        ("", None),
        ("   ", None),
        ("I cannot determine", None),
        ("none of the above", None),
        ("E", None),
        ("B, C", None),
        ("b and c", None),
        ("Either A or B", None),
        ("As an AI I cannot give medical advice.", None),
    ],
)
def test_extract_choice(response, expected):
    assert extract_choice(response, CHOICES) == expected


def test_extract_choice_ten_options_keeps_I_as_a_letter_only_when_it_stands_alone():
    choices = {k: f"option {k.lower()}" for k in "ABCDEFGHIJ"}
    assert extract_choice("I", choices) == "I"
    assert extract_choice("The answer is I.", choices) == "I"
    assert extract_choice("I think the answer is J", choices) == "J"


@pytest.mark.parametrize(
    "response,expected",
    [
        ("yes", "yes"),
        ("Yes.", "yes"),
        ("No", "no"),
        ("\\boxed{no}", "no"),
        ("The answer is no", "no"),
        ("There is no fracture", "no"),
        ("Yes, there is no", "yes"),
        ("<answer>yes</answer>", "yes"),
        ("是", "yes"),
        ("否", "no"),
        ("normal", None),
        ("unknown", None),
        ("abnormal", None),
        ("eyes are visible", None),
        ("not sure", None),
        ("", None),
        ("yes and no", None),
    ],
)
def test_extract_yes_no_matches_words_not_substrings(response, expected):
    assert extract_yes_no(response) == expected


def test_answer_span_and_normalisation():
    assert answer_span("Reasoning...\nThe answer is: Right frontal lobe.") == "Right frontal lobe."
    assert normalize("The  Right-frontal lobe.") == "right frontal lobe"
    assert token_f1("left lung", "the left lung") == 1.0
    assert token_f1("ct scan", "ct") == pytest.approx(2 / 3)
    assert token_f1("", "ct") == 0.0
