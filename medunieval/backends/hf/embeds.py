"""Per-request embeddings, batched decoding: what Hulu-Med-style models need to batch.

Hulu-Med (and VideoLLaMA3, which it derives from) builds a request's multimodal input
embedding on its own (its token compression asserts a batch of one), but the expensive part,
decoding, does not care. So each request is embedded alone, the rows are left-padded into one
``inputs_embeds`` batch with its attention mask, and the language model's ``generate`` runs once
for the batch. Padded positions are zero vectors with mask 0; position ids come from the mask,
so every row sees the positions it would see alone.
"""

from __future__ import annotations

from typing import Any


def left_pad_embeds(rows: list[tuple[Any, Any]]) -> dict[str, Any]:
    """``rows``: (inputs_embeds (1, L, D), attention_mask (1, L) or None) per request ->
    ``{"inputs_embeds": (B, Lmax, D), "attention_mask": (B, Lmax)}``, left-padded."""
    import torch

    width = max(int(e.shape[1]) for e, _ in rows)
    embeds, masks = [], []
    for emb, mask in rows:
        length = int(emb.shape[1])
        if mask is None:
            mask = torch.ones(1, length, dtype=torch.long, device=emb.device)
        pad = width - length
        if pad:
            emb = torch.cat([emb.new_zeros(1, pad, emb.shape[2]), emb], dim=1)
            mask = torch.cat([mask.new_zeros(1, pad), mask], dim=1)
        embeds.append(emb)
        masks.append(mask.to(torch.long))
    return {"inputs_embeds": torch.cat(embeds), "attention_mask": torch.cat(masks)}


def lm_generate(model: Any, inputs: dict[str, Any], kwargs: dict[str, Any]) -> Any:
    """The language model's own ``generate`` (transformers' ``GenerationMixin``), bypassing a
    remote-code ``generate`` override that refuses ``inputs_embeds`` (Hulu-Med's does)."""
    from transformers import GenerationMixin

    return GenerationMixin.generate(model, **inputs, **kwargs)
