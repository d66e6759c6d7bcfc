"""Core types: Sample -> Request -> Response -> Record.

Small, typed and serialisable. Nothing here imports torch, PIL or datasets at import time.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .errors import SampleError

if TYPE_CHECKING:
    from .data.video import VideoSpec
    from .data.volume import VolumeSpec

AnswerType = Literal["mcq", "closed", "open", "report", "rubric"]
ANSWER_TYPES: tuple[str, ...] = ("mcq", "closed", "open", "report", "rubric")


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no whitespace, unicode kept) used for hashing."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------------------- media
@dataclass(frozen=True)
class MediaRef:
    """A lazily read media item. ``source`` says where it comes from (for records and errors);
    ``opener`` returns its bytes on demand, so nothing is held in memory or open between uses.
    Volumes and videos (a file, or a folder of slices / frames) also carry their ``path``."""

    kind: Literal["image", "volume", "video"]
    source: str
    opener: Callable[[], bytes] = field(compare=False, repr=False)
    path: str | None = None

    def read_bytes(self) -> bytes:
        """Read the media bytes; a missing or unreadable file raises ``SampleError``."""
        try:
            data = self.opener()
        except SampleError:
            raise
        except FileNotFoundError:
            raise SampleError("missing_media", f"{self.kind} not found: {self.source}") from None
        except OSError as exc:
            raise SampleError("unreadable_media", f"{self.source}: {exc}") from None
        if not data:
            raise SampleError("corrupt_media", f"{self.kind} is empty: {self.source}")
        return data

    def open_image(self) -> Any:
        """Decode to an RGB ``PIL.Image`` (fully loaded; no file handle stays open)."""
        from PIL import Image, UnidentifiedImageError

        data = self.read_bytes()
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                return img.convert("RGB")
        except Image.DecompressionBombError as exc:
            raise SampleError("media_too_large", f"image {self.source}: {exc}") from None
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise SampleError(
                "corrupt_media", f"cannot decode image {self.source}: {exc}"
            ) from None


# -------------------------------------------------------------------------------------- sample
@dataclass
class Sample:
    """One benchmark item, independent of any model.

    ``choices`` maps option letters to option texts, in order. ``meta`` holds the fields used
    for group-by scores (modality, question type, subject, ...) and benchmark-specific prompt
    inputs (e.g. PubMedQA's ``context``). ``error`` is set when the row itself is malformed.
    """

    id: str
    benchmark: str
    question: str
    answer: str
    answer_type: AnswerType
    choices: dict[str, str] | None = None
    media: list[MediaRef] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    error: SampleError | None = None


# ------------------------------------------------------------------------------------- request
@dataclass(frozen=True)
class TextPart:
    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True)
class ImagePart:
    """An image content part. ``digest`` is the SHA-256 of its bytes (the cache key uses it,
    never the path)."""

    ref: MediaRef
    digest: str
    type: Literal["image"] = "image"


@dataclass(frozen=True)
class VolumePart:
    """A 3D volume content part: ``spec`` says how it becomes 2D slices; ``digest`` covers the
    source bytes and the spec, so another spec is another cache key."""

    ref: MediaRef
    digest: str
    spec: VolumeSpec
    type: Literal["volume"] = "volume"

    def frames(self) -> list[Any]:
        """The sampled slices as RGB ``PIL.Image``s: those ``media_part`` decoded when still
        kept (``data/decoded.py``), else decoded now."""
        from .data.decoded import kept
        from .data.volume import load_frames, source_path

        frames = kept(self)
        if frames is not None:
            return list(frames)
        return load_frames(source_path(self.ref), self.spec)


@dataclass(frozen=True)
class VideoPart:
    """A video content part (a file or a folder of frames) sampled by ``spec``."""

    ref: MediaRef
    digest: str
    spec: VideoSpec
    type: Literal["video"] = "video"

    def frames_and_timestamps(self) -> tuple[list[Any], list[float]]:
        """The sampled frames (RGB ``PIL.Image``) and their timestamps in seconds."""
        from .data.decoded import kept
        from .data.video import load_frames
        from .data.volume import source_path

        done = kept(self)
        if done is not None:
            return list(done[0]), list(done[1])
        return load_frames(source_path(self.ref), self.spec)

    def frames(self) -> list[Any]:
        """The sampled frames as RGB ``PIL.Image``s (decoded on each call, nothing held)."""
        return self.frames_and_timestamps()[0]

    def timestamps(self) -> list[float]:
        """The sampled frames' timestamps in seconds (decodes the video)."""
        return self.frames_and_timestamps()[1]


MediaPart = ImagePart | VolumePart | VideoPart
Part = TextPart | ImagePart | VolumePart | VideoPart


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: tuple[Part, ...]


@dataclass(frozen=True)
class GenParams:
    """Generation parameters. Greedy by default (``temperature == 0``)."""

    max_new_tokens: int = 1024
    temperature: float = 0.0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


@dataclass(frozen=True)
class Request:
    """A model call: chat messages with typed parts plus generation parameters."""

    sample_id: str
    benchmark: str
    messages: tuple[Message, ...]
    params: GenParams

    def prompt_text(self) -> str:
        """All text parts of the last user message, joined (what the records show as prompt)."""
        users = [m for m in self.messages if m.role == "user"]
        if not users:
            return ""
        return "".join(p.text for p in users[-1].content if isinstance(p, TextPart))

    def images(self) -> list[ImagePart]:
        """Every image part, in message order."""
        return [p for m in self.messages for p in m.content if isinstance(p, ImagePart)]

    def media(self) -> list[MediaPart]:
        """Every image, volume and video part, in message order."""
        return [p for m in self.messages for p in m.content if not isinstance(p, TextPart)]

    def key(self, model_fingerprint: str, per_sample: Any = None) -> str:
        """Stable content hash: model identity, generation parameters, messages, media digests.

        The sample id and benchmark are not part of it unless ``per_sample`` says what makes
        the answer specific to the sample (replay: the id and its prediction's digest; sampled
        generation: the id): otherwise the same prompt on the same model is the same
        generation, wherever it comes from.
        """
        msgs = [
            {
                "role": m.role,
                "content": [
                    {"type": "text", "text": p.text}
                    if isinstance(p, TextPart)
                    else {"type": p.type, "sha256": p.digest}
                    for p in m.content
                ],
            }
            for m in self.messages
        ]
        payload = {"model": model_fingerprint, "params": self.params.to_dict(), "messages": msgs}
        if per_sample is not None:
            payload["sample"] = per_sample
        return sha256_hex(canonical_json(payload).encode("utf-8"))


# ------------------------------------------------------------------------------------ response
@dataclass
class Response:
    """A model's answer to one request. A failed generation is a Response with ``error`` set
    (``"kind: reason"``) and ``text`` None; it is recorded and counted, never dropped."""

    text: str | None
    error: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Response:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in names})


# -------------------------------------------------------------------------------------- record
@dataclass
class Record:
    """Everything needed to explain (and re-score) one sample's result.

    ``scores`` maps a profile name (``compat``, ``strict``) to that profile's verdict dict:
    ``correct`` (bool), ``parsed`` (bool), ``extracted`` (str | None) and metric values.
    ``error`` is ``{"kind", "reason"}`` when the sample could not be built; a failed
    generation is a ``response`` with ``error`` set. ``judge`` is reserved for judge verdicts
    (raw output + verdict) that the strict profile uses for open answers when present.
    ``provenance`` holds the digests of the inputs the record was made from
    (``medunieval.provenance``); None for records written before it existed.
    """

    sample_id: str
    benchmark: str
    answer: str
    answer_type: str
    request_key: str | None
    prompt: str | None
    response: Response | None
    choices: dict[str, str] | None = None
    media: list[dict[str, str]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    question: str = ""
    error: dict[str, str] | None = None
    judge: dict[str, Any] | None = None
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    provenance: dict[str, Any] | None = None

    @property
    def failed(self) -> bool:
        """True when the sample could not be built or generated (an error outcome)."""
        return self.error is not None or self.response is None or self.response.error is not None

    def error_kind(self) -> str | None:
        if self.error is not None:
            return self.error.get("kind", "error")
        if self.response is None:
            return "no_response"
        if self.response.error is not None:
            return self.response.error.split(":", 1)[0]
        return None

    def to_json(self) -> str:
        # Shallow on purpose: fields hold JSON values; dataclasses.asdict deep-copies (slow).
        d = {f: getattr(self, f) for f in self.__dataclass_fields__}
        d["response"] = self.response.to_dict() if self.response else None
        return json.dumps(d, ensure_ascii=False, default=str)

    @classmethod
    def from_json(cls, line: str) -> Record:
        d = json.loads(line)
        resp = d.get("response")
        d["response"] = Response.from_dict(resp) if resp else None
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in names})
