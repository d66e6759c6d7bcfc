"""The backend protocol: every model runtime (hf, vllm, openai, replay) implements it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from ..types import Request, Response


@runtime_checkable
class Backend(Protocol):
    """A model runtime.

    ``generate`` owns batching/concurrency and yields one ``(request, response)`` pair per
    request, in any order. It never raises for a per-request failure: that is a ``Response``
    with ``error`` set. ``fingerprint`` identifies what produces the text (backend, model id,
    revision, dtype...) and goes into every request key. ``cacheable`` is False for backends
    whose answers cost nothing (replay), so they never enter the response store.
    """

    name: str
    modalities: frozenset[str]
    cacheable: bool

    def fingerprint(self) -> str: ...

    def generate(self, requests: Sequence[Request]) -> Iterator[tuple[Request, Response]]: ...

    def close(self) -> None: ...


def error_response(kind: str, reason: str, **extra: Any) -> Response:
    """A Response that records a failed generation."""
    return Response(text=None, error=f"{kind}: {reason}", finish_reason="error", **extra)
