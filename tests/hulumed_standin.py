"""A stand-in for Hulu-Med's remote code that follows its published interface to the letter.

Hulu-Med's weights and code cannot be installed here, so this file plays its remote code: the
builder writes it into a model directory as the ``trust_remote_code`` module (``auto_map`` in
``config.json`` and ``processor_config.json``), and the hf backend loads it exactly as it loads
``ZJU-AI4H/Hulu-Med-7B``. What it reproduces (docs/models.md gives the sources):

- ``processor(text=None, conversation=None, images=None, return_labels=False, **kwargs)`` with
  ``add_system_prompt``, ``add_generation_prompt`` and ``return_tensors="pt"``; conversation
  items ``{"type": "image"}``, ``{"type": "video", "num_frames": N}``, and the self-loading
  ``{"type": "image", "image": {"image_path"}}``, ``{"type": "3d", "3d": {"image_path",
  "nii_num_slices", "nii_axis"}}`` (becomes a video of the sampled slices) and ``{"type":
  "video", "video": {"video_path", "fps", "max_frames"}}``;
- ``images=[images]`` (MedUniEval's call): one list of frames is one ``video`` item whose
  frames fill the conversation's ``<image>`` slots in order; merge size 2 when the conversation
  has a video / 3d item, else 1;
- output keys ``input_ids`` / ``attention_mask`` (1, L), ``pixel_values`` (sum of t*h*w
  patches, 3*14*14), ``grid_sizes`` (items, 3) as (t, h, w) in patches, ``merge_sizes``
  (items,), ``modals`` (a list of "image" / "video"); each ``<image>`` expands to
  (h/m)*(w/m) tokens per frame;
- ``model.generate(pixel_values=, grid_sizes=, merge_sizes=, modals=, **kwargs)`` that refuses
  ``inputs_embeds``, builds the embeddings with ``prepare_inputs_labels_for_multimodal`` (or
  ``embed_tokens`` for text) and calls the language model's ``generate`` with
  ``inputs_embeds`` (so it returns the new tokens only);
- ``prepare_inputs_labels_for_multimodal``: video token compression by frame differences and
  its ``assert B == 1, "Token compression is only supported for batch_size=1"``;
- ``batch_decode(..., skip_special_tokens=True, use_think=False)`` dropping ``<think>`` blocks.

The vision encoder is a small stand-in (a patch projection averaged over each merge window),
not SigLIP-NaViT: the adapter never sees inside it.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import Qwen2Config, Qwen2ForCausalLM
from transformers.feature_extraction_utils import BatchFeature
from transformers.generation.utils import GenerationMixin

IMAGE_TOKEN = "<image>"
PATCH = 14
MAX_SIDE = 56  # frames are resized to at most 56x56 pixels (4x4 patches) to stay tiny
SYSTEM_PROMPT = "You are a helpful assistant."

# VideoLLaMA3's chat template (Hulu-Med derives from it) plus the add_system_prompt switch.
CHAT_TEMPLATE = (
    "{% if add_system_prompt and messages[0]['role'] != 'system' %}"
    "<|im_start|>system\n" + SYSTEM_PROMPT + "<|im_end|>\n{% endif %}"
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}{{ image_token }}\n"
    "{% elif content['type'] == 'video' %}{% for i in range(content['num_frames']) %}"
    "{% if 'timestamps' in content %}Time {{ content['timestamps'][i] | round(1) }}s:{% endif %}"
    "{{ image_token }}{% if i < content['num_frames'] - 1 %},{% else %}\n{% endif %}"
    "{% endfor %}"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


# ------------------------------------------------------------------------------- processor
def _is_image(x: Any) -> bool:
    from PIL import Image

    if isinstance(x, Image.Image):
        return True
    return isinstance(x, (np.ndarray, torch.Tensor)) and x.ndim in (2, 3)


def _is_video(x: Any) -> bool:
    if isinstance(x, (list, tuple)):
        return len(x) > 0 and all(_is_image(f) for f in x)
    return isinstance(x, (np.ndarray, torch.Tensor)) and x.ndim == 4


def _named(x: Any) -> bool:
    return (
        isinstance(x, (list, tuple))
        and len(x) == 2
        and isinstance(x[0], str)
        and x[0] in ("image", "video", "3d")
        and (_is_image(x[1]) or _is_video(x[1]))
    )


def make_batched_images(images: Any) -> tuple[list[str], list[Any]]:
    """Hulu-Med's rules: named items, a list of images / videos (a list of frames is a
    video), or a single image / video."""
    if isinstance(images, (list, tuple)) and images and all(_named(i) for i in images):
        return [("video" if i[0] == "3d" else i[0]) for i in images], [i[1] for i in images]
    if isinstance(images, (list, tuple)) and all(_is_image(i) or _is_video(i) for i in images):
        return ["video" if _is_video(i) else "image" for i in images], list(images)
    if _named(images):
        return ["video" if images[0] == "3d" else images[0]], [images[1]]
    if _is_video(images):
        return ["video"], [images]
    if _is_image(images):
        return ["image"], [images]
    raise ValueError(f"Could not make batched images from {images}")


def _to_chw(frame: Any) -> np.ndarray:
    from PIL import Image

    if isinstance(frame, Image.Image):
        arr = np.asarray(frame.convert("RGB"), dtype=np.float32)
        return arr.transpose(2, 0, 1)
    arr = np.asarray(frame, dtype=np.float32)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3)
    elif arr.shape[-1] == 3 and arr.shape[0] != 3:
        arr = arr.transpose(2, 0, 1)
    return arr


def _target(chw: np.ndarray, factor: int) -> tuple[int, int]:
    """Multiples of ``factor`` pixels near the frame's size, at most MAX_SIDE a side."""
    _, h, w = chw.shape
    th = max(factor, min(MAX_SIDE // factor * factor, round(h / factor) * factor))
    tw = max(factor, min(MAX_SIDE // factor * factor, round(w / factor) * factor))
    return th, tw


def _resize(chw: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a (c, h, w) array."""
    _, h, w = chw.shape
    rows = (np.arange(size[0]) * h // size[0]).clip(0, h - 1)
    cols = (np.arange(size[1]) * w // size[1]).clip(0, w - 1)
    return chw[:, rows][:, :, cols]


class StandInImageProcessor:
    """HulumedImageProcessor's outputs: patches in (t, h/m, w/m, m, m) order."""

    model_input_names = ["pixel_values", "grid_sizes", "merge_sizes"]

    def __call__(self, images: list[Any], merge_size: Any = 1, **_: Any) -> BatchFeature:
        merge_sizes = (
            merge_size if isinstance(merge_size, (list, tuple)) else [merge_size] * len(images)
        )
        pixel_values, grids = [], []
        for item, m in zip(images, merge_sizes, strict=True):
            frames = list(item) if _is_video(item) else [item]
            arrs = [_to_chw(f) for f in frames]
            size = _target(arrs[0], PATCH * m)  # every frame at the first frame's target size
            arrs = [_resize(a, size) for a in arrs]
            x = (np.stack(arrs) / 255.0 - 0.5) / 0.5  # (t, c, H, W)
            t, c, hh, ww = x.shape
            gh, gw = hh // PATCH, ww // PATCH
            x = x.reshape(t, c, gh // m, m, PATCH, gw // m, m, PATCH)
            x = x.transpose(0, 2, 5, 3, 6, 1, 4, 7).reshape(t * gh * gw, c * PATCH * PATCH)
            pixel_values.append(x)
            grids.append((t, gh, gw))
        return BatchFeature(
            data={
                "pixel_values": torch.tensor(np.concatenate(pixel_values), dtype=torch.float32),
                "grid_sizes": torch.tensor(grids, dtype=torch.long),
                "merge_sizes": torch.tensor(merge_sizes, dtype=torch.long),
            }
        )


class StandInHulumedProcessor:
    """HulumedProcessor's call signature, outputs and decoding."""

    def __init__(self, tokenizer: Any, image_processor: Any | None = None) -> None:
        self.tokenizer = tokenizer
        self.image_processor = image_processor or StandInImageProcessor()
        self.chat_template = CHAT_TEMPLATE
        self.image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)

    @classmethod
    def register_for_auto_class(cls, auto_class: str = "AutoProcessor") -> None:
        """AutoProcessor calls this on remote-code classes (ProcessorMixin's hook)."""

    @classmethod
    def from_pretrained(cls, path: str, **kwargs: Any) -> StandInHulumedProcessor:
        from transformers import AutoTokenizer

        return cls(AutoTokenizer.from_pretrained(path, **kwargs))

    # loading the conversation's own media (what Hulu-Med's _load_multimodal_data does)
    @staticmethod
    def load_nii(path: str, num_slices: int | None = None, axis: int = 2) -> list[np.ndarray]:
        import nibabel as nib

        volume = np.asarray(nib.load(path).get_fdata())
        slices = [np.take(volume, i, axis=axis) for i in range(volume.shape[axis])]
        if num_slices is not None and num_slices < len(slices):
            slices = [slices[i] for i in np.linspace(0, len(slices) - 1, num_slices, dtype=int)]
        out = []
        for s in slices:
            lo, hi = s.min(), s.max()
            s = (s - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(s)
            out.append(np.stack([s.astype(np.uint8)] * 3, axis=0))
        return out

    @staticmethod
    def load_video(video_path: str, fps: float = 1, max_frames: int = 128, **_: Any):
        import av

        with av.open(video_path) as box:
            stream = box.streams.video[0]
            rate = float(stream.average_rate or 25)
            frames = [f.to_ndarray(format="rgb24") for f in box.decode(video=0)]
        step = max(1, int(rate // fps)) if fps else 1
        idx = list(range(step // 2, len(frames), step)) or [0]
        if len(idx) > max_frames:
            idx = [idx[i] for i in np.linspace(0, len(idx) - 1, max_frames, dtype=int)]
        return [frames[i].transpose(2, 0, 1) for i in idx], [i / rate for i in idx]

    def _load_multimodal_data(self, conversation: list[dict[str, Any]]) -> list[dict[str, Any]]:
        conversation = copy.deepcopy(conversation)
        for message in conversation:
            if not isinstance(message.get("content"), list):
                continue
            for content in message["content"]:
                kind = content.get("type")
                if kind not in ("image", "video", "3d") or not isinstance(content.get(kind), dict):
                    continue
                args = content[kind]
                if kind == "image":
                    from PIL import Image

                    content["image"] = [Image.open(args["image_path"]).convert("RGB")]
                elif kind == "3d":
                    slices = self.load_nii(
                        args["image_path"], args.get("nii_num_slices"), args.get("nii_axis", 2)
                    )
                    content.pop("3d")
                    content.update(type="video", video=slices, num_frames=len(slices))
                else:
                    frames, stamps = self.load_video(**args)
                    content.update(video=frames, num_frames=len(frames), timestamps=stamps)
        return conversation

    @staticmethod
    def _gather(conversation: list[dict[str, Any]]) -> list[tuple[str, Any]] | None:
        found = []
        for message in conversation:
            for content in message["content"] if isinstance(message["content"], list) else []:
                if content.get("type") == "video" and "video" in content:
                    found.append(("video", content["video"]))
                elif content.get("type") == "image" and "image" in content:
                    found.append(("image", content["image"]))
        return found or None

    def apply_chat_template(
        self,
        conversation: list[dict[str, Any]],
        chat_template: str | None = None,
        tokenize: bool = False,
        add_system_prompt: bool = False,
        add_generation_prompt: bool = False,
        image_token: str = IMAGE_TOKEN,
        **kwargs: Any,
    ) -> str:
        return self.tokenizer.apply_chat_template(
            conversation,
            chat_template=chat_template or self.chat_template,
            tokenize=tokenize,
            add_system_prompt=add_system_prompt,
            add_generation_prompt=add_generation_prompt,
            image_token=image_token,
            **kwargs,
        )

    def __call__(
        self,
        text: str | None = None,
        conversation: list[dict[str, Any]] | None = None,
        images: Any = None,
        return_labels: bool = False,
        **kwargs: Any,
    ) -> BatchFeature:
        if conversation is not None and text is not None:
            raise ValueError("You cannot provide both 'conversation' and 'text'.")
        if return_labels:
            raise NotImplementedError("the stand-in does not build training labels")
        if kwargs.get("return_tensors", "pt") != "pt":
            raise ValueError("only return_tensors='pt' is supported")
        if conversation is None:
            raise ValueError("the stand-in takes a conversation")
        if images is None:
            conversation = self._load_multimodal_data(conversation)
            images = self._gather(conversation)
        elif isinstance(images, (list, tuple)):
            images = [i for i in images if i is not None and not (isinstance(i, list) and not i)]
        image_inputs: dict[str, Any] = {}
        if images:
            merge_size = kwargs.get("merge_size")
            if merge_size is None:
                has_video = any(
                    c.get("type") in ("video", "3d")
                    for m in conversation
                    if isinstance(m.get("content"), list)
                    for c in m["content"]
                )
                merge_size = 2 if has_video else 1
            modals, data = make_batched_images(images)
            image_inputs = dict(self.image_processor(images=data, merge_size=merge_size))
            image_inputs["modals"] = modals
        prompt = self.apply_chat_template(
            conversation,
            add_system_prompt=kwargs.get("add_system_prompt", False),
            add_generation_prompt=kwargs.get("add_generation_prompt", False),
        )
        per_frame: list[int] = []
        for grid, m in zip(
            image_inputs.get("grid_sizes", []), image_inputs.get("merge_sizes", []), strict=True
        ):
            per_frame += [int(grid[1] // m) * int(grid[2] // m)] * int(grid[0])
        if per_frame:
            pieces = prompt.split(IMAGE_TOKEN)
            assert len(pieces) - 1 == len(per_frame), (
                "Number of images does not match the number of image tokens in the text."
            )
            prompt = pieces[0] + "".join(
                IMAGE_TOKEN * n + rest for n, rest in zip(per_frame, pieces[1:], strict=True)
            )
        text_inputs = self.tokenizer(prompt, return_tensors="pt")
        return BatchFeature(data={**dict(text_inputs), **image_inputs})

    def batch_decode(
        self, *args: Any, skip_special_tokens: bool = True, use_think: bool = False, **kwargs: Any
    ) -> list[str]:
        out = self.tokenizer.batch_decode(*args, skip_special_tokens=skip_special_tokens, **kwargs)
        return out if use_think else [self._drop_think(t) for t in out]

    @staticmethod
    def _drop_think(text: str) -> str:
        text = re.sub(r"<think>.*?</think>", "", text, flags=re.DOTALL)
        return re.sub(r"\n\s*\n", "\n\n", text).strip()


# ----------------------------------------------------------------------------------- model
class StandInHulumedConfig(Qwen2Config):
    model_type = "hulumed_qwen2"

    def __init__(
        self,
        vision_hidden_size: int = 32,
        use_token_compression: bool = True,
        image_token_index: int = -1,
        **kwargs: Any,
    ) -> None:
        self.vision_hidden_size = vision_hidden_size
        self.use_token_compression = use_token_compression
        self.image_token_index = image_token_index
        super().__init__(**kwargs)


class StandInVisionEncoder(nn.Module):
    def __init__(self, config: StandInHulumedConfig) -> None:
        super().__init__()
        self.patch_embed = nn.Linear(3 * PATCH * PATCH, config.vision_hidden_size)

    def forward(self, pixel_values, grid_sizes, merge_sizes):
        feats = self.patch_embed(pixel_values)
        out = []
        for chunk, m in zip(
            feats.split(grid_sizes.prod(dim=1).tolist()), merge_sizes.tolist(), strict=True
        ):
            out.append(chunk.view(-1, m * m, chunk.shape[-1]).mean(dim=1))
        return torch.cat(out)


class StandInHulumedForCausalLM(Qwen2ForCausalLM):
    config_class = StandInHulumedConfig

    def __init__(self, config: StandInHulumedConfig) -> None:
        super().__init__(config)
        self.vision_encoder = StandInVisionEncoder(config)
        self.mm_projector = nn.Sequential(
            nn.Linear(config.vision_hidden_size, config.hidden_size),
            nn.GELU(),
            nn.Linear(config.hidden_size, config.hidden_size),
        )
        self.post_init()

    def get_model(self):
        return self.model

    def encode_images(self, pixel_values, grid_sizes, merge_sizes):
        return self.mm_projector(self.vision_encoder(pixel_values, grid_sizes, merge_sizes))

    def _get_compression_mask(
        self,
        pixel_values,
        batched_num_patches,
        grid_sizes,
        merge_sizes,
        modals,
        threshold: float = 0.1,
        min_tokens: int = 1,
    ):
        masks = []
        parts = pixel_values.split(grid_sizes.prod(dim=1).tolist(), dim=0)
        for images, n, grid, m, modal in zip(
            parts, batched_num_patches, grid_sizes, merge_sizes, modals, strict=True
        ):
            t, h, w = (int(v) for v in grid)
            if modal == "image" or (modal == "video" and t == 1):
                masks.append(torch.ones(int(n), dtype=torch.bool, device=images.device))
            else:
                frames = images.view(t, (h // int(m)) * (w // int(m)), -1)
                diff = (frames[1:] - frames[:-1]).abs().mean(dim=-1) * 255
                diff = torch.cat([torch.full_like(diff[0:1], threshold + 1), diff], dim=0)
                mask = (diff / 255.0) > threshold
                mask[torch.nonzero(mask.sum(dim=1) < min_tokens)[:, 0], :min_tokens] = True
                masks.append(mask.flatten())
        return torch.cat(masks)

    def prepare_inputs_labels_for_multimodal(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        past_key_values=None,
        labels=None,
        pixel_values=None,
        grid_sizes=None,
        merge_sizes=None,
        modals=None,
    ):
        if pixel_values is None or input_ids.shape[1] == 1:
            return input_ids, attention_mask, position_ids, past_key_values, None, labels
        B, N = input_ids.shape  # noqa: N806 (the published names)
        input_ids = input_ids.view(B * N)
        if attention_mask is not None:
            attention_mask = attention_mask.view(B * N)
        num_patches = grid_sizes.prod(dim=1).div(merge_sizes**2).long()
        features = self.encode_images(pixel_values, grid_sizes, merge_sizes).to(input_ids.device)
        mask = self._get_compression_mask(
            pixel_values, num_patches, grid_sizes, merge_sizes, modals
        )
        if self.config.use_token_compression:
            assert B == 1, "Token compression is only supported for batch_size=1"
            features = features[mask]
            keep = input_ids != self.config.image_token_index
            keep[~keep.clone()] = mask
            input_ids = input_ids[keep]
            if attention_mask is not None:
                attention_mask = attention_mask[keep]
        embeds = self.get_model().embed_tokens(input_ids).clone()
        selected = input_ids == self.config.image_token_index
        embeds[selected] = embeds[selected] * 0.0 + features.to(embeds.dtype)
        embeds = embeds.reshape(B, -1, embeds.shape[-1])
        if attention_mask is not None:
            attention_mask = attention_mask.view(B, -1)
        return None, attention_mask, position_ids, past_key_values, embeds, labels

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        inputs_embeds=None,
        labels=None,
        pixel_values=None,
        grid_sizes=None,
        merge_sizes=None,
        modals=None,
        **kwargs,
    ):
        if inputs_embeds is None and pixel_values is not None:
            input_ids, attention_mask, position_ids, _, inputs_embeds, labels = (
                self.prepare_inputs_labels_for_multimodal(
                    input_ids,
                    attention_mask,
                    position_ids,
                    None,
                    labels,
                    pixel_values,
                    grid_sizes,
                    merge_sizes,
                    modals,
                )
            )
        return super().forward(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            labels=labels,
            **kwargs,
        )

    @torch.no_grad()
    def generate(self, pixel_values=None, grid_sizes=None, merge_sizes=None, modals=None, **kwargs):
        input_ids = kwargs.pop("input_ids", None)
        attention_mask = kwargs.pop("attention_mask", None)
        position_ids = kwargs.pop("position_ids", None)
        kwargs.pop("past_key_values", None)
        if "inputs_embeds" in kwargs:
            raise NotImplementedError("`inputs_embeds` is not supported")
        if pixel_values is not None:
            _, attention_mask, position_ids, _, inputs_embeds, _ = (
                self.prepare_inputs_labels_for_multimodal(
                    input_ids,
                    attention_mask,
                    position_ids,
                    None,
                    None,
                    pixel_values,
                    grid_sizes,
                    merge_sizes,
                    modals,
                )
            )
        else:
            inputs_embeds = self.get_model().embed_tokens(input_ids)
        return GenerationMixin.generate(
            self,
            position_ids=position_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            **kwargs,
        )


# --------------------------------------------------------------------------------- builder
def build_hulumed_standin(
    out_dir: str | Path, seed: int = 0, use_token_compression: bool = True
) -> Path:
    """Write a tiny random model whose remote code is this file into ``out_dir``: it loads
    with ``AutoModelForCausalLM`` / ``AutoProcessor`` and ``trust_remote_code=True``."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from medunieval.tiny_models import (
        QWEN_SPECIAL_TOKENS,
        _generation_config,
        _qwen_tokenizer,
        _text_config_kwargs,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _qwen_tokenizer(CHAT_TEMPLATE)
    tokenizer.add_special_tokens(
        {"additional_special_tokens": [*QWEN_SPECIAL_TOKENS[1:], IMAGE_TOKEN]}
    )
    tokenizer.add_tokens(["<think>", "</think>"])  # ordinary added tokens, as in Qwen's vocab
    image_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    text = _text_config_kwargs()
    assert len(tokenizer) <= text["vocab_size"]
    config = StandInHulumedConfig(
        image_token_index=image_id, use_token_compression=use_token_compression, **text
    )
    config.architectures = ["HulumedQwen2ForCausalLM"]
    module = "modeling_hulumed_standin"
    config.auto_map = {
        "AutoConfig": f"{module}.StandInHulumedConfig",
        "AutoModelForCausalLM": f"{module}.StandInHulumedForCausalLM",
        "AutoProcessor": f"{module}.StandInHulumedProcessor",
    }
    torch.manual_seed(seed)
    model = StandInHulumedForCausalLM(config).eval()
    model.generation_config = _generation_config()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    shutil.copyfile(__file__, out / f"{module}.py")
    (out / "processor_config.json").write_text(
        json.dumps(
            {
                "processor_class": "StandInHulumedProcessor",
                "auto_map": {"AutoProcessor": f"{module}.StandInHulumedProcessor"},
            }
        ),
        encoding="utf-8",
    )
    return out


__all__ = [
    "CHAT_TEMPLATE",
    "StandInHulumedConfig",
    "StandInHulumedForCausalLM",
    "StandInHulumedProcessor",
    "build_hulumed_standin",
]
