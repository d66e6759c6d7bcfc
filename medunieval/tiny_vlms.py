"""Tiny random models of the native transformers architectures behind the paper's open models.

One builder per architecture (Qwen2.5-VL, InternVL ``-hf``, Gemma 3 / MedGemma, Llama 3.2
Vision, Janus-Pro): each writes a randomly initialised model of that exact model class, with
its own processor class and a byte-level tokenizer carrying the family's special tokens and a
chat template of the real checkpoint's shape, and returns the folder (``--model <folder>``).
Everything is built offline from configs; sizes are a few hundred kilobytes. See
``tiny_models`` for the Qwen2-VL / Qwen2 / LLaVA builders and the shared conventions
(deterministic given ``seed``, idempotent through a marker file).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .tiny_models import _byte_symbols, _mark, _ready, byte_level_bpe

HIDDEN = 64
INIT = 0.3  # wider than the real 0.02, so greedy choices have clear margins


def byte_tokenizer(
    specials: list[str],
    *,
    chat_template: str,
    eos: str,
    pad: str,
    bos: str | None = None,
    unk: str | None = None,
    named: dict[str, str] | None = None,
    vocab_size: int | None = None,
    cls: str = "PreTrainedTokenizer",
) -> Any:
    """A fast tokenizer over a byte-level BPE with no merges (byte b -> id b), then
    ``specials`` from id 256 on. ``named`` gives tokens an attribute (``image_token`` ->
    ``tokenizer.image_token`` / ``image_token_id``), as the real checkpoints' configs do.
    ``cls``: the family's tokenizer class, which transformers 4.x processors check
    (``<cls>Fast``, a thin wrapper there). transformers 5.x family classes rebuild their own
    normalizer and pre-tokenizer on load, so there the generic fast tokenizer is saved."""
    import transformers
    from tokenizers import AddedToken

    if int(transformers.__version__.split(".")[0]) >= 5:
        cls = "PreTrainedTokenizer"
    tokenizer_cls = getattr(transformers, f"{cls}Fast", None) or getattr(transformers, cls)

    symbols = _byte_symbols()
    vocab = {symbols[b]: b for b in range(256)}
    for i, token in enumerate(specials):
        vocab[token] = 256 + i
    if vocab_size is not None and len(vocab) > vocab_size:
        raise ValueError(f"{len(vocab)} tokens do not fit a vocabulary of {vocab_size}")
    tokenizer = tokenizer_cls(
        tokenizer_object=byte_level_bpe(vocab),
        bos_token=bos,
        eos_token=eos,
        pad_token=pad,
        unk_token=unk,
        extra_special_tokens=dict(named or {}),
        chat_template=chat_template,
        model_max_length=32768,
        model_input_names=["input_ids", "attention_mask"],
    )
    # Every special matched whole in text (the same call on transformers 4.x and 5.x).
    tokenizer.add_tokens([AddedToken(t, special=True) for t in specials], special_tokens=True)
    return tokenizer


def _vocab(n_specials: int) -> int:
    return (256 + n_specials + 15) // 16 * 16


def _text(vocab_size: int, **extra: Any) -> dict[str, Any]:
    return {
        "vocab_size": vocab_size,
        "hidden_size": HIDDEN,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "rope_theta": 10000.0,
        "initializer_range": INIT,
        "tie_word_embeddings": False,
        **extra,
    }


def _save(model: Any, processor: Any, out: Path, eos_ids: list[int], pad_id: int) -> None:
    from transformers import GenerationConfig

    model.generation_config = GenerationConfig(
        eos_token_id=eos_ids, pad_token_id=pad_id, do_sample=False
    )
    model.config.architectures = [type(model).__name__]
    model.save_pretrained(out)
    processor.save_pretrained(out)


def _image_only_processor(
    processor_cls: type, out: Path, video_config: dict[str, Any], **kwargs: Any
) -> Any:
    """The processor with its video processor where torchvision is installed; without one
    (plus the video processor's config file, so it loads in full elsewhere) where not."""
    from transformers.utils import is_torchvision_available

    if is_torchvision_available():
        import transformers

        video_cls = getattr(transformers, video_config["video_processor_type"])
        settings = {k: v for k, v in video_config.items() if not k.endswith(("_type", "_class"))}
        return processor_cls(video_processor=video_cls(**settings), **kwargs)
    out.mkdir(parents=True, exist_ok=True)
    (out / "video_preprocessor_config.json").write_text(
        json.dumps(video_config, indent=2) + "\n", encoding="utf-8"
    )
    from .backends.hf.loading import processor_without_video

    return processor_without_video(processor_cls)(**kwargs)


def _pil_image_processor(name: str) -> Any:
    """transformers 5 names the PIL-backed image processors ``<Name>Pil``; 4.x has only the
    PIL-backed ``<Name>`` (and a ``<Name>Fast``). Torchvision-free either way."""
    import transformers

    return getattr(transformers, f"{name}Pil", None) or getattr(transformers, name)


# --------------------------------------------------------------------------------- Qwen2.5-VL
QWEN_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]


def build_tiny_qwen2_5_vl(out_dir: str | Path, seed: int = 0) -> Path:
    """A tiny random ``Qwen2_5_VLForConditionalGeneration`` (Qwen2.5-VL, Lingshu) with a
    ``Qwen2_5_VLProcessor``; a 56x56 image becomes 4 image tokens."""
    out = Path(out_dir)
    if _ready(out, "qwen2_5_vl", seed):
        return out
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    from transformers import Qwen2_5_VLProcessor as Proc

    from .tiny_models import QWEN2_VL_CHAT_TEMPLATE

    ids = {t: 256 + i for i, t in enumerate(QWEN_SPECIALS)}
    vocab = _vocab(len(QWEN_SPECIALS))
    text = _text(
        vocab,
        bos_token_id=None,
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]},
    )
    config = Qwen2_5_VLConfig(
        text_config=text,
        tie_word_embeddings=False,  # transformers 5 reads it here, not in text_config
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": HIDDEN,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 56,
            "fullatt_block_indexes": [1],
            "initializer_range": INIT,
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        **{k: text[k] for k in ("vocab_size", "eos_token_id", "pad_token_id")},
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    tokenizer = byte_tokenizer(
        QWEN_SPECIALS,
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
        eos="<|im_end|>",
        pad="<|endoftext|>",
        cls="Qwen2Tokenizer",
    )
    pixels = {"min_pixels": 28 * 28, "max_pixels": 28 * 28 * 16}
    processor = _image_only_processor(
        Proc,
        out,
        {
            "video_processor_type": "Qwen2VLVideoProcessor",
            "processor_class": "Qwen2_5_VLProcessor",
            **pixels,
        },
        image_processor=_pil_image_processor("Qwen2VLImageProcessor")(**pixels),
        tokenizer=tokenizer,
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )
    _save(model, processor, out, [ids["<|im_end|>"], ids["<|endoftext|>"]], ids["<|endoftext|>"])
    _mark(out, "qwen2_5_vl", seed)
    return out


# ----------------------------------------------------------------------------- InternVL (-hf)
INTERNVL_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<img>",
    "</img>",
    "<IMG_CONTEXT>",
    "<video>",
]
# The -hf checkpoints' template, reduced: an image item becomes ``<IMG_CONTEXT>``, which the
# processor expands to ``<img>`` + image_seq_length x ``<IMG_CONTEXT>`` per tile + ``</img>``.
INTERNVL_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}"
    "{{ '<IMG_CONTEXT>\n' }}{% elif content['type'] == 'video' %}{{ '<video>\n' }}"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}"
    "{{ '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def build_tiny_internvl(out_dir: str | Path, seed: int = 0) -> Path:
    """A tiny random ``InternVLForConditionalGeneration`` (InternVL 2.5 / 3 ``-hf``) with an
    ``InternVLProcessor``: 28x28 tiles, up to 4 tiles plus a thumbnail per image, one image
    token per tile after pixel shuffle."""
    out = Path(out_dir)
    if _ready(out, "internvl", seed):
        return out
    import torch
    from transformers import InternVLConfig, InternVLForConditionalGeneration
    from transformers import InternVLProcessor as Proc

    ids = {t: 256 + i for i, t in enumerate(INTERNVL_SPECIALS)}
    vocab = _vocab(len(INTERNVL_SPECIALS))
    text = _text(
        vocab,
        model_type="qwen2",
        bos_token_id=None,
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    config = InternVLConfig(
        text_config=text,
        tie_word_embeddings=False,  # transformers 5 reads it here, not in text_config
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": [28, 28],
            "patch_size": [14, 14],
            "initializer_range": INIT,
        },
        image_token_id=ids["<IMG_CONTEXT>"],
        image_seq_length=1,
        downsample_ratio=0.5,
        projector_hidden_act="gelu",
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    torch.manual_seed(seed)
    model = InternVLForConditionalGeneration(config).eval()
    tokenizer = byte_tokenizer(
        INTERNVL_SPECIALS,
        chat_template=INTERNVL_CHAT_TEMPLATE,
        eos="<|im_end|>",
        pad="<|endoftext|>",
        cls="Qwen2Tokenizer",
        named={
            "start_image_token": "<img>",
            "end_image_token": "</img>",
            "context_image_token": "<IMG_CONTEXT>",
            "video_token": "<video>",
        },
    )
    image_processor = _pil_image_processor("GotOcr2ImageProcessor")(
        size={"height": 28, "width": 28},
        crop_to_patches=True,
        min_patches=1,
        max_patches=4,
    )
    processor = _image_only_processor(
        Proc,
        out,
        {
            "video_processor_type": "InternVLVideoProcessor",
            "processor_class": "InternVLProcessor",
            "size": {"height": 28, "width": 28},
        },
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_length=1,
        chat_template=INTERNVL_CHAT_TEMPLATE,
    )
    _save(model, processor, out, [ids["<|im_end|>"], ids["<|endoftext|>"]], ids["<|endoftext|>"])
    _mark(out, "internvl", seed)
    return out


# ------------------------------------------------------------------------ Gemma 3 / MedGemma
GEMMA3_SPECIALS = [
    "<pad>",
    "<unk>",
    "<eos>",
    "<bos>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<start_of_image>",
    "<end_of_image>",
    "<image_soft_token>",
]
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{ '<start_of_turn>' + role + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] | trim }}{% else %}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}"
    "{{ '<start_of_image>' }}{% elif item['type'] == 'text' %}{{ item['text'] | trim }}"
    "{% endif %}{% endfor %}{% endif %}{{ '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)


def build_tiny_gemma3(out_dir: str | Path, seed: int = 0) -> Path:
    """A tiny random ``Gemma3ForConditionalGeneration`` (Gemma 3, MedGemma) with a
    ``Gemma3Processor``: 32x32 images, 16 SigLIP patches pooled to 4 image tokens."""
    out = Path(out_dir)
    if _ready(out, "gemma3", seed):
        return out
    import torch
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3Processor

    ids = {t: 256 + i for i, t in enumerate(GEMMA3_SPECIALS)}
    vocab = _vocab(len(GEMMA3_SPECIALS))
    text = _text(
        vocab,
        head_dim=16,
        query_pre_attn_scalar=16,  # the real 256 would flatten attention at head_dim 16
        sliding_window=64,
        bos_token_id=ids["<bos>"],
        eos_token_id=ids["<eos>"],
        pad_token_id=ids["<pad>"],
    )
    config = Gemma3Config(
        text_config=text,
        tie_word_embeddings=False,  # transformers 5 reads it here, not in text_config
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
            "vision_use_head": False,
        },
        mm_tokens_per_image=4,
        boi_token_index=ids["<start_of_image>"],
        eoi_token_index=ids["<end_of_image>"],
        image_token_index=ids["<image_soft_token>"],
        initializer_range=INIT,
    )
    torch.manual_seed(seed)
    model = Gemma3ForConditionalGeneration(config).eval()
    # Gemma 3 initialises its image projection to zeros (image tokens would all be equal);
    # random values let the image reach the language model, as trained weights do.
    with torch.no_grad():
        projector = model.model.multi_modal_projector.mm_input_projection_weight
        projector.normal_(0.0, INIT)
    tokenizer = byte_tokenizer(
        GEMMA3_SPECIALS,
        chat_template=GEMMA3_CHAT_TEMPLATE,
        cls="GemmaTokenizer",
        bos="<bos>",
        unk="<unk>",
        eos="<eos>",
        pad="<pad>",
        named={
            "boi_token": "<start_of_image>",
            "eoi_token": "<end_of_image>",
            "image_token": "<image_soft_token>",
        },
    )
    image_processor = _pil_image_processor("Gemma3ImageProcessor")(
        size={"height": 32, "width": 32}, do_pan_and_scan=False
    )
    processor = Gemma3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_length=4,
        chat_template=GEMMA3_CHAT_TEMPLATE,
    )
    _save(model, processor, out, [ids["<eos>"], ids["<end_of_turn>"]], ids["<pad>"])
    _mark(out, "gemma3", seed)
    return out


# ----------------------------------------------------------------------- Llama 3.2 Vision
MLLAMA_SPECIALS = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|python_tag|>",
    "<|image|>",
    "<|finetune_right_pad_id|>",
]
MLLAMA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' }}"
    "{% if message['content'] is string %}{{ message['content'] | trim }}{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}"
    "{{ '<|image|>' }}{% elif content['type'] == 'text' %}{{ content['text'] | trim }}"
    "{% endif %}{% endfor %}{% endif %}{{ '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}"
)


def build_tiny_mllama(out_dir: str | Path, seed: int = 0) -> Path:
    """A tiny random ``MllamaForConditionalGeneration`` (Llama 3.2 Vision: cross-attention
    layers over a tiled vision encoder) with a ``MllamaProcessor``: 28x28 tiles, up to 2."""
    out = Path(out_dir)
    if _ready(out, "mllama", seed):
        return out
    import torch
    from transformers import MllamaConfig, MllamaForConditionalGeneration, MllamaProcessor

    ids = {t: 256 + i for i, t in enumerate(MLLAMA_SPECIALS)}
    vocab = _vocab(len(MLLAMA_SPECIALS))
    text = _text(
        vocab + 8,  # Mllama's LM head leaves out the last 8 ids (image token rows)
        cross_attention_layers=[1],
        rope_scaling={
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 1024,
        },
        bos_token_id=ids["<|begin_of_text|>"],
        eos_token_id=ids["<|eot_id|>"],
        pad_token_id=ids["<|finetune_right_pad_id|>"],
    )
    text.pop("tie_word_embeddings")
    config = MllamaConfig(
        text_config=text,
        tie_word_embeddings=False,  # transformers 5 reads it here, not in text_config
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_global_layers": 1,
            "num_attention_heads": 2,
            "vision_output_dim": 64,
            "intermediate_layers_indices": [0],
            "image_size": 28,
            "patch_size": 14,
            "max_num_tiles": 2,
            "supported_aspect_ratios": [[1, 1], [1, 2], [2, 1]],
            "initializer_range": INIT,
        },
        image_token_index=ids["<|image|>"],
    )
    torch.manual_seed(seed)
    model = MllamaForConditionalGeneration(config).eval()
    # Mllama starts its cross-attention and tile-embedding gates at zero (tanh(0) = 0: the
    # image would not reach the text); open them as trained weights have them open.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "gate" in name.rsplit(".", 1)[-1] and param.numel() == 1 and not param.any():
                param.fill_(1.0)
    tokenizer = byte_tokenizer(
        MLLAMA_SPECIALS,
        chat_template=MLLAMA_CHAT_TEMPLATE,
        bos="<|begin_of_text|>",
        eos="<|eot_id|>",
        pad="<|finetune_right_pad_id|>",
        named={"image_token": "<|image|>"},
    )
    image_processor = _pil_image_processor("MllamaImageProcessor")(
        size={"height": 28, "width": 28}, max_image_tiles=2
    )
    processor = MllamaProcessor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=MLLAMA_CHAT_TEMPLATE
    )
    _save(
        model,
        processor,
        out,
        [ids["<|eot_id|>"], ids["<|end_of_text|>"]],
        ids["<|finetune_right_pad_id|>"],
    )
    _mark(out, "mllama", seed)
    return out


# ---------------------------------------------------------------------------------- Janus-Pro
JANUS_SPECIALS = [
    "<｜begin▁of▁sentence｜>",
    "<｜end▁of▁sentence｜>",
    "<｜▁pad▁｜>",
    "<image_placeholder>",
    "<begin_of_image>",
    "<end_of_image>",
]
JANUS_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% set role = 'User' if message['role'] == 'user' else ('Assistant' if "
    "message['role'] == 'assistant' else '') %}"
    "{% if role %}{{ '<|' + role + '|>: ' }}{% endif %}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}"
    "{{ '<image_placeholder>\n' }}{% elif content['type'] == 'text' %}{{ content['text'] }}"
    "{% endif %}{% endfor %}{% endif %}{{ '\n\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|Assistant|>:' }}{% endif %}"
)
JANUS_IMAGE_TOKENS = 576  # transformers 4.x's JanusProcessor fixes 576 tokens (384 / 16)^2


def build_tiny_janus(out_dir: str | Path, seed: int = 0) -> Path:
    """A tiny random ``JanusForConditionalGeneration`` (Janus-Pro; understanding path: a SigLIP
    encoder and aligner into a Llama LM) with a ``JanusProcessor``: 384x384 images, 576 image
    tokens as in the real model, over a 16-wide vision tower."""
    out = Path(out_dir)
    if _ready(out, "janus", seed):
        return out
    import torch
    from transformers import JanusConfig, JanusForConditionalGeneration, JanusProcessor

    ids = {t: 256 + i for i, t in enumerate(JANUS_SPECIALS)}
    vocab = _vocab(len(JANUS_SPECIALS))
    text = _text(
        vocab,
        model_type="llama",
        bos_token_id=ids["<｜begin▁of▁sentence｜>"],
        eos_token_id=ids["<｜end▁of▁sentence｜>"],
        pad_token_id=ids["<｜▁pad▁｜>"],
    )
    config = JanusConfig(
        text_config=text,
        tie_word_embeddings=False,  # transformers 5 reads it here, not in text_config
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 384,
            "patch_size": 16,
            "projection_dim": HIDDEN,
            "num_image_tokens": JANUS_IMAGE_TOKENS,
            "initializer_range": INIT,
        },
        vq_config={
            "embed_dim": 8,
            "num_embeddings": 16,
            "base_channels": 32,  # GroupNorm(32) needs multiples of 32
            "channel_multiplier": [1, 1],
            "num_res_blocks": 1,
            "latent_channels": 8,
            "projection_dim": HIDDEN,
            "image_token_embed_dim": 16,
            "num_patches": 4,
        },
        image_token_id=ids["<image_placeholder>"],
    )
    torch.manual_seed(seed)
    model = JanusForConditionalGeneration(config).eval()
    tokenizer = byte_tokenizer(
        JANUS_SPECIALS,
        chat_template=JANUS_CHAT_TEMPLATE,
        cls="LlamaTokenizer",
        bos="<｜begin▁of▁sentence｜>",
        eos="<｜end▁of▁sentence｜>",
        pad="<｜▁pad▁｜>",
        named={
            "image_token": "<image_placeholder>",
            "boi_token": "<begin_of_image>",
            "eoi_token": "<end_of_image>",
        },
    )
    image_processor = _pil_image_processor("JanusImageProcessor")(
        size={"height": 384, "width": 384}
    )
    processor = JanusProcessor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=JANUS_CHAT_TEMPLATE
    )
    _save(model, processor, out, [ids["<｜end▁of▁sentence｜>"]], ids["<｜▁pad▁｜>"])
    _mark(out, "janus", seed)
    return out


#: model_type -> builder, for every native architecture a preset of the paper's tables uses
#: (``qwen2_vl``, ``llava`` and ``qwen2`` builders live in ``tiny_models``).
BUILDERS: dict[str, Callable[..., Path]] = {
    "qwen2_5_vl": build_tiny_qwen2_5_vl,
    "internvl": build_tiny_internvl,
    "gemma3": build_tiny_gemma3,
    "mllama": build_tiny_mllama,
    "janus": build_tiny_janus,
}

__all__ = [
    "BUILDERS",
    "build_tiny_gemma3",
    "build_tiny_internvl",
    "build_tiny_janus",
    "build_tiny_mllama",
    "build_tiny_qwen2_5_vl",
    "byte_tokenizer",
]
