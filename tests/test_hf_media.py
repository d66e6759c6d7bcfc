"""The hf backend with volumes and videos: the tiny Qwen2-VL on a synthetic NIfTI volume and an
MP4 (frames as images), and Hulu-Med's two media modes with stand-ins for its remote code."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from media_synth import make_mp4, make_nifti, truncate  # noqa: E402

from medunieval.backends.hf import (  # noqa: E402
    ADAPTER_CLASSES,
    HFBackend,
    chat_messages,
    hulumed_native_conversation,
)
from medunieval.data.parts import MediaSpecs, media_part, path_ref  # noqa: E402
from medunieval.data.video import VideoSpec  # noqa: E402
from medunieval.data.volume import VolumeSpec  # noqa: E402
from medunieval.presets import ModelPreset  # noqa: E402
from medunieval.tiny_models import build_tiny_qwen2_vl  # noqa: E402
from medunieval.types import (  # noqa: E402
    GenParams,
    Message,
    Request,
    TextPart,
    VolumePart,
)

PARAMS = GenParams(max_new_tokens=6)
SPECS = MediaSpecs(
    volume=VolumeSpec(sampling="uniform", num_slices=3, resize="square:28"),
    video=VideoSpec(fps=1, max_frames=2, resize="square:28"),
)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hf_media")
    make_nifti(root / "ct.nii.gz", shape=(32, 32, 12))
    clip = make_mp4(root / "clip.mp4", seconds=3.0)
    truncate(clip, root / "broken.mp4", 0.5)
    return root


def req(sid: str, *parts) -> Request:
    return Request(sid, "test", (Message("user", tuple(parts)),), PARAMS)


def test_chat_messages_expand_frames(media: Path) -> None:
    vol = media_part(path_ref("volume", media, "ct.nii.gz"), SPECS)
    msgs = chat_messages(req("a", vol, TextPart("Which organ?")), counts=[3])
    assert [c["type"] for c in msgs[0]["content"]] == ["image"] * 3 + ["text"]


def test_tiny_qwen2_vl_volume_and_video(tmp_path_factory, media: Path) -> None:
    model = build_tiny_qwen2_vl(tmp_path_factory.mktemp("tiny_vl_media"))
    backend = HFBackend.from_preset(ModelPreset(name="tiny", model=str(model)), batch_size=4)
    try:
        vol = media_part(path_ref("volume", media, "ct.nii.gz"), SPECS)
        vid = media_part(path_ref("video", media, "clip.mp4"), SPECS)
        good = media_part(path_ref("video", media, "clip.mp4"), SPECS)
        broken = type(good)(path_ref("video", media, "broken.mp4"), good.digest, good.spec)
        reqs = [
            req("vol", vol, TextPart("Describe the scan.")),
            req("vid", vid, TextPart("What happens in the clip?")),
            req("broken", broken, TextPart("What happens?")),
        ]
        out = {r.sample_id: resp for r, resp in backend.generate(reqs)}
        for sid in ("vol", "vid"):
            assert out[sid].error is None and out[sid].text is not None
        # 3 slices / 2 frames of 28x28 -> 4 visual tokens each (2x2 merge of 14 px patches)
        text_only = {
            r.sample_id: resp
            for r, resp in backend.generate(
                [
                    req("t1", TextPart("Describe the scan.")),
                    req("t2", TextPart("What happens in the clip?")),
                ]
            )
        }
        assert out["vol"].prompt_tokens > text_only["t1"].prompt_tokens
        assert out["vid"].prompt_tokens > text_only["t2"].prompt_tokens
        assert out["broken"].error.startswith("corrupt_media: ")
        # one at a time gives the same tokens as the batch
        alone = {r.sample_id: resp for r, resp in backend.generate([reqs[0]])}
        assert alone["vol"].text == out["vol"].text
    finally:
        backend.close()


def test_hulumed_frames_and_native_modes(tmp_path_factory, media: Path) -> None:
    """Both media modes through the interface-faithful stand-in of Hulu-Med's remote code
    (tests/hulumed_standin.py): ``frames`` sends the sampled frames as MedUniEval sends a slice
    folder; ``native`` sends Hulu-Med's own ``3d`` / ``video`` items, which its processor
    reads itself."""
    import transformers.dynamic_module_utils as dmu
    from hulumed_standin import build_hulumed_standin

    mp = pytest.MonkeyPatch()
    mp.setattr(dmu, "HF_MODULES_CACHE", str(tmp_path_factory.mktemp("hf_modules_media")))
    model_dir = build_hulumed_standin(tmp_path_factory.mktemp("hulu_media"))
    specs = MediaSpecs(volume=VolumeSpec(sampling="uniform", num_slices=7))
    vol = media_part(path_ref("volume", media, "ct.nii.gz"), specs)
    vid = media_part(path_ref("video", media, "clip.mp4"), MediaSpecs())
    reqs = [req("vol", vol, TextPart("Describe.")), req("vid", vid, TextPart("What?"))]

    def backend(mode: str) -> tuple[HFBackend, list[dict]]:
        preset = ModelPreset(
            name="hulu",
            model=str(model_dir),
            adapter="hulumed",
            trust_remote_code=True,
            options={"hulumed_media": mode},
        )
        b = HFBackend.from_preset(preset, batch_size=1, device="cpu")
        calls: list[dict] = []
        real = b.adapter.processor.__call__

        def record(**kwargs):
            calls.append(kwargs)
            return real(**kwargs)

        b.adapter.processor = type(
            "Rec",
            (),
            {"__call__": staticmethod(record), "batch_decode": b.adapter.processor.batch_decode},
        )()
        return b, calls

    try:
        frames, calls = backend("frames")
        out = dict(frames.generate(reqs))
        assert all(r.error is None for r in out.values()), out
        vol_call, vid_call = calls
        assert len(vol_call["images"][0]) == 7  # images=[frames], as MedUniEval sends slices
        assert vol_call["conversation"][0]["content"][0] == {"type": "video", "num_frames": 7}
        kinds = [c["type"] for c in vid_call["conversation"][0]["content"]]
        assert kinds == ["image"] * 3 + ["text"]

        native, calls = backend("native")
        out = dict(native.generate(reqs))
        assert all(r.error is None for r in out.values()), out
        vol_call, vid_call = calls
        assert vol_call["images"] is None
        assert vol_call["conversation"][0]["content"][0] == {
            "type": "3d",
            "3d": {"image_path": str(media / "ct.nii.gz"), "nii_num_slices": 7, "nii_axis": 2},
        }
        assert vid_call["conversation"][0]["content"][0] == {
            "type": "video",
            "video": {"video_path": str(media / "clip.mp4"), "fps": 1.0, "max_frames": 64},
        }
    finally:
        mp.undo()


def test_hulumed_native_refuses_folders(tmp_path: Path) -> None:
    from media_synth import make_slice_folder

    from medunieval.errors import ConfigError, SampleError

    make_slice_folder(tmp_path / "case", 3)
    part = media_part(path_ref("volume", tmp_path, "case"), MediaSpecs())
    assert isinstance(part, VolumePart)
    with pytest.raises(SampleError, match="NIfTI volumes only"):
        hulumed_native_conversation(req("f", part, TextPart("q")))
    adapter = ADAPTER_CLASSES["hulumed"]()
    with pytest.raises(ConfigError, match="hulumed_media"):
        adapter.attach(object(), type("P", (), {"tokenizer": None})(), {"hulumed_media": "x"})
