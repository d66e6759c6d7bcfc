"""Provenance: the digests of the inputs every record was made from, and the rule for reuse.

A record carries ``provenance``: one short digest per input —

- ``data``: the sample's content (id, question, gold, answer type, choices, meta) and the
  SHA-256 of each media item,
- ``predictions``: replay only, the digest of that sample id's prediction,
- ``model``: the model identity (``model_identity.fingerprint``),
- ``generation``: the generation parameters,
- ``prompt``: the messages' text (prompt template and question as rendered),

and ``input``, one digest over all of them. On resume a record is reused only when its
``input`` equals the one recomputed from the current inputs; otherwise the sample is re-run and
the reason is the first differing input, in the order above ("data changed", ...). A record
without provenance (written before it existed) is re-run too: its response usually comes back
from the response store, so this costs nothing when its inputs did not change.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any

from .types import GenParams, Record, Request, Sample, TextPart, sha256_hex

COMPONENTS: dict[str, str] = {
    "data": "data changed",
    "predictions": "predictions changed",
    "model": "model changed",
    "generation": "generation parameters changed",
    "prompt": "prompt changed",
}
NO_PROVENANCE = "no provenance (record written by an earlier version)"
RETRY_FAILED = "previous attempt failed"


def digest(obj: Any, n: int = 16) -> str:
    """A short SHA-256 of ``obj``'s canonical JSON (non-JSON values by ``str``)."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return sha256_hex(blob.encode("utf-8"))[:n]


def data_digest(sample: Sample, request: Request) -> str:
    """The sample's content and its media digests."""
    return digest(
        [
            sample.id,
            sample.question,
            sample.answer,
            sample.answer_type,
            sample.choices,
            sample.meta,
            [p.digest for p in request.media()],
        ]
    )


def _sha(text: str, n: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def prompt_digest(request: Request) -> str:
    """The text the model is sent, turn by turn (media are covered by ``data``)."""
    parts: list[str] = []
    for m in request.messages:
        parts.append(f"\x1e{m.role}")
        parts.extend(p.text for p in m.content if isinstance(p, TextPart))
    return _sha("\x1f".join(parts))


@lru_cache(maxsize=64)
def _model_digest(model: str) -> str:
    return _sha(model)


@lru_cache(maxsize=64)
def _generation_digest(params: GenParams) -> str:
    return digest(params.to_dict())


def make(
    sample: Sample,
    request: Request,
    model: str,
    params: GenParams,
    prediction: str | None = None,
) -> dict[str, str | None]:
    """The provenance of the record ``request`` produces for ``sample``."""
    out: dict[str, str | None] = {
        "data": data_digest(sample, request),
        "predictions": prediction,
        "model": _model_digest(model),
        "generation": _generation_digest(params),
        "prompt": prompt_digest(request),
    }
    out["input"] = _sha("|".join(str(out[k]) for k in COMPONENTS), 64)
    return out


def stale_reason(old: Record | None, new: dict[str, str | None]) -> str | None:
    """Why ``old`` cannot stand for the record ``new`` describes (None: it can be reused; also
    None when there is no old record, a first run of that sample)."""
    if old is None:
        return None
    if old.failed:
        return RETRY_FAILED
    prov = old.provenance
    if not isinstance(prov, dict) or "input" not in prov:
        return NO_PROVENANCE
    if prov["input"] == new["input"]:
        return None
    for key, reason in COMPONENTS.items():
        if prov.get(key) != new.get(key):
            return reason
    return "inputs changed"


def sample_seed(seed: int, benchmark: str, sample_id: str) -> int:
    """The seed of one sample's draw under sampling (temperature > 0): the same wherever and
    with whatever else the sample is generated (shards, batches, data-parallel workers)."""
    return int(digest([seed, benchmark, sample_id], 8), 16)


def per_sample_key(request: Request, prediction: str | None) -> dict[str, Any] | None:
    """What makes a request's answer specific to its sample, for the request key: the sample
    (and its prediction digest) for replay, the sample for sampled generation; None for greedy
    generation, where identical requests are one generation."""
    if prediction is not None:
        return {"sample": [request.benchmark, request.sample_id], "prediction": prediction}
    if request.params.temperature > 0:
        return {"sample": [request.benchmark, request.sample_id]}
    return None
