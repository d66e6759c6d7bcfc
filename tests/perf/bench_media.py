"""Volume- and video-to-request throughput (not a test).

    python tests/perf/bench_media.py [--volumes 64] [--clips 32] [--slices 32] [--fps 1]
                                     [--baseline DIR]

Generates synthetic data into a temp dir (timed separately): ``--volumes`` CT volumes of
512x512x160 int16 voxels as ``.nii.gz`` (a piecewise-constant phantom, so it compresses; each
volume differs) and ``--clips`` one-minute 1280x720 25-fps H.264 clips (one clip encoded, then
copied). Each stage is then measured in a fresh subprocess, so its peak RSS is its own:

- ``request``: ``media_part`` per item, what ``build_request`` does (source digest + one decode
  to reject corrupt files), on 1 thread and on the engine's ``MEDIA_WORKERS`` threads;
- ``request+frames``: that plus ``part.frames()``, the decode a backend does before generation.

Figures: items/s and peak RSS (``resource.getrusage``, the process's high-water mark).
``--baseline DIR`` (another medunieval source tree, e.g. ``git archive main | tar -x -C DIR``)
measures every stage with that tree too, on the same data, and prints its figures alongside.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from medunieval.data.parts import MEDIA_WORKERS  # noqa: E402


def phantom(depth: int = 160, size: int = 512, seed: int = 0):
    """A CT-like int16 phantom in HU: air, body, two lungs, a spine, a seeded lesion."""
    import numpy as np

    yy, xx = np.mgrid[:size, :size]
    c = size / 2
    body = ((xx - c) / (0.45 * size)) ** 2 + ((yy - c) / (0.35 * size)) ** 2 < 1
    lung_l = ((xx - 0.35 * size) / (0.1 * size)) ** 2 + ((yy - c) / (0.2 * size)) ** 2 < 1
    lung_r = ((xx - 0.65 * size) / (0.1 * size)) ** 2 + ((yy - c) / (0.2 * size)) ** 2 < 1
    spine = (xx - c) ** 2 + (yy - 0.75 * size) ** 2 < (0.05 * size) ** 2
    sl = np.full((size, size), -1000, np.int16)
    sl[body] = 40
    sl[lung_l | lung_r] = -850
    sl[spine] = 700
    vol = np.repeat(sl[:, :, None], depth, axis=2)
    z0 = (seed * 7) % (depth - 20)
    x0 = 100 + (seed * 13) % 200
    vol[x0 : x0 + 30, 220:250, z0 : z0 + 20] = 60 + seed
    return vol


def generate(tmp: Path, volumes: int, clips: int) -> dict[str, float]:
    import av
    import nibabel as nib
    import numpy as np

    t0 = time.perf_counter()
    (tmp / "vol").mkdir()
    for i in range(volumes):
        nib.save(
            nib.Nifti1Image(phantom(seed=i), np.eye(4)), str(tmp / "vol" / f"ct{i:03d}.nii.gz")
        )
    t1 = time.perf_counter()
    (tmp / "vid").mkdir()
    if clips:
        first = tmp / "vid" / "clip000.mp4"
        with av.open(str(first), "w") as out:
            stream = out.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
            stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
            xs = np.arange(1280, dtype=np.int32)[None, :, None]
            for i in range(60 * 25):
                img = np.broadcast_to(((xs + 4 * i) % 256).astype(np.uint8), (720, 1280, 3))
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img))):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        for i in range(1, clips):
            shutil.copy(first, tmp / "vid" / f"clip{i:03d}.mp4")
    t2 = time.perf_counter()
    size = sum(p.stat().st_size for p in (tmp / "vol").iterdir())
    return {"volume_gen_s": t1 - t0, "video_gen_s": t2 - t1, "volume_bytes_on_disk": size}


def measure(
    kind: str, folder: Path, frames: bool, workers: int, slices: int, fps: float
) -> dict[str, float]:
    from medunieval.data.parts import MediaSpecs, build_all, media_part, path_ref
    from medunieval.data.video import VideoSpec
    from medunieval.data.volume import VolumeSpec

    specs = MediaSpecs(
        volume=VolumeSpec(sampling="uniform", num_slices=slices, window="ct_soft_tissue"),
        video=VideoSpec(fps=fps, max_frames=1800),
    )
    items = sorted(p.name for p in folder.iterdir())
    n_frames = 0
    t0 = time.perf_counter()

    def build(name: str):
        return media_part(path_ref(kind, folder, name), specs)

    for _, part in build_all(build, items, workers):
        if not hasattr(part, "frames"):
            raise part
        if frames:
            n_frames += len(part.frames())
    elapsed = time.perf_counter() - t0
    return {
        "items": len(items),
        "seconds": elapsed,
        "items_per_s": len(items) / elapsed,
        "frames_per_item": n_frames / len(items) if frames else None,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--volumes", type=int, default=64)
    ap.add_argument("--clips", type=int, default=32)
    ap.add_argument("--slices", type=int, default=32)
    ap.add_argument("--fps", type=float, default=1.0)
    ap.add_argument("--baseline", type=Path, help="Another source tree to measure alongside.")
    ap.add_argument("--measure", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        kind, folder, frames, workers = args.measure
        result = measure(kind, Path(folder), frames == "1", int(workers), args.slices, args.fps)
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        gen = generate(tmp, args.volumes, args.clips)
        print(
            f"generated {args.volumes} volumes in {gen['volume_gen_s']:.1f}s "
            f"({gen['volume_bytes_on_disk'] / 2**20:.0f} MiB on disk), "
            f"{args.clips} clips in {gen['video_gen_s']:.1f}s"
        )
        trees = [("this tree", ROOT)]
        if args.baseline is not None:
            trees.append((f"baseline {args.baseline}", args.baseline.resolve()))
        head = f"{'stage (threads)':<28}{'items':>6}{'items/s':>10}{'frames':>8}{'peak RSS MB':>13}"
        print(head + ("   tree" if len(trees) > 1 else ""))
        for kind, sub, n in (("volume", "vol", args.volumes), ("video", "vid", args.clips)):
            if not n:
                continue
            for frames, workers in (("0", 1), ("0", MEDIA_WORKERS), ("1", 1)):
                for tree_label, tree in trees:
                    script = tree / "tests" / "perf" / "bench_media.py"
                    cmd = [sys.executable, str(script), "--slices", str(args.slices)]
                    cmd += ["--fps", str(args.fps)]
                    cmd += ["--measure", kind, str(tmp / sub), frames, str(workers)]
                    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                    r = json.loads(out.stdout)
                    stage = "request+frames" if frames == "1" else "request"
                    label = f"{kind} {stage} ({workers} thr)"
                    fpi = f"{r['frames_per_item']:.0f}" if r["frames_per_item"] else "-"
                    print(
                        f"{label:<28}{r['items']:>6}{r['items_per_s']:>10.2f}{fpi:>8}"
                        f"{r['peak_rss_mb']:>13.0f}"
                        + (f"   {tree_label}" if len(trees) > 1 else ""),
                        flush=True,
                    )


if __name__ == "__main__":
    main()
