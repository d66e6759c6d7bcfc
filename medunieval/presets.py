"""Model presets: ``configs/models/<name>.yaml`` shipped in the package, a user YAML file, or a
bare local model directory / hub id."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

PRESET_PACKAGE = "medunieval.configs.models"


@dataclass
class ModelPreset:
    """How to load and prompt one model.

    ``backend``: hf | vllm | openai | replay. ``model``: hub id or local path. ``adapter`` (hf):
    ``auto`` | ``vlm`` (AutoProcessor + chat template) | ``mllama`` (``vlm`` for Llama 3.2 Vision)
    | ``causal_lm`` (text-only) | ``hulumed`` (Hulu-Med remote-code API) | ``video_llama3``.
    ``generation`` overrides generation defaults; ``options`` holds
    backend-specific settings (attn_implementation, device_map, batch_size, ...). ``group``:
    the leaderboard row group a run of this model goes into (``proprietary``,
    ``general_lt10b``, ``general_gt10b``, ``medical_lt10b``, ``medical_gt10b``).
    ``architecture``: the checkpoint's model class (``architectures[0]`` of its config.json;
    the vllm backend checks it against vLLM's registry). ``own_code``: set for models that need
    their own code, the documented way to run them; any other backend is refused with it.
    """

    name: str
    model: str
    backend: str = "hf"
    adapter: str = "auto"
    revision: str | None = None
    trust_remote_code: bool = False
    dtype: str = "auto"
    generation: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    group: str | None = None
    description: str = ""
    architecture: str | None = None
    own_code: str = ""
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _from_mapping(data: dict[str, Any], source: str) -> ModelPreset:
    known = {f.name for f in fields(ModelPreset)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"model preset {source}: unknown key(s) {unknown}; allowed: {sorted(known)}"
        )
    if "model" not in data or "name" not in data:
        raise ConfigError(f"model preset {source}: needs at least `name:` and `model:`")
    data = dict(data)
    data["source"] = source
    return ModelPreset(**data)


def builtin_presets() -> dict[str, ModelPreset]:
    """The presets shipped under ``medunieval/configs/models``, by name."""
    out: dict[str, ModelPreset] = {}
    for entry in resources.files(PRESET_PACKAGE).iterdir():
        if entry.name.endswith((".yaml", ".yml")):
            preset = _from_mapping(yaml.safe_load(entry.read_text(encoding="utf-8")), entry.name)
            out[preset.name] = preset
    return out


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def resolve_model(spec: str, backend: str | None = None) -> ModelPreset:
    """Turn ``--model`` into a preset: a built-in preset name (case-insensitive), a YAML file, a
    local model directory, or a hub id. Anything else is a ``ConfigError`` naming the fix."""
    presets = builtin_presets()
    by_lower = {k.lower(): v for k, v in presets.items()}
    preset: ModelPreset | None = by_lower.get(spec.lower())
    path = Path(spec).expanduser()
    if preset is None and path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"model preset file {spec} does not exist")
        preset = _from_mapping(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))
    if preset is None and path.is_dir():
        preset = ModelPreset(name=path.name, model=str(path.resolve()), source=str(path))
    if preset is None and backend == "replay":
        preset = ModelPreset(name=spec, model=spec, backend="replay", source="--model")
    if preset is None and _HUB_ID.match(spec) and not path.exists():
        preset = ModelPreset(name=spec.split("/")[-1], model=spec, source="hub id")
    if preset is None:
        import difflib

        close = difflib.get_close_matches(spec.lower(), list(by_lower), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(by_lower[c].name for c in close)}?" if close else ""
        raise ConfigError(
            f"--model {spec!r} is not a preset, a preset YAML, a local model directory or a hub id "
            f"(org/name).{hint} Run `medunieval list models` for presets."
        )
    if backend and backend not in (preset.backend, "replay") and preset.own_code:
        raise ConfigError(f"--backend {backend} cannot run {preset.name}: {preset.own_code}")
    if backend:
        preset.backend = backend
    return preset
