"""The official MMMU scorer (``MMMU-Benchmark/MMMU`` ``eval/utils/eval_utils.py``), as MedUniEval
calls it for MMMU-Medical-val (PRIOR_ART.md §2.4, §3.11). The ``compat`` profile uses it for
benchmarks that declare ``compat_scorer="mmmu"``.

Kept as upstream: ``<answer>`` then ``\\boxed`` extraction (MedUniEval), uppercase-only letters,
the ``(X)`` / ``" X "`` / option-text candidate order, the last-occurrence rule for several
candidates, a random option when nothing parses (reported as unparsed), and ``eval_open``'s
number normalisation (``round(float, 2)``) and substring containment.

Changed (deviations, each a defect upstream):

- Open questions are scored on ``parse_open_response``'s list of predictions. MedUniEval passes
  the raw string, so ``eval_open`` iterates over characters and no open question is ever correct.
- The random fallback uses ``random.Random(f"{seed}:{sample_id}")`` instead of the global RNG
  seeded once per dataset, so a verdict does not depend on the order samples are scored in and
  a rescore reproduces it.
- ``parse_open_response`` de-duplicates in first-seen order (upstream ``list(set(...))`` order
  depends on string hashing) and ``eval_open`` checks every prediction (upstream stops at the
  first number, so with set order the verdict could change from one process to the next).
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .compat import extract_boxed_content, extract_tag

DEFAULT_SEED = 42  # MedUniEval seeds ``random`` with 42 per dataset


def extract_answer(response: str) -> str:
    """MedUniEval's pre-step: the ``<answer>`` content if the tag occurs, else the last
    ``\\boxed{}`` content if ``\\boxed`` occurs (mathruler: ``"None"`` when unbalanced)."""
    if "<answer>" in response:
        return extract_tag(response, "answer")
    if "\\boxed" in response:
        return extract_boxed_content(response)
    return response


def fallback_rng(seed: int | str, sample_id: str) -> random.Random:
    """The per-sample RNG of the random fallback (independent of scoring order)."""
    return random.Random(f"{seed}:{sample_id}")


def _candidates(
    response: str, all_choices: Sequence[str], index2ans: Mapping[str, str]
) -> tuple[list[str], str]:
    """Upstream candidate search on the padded response; also names the pattern kind."""
    found = [c for c in all_choices if f"({c})" in response]
    if found:
        return found, "bracket"
    found = [c for c in all_choices if f" {c} " in response]
    if found:
        return found, "letter"
    if len(response.split()) > 5:
        low = response.lower()
        found = [k for k, ans in index2ans.items() if str(ans).lower() in low]
        if found:
            return found, "text"
    return [], "random"


def parse_multi_choice(
    response: str,
    all_choices: Sequence[str],
    index2ans: Mapping[str, str],
    rng: random.Random,
) -> tuple[str, str]:
    """``(letter, rule)``: upstream ``parse_multi_choice_response`` plus which rule decided
    (``bracket`` | ``letter`` | ``text`` | ``random``)."""
    r = extract_answer(response).strip()
    for ch in (",", ".", "!", "?", ";", ":", "'"):
        r = r.strip(ch)
    r = f" {r} "
    found, rule = _candidates(r, all_choices, index2ans)
    if not found:
        return rng.choice(list(all_choices)), "random"
    if len(found) == 1:
        return found[0], rule
    if rule == "bracket":
        starts = [r.rfind(f"({c})") for c in found]
    elif rule == "letter":
        starts = [r.rfind(f" {c} ") for c in found]
    else:
        low = r.lower()
        starts = [low.rfind(str(index2ans[c]).lower()) for c in found]
    return found[starts.index(max(starts))], rule  # np.argmax: first of equal maxima


def parse_multi_choice_response(
    response: str,
    all_choices: Sequence[str],
    index2ans: Mapping[str, str],
    rng: random.Random,
) -> str:
    """Upstream ``parse_multi_choice_response`` (with MedUniEval's ``<answer>``/boxed step)."""
    return parse_multi_choice(response, all_choices, index2ans, rng)[0]


# ------------------------------------------------------------------------- open questions


def check_is_number(string: str) -> bool:
    try:
        float(string.replace(",", ""))
    except ValueError:
        return False
    return True


def normalize_str(string: str) -> list[str | float]:
    """Upstream: a number -> ``[round(float, 2)]``; a one-character string -> both space-padded
    forms; else the lower-cased string."""
    string = string.strip()
    if check_is_number(string):
        return [round(float(string.replace(",", "")), 2)]
    string = string.lower()
    if len(string) == 1:
        return [" " + string, string + " "]
    return [string]


_NUM_COMMAS = re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b")
_NUM_SCI = re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+")
# The official parser's ``\d+\b``: "5mg" holds no number (only "5 mg" does).
_NUM_SIMPLE = re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])")


def extract_numbers(string: str) -> list[str]:
    return _NUM_COMMAS.findall(string) + _NUM_SCI.findall(string) + _NUM_SIMPLE.findall(string)


_INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
_TRIVIAL = {":", ",", ".", "!", "?", ";", "'"}


def _key_subresponses(response: str) -> list[str]:
    response = response.strip().strip(".").lower()
    subs = re.split(r"\.\s(?=[A-Z])|\n", response)
    keys: list[str] = []
    for i, sub in enumerate(subs):
        indicators = _INDICATORS + (("=",) if i == len(subs) - 1 else ())
        shortest: str | None = None
        for ind in indicators:
            if ind in sub:
                tail = sub.split(ind)[-1].strip()
                if not shortest or len(tail) < len(shortest):
                    shortest = tail
        if shortest and shortest.strip() not in _TRIVIAL:
            keys.append(shortest)
    return keys or [response]


def parse_open_response(response: str) -> list[str | float]:
    """Upstream ``parse_open_response``: key sub-responses plus the numbers in them, each
    normalised (``normalize_str``), de-duplicated (first-seen order)."""
    keys = _key_subresponses(extract_answer(response))
    preds: list[str] = list(keys)
    for k in keys:
        preds.extend(extract_numbers(k))
    out: list[str | float] = []
    for p in preds:
        out.extend(normalize_str(p))
    return list(dict.fromkeys(out))


def gold_answers(answer: str) -> str | list[str]:
    """MMMU stores some open golds as a Python list literal (several accepted answers)."""
    text = answer.strip()
    if text.startswith("["):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return answer
        if isinstance(value, list):
            return [str(v) for v in value]
    return answer


def eval_open(gold: str | list[str], preds: Sequence[str | float]) -> bool:
    """Upstream ``eval_open``: a string prediction is right if it contains a normalised string
    answer; a number prediction if it equals a normalised number answer."""
    norm: list[str | float] = []
    for g in gold if isinstance(gold, list) else [gold]:
        norm.extend(normalize_str(str(g)))
    for pred in preds:
        if isinstance(pred, str):
            if any(isinstance(a, str) and a in pred for a in norm):
                return True
        elif pred in norm:
            return True
    return False


# ----------------------------------------------------------------------------- verdicts


def score(
    answer: str,
    response: str,
    answer_type: str,
    choices: Mapping[str, str] | None,
    sample_id: str,
    seed: int | str = DEFAULT_SEED,
) -> dict[str, Any]:
    """A compat verdict ``{"correct", "parsed", "extracted", "rule"}`` for one MMMU record;
    ``parsed`` is False when the random fallback picked the option."""
    if answer_type == "mcq":
        opts = dict(choices or {})
        if not opts:
            return {"correct": False, "parsed": False, "extracted": None, "rule": "no_choices"}
        letter, rule = parse_multi_choice(response, list(opts), opts, fallback_rng(seed, sample_id))
        return {
            "correct": letter == answer.strip(),
            "parsed": rule != "random",
            "extracted": letter,
            "rule": rule,
        }
    preds = parse_open_response(response)
    return {
        "correct": eval_open(gold_answers(answer), preds),
        "parsed": bool(response.strip()),
        "extracted": " | ".join(str(p) for p in preds),
        "rule": "open",
    }
