"""3D volumes: readers, axis, slice sampling, intensity windowing and resizing.

Sources: NIfTI (``.nii``, ``.nii.gz``, via nibabel), NumPy arrays (``.npy``, as M3D ships them)
and folders of slice images (as Hulu-Med's processed M3D / 3D-RAD / AMOS-MM data).

Axes. NIfTI volumes are reoriented to the closest canonical (RAS+) orientation first, so voxel
axis 0 is sagittal, 1 coronal, 2 axial; an axial slice is ``data[:, :, k]`` rotated by 90° so
anterior is at the top. ``.npy`` arrays are ``(D, H, W)`` or ``(1, D, H, W)`` (M3D's layout):
axis 0 is axial, 1 coronal, 2 sagittal. A folder's images are its axial slices, in natural
name order (``2.png`` before ``10.png``); other axes are refused for folders.

Sampling (``sample_indices``) of ``n`` slices with ``num_slices = N``:

- ``all``: ``0 .. n-1``;
- ``uniform``: exactly N indices ``round_half_up(i * (n - 1) / (N - 1))`` for ``i = 0..N-1``
  (first and last slice included; repeats when ``n < N``; ``N == 1`` gives ``n // 2``);
- ``max``: all slices when ``n <= N``, else ``uniform``.

``order`` ``descending`` reverses the sampled list. Windowing maps intensities to 0-255:
a preset (CT Hounsfield ``(width, level)``), ``minmax`` over the sampled slices, ``none``
(values clipped to 0-255; for 8-bit slice images) or ``auto`` (``none`` for slice folders,
``minmax`` for NIfTI / npy). ``resize``: ``none``, ``fit:N`` (longest
side N, aspect kept) or ``square:N``.

Nothing is held between calls: ``load_frames`` reads, samples, converts and releases.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SampleError

AXES = ("axial", "coronal", "sagittal")
SAMPLING = ("all", "uniform", "max")
ORDERS = ("ascending", "descending")
#: CT windows as (width, level) in Hounsfield units
WINDOWS: dict[str, tuple[float, float]] = {
    "ct_soft_tissue": (400.0, 40.0),
    "ct_lung": (1500.0, -600.0),
    "ct_bone": (1800.0, 400.0),
    "ct_brain": (80.0, 40.0),
    "ct_abdomen": (350.0, 50.0),
}
WINDOW_NAMES = ("auto", "minmax", "none", *WINDOWS)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VOLUME_SUFFIXES = (".nii", ".nii.gz", ".npy")
MEDIA_HINT = "pip install 'medunieval[media]'"
_RESIZE = re.compile(r"^(none|fit:(\d+)|square:(\d+))$")


@dataclass(frozen=True)
class VolumeSpec:
    """How a volume becomes a list of 2D frames (recorded in the manifest; part of the digest).

    ``num_slices`` is N for ``uniform`` / ``max`` sampling (ignored by ``all``).
    """

    axis: str = "axial"
    sampling: str = "max"
    num_slices: int = 32
    order: str = "ascending"
    window: str = "auto"
    resize: str = "none"

    def __post_init__(self) -> None:
        checks = (("axis", AXES), ("sampling", SAMPLING), ("order", ORDERS))
        for name, allowed in checks:
            if getattr(self, name) not in allowed:
                raise ConfigError(
                    f"volume option {name}={getattr(self, name)!r}: expected one of {list(allowed)}"
                )
        if self.window not in WINDOW_NAMES:
            raise ConfigError(
                f"volume option window={self.window!r}: expected one of {list(WINDOW_NAMES)}"
            )
        if not isinstance(self.num_slices, int) or self.num_slices < 1:
            raise ConfigError(f"volume option num_slices={self.num_slices!r}: a positive integer")
        if not _RESIZE.match(str(self.resize)):
            raise ConfigError(
                f"volume option resize={self.resize!r}: expected none, fit:N or square:N"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def override(self, options: dict[str, Any] | None) -> VolumeSpec:
        """This spec with ``options`` (e.g. a preset's ``options["volume"]``) applied."""
        return _override(self, options, "volume")


def _override(spec: Any, options: dict[str, Any] | None, what: str) -> Any:
    if not options:
        return spec
    if not isinstance(options, dict):
        raise ConfigError(f"{what} options must be a mapping, got {type(options).__name__}")
    known = {f.name for f in fields(spec)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"unknown {what} option(s) {unknown}; allowed: {sorted(known)}")
    return replace(spec, **options)


# ----------------------------------------------------------------------------------- sampling
def uniform_indices(n: int, count: int) -> list[int]:
    """``count`` indices spread over ``0..n-1``, first and last included (round half up)."""
    if n < 1:
        return []
    if count == 1:
        return [n // 2]
    return [(2 * i * (n - 1) + (count - 1)) // (2 * (count - 1)) for i in range(count)]


def sample_indices(n: int, spec: VolumeSpec) -> list[int]:
    """The slice indices ``spec`` selects from ``n`` slices, in the order they are sent."""
    if spec.sampling == "all" or (spec.sampling == "max" and n <= spec.num_slices):
        idx = list(range(n))
    else:
        idx = uniform_indices(n, spec.num_slices)
    return idx[::-1] if spec.order == "descending" else idx


# ---------------------------------------------------------------------------------- windowing
def window_to_uint8(arr: Any, window: str) -> Any:
    """Map intensities to uint8 0-255 with a named window, ``minmax`` or ``none``."""
    import numpy as np

    a = np.asarray(arr, dtype=np.float32)
    if window == "none":
        return np.clip(a, 0, 255).astype(np.uint8)
    if window == "minmax":
        lo, hi = float(a.min()), float(a.max())
    else:
        width, level = WINDOWS[window]
        lo, hi = level - width / 2, level + width / 2
    if hi <= lo:
        return np.zeros(a.shape, dtype=np.uint8)
    out = (np.clip(a, lo, hi) - lo) * (255.0 / (hi - lo))
    return (out + 0.5).astype(np.uint8)


def resize_image(img: Any, policy: str) -> Any:
    """Resize a PIL image by ``policy`` (``none``, ``fit:N``, ``square:N``; bilinear)."""
    from PIL import Image

    m = _RESIZE.match(policy)
    if m is None or m.group(1) == "none":
        return img
    if m.group(2):
        side = int(m.group(2))
        w, h = img.size
        scale = side / max(w, h)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
    else:
        size = (int(m.group(3)),) * 2
    return img if size == img.size else img.resize(size, Image.Resampling.BILINEAR)


# ------------------------------------------------------------------------------------ sources
def natural_key(name: str) -> list[Any]:
    """Sort key that orders embedded numbers numerically (``s2`` before ``s10``)."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def folder_files(path: Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> list[Path]:
    """Image files of a folder in natural name order; an empty folder is a ``SampleError``."""
    files = sorted(
        (p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes),
        key=lambda p: natural_key(p.name),
    )
    if not files:
        raise SampleError("corrupt_media", f"no image files in folder {path}")
    return files


def volume_format(path: Path) -> str:
    """``nifti``, ``npy`` or ``folder``; anything else is a ``SampleError``."""
    name = path.name.lower()
    if path.is_dir():
        return "folder"
    if name.endswith((".nii", ".nii.gz")):
        return "nifti"
    if name.endswith(".npy"):
        return "npy"
    if not path.exists():
        raise SampleError("missing_media", f"volume not found: {path}")
    raise SampleError("unsupported_media", f"not a volume (.nii, .nii.gz, .npy, folder): {path}")


def source_digest(path: Path) -> str:
    """SHA-256 of a source's bytes, streamed (a folder: each file's name and bytes, in order)."""
    h = hashlib.sha256()
    try:
        files = folder_files(path, IMAGE_SUFFIXES) if path.is_dir() else [path]
        for f in files:
            if path.is_dir():
                h.update(f.name.encode() + b"\0")
            with f.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
    except FileNotFoundError:
        raise SampleError("missing_media", f"media not found: {path}") from None
    except OSError as exc:
        raise SampleError("unreadable_media", f"{path}: {exc}") from None
    return h.hexdigest()


def _nifti_slices(path: Path, spec: VolumeSpec) -> tuple[list[Any], list[int]]:
    import nibabel as nib
    import numpy as np

    img = nib.as_closest_canonical(nib.load(str(path)))
    if len(img.shape) < 3:
        raise SampleError("corrupt_media", f"{path}: NIfTI has shape {img.shape}, not 3D")
    axis = {"sagittal": 0, "coronal": 1, "axial": 2}[spec.axis]
    idx = sample_indices(int(img.shape[axis]), spec)
    # One pass over the file: slice-wise reads of a .nii.gz re-inflate the stream per slice
    # (8x slower); an uncompressed .nii stays memory-mapped. The array is dropped on return.
    data = np.asanyarray(img.dataobj)
    if data.ndim > 3:
        data = data[(slice(None),) * 3 + (0,) * (data.ndim - 3)]
    out = [np.rot90(data[(slice(None),) * axis + (k,)].astype(np.float32)) for k in idx]
    del data
    return out, idx


def _npy_slices(path: Path, spec: VolumeSpec) -> tuple[list[Any], list[int]]:
    import numpy as np

    arr = np.load(path, mmap_mode="r", allow_pickle=False)
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 3:
        raise SampleError(
            "corrupt_media", f"{path}: array of shape {arr.shape}, expected (D,H,W) or (1,D,H,W)"
        )
    axis = {"axial": 0, "coronal": 1, "sagittal": 2}[spec.axis]
    idx = sample_indices(int(arr.shape[axis]), spec)
    out = [np.array(arr[(slice(None),) * axis + (k,)], dtype=np.float32) for k in idx]
    del arr
    return out, idx


def _folder_slices(path: Path, spec: VolumeSpec) -> tuple[list[Any], list[int]]:
    import numpy as np
    from PIL import Image

    if spec.axis != "axial":
        raise SampleError("unsupported_media", f"{path}: a slice folder has only its axial slices")
    files = folder_files(path)
    idx = sample_indices(len(files), spec)
    out = []
    for k in idx:
        with Image.open(files[k]) as im:
            im.load()
            out.append(np.asarray(im.convert("L"), dtype=np.float32))
    return out, idx


def read_slices(path: Path, spec: VolumeSpec) -> tuple[list[Any], list[int]]:
    """The sampled 2D slices (float32 arrays) of a volume and their indices.

    A missing, truncated or undecodable source raises ``SampleError`` with the reason.
    """
    fmt = volume_format(path)
    reader = {"nifti": _nifti_slices, "npy": _npy_slices, "folder": _folder_slices}[fmt]
    try:
        slices, idx = reader(path, spec)
    except (SampleError, ConfigError):
        raise
    except ImportError as exc:
        raise ConfigError(f"reading volumes needs {exc.name}: {MEDIA_HINT}") from None
    except FileNotFoundError:
        raise SampleError("missing_media", f"volume not found: {path}") from None
    except MemoryError:
        raise SampleError("corrupt_media", f"{path}: volume too large to decode") from None
    except Exception as exc:  # nibabel / numpy / zlib / PIL raise many kinds on bad files
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        raise SampleError("corrupt_media", f"cannot read volume {path}: {msg}") from None
    if not slices:
        raise SampleError("corrupt_media", f"{path}: volume has no slices along {spec.axis}")
    return slices, idx


def load_frames(path: Path, spec: VolumeSpec) -> list[Any]:
    """The volume as RGB PIL images, one per sampled slice (windowed, then resized)."""
    import numpy as np
    from PIL import Image

    slices, _ = read_slices(path, spec)
    window = spec.window
    if window == "auto":
        window = "none" if path.is_dir() else "minmax"
    if window == "minmax":  # one range for the whole sampled stack
        lo = min(float(s.min()) for s in slices)
        hi = max(float(s.max()) for s in slices)
        stack_window = [np.clip(s, lo, hi) for s in slices]
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        u8 = [((s - lo) * scale + 0.5).astype(np.uint8) for s in stack_window]
    else:
        u8 = [window_to_uint8(s, window) for s in slices]
    del slices
    return [
        resize_image(Image.fromarray(np.ascontiguousarray(a)).convert("RGB"), spec.resize)
        for a in u8
    ]


def source_path(ref: Any) -> Path:
    """The filesystem path of a volume / video ``MediaRef``."""
    if ref.path is None:
        raise SampleError("missing_media", f"{ref.kind} {ref.source} has no file path")
    return Path(ref.path)
