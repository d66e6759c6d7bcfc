"""Prompt snapshots: the exact MedUniEval prompt text per benchmark (byte for byte)."""

from __future__ import annotations

from conftest import load_samples

from medunieval import prompts
from medunieval.benchmarks import BENCHMARKS

MC = "Answer with the option's letter from the given choices directly."
REASON = "Please reason step by step, and put your final answer within \\boxed{}."


def prompt(bench, sample, reasoning=False):
    return BENCHMARKS.get(bench).prompt(sample, reasoning)


def test_vqa_prompts(data_root):
    s = load_samples("vqa_rad", data_root)[0]
    assert prompt("vqa_rad", s) == (
        "Is this a hepatic mass?\nAnswer the question using a single word or phrase."
    )
    open_ = next(x for x in load_samples("vqa_rad", data_root) if x.answer_type == "open")
    assert prompt("vqa_rad", open_) == f"{open_.question}\nPlease answer the question concisely."
    slake = load_samples("slake", data_root)[0]
    assert prompt("slake", slake) == (
        "What modality is used to take this image?\nPlease answer the question concisely."
    )
    assert prompt("slake", slake, True) == f"What modality is used to take this image?\n{REASON}"
    path = load_samples("path_vqa", data_root)[0]
    assert prompt("path_vqa", path) == (
        "what have lost their nuclei?\nPlease answer the question concisely."
    )


def test_yes_no_prompt_choice_follows_medunieval_literally(data_root):
    """VQA-RAD: single-word prompt iff ``answer.lower()`` is yes/no (not stripped); PathVQA: iff
    the raw answer is. The scoring split stays lower-cased + stripped (closed) in both."""
    import dataclasses

    one, open_ = (
        "Answer the question using a single word or phrase.",
        "Please answer the question concisely.",
    )
    base = load_samples("vqa_rad", data_root)[0]
    cases = [
        ("vqa_rad", "yes", one), ("vqa_rad", "Yes", one), ("vqa_rad", "NO", one),
        ("vqa_rad", "yes ", open_), ("vqa_rad", " no", open_),
        ("path_vqa", "yes", one), ("path_vqa", "no", one), ("path_vqa", "Yes", open_),
        ("path_vqa", "no ", open_),
    ]  # fmt: skip
    for bench, gold, instruction in cases:
        s = dataclasses.replace(base, benchmark=bench, answer=gold, answer_type="closed")
        assert prompt(bench, s) == f"{s.question}\n{instruction}", (bench, gold)
    from medunieval.benchmarks.base import yes_no_closed

    assert {yes_no_closed(g) for _, g, _ in cases} == {"closed"}


def test_mcq_prompt_layout_with_trailing_space_after_options(data_root):
    s = load_samples("medqa", data_root)[0]
    opts = "\n".join(f"{k}. {v}" for k, v in s.choices.items())
    assert prompt("medqa", s) == f"\nQuestion: {s.question}\nOptions: \n{opts}\n{MC}"
    assert prompt("medqa", s, True).endswith(f"\n{REASON}")
    m = load_samples("medmcqa", data_root)[0]
    assert prompt("medmcqa", m).startswith(
        "\nQuestion: A 29 yrs old woman with a pregnancy of 17 week has a 10 years old boy with "
        "down syndrome. She does not want another down syndrome kid; best advice to her is\n"
        "Options: \nA. No test is required now as her age is below 35 years\nB. Ultra sound"
    )


def test_pubmedqa_prompt_has_context_and_unspaced_choices(data_root):
    s = load_samples("pubmedqa", data_root)[0]
    text = prompt("pubmedqa", s)
    assert text.startswith("Context: Dyschesia can be provoked by inappropriate defecation")
    assert text.endswith(f"\n\nQuestion: {s.question}\nOptions: \nA.yes\nB.no\nC.maybe\n{MC}")


def test_chinese_builder_matches_verified_string():
    assert prompts.multiple_choice("Q?", ["A. x", "B. y"], lang="zh") == (
        "\n问题： Q?\n选项： \nA. x\nB. y\n请直接使用给定选项中的选项字母来回答该问题。"
    )
