"""Answer extraction shared by every benchmark (the ``strict`` profile's parser).

Rules, in order (documented in docs/scoring.md):
1. Drop ``<think>...</think>`` blocks.
2. The answer span is the content of the last ``\\boxed{...}``; else of the last
   ``<answer>...</answer>``; else the text after the last answer marker (``answer is``,
   ``answer:``, ``final answer``, ``答案：``...); else the whole response.
3. Markdown emphasis, backticks, ``\\text{}`` and surrounding quotes/brackets are removed.
Nothing is ever guessed: when no rule finds an answer the result is ``None`` (unparsed).
"""

from __future__ import annotations

import re
import string
import unicodedata

_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)
_MARKERS = re.compile(
    r"(?:final\s+answer|correct\s+answer|correct\s+option|the\s+answer|answer)"
    r"\s*(?:is|:|：)?\s*[:：]?\s*|答案\s*[是为:：]\s*",
    re.I,
)
_TEXT_CMD = re.compile(r"\\text(?:bf|rm)?\{([^{}]*)\}")


def last_boxed(text: str) -> str | None:
    """Content of the last balanced ``\\boxed{...}``, or None."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    i = start + len("\\boxed{")
    depth = 0
    for j in range(i, len(text)):
        ch = text[j]
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return text[i:j].strip()
            depth -= 1
    return None


def clean_span(span: str) -> str:
    """Remove markup around an answer span."""
    span = _TEXT_CMD.sub(r"\1", span)
    span = span.replace("**", "").replace("__", "").replace("`", "")
    span = span.strip().strip("*_").strip()
    span = span.strip("\"'“”‘’").strip()
    return span


def answer_span(response: str | None) -> str:
    """The part of a response that holds the answer (rule 2 above), cleaned."""
    if not response:
        return ""
    text = _THINK.sub(" ", response)
    boxed = last_boxed(text)
    if boxed is not None:
        return clean_span(boxed)
    tags = _ANSWER_TAG.findall(text)
    if tags:
        return clean_span(tags[-1])
    plain = text.replace("**", "").replace("__", "")
    markers = list(_MARKERS.finditer(plain))
    if markers:
        tail = plain[markers[-1].end() :].strip()
        if tail:
            return clean_span(tail.split("\n\n")[0])
    return clean_span(text)


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation) | set("，。：；！？、（）“”‘’")


def normalize(text: str) -> str:
    """SQuAD normalisation: NFKC, lowercase, drop punctuation and articles, collapse spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if ch in _PUNCT else ch for ch in text)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


_LINKS = {"or", "and", "nor", "is", "was", "seems", "would", "should", "could", "might", "vs"}


def _letter_candidates(span: str, letters: tuple[str, ...]) -> list[str]:
    """Standalone option letters in ``span``: ``B``, ``(B)``, ``B.``, ``B)``, ``B:``.

    An ``A`` or ``I`` followed by a lower-case word is read as a word (article/pronoun)."""
    found: list[str] = []
    for m in re.finditer(r"(?<![A-Za-z0-9])\(?([A-Z])\)?(?![A-Za-z0-9])", span):
        letter = m.group(1)
        if letter not in letters:
            continue
        after = span[m.end() :]
        word = re.match(r"\s+([a-z]+)", after)
        if letter in "AI" and "(" not in m.group(0) and word and word.group(1) not in _LINKS:
            continue
        found.append(letter)
    return found


def extract_choice(response: str | None, choices: dict[str, str]) -> str | None:
    """The option letter a response commits to, or None when it commits to none or to several.

    Order: the span is one letter (any case) -> it; distinct standalone upper-case letters in the
    span: exactly one -> it, several -> None; the span equals one option's text (normalised) ->
    it; exactly one option's text occurs in the span as a whole phrase -> it; else None.
    """
    letters = tuple(choices)
    span = answer_span(response)
    if not span:
        return None
    bare = span.strip(" .:)(").strip()
    if len(bare) == 1 and bare.upper() in letters:
        return bare.upper()
    lead = re.match(r"^\(?([A-Za-z])[.):](?:\s|$)", span)
    if lead and lead.group(1).upper() in letters:
        return lead.group(1).upper()
    cands = list(dict.fromkeys(_letter_candidates(span, letters)))
    if len(cands) == 1:
        return cands[0]
    if len(cands) > 1:
        return None
    norm = normalize(span)
    texts = {k: normalize(v) for k, v in choices.items()}
    exact = [k for k, v in texts.items() if v and v == norm]
    if len(exact) == 1:
        return exact[0]
    inside = [k for k, v in texts.items() if v and re.search(rf"(?<!\w){re.escape(v)}(?!\w)", norm)]
    # Prefer the longest phrase when one option text contains another ("lung" vs "left lung").
    if inside:
        longest = max(len(texts[k]) for k in inside)
        inside = [k for k in inside if len(texts[k]) == longest]
    return inside[0] if len(inside) == 1 else None


_YES = {"yes", "是", "是的", "有"}
_NO = {"no", "否", "不是", "没有"}


def extract_yes_no(response: str | None) -> str | None:
    """``"yes"``/``"no"`` matched on whole words, or None.

    A leading yes/no that stands alone or ends at punctuation decides (``"Yes, there is no"``
    -> yes); otherwise exactly one of the two may occur as a word (``"There is no fracture"``
    -> no); both or neither -> None. Substrings never count: ``normal``, ``unknown`` and
    ``eyes`` are not answers.
    """
    span = answer_span(response)
    if not span:
        return None
    words = re.findall(r"[a-z]+|[\u4e00-\u9fff]+", unicodedata.normalize("NFKC", span).lower())
    if not words:
        return None
    lead = re.match(r"\s*(yes|no|是|否)\s*(?:[,.;:!，。；：！]|$)", span, re.I)
    if lead:
        return "yes" if lead.group(1).lower() in _YES else "no"
    has_yes = any(w in _YES for w in words)
    has_no = any(w in _NO for w in words)
    if has_yes != has_no:
        return "yes" if has_yes else "no"
    return None


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD token F1 on normalised text (multiset overlap)."""
    pred = normalize(prediction).split()
    ref = normalize(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common: dict[str, int] = {}
    for tok in pred:
        common[tok] = common.get(tok, 0) + 1
    overlap = 0
    for tok in ref:
        if common.get(tok, 0) > 0:
            overlap += 1
            common[tok] -= 1
    if overlap == 0:
        return 0.0
    p, r = overlap / len(pred), overlap / len(ref)
    return 2 * p * r / (p + r)
