"""Loading help for the hf backend: model sources, load errors, adapter detection, processors,
dtypes and the run fingerprint."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from .base import _note, _offline, _one_line

DTYPES = ("auto", "bfloat16", "float16", "float32")
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


def remote_code_needs_tf4(model: str, version: str, exc: BaseException) -> ConfigError:
    """One line: Hulu-Med's remote code targets transformers 4.x and failed on ``version``."""
    msg = _one_line(f"{type(exc).__name__}: {exc}", 160)
    return ConfigError(
        f"model {model}: Hulu-Med's remote code targets transformers 4.x (its team pins 4.51) "
        f"and failed to load on transformers {version} ({msg}); run it with "
        f"'transformers>=4.50,<5'"
    )


def detect_adapter(config: Any) -> str:
    """``auto``: Hulu-Med remote code -> ``hulumed``; native VideoLLaMA3 -> ``video_llama3``;
    Llama 3.2 Vision -> ``mllama``;
    a vision config or a known VLM type ->
    ``vlm``; anything else -> ``causal_lm``."""
    model_type = str(getattr(config, "model_type", "") or "").lower()
    archs = [str(a).lower() for a in (getattr(config, "architectures", None) or [])]
    if "hulu" in model_type or any("hulu" in a for a in archs):
        return "hulumed"
    if model_type == "video_llama_3":
        return "video_llama3"
    if model_type == "mllama":
        return "mllama"
    if getattr(config, "vision_config", None) is not None or model_type in VLM_MODEL_TYPES:
        return "vlm"
    return "causal_lm"


def processor_attributes(processor_cls: type) -> list[str]:
    """The sub-processor names of a processor class (``attributes`` in transformers 4.x,
    ``get_attributes()`` — read from ``__init__`` — in 5.x)."""
    getter = getattr(processor_cls, "get_attributes", None)
    if callable(getter):
        return list(getter())
    return list(getattr(processor_cls, "attributes", ()))


def processor_without_video(processor_cls: type) -> type:
    """A subclass of a multimodal processor class without its ``video_processor`` attribute.

    Video processors need torchvision; an image-only evaluation never uses them, so when
    torchvision is missing the processor is loaded (and the tiny test models are saved) with
    only its image processor and tokenizer. Calls with ``videos=`` are not supported then.
    transformers 4.x lists sub-processors in ``attributes``, 5.x in ``get_attributes()``; the
    subclass narrows both and keeps the parent's ``__init__`` (its signature decides which
    processor settings, e.g. InternVL's ``image_seq_length``, are saved and loaded in 5.x).
    The parent passes ``video_processor=None`` on positionally; 5.x pairs positional
    arguments with ``get_attributes()`` and drops the extra one.
    """
    attrs = [a for a in processor_attributes(processor_cls) if a != "video_processor"]
    return type(
        processor_cls.__name__,
        (processor_cls,),
        {
            "attributes": attrs,
            "get_attributes": classmethod(lambda cls: list(attrs)),
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
    if "video_processor" not in processor_attributes(processor_cls):
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
