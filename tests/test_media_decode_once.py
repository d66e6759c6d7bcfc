"""A volume / video is decoded once per sample: the frames ``media_part`` decodes for its
corrupt-file check are the frames the backend gets, within a memory budget."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from media_synth import make_mp4, make_nifti

from medunieval.data import decoded, parts, video, volume


@pytest.fixture()
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"volume": 0, "video": 0}
    real_slices, real_video = volume.read_slices, video.load_frames

    def slices(*a, **k):
        calls["volume"] += 1
        return real_slices(*a, **k)

    def frames(*a, **k):
        calls["video"] += 1
        return real_video(*a, **k)

    monkeypatch.setattr(volume, "read_slices", slices)
    monkeypatch.setattr(video, "load_frames", frames)
    return calls


def test_volume_and_video_decoded_once(tmp_path: Path, counted: dict[str, int]) -> None:
    make_nifti(tmp_path / "ct.nii.gz", seed=3)
    make_mp4(tmp_path / "clip.mp4", seconds=2.0)
    before = decoded.used_bytes()
    vpart = parts.media_part(parts.path_ref("volume", tmp_path, "ct.nii.gz"))
    clip = parts.media_part(parts.path_ref("video", tmp_path, "clip.mp4"))
    first, again = vpart.frames(), vpart.frames()
    assert len(first) == len(again) > 0 and first[0].tobytes() == again[0].tobytes()
    frames, stamps = clip.frames_and_timestamps()
    assert frames and len(stamps) == len(frames) and clip.timestamps() == stamps
    assert counted == {"volume": 1, "video": 1}
    assert decoded.used_bytes() > before
    del vpart, clip, first, again, frames
    gc.collect()
    assert decoded.used_bytes() == before  # released with the parts


def test_past_the_budget_frames_are_decoded_again(
    tmp_path: Path, counted: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDUNIEVAL_DECODED_MB", "0")
    make_nifti(tmp_path / "ct.nii.gz", seed=4)
    part = parts.media_part(parts.path_ref("volume", tmp_path, "ct.nii.gz"))
    assert part.frames() and counted["volume"] == 2
