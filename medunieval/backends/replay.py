"""``replay``: answers from a predictions file, for re-scoring other tools' outputs and tests.

The file is JSON Lines, one object per sample: ``{"id": ..., "response": "..."}``, optionally
with ``"benchmark"`` (needed only when ids repeat across benchmarks) or ``"error"`` (replays a
failed generation). A sample without a prediction becomes an error record, never a guess.
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

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read predictions file {path}: {exc}") from exc
        self._digest = hashlib.sha256(raw).hexdigest()
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
        return f"replay:{self._digest}"

    def generate(self, requests: Sequence[Request]) -> Iterator[tuple[Request, Response]]:
        for req in requests:
            obj = self._by_bench.get((req.benchmark, req.sample_id)) or self._by_id.get(
                req.sample_id
            )
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
