"""MedUniEval's scoring helpers, re-implemented rule by rule (PRIOR_ART.md §3).

The ``compat`` profile uses these so MedUniEval's published numbers can be reproduced. Where
MedUniEval crashes or mislabels, this module keeps the *rule* and drops the defect:

- ``open_end_vqa`` never raises (MedUniEval raises ``ValueError`` from ``rouge`` on an empty or
  dot-only answer and ``TypeError`` on a whitespace-only one): those metrics are 0.
- ``open_end_vqa``'s ``precision``/``recall``/``f1`` carry their real meaning (MedUniEval stores
  F1 as "precision", precision as "recall" and recall as "f1"); ``calculate_f1_mue`` keeps the
  original return order for reference.
- ``vqa_aggregate`` divides VQA-RAD's open accuracy once (MedUniEval divides it twice; that
  value is kept as ``open_acc_mue_printed``) and returns 0.0 for empty subsets.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

# --------------------------------------------------------------------------- §3.2 extraction


def extract_tag(text: str | None, tag: str, hard: bool = True) -> str:
    """MedUniEval ``extract``: every ``<tag>…</tag>`` pair, joined by spaces, stripped; when none
    is found, the whole text (``hard``) or ``""``."""
    if not text:
        return ""
    start, end = f"<{tag}>", f"</{tag}>"
    parts: list[str] = []
    i = 0
    while True:
        s = text.find(start, i)
        if s < 0:
            break
        e = text.find(end, s + len(start))
        if e < 0:
            break
        parts.append(text[s + len(start) : e] + " ")
        i = e + len(end)
    joined = "".join(parts).strip()
    if joined:
        return joined
    return text if hard else ""


def extract_boxed_content(text: str) -> str:
    """mathruler 0.1.0: content of the last ``\\boxed{``, or the string ``"None"``."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return "None"
    i = start + len("\\boxed{")
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == -1:
                return text[i:j].strip()
    return "None"


_ANSWER_PATTERNS = (
    "**answer**:",
    "**answer**",
    "*answer*:",
    "**answer:**",
    "answer is",
    "answer:",
    "答案:",
    "final answer",
    "final answer is",
)


def parse_response(response: str) -> str:
    """MedUniEval ``parse_response``: lower-case, boxed / ``<answer>``, then cut after the last
    occurrence of each answer pattern in turn. Not stripped."""
    r = response.lower()
    if "boxed" in r:
        r = extract_boxed_content(r)
    elif "<answer>" in r:
        r = extract_tag(r, "answer")
    for pattern in _ANSWER_PATTERNS:
        if pattern in r:
            r = r.split(pattern)[-1]
    return r


# ---------------------------------------------------------------------- §3.3 multiple choice


@dataclass(frozen=True)
class MCVerdict:
    """``picked``: the option letter the response was mapped to (lower case), or the matched
    string for rule ``exact``; ``rule``: exact | letter | text | similarity."""

    correct: bool
    picked: str | None
    rule: str


def multi_choice(
    choices: Sequence[str] | Mapping[str, str], answer: str, response: str
) -> MCVerdict:
    """MedUniEval ``judge_multi_choice``: forced choice, never "unparsed"."""
    options = [str(c) for c in choices]  # a Mapping yields its keys, as in MedUniEval
    letters = [chr(ord("a") + i) for i in range(len(options))]
    r = response.lower()
    paragraphs = r.split("\n\n")
    if paragraphs[0] in letters:
        r = paragraphs[0]
    elif paragraphs[-1].split(".")[0] in letters:
        r = paragraphs[-1].split(".")[0]
    r = parse_response(r).strip().lower().replace("\n", "")
    lowered = [c.lower() for c in options]
    s = r.split(".")[0].split(":")[-1]
    a = answer.strip().lower()
    if s == a:
        return MCVerdict(True, s, "exact")
    if s in letters:
        return MCVerdict(lowered[letters.index(s)] == a, s, "letter")
    if s in lowered:
        idx = lowered.index(s)
        return MCVerdict(a in letters and s == lowered[letters.index(a)], letters[idx], "text")
    best, best_ratio = 0, 0.0
    for i, choice in enumerate(lowered):
        ratio = difflib.SequenceMatcher(None, choice, r).ratio()
        if ratio > best_ratio:
            best, best_ratio = i, ratio
    correct = letters[best] == a or lowered[best] == a if letters else False
    return MCVerdict(correct, letters[best] if letters else None, "similarity")


def judge_multi_choice(
    choices: Sequence[str] | Mapping[str, str], answer: str, response: str
) -> bool:
    return multi_choice(choices, answer, response).correct


# ------------------------------------------------------------------------- §3.4 – 3.5 closed


def _closed_text(response: str) -> str:
    return parse_response(response).replace("\n", "").replace(".", "")


def judge_judgement(answer: str, response: str) -> bool:
    """Substring yes/no: exactly one of "yes"/"no" occurs and the gold occurs (artefacts kept)."""
    a = answer.lower()
    r = _closed_text(response)
    return (("yes" in r) != ("no" in r)) and a in r


def judge_close_end_vqa(answer: str, response: str) -> bool:
    """Exact equality after MedUniEval's preprocessing (neither side stripped)."""
    return _closed_text(response) == answer.lower()


# ------------------------------------------------------------------------------ §3.6 open


def _tok(x: str) -> list[str]:
    return x.lower().replace(".", " .").split(" ")


def calculate_f1_mue(r: str, a: str) -> float | tuple[float, float, float]:
    """MedUniEval ``calculate_f1``: scalar 0 on an empty side, else (F1, precision, recall)."""
    pred, gold = set(r.lower().split()), set(a.lower().split())
    if not pred or not gold:
        return 0
    common = pred & gold
    if not common:
        return (0, 0, 0)
    p, rec = len(common) / len(pred), len(common) / len(gold)
    return (2 * p * rec / (p + rec), p, rec)


def _bleu(ref: list[str], hyp: list[str], n: int) -> float:
    from nltk.translate.bleu_score import sentence_bleu

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(sentence_bleu([ref], hyp, weights=[1 / n] * n))
        except (ZeroDivisionError, ValueError):
            return 0.0


def _rouge(hyp: str, ref: str) -> dict[str, float]:
    from rouge import Rouge

    try:
        s = Rouge().get_scores(hyp, ref)[0]
    except (ValueError, RecursionError):
        return {"rouge1": 0.0, "rouge2": 0.0, "rougel": 0.0}
    return {"rouge1": s["rouge-1"]["f"], "rouge2": s["rouge-2"]["f"], "rougel": s["rouge-l"]["f"]}


def open_end_vqa(answer: str, response: str) -> dict[str, Any]:
    """MedUniEval ``judge_open_end_vqa`` per-sample metrics (keys relabelled, never raises)."""
    a = answer.lower()
    r = parse_response(response)
    out: dict[str, Any] = {f"bleu{n}": _bleu(_tok(a), _tok(r), n) for n in range(1, 5)}
    out["em"] = r == a
    out.update(_rouge(r.lower(), a.lower()))
    f1 = calculate_f1_mue(r, a)
    if isinstance(f1, tuple):
        out.update(f1=float(f1[0]), precision=float(f1[1]), recall=float(f1[2]))
    else:
        out.update(f1=0.0, precision=0.0, recall=0.0)
    return out


OPEN_METRICS = (
    "bleu1",
    "bleu2",
    "bleu3",
    "bleu4",
    "rouge1",
    "rouge2",
    "rougel",
    "precision",
    "recall",
    "f1",
    "em",
)


# -------------------------------------------------------------- §3.9 LLaVA-Med eval_metrics

_PUNCT = [
    ";",
    "/",
    "[",
    "]",
    '"',
    "{",
    "}",
    "(",
    ")",
    "=",
    "+",
    "\\",
    "_",
    "-",
    ">",
    "<",
    "@",
    "`",
    ",",
    "?",
    "!",
]
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")  # malformed look-behind, kept on purpose
_MANUAL_MAP = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
_ARTICLES = {"a", "an", "the"}
# Apostrophe-less contractions restored by the VQA normaliser (common forms).
_CONTRACTIONS = {
    "aint": "ain't",
    "arent": "aren't",
    "cant": "can't",
    "couldve": "could've",
    "couldnt": "couldn't",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "dont": "don't",
    "hadnt": "hadn't",
    "hasnt": "hasn't",
    "havent": "haven't",
    "hed": "he'd",
    "hes": "he's",
    "howd": "how'd",
    "howll": "how'll",
    "hows": "how's",
    "Im": "I'm",
    "Ive": "I've",
    "isnt": "isn't",
    "itd": "it'd",
    "itll": "it'll",
    "maam": "ma'am",
    "mightnt": "mightn't",
    "mightve": "might've",
    "mustnt": "mustn't",
    "mustve": "must've",
    "neednt": "needn't",
    "oclock": "o'clock",
    "shant": "shan't",
    "shes": "she's",
    "shouldve": "should've",
    "shouldnt": "shouldn't",
    "somebodys": "somebody's",
    "someones": "someone's",
    "somethings": "something's",
    "thats": "that's",
    "thered": "there'd",
    "therere": "there're",
    "theres": "there's",
    "theyd": "they'd",
    "theyll": "they'll",
    "theyre": "they're",
    "theyve": "they've",
    "wasnt": "wasn't",
    "wed": "we'd",
    "weve": "we've",
    "werent": "weren't",
    "whatll": "what'll",
    "whatre": "what're",
    "whats": "what's",
    "whatve": "what've",
    "whens": "when's",
    "whered": "where'd",
    "wheres": "where's",
    "whereve": "where've",
    "whod": "who'd",
    "wholl": "who'll",
    "whos": "who's",
    "whove": "who've",
    "whyll": "why'll",
    "whyre": "why're",
    "whys": "why's",
    "wont": "won't",
    "wouldve": "would've",
    "wouldnt": "wouldn't",
    "yall": "y'all",
    "youd": "you'd",
    "youll": "you'll",
    "youre": "you're",
    "youve": "you've",
}


def normalize_word(s: str) -> str:
    """LLaVA-Med ``glossary.normalize_word`` (its quirks kept: at most 32 periods removed, every
    listed punctuation mark deleted once any digit,digit occurs, articles dropped)."""
    out = s
    has_digit_comma = _COMMA_STRIP.search(s) is not None
    for p in _PUNCT:
        if p + " " in s or " " + p in s or has_digit_comma:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    out = _PERIOD_STRIP.sub("", out, 32)  # re.UNICODE (= 32) passed as `count`
    words = [_MANUAL_MAP.get(w, w) for w in out.lower().split()]
    words = [_CONTRACTIONS.get(w, w) for w in words if w not in _ARTICLES]
    return " ".join(words).replace(",", "")


def _unigrams(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for w in normalize_word(text).lower().strip().split():
        counts[w] = counts.get(w, 0) + 1
    return counts


def calculate_exactmatch(cand: str, ref: str) -> float:
    """LLaVA-Med "exact match": distinct reference words found / candidate word count."""
    c, r = _unigrams(cand), _unigrams(ref)
    total = sum(c.values())
    return sum(1 for w in r if w in c) / total if total else 0.0


def calculate_f1score(cand: str, ref: str) -> tuple[float, float, float]:
    """LLaVA-Med token F1 → (f1, precision, recall); tp counts candidate occurrences."""
    c, r = _unigrams(cand), _unigrams(ref)
    if not c or not r:
        return (0.0, 0.0, 0.0)
    tp = sum(c[w] for w in c if w in r)
    fp = sum(c[w] for w in c if w not in r)
    fn = sum(r[w] for w in r if w not in c)
    if tp == 0:
        return (0.0, 0.0, 0.0)
    p, rec = tp / (tp + fp), tp / (tp + fn)
    return (2 * p * rec / (p + rec), p, rec)


def extract_choice_letter(text: str) -> str:
    """eval_3d first-letter rule: a text *starting with* a–d (optionally + ``.``/``)``/``:``)
    is that letter; anything else is the whole lower-cased text."""
    t = str(text).strip().lower()
    m = re.match(r"^([a-d])[.):]?", t)
    return m.group(1) if m else t


# ------------------------------------------------------------------ §3.7 VQA per benchmark

VQABench = Literal["vqa_rad", "slake", "path_vqa"]


def _vqa_preprocess(response: str) -> str:
    boxed = extract_boxed_content(response)
    if boxed != "None":
        return boxed
    if "<answer>" in response:
        return extract_tag(response, "answer")
    return response


def vqa_sample(bench: VQABench, answer: str, response: str, closed: bool) -> dict[str, Any]:
    """One VQA sample as MedUniEval's VQA-RAD / SLAKE / PathVQA ``cal_metrics`` (no judge)."""
    resp = _vqa_preprocess(response)
    if bench in ("vqa_rad", "path_vqa"):
        resp, answer = resp.lower().strip(), answer.lower().strip()
    out: dict[str, Any] = {"closed": closed, "extracted": resp}
    if closed:
        if bench == "slake" and answer.lower() not in {"yes", "no"}:
            out["correct"] = bool(resp) and judge_close_end_vqa(answer, resp)
        else:
            out["correct"] = judge_judgement(answer, resp)
        return out
    if bench == "slake" and not resp:
        metrics: dict[str, Any] = {k: 0.0 for k in OPEN_METRICS}
        metrics["em"] = False
    else:
        metrics = open_end_vqa(answer, resp)
    out.update(metrics)
    out["correct"] = bool(metrics["em"])
    return out


def vqa_aggregate(per_sample: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """MedUniEval's VQA metrics dict from per-sample verdicts (``correct``, ``closed``, open
    metrics), accuracies divided once, empty subsets 0.0, plus ``open_acc_mue_printed``."""
    closed = [s for s in per_sample if s.get("closed")]
    opened = [s for s in per_sample if not s.get("closed")]

    def acc(right: int, total: int) -> float:
        return right / total if total else 0.0

    c_right = sum(bool(s.get("correct")) for s in closed)
    o_right = sum(bool(s.get("correct")) for s in opened)
    open_block: dict[str, Any] = {"total": len(opened), "right": o_right}
    for key in OPEN_METRICS:
        values = [float(s.get(key, 0.0) or 0.0) for s in opened]
        open_block[key] = sum(values) / len(opened) if opened else 0.0
    open_block["acc"] = acc(o_right, len(opened))
    total = len(per_sample)
    return {
        "total metrics": {
            "total": total,
            "right": c_right + o_right,
            "acc": acc(c_right + o_right, total),
        },
        "open": open_block,
        "close": {"total": len(closed), "right": c_right, "acc": acc(c_right, len(closed))},
        "open_acc_mue_printed": o_right / len(opened) ** 2 if opened else 0.0,
    }
