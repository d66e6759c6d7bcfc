"""The transformers backend on tiny random models of real architectures, built offline.

Each tiny model is built once per session; every test runs on CPU in float32 with greedy
decoding, where batched and one-at-a-time generation must agree token for token.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from PIL import Image  # noqa: E402

from medunieval.backends.hf import (  # noqa: E402
    HFBackend,
    build_hulumed_conversation,
    detect_adapter,
    is_oom,
)
from medunieval.errors import ConfigError  # noqa: E402
from medunieval.model_identity import fingerprint as model_fingerprint  # noqa: E402
from medunieval.presets import ModelPreset, builtin_presets  # noqa: E402
from medunieval.tiny_models import build_tiny_qwen2_lm, build_tiny_qwen2_vl  # noqa: E402
from medunieval.types import (  # noqa: E402
    GenParams,
    ImagePart,
    MediaRef,
    Message,
    Request,
    Response,
    TextPart,
    sha256_hex,
)

PARAMS = GenParams(max_new_tokens=10)


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def tiny_vl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen2_vl(tmp_path_factory.mktemp("tiny_qwen2_vl"))


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen2_lm(tmp_path_factory.mktemp("tiny_qwen2_lm"))


@pytest.fixture(scope="module")
def vl_backend(tiny_vl: Path):
    backend = HFBackend.from_preset(ModelPreset(name="tiny-vl", model=str(tiny_vl)), batch_size=4)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def lm_backend(tiny_lm: Path):
    backend = HFBackend.from_preset(ModelPreset(name="tiny-lm", model=str(tiny_lm)), batch_size=4)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("images")


def image_part(folder: Path, name: str, size: tuple[int, int], seed: int) -> ImagePart:
    """A synthetic PNG on disk, referenced lazily like benchmark media."""
    path = folder / f"{name}.png"
    if not path.exists():
        img = Image.new("RGB", size, (seed * 37 % 256, seed * 91 % 256, seed * 13 % 256))
        for x in range(0, size[0], 7):  # some structure so images differ beyond their colour
            img.putpixel((x, (x * seed) % size[1]), (255, 255, 255))
        img.save(path)
    ref = MediaRef(kind="image", source=str(path), opener=path.read_bytes)
    digest = sha256_hex(path.read_bytes()) if path.exists() else "missing"
    return ImagePart(ref=ref, digest=digest)


def missing_image(folder: Path) -> ImagePart:
    path = folder / "does-not-exist.png"
    return ImagePart(
        ref=MediaRef(kind="image", source=str(path), opener=path.read_bytes), digest="0" * 64
    )


def request(sid: str, parts: tuple, params: GenParams = PARAMS) -> Request:
    return Request(
        sample_id=sid, benchmark="test", messages=(Message("user", parts),), params=params
    )


def vl_requests(folder: Path, n: int = 6) -> list[Request]:
    """Image+text requests of different prompt lengths, image sizes and image counts."""
    out = []
    for i in range(n):
        images = tuple(
            image_part(folder, f"img{i}_{k}", (56 + 14 * ((i + k) % 4), 56 + 28 * (k % 2)), i + k)
            for k in range(1 + i % 2)
        )
        text = TextPart(f"Question {i}: what does the image show? " + "Describe it. " * i)
        out.append(request(f"vl{i}", (*images, text)))
    return out


def lm_requests(n: int = 7) -> list[Request]:
    return [
        request(f"lm{i}", (TextPart(f"Question {i}: " + "why is the sky blue? " * (2 * i + 1)),))
        for i in range(n)
    ]


def run(
    backend: HFBackend, reqs: list[Request], batch_size: int | None = None
) -> dict[str, Response]:
    """Generate ``reqs`` (at ``batch_size`` if given, restoring the backend's size after)."""
    saved = backend.batch_size
    if batch_size is not None:
        backend.batch_size = batch_size
    try:
        out = {req.sample_id: resp for req, resp in backend.generate(reqs)}
    finally:
        if batch_size is not None:
            backend.batch_size = saved
    assert len(out) == len(reqs)
    return out


def same_generation(a: Response, b: Response) -> bool:
    fields = ("text", "error", "finish_reason", "prompt_tokens", "completion_tokens")
    return all(getattr(a, f) == getattr(b, f) for f in fields)


def kind(resp: Response) -> str:
    assert resp.error is not None and resp.text is None
    return resp.error.split(":", 1)[0]


# ------------------------------------------------------------------------- tiny model builders
def test_tiny_builders_are_idempotent(tiny_vl: Path, tiny_lm: Path) -> None:
    weights = tiny_vl / "model.safetensors"
    before = weights.stat().st_mtime_ns
    start = time.perf_counter()
    assert build_tiny_qwen2_vl(tiny_vl) == tiny_vl
    assert build_tiny_qwen2_lm(tiny_lm) == tiny_lm
    assert time.perf_counter() - start < 1.0
    assert weights.stat().st_mtime_ns == before


def test_tiny_builders_are_deterministic(tiny_lm: Path, tmp_path: Path) -> None:
    again = build_tiny_qwen2_lm(tmp_path / "again")
    weights = "model.safetensors"
    assert (again / weights).read_bytes() == (tiny_lm / weights).read_bytes()


# ------------------------------------------------------------------------------------ adapters
def test_auto_adapter_and_modalities(vl_backend: HFBackend, lm_backend: HFBackend) -> None:
    assert vl_backend.adapter.name == "vlm"
    assert vl_backend.modalities == frozenset({"text", "image", "volume", "video"})
    assert lm_backend.adapter.name == "causal_lm"
    assert lm_backend.modalities == frozenset({"text"})
    assert vl_backend.cacheable and lm_backend.cacheable


def test_detect_adapter_from_config() -> None:
    class Cfg:
        def __init__(self, model_type: str, archs=None, vision=None) -> None:
            self.model_type, self.architectures, self.vision_config = model_type, archs, vision

    assert detect_adapter(Cfg("hulumed_qwen3", ["HulumedQwen3ForCausalLM"])) == "hulumed"
    assert detect_adapter(Cfg("qwen2_5_vl")) == "vlm"
    assert detect_adapter(Cfg("something_new", vision={"hidden_size": 8})) == "vlm"
    assert detect_adapter(Cfg("llama", ["LlamaForCausalLM"])) == "causal_lm"


# --------------------------------------------------------------------------- batched generation
def test_vlm_batched_equals_unbatched(vl_backend: HFBackend, image_dir: Path) -> None:
    reqs = vl_requests(image_dir)
    batched = run(vl_backend, reqs, batch_size=4)
    single = run(vl_backend, reqs, batch_size=1)
    for sid, resp in batched.items():
        assert resp.error is None, resp.error
        assert isinstance(resp.text, str)
        assert resp.prompt_tokens and resp.prompt_tokens > 0
        assert resp.completion_tokens and 1 <= resp.completion_tokens <= PARAMS.max_new_tokens
        assert resp.latency_s is not None and resp.latency_s > 0
        assert same_generation(resp, single[sid]), (sid, resp, single[sid])
    # Prompts of different lengths really were padded together.
    assert len({r.prompt_tokens for r in batched.values()}) > 1


def test_causal_lm_batched_equals_unbatched(lm_backend: HFBackend) -> None:
    reqs = lm_requests()
    batched = run(lm_backend, reqs, batch_size=4)
    single = run(lm_backend, reqs, batch_size=1)
    assert len({r.prompt_tokens for r in batched.values()}) == len(reqs)
    for sid, resp in batched.items():
        assert resp.error is None, resp.error
        assert same_generation(resp, single[sid]), (sid, resp, single[sid])


def test_causal_lm_rejects_images(lm_backend: HFBackend, image_dir: Path) -> None:
    img = image_part(image_dir, "lm_img", (56, 56), 1)
    reqs = [*lm_requests(3), request("with-image", (img, TextPart("What is this?")))]
    out = run(lm_backend, reqs)
    assert kind(out["with-image"]) == "unsupported_modality"
    assert all(out[r.sample_id].error is None for r in reqs[:3])


def test_mixed_generation_params_are_batched_separately(lm_backend: HFBackend) -> None:
    short = GenParams(max_new_tokens=2)
    reqs = lm_requests(4) + [request(f"short{i}", (TextPart(f"Hi {i}"),), short) for i in range(3)]
    out = run(lm_backend, reqs)
    assert all(r.error is None for r in out.values())
    assert all(out[f"short{i}"].completion_tokens <= 2 for i in range(3))


def test_sampling_is_seeded(lm_backend: HFBackend) -> None:
    params = GenParams(max_new_tokens=8, temperature=0.8, top_p=0.9, seed=7)
    reqs = [request(f"s{i}", (TextPart(f"Tell me {i}"),), params) for i in range(3)]
    first, second = run(lm_backend, reqs), run(lm_backend, reqs)
    assert all(same_generation(first[k], second[k]) for k in first)


# ------------------------------------------------------------------------------ per-request errors
def test_missing_image_is_isolated(vl_backend: HFBackend, image_dir: Path) -> None:
    reqs = vl_requests(image_dir, 4)
    reqs.insert(2, request("missing", (missing_image(image_dir), TextPart("What is it?"))))
    corrupt = image_dir / "corrupt.png"
    corrupt.write_bytes(b"not a png at all")
    reqs.append(
        request(
            "corrupt",
            (
                ImagePart(MediaRef("image", str(corrupt), corrupt.read_bytes), "c" * 64),
                TextPart("And this?"),
            ),
        )
    )
    out = run(vl_backend, reqs, batch_size=4)
    assert kind(out["missing"]) == "missing_media"
    assert kind(out["corrupt"]) == "corrupt_media"
    others = [r.sample_id for r in reqs if r.sample_id not in ("missing", "corrupt")]
    assert all(out[s].error is None for s in others)


def test_finish_reason_and_token_counts(lm_backend: HFBackend, monkeypatch) -> None:
    params = GenParams(max_new_tokens=3)
    reqs = [request(f"len{i}", (TextPart(f"Count to {i}"),), params) for i in range(3)]
    out = run(lm_backend, reqs)
    for resp in out.values():
        assert resp.finish_reason == "length"
        assert resp.completion_tokens == 3
        assert resp.prompt_tokens and resp.prompt_tokens > 3
    # Every token an end-of-sequence token: each request stops after its first token.
    monkeypatch.setattr(lm_backend, "eos_ids", list(range(300)))
    out = run(lm_backend, reqs)
    for resp in out.values():
        assert (resp.finish_reason, resp.completion_tokens, resp.text) == ("stop", 1, "")


def test_generation_error_is_isolated(lm_backend: HFBackend, monkeypatch) -> None:
    adapter = lm_backend.adapter
    real_encode = adapter.encode

    def encode(items):
        if any(it.request.sample_id == "lm2" for it in items):
            raise ValueError("boom " + "x" * 1000)
        return real_encode(items)

    monkeypatch.setattr(adapter, "encode", encode)
    out = run(lm_backend, lm_requests(6), batch_size=4)
    assert kind(out["lm2"]) == "generation_error"
    assert out["lm2"].error.startswith("generation_error: ValueError: boom")
    assert len(out["lm2"].error) <= len("generation_error: ") + 500
    assert all(out[f"lm{i}"].error is None for i in range(6) if i != 2)


# ------------------------------------------------------------------------------ batch size auto
def test_auto_batch_size_backs_off_on_oom(
    tiny_lm: Path, lm_backend: HFBackend, monkeypatch
) -> None:
    backend = HFBackend.from_preset(
        ModelPreset(name="tiny-lm", model=str(tiny_lm)), batch_size="auto", max_batch_size=16
    )
    assert backend.batch_size == 16
    model = backend.adapter.model
    real_generate = model.generate
    sizes: list[int] = []

    def generate(*args, **kwargs):
        rows = kwargs["input_ids"].shape[0]
        sizes.append(rows)
        if rows > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(model, "generate", generate)
    reqs = lm_requests(7)
    out = run(backend, reqs)
    assert all(r.error is None for r in out.values())
    assert backend.batch_size == 2
    assert max(sizes[-3:]) <= 2  # later batches start at the remembered size
    reference = run(lm_backend, reqs, batch_size=1)
    assert all(same_generation(out[k], reference[k]) for k in out)
    run(backend, reqs[:3])
    assert backend.batch_size == 2 and sizes[-1] <= 2
    backend.close()


def test_oom_at_batch_size_one_is_an_error_response(lm_backend: HFBackend, monkeypatch) -> None:
    def generate(*args, **kwargs):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(lm_backend.adapter.model, "generate", generate)
    out = run(lm_backend, lm_requests(3), batch_size=2)
    assert {kind(r) for r in out.values()} == {"oom"}


def test_is_oom() -> None:
    assert is_oom(RuntimeError("CUDA out of memory. Tried to allocate"))
    assert is_oom(RuntimeError("[enforce fail] DefaultCPUAllocator: can't allocate memory"))
    assert is_oom(MemoryError())
    assert not is_oom(RuntimeError("shape mismatch"))
    assert not is_oom(ValueError("out of memory"))


# ------------------------------------------------------------------------------------ hulu-med
def test_hulumed_conversation_images() -> None:
    conv = build_hulumed_conversation(3, "Which organ?")
    assert conv == [
        {
            "role": "user",
            "content": [
                {"type": "image"},
                {"type": "image"},
                {"type": "image"},
                {"type": "text", "text": "Which organ?"},
            ],
        }
    ]


def test_hulumed_conversation_many_images_become_a_video() -> None:
    conv = build_hulumed_conversation(7, "Describe the scan.")
    assert conv == [
        {
            "role": "user",
            "content": [
                {"type": "video", "num_frames": 7},
                {"type": "text", "text": "Describe the scan."},
            ],
        }
    ]
    assert build_hulumed_conversation(5, "q")[0]["content"][:5] == [{"type": "image"}] * 5
    assert build_hulumed_conversation(3, "q", max_images_as_images=2)[0]["content"][0] == {
        "type": "video",
        "num_frames": 3,
    }
    assert build_hulumed_conversation(0, "text only") == [
        {"role": "user", "content": [{"type": "text", "text": "text only"}]}
    ]


def test_hulumed_requires_trust_remote_code(tiny_lm: Path) -> None:
    preset = ModelPreset(name="hulu", model=str(tiny_lm), adapter="hulumed")
    with pytest.raises(ConfigError, match="trust_remote_code"):
        HFBackend.from_preset(preset)


# ----------------------------------------------------------------------------- loading errors
def test_bad_local_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such model directory"):
        HFBackend.from_preset(ModelPreset(name="x", model=str(tmp_path / "nope")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="config.json"):
        HFBackend.from_preset(ModelPreset(name="x", model=str(tmp_path / "empty")))


def test_bad_preset_values(tiny_lm: Path) -> None:
    with pytest.raises(ConfigError, match="adapter"):
        HFBackend.from_preset(ModelPreset(name="x", model=str(tiny_lm), adapter="magic"))
    with pytest.raises(ConfigError, match="dtype"):
        HFBackend.from_preset(ModelPreset(name="x", model=str(tiny_lm), dtype="int3"))
    with pytest.raises(ConfigError, match="batch size"):
        HFBackend.from_preset(ModelPreset(name="x", model=str(tiny_lm)), batch_size="many")


def test_uncached_hub_id_offline_fails_fast_without_network(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_network(*args, **kwargs):
        raise AssertionError("the network was touched")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    start = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        HFBackend.from_preset(ModelPreset(name="x", model="medunieval-tests/no-such-model-3f9a"))
    assert time.perf_counter() - start < 5
    message = str(info.value)
    assert "\n" not in message
    assert "download it and pass the local directory as --model" in message


def test_missing_torch_is_a_config_error(monkeypatch, tiny_lm: Path) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ConfigError, match=r"pip install 'medunieval\[hf\]'"):
        HFBackend.from_preset(ModelPreset(name="x", model=str(tiny_lm)))


def test_module_import_needs_no_torch() -> None:
    code = (
        "import sys; import medunieval.backends.hf, medunieval.tiny_models; "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


# --------------------------------------------------------------------------------- fingerprint
def test_fingerprint(vl_backend: HFBackend, lm_backend: HFBackend, tiny_lm: Path) -> None:
    assert vl_backend.fingerprint() != lm_backend.fingerprint()
    fp = lm_backend.fingerprint()
    # the model identity: the weights' content digest, no model loaded (model_identity)
    assert fp == model_fingerprint(ModelPreset(name="x", model=str(tiny_lm)), "cpu")
    assert fp.startswith("hf:local:") and ":float32:" in fp
    again = HFBackend.from_preset(ModelPreset(name="tiny-lm", model=str(tiny_lm)), batch_size=1)
    assert again.fingerprint() == fp  # batch size does not change what is generated
    again.close()


def test_fingerprint_changes_with_local_config(tiny_lm: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(tiny_lm, copy)
    a = HFBackend.from_preset(ModelPreset(name="a", model=str(copy)), batch_size=1)
    fp_a = a.fingerprint()
    a.close()
    cfg = copy / "config.json"
    cfg.write_text(cfg.read_text().replace('"rms_norm_eps": 1e-06', '"rms_norm_eps": 1e-05'))
    b = HFBackend.from_preset(ModelPreset(name="b", model=str(copy)), batch_size=1)
    assert b.fingerprint() != fp_a
    b.close()


# ------------------------------------------------------------------------------------- presets
def test_shipped_model_presets() -> None:
    presets = builtin_presets()
    for size in ("4B", "7B", "14B", "32B"):
        p = presets[f"Hulu-Med-{size}"]
        assert (p.model, p.adapter, p.trust_remote_code) == (
            f"ZJU-AI4H/Hulu-Med-{size}",
            "hulumed",
            True,
        )
        assert p.dtype == "bfloat16" and p.options["attn_implementation"] == "sdpa"
        assert p.group == ("medical_lt10b" if size in ("4B", "7B") else "medical_gt10b")
    expected = {
        "Qwen2.5-VL-7B-Instruct": "Qwen/Qwen2.5-VL-7B-Instruct",
        "Qwen2.5-VL-32B-Instruct": "Qwen/Qwen2.5-VL-32B-Instruct",
        "InternVL3-8B": "OpenGVLab/InternVL3-8B-hf",
        "MedGemma-4B": "google/medgemma-4b-it",
        "Lingshu-7B": "lingshu-medical-mllm/Lingshu-7B",
        "Lingshu-32B": "lingshu-medical-mllm/Lingshu-32B",
    }
    for name, hub_id in expected.items():
        p = presets[name]
        assert (p.model, p.backend, p.adapter, p.trust_remote_code) == (hub_id, "hf", "vlm", False)
        # the leaderboard's row-group ids (medunieval/reference/table*.yaml)
        assert p.group in ("general_lt10b", "general_gt10b", "medical_lt10b", "medical_gt10b")
