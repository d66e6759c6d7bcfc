"""Token usage and cost of a benchmark's generations (from the records)."""

from __future__ import annotations

from typing import Any

from .types import Record


def usage_summary(records: list[Record], price: dict[str, float] | None) -> dict[str, Any]:
    """Requests answered, prompt / completion tokens, and the cost in USD when the preset has a
    price table (``prompt_per_1m``, ``completion_per_1m``); cached answers count too (they cost
    something once)."""
    answered = [r.response for r in records if r.response is not None and r.response.text]
    prompt = sum(r.prompt_tokens or 0 for r in answered)
    completion = sum(r.completion_tokens or 0 for r in answered)
    out: dict[str, Any] = {
        "responses": len(answered),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cost_usd": None,
    }
    if price:
        out["cost_usd"] = round(
            prompt / 1e6 * float(price.get("prompt_per_1m", 0))
            + completion / 1e6 * float(price.get("completion_per_1m", 0)),
            6,
        )
    return out
