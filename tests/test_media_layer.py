"""The 3D volume and video media layer: sampling indices, windowing, readers, digests, corrupt
files (synthetic NIfTI / npy / slice folders / MP4 generated here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from media_synth import make_mp4, make_nifti, make_npy, make_slice_folder, truncate

from medunieval.benchmarks import BENCHMARKS
from medunieval.data import video, volume
from medunieval.data.parts import MediaSpecs, media_part, media_specs, path_ref
from medunieval.data.video import VideoSpec
from medunieval.data.volume import VolumeSpec, sample_indices, uniform_indices, window_to_uint8
from medunieval.errors import ConfigError, SampleError
from medunieval.types import GenParams, Message, Request, TextPart, VideoPart, VolumePart


# ------------------------------------------------------------------------------- sampling
def test_uniform_indices_exact() -> None:
    assert uniform_indices(12, 5) == [0, 3, 6, 8, 11]
    assert uniform_indices(100, 4) == [0, 33, 66, 99]
    assert uniform_indices(160, 32)[:4] == [0, 5, 10, 15] and uniform_indices(160, 32)[-1] == 159
    assert uniform_indices(3, 5) == [0, 1, 1, 2, 2]  # repeats when fewer slices than wanted
    assert uniform_indices(9, 1) == [4]
    assert uniform_indices(0, 4) == []


def test_sample_indices_rules() -> None:
    assert sample_indices(5, VolumeSpec(sampling="all", num_slices=2)) == [0, 1, 2, 3, 4]
    assert sample_indices(3, VolumeSpec(sampling="max", num_slices=5)) == [0, 1, 2]
    assert sample_indices(12, VolumeSpec(sampling="max", num_slices=5)) == [0, 3, 6, 8, 11]
    assert sample_indices(3, VolumeSpec(sampling="uniform", num_slices=5)) == [0, 1, 1, 2, 2]
    spec = VolumeSpec(sampling="max", num_slices=5, order="descending")
    assert sample_indices(12, spec) == [11, 8, 6, 3, 0]


def test_spec_validation_and_override() -> None:
    with pytest.raises(ConfigError, match="axis"):
        VolumeSpec(axis="oblique")
    with pytest.raises(ConfigError, match="window"):
        VolumeSpec(window="liver")
    with pytest.raises(ConfigError, match="num_slices"):
        VolumeSpec(num_slices=0)
    with pytest.raises(ConfigError, match="resize"):
        VolumeSpec(resize="fit:big")
    with pytest.raises(ConfigError, match="max_frames"):
        VideoSpec(max_frames=0)
    with pytest.raises(ConfigError, match=r"unknown volume option\(s\) \['slices'\]"):
        VolumeSpec().override({"slices": 3})
    assert VolumeSpec().override({"num_slices": 7}).num_slices == 7
    bench = BENCHMARKS.get("rad3d")
    specs = media_specs(bench, {"volume": {"axis": "coronal"}, "video": {"fps": 2}})
    assert specs.volume.axis == "coronal" and specs.volume.num_slices == 1800
    assert specs.video.fps == 2


# ------------------------------------------------------------------------------ windowing
def test_windowing_exact() -> None:
    hu = np.array([-1000, -160, 40, 240, 1000], dtype=np.float32)
    assert window_to_uint8(hu, "ct_soft_tissue").tolist() == [0, 0, 128, 255, 255]
    assert window_to_uint8(hu, "ct_lung").tolist() == [60, 202, 236, 255, 255]  # L-600 W1500
    assert window_to_uint8(np.array([2.0, 4.0, 6.0]), "minmax").tolist() == [0, 128, 255]
    assert window_to_uint8(np.array([-5.0, 12.4, 300.0]), "none").tolist() == [0, 12, 255]
    assert window_to_uint8(np.array([3.0, 3.0]), "minmax").tolist() == [0, 0]


def test_resize_policies(tmp_path: Path) -> None:
    path = make_nifti(tmp_path / "v.nii.gz", shape=(32, 16, 6))
    fit = volume.load_frames(path, VolumeSpec(sampling="all", resize="fit:8"))
    assert fit[0].size == (8, 4)  # axial slice: x (32) across, y (16) down after rot90
    sq = volume.load_frames(path, VolumeSpec(sampling="all", resize="square:10"))
    assert [im.size for im in sq] == [(10, 10)] * 6 and sq[0].mode == "RGB"


# -------------------------------------------------------------------------------- readers
def _slice_ids(slices: list[np.ndarray]) -> list[int]:
    """Slice identities of ``volume_array`` volumes (HU -1000 + 100 k, noise 0-4)."""
    return [int(round((float(s.mean()) - 2 + 1000) / 100)) for s in slices]


def test_nifti_axes_and_indices(tmp_path: Path) -> None:
    path = make_nifti(tmp_path / "ct.nii.gz", shape=(32, 20, 12))
    spec = VolumeSpec(sampling="uniform", num_slices=5)
    slices, idx = volume.read_slices(path, spec)
    assert idx == [0, 3, 6, 8, 11] and _slice_ids(slices) == idx
    assert slices[0].shape == (20, 32)
    desc, _ = volume.read_slices(path, VolumeSpec(sampling="max", num_slices=3, order="descending"))
    assert _slice_ids(desc) == [11, 6, 0]
    cor, idx = volume.read_slices(path, VolumeSpec(axis="coronal", sampling="all"))
    assert len(cor) == 20 and idx == list(range(20)) and cor[0].shape == (12, 32)
    sag, _ = volume.read_slices(path, VolumeSpec(axis="sagittal", sampling="max", num_slices=4))
    assert len(sag) == 4 and sag[0].shape == (12, 20)


def test_npy_m3d_layout(tmp_path: Path) -> None:
    path = make_npy(tmp_path / "Axial.npy", depth=8)
    slices, idx = volume.read_slices(path, VolumeSpec(sampling="uniform", num_slices=3))
    assert idx == [0, 4, 7]
    assert [round(float(s.mean()) * 8) for s in slices] == idx
    frames = volume.load_frames(path, VolumeSpec(sampling="all"))
    levels = [int(np.asarray(f)[..., 0].mean()) for f in frames]
    assert levels[0] < 3 and levels[-1] > 250 and levels == sorted(levels)  # min-max over stack


def test_slice_folder_natural_order_and_window_auto(tmp_path: Path) -> None:
    folder = make_slice_folder(tmp_path / "case", n=12)
    frames = volume.load_frames(folder, VolumeSpec(sampling="all"))
    assert [int(np.asarray(f)[0, 0, 0]) for f in frames] == [10 * k for k in range(12)]
    frames = volume.load_frames(folder, VolumeSpec(sampling="max", num_slices=4))
    assert [int(np.asarray(f)[0, 0, 0]) for f in frames] == [0, 40, 70, 110]
    with pytest.raises(SampleError, match="axial"):
        volume.load_frames(folder, VolumeSpec(axis="coronal"))


def test_corrupt_and_missing_volumes(tmp_path: Path) -> None:
    good = make_nifti(tmp_path / "good.nii.gz", shape=(64, 64, 24))
    cases = {
        "truncated.nii.gz": truncate(good, tmp_path / "truncated.nii.gz", 0.5),
        "header_only.nii.gz": truncate(good, tmp_path / "header_only.nii.gz", 0.02),
        "garbage.npy": tmp_path / "garbage.npy",
        "empty": tmp_path / "empty",
    }
    cases["garbage.npy"].write_bytes(b"\x93NUMPY not really")
    cases["empty"].mkdir()
    for name, path in cases.items():
        with pytest.raises(SampleError) as exc:
            volume.load_frames(path, VolumeSpec())
        assert exc.value.kind == "corrupt_media", name
        assert str(path) in exc.value.reason
    with pytest.raises(SampleError) as exc:
        volume.load_frames(tmp_path / "nope.nii.gz", VolumeSpec())
    assert exc.value.kind == "missing_media"
    flat = tmp_path / "flat.npy"
    np.save(flat, np.zeros((4, 4), np.float32))
    with pytest.raises(SampleError, match=r"expected \(D,H,W\)"):
        volume.load_frames(flat, VolumeSpec())


# ---------------------------------------------------------------------------------- video
def test_sample_times_exact() -> None:
    assert video.sample_times(3.5, VideoSpec(fps=1)) == [0.0, 1.0, 2.0, 3.0]
    assert video.sample_times(3.0, VideoSpec(fps=1)) == [0.0, 1.0, 2.0]
    got = video.sample_times(3.5, VideoSpec(fps=4, max_frames=5))
    assert got == pytest.approx([0.35, 1.05, 1.75, 2.45, 3.15])
    assert video.sample_times(0, VideoSpec()) == [0.0]
    assert video.pick_frames([0.0, 0.5, 1.0, 1.5], [0.0, 0.7, 1.5, 9.0]) == [0, 2, 3, 3]


def test_mp4_frames_and_timestamps(tmp_path: Path) -> None:
    clip = make_mp4(tmp_path / "c.mp4", seconds=3.0, fps=10)
    frames, stamps = video.load_frames(clip, VideoSpec(fps=1))
    assert stamps == [0.0, 1.0, 2.0] and frames[0].size == (64, 48)
    levels = [int(np.asarray(f)[..., 0].mean()) for f in frames]
    assert levels == pytest.approx([0, 70, 140], abs=4)  # frame i is grey 7 * i
    frames, stamps = video.load_frames(clip, VideoSpec(fps=10, max_frames=4, resize="fit:32"))
    assert stamps == pytest.approx([0.4, 1.2, 1.9, 2.7]) and frames[0].size == (32, 24)


def test_frame_folder_video(tmp_path: Path) -> None:
    folder = make_slice_folder(tmp_path / "frames", n=5)
    frames, stamps = video.load_frames(folder, VideoSpec(fps=1, folder_fps=2))
    assert stamps == [0.0, 1.0, 2.0]
    assert [int(np.asarray(f)[0, 0, 0]) for f in frames] == [0, 20, 40]


def test_corrupt_and_unsupported_videos(tmp_path: Path) -> None:
    clip = make_mp4(tmp_path / "c.mp4", seconds=2.0)
    for frac in (0.3, 0.9):
        bad = truncate(clip, tmp_path / f"t{frac}.mp4", frac)
        with pytest.raises(SampleError) as exc:
            video.load_frames(bad, VideoSpec())
        assert exc.value.kind == "corrupt_media" and "t0" in exc.value.reason
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(SampleError, match="unsupported_media|not a video"):
        video.load_frames(tmp_path / "x.txt", VideoSpec())
    with pytest.raises(SampleError) as exc:
        video.load_frames(tmp_path / "gone.mp4", VideoSpec())
    assert exc.value.kind == "missing_media"


# ---------------------------------------------------------------------------- parts / keys
def test_parts_digest_covers_source_and_spec(tmp_path: Path) -> None:
    make_nifti(tmp_path / "a.nii.gz", seed=1)
    make_nifti(tmp_path / "b.nii.gz", seed=2)
    make_mp4(tmp_path / "c.mp4", seconds=2.0)
    a = path_ref("volume", tmp_path, "a.nii.gz")
    p1 = media_part(a, MediaSpecs(volume=VolumeSpec(num_slices=4)))
    p2 = media_part(a, MediaSpecs(volume=VolumeSpec(num_slices=4)))
    p3 = media_part(a, MediaSpecs(volume=VolumeSpec(num_slices=5)))
    p4 = media_part(path_ref("volume", tmp_path, "b.nii.gz"), MediaSpecs())
    assert isinstance(p1, VolumePart) and p1.type == "volume"
    assert p1.digest == p2.digest and len({p1.digest, p3.digest, p4.digest}) == 3
    assert len(p1.frames()) == 4 and p1.frames() is not p1.frames()  # decoded on each call
    v = media_part(path_ref("video", tmp_path, "c.mp4"), MediaSpecs())
    assert isinstance(v, VideoPart) and v.timestamps() == [0.0, 1.0]
    req = Request("s", "b", (Message("user", (p1, v, TextPart("q"))),), GenParams())
    req3 = Request("s", "b", (Message("user", (p3, v, TextPart("q"))),), GenParams())
    assert req.images() == [] and req.media() == [p1, v]
    assert req.key("m") != req3.key("m")
    with pytest.raises(SampleError, match="unsafe_path|leaves"):
        path_ref("volume", tmp_path, "../outside.nii.gz")


def test_media_part_rejects_corrupt_volume_before_any_backend(tmp_path: Path) -> None:
    good = make_nifti(tmp_path / "g.nii.gz", shape=(48, 48, 16))
    truncate(good, tmp_path / "bad.nii.gz", 0.6)
    with pytest.raises(SampleError) as exc:
        media_part(path_ref("volume", tmp_path, "bad.nii.gz"), MediaSpecs())
    assert exc.value.kind == "corrupt_media"


def test_missing_decoder_is_a_config_error(tmp_path: Path, monkeypatch) -> None:
    import sys

    path = make_nifti(tmp_path / "v.nii.gz")
    clip = make_mp4(tmp_path / "c.mp4", seconds=1.0)
    monkeypatch.setitem(sys.modules, "nibabel", None)
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(ConfigError, match=r"needs nibabel: pip install 'medunieval\[media\]'"):
        volume.load_frames(path, VolumeSpec())
    with pytest.raises(ConfigError, match="needs av"):
        video.load_frames(clip, VideoSpec())
