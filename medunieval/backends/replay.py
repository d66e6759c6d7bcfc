"""``replay``: answers from a predictions file, for re-scoring other tools' outputs and tests.

The file is JSON Lines, one object per sample: ``{"id": ..., "response": "..."}``, optionally
with ``"benchmark"`` (needed only when ids repeat across benchmarks) or ``"error"`` (replays a
failed generation). A sample without a prediction becomes an error record, never a guess.

Answers are per sample id: ``per_sample_answers`` tells the engine to key every request by its
sample and :meth:`ReplayBackend.prediction_digest`, so two samples with the same prompt never
share an answer, and a changed prediction re-runs exactly its own record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..presets import ModelPreset
from ..types import Request, Response
from .base import error_response


class ReplayBackend:
    name = "replay"
    modalities = frozenset({"text", "image", "volume", "video"})
    cacheable = False
    per_sample_answers = True

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read predictions file {path}: {exc}") from exc
        self._by_bench: dict[tuple[str, str], dict[str, Any]] = {}
        self._by_id: dict[str, dict[str, Any]] = {}
        for n, raw_line in enumerate(raw.split(b"\n"), 1):
            try:
                line = raw_line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ConfigError(
                    f"{path} line {n}: not UTF-8 (byte {exc.start}); save the predictions as UTF-8"
                ) from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                sid = str(obj["id"])
            except (ValueError, KeyError, TypeError, IndexError, RecursionError):
                raise ConfigError(
                    f"{path} line {n}: expected a JSON object with 'id' and 'response'"
                ) from None
            if "benchmark" in obj:
                self._by_bench[(str(obj["benchmark"]), sid)] = obj
            self._by_id[sid] = obj

    @classmethod
    def from_preset(
        cls, preset: ModelPreset, predictions: Path | None = None, **_: Any
    ) -> ReplayBackend:
        path = predictions or preset.options.get("predictions")
        if path is None and Path(preset.model).is_file():
            path = preset.model
        if path is None:
            raise ConfigError(
                "the replay backend needs a predictions file: --predictions FILE.jsonl"
            )
        return cls(Path(path))

    def fingerprint(self) -> str:
        """``replay``: what a sample gets is in its prediction digest, not in the model."""
        return "replay"

    def _lookup(self, benchmark: str, sample_id: str) -> dict[str, Any] | None:
        return self._by_bench.get((benchmark, sample_id)) or self._by_id.get(sample_id)

    def prediction_digest(self, benchmark: str, sample_id: str) -> str:
        """The digest of what this file answers for one sample (its response / error, or its
        absence)."""
        obj = self._lookup(benchmark, sample_id)
        if obj is None:
            return "missing"
        blob = json.dumps([obj.get("response"), obj.get("error")], ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    def generate(self, requests: Sequence[Request]) -> Iterator[tuple[Request, Response]]:
        for req in requests:
            obj = self._lookup(req.benchmark, req.sample_id)
            if obj is None:
                yield (
                    req,
                    error_response(
                        "missing_prediction", f"no prediction for id {req.sample_id} in {self.path}"
                    ),
                )
            elif obj.get("error"):
                yield req, error_response("replayed_error", str(obj["error"]))
            else:
                text = obj.get("response")
                if not isinstance(text, str):
                    yield (
                        req,
                        error_response(
                            "malformed_prediction",
                            f"id {req.sample_id}: 'response' is not a string",
                        ),
                    )
                else:
                    yield req, Response(text=text, finish_reason="stop")

    def close(self) -> None:
        pass
