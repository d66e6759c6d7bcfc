"""``hf``: local generation with Hugging Face transformers.

One backend, three adapters chosen by ``preset.adapter`` (``auto`` reads the model config):

- ``vlm`` — generic vision-language models through ``AutoProcessor`` and its chat template
  (Qwen2-VL, Qwen2.5-VL, LLaVA, InternVL ``-hf``, Gemma 3 / MedGemma, ...);
- ``causal_lm`` — text-only models through ``AutoTokenizer`` and its chat template;
- ``hulumed`` — Hulu-Med's remote-code API, as on its model card (one request at a time).

Batching: requests are grouped by generation parameters, sorted by prompt length (longest
first, so an out-of-memory shows up at once), cut into batches and left-padded, so every row's
new tokens start at the same column and the attention mask / position ids handle the padding.
Greedy by default. ``batch_size="auto"`` starts at ``max_batch_size``, halves on out-of-memory
and remembers the size that worked. A batch that fails any other way is re-run one request at
a time so only the failing request gets an error response. Media are opened just before their
batch runs (a missing or corrupt image is an error response for that request only), so a long
run never holds more than one batch of images in memory.

Speed options in ``preset.options``: ``batch_size`` / ``max_batch_size``,
``attn_implementation`` (``sdpa``, ``flash_attention_2``), ``generate_kwargs`` (passed to
``generate``, e.g. ``{cache_implementation: static}``; part of the fingerprint) and
``torch_compile: true`` (compiles the forward pass). tests/perf/bench_gpu_vqa.py measures them.

Layout: ``core`` holds the backend and its batching / out-of-memory logic, which every adapter
uses; ``base`` the adapter base class; ``loading`` model sources, detection and fingerprints; one
module per family (``causal_lm``, ``vlm``, ``hulumed``); ``adapters`` maps names to families.

torch and transformers are imported lazily: importing this package needs neither.
"""

from __future__ import annotations

from .adapters import ADAPTER_CLASSES, ADAPTERS
from .base import INSTALL_HINT, chat_messages, is_oom
from .core import HFBackend
from .hulumed import (
    HULUMED_MEDIA,
    NII_AXIS,
    build_hulumed_conversation,
    hulumed_native_conversation,
)
from .loading import DTYPES, VLM_MODEL_TYPES, detect_adapter, processor_without_video

__all__ = [
    "ADAPTERS",
    "ADAPTER_CLASSES",
    "DTYPES",
    "HULUMED_MEDIA",
    "INSTALL_HINT",
    "NII_AXIS",
    "VLM_MODEL_TYPES",
    "hulumed_native_conversation",
    "HFBackend",
    "build_hulumed_conversation",
    "chat_messages",
    "detect_adapter",
    "is_oom",
    "processor_without_video",
]
