"""How each shipped model preset runs (its route), how this repository tests that route, and
which rows of the paper's tables it stands for (``medunieval list models``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from .presets import ModelPreset

HF_NATIVE = "hf native"
HF_REMOTE = "hf remote code"
VLLM = "vllm"
API = "openai API"
SERVE = "serve-your-own"

#: checkpoint model class -> ``module:function`` building a tiny random model of that class,
#: for every architecture a native preset uses (tests/test_model_conformance.py runs each
#: through the presets that name it).
NATIVE_BUILDERS: dict[str, str] = {
    "Qwen2_5_VLForConditionalGeneration": "medunieval.tiny_vlms:build_tiny_qwen2_5_vl",
    "InternVLForConditionalGeneration": "medunieval.tiny_vlms:build_tiny_internvl",
    "Gemma3ForConditionalGeneration": "medunieval.tiny_vlms:build_tiny_gemma3",
    "MllamaForConditionalGeneration": "medunieval.tiny_vlms:build_tiny_mllama",
    "JanusForConditionalGeneration": "medunieval.tiny_vlms:build_tiny_janus",
    "VideoLlama3ForConditionalGeneration": (
        "medunieval.tiny_video_llama3:build_tiny_video_llama3"
    ),
}


def native_builder(architecture: str) -> Callable[..., Path]:
    """The tiny-model builder for ``architecture`` (see ``NATIVE_BUILDERS``)."""
    module, func = NATIVE_BUILDERS[architecture].split(":")
    return getattr(importlib.import_module(module), func)


def route(preset: ModelPreset) -> str:
    """``hf native`` | ``hf remote code`` | ``vllm`` | ``openai API`` | ``serve-your-own``."""
    if preset.backend == "openai":
        return SERVE if preset.own_code else API
    if preset.backend == "vllm":
        return f"{VLLM} (remote code)" if preset.trust_remote_code else VLLM
    if preset.backend == "hf":
        return HF_REMOTE if preset.trust_remote_code else HF_NATIVE
    return preset.backend


def how_tested(preset: ModelPreset) -> str:
    """One line: what in this repository exercises the preset's route."""
    kind = route(preset)
    if kind == HF_NATIVE:
        if preset.architecture in NATIVE_BUILDERS:
            return (
                f"tiny random {preset.architecture} loaded through this preset: batched = "
                "one by one, images change the answer (test_model_conformance)"
            )
        return "not exercised: no tiny model of its architecture"
    if kind == HF_REMOTE:
        return "stand-in following the published remote-code interface (test_hulumed)"
    if kind.startswith(VLLM):
        return (
            "vllm backend with a fake vLLM registry (test_vllm_backend); the architecture "
            "itself runs only where vLLM is installed"
        )
    if kind == API:
        return "this preset against a local OpenAI-compatible server (test_model_presets)"
    if kind == SERVE:
        return (
            "other backends refused with the route; the endpoint via a local "
            "OpenAI-compatible server (test_model_presets)"
        )
    return ""


def paper_rows() -> dict[str, list[str]]:
    """Preset name -> the row labels it has in the paper's tables (packaged reference data)."""
    from .leaderboard.reference import load_table

    rows: dict[str, list[str]] = {}
    for table_id in ("table1", "table2"):
        for group in load_table(table_id, include_later=True).row_groups:
            for row in group.rows:
                if row.preset and row.model not in rows.setdefault(row.preset, []):
                    rows[row.preset].append(row.model)
    return rows


__all__ = ["NATIVE_BUILDERS", "native_builder", "paper_rows", "route", "how_tested"]
