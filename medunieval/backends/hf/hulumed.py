"""``hulumed``: Hulu-Med through its remote code, as on its model card, batched.

The processor is called per request exactly as on the model card (``processor(images=...,
conversation=..., add_system_prompt=False, add_generation_prompt=True, return_tensors="pt")``).
A batch of one goes through the model's own ``generate(**inputs, modals=...)``. A larger batch
builds each request's embedding on its own with the model's
``prepare_inputs_labels_for_multimodal`` (text-only requests: ``embed_tokens``), exactly as the
model's ``generate`` does, then decodes all of them in one left-padded ``inputs_embeds`` batch
(``embeds.py``); the model's token compression only allows a batch of one in that step. Remote
code without ``prepare_inputs_labels_for_multimodal`` runs one request at a time.
docs/models.md names the published revision this follows.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from ...errors import ConfigError, SampleError
from ...types import ImagePart, Request, TextPart, VolumePart
from .base import _Adapter, _has_frames, _note
from .embeds import left_pad_embeds, lm_generate


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


class _HuluMed(_Adapter):
    """Hulu-Med through its remote code, following the model card (and MedUniEval)."""

    name = "hulumed"
    modalities = frozenset({"text", "image", "volume", "video"})

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
        can_embed = callable(getattr(model, "prepare_inputs_labels_for_multimodal", None))
        batched = bool(options.get("hulumed_batched", True))
        self.max_batch = None if (batched and can_embed) else 1
        if batched and not can_embed:
            _note(
                "Hulu-Med remote code without prepare_inputs_labels_for_multimodal: "
                "one request per generate call"
            )

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

    def _process(self, item: Any) -> dict[str, Any]:
        """The model card's processor call for one request, on the model's device."""
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

    def _embed(self, inputs: dict[str, Any]) -> tuple[Any, Any]:
        """One request's (inputs_embeds, attention_mask), built as the model's generate does."""
        if inputs.get("pixel_values") is None:
            embeds = self.model.get_model().embed_tokens(inputs["input_ids"])
            return embeds, inputs.get("attention_mask")
        _, mask, _, _, embeds, _ = self.model.prepare_inputs_labels_for_multimodal(
            input_ids=inputs["input_ids"],
            attention_mask=inputs.get("attention_mask"),
            position_ids=None,
            past_key_values=None,
            labels=None,
            pixel_values=inputs["pixel_values"],
            grid_sizes=inputs.get("grid_sizes"),
            merge_sizes=inputs.get("merge_sizes"),
            modals=inputs.get("modals"),
        )
        return embeds, mask

    def encode(self, items):
        import torch

        if len(items) == 1:
            return self._process(items[0])
        with torch.inference_mode():
            return left_pad_embeds([self._embed(self._process(it)) for it in items])

    def generate(self, inputs, kwargs):
        if "inputs_embeds" in inputs:
            return lm_generate(self.model, inputs, kwargs)
        return self.model.generate(**inputs, **kwargs)

    def decode(self, rows):
        return list(self.processor.batch_decode(rows, skip_special_tokens=True, **self.decode_kw))

    def generate_kwargs(self):
        return {"use_cache": True}


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
