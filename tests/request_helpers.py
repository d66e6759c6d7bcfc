"""Synthetic image parts and one-turn requests for backend tests (hf adapters)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from medunieval.types import GenParams, ImagePart, MediaRef, Message, Request, sha256_hex


def image_part(folder: Path, name: str, size: tuple[int, int], seed: int) -> ImagePart:
    """A PNG in ``folder`` whose colour and white dots depend on ``seed`` (written once)."""
    path = folder / f"{name}.png"
    if not path.exists():
        img = Image.new("RGB", size, (seed * 37 % 256, seed * 91 % 256, seed * 13 % 256))
        for x in range(0, size[0], 5):
            img.putpixel((x, (x * (seed + 1)) % size[1]), (255, 255, 255))
        img.save(path)
    ref = MediaRef(kind="image", source=str(path), opener=path.read_bytes)
    return ImagePart(ref=ref, digest=sha256_hex(path.read_bytes()))


def one_turn(sid: str, params: GenParams, *parts) -> Request:
    """A request whose single user turn holds ``parts``."""
    return Request(
        sample_id=sid, benchmark="test", messages=(Message("user", tuple(parts)),), params=params
    )
