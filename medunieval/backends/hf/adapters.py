"""The hf adapter families by name (``preset.adapter``)."""

from __future__ import annotations

from .base import _Adapter
from .causal_lm import _CausalLM
from .hulumed import _HuluMed
from .mllama import _Mllama
from .video_llama3 import _VideoLlama3
from .vlm import _VLM

ADAPTERS = ("auto", "vlm", "causal_lm", "hulumed", "video_llama3", "mllama")

ADAPTER_CLASSES: dict[str, type[_Adapter]] = {
    "causal_lm": _CausalLM,
    "vlm": _VLM,
    "hulumed": _HuluMed,
    "video_llama3": _VideoLlama3,
    "mllama": _Mllama,
}
