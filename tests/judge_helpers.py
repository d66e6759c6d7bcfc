"""A scripted judge backend for tests: answers judge prompts by rule, counts its calls."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from medunieval.types import Request, Response


def vqa_rule(prompt: str) -> str:
    """Correct (0) iff the user's answer equals the standard answer."""
    gold = re.search(r"The standard answer: (.*)\n", prompt).group(1).strip().lower()
    said = re.search(r"The user's answer: (.*)\n", prompt).group(1).strip().lower()
    return f"<think>compare</think>\n<judge>{0 if gold == said else 1}</judge>"


def rubric_rule(prompt: str) -> str:
    """``criteria_met`` = true for every rubric item (positive and negative alike)."""
    return '```json\n{"explanation": "scripted", "criteria_met": true}\n```'


class ScriptedJudge:
    """Backend answering with ``script(last user text)``; ``calls`` counts generations."""

    name = "scripted"
    modalities = frozenset({"text"})
    cacheable = True
    script: Callable[[str], str] = staticmethod(vqa_rule)
    calls = 0
    prompts: list[Request] = []

    @classmethod
    def from_preset(cls, preset: Any, **_: Any) -> ScriptedJudge:
        return cls()

    def fingerprint(self) -> str:
        return "scripted-judge:v1"

    def generate(self, requests: Sequence[Request]) -> Iterator[tuple[Request, Response]]:
        for req in requests:
            type(self).calls += 1
            type(self).prompts.append(req)
            yield req, Response(text=type(self).script(req.prompt_text()), finish_reason="stop")

    def close(self) -> None:
        pass


def judge_preset(tmp: Path) -> Path:
    path = tmp / "scripted-judge.yaml"
    path.write_text("name: scripted-judge\nmodel: scripted\nbackend: scripted\n")
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
