"""MedUniEval's scoring helpers, re-implemented rule by rule.

The ``compat`` profile uses these to reproduce MedUniEval's (MUE's) published scores. Every rule
and artefact is kept; only these defects are changed:

- Never crashes. ``open_end_vqa`` scores 0.0 where MUE raises (``rouge`` ``ValueError`` on an
  empty or dot-only response, ``TypeError`` on a whitespace-only one); ROUGE-L alone is 0.0 where
  ``rouge``'s recursive LCS overflows (a sentence of ~1000+ words). ``vqa_aggregate`` gives 0.0
  for an empty subset. ``multi_choice`` accepts non-string choices (``str()``) and an empty list.
- ``open_end_vqa``'s ``precision``/``recall``/``f1`` mean what they say; MUE stores F1 as
  "precision", precision as "recall" and recall as "f1" (``calculate_f1_mue`` keeps its order).
- ``vqa_aggregate`` divides the open accuracy once; VQA-RAD's doubly divided value is kept as
  ``open_acc_mue_printed``.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

VQABench = Literal["vqa_rad", "slake", "path_vqa"]

# ------------------------------------------------------------------ §3.2 extraction primitives


def extract_tag(text: str | None, tag: str, hard: bool = True) -> str:
    """MUE ``extract``: every ``<tag>…</tag>`` pair joined by spaces and stripped; when that is
    empty, ``text`` itself (``hard``) or ``""``. A falsy ``text`` gives ``""``."""
    if not text:
        return ""
    start, end = f"<{tag}>", f"</{tag}>"
    found = ""
    i = text.find(start)
    while i != -1:
        j = text.find(end, i + len(start))
        if j == -1:
            break
        found += text[i + len(start) : j] + " "
        i = text.find(start, j + len(end))
    found = found.strip()
    if found:
        return found
    return text if hard else ""


def extract_boxed_content(text: str) -> str:
    """mathruler 0.1.0: the stripped content of the last ``\\boxed{``, brace depth counted; the
    string ``"None"`` when absent or unbalanced."""
    start = text.rfind("\\boxed{")
    if start == -1:
        return "None"
    content = text[start + len("\\boxed{") :]
    depth = 0
    for i, ch in enumerate(content):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if depth == -1:
            return content[:i].strip()
    return "None"


_ANSWER_PATTERNS = (
    "**answer**:",
    "**answer**",
    "*answer*:",
    "**answer:**",
    "answer is",
    "answer:",
    "答案:",  # ASCII colon only
    "final answer",
    "final answer is",
)


def parse_response(response: str) -> str:
    """MUE ``parse_response``: lower-case; boxed content if ``"boxed"`` occurs (maybe ``"None"``),
    else ``<answer>`` content; then, per pattern in order, keep the text after its last
    occurrence. Not stripped."""
    r = response.lower()
    if "boxed" in r:
        r = extract_boxed_content(r)
    elif "<answer>" in r:
        r = extract_tag(r, "answer")
    for pattern in _ANSWER_PATTERNS:
        if pattern in r:
            r = r.split(pattern)[-1]
    return r


# ---------------------------------------------------------------- §3.3 judge_multi_choice


@dataclass(frozen=True)
class MCVerdict:
    """``picked``: lower-case letter of the option the response was mapped to (the matched
    string itself for an ``exact`` hit that is neither a letter nor an option). ``rule``:
    ``exact`` | ``letter`` | ``text`` | ``similarity`` (forced-choice fallback, i.e. unparsed)."""

    correct: bool
    picked: str | None
    rule: str


def multi_choice(
    choices: Sequence[str] | Mapping[str, str], answer: str, response: str
) -> MCVerdict:
    """MUE ``judge_multi_choice`` (forced choice: every response maps to some option). A Mapping
    is iterated as MUE does, i.e. its keys are the options (MMLU-Pro quirk)."""
    options = [str(c).lower() for c in choices]
    letters = [chr(ord("a") + i) for i in range(len(options))]
    r = response.lower()
    paragraphs = r.split("\n\n")
    if paragraphs[0] in letters:
        r = paragraphs[0]
    elif paragraphs[-1].split(".")[0] in letters:
        r = paragraphs[-1].split(".")[0]
    r = parse_response(r).strip().lower().replace("\n", "")
    s = r.split(".")[0].split(":")[-1]
    a = answer.strip().lower()
    if s == a:  # rule 1; labelled by what s is, so a letter hit reads as "letter"
        if s in letters:
            return MCVerdict(True, s, "letter")
        if s in options:
            return MCVerdict(True, letters[options.index(s)], "text")
        return MCVerdict(True, s, "exact")
    if s in letters:  # rule 2: a different letter is wrong, no fallback
        return MCVerdict(options[letters.index(s)] == a, s, "letter")
    if s in options:  # rule 3
        correct = a in letters and s == options[letters.index(a)]
        return MCVerdict(correct, letters[options.index(s)], "text")
    if not options:  # MUE raises IndexError here
        return MCVerdict(False, None, "similarity")
    best, best_ratio = 0, 0.0  # rule 4: strictly greater wins, so ties go to the lowest index
    for i, option in enumerate(options):
        ratio = difflib.SequenceMatcher(None, option, r).ratio()
        if ratio > best_ratio:
            best, best_ratio = i, ratio
    return MCVerdict(letters[best] == a or options[best] == a, letters[best], "similarity")


def judge_multi_choice(
    choices: Sequence[str] | Mapping[str, str], answer: str, response: str
) -> bool:
    """MUE ``judge_multi_choice``: ``multi_choice(...).correct``."""
    return multi_choice(choices, answer, response).correct


# ---------------------------------------------------------------- §3.4–§3.5 closed questions


def _closed_text(response: str) -> str:
    return parse_response(response).replace("\n", "").replace(".", "")


def judge_judgement(answer: str, response: str) -> bool:
    """MUE yes/no rule: exactly one of "yes"/"no" is a substring of the response and so is the
    lower-cased gold (so "normal", "unknown", "not" count as "no" and "eyes" as "yes")."""
    r = _closed_text(response)
    return (("yes" in r) != ("no" in r)) and answer.lower() in r


def judge_close_end_vqa(answer: str, response: str) -> bool:
    """MUE closed rule: the parsed response (newlines and periods removed) equals the lower-cased
    gold; neither side is stripped."""
    return _closed_text(response) == answer.lower()


# ---------------------------------------------------------------- §3.6 judge_open_end_vqa

OPEN_METRICS: tuple[str, ...] = (
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


def _tok(x: str) -> list[str]:
    return x.lower().replace(".", " .").split(" ")


def _bleu(ref: list[str], hyp: list[str], n: int) -> float:
    from nltk.translate.bleu_score import sentence_bleu

    with warnings.catch_warnings():  # "counts of n-gram overlaps is 0" (value is still returned)
        warnings.simplefilter("ignore", UserWarning)
        return float(sentence_bleu([ref], hyp, weights=[1 / n] * n))


def _rouge(hyp: str, ref: str) -> dict[str, float]:
    from rouge import Rouge

    try:
        s = Rouge().get_scores(hyp, ref)[0]
    except ValueError:  # "Hypothesis is empty." / "Reference is empty."
        return {"rouge1": 0.0, "rouge2": 0.0, "rougel": 0.0}
    except RecursionError:  # rouge-l's recursive LCS; rouge-1/2 are iterative
        s = Rouge(metrics=["rouge-1", "rouge-2"]).get_scores(hyp, ref)[0]
        s["rouge-l"] = {"f": 0.0}
    return {
        "rouge1": float(s["rouge-1"]["f"]),
        "rouge2": float(s["rouge-2"]["f"]),
        "rougel": float(s["rouge-l"]["f"]),
    }


def calculate_f1_mue(r: str, a: str) -> int | tuple[float, float, float]:
    """MUE ``calculate_f1`` exactly: set-based token overlap returning ``(F1, precision, recall)``,
    ``(0, 0, 0)`` without overlap and the *scalar* 0 when either side has no tokens."""
    pred, gold = set(r.lower().split()), set(a.lower().split())
    if not pred or not gold:
        return 0
    common = pred & gold
    p, rec = len(common) / len(pred), len(common) / len(gold)
    if p + rec == 0:
        return (0, 0, 0)
    return (2 * p * rec / (p + rec), p, rec)


def open_end_vqa(answer: str, response: str) -> dict[str, float | bool]:
    """MUE ``judge_open_end_vqa`` per-sample metrics: BLEU-1..4 (NLTK, no smoothing), ``em``
    (parsed response == lower-cased gold), ROUGE-1/2/L F (``rouge``) and set-token precision,
    recall, F1 under their true names. Never raises (see module docstring)."""
    a = answer.lower()
    r = parse_response(response)
    out: dict[str, float | bool] = {f"bleu{n}": _bleu(_tok(a), _tok(r), n) for n in range(1, 5)}
    out["em"] = r == a
    out.update(_rouge(r.lower(), a.lower()))
    f1 = calculate_f1_mue(r, a)
    if isinstance(f1, tuple):
        out.update(precision=float(f1[1]), recall=float(f1[2]), f1=float(f1[0]))
    else:
        out.update(precision=0.0, recall=0.0, f1=0.0)
    return out


# ----------------------------------------------------- §3.9 eval_metrics (LLaVA-Med style)

_PUNCT = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@")
_PUNCT += ("`", ",", "?", "!")
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")  # malformed look-behind, kept as in MUE
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
_ARTICLES = ("a", "an", "the")
# The VQA evaluation contraction table (VQA API, via LLaVA-Med glossary.py, as MedUniEval uses it),
# verbatim as protocol data: capitalised keys never match because input is lower-cased.
_CONTRACTIONS = {
    "aint": "ain't",
    "arent": "aren't",
    "cant": "can't",
    "couldve": "could've",
    "couldnt": "couldn't",
    "couldn'tve": "couldn't've",
    "couldnt've": "couldn't've",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "dont": "don't",
    "hadnt": "hadn't",
    "hadnt've": "hadn't've",
    "hadn'tve": "hadn't've",
    "hasnt": "hasn't",
    "havent": "haven't",
    "hed": "he'd",
    "hed've": "he'd've",
    "he'dve": "he'd've",
    "hes": "he's",
    "howd": "how'd",
    "howll": "how'll",
    "hows": "how's",
    "Id've": "I'd've",
    "I'dve": "I'd've",
    "Im": "I'm",
    "Ive": "I've",
    "isnt": "isn't",
    "itd": "it'd",
    "itd've": "it'd've",
    "it'dve": "it'd've",
    "itll": "it'll",
    "let's": "let's",
    "maam": "ma'am",
    "mightnt": "mightn't",
    "mightnt've": "mightn't've",
    "mightn'tve": "mightn't've",
    "mightve": "might've",
    "mustnt": "mustn't",
    "mustve": "must've",
    "neednt": "needn't",
    "notve": "not've",
    "oclock": "o'clock",
    "oughtnt": "oughtn't",
    "ow's'at": "'ow's'at",
    "'ows'at": "'ow's'at",
    "'ow'sat": "'ow's'at",
    "shant": "shan't",
    "shed've": "she'd've",
    "she'dve": "she'd've",
    "she's": "she's",
    "shouldve": "should've",
    "shouldnt": "shouldn't",
    "shouldnt've": "shouldn't've",
    "shouldn'tve": "shouldn't've",
    "somebody'd": "somebodyd",
    "somebodyd've": "somebody'd've",
    "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll",
    "somebodys": "somebody's",
    "someoned": "someone'd",
    "someoned've": "someone'd've",
    "someone'dve": "someone'd've",
    "someonell": "someone'll",
    "someones": "someone's",
    "somethingd": "something'd",
    "somethingd've": "something'd've",
    "something'dve": "something'd've",
    "somethingll": "something'll",
    "thats": "that's",
    "thered": "there'd",
    "thered've": "there'd've",
    "there'dve": "there'd've",
    "therere": "there're",
    "theres": "there's",
    "theyd": "they'd",
    "theyd've": "they'd've",
    "they'dve": "they'd've",
    "theyll": "they'll",
    "theyre": "they're",
    "theyve": "they've",
    "twas": "'twas",
    "wasnt": "wasn't",
    "wed've": "we'd've",
    "we'dve": "we'd've",
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
    "whod've": "who'd've",
    "who'dve": "who'd've",
    "wholl": "who'll",
    "whos": "who's",
    "whove": "who've",
    "whyll": "why'll",
    "whyre": "why're",
    "whys": "why's",
    "wont": "won't",
    "wouldve": "would've",
    "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've",
    "yall": "y'all",
    "yall'll": "y'all'll",
    "y'allll": "y'all'll",
    "yall'd've": "y'all'd've",
    "y'alld've": "y'all'd've",
    "y'all'dve": "y'all'd've",
    "youd": "you'd",
    "youd've": "you'd've",
    "you'dve": "you'd've",
    "youll": "you'll",
    "youre": "you're",
    "youve": "you've",
}


def normalize_word(s: str) -> str:
    """LLaVA-Med ``glossary.normalize_word`` with its quirks: each listed punctuation mark is
    deleted if it touches a space in ``s`` (or ``s`` has a digit,digit anywhere), else becomes a
    space; at most 32 periods not followed by a digit are removed (``re.UNICODE`` passed as
    ``count``); number words mapped, articles dropped, contractions restored, commas deleted.
    Unlike MUE it does not grow a global dict (``setdefault``); the output is the same."""
    out = s
    digit_comma = _COMMA_STRIP.search(s) is not None
    for p in _PUNCT:
        if p + " " in s or " " + p in s or digit_comma:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    out = _PERIOD_STRIP.sub("", out, count=32)  # MUE passes re.UNICODE (= 32) as `count`
    words = [_MANUAL_MAP.get(w, w) for w in out.lower().split()]
    words = [_CONTRACTIONS.get(w, w) for w in words if w not in _ARTICLES]
    return " ".join(words).replace(",", "")


def _unigrams(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for w in normalize_word(text).lower().strip().split():
        counts[w] = counts.get(w, 0) + 1
    return counts


def calculate_exactmatch(cand: str, ref: str) -> float:
    """LLaVA-Med "exact match" (really precision-like): distinct reference words present in the
    candidate / candidate word count; 0 for an empty candidate."""
    c, r = _unigrams(cand), _unigrams(ref)
    total = sum(c.values())
    return sum(1 for w in r if w in c) / total if total else 0.0


def calculate_f1score(cand: str, ref: str) -> tuple[float, float, float]:
    """LLaVA-Med token ``(f1, precision, recall)``; ``tp`` adds the candidate count (unclipped);
    ``(0, 0, 0)`` when either side is empty or nothing overlaps."""
    c, r = _unigrams(cand), _unigrams(ref)
    tp = sum(n for w, n in c.items() if w in r)
    fp = sum(n for w, n in c.items() if w not in r)
    fn = sum(n for w, n in r.items() if w not in c)
    if not c or not r or tp == 0:
        return (0.0, 0.0, 0.0)
    p, rec = tp / (tp + fp), tp / (tp + fn)
    return (2 * p * rec / (p + rec), p, rec)


# ------------------------------------------------------------- §3.10 extract_choice_letter


def extract_choice_letter(text: str) -> str:
    """MUE ``eval_3d`` first-letter rule: a text *starting with* a–d (optionally followed by
    ``.``, ``)`` or ``:``) is that letter ("Brain" → "b"); otherwise the lower-cased, stripped
    text."""
    t = str(text).lower().strip()
    m = re.match(r"^([a-d])[.):]?", t)
    return m.group(1) if m else t


# ----------------------------------------------------------- §3.7 VQA benchmark aggregation


def _vqa_preprocess(response: str) -> str:
    boxed = extract_boxed_content(response)
    if boxed != "None":
        return boxed
    if "<answer>" in response:
        return extract_tag(response, "answer")
    return response


def vqa_sample(bench: VQABench, answer: str, response: str, closed: bool) -> dict[str, Any]:
    """One sample as MUE's VQA-RAD / SLAKE / PathVQA ``cal_metrics`` scores it without a judge:
    ``{"correct", "closed", "extracted", **open metrics when open}``.

    ``closed`` is the caller's split: MUE uses ``answer.lower().strip() in {"yes", "no"}`` for
    VQA-RAD and PathVQA and the dataset's ``answer_type`` for SLAKE.
    """
    resp = _vqa_preprocess(response)
    if bench in ("vqa_rad", "path_vqa"):
        resp, answer = resp.lower().strip(), answer.lower().strip()
    out: dict[str, Any] = {"closed": closed, "extracted": resp}
    if closed:
        if bench == "slake" and answer.lower() not in ("yes", "no"):
            out["correct"] = bool(resp.strip()) and judge_close_end_vqa(answer, resp)
        else:
            out["correct"] = judge_judgement(answer, resp)
        return out
    if bench == "slake" and not resp.strip():
        metrics: dict[str, float | bool] = {k: 0.0 for k in OPEN_METRICS}
        metrics["em"] = False
    else:
        metrics = open_end_vqa(answer, resp)
    out.update(metrics)
    out["correct"] = bool(metrics["em"])
    return out


def vqa_aggregate(per_sample: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """MUE's VQA metrics dict from per-sample dicts (``correct``, ``closed``, open metrics; a
    missing metric counts 0). Accuracies are divided once, empty subsets give 0.0, and
    ``open_acc_mue_printed`` = open right / open total² is what MUE's VQA-RAD prints."""
    closed = [s for s in per_sample if s.get("closed")]
    opened = [s for s in per_sample if not s.get("closed")]
    c_right = sum(bool(s.get("correct")) for s in closed)
    o_right = sum(bool(s.get("correct")) for s in opened)
    n_open = len(opened)

    def ratio(num: float, den: int) -> float:
        return num / den if den else 0.0

    open_block: dict[str, Any] = {"total": n_open, "right": o_right}
    for key in OPEN_METRICS:
        open_block[key] = ratio(sum(float(s.get(key) or 0.0) for s in opened), n_open)
    open_block["acc"] = ratio(o_right, n_open)
    return {
        "total metrics": {
            "total": len(per_sample),
            "right": c_right + o_right,
            "acc": ratio(c_right + o_right, len(per_sample)),
        },
        "open": open_block,
        "close": {"total": len(closed), "right": c_right, "acc": ratio(c_right, len(closed))},
        "open_acc_mue_printed": ratio(o_right, n_open * n_open),
    }
