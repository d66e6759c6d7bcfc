"""Synthetic volumes, slice folders and videos for the media tests, and the media benchmarks'
data folders built from the real-schema fixture rows in ``fixtures/media``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

FIX = Path(__file__).parent / "fixtures" / "media"


def volume_array(shape: tuple[int, int, int] = (32, 32, 12), seed: int = 0) -> np.ndarray:
    """An int16 CT-like volume: slice ``k`` of the last axis holds HU ``-1000 + 100 * k`` plus a
    small seeded texture, so a slice's identity is readable from its values."""
    rng = np.random.default_rng(seed)
    base = (-1000 + 100 * np.arange(shape[2], dtype=np.int32))[None, None, :]
    noise = rng.integers(0, 5, size=shape, dtype=np.int32)
    return (base + noise).astype(np.int16)


def make_nifti(path: Path, shape: tuple[int, int, int] = (32, 32, 12), seed: int = 0) -> Path:
    import nibabel as nib

    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(volume_array(shape, seed), np.eye(4)), str(path))
    return path


def make_npy(path: Path, depth: int = 8, size: int = 32, seed: int = 0) -> Path:
    """M3D's layout: float32 in [0, 1], shape (1, D, H, W); slice k has mean about k / D."""
    rng = np.random.default_rng(seed)
    arr = np.arange(depth, dtype=np.float32)[:, None, None] / depth
    arr = arr + rng.random((depth, size, size), dtype=np.float32) * 0.01
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, arr[None])
    return path


def make_slice_folder(path: Path, n: int = 10, size: int = 24) -> Path:
    """PNG slices named ``1.png .. n.png`` (natural order); slice k has grey level 10 * k."""
    from PIL import Image

    path.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        Image.new("L", (size, size), color=10 * k).save(path / f"{k + 1}.png")
    return path


def make_mp4(path: Path, seconds: float = 3.0, fps: int = 10, size: tuple[int, int] = (64, 48)):
    """An H.264 clip whose frame ``i`` is a flat grey of level ``(7 * i) % 256``."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(int(seconds * fps)):
            img = np.full((size[1], size[0], 3), (7 * i) % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def truncate(src: Path, dst: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def build_media_root(root: Path) -> Path:
    """``root/<bench>/`` for every media benchmark, with synthetic volumes and videos."""
    from medunieval.demo import synth_image

    m3d = root / "m3d_vqa"
    m3d.mkdir(parents=True)
    shutil.copy(FIX / "M3D_VQA_test_handwritten.csv", m3d / "M3D_VQA_test.csv")
    make_npy(m3d / "ct_case/000001/Axial_C__portal_venous_phase.npy", seed=1)
    make_npy(m3d / "ct_case/000002/Axial_non_contrast.npy", seed=2)

    m3d_json = root / "m3d_vqa_json"
    m3d_json.mkdir()
    shutil.copy(FIX / "M3D_test_handwritten.json", m3d_json / "M3D_test.json")
    make_slice_folder(m3d_json / "slices/case_0", 12)
    make_slice_folder(m3d_json / "slices/case_1", 4)

    rad = root / "rad3d"
    shutil.copytree(FIX / "rad3d", rad)
    make_nifti(rad / "valid_1_a_1.nii.gz", seed=1)
    make_nifti(rad / "valid_2_a_1.nii.gz", seed=2)

    cap = root / "m3d_cap"
    cap.mkdir()
    shutil.copy(FIX / "M3D_Cap_handwritten.json", cap / "M3D_Cap.json")
    make_npy(cap / "ct_case/000001/Axial_C__portal_venous_phase.npy", seed=1)
    make_npy(cap / "ct_case/000002/Axial_non_contrast.npy", seed=2)
    (cap / "ct_case/000001/text.txt").write_text("Hypodense lesion in the liver.\n")

    amos = root / "amos_mm"
    amos.mkdir()
    shutil.copy(FIX / "amos_val_handwritten.json", amos / "amos_val.json")
    make_slice_folder(amos / "slices/case_0", 6)

    ct = root / "ct_rate_report"
    ct.mkdir()
    shutil.copy(FIX / "ct_rate_validation_reports_handwritten.csv", ct / "validation_reports.csv")
    make_nifti(ct / "valid/valid_1/valid_1_a/valid_1_a_1.nii.gz", seed=3)
    make_nifti(ct / "valid_2_a_1.nii.gz", seed=4)

    endo = root / "endovis18_vqa"
    shutil.copytree(FIX / "endovis18", endo)
    for seq, frames in (("seq_1", ("frame000", "frame001")), ("seq_2", ("frame000",))):
        for i, frame in enumerate(frames):
            synth_image(endo / seq / "left_frames" / f"{frame}.png", seed=i)

    cholec = root / "cholec80_vqa"
    shutil.copytree(FIX / "cholec80", cholec)
    synth_image(cholec / "frames/5/100.png", seed=5)
    synth_image(cholec / "frames/5/101.png", seed=6)

    psi = root / "psi_ava_vqa"
    psi.mkdir()
    shutil.copy(FIX / "psi_ava_vqa_handwritten.jsonl", psi / "test.jsonl")
    clip = make_mp4(psi / "clips/case1_0.mp4", seconds=3.0)
    make_slice_folder(psi / "clips/case1_frames", 5)
    truncate(clip, psi / "clips/truncated.mp4", 0.3)
    return root
