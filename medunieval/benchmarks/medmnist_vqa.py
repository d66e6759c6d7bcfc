"""MedMNIST-VQA (Hulu-Med's MedMNIST multiple-choice set; PRIOR_ART §2.1 ``Medmnist``, §2.9).
Local only: MedUniEval reads ``./medminist_test.json`` (sic; ``medmnist_test.json`` is accepted
too), a JSON list of LLaVA-style rows::

    {"id": ..., "conversations": [{"from": "human", "value": "<image>\\nQuestion?\\nA. x\\nB. y"},
     ...], "images": ["path.png", ...], "answer": "B" | "y", "split": "pathmnist"}

- Choices are re-parsed from ``conversations[0].value`` as MedUniEval does: DOTALL
  ``\\n([A-Z]\\..*?)(?=\\n[A-Z]\\.|\\Z)``, each match cut after its first "." and stripped. In
  MedUniEval the last option then swallows whatever text follows it; here the last option is cut
  at its first newline, so a trailing instruction line is not part of the option (a deviation
  that only changes the compat scorer's option texts when such trailing text exists).
- Prompt: the conversation text + "\\nAnswer with the option's letter from the given choices
  directly.", with ``<image>\\n`` then ``<image>`` removed (MedUniEval, verbatim).
- Gold: ``answer`` as stored, mapped to a letter (a letter, "A. text", or an option text).
- First image of ``images`` only; sub-scores by ``split`` (the MedMNIST subset).
- Compat judges the raw response (MedUniEval extracts no ``<answer>`` here, as for PMC-VQA and
  MedFrameQA).
"""

from __future__ import annotations

import re
from typing import Any

from .. import prompts
from ..types import Sample
from .base import Benchmark, RowContext, gold_letter, pick

CHOICE_RE = re.compile(r"\n([A-Z]\..*?)(?=\n[A-Z]\.|\Z)", re.DOTALL)
INSTRUCTION = "\nAnswer with the option's letter from the given choices directly."


def parse_choices(text: str) -> dict[str, str]:
    """MedUniEval's choice parsing (see the module docstring), the last option cut at a newline."""
    raw = CHOICE_RE.findall(text)
    choices = {c[0]: c.split(".", 1)[1].strip() for c in raw}
    if choices:
        last = next(reversed(choices))
        choices[last] = choices[last].split("\n", 1)[0].strip()
    if len(choices) != len(raw):
        raise ValueError("an option letter occurs twice in the question text")
    return choices


def strip_image_tokens(text: str) -> str:
    return text.replace("<image>\n", "").replace("<image>", "")


def _gold(choices: dict[str, str], answer: Any) -> str:
    m = re.fullmatch(r"\s*\(?([A-Z])[.)]\s+(.*)", str(answer), re.DOTALL)
    if m and m.group(1) in choices:  # "B. text" / "(B) text"
        return m.group(1)
    return gold_letter(choices, answer)


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    convs = pick(row, "conversations")
    if not isinstance(convs, list) or not convs or not isinstance(convs[0], dict):
        raise ValueError("conversations must be a non-empty list of {from, value} turns")
    text = str(convs[0].get("value", ""))
    choices = parse_choices(text)
    if len(choices) < 2:
        raise ValueError("fewer than two options found in conversations[0].value")
    images = pick(row, "images")
    first = images[0] if isinstance(images, list) and images else images
    split = row.get("split")
    return Sample(
        id=str(row.get("id", ctx.index)),
        benchmark=ctx.bench.name,
        question=strip_image_tokens(text),
        answer=_gold(choices, pick(row, "answer")),
        answer_type="mcq",
        choices=choices,
        media=[ctx.image({"image": first}, "image")],
        meta={"split": str(split)} if split not in (None, "") else {},
    )


def build_prompt(bench: Benchmark, sample: Sample, reasoning: bool) -> str:
    """MedUniEval: the conversation text (image tokens removed) + the letter instruction."""
    tail = INSTRUCTION if not reasoning else "\n" + prompts.instruction("mcq", bench.lang, True)
    return sample.question + tail


BENCHMARK = Benchmark(
    name="medmnist_vqa",
    title="MedMNIST-VQA",
    task="mcq",
    to_sample=to_sample,
    hub=None,
    local_files=("medminist_test.json", "medmnist_test.json"),
    choice_format="{text}",  # MedUniEval's judge compares against the bare option texts
    compat_answer_tag=False,  # MedUniEval judges the raw response here (no <answer> first)
    prompt_builder=build_prompt,
    image_dirs=("", "images"),
    group_by=("split",),
    max_new_tokens=128,
    description="MedMNIST-derived image MCQ (Hulu-Med's medminist_test.json); local data only",
)
