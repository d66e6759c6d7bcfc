"""Conformance of every transformers-native architecture the paper's presets use.

For each architecture (Qwen2.5-VL, InternVL ``-hf``, Gemma 3, Llama 3.2 Vision, Janus) a tiny
random model of that exact model class is built offline with its own processor class
(``medunieval.tiny_vlms``), then loaded the way its shipped preset loads a checkpoint (the
preset with ``model`` pointing at the folder: same backend, adapter and options; float32
because greedy comparisons on CPU need exact arithmetic). Checked: a batch of mixed requests
(text only, one image, two images, different sizes and prompt lengths) gives exactly the
greedy outputs of one-by-one generation, and different images give different answers.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from PIL import Image  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from medunieval.backends.hf import HFBackend  # noqa: E402
from medunieval.model_routes import HF_NATIVE, NATIVE_BUILDERS, native_builder, route  # noqa: E402
from medunieval.presets import ModelPreset, builtin_presets  # noqa: E402
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

PARAMS = GenParams(max_new_tokens=8)


def native_presets() -> dict[str, list[ModelPreset]]:
    """architecture -> the shipped presets that load a checkpoint of it natively."""
    out: dict[str, list[ModelPreset]] = {}
    for preset in builtin_presets().values():
        if route(preset) == HF_NATIVE:
            out.setdefault(str(preset.architecture), []).append(preset)
    return out


def test_every_native_preset_has_a_tiny_model_of_its_architecture() -> None:
    presets = native_presets()
    assert set(presets) == set(NATIVE_BUILDERS), "a native preset without a conformance model"
    assert sum(len(v) for v in presets.values()) >= 10  # Qwen2.5-VL, Lingshu, InternVL3, ...
    for arch, group in presets.items():
        assert callable(native_builder(arch))
        # one preset per architecture is loaded below: the others must load the same way
        ways = {(p.backend, p.adapter, p.trust_remote_code, repr(p.options)) for p in group}
        assert len(ways) == 1, (arch, ways)


def _image(folder: Path, name: str, size: tuple[int, int], seed: int) -> ImagePart:
    path = folder / f"{name}.png"
    img = Image.new("RGB", size, (seed * 53 % 256, seed * 101 % 256, seed * 29 % 256))
    for x in range(0, size[0], 3):  # structure beyond the colour
        img.putpixel((x, (x * (seed + 1)) % size[1]), (255, 255, 255))
    img.save(path)
    data = path.read_bytes()
    return ImagePart(ref=MediaRef(kind="image", source=str(path), opener=path.read_bytes),
                     digest=sha256_hex(data))  # fmt: skip


def _request(sid: str, *parts: object) -> Request:
    return Request(
        sample_id=sid, benchmark="conformance", messages=(Message("user", parts),), params=PARAMS
    )


def _same(a: Response, b: Response) -> bool:
    keys = ("text", "error", "finish_reason", "prompt_tokens", "completion_tokens")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def _generate(backend: HFBackend, reqs: list[Request], batch_size: int) -> dict[str, Response]:
    saved, backend.batch_size = backend.batch_size, batch_size
    try:
        out = {req.sample_id: resp for req, resp in backend.generate(reqs)}
    finally:
        backend.batch_size = saved
    assert len(out) == len(reqs)
    return out


@pytest.fixture(scope="module", params=sorted(NATIVE_BUILDERS))
def family(request, tmp_path_factory):
    """(architecture, preset used, folder, backend) for one native architecture."""
    arch = request.param
    if not hasattr(transformers, arch):
        pytest.skip(f"transformers {transformers.__version__} has no {arch}")
    folder = native_builder(arch)(tmp_path_factory.mktemp(arch) / "model")
    preset = sorted(native_presets()[arch], key=lambda p: p.name)[0]
    local = dataclasses.replace(
        preset, model=str(folder), revision=None, dtype="float32", source="conformance"
    )
    backend = HFBackend.from_preset(local, batch_size=8, device="cpu")
    yield arch, preset, folder, backend
    backend.close()


def test_loads_the_exact_architecture_through_the_preset(family) -> None:
    arch, preset, folder, backend = family
    config = json.loads((folder / "config.json").read_text())
    # (transformers 4.57 leaves `architectures` out of a saved Qwen2.5-VL config)
    assert config.get("architectures", [arch]) == [arch]
    assert type(backend.adapter.model).__name__ == arch == preset.architecture
    assert backend.adapter.name == preset.adapter
    assert {"text", "image"} <= backend.modalities


def test_mixed_batch_equals_one_by_one(family, tmp_path: Path) -> None:
    _, _, _, backend = family
    reqs = [
        _request("text", TextPart("What is the most common cause of a cough? Answer briefly.")),
        _request("one", _image(tmp_path, "a", (40, 40), 1), TextPart("What does this show?")),
        _request(
            "two",
            _image(tmp_path, "b", (64, 30), 2),
            _image(tmp_path, "c", (30, 50), 3),
            TextPart("Compare the two images."),
        ),
        _request("long", _image(tmp_path, "d", (56, 56), 4), TextPart("Describe it. " * 6)),
        _request("short", TextPart("Hi")),
    ]
    batched = _generate(backend, reqs, 8)
    single = _generate(backend, reqs, 1)
    for sid, resp in batched.items():
        assert resp.error is None, (sid, resp.error)
        assert resp.completion_tokens and 1 <= resp.completion_tokens <= PARAMS.max_new_tokens
        assert _same(resp, single[sid]), (sid, resp, single[sid])
    assert len({r.prompt_tokens for r in batched.values()}) == len(reqs)  # padding was needed
    assert batched["two"].prompt_tokens > batched["one"].prompt_tokens  # both images counted


def test_different_images_give_different_answers(family, tmp_path: Path) -> None:
    _, _, _, backend = family
    question = TextPart("What is in this image?")
    reqs = [
        _request(f"img{i}", _image(tmp_path, f"v{i}", size, seed), question)
        for i, (size, seed) in enumerate((((48, 48), 5), ((48, 48), 11), ((60, 36), 23)))
    ]
    out = _generate(backend, reqs, 8)
    texts = [out[r.sample_id].text for r in reqs]
    assert all(t is not None for t in texts), [out[r.sample_id].error for r in reqs]
    assert len(set(texts)) == len(texts), texts


CLI_IN_DEFAULT_SUITE = "Qwen2_5_VLForConditionalGeneration"


@pytest.mark.parametrize(
    "arch",
    [
        pytest.param(a, marks=() if a == CLI_IN_DEFAULT_SUITE else pytest.mark.slow)
        for a in sorted(NATIVE_BUILDERS)
    ],
)
def test_preset_yaml_runs_through_the_cli(arch: str, tmp_path: Path, data_root: Path) -> None:
    """``--model preset.yaml`` (the shipped preset pointing at a tiny folder) end to end: one
    architecture in the default suite, the others in the slow stage (deselected, not skipped)."""
    if not hasattr(transformers, arch):
        pytest.skip(f"transformers {transformers.__version__} has no {arch}")
    folder = native_builder(arch)(tmp_path / "model")
    preset = sorted(native_presets()[arch], key=lambda p: p.name)[0]
    _cli_run((arch, preset, folder, None), tmp_path, data_root)


def _cli_run(family, tmp_path: Path, data_root: Path) -> None:
    import yaml

    from medunieval.cli import app

    _, preset, folder, _ = family
    fields = {
        k: v
        for k, v in preset.to_dict().items()
        if k not in ("source",) and v not in (None, "", {})
    }
    fields.update(model=str(folder), dtype="float32")
    path = tmp_path / "preset.yaml"
    path.write_text(yaml.safe_dump(fields))
    args = ["run", "--model", str(path), "--bench", "vqa_rad", "--data-dir", str(data_root),
            "--limit", "3", "--max-new-tokens", "4", "--device", "cpu", "--no-cache",
            "--output", str(tmp_path / "runs"), "--run-id", "r"]  # fmt: skip
    res = CliRunner().invoke(app, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    recs = [
        json.loads(line)
        for line in (tmp_path / "runs" / "r" / "vqa_rad" / "records.jsonl").read_text().split("\n")
        if line
    ]
    assert len(recs) == 3 and all(r["error"] is None for r in recs), recs
    assert all(r["response"]["completion_tokens"] >= 1 for r in recs)
