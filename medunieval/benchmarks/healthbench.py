"""HealthBench (OpenAI simple-evals): multi-turn health conversations graded against
physician-written rubrics by a judge model. Three separate benchmarks, never mixed (MedUniEval
concatenates them): ``healthbench`` (main, 5,000), ``healthbench_hard`` (1,000),
``healthbench_consensus`` (3,671). Rows: ``prompt`` [{role, content}], ``rubrics`` [{criterion,
points, tags}], ``example_tags``, ``prompt_id``. The model sees the whole conversation."""

from __future__ import annotations

from typing import Any

from ..types import Sample
from .base import Benchmark, RowContext, pick

BASE_URL = "https://openaipublic.blob.core.windows.net/simple-evals/healthbench/"
FILES = {
    "healthbench": "2025-05-07-06-14-12_oss_eval.jsonl",
    "healthbench_hard": "hard_2025-05-08-21-00-10.jsonl",
    "healthbench_consensus": "consensus_2025-05-09-20-00-46.jsonl",
}
ROLES = {"system", "user", "assistant"}


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    turns = pick(row, "prompt")
    if not isinstance(turns, list) or not turns:
        raise ValueError("'prompt' must be a non-empty list of {role, content} turns")
    conversation = []
    for turn in turns:
        if turn.get("role") not in ROLES or not isinstance(turn.get("content"), str):
            raise ValueError(f"bad prompt turn {str(turn)[:80]!r}")
        conversation.append({"role": turn["role"], "content": turn["content"]})
    if conversation[-1]["role"] != "user":
        raise ValueError("the conversation must end with a user turn")
    rubrics = pick(row, "rubrics")
    if not isinstance(rubrics, list) or not rubrics:
        raise ValueError("'rubrics' must be a non-empty list")
    for item in rubrics:
        if not isinstance(item.get("criterion"), str) or not isinstance(
            item.get("points"), (int, float)
        ):
            raise ValueError(f"bad rubric item {str(item)[:80]!r}")
    tags = [str(t) for t in row.get("example_tags") or []]
    theme = next((t.split(":", 1)[1] for t in tags if t.startswith("theme:")), None)
    meta: dict[str, Any] = {
        "conversation": conversation,
        "rubrics": [
            {"criterion": r["criterion"], "points": r["points"], "tags": list(r.get("tags") or [])}
            for r in rubrics
        ],
        "example_tags": tags,
        "turns": len(conversation),
    }
    if theme:
        meta["theme"] = theme
    return Sample(
        id=str(pick(row, "prompt_id")),
        benchmark=ctx.bench.name,
        question=conversation[-1]["content"],
        answer="",
        answer_type="rubric",
        meta=meta,
    )


def last_turn(bench: Benchmark, sample: Sample, reasoning: bool) -> str:
    """The final user turn, as written (earlier turns travel as their own messages)."""
    return str(sample.meta["conversation"][-1]["content"])


def _make(name: str, title: str, description: str) -> Benchmark:
    return Benchmark(
        name=name,
        title=title,
        task="rubric",
        to_sample=to_sample,
        hub=None,
        url=BASE_URL + FILES[name],
        local_files=(FILES[name], "test.jsonl"),
        prompt_builder=last_turn,
        judge="rubric",
        max_new_tokens=2048,
        description=description,
    )


BENCHMARK = _make("healthbench", "HealthBench", "Rubric-graded health conversations (5,000)")
BENCHMARK_HARD = _make(
    "healthbench_hard", "HealthBench Hard", "The 1,000 hardest HealthBench conversations"
)
BENCHMARK_CONSENSUS = _make(
    "healthbench_consensus",
    "HealthBench Consensus",
    "3,671 conversations with physician-consensus rubric items",
)
