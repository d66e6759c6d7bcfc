"""``mllama``: Llama 3.2 Vision (``MllamaForConditionalGeneration``), the ``vlm`` adapter with
one rule more: text-only requests and requests with images never share a batch.

Mllama reads images through cross-attention layers. Alone, a text-only request skips them;
batched next to image requests it gets the batch's (dummy) vision states, and a cross-attention
mask that masks its whole row is turned into uniform attention over them, so its answer
changes (seen on transformers 5.x with tests/test_model_conformance.py). Keeping the two
kinds apart keeps batched answers equal to one-by-one answers.
"""

from __future__ import annotations

from typing import Any

from ...types import Request
from .vlm import _VLM


class _Mllama(_VLM):
    name = "mllama"

    def batch_group(self, request: Request) -> Any:
        return bool(request.media())
