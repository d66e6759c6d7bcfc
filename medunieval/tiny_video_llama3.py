"""Random VideoLLaMA3 models (transformers 5.x ``video_llama_3``), built offline.

VideoLLaMA3 is the architecture Hulu-Med derives from (a SigLIP-style NaViT vision encoder, an
MLP projector, a Qwen2 language model). ``build_tiny_video_llama3`` writes a few-hundred-kilobyte
model with a working processor (the byte-level tokenizer of ``tiny_models``) that loads like a
hub checkpoint; ``sizes`` scales it up for benchmarks (``HULUMED_7B_SIZES``: the Hulu-Med-7B /
VideoLLaMA3-7B dimensions, random weights). Needs transformers >= 5 (``VIDEO_LLAMA3_HINT``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .tiny_models import (
    _generation_config,
    _mark,
    _qwen_tokenizer,
    _ready,
    _special_id,
    _text_config_kwargs,
)

VIDEO_LLAMA3_HINT = "native VideoLLaMA3 (video_llama_3) needs transformers >= 5"

# VideoLLaMA3's chat template shape over the Qwen special tokens: one <|image_pad|> per image
# item (the processor expands it to the image's tokens), a newline after each.
VIDEO_LLAMA3_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|image_pad|>\n"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

#: Hulu-Med-7B's published dimensions: a Qwen2.5-7B language model and the SigLIP-NaViT vision
#: encoder of VideoLLaMA3-7B (see docs/models.md). Vocabulary: the real 152064 tokens.
HULUMED_7B_SIZES: dict[str, Any] = {
    "text": {
        "vocab_size": 152064,
        "hidden_size": 3584,
        "intermediate_size": 18944,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "max_position_embeddings": 32768,
        "rope_theta": 1000000.0,
        "initializer_range": 0.02,
    },
    "vision": {
        "hidden_size": 1152,
        "intermediate_size": 4304,
        "num_hidden_layers": 27,
        "num_attention_heads": 16,
        "patch_size": 14,
    },
}

#: A mid-size CPU variant (about 40M parameters) for the batched / per-sample comparison.
MID_SIZES: dict[str, Any] = {
    "text": {
        "hidden_size": 512,
        "intermediate_size": 1408,
        "num_hidden_layers": 8,
        "num_attention_heads": 8,
        "num_key_value_heads": 2,
        "initializer_range": 0.3,
    },
    "vision": {
        "hidden_size": 256,
        "intermediate_size": 512,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "patch_size": 14,
    },
}

_TINY_VISION = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "patch_size": 14,
    "initializer_range": 0.3,
}


def video_llama3_config(sizes: dict[str, Any] | None = None) -> Any:
    """A ``VideoLlama3Config`` over the byte-level tokenizer's ids (``sizes``: overrides of the
    ``text`` / ``vision`` settings)."""
    try:
        from transformers import VideoLlama3Config
    except ImportError:
        raise ImportError(VIDEO_LLAMA3_HINT) from None
    text = {**_text_config_kwargs(), "model_type": "qwen2", **(sizes or {}).get("text", {})}
    vision = {**_TINY_VISION, **(sizes or {}).get("vision", {})}
    return VideoLlama3Config(
        text_config=text,
        vision_config=vision,
        image_token_id=_special_id("<|image_pad|>"),
        video_token_id=_special_id("<|video_pad|>"),
    )


def build_tiny_video_llama3(
    out_dir: str | Path,
    seed: int = 0,
    sizes: dict[str, Any] | None = None,
    max_pixels: int = 56 * 56,
    device: str = "cpu",
    dtype: Any = None,
) -> Path:
    """Build a random ``VideoLlama3ForConditionalGeneration`` with an image-only
    ``VideoLlama3Processor`` into ``out_dir`` and return it. Images are resized to at most
    ``max_pixels`` (56x56: 16 image tokens each, merge size 1 as VideoLLaMA3 treats images).
    ``device`` / ``dtype``: where the random weights are made (large ``sizes`` on a GPU)."""
    out = Path(out_dir)
    kind = "video_llama3" if sizes is None and max_pixels == 56 * 56 else "video_llama3-sized"
    if _ready(out, kind, seed):
        return out
    import torch

    try:
        from transformers import VideoLlama3ForConditionalGeneration, VideoLlama3Processor
    except ImportError:
        raise ImportError(VIDEO_LLAMA3_HINT) from None
    try:  # transformers 5 without torchvision: the PIL image processor
        from transformers import VideoLlama3ImageProcessorPil as ImageProcessor
    except ImportError:
        from transformers import VideoLlama3ImageProcessor as ImageProcessor

    from .backends.hf import processor_without_video

    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    with torch.device(device):
        model = VideoLlama3ForConditionalGeneration(video_llama3_config(sizes)).eval()
    if dtype is not None:
        model = model.to(dtype)
    model.generation_config = _generation_config()
    model.save_pretrained(out)
    tokenizer = _qwen_tokenizer(VIDEO_LLAMA3_CHAT_TEMPLATE)
    image_processor = ImageProcessor(
        size={"shortest_edge": 28 * 28, "longest_edge": max_pixels}, patch_size=14, merge_size=1
    )
    processor = processor_without_video(VideoLlama3Processor)(
        image_processor=image_processor,
        tokenizer=tokenizer,
        chat_template=VIDEO_LLAMA3_CHAT_TEMPLATE,
    )
    processor.save_pretrained(out)
    _mark(out, kind, seed)
    return out


__all__ = [
    "HULUMED_7B_SIZES",
    "MID_SIZES",
    "VIDEO_LLAMA3_HINT",
    "build_tiny_video_llama3",
    "video_llama3_config",
]
