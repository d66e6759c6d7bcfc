"""What every hf adapter shares: the adapter base class, one request's batch item, chat
messages, out-of-memory detection and small helpers. Imports neither torch nor transformers."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import ConfigError
from ...types import ImagePart, Request, Response, TextPart, VideoPart, VolumePart

INSTALL_HINT = "the hf backend needs torch and transformers: pip install 'medunieval[hf]'"
MAX_REASON_CHARS = 500
_OOM_MARKERS = ("out of memory", "can't allocate memory", "cannot allocate memory")


def _note(msg: str) -> None:
    """One line on stderr."""
    print(f"medunieval: {msg}", file=sys.stderr, flush=True)


def _require_hf() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return torch, transformers


def _offline() -> bool:
    return any(
        os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_REASON_CHARS]


def is_oom(exc: BaseException) -> bool:
    """CUDA/CPU out-of-memory, whichever way torch reports it."""
    if isinstance(exc, MemoryError):
        return True
    name = type(exc).__name__
    if name == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError (a RuntimeError subclass)
        return True
    return isinstance(exc, RuntimeError) and any(m in str(exc).lower() for m in _OOM_MARKERS)


def _is_oom_response(resp: Response | None) -> bool:
    return resp is not None and (resp.error or "").startswith("oom: ")


def chat_messages(
    request: Request, structured: bool = True, counts: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    """The request as transformers chat messages. ``structured``: content is a list of
    ``{"type": "image"}`` / ``{"type": "text", "text": ...}`` items in part order (processors);
    otherwise the joined text (text-only tokenizers). A volume or video part becomes one image
    item per frame: ``counts`` gives each media part's frame count (1 when not given)."""
    out: list[dict[str, Any]] = []
    media_index = 0
    for msg in request.messages:
        if structured:
            content: Any = []
            for p in msg.content:
                if isinstance(p, TextPart):
                    content.append({"type": "text", "text": p.text})
                    continue
                n = counts[media_index] if counts is not None else 1
                media_index += 1
                content.extend({"type": "image"} for _ in range(n))
        else:
            content = "".join(p.text for p in msg.content if isinstance(p, TextPart))
        out.append({"role": msg.role, "content": content})
    return out


def _plain_prompt(request: Request) -> str:
    system = [
        "".join(p.text for p in m.content if isinstance(p, TextPart))
        for m in request.messages
        if m.role == "system"
    ]
    return "\n\n".join([*system, request.prompt_text()])


@dataclass
class _Item:
    """One request on its way through a batch."""

    request: Request
    prompt: Any  # what the adapter renders: a prompt string or a conversation
    sort_key: tuple[int, ...]
    images: list[Any] | None = None  # opened just before the batch runs (frames flattened)
    counts: list[int] | None = None  # frames per media part (1 for an image)


class _Adapter:
    """How one family of models is loaded, prompted and decoded. The backend owns batching."""

    name = ""
    modalities = frozenset({"text"})
    max_batch: int | None = None  # an upper bound the model imposes (None: no bound)

    def __init__(self) -> None:
        self.model: Any = None
        self.tokenizer: Any = None

    def load(
        self,
        source: str,
        config: Any,
        kw: dict[str, Any],
        model_kw: dict[str, Any],
        options: dict[str, Any],
    ) -> None:
        raise NotImplementedError

    def batch_group(self, request: Request) -> Any:
        """Requests of different groups never share a batch (default: one group)."""
        return None

    def render(self, request: Request) -> tuple[Any, tuple[int, ...]]:
        """The prompt for one request and its sort key; ``SampleError`` if it can't be sent."""
        raise NotImplementedError

    def encode(self, items: list[_Item]) -> dict[str, Any]:
        """Left-padded model inputs for a batch (on the model's device)."""
        raise NotImplementedError

    def generate(self, inputs: dict[str, Any], kwargs: dict[str, Any]) -> Any:
        """Run ``generate`` on what ``encode`` returned (adapters that feed embeddings to the
        language model override this)."""
        return self.model.generate(**inputs, **kwargs)

    def decode(self, rows: list[list[int]]) -> list[str]:
        return list(self.tokenizer.batch_decode(rows, skip_special_tokens=True))

    def generate_kwargs(self) -> dict[str, Any]:
        return {}

    def open_media(self, request: Request) -> tuple[list[Any], list[int]]:
        """Decode the request's media: every image, and every volume / video as its sampled
        frames; returns the flat image list and each part's frame count."""
        images: list[Any] = []
        counts: list[int] = []
        for part in request.media():
            frames = [part.ref.open_image()] if isinstance(part, ImagePart) else part.frames()
            images.extend(frames)
            counts.append(len(frames))
        return images, counts

    # shared helpers
    def _to_device(self, inputs: Any) -> dict[str, Any]:
        import torch

        device = self.model.device
        dtype = self.model.dtype
        out: dict[str, Any] = {}
        for k, v in dict(inputs).items():
            if isinstance(v, torch.Tensor):
                v = v.to(device, dtype=dtype) if v.is_floating_point() else v.to(device)
            out[k] = v
        return out

    def _count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _add_special(self, text: str) -> bool:
        """Templates that write the BOS token themselves must not get a second one."""
        bos = getattr(self.tokenizer, "bos_token", None)
        return not (bos and text.startswith(bos))


def _left_pad(tokenizer: Any) -> None:
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


def _has_frames(request: Request) -> bool:
    return any(isinstance(p, (VolumePart, VideoPart)) for p in request.media())
