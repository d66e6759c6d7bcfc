"""``vlm``: generic vision-language models through ``AutoProcessor`` and its chat template
(Qwen2-VL, Qwen2.5-VL, LLaVA, InternVL ``-hf``, Gemma 3 / MedGemma, ...)."""

from __future__ import annotations

from collections.abc import Sequence

from ...errors import ConfigError
from ...types import Request
from .base import _Adapter, _has_frames, _left_pad, _one_line, chat_messages
from .loading import _load_processor


class _VLM(_Adapter):
    name = "vlm"
    modalities = frozenset({"text", "image", "volume", "video"})

    def load(self, source, config, kw, model_kw, options):
        import transformers

        extra = dict(options.get("processor_kwargs") or {})
        self.processor = _load_processor(source, config, kw, extra)
        tok = getattr(self.processor, "tokenizer", None)
        if tok is None:
            raise ConfigError(
                f"{source}: AutoProcessor returned no tokenizer; try adapter "
                f"causal_lm for a text-only model"
            )
        self.tokenizer = tok
        _left_pad(tok)
        self.template = getattr(self.processor, "chat_template", None) or getattr(
            tok, "chat_template", None
        )
        if not self.template:
            raise ConfigError(f"{source} has no chat template (processor or tokenizer)")
        errors: list[str] = []
        for cls_name in ("AutoModelForImageTextToText", "AutoModelForVision2Seq"):
            auto_cls = getattr(transformers, cls_name, None)
            if auto_cls is None:
                continue
            try:
                self.model = auto_cls.from_pretrained(source, **kw, **model_kw)
                return
            except ValueError as exc:  # "Unrecognized configuration class ..."
                errors.append(_one_line(str(exc), 150))
        raise ValueError("; ".join(errors) or "no image-text model class in transformers")

    def _text(self, request: Request, counts: Sequence[int] | None) -> str:
        return self.processor.apply_chat_template(
            chat_messages(request, counts=counts),
            chat_template=self.template,
            tokenize=False,
            add_generation_prompt=True,
        )

    def render(self, request):
        text = self.processor.apply_chat_template(
            chat_messages(request),
            chat_template=self.template,
            tokenize=False,
            add_generation_prompt=True,
        )
        # Image tokens depend on image sizes, known only once opened: group by image count.
        return text, (len(request.media()), self._count_tokens(text))

    def encode(self, items):
        texts = [
            self._text(it.request, it.counts) if _has_frames(it.request) else it.prompt
            for it in items
        ]
        images = [list(it.images or []) for it in items]
        has_images = any(images)
        enc = self.processor(
            text=texts,
            images=images if has_images else None,
            padding=True,
            return_tensors="pt",
            add_special_tokens=self._add_special(texts[0]),
        )
        return self._to_device(enc)
