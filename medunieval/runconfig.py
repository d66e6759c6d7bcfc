"""One typed run configuration from every front end: CLI flags, ``--config FILE.yaml`` and the
Python API (``medunieval.evaluate``).

Keys are the fields of ``engine.RunConfig`` (so a field added there is accepted everywhere
without further code), plus a few spellings of the command line: ``bench`` (comma-separated
``benchmarks``), ``no_cache`` (``use_cache: false``). Values are converted to the field's type
(``Path``, ``int``, ``list[str]``, ``dict[str, Path]`` ...); an unknown key or a value of the
wrong type is a ``ConfigError`` naming the key (with "did you mean"). Flags given on the
command line override the YAML file; ``data`` maps are merged entry by entry.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .engine import RunConfig
from .errors import ConfigError

ALIASES = {"bench": "benchmarks", "no_cache": "use_cache"}
DISPLAY_KEYS = ("profile",)  # command-line display options a YAML file may also set


@lru_cache(maxsize=1)
def field_types() -> dict[str, Any]:
    """``RunConfig``'s fields and their resolved type hints."""
    import sys

    hints = typing.get_type_hints(RunConfig, vars(sys.modules[RunConfig.__module__]))
    return {f.name: hints[f.name] for f in dataclasses.fields(RunConfig)}


def allowed_keys() -> list[str]:
    return sorted({*field_types(), *ALIASES, *DISPLAY_KEYS})


def _did_you_mean(key: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(key, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_yaml(path: Path) -> dict[str, Any]:
    """The mapping of a ``--config`` file (keys checked by ``build``)."""
    try:
        data = yaml.safe_load(Path(path).read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read --config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: expected a mapping of option: value")
    return data


def canonical(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Keys checked and aliases resolved (``no_cache`` inverted into ``use_cache``)."""
    fields = field_types()
    out: dict[str, Any] = {}
    for key, value in values.items():
        key = str(key).replace("-", "_")
        if key in DISPLAY_KEYS:
            out[key] = value
            continue
        if key not in fields and key not in ALIASES:
            raise ConfigError(
                f"{source}: unknown option {key!r}{_did_you_mean(key, allowed_keys())}; "
                f"allowed: {', '.join(allowed_keys())}"
            )
        if key == "no_cache":
            value = not _coerce("no_cache", value, bool, source)
        if key == "data_revision":
            value = _revisions(value, source)
        out[ALIASES.get(key, key)] = value
    return out


def _revisions(value: Any, source: str) -> dict[str, str]:
    """``data_revision`` as ``--data-revision`` takes it (``REV`` / ``NAME=REV`` items) or as a
    mapping ``{NAME: REV}`` (``*`` = every benchmark), checked like the flag."""
    from .data_cmd import parse_revisions

    if isinstance(value, Mapping):
        items = [f"{k}={v}" for k, v in value.items()]
    elif isinstance(value, str):
        items = [value]
    elif isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        raise ConfigError(f"{source}: data_revision expects REV, NAME=REV items or a mapping")
    return parse_revisions(items)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(key: str, value: Any, tp: Any, source: str) -> Any:
    """``value`` as type ``tp`` (a resolved hint of a ``RunConfig`` field)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(key, value, arg, source)
            except ConfigError as exc:
                errors.append(exc)
        raise (
            errors[-1]
            if len(errors) == 1
            else ConfigError(
                f"{source}: {key} expects {' or '.join(_type_name(a) for a in args)}, got {value!r}"
            )
        )
    bad = ConfigError(f"{source}: {key} expects {_type_name(tp)}, got {value!r}")
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if tp is int:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise bad
    if tp is float:
        if isinstance(value, bool):
            raise bad
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad from None
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad
    if tp is Path:
        if isinstance(value, (str, Path)) and str(value):
            return Path(value).expanduser()
        raise bad
    if origin is list:
        (item,) = args or (Any,)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise bad
        return [_coerce(key, v, item, source) for v in value]
    if origin is dict:
        kt, vt = args or (Any, Any)
        if not isinstance(value, Mapping):
            raise bad
        return {
            _coerce(key, k, kt, source): (
                v
                if dataclasses.is_dataclass(vt) and isinstance(v, vt)
                else _coerce(key, v, vt, source)
            )
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if isinstance(value, Mapping):
            return tp(**value)
        raise bad
    return value


def merge(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Later layers win; maps (``data``, ``data_revision``) merge entry by entry."""
    out: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(out.get(key), Mapping) and isinstance(value, Mapping):
                out[key] = {**out[key], **value}
            else:
                out[key] = value
    return out


def build(values: Mapping[str, Any], source: str = "run configuration") -> RunConfig:
    """A checked ``RunConfig`` from canonical values (see ``canonical``)."""
    types_ = field_types()
    typed = {
        k: _coerce(k, v, types_[k], source) for k, v in values.items() if k not in DISPLAY_KEYS
    }
    if not typed.get("model"):
        raise ConfigError(f"{source}: no model given: pass --model (or `model:` in --config)")
    if "batch_size" in typed:
        typed["batch_size"] = _batch_size(typed["batch_size"])
    typed.setdefault("benchmarks", [])
    if typed.get("suite"):
        typed["benchmarks"], typed["subset"] = _suite_benchmarks(
            typed["suite"], typed["benchmarks"]
        )
    _check_data(typed.get("data") or {}, typed["benchmarks"])
    return RunConfig(**typed)


def from_sources(
    cli: Mapping[str, Any] | None = None,
    config: Path | None = None,
    api: Mapping[str, Any] | None = None,
) -> tuple[RunConfig, dict[str, Any]]:
    """The run configuration from a YAML file, then the API's keyword arguments or the flags
    given on the command line (those override the file). Returns it with the display options
    (``profile``) the layers set."""
    layers = []
    if config is not None:
        layers.append(canonical(load_yaml(config), f"--config {config}"))
    if api:
        layers.append(canonical(api, "evaluate()"))
    if cli:
        layers.append(canonical(cli, "command line"))
    values = merge(*layers)
    display = {k: values[k] for k in DISPLAY_KEYS if k in values}
    source = (
        f"--config {config}" if config is not None and not (cli or api) else "run configuration"
    )
    return build(values, source), display


def _batch_size(value: int | str) -> int | str:
    if value == "auto":
        return value
    if isinstance(value, int) and value >= 1:
        return value
    raise ConfigError(f"--batch-size must be 'auto' or a positive integer, got {value!r}")


def _suite_benchmarks(suite: str, bench: list[str]) -> tuple[list[str], dict[str, Any]]:
    """A suite's benchmarks, or its intersection with ``bench`` when both are given."""
    from .benchmarks import BENCHMARKS
    from .suites import load_suite

    loaded = load_suite(suite)
    missing = [b for b in loaded.benchmarks if b not in BENCHMARKS.names()]
    if missing:
        raise ConfigError(
            f"suite {loaded.name}: benchmark(s) not available in this installation: "
            f"{', '.join(missing)} (see `medunieval list benchmarks`)"
        )
    names = list(loaded.benchmarks)
    for name in bench:
        BENCHMARKS.get(name)  # a typo is an error (with "did you mean"), not an empty match
    if bench:
        names = [b for b in names if b in bench]
        if not names:
            raise ConfigError(
                f"--suite {loaded.name} and --bench {','.join(bench)} have no benchmark in common "
                f"(the suite runs {', '.join(loaded.benchmarks)})"
            )
    return names, {k: v for k, v in loaded.subset.items() if k in names}


def _check_data(data: Mapping[str, Any], benchmarks: list[str]) -> None:
    stray = [name for name in data if name not in benchmarks]
    if stray:
        hints = "".join(_did_you_mean(n, benchmarks) for n in stray[:1])
        raise ConfigError(
            f"--data for {', '.join(stray)}: not in this run{hints} "
            f"(the run has {', '.join(benchmarks) or 'no benchmark'})"
        )
