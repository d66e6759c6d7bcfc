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

torch and transformers are imported lazily: importing this module needs neither.
"""

from __future__ import annotations

import gc
import importlib.util
import inspect
import os
import re
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.sources import hub_reachable
from ..errors import ConfigError, SampleError
from ..model_identity import fingerprint as model_fingerprint
from ..presets import ModelPreset
from ..types import ImagePart, Request, Response, TextPart, VideoPart, VolumePart
from .base import error_response

INSTALL_HINT = "the hf backend needs torch and transformers: pip install 'medunieval[hf]'"
ADAPTERS = ("auto", "vlm", "causal_lm", "hulumed")
DTYPES = ("auto", "bfloat16", "float16", "float32")
MAX_REASON_CHARS = 500
DOWNLOAD_FIX = "download it and pass the local directory as --model"

# model_type values of image-text models that transformers supports natively. A config with a
# ``vision_config`` is treated as a VLM too, so this list only needs the odd ones out.
VLM_MODEL_TYPES = frozenset(
    {
        "qwen2_vl",
        "qwen2_5_vl",
        "qwen3_vl",
        "qwen3_vl_moe",
        "llava",
        "llava_next",
        "llava_onevision",
        "internvl",
        "gemma3",
        "gemma3n",
        "idefics2",
        "idefics3",
        "smolvlm",
        "mllama",
        "paligemma",
        "pixtral",
        "mistral3",
        "aya_vision",
        "kimi_vl",
        "glm4v",
        "janus",
        "llama4",
        "blip-2",
        "instructblip",
        "fuyu",
        "chameleon",
        "emu3",
        "got_ocr2",
        "cohere2_vision",
    }
)

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
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


def build_hulumed_conversation(
    n_images: int, text: str, max_images_as_images: int = 5
) -> list[dict[str, Any]]:
    """The single user turn MedUniEval sends to Hulu-Med: one ``{"type": "image"}`` item per
    image, or, with more than ``max_images_as_images`` images, one ``{"type": "video",
    "num_frames": N}`` item; then the text."""
    content: list[dict[str, Any]] = []
    if n_images > max_images_as_images:
        content.append({"type": "video", "num_frames": n_images})
    else:
        content.extend({"type": "image"} for _ in range(n_images))
    content.append({"type": "text", "text": text})
    return [{"role": "user", "content": content}]


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


# ------------------------------------------------------------------------------- loading help
def _resolve_source(model: str) -> tuple[str, bool]:
    """(path or hub id, is_local). A path that does not exist and is no hub id is an error."""
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"--model {model}: a file, not a model directory")
        if not (path / "config.json").is_file():
            raise ConfigError(
                f"--model {model}: no config.json there; not a Hugging Face model directory"
            )
        return str(path.resolve()), True
    if _HUB_ID.match(model) and not model.startswith((".", "~")):
        return model, False
    raise ConfigError(f"--model {model}: no such model directory (and not a hub id org/name)")


def _load_error(model: str, exc: BaseException, is_local: bool) -> ConfigError:
    msg = _one_line(str(exc) or type(exc).__name__)
    if "trust_remote_code" in msg:
        return ConfigError(
            f"model {model} ships its own code: set `trust_remote_code: true` in a preset YAML "
            f"if you trust it ({msg})"
        )
    if is_local:
        return ConfigError(f"cannot load model {model}: {msg}")
    if _offline():
        return ConfigError(
            f"model {model} is not in the local Hugging Face cache and the hub is offline or "
            f"unreachable: "
            f"{DOWNLOAD_FIX}"
        )
    return ConfigError(f"cannot load model {model} ({msg}): {DOWNLOAD_FIX}")


def detect_adapter(config: Any) -> str:
    """``auto``: Hulu-Med remote code -> ``hulumed``; a vision config or a known VLM type ->
    ``vlm``; anything else -> ``causal_lm``."""
    model_type = str(getattr(config, "model_type", "") or "").lower()
    archs = [str(a).lower() for a in (getattr(config, "architectures", None) or [])]
    if "hulu" in model_type or any("hulu" in a for a in archs):
        return "hulumed"
    if getattr(config, "vision_config", None) is not None or model_type in VLM_MODEL_TYPES:
        return "vlm"
    return "causal_lm"


def processor_without_video(processor_cls: type) -> type:
    """A subclass of a multimodal processor class without its ``video_processor`` attribute.

    Video processors need torchvision; an image-only evaluation never uses them, so when
    torchvision is missing the processor is loaded (and the tiny test models are saved) with
    only its image processor and tokenizer. Calls with ``videos=`` are not supported then.
    """
    attrs = [a for a in processor_cls.attributes if a != "video_processor"]
    return type(
        processor_cls.__name__,
        (processor_cls,),
        {
            "attributes": attrs,
            "video_processor_class": None,
            "video_processor": None,
            "__module__": processor_cls.__module__,
            "__doc__": f"{processor_cls.__name__} without a video processor (images only).",
        },
    )


def _load_processor(source: str, config: Any, kw: dict[str, Any], extra: dict[str, Any]) -> Any:
    from transformers import AutoProcessor

    try:
        return AutoProcessor.from_pretrained(source, **kw, **extra)
    except (ImportError, ValueError, OSError, TypeError) as exc:
        first_error = exc
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING

    try:
        processor_cls = PROCESSOR_MAPPING[type(config)]
    except KeyError:
        raise first_error from None
    if "video_processor" not in getattr(processor_cls, "attributes", ()):
        raise first_error
    why = (
        "torchvision is not installed"
        if "torchvision" in str(first_error).lower()
        else _one_line(str(first_error), 120)
    )
    _note(
        f"{processor_cls.__name__}: video processor unavailable ({why}); loading it for images only"
    )
    return processor_without_video(processor_cls).from_pretrained(source, **kw, **extra)


# ------------------------------------------------------------------------------------ adapters
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

    def render(self, request: Request) -> tuple[Any, tuple[int, ...]]:
        """The prompt for one request and its sort key; ``SampleError`` if it can't be sent."""
        raise NotImplementedError

    def encode(self, items: list[_Item]) -> dict[str, Any]:
        """Left-padded model inputs for a batch (on the model's device)."""
        raise NotImplementedError

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


class _CausalLM(_Adapter):
    name = "causal_lm"

    def load(self, source, config, kw, model_kw, options):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(source, **kw)
        _left_pad(self.tokenizer)
        self.model = AutoModelForCausalLM.from_pretrained(source, **kw, **model_kw)
        self.source = source
        self.has_template = bool(getattr(self.tokenizer, "chat_template", None))
        if not self.has_template:
            _note(f"{source} has no chat template: sending the plain prompt text")

    def render(self, request):
        n_images = len(request.media())
        if n_images:
            raise SampleError(
                "unsupported_modality",
                f"{self.source} is a text-only model (adapter causal_lm); the request has "
                f"{n_images} image / volume / video part(s)",
            )
        if self.has_template:
            text = self.tokenizer.apply_chat_template(
                chat_messages(request, structured=False), tokenize=False, add_generation_prompt=True
            )
        else:
            text = _plain_prompt(request)
        return text, (self._count_tokens(text),)

    def encode(self, items):
        texts = [it.prompt for it in items]
        enc = self.tokenizer(
            texts, padding=True, return_tensors="pt", add_special_tokens=self._add_special(texts[0])
        )
        return self._to_device(enc)


class _VLM(_Adapter):
    name = "vlm"
    modalities = frozenset({"text", "image", "volume", "video"})

    def load(self, source, config, kw, model_kw, options):
        import transformers

        extra = dict(options.get("processor_kwargs") or {})
        self.processor = _load_processor(source, config, kw, extra)
        tok = getattr(self.processor, "tokenizer", None)
        if tok is None:
            raise ConfigError(
                f"{source}: AutoProcessor returned no tokenizer; try adapter "
                f"causal_lm for a text-only model"
            )
        self.tokenizer = tok
        _left_pad(tok)
        self.template = getattr(self.processor, "chat_template", None) or getattr(
            tok, "chat_template", None
        )
        if not self.template:
            raise ConfigError(f"{source} has no chat template (processor or tokenizer)")
        errors: list[str] = []
        for cls_name in ("AutoModelForImageTextToText", "AutoModelForVision2Seq"):
            auto_cls = getattr(transformers, cls_name, None)
            if auto_cls is None:
                continue
            try:
                self.model = auto_cls.from_pretrained(source, **kw, **model_kw)
                return
            except ValueError as exc:  # "Unrecognized configuration class ..."
                errors.append(_one_line(str(exc), 150))
        raise ValueError("; ".join(errors) or "no image-text model class in transformers")

    def _text(self, request: Request, counts: Sequence[int] | None) -> str:
        return self.processor.apply_chat_template(
            chat_messages(request, counts=counts),
            chat_template=self.template,
            tokenize=False,
            add_generation_prompt=True,
        )

    def render(self, request):
        text = self.processor.apply_chat_template(
            chat_messages(request),
            chat_template=self.template,
            tokenize=False,
            add_generation_prompt=True,
        )
        # Image tokens depend on image sizes, known only once opened: group by image count.
        return text, (len(request.media()), self._count_tokens(text))

    def encode(self, items):
        texts = [
            self._text(it.request, it.counts) if _has_frames(it.request) else it.prompt
            for it in items
        ]
        images = [list(it.images or []) for it in items]
        has_images = any(images)
        enc = self.processor(
            text=texts,
            images=images if has_images else None,
            padding=True,
            return_tensors="pt",
            add_special_tokens=self._add_special(texts[0]),
        )
        return self._to_device(enc)


class _HuluMed(_Adapter):
    """Hulu-Med through its remote code, following the model card (and MedUniEval)."""

    name = "hulumed"
    modalities = frozenset({"text", "image", "volume", "video"})
    max_batch = 1  # its visual token compression works on one conversation at a time

    def load(self, source, config, kw, model_kw, options):
        from transformers import AutoModelForCausalLM, AutoProcessor

        model = AutoModelForCausalLM.from_pretrained(source, **kw, **model_kw)
        processor = AutoProcessor.from_pretrained(source, **kw)
        self.attach(model, processor, options)

    def attach(self, model: Any, processor: Any, options: dict[str, Any]) -> None:
        """Use an already loaded model and processor (``load`` calls this; so do tests)."""
        self.model, self.processor = model, processor
        self.tokenizer = processor.tokenizer
        self.max_images = int(options.get("max_images_as_images", 5))
        self.media_mode = str(options.get("hulumed_media", "frames"))
        if self.media_mode not in HULUMED_MEDIA:
            raise ConfigError(
                f"option hulumed_media={self.media_mode!r}: expected one of {list(HULUMED_MEDIA)}"
            )
        use_think = bool(options.get("use_think", False))
        try:
            params = inspect.signature(processor.batch_decode).parameters
        except (TypeError, ValueError):
            params = {}
        self.decode_kw = {"use_think": use_think} if "use_think" in params else {}

    def render(self, request):
        text = request.prompt_text()
        if self.media_mode == "native" and _has_frames(request):
            return hulumed_native_conversation(request), (len(request.media()), len(text))
        n = len(request.media())
        return build_hulumed_conversation(n, text, self.max_images), (n, len(text))

    def open_media(self, request):
        if self.media_mode == "native":  # the remote code reads volumes / videos itself
            images = [p.ref.open_image() for p in request.images()]
            return images, [1] * len(images)
        return super().open_media(request)

    def encode(self, items):
        (item,) = items
        images = list(item.images or [])
        if self.media_mode == "frames" and _has_frames(item.request):
            # MedUniEval's slice-folder path: every frame an image, > max as one video item
            item.prompt = build_hulumed_conversation(
                len(images), item.request.prompt_text(), self.max_images
            )
        inputs = self.processor(
            images=[images] if images else None,
            conversation=item.prompt,
            add_system_prompt=False,
            add_generation_prompt=True,
            return_tensors="pt",
        )
        return self._to_device(inputs)

    def decode(self, rows):
        return list(self.processor.batch_decode(rows, skip_special_tokens=True, **self.decode_kw))

    def generate_kwargs(self):
        return {"use_cache": True}


def _has_frames(request: Request) -> bool:
    return any(isinstance(p, (VolumePart, VideoPart)) for p in request.media())


#: Hulu-Med volume / video handling: ``frames`` (this harness samples the frames and sends
#: them as MedUniEval sends slice folders) or ``native`` (the model's own ``3d`` / ``video``
#: items; its remote code reads and samples the files).
HULUMED_MEDIA = ("frames", "native")
NII_AXIS = {"sagittal": 0, "coronal": 1, "axial": 2}


def hulumed_native_conversation(request: Request) -> list[dict[str, Any]]:
    """Hulu-Med's own conversation items (model card): ``{"type": "3d", "3d": {"image_path",
    "nii_num_slices", "nii_axis"}}`` for a NIfTI volume and ``{"type": "video", "video":
    {"video_path", "fps", "max_frames"}}`` for a video file; images stay ``{"type": "image"}``."""
    content: list[dict[str, Any]] = []
    for p in request.messages[-1].content:
        if isinstance(p, TextPart):
            content.append({"type": "text", "text": p.text})
        elif isinstance(p, ImagePart):
            content.append({"type": "image"})
        elif isinstance(p, VolumePart):
            path = p.ref.path or ""
            if not path.lower().endswith((".nii", ".nii.gz")):
                raise SampleError(
                    "unsupported_media",
                    f"hulumed_media=native reads NIfTI volumes only; {p.ref.source} is not one "
                    f"(use hulumed_media: frames)",
                )
            content.append(
                {
                    "type": "3d",
                    "3d": {
                        "image_path": path,
                        "nii_num_slices": p.spec.num_slices,
                        "nii_axis": NII_AXIS[p.spec.axis],
                    },
                }
            )
        else:
            if p.ref.path is None or Path(p.ref.path).is_dir():
                raise SampleError(
                    "unsupported_media",
                    f"hulumed_media=native reads video files only; {p.ref.source} is a frame "
                    f"folder (use hulumed_media: frames)",
                )
            content.append(
                {
                    "type": "video",
                    "video": {
                        "video_path": p.ref.path,
                        "fps": p.spec.fps,
                        "max_frames": p.spec.max_frames,
                    },
                }
            )
    return [{"role": "user", "content": content}]


ADAPTER_CLASSES: dict[str, type[_Adapter]] = {
    "causal_lm": _CausalLM,
    "vlm": _VLM,
    "hulumed": _HuluMed,
}


# ------------------------------------------------------------------------------------- backend
class HFBackend:
    """Local transformers generation (see the module docstring)."""

    name = "hf"
    cacheable = True

    def __init__(
        self,
        adapter: _Adapter,
        *,
        model_id: str,
        fingerprint: str,
        batch_size: int | str = "auto",
        max_batch_size: int = 64,
    ) -> None:
        self.adapter = adapter
        self.model_id = model_id
        self.extra_generate_kwargs: dict[str, Any] = {}
        self.modalities = adapter.modalities
        self._fingerprint = fingerprint
        if max_batch_size < 1:
            raise ConfigError(f"max_batch_size must be >= 1, got {max_batch_size}")
        self.auto_batch = batch_size == "auto"
        size = max_batch_size if self.auto_batch else int(batch_size)
        if adapter.max_batch is not None:
            size = min(size, adapter.max_batch)
        #: batch size in use; with ``auto`` it shrinks on out-of-memory and stays shrunk
        self.batch_size = size
        self.eos_ids = self._eos_ids()
        tok = adapter.tokenizer
        pad = getattr(tok, "pad_token_id", None)
        self.pad_id = pad if pad is not None else (self.eos_ids[0] if self.eos_ids else 0)

    # ---------------------------------------------------------------------------- construction
    @classmethod
    def from_preset(
        cls,
        preset: ModelPreset,
        batch_size: int | str = "auto",
        device: str | None = None,
        max_batch_size: int = 64,
        identity: str | None = None,
        **_: Any,
    ) -> HFBackend:
        """``identity``: the model identity when the caller already has it (the engine's, so
        the weights are not hashed twice); else it is computed (``model_identity``)."""
        torch, transformers = _require_hf()
        batch_size = _parse_batch_size(
            preset.options.get("batch_size", batch_size) if batch_size == "auto" else batch_size
        )
        if preset.adapter not in ADAPTERS:
            raise ConfigError(
                f"model preset {preset.name}: adapter {preset.adapter!r} is not "
                f"one of {', '.join(ADAPTERS)}"
            )
        if preset.dtype not in DTYPES:
            raise ConfigError(
                f"model preset {preset.name}: dtype {preset.dtype!r} is not one "
                f"of {', '.join(DTYPES)}"
            )
        if preset.adapter == "hulumed" and not preset.trust_remote_code:
            raise ConfigError(
                f"model preset {preset.name}: adapter hulumed runs the model's "
                f"remote code; set `trust_remote_code: true` in the preset"
            )
        source, is_local = _resolve_source(preset.model)
        options = dict(preset.options or {})
        device_map = options.get("device_map")
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"

        kw: dict[str, Any] = {}
        if preset.revision:
            kw["revision"] = preset.revision
        if preset.trust_remote_code:
            kw["trust_remote_code"] = True
            _note(f"trust_remote_code is on: remote code from {preset.model} will be executed")
        if not is_local and (_offline() or not hub_reachable()):
            # No network: use the local HF cache only, and fail at once if the model is not there.
            kw["local_files_only"] = True

        try:
            config = transformers.AutoConfig.from_pretrained(source, **kw)
        except (OSError, ValueError, KeyError, ImportError) as exc:
            raise _load_error(preset.model, exc, is_local) from None
        adapter_name = detect_adapter(config) if preset.adapter == "auto" else preset.adapter
        if adapter_name == "hulumed" and not preset.trust_remote_code:
            raise ConfigError(
                f"{preset.model} is Hulu-Med (remote code): set "
                f"`trust_remote_code: true` in its preset (see Hulu-Med-7B)"
            )

        dtype = _torch_dtype(torch, preset.dtype, device, device_map)
        dtype_key = (
            "dtype" if _version_at_least(transformers.__version__, (4, 56)) else "torch_dtype"
        )
        model_kw: dict[str, Any] = {dtype_key: dtype}
        if options.get("attn_implementation"):
            model_kw["attn_implementation"] = options["attn_implementation"]
        if device_map:
            model_kw["device_map"] = device_map
        elif not str(device).startswith("cpu") and importlib.util.find_spec("accelerate"):
            model_kw["device_map"] = {"": device}  # load straight onto the GPU

        adapter = ADAPTER_CLASSES[adapter_name]()
        try:
            adapter.load(source, config, kw, model_kw, options)
        except ConfigError:
            raise
        except (OSError, ValueError, KeyError, ImportError) as exc:
            raise _load_error(preset.model, exc, is_local) from None
        if "device_map" not in model_kw:
            adapter.model.to(device)
        adapter.model.eval()
        if options.get("torch_compile"):
            # compiled forward passes; pairs with generate_kwargs {cache_implementation: static}
            adapter.model.forward = torch.compile(adapter.model.forward, mode="reduce-overhead")

        fp = identity or model_fingerprint(preset, device)
        backend = cls(
            adapter,
            model_id=preset.model,
            fingerprint=fp,
            batch_size=batch_size,
            max_batch_size=int(options.get("max_batch_size", max_batch_size)),
        )
        backend.extra_generate_kwargs = dict(options.get("generate_kwargs") or {})
        return backend

    def _eos_ids(self) -> list[int]:
        ids: set[int] = set()
        gen_cfg = getattr(self.adapter.model, "generation_config", None)
        for value in (
            getattr(gen_cfg, "eos_token_id", None),
            getattr(self.adapter.tokenizer, "eos_token_id", None),
        ):
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, (list, tuple)):
                ids.update(int(v) for v in value)
        return sorted(ids)

    # -------------------------------------------------------------------------------- protocol
    def fingerprint(self) -> str:
        return self._fingerprint

    def close(self) -> None:
        for attr in ("model", "processor", "tokenizer"):
            if hasattr(self.adapter, attr):
                setattr(self.adapter, attr, None)
        self._free_memory()

    def generate(self, requests: Sequence[Request]) -> Iterator[tuple[Request, Response]]:
        groups: dict[Any, list[_Item]] = {}
        for req in requests:
            try:
                prompt, key = self.adapter.render(req)
            except SampleError as exc:
                yield req, error_response(exc.kind, exc.reason)
                continue
            except Exception as exc:  # a chat template that rejects these messages
                yield req, error_response("prompt_error", _reason(exc))
                continue
            groups.setdefault(req.params, []).append(_Item(req, prompt, key))
        for params, items in groups.items():
            items.sort(key=lambda it: it.sort_key, reverse=True)
            yield from self._run_group(items, params)

    # -------------------------------------------------------------------------------- batching
    def _run_group(self, items: list[_Item], params: Any) -> Iterator[tuple[Request, Response]]:
        pending = deque(items)
        while pending:
            chunk: list[_Item] = []
            while pending and len(chunk) < self.batch_size:
                item = pending.popleft()
                if item.images is None:
                    try:
                        item.images, item.counts = self.adapter.open_media(item.request)
                    except SampleError as exc:
                        yield item.request, error_response(exc.kind, exc.reason)
                        continue
                chunk.append(item)
            if not chunk:
                break
            responses, failure = self._attempt(chunk, params)
            if responses is not None:
                for item, resp in zip(chunk, responses, strict=True):
                    item.images = None
                    yield item.request, resp
            elif _is_oom_response(failure) and self.auto_batch and len(chunk) > 1:
                self._shrink(len(chunk))
                pending.extendleft(reversed(chunk))
            elif len(chunk) == 1:
                chunk[0].images = None
                yield chunk[0].request, failure
            else:  # isolate the failing request(s): run them one at a time
                for item in chunk:
                    responses, failure = self._attempt([item], params)
                    item.images = None
                    yield item.request, responses[0] if responses else failure

    def _attempt(
        self, chunk: list[_Item], params: Any
    ) -> tuple[list[Response] | None, Response | None]:
        """(responses, None) or (None, error response). The exception is dropped before the
        memory is freed, so its traceback no longer holds the batch's tensors."""
        try:
            return self._generate_batch(chunk, params), None
        except Exception as exc:
            failure = error_response("oom" if is_oom(exc) else "generation_error", _reason(exc))
        self._free_memory()
        return None, failure

    def _shrink(self, failed: int) -> None:
        """Halve the batch size until it is below the size that failed."""
        size = self.batch_size
        while size > 1 and size >= failed:
            size //= 2
        self.batch_size = max(1, size)
        _note(f"out of memory with {failed} requests per batch: batch size now {self.batch_size}")

    @staticmethod
    def _free_memory() -> None:
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass

    def _gen_kwargs(self, params: Any) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "max_new_tokens": int(params.max_new_tokens),
            "pad_token_id": self.pad_id,
            "repetition_penalty": float(params.repetition_penalty),
        }
        if self.adapter.name == "hulumed":  # as on the model card
            kw["pad_token_id"] = self.adapter.tokenizer.eos_token_id
        else:
            kw["eos_token_id"] = self.eos_ids
        if params.temperature > 0:
            kw.update(
                do_sample=True,
                temperature=float(params.temperature),
                top_p=float(params.top_p),
                top_k=0,
            )
        else:
            # Unset the checkpoint's sampling defaults so greedy decoding raises no warnings.
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        kw.update(self.adapter.generate_kwargs())
        kw.update(self.extra_generate_kwargs)  # preset option `generate_kwargs`
        return kw

    def _generate_batch(self, chunk: list[_Item], params: Any) -> list[Response]:
        import torch

        start = time.perf_counter()
        inputs = self.adapter.encode(chunk)
        input_ids = inputs["input_ids"]
        mask = inputs.get("attention_mask")
        if mask is not None:
            prompt_tokens = [int(n) for n in mask.sum(dim=1).tolist()]
        else:
            prompt_tokens = [int(input_ids.shape[1])] * len(chunk)
        if params.temperature > 0:
            torch.manual_seed(int(params.seed))
        with torch.inference_mode():
            out = self.adapter.model.generate(**inputs, **self._gen_kwargs(params))
        if not isinstance(out, torch.Tensor):  # a ModelOutput with .sequences
            out = out.sequences
        width = input_ids.shape[1]
        # Decoder-only generate returns prompt + new tokens; remote code fed with embeddings
        # may return the new tokens only.
        if out.shape[1] >= width and torch.equal(out[:, :width].to(input_ids.device), input_ids):
            out = out[:, width:]
        rows = out.tolist()
        max_new = int(params.max_new_tokens)
        eos = set(self.eos_ids)
        kept: list[list[int]] = []
        meta: list[tuple[str, int]] = []
        for row in rows:
            stop = next((i for i, t in enumerate(row) if t in eos), None)
            if stop is not None:
                kept.append(row[:stop])
                meta.append(("stop", stop + 1))
            else:
                while row and row[-1] == self.pad_id:  # rows that ended on another criterion
                    row = row[:-1]
                kept.append(row)
                meta.append(("length" if len(row) >= max_new else "stop", len(row)))
        texts = self.adapter.decode(kept)
        per_item = (time.perf_counter() - start) / len(chunk)
        return [
            Response(
                text=text.strip(),
                finish_reason=finish,
                prompt_tokens=n_prompt,
                completion_tokens=n_new,
                latency_s=per_item,
            )
            for text, (finish, n_new), n_prompt in zip(texts, meta, prompt_tokens, strict=True)
        ]


# --------------------------------------------------------------------------------- small parts
def _parse_batch_size(value: Any) -> int | str:
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        size = int(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"batch size must be a positive integer or 'auto', got {value!r}"
        ) from None
    if size < 1:
        raise ConfigError(f"batch size must be a positive integer or 'auto', got {value!r}")
    return size


def _version_at_least(version: str, wanted: tuple[int, int]) -> bool:
    nums = [int(x) for x in re.findall(r"\d+", version)[:2]]
    return tuple(nums) >= wanted


def _torch_dtype(torch: Any, name: str, device: str, device_map: Any) -> Any:
    if name == "auto":
        on_cpu = not device_map and str(device).startswith("cpu")
        return torch.float32 if on_cpu else "auto"
    return getattr(torch, name)


__all__ = [
    "ADAPTERS",
    "HFBackend",
    "build_hulumed_conversation",
    "chat_messages",
    "detect_adapter",
    "is_oom",
    "processor_without_video",
]
