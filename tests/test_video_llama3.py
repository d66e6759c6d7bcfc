"""Native VideoLLaMA3 (transformers 5.x ``video_llama_3``, the architecture Hulu-Med derives
from) on a tiny random model built offline: the ``video_llama3`` adapter batches it the Hulu-Med
way (per-request embeddings, one left-padded decode) and must match one request at a time; the
CLI runs it on text, one image, several images, a volume (as frames) and a video."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
if not hasattr(transformers, "VideoLlama3Config"):
    pytest.skip("native VideoLLaMA3 needs transformers >= 5", allow_module_level=True)

from media_synth import build_media_root  # noqa: E402
from request_helpers import image_part, one_turn  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from medunieval.backends.hf import HFBackend, detect_adapter  # noqa: E402
from medunieval.cli import app  # noqa: E402
from medunieval.data.parts import MediaSpecs, media_part, path_ref  # noqa: E402
from medunieval.data.volume import VolumeSpec  # noqa: E402
from medunieval.presets import ModelPreset, builtin_presets  # noqa: E402
from medunieval.tiny_video_llama3 import build_tiny_video_llama3  # noqa: E402
from medunieval.types import (  # noqa: E402
    GenParams,
    Request,
    TextPart,
)

PARAMS = GenParams(max_new_tokens=8)
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_video_llama3(tmp_path_factory.mktemp("tiny_video_llama3"))


@pytest.fixture(scope="module")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_media_root(tmp_path_factory.mktemp("vl3_media"))


def request(sid: str, *parts) -> Request:
    return one_turn(sid, PARAMS, *parts)


def test_detection_and_preset(tiny: Path) -> None:
    config = transformers.AutoConfig.from_pretrained(tiny)
    assert detect_adapter(config) == "video_llama3"
    p = builtin_presets()["VideoLLaMA3-2B-Image-HF"]
    assert (p.backend, p.adapter, p.trust_remote_code) == ("hf", "video_llama3", False)


def test_batched_equals_one_by_one(tiny: Path, media_root: Path, tmp_path: Path) -> None:
    imgs = [image_part(tmp_path, f"v{k}", (42 + 14 * (k % 2), 56), k) for k in range(4)]
    specs = MediaSpecs(volume=VolumeSpec(sampling="uniform", num_slices=3))
    volume = media_part(path_ref("volume", media_root / "rad3d", "valid_1_a_1.nii.gz"), specs)
    reqs = [
        request("text", TextPart("What is the normal adult heart rate?")),
        request("one", imgs[0], TextPart("Which organ is shown?")),
        request("two", imgs[1], imgs[2], TextPart("Compare the images.")),
        request("vol", volume, TextPart("Describe the scan.")),
        request("one_b", imgs[3], TextPart("Fracture?")),
        request("text2", TextPart("Name a beta blocker.")),
    ]
    preset = ModelPreset(name="vl3", model=str(tiny))
    one = HFBackend.from_preset(preset, batch_size=1, device="cpu")
    many = HFBackend.from_preset(preset, batch_size=8, device="cpu")
    try:
        assert many.adapter.name == "video_llama3"
        alone = {r.sample_id: x for r, x in one.generate(reqs)}
        batched = {r.sample_id: x for r, x in many.generate(reqs)}
    finally:
        one.close()
        many.close()
    for sid, resp in alone.items():
        assert resp.error is None and resp.completion_tokens > 0, (sid, resp.error)
        got = batched[sid]
        assert (got.text, got.completion_tokens, got.prompt_tokens) == (
            resp.text,
            resp.completion_tokens,
            resp.prompt_tokens,
        ), sid
    assert alone["one"].text != alone["one_b"].text  # the image reaches the model


def _multi_image_root(root: Path) -> Path:
    from medunieval.demo import synth_image

    mm = root / "medxpertqa_mm"
    (mm / "images").mkdir(parents=True)
    src = FIXTURES / "medxpertqa_mm_test_handwritten.jsonl"
    shutil.copy(src, mm / "test.jsonl")
    for k, line in enumerate(src.read_text("utf-8").splitlines()):
        for name in json.loads(line)["images"]:
            synth_image(mm / "images" / name, seed=k)
    return mm


@pytest.mark.parametrize(
    "bench,modality",
    [
        ("medqa", "text"),
        ("vqa_rad", "one image"),
        ("medxpertqa_mm", "several images"),
        ("rad3d", "volume"),
        ("psi_ava_vqa", "video"),
    ],
)
def test_cli_end_to_end(
    tiny: Path, data_root: Path, media_root: Path, tmp_path: Path, bench: str, modality: str
) -> None:
    from medunieval.benchmarks import BENCHMARKS

    if bench not in BENCHMARKS.names():
        BENCHMARKS.register(bench, f"medunieval.benchmarks.{bench}:BENCHMARK")
    data = {
        "medqa": data_root / "medqa",
        "vqa_rad": data_root / "vqa_rad",
        "medxpertqa_mm": None,
        "rad3d": media_root / "rad3d",
        "psi_ava_vqa": media_root / "psi_ava_vqa",
    }[bench] or _multi_image_root(tmp_path)
    args = [
        "run",
        "--model",
        str(tiny),
        "--bench",
        bench,
        "--data-dir",
        str(data),
        "--output",
        str(tmp_path / "runs"),
        "--run-id",
        "r",
        "--device",
        "cpu",
        "--max-new-tokens",
        "4",
        "--no-cache",
        "--limit",
        "2",
    ]
    res = CliRunner().invoke(app, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    recs = [
        json.loads(x)
        for x in (tmp_path / "runs" / "r" / bench / "records.jsonl").read_text().splitlines()
    ]
    ok = [r for r in recs if r["response"] and not r["response"].get("error")]
    assert ok, (modality, [r["error"] or r["response"] for r in recs])
    assert all(r["response"]["completion_tokens"] > 0 for r in ok)
