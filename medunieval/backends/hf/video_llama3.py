"""``video_llama3``: native VideoLLaMA3 (transformers 5.x ``video_llama_3``), the architecture
Hulu-Med derives from, batched the Hulu-Med way.

Prompts come from the processor's chat template as in ``vlm``; a volume or video is sent as its
sampled frames, one image item each. Each request is processed and embedded on its own (the
image features written into its ``<|image_pad|>`` positions, as the model's forward does), then
the batch is decoded from one left-padded ``inputs_embeds`` batch (``embeds.py``). A batch of
one goes through the model's own ``generate`` with the processor's outputs.
"""

from __future__ import annotations

from typing import Any

from ...errors import ConfigError
from .base import _has_frames
from .embeds import left_pad_embeds
from .vlm import _VLM


class _VideoLlama3(_VLM):
    name = "video_llama3"

    def load(self, source, config, kw, model_kw, options):
        if str(getattr(config, "model_type", "")) != "video_llama_3":
            raise ConfigError(
                f"{source}: adapter video_llama3 needs a native VideoLLaMA3 checkpoint "
                f"(model_type video_llama_3), got {getattr(config, 'model_type', None)!r}"
            )
        super().load(source, config, kw, model_kw, options)

    def _process(self, item: Any) -> dict[str, Any]:
        text = self._text(item.request, item.counts) if _has_frames(item.request) else item.prompt
        images = list(item.images or [])
        enc = self.processor(
            text=[text],
            images=images or None,
            return_tensors="pt",
            add_special_tokens=self._add_special(text),
        )
        return self._to_device(enc)

    def _embed(self, enc: dict[str, Any]) -> tuple[Any, Any]:
        import torch

        embeds = self.model.get_input_embeddings()(enc["input_ids"])
        if enc.get("pixel_values") is not None:
            out = self.model.model.get_image_features(
                enc["pixel_values"], enc["image_grid_thw"], enc["image_merge_sizes"]
            )
            feats = getattr(out, "pooler_output", out)
            if isinstance(feats, (list, tuple)):
                feats = torch.cat(list(feats))
            mask = (enc["input_ids"] == self.model.config.image_token_id).unsqueeze(-1)
            embeds = embeds.masked_scatter(mask, feats.to(embeds.dtype))
        return embeds, enc.get("attention_mask")

    def encode(self, items):
        import torch

        if len(items) == 1:
            return self._process(items[0])
        with torch.inference_mode():
            return left_pad_embeds([self._embed(self._process(it)) for it in items])
