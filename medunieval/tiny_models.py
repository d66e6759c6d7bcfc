"""Tiny randomly initialised models of real architectures, built fully offline.

They exist so the hf backend can be exercised (tests, README demo) without downloading
anything: each builder creates a few-hundred-kilobyte model plus a working tokenizer /
processor with ``save_pretrained`` and returns the directory, which loads like any hub
checkpoint (``--model <dir>``). The weights are random, so the generated text is gibberish;
the point is that every code path (chat template, image tokens, batching, decoding) is real.

Builds are deterministic given ``seed`` and idempotent: a directory that already holds a
finished build of the same kind (``medunieval_tiny.json`` marker) is returned as is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MARKER = "medunieval_tiny.json"

# Byte-level vocabulary: the 256 byte symbols (ids 0..255) followed by Qwen's special tokens.
QWEN_SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",  # 256
    "<|im_start|>",  # 257
    "<|im_end|>",  # 258
    "<|vision_start|>",  # 259
    "<|vision_end|>",  # 260
    "<|vision_pad|>",  # 261
    "<|image_pad|>",  # 262
    "<|video_pad|>",  # 263
)
VOCAB_SIZE = 272  # 256 bytes + 8 specials, rounded up to a multiple of 16


def _special_id(token: str) -> int:
    return 256 + QWEN_SPECIAL_TOKENS.index(token)


# The chat templates of the real checkpoints (Qwen2-VL-Instruct and Qwen2-Instruct).
QWEN2_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

QWEN2_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _ready(out: Path, kind: str, seed: int) -> bool:
    """Whether ``out`` holds a finished build of ``kind`` from ``seed`` (the marker is written
    last, so an interrupted build is redone)."""
    try:
        marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return marker == {"kind": kind, "seed": seed}


def _mark(out: Path, kind: str, seed: int) -> None:
    (out / MARKER).write_text(json.dumps({"kind": kind, "seed": seed}) + "\n", encoding="utf-8")


def byte_level_bpe(vocab: dict[str, int]) -> Any:
    """A merge-free byte-level BPE ``tokenizers.Tokenizer`` over ``vocab`` (every byte one
    token, specials whole): the tiny models' tokenizers, offline."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    return tok


def _byte_symbols() -> dict[int, str]:
    """GPT-2's byte -> printable symbol table (printable Latin-1 bytes map to themselves, the
    other bytes to 256 + n in order), as byte-level BPE tokenizers use it."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    keep += range(ord("®"), ord("ÿ") + 1)
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _qwen_tokenizer(chat_template: str) -> Any:
    """A Qwen2TokenizerFast over a byte-level BPE with no merges (one token per byte) plus the
    Qwen special tokens, built with the ``tokenizers`` library (no download)."""
    from tokenizers import pre_tokenizers
    from transformers import Qwen2TokenizerFast

    # GPT-2 byte-to-symbol map, the one ByteLevel pre-tokenization uses: byte b -> id b.
    byte_symbol = _byte_symbols()
    vocab = {byte_symbol[b]: b for b in range(256)}
    assert set(vocab) == set(pre_tokenizers.ByteLevel.alphabet())
    for special in QWEN_SPECIAL_TOKENS:
        vocab[special] = _special_id(special)
    tokenizer = Qwen2TokenizerFast(
        tokenizer_object=byte_level_bpe(vocab),
        unk_token=None,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(QWEN_SPECIAL_TOKENS[1:]),
        chat_template=chat_template,
        model_max_length=32768,
    )
    return tokenizer


def _text_config_kwargs() -> dict[str, Any]:
    return {
        "vocab_size": VOCAB_SIZE,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "rope_theta": 10000.0,
        # A wider init than the real 0.02 spreads the random logits, so greedy choices have
        # clear margins rather than near-ties.
        "initializer_range": 0.3,
        "tie_word_embeddings": False,
        "bos_token_id": None,
        "eos_token_id": _special_id("<|im_end|>"),
        "pad_token_id": _special_id("<|endoftext|>"),
    }


def _generation_config() -> Any:
    from transformers import GenerationConfig

    return GenerationConfig(
        eos_token_id=[_special_id("<|im_end|>"), _special_id("<|endoftext|>")],
        pad_token_id=_special_id("<|endoftext|>"),
        do_sample=False,
    )


def build_tiny_qwen2_vl(out_dir: str | Path, seed: int = 0) -> Path:
    """Build a tiny random Qwen2-VL (``Qwen2VLForConditionalGeneration``) with a working
    ``Qwen2VLProcessor`` into ``out_dir`` and return it. A 64x64 image becomes 4 image tokens."""
    out = Path(out_dir)
    if _ready(out, "qwen2_vl", seed):
        return out
    import torch
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
    )
    from transformers.utils import is_torchvision_available

    out.mkdir(parents=True, exist_ok=True)
    text = _text_config_kwargs()
    head_dim = text["hidden_size"] // text["num_attention_heads"]
    config = Qwen2VLConfig(
        text_config={**text, "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]}},
        vision_config={
            "depth": 1,
            "embed_dim": 32,
            "hidden_size": text["hidden_size"],
            "mlp_ratio": 2,
            "num_heads": 2,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "initializer_range": 0.3,
        },
        image_token_id=_special_id("<|image_pad|>"),
        video_token_id=_special_id("<|video_pad|>"),
        vision_start_token_id=_special_id("<|vision_start|>"),
        vision_end_token_id=_special_id("<|vision_end|>"),
        **{k: text[k] for k in ("vocab_size", "eos_token_id", "pad_token_id")},
    )
    assert sum(config.text_config.rope_scaling["mrope_section"]) * 2 == head_dim
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config).eval()
    model.generation_config = _generation_config()
    model.save_pretrained(out)

    tokenizer = _qwen_tokenizer(QWEN2_VL_CHAT_TEMPLATE)
    pixels = {"min_pixels": 28 * 28, "max_pixels": 28 * 28 * 16}
    image_processor = Qwen2VLImageProcessor(**pixels)
    if is_torchvision_available():
        from transformers import Qwen2VLVideoProcessor

        processor = Qwen2VLProcessor(
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=Qwen2VLVideoProcessor(**pixels),
            chat_template=QWEN2_VL_CHAT_TEMPLATE,
        )
        processor.save_pretrained(out)
    else:
        # Video processors need torchvision; images never use them. Save the processor
        # without one, plus a video processor config so it loads normally where torchvision
        # is installed.
        from .backends.hf import processor_without_video

        processor = processor_without_video(Qwen2VLProcessor)(
            image_processor=image_processor,
            tokenizer=tokenizer,
            chat_template=QWEN2_VL_CHAT_TEMPLATE,
        )
        processor.save_pretrained(out)
        video_config = {
            "video_processor_type": "Qwen2VLVideoProcessor",
            "processor_class": "Qwen2VLProcessor",
            **pixels,
        }
        (out / "video_preprocessor_config.json").write_text(
            json.dumps(video_config, indent=2) + "\n", encoding="utf-8"
        )
    _mark(out, "qwen2_vl", seed)
    return out


def build_tiny_qwen2_lm(out_dir: str | Path, seed: int = 0, head_dim: int = 16) -> Path:
    """Build a tiny random text-only Qwen2 (``Qwen2ForCausalLM``) with its tokenizer and chat
    template into ``out_dir`` and return it. ``head_dim=64`` builds the variant vLLM's CPU
    attention kernels accept (they reject 16)."""
    out = Path(out_dir)
    kind = "qwen2" if head_dim == 16 else f"qwen2-hd{head_dim}"
    if _ready(out, kind, seed):
        return out
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    out.mkdir(parents=True, exist_ok=True)
    kwargs = _text_config_kwargs()
    if head_dim != 16:
        kwargs.update(hidden_size=2 * head_dim, num_attention_heads=2, num_key_value_heads=1)
    config = Qwen2Config(**kwargs)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).eval()
    model.generation_config = _generation_config()
    model.save_pretrained(out)
    _qwen_tokenizer(QWEN2_CHAT_TEMPLATE).save_pretrained(out)
    _mark(out, kind, seed)
    return out


LLAVA_IMAGE_TOKEN = "<image>"  # id 264, the first id after the Qwen special tokens
# A LLaVA-1.5-style template over the byte-level tokenizer: an image part becomes ``<image>``,
# which the processor expands to one token per vision patch.
LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'].upper() + ': ' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}{{ '<image>\\n' }}"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT: ' }}{% endif %}"
)


def build_tiny_llava(out_dir: str | Path, seed: int = 0) -> Path:
    """Build a tiny random LLaVA (``LlavaForConditionalGeneration``: a CLIP vision tower, an MLP
    projector and a Qwen2 language model) with a ``LlavaProcessor`` into ``out_dir`` and return
    it. Images are resized to 32x32 and become 16 image tokens. Unlike Qwen2-VL its processor
    has no video processor, so it loads without torchvision (as ``transformers serve`` needs)."""
    out = Path(out_dir)
    if _ready(out, "llava", seed):
        return out
    import torch
    from transformers import (
        CLIPImageProcessor,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _qwen_tokenizer(LLAVA_CHAT_TEMPLATE)
    tokenizer.add_special_tokens(
        {"additional_special_tokens": [*QWEN_SPECIAL_TOKENS[1:], LLAVA_IMAGE_TOKEN]}
    )
    image_token_id = tokenizer.convert_tokens_to_ids(LLAVA_IMAGE_TOKEN)
    assert image_token_id == 256 + len(QWEN_SPECIAL_TOKENS) < VOCAB_SIZE
    text = {**_text_config_kwargs(), "model_type": "qwen2"}
    config = LlavaConfig(
        vision_config={
            "model_type": "clip_vision_model",
            "image_size": 32,
            "patch_size": 8,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "projection_dim": 32,
            "initializer_range": 0.3,
        },
        text_config=text,
        image_token_id=image_token_id,
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config = _generation_config()
    model.save_pretrained(out)
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        ),
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        image_token=LLAVA_IMAGE_TOKEN,
        chat_template=LLAVA_CHAT_TEMPLATE,
    )
    processor.save_pretrained(out)
    _mark(out, "llava", seed)
    return out


__all__ = ["build_tiny_llava", "build_tiny_qwen2_lm", "build_tiny_qwen2_vl"]
