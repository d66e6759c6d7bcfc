"""MedUniEval's prompt builders, verbatim (protocol data from the Hulu-Med repository,
Apache-2.0; a copy is tests/fixtures/protocol_prompts.md). Prompts are shared by both scoring
profiles: the profiles differ in how a response is scored, never in what the model sees."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Literal

Lang = Literal["en", "zh"]
Style = Literal["mcq", "closed", "open", "judgement", "report"]

REASONING_EN = "Please reason step by step, and put your final answer within \\boxed{}."

INSTRUCTIONS: dict[tuple[str, str, bool], str] = {
    ("en", "mcq", False): "Answer with the option's letter from the given choices directly.",
    ("en", "mcq", True): REASONING_EN,
    ("en", "closed", False): "Answer the question using a single word or phrase.",
    ("en", "closed", True): REASONING_EN,
    ("en", "judgement", False): "Answer the question using a single word or phrase.",
    ("en", "judgement", True): REASONING_EN,
    ("en", "open", False): "Please answer the question concisely.",
    ("en", "open", True): REASONING_EN,
    ("zh", "mcq", False): "请直接使用给定选项中的选项字母来回答该问题。",
    ("zh", "mcq", True): '请直接使用给定选项中的选项字母来回答该问题,并将答案包裹在"\\boxed{}"里',
    ("zh", "closed", False): "请用一个单词或者短语回答该问题。",
    ("zh", "closed", True): "请用一个单词或者短语回答该问题，并将答案放在一个'\\boxed{}'中。",
    ("zh", "open", False): "请简要回答该问题。",
    ("zh", "open", True): "请简要回答该问题，并将答案放在一个'\\boxed{}'中。",
    ("zh", "judgement", False): "请输出'是'或'否'(不要有任何其它输出)。",
    ("zh", "judgement", True): "请输出'是'或'否'，并将答案放在一个'\\boxed{}'中。",
}

REPORT_PROMPT = (
    "You are a helpful assistant. Please generate a report for the given images, including both "
    "findings and impressions. Return the report in the following format: Findings: {} "
    "Impression: {}."
)


def instruction(style: Style, lang: Lang = "en", reasoning: bool = False) -> str:
    """The instruction line of a builder."""
    return INSTRUCTIONS[(lang, style, reasoning)]


def format_choices(choices: dict[str, str], fmt: str) -> list[str]:
    """Format lettered choices with the benchmark's pattern (``"{letter}. {text}"`` etc.)."""
    return [fmt.format(letter=k, text=v) for k, v in choices.items()]


def multiple_choice(
    question: str, choices: Iterable[str], lang: Lang = "en", reasoning: bool = False
) -> str:
    """MedUniEval ``get_multiple_choice_prompt``: note the leading newline and the trailing
    space after ``Options:``."""
    lines = "\n".join(str(c) for c in choices)
    if lang == "zh":
        head = f"\n问题： {question}\n选项： \n"
    else:
        head = f"\nQuestion: {question}\nOptions: \n"
    return f"{head}{lines}\n{instruction('mcq', lang, reasoning)}"


def short_answer(question: str, style: Style, lang: Lang = "en", reasoning: bool = False) -> str:
    """Closed, judgement and open builders: question, newline, instruction."""
    return f"{question}\n{instruction(style, lang, reasoning)}"


def template_hash() -> str:
    """Hash of every template string, recorded in the manifest."""
    blob = "\x1f".join(f"{k}={v}" for k, v in sorted(INSTRUCTIONS.items())) + REPORT_PROMPT
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
