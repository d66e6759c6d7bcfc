"""``causal_lm``: text-only models through ``AutoTokenizer`` and its chat template."""

from __future__ import annotations

from ...errors import SampleError
from .base import _Adapter, _left_pad, _note, _plain_prompt, chat_messages


class _CausalLM(_Adapter):
    name = "causal_lm"

    def load(self, source, config, kw, model_kw, options):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(source, **kw)
        _left_pad(self.tokenizer)
        self.model = AutoModelForCausalLM.from_pretrained(source, **kw, **model_kw)
        self.source = source
        self.has_template = bool(getattr(self.tokenizer, "chat_template", None))
        if not self.has_template:
            _note(f"{source} has no chat template: sending the plain prompt text")

    def render(self, request):
        n_images = len(request.media())
        if n_images:
            raise SampleError(
                "unsupported_modality",
                f"{self.source} is a text-only model (adapter causal_lm); the request has "
                f"{n_images} image / volume / video part(s)",
            )
        if self.has_template:
            text = self.tokenizer.apply_chat_template(
                chat_messages(request, structured=False), tokenize=False, add_generation_prompt=True
            )
        else:
            text = _plain_prompt(request)
        return text, (self._count_tokens(text),)

    def encode(self, items):
        texts = [it.prompt for it in items]
        enc = self.tokenizer(
            texts, padding=True, return_tensors="pt", add_special_tokens=self._add_special(texts[0])
        )
        return self._to_device(enc)
