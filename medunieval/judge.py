"""The LLM judge: any model preset as a grader, cached like responses, bounded retries.

A benchmark declares the judge task its records need (``Benchmark.judge``): ``vqa`` (is an open
answer correct? MedUniEval's prompt), ``rubric`` (HealthBench rubric items, the official grader
template) or ``diagnosis`` (RareBench: rank of the first listed diagnosis matching the gold one).
After generation, :func:`judge_records` builds every judge prompt of a benchmark, sends the
ones not yet answered in one batch through the judge backend (which owns concurrency), stores raw
output, parsed verdict, judge fingerprint and template hash in ``Record.judge`` (a judgement)
and re-scores the records: scoring decides the verdicts (``scoring/judged.py``); the dependency
runs one way, judge -> scoring.

Judge requests are ordinary ``Request`` s (benchmark ``judge:<bench>``), greedy, with a fixed
token budget, keyed with the judge backend's fingerprint and kept in the same
``ResponseStore`` as model responses, so a re-run or ``rescore --judge`` never asks the judge
the same prompt twice. Failed judge calls are not stored.

Unparseable output is retried at most ``retries`` times. Because temperature 0 repeats itself,
a retry is a *different* prompt: the conversation so far plus the judge's own reply and a user
turn naming the required format. After the last retry the item is a judge error: recorded,
counted in the summary (``judge.errors``), never scored as a silent "incorrect". A judge that
cannot be reached leaves the record ``unavailable``: not judged, never wrong.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .backends import BACKENDS, Backend
from .benchmarks.base import Benchmark
from .errors import ConfigError
from .model_identity import cache_file_for
from .model_identity import identity as model_identity
from .presets import ModelPreset, resolve_model
from .scoring import compat
from .scoring.judged import vqa_covers
from .scoring.profiles import score_record
from .store import ResponseStore
from .types import (
    GenParams,
    Message,
    Record,
    Request,
    Response,
    TextPart,
    canonical_json,
    sha256_hex,
)

JUDGE_MAX_TOKENS = 4000  # MedUniEval's judge max_tokens; a preset's generation may override it
JUDGE_RETRIES = 2  # extra attempts after an unparseable reply
RETRY_TEMPLATE = (
    "Your reply above could not be parsed. Reply again to the same request, following the "
    "required output format exactly: {hint}"
)


@cache
def template(name: str) -> str:
    """A judge prompt template shipped as package data (byte-exact protocol text)."""
    return (resources.files("medunieval.judge_templates") / name).read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------ tasks
@dataclass(frozen=True)
class JudgeTask:
    """One kind of judging: the prompts a record needs, how a reply is parsed, and the verdict
    fields copied to the top of ``Record.judge``."""

    name: str
    prompts: Callable[[Benchmark, Record], list[str]]
    parse: Callable[[str], dict[str, Any] | None]
    hint: str
    verdict: Callable[[list[dict[str, Any]]], dict[str, Any]] = lambda items: {}


def vqa_judge_input(bench: Benchmark, rec: Record) -> tuple[str, str]:
    """``(response, answer)`` as MedUniEval hands them to its judge: ``\\boxed{}`` content, else
    ``<answer>`` content, else the response; VQA-RAD and PathVQA lower-case and strip both."""
    text = rec.response.text if rec.response and rec.response.text else ""
    boxed = compat.extract_boxed_content(text)
    if boxed != "None":
        text = boxed
    elif "<answer>" in text:
        text = compat.extract_tag(text, "answer")
    answer = rec.answer
    if bench.compat_vqa in ("vqa_rad", "path_vqa"):
        text, answer = text.lower().strip(), answer.lower().strip()
    return text, answer


def vqa_prompts(bench: Benchmark, rec: Record) -> list[str]:
    if not vqa_covers(bench, rec):
        return []
    response, answer = vqa_judge_input(bench, rec)
    return [
        template("vqa_judge.txt").format(question=rec.question, answer=answer, response=response)
    ]


def parse_vqa(text: str) -> dict[str, Any] | None:
    """``<judge>0</judge>`` = correct, ``1`` = incorrect (MedUniEval's tags; without tags the
    whole reply is read). Anything else is unparseable."""
    value = compat.extract_tag(text, "judge").strip()
    return {"correct": value == "0"} if value in ("0", "1") else None


def conversation_string(conversation: Sequence[dict[str, Any]], response: str) -> str:
    """HealthBench's conversation string: ``role: content`` turns plus the response, blank-line
    separated."""
    turns = [*conversation, {"role": "assistant", "content": response}]
    return "\n\n".join(f"{t['role']}: {t['content']}" for t in turns)


def rubric_prompts(bench: Benchmark, rec: Record) -> list[str]:
    convo = conversation_string(rec.meta.get("conversation") or [], rec.response.text or "")
    grader = template("healthbench_grader.txt")
    return [
        grader.replace("<<conversation>>", convo).replace(
            "<<rubric_item>>", f"[{item['points']}] {item['criterion']}"
        )
        for item in rec.meta.get("rubrics") or []
    ]


_FENCE = re.compile(r"^```json\s*|\s*```$")


def parse_rubric(text: str) -> dict[str, Any] | None:
    """The official grader parsing: drop a leading ```json and trailing ```, ``json.loads``; a
    grade is valid iff ``criteria_met`` is a boolean."""
    try:
        obj = json.loads(_FENCE.sub("", text.strip()))
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("criteria_met"), bool):
        return None
    return {"criteria_met": obj["criteria_met"], "explanation": str(obj.get("explanation", ""))}


def diagnosis_prompts(bench: Benchmark, rec: Record) -> list[str]:
    from .benchmarks.rarebench import judge_prompt

    return [judge_prompt(rec.response.text or "", rec.answer)]


_RANK = re.compile(r"^\s*(?:rank\s*[:#]?\s*)?(\d{1,2})\s*[.)]?\s*$", re.IGNORECASE)


def parse_diagnosis(text: str) -> dict[str, Any] | None:
    """A rank 1-10 (the first listed diagnosis matching the gold one) or ``no`` (rank 0)."""
    t = text.strip().strip("\"'`*").strip()
    m = _RANK.match(t)
    if m and 1 <= int(m.group(1)) <= 10:
        return {"rank": int(m.group(1))}
    if t.lower().rstrip(".") in ("no", "none", "否"):
        return {"rank": 0}
    return None


def _first(key: str) -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
    return lambda items: {key: items[0].get(key)} if items else {}


TASKS: dict[str, JudgeTask] = {
    "vqa": JudgeTask(
        "vqa",
        vqa_prompts,
        parse_vqa,
        "<think>...</think> then <judge>0</judge> or <judge>1</judge>",
        _first("correct"),
    ),
    "rubric": JudgeTask(
        "rubric",
        rubric_prompts,
        parse_rubric,
        'a JSON object with a string "explanation" and a boolean "criteria_met".',
    ),
    "diagnosis": JudgeTask(
        "diagnosis",
        diagnosis_prompts,
        parse_diagnosis,
        "only the rank number (1-10) or the word no.",
        _first("rank"),
    ),
}


# ------------------------------------------------------------------------------------ judge
@dataclass
class Outcome:
    """One judge item: every raw reply in order, the parsed verdict, or an error."""

    raws: list[str] = field(default_factory=list)
    parsed: dict[str, Any] | None = None
    error: str | None = None
    cached: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"raw": self.raws[-1] if self.raws else None}
        out["attempts"] = len(self.raws)
        if len(self.raws) > 1:
            out["raws"] = list(self.raws)
        out.update(self.parsed or {})
        out["error"] = self.error
        return out


class Judge:
    """A model used as a judge, built from any preset (any backend)."""

    def __init__(
        self,
        preset: ModelPreset,
        store_path: Path | None,
        retries: int = JUDGE_RETRIES,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.preset = preset
        self.store_path = store_path
        self.retries = retries
        self.options = options or {}
        max_tokens = int(preset.generation.get("max_new_tokens", JUDGE_MAX_TOKENS))
        self.params = GenParams(max_new_tokens=max_tokens, temperature=0.0, top_p=1.0)
        self._backend: Backend | None = None
        self._store: ResponseStore | None = None
        self._fp: str | None = None
        self.calls = 0  # requests sent to the judge backend
        self.cache_hits = 0

    @classmethod
    def from_spec(cls, spec: str, store_path: Path | None, **options: Any) -> Judge:
        """``--judge PRESET``: a preset name, preset YAML, local model dir or hub id."""
        preset = resolve_model(spec)
        BACKENDS.get(preset.backend)  # unknown backend -> ConfigError before any work
        return cls(preset, store_path, options=options)

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            cls = BACKENDS.get(self.preset.backend)
            self._backend = cls.from_preset(self.preset, identity=self._fp, **self.options)
        return self._backend

    @property
    def store(self) -> ResponseStore | None:
        cacheable = getattr(BACKENDS.get(self.preset.backend), "cacheable", True)
        if self._store is None and self.store_path is not None and cacheable:
            self._store = ResponseStore(self.store_path)
        return self._store

    def fingerprint(self) -> str:
        """The judge model's identity, without loading it where ``model_identity`` can."""
        if self._fp is None:
            cls = BACKENDS.get(self.preset.backend)
            device = self.options.get("device")
            self._fp = model_identity(self.preset, cls, device, cache_file_for(self.store_path))
            self._fp = self._fp or self.backend.fingerprint()
        return self._fp

    def describe(self) -> dict[str, Any]:
        """What the manifest records about the judge (no fingerprint if it was never needed)."""
        return {
            "preset": self.preset.name,
            "model": self.preset.model,
            "backend": self.preset.backend,
            "fingerprint": self._fp,
            "generation": self.params.to_dict(),
            "retries": self.retries,
        }

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
        if self._store is not None:
            self._store.close()

    def _call(self, requests: list[Request]) -> list[Response]:
        """Responses for ``requests`` (same order): store hits first, the rest in one batch."""
        fp = self.fingerprint()
        keys = [r.key(fp) for r in requests]
        store = self.store
        hits = store.get_many(keys) if store is not None else {}
        self.cache_hits += sum(1 for k in keys if k in hits)
        out: dict[str, Response] = dict(hits)
        todo: dict[str, Request] = {}
        for key, req in zip(keys, requests, strict=True):
            if key not in out:
                todo.setdefault(key, req)
        key_of = {id(req): key for key, req in todo.items()}
        fresh: list[tuple[str, str, Response]] = []
        for req, resp in self.backend.generate(list(todo.values())) if todo else ():
            out[key_of[id(req)]] = resp
            fresh.append((key_of[id(req)], fp, resp))
        self.calls += len(todo)
        if store is not None and fresh:
            store.put_many(fresh)
        return [out[k] for k in keys]

    def ask(
        self, bench: str, prompts: Sequence[str], task: JudgeTask, ids: Sequence[str] | None = None
    ) -> list[Outcome]:
        """Judge every prompt; unparseable replies are retried with a format reminder."""
        convs = [[Message("user", (TextPart(p),))] for p in prompts]
        outcomes = [Outcome() for _ in prompts]
        ids = list(ids) if ids is not None else [str(i) for i in range(len(prompts))]
        pending = list(range(len(prompts)))
        for _ in range(1 + self.retries):
            if not pending:
                break
            reqs = [
                Request(ids[i], f"judge:{bench}", tuple(convs[i]), self.params) for i in pending
            ]
            retry: list[int] = []
            for i, resp in zip(pending, self._call(reqs), strict=True):
                oc = outcomes[i]
                if resp.error is not None or resp.text is None:
                    oc.error = f"judge_call_failed: {resp.error}"
                    continue
                oc.raws.append(resp.text)
                oc.cached += int(resp.cached)
                oc.parsed = task.parse(resp.text)
                if oc.parsed is None:
                    convs[i] += [
                        Message("assistant", (TextPart(resp.text),)),
                        Message("user", (TextPart(RETRY_TEMPLATE.format(hint=task.hint)),)),
                    ]
                    retry.append(i)
            pending = retry
        for i in pending:
            last = outcomes[i].raws[-1]
            outcomes[
                i
            ].error = f"judge_unparseable: {len(outcomes[i].raws)} replies, last {last[:160]!r}"
        return outcomes


# ------------------------------------------------------------------------------- the stage
def judge_key(fingerprint: str, prompts: list[str], params: GenParams) -> str:
    """Identifies one record's judging (judge model, settings, prompts)."""
    payload = {"judge": fingerprint, "params": params.to_dict(), "prompts": prompts}
    return sha256_hex(canonical_json(payload).encode("utf-8"))


def needs_judging(rec: Record, key: str) -> bool:
    """No verdict yet, a judge error last time, or judged on other prompts / another judge."""
    return rec.judge is None or rec.judge.get("key") != key or rec.judge.get("error") is not None


def template_sha256(task: str) -> str:
    """The hash of a judge task's prompt template (recorded in every judgement)."""
    if task == "diagnosis":
        from .benchmarks.rarebench import JUDGE

        text = JUDGE
    else:
        text = template("vqa_judge.txt" if task == "vqa" else "healthbench_grader.txt")
    return sha256_hex(text.encode("utf-8"))


def rejudge_reason(rec: Record, fingerprint: str) -> str | None:
    """Why an already judged record is judged again (None: judged for the first time)."""
    if rec.judge is None:
        return None
    if rec.judge.get("error") is not None:
        return "judge retried after a judge error"
    if rec.judge.get("fingerprint") != fingerprint:
        return "judge changed"
    return "judge prompt changed"


def judge_records(bench: Benchmark, records: list[Record], judge: Judge) -> dict[str, int]:
    """Fill ``Record.judge`` for the records of ``bench`` that need a verdict and re-score them.
    Returns the number of records judged, by reason (``new`` for a first verdict; else
    :func:`rejudge_reason`); empty when nothing changed. Failed records are never judged."""
    if bench.judge is None:
        return {}
    task = TASKS.get(bench.judge)
    if task is None:
        raise ConfigError(f"{bench.name}: unknown judge task {bench.judge!r}; known: {list(TASKS)}")
    fp = judge.fingerprint()
    todo: list[tuple[Record, list[str], str]] = []
    for rec in records:
        if rec.failed:
            continue
        prompts = task.prompts(bench, rec)
        if not prompts:
            continue
        key = judge_key(fp, prompts, judge.params)
        if needs_judging(rec, key):
            todo.append((rec, prompts, key))
    reasons = Counter(rejudge_reason(rec, fp) or "new" for rec, _, _ in todo)
    template_hash = template_sha256(task.name) if todo else ""
    flat = [p for _, prompts, _ in todo for p in prompts]
    ids = [f"{rec.sample_id}#{i}" for rec, prompts, _ in todo for i in range(len(prompts))]
    outcomes = iter(judge.ask(bench.name, flat, task, ids))
    for rec, prompts, key in todo:
        items = [next(outcomes).to_dict() for _ in prompts]
        errors = [it["error"] for it in items if it["error"]]
        unavailable = any(str(e).startswith("judge_call_failed") for e in errors)
        rec.judge = {
            "task": task.name,
            "judge": judge.preset.name,
            "fingerprint": fp,
            "template_sha256": template_hash,
            "key": key,
            "status": "unavailable" if unavailable else "unparseable" if errors else "judged",
            **task.verdict(items),
            **({"raw": items[0]["raw"]} if len(items) == 1 else {}),
            "items": items,
            "error": f"{len(errors)} of {len(items)} judge item(s) failed; first: {errors[0]}"
            if errors
            else None,
        }
        rec.scores = score_record(bench, rec)
    return dict(reasons)
