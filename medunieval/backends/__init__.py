"""Backend registry. Entries are ``"module:Class"`` strings so listing them imports nothing
heavy; each class has ``from_preset(preset, **options) -> Backend``."""

from __future__ import annotations

from ..registry import Registry
from .base import Backend, error_response

BACKENDS: Registry = Registry("backend", "medunieval.backends")
BACKENDS.register("replay", "medunieval.backends.replay:ReplayBackend")
BACKENDS.register("hf", "medunieval.backends.hf:HFBackend")
BACKENDS.register("vllm", "medunieval.backends.vllm_backend:VLLMBackend")
BACKENDS.register("openai", "medunieval.backends.openai_api:OpenAIBackend")

__all__ = ["BACKENDS", "Backend", "error_response"]
