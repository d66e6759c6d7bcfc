"""Model identity: a fingerprint of what produces the answers, computed without loading a model.

Request keys (and so the response store and every record's provenance) use it. For ``hf`` and
``vllm`` it covers the weights themselves:

- a local checkpoint folder: the SHA-256 of every weight file (``*.safetensors``, ``*.bin``,
  ``*.pt``, ``*.pth``, ``*.gguf``, ``*.npz``) and every config / tokenizer / processor / chat
  template / remote-code file (``*.json``, ``*.jinja``, ``*.model``, ``*.txt``, ``*.py``,
  ``*.tiktoken``), sub-folders included, hidden entries skipped. File digests are cached in a
  small JSON file (``model_digests.json`` beside the response store) by path, size and mtime, so
  an unchanged 60 GB folder is hashed once; the folder's path is not part of the identity.
- a hub id: ``id@commit``, the commit being the preset's ``revision`` when it is a full commit
  hash, else the local HF cache's ``refs/<revision or main>``, else (online) the hub's answer.
  A model whose commit cannot be resolved is a ``ConfigError``: never the bare name.

Then the settings that change answers: adapter, dtype (``auto`` on CPU means float32), the
answer-changing options and ``trust_remote_code``. ``replay`` is ``replay`` (its answers are
keyed per sample by the prediction's own digest). Other backends say who they are through a
``identity(preset)`` class method (``openai``: the served model name and the answer-changing
options; the server's weights cannot be seen). Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .presets import ModelPreset
from .types import canonical_json, sha256_hex

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".npz")
AUX_SUFFIXES = (".json", ".jinja", ".model", ".txt", ".py", ".tiktoken")
CACHE_NAME = "model_digests.json"
#: preset options that change answers, per backend (the rest: batching, devices, timeouts)
ANSWER_OPTIONS: dict[str, tuple[str, ...]] = {
    "hf": (
        "processor_kwargs",
        "max_images_as_images",
        "use_think",
        "generate_kwargs",
        "hulumed_media",
    ),
    "vllm": (
        "tensor_parallel_size",
        "max_model_len",
        "limit_mm_per_prompt",
        "enforce_eager",
        "seed",
        "engine_args",
    ),
}
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_CHUNK = 1 << 20


# ----------------------------------------------------------------------------- file digests
def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class DigestCache:
    """``{absolute path: [size, mtime_ns, sha256]}`` in a JSON file; a missing or unreadable
    file is an empty cache, and a lost concurrent update only costs a re-hash."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, list[Any]] = {}
        self.dirty = False
        if path is not None and path.is_file():
            try:
                loaded = json.loads(path.read_text("utf-8"))
                self.entries = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self.entries = {}

    def digest(self, path: Path) -> str:
        st = path.stat()
        key = str(path.resolve())
        hit = self.entries.get(key)
        if isinstance(hit, list) and hit[:2] == [st.st_size, st.st_mtime_ns]:
            return str(hit[2])
        value = file_sha256(path)
        self.entries[key] = [st.st_size, st.st_mtime_ns, value]
        self.dirty = True
        return value

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".model_digests.", dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self.entries, fh)
        os.replace(tmp, self.path)
        self.dirty = False


def model_files(folder: Path) -> list[Path]:
    """The files of a checkpoint folder that its identity covers, sorted by relative path."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith(".") and name.endswith(WEIGHT_SUFFIXES + AUX_SUFFIXES):
                out.append(Path(root) / name)
    return sorted(out, key=lambda p: p.relative_to(folder).as_posix())


def folder_digest(folder: Path, cache_file: Path | None = None) -> str:
    """The content digest of a checkpoint folder (see the module docstring)."""
    cache = DigestCache(cache_file)
    files = model_files(folder)
    if not any(f.name.endswith(WEIGHT_SUFFIXES) for f in files):
        raise ConfigError(
            f"--model {folder}: no weight files ({', '.join(WEIGHT_SUFFIXES)}) in the folder"
        )
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.relative_to(folder).as_posix()}\0{cache.digest(f)}\n".encode())
    cache.save()
    return h.hexdigest()


# ---------------------------------------------------------------------------------- hub ids
def hub_cache_dir() -> Path:
    """The HF hub cache folder (``HF_HUB_CACHE``, else ``HF_HOME/hub``, else the default)."""
    env = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if env:
        return Path(env).expanduser()
    home = os.environ.get("HF_HOME")
    if not home:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        home = str(Path(xdg) / "huggingface")
    return Path(home).expanduser() / "hub"


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def hub_commit(model: str, revision: str | None) -> str:
    """The commit a hub model id resolves to (see the module docstring)."""
    if revision and _COMMIT.match(revision):
        return revision
    ref = hub_cache_dir() / f"models--{model.replace('/', '--')}" / "refs" / (revision or "main")
    if ref.is_file():
        commit = ref.read_text("utf-8").strip()
        if _COMMIT.match(commit):
            return commit
    if not _offline():
        try:
            from huggingface_hub import HfApi

            sha = HfApi().model_info(model, revision=revision, timeout=15).sha
            if sha:
                return str(sha)
        except Exception:  # network, auth, unknown repo: reported below in one line
            pass
    raise ConfigError(
        f"cannot resolve which commit of {model} (revision {revision or 'main'}) would be used: "
        "it is not in the local HF cache and the hub did not answer; pin `revision: <commit>` "
        "in a preset YAML, or download the model first"
    )


# ---------------------------------------------------------------------------------- identity
def weights_identity(model: str, revision: str | None, cache_file: Path | None = None) -> str:
    """``local:<folder digest>`` for a checkpoint folder, ``<hub id>@<commit>`` otherwise."""
    path = Path(model).expanduser()
    if path.is_dir():
        return f"local:{folder_digest(path, cache_file)}"
    return f"{model}@{hub_commit(model, revision)}"


def default_device() -> str:
    """Where ``hf`` puts a model when ``--device`` is not given: ``cuda`` if torch sees a GPU.
    Imports torch lazily, only when asked (it never loads a model)."""
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def _options_digest(preset: ModelPreset, keys: tuple[str, ...]) -> str:
    opts = preset.options or {}
    return sha256_hex(canonical_json({k: opts[k] for k in keys if k in opts}).encode())[:12]


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "none"


def fingerprint(
    preset: ModelPreset, device: str | None = None, cache_file: Path | None = None
) -> str | None:
    """The model identity for ``preset`` on ``hf``, ``vllm`` or ``replay`` (see the module
    docstring); None for any other backend (see :func:`identity`)."""
    backend = preset.backend
    if backend == "replay":
        return "replay"
    if backend not in ("hf", "vllm"):
        return None
    weights = weights_identity(preset.model, preset.revision, cache_file)
    opts = _options_digest(preset, ANSWER_OPTIONS[backend])
    remote = "remote-code" if preset.trust_remote_code else "no-remote-code"
    if backend == "vllm":
        return f"vllm:{weights}:{_package_version('vllm')}:{preset.dtype}:{remote}:opts={opts}"
    dtype = preset.dtype
    if dtype == "auto":
        on_cpu = not (preset.options or {}).get("device_map") and str(
            device or default_device()
        ).startswith("cpu")
        dtype = "float32" if on_cpu else "auto"
    return f"hf:{weights}:{preset.adapter}:{dtype}:{remote}:opts={opts}"


def cache_file_for(store: Path | None) -> Path | None:
    """The digest cache beside a response store (None: no cache, hash every time)."""
    return None if store is None else store.parent / CACHE_NAME


def identity(
    preset: ModelPreset, backend_cls: Any, device: str | None = None, cache_file: Path | None = None
) -> str | None:
    """:func:`fingerprint`, else the backend class's ``identity(preset)``, else None (the
    caller then has to load the backend and ask its ``fingerprint()``)."""
    fp = fingerprint(preset, device, cache_file)
    if fp is None and hasattr(backend_cls, "identity"):
        fp = backend_cls.identity(preset)
    return fp
