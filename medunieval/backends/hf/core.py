"""The hf backend's batching core: grouping, left-padded batches, out-of-memory back-off and
per-request error isolation, the same for every adapter (see the package docstring)."""

from __future__ import annotations

import dataclasses
import gc
import importlib.util
import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from ...data.sources import hub_reachable
from ...errors import ConfigError, SampleError
from ...model_identity import fingerprint as model_fingerprint
from ...presets import ModelPreset
from ...types import Request, Response
from ..base import error_response
from .adapters import ADAPTER_CLASSES, ADAPTERS
from .base import _Adapter, _is_oom_response, _Item, _note, _offline, _reason, _require_hf, is_oom
from .loading import (
    DTYPES,
    _load_error,
    _parse_batch_size,
    _resolve_source,
    _torch_dtype,
    _version_at_least,
    detect_adapter,
    remote_code_needs_tf4,
)


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
        except Exception as exc:
            if adapter_name == "hulumed" and _version_at_least(transformers.__version__, (5, 0)):
                raise remote_code_needs_tf4(preset.model, transformers.__version__, exc) from None
            if isinstance(exc, (OSError, ValueError, KeyError, ImportError)):
                raise _load_error(preset.model, exc, is_local) from None
            raise
        if "device_map" not in model_kw:
            adapter.model.to(device)
        adapter.model.eval()
        if options.get("torch_compile"):
            # compiled forward passes; pairs with generate_kwargs {cache_implementation: static}
            adapter.model.forward = torch.compile(adapter.model.forward, mode="reduce-overhead")

        fp = identity or model_fingerprint(dataclasses.replace(preset, backend="hf"), device)
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
            group = (req.params, self.adapter.batch_group(req))
            groups.setdefault(group, []).append(_Item(req, prompt, key))
        for (params, _), items in groups.items():
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
        # adapters that embed each request themselves pass inputs_embeds, no input_ids
        input_ids = inputs.get("input_ids")
        mask = inputs.get("attention_mask")
        if mask is not None:
            prompt_tokens = [int(n) for n in mask.sum(dim=1).tolist()]
        else:
            prompt_tokens = [int(input_ids.shape[1])] * len(chunk)
        if params.temperature > 0:
            torch.manual_seed(int(params.seed))
        with torch.inference_mode():
            out = self.adapter.generate(inputs, self._gen_kwargs(params))
        if not isinstance(out, torch.Tensor):  # a ModelOutput with .sequences
            out = out.sequences
        # Decoder-only generate returns prompt + new tokens; fed with embeddings it returns the
        # new tokens only.
        width = input_ids.shape[1] if input_ids is not None else 0
        if (
            input_ids is not None
            and out.shape[1] >= width
            and torch.equal(out[:, :width].to(input_ids.device), input_ids)
        ):
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
