"""Model identity without loading a model; scoring and the judge import one way."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from medunieval import model_identity
from medunieval.errors import ConfigError
from medunieval.presets import ModelPreset

PACKAGE = Path(__file__).resolve().parents[1] / "medunieval"


def _folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text('{"model_type": "llama"}')
    (path / "tokenizer.json").write_text("{}")
    (path / "model-00001-of-00002.safetensors").write_bytes(b"a" * 1000)
    (path / "model-00002-of-00002.safetensors").write_bytes(b"b" * 1000)
    (path / "README.md").write_text("not part of the identity")
    return path


def test_local_folder_identity_covers_weight_content_and_is_cached(tmp_path, monkeypatch):
    model = _folder(tmp_path / "m")
    cache = tmp_path / "cache" / model_identity.CACHE_NAME
    preset = ModelPreset(name="m", model=str(model))
    hashed: list[str] = []
    real = model_identity.file_sha256
    monkeypatch.setattr(model_identity, "file_sha256", lambda p: hashed.append(p.name) or real(p))
    fp = model_identity.fingerprint(preset, "cpu", cache)
    assert fp.startswith("hf:local:") and len(hashed) == 4  # weights, config, tokenizer
    assert model_identity.fingerprint(preset, "cpu", cache) == fp and len(hashed) == 4  # cached
    (model / "README.md").write_text("edited")
    assert model_identity.fingerprint(preset, "cpu", cache) == fp  # not a model file
    # same size, new content, new mtime: re-hashed, new identity
    (model / "model-00002-of-00002.safetensors").write_bytes(b"c" * 1000)
    fp2 = model_identity.fingerprint(preset, "cpu", cache)
    assert fp2 != fp and hashed[-1] == "model-00002-of-00002.safetensors"
    # a copy elsewhere is the same model; other settings are other identities
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in model.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    assert model_identity.fingerprint(ModelPreset(name="c", model=str(copy)), "cpu") == fp2
    assert model_identity.fingerprint(preset, "cuda", cache) != fp2  # dtype auto: not float32
    bf16 = ModelPreset(name="m", model=str(model), dtype="bfloat16")
    assert model_identity.fingerprint(bf16, "cpu", cache) != fp2
    opts = ModelPreset(name="m", model=str(model), options={"use_think": True})
    assert model_identity.fingerprint(opts, "cpu", cache) != fp2
    batch = ModelPreset(name="m", model=str(model), options={"batch_size": 4})
    assert model_identity.fingerprint(batch, "cpu", cache) == fp2


def test_a_folder_without_weights_is_a_config_error(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="no weight files"):
        model_identity.fingerprint(ModelPreset(name="m", model=str(tmp_path / "m")), "cpu")


def test_hub_ids_use_the_resolved_commit_never_the_bare_name(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    preset = ModelPreset(name="x", model="org/model")
    with pytest.raises(ConfigError, match="cannot resolve which commit of org/model"):
        model_identity.fingerprint(preset, "cpu")
    refs = tmp_path / "hub" / "models--org--model" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text("a" * 40)
    assert "org/model@" + "a" * 40 in model_identity.fingerprint(preset, "cpu")
    (refs / "main").write_text("b" * 40)  # the cache moved on: another model
    assert "org/model@" + "b" * 40 in model_identity.fingerprint(preset, "cpu")
    pinned = ModelPreset(name="x", model="org/model", revision="c" * 40)
    assert "org/model@" + "c" * 40 in model_identity.fingerprint(pinned, "cpu")
    vllm = ModelPreset(name="x", model="org/model", backend="vllm")
    assert model_identity.fingerprint(vllm).startswith("vllm:org/model@" + "b" * 40)


def test_replay_and_openai_identities_need_no_backend():
    from medunieval.backends.openai_api import OpenAIBackend

    assert model_identity.fingerprint(ModelPreset(name="r", model="r", backend="replay")) == (
        "replay"
    )
    api = ModelPreset(name="g", model="gpt-x", backend="openai", options={"api_key_env": "NOPE"})
    assert model_identity.fingerprint(api) is None
    assert model_identity.identity(api, OpenAIBackend).startswith("openai:gpt-x:")


def test_computing_an_identity_imports_no_torch(tmp_path):
    model = _folder(tmp_path / "m")
    code = (
        "import sys; from medunieval import model_identity as m; "
        "from medunieval.presets import ModelPreset; "
        f"m.fingerprint(ModelPreset(name='m', model={str(model)!r}), 'cpu'); "
        "assert 'torch' not in sys.modules"
    )
    env_path = str(PACKAGE.parent)
    subprocess.run(
        [sys.executable, "-c", code], check=True, env={"PYTHONPATH": env_path}, timeout=60
    )


# ------------------------------------------------------------------------------ layering
def _imports(path: Path) -> set[str]:
    """Absolute ``medunieval.*`` modules a file imports (at any depth, lazy ones included)."""
    mod = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("medunieval")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("medunieval"):
                out.add(target)
                out |= {f"{target}.{a.name}" for a in node.names}
    return out


def _graph() -> dict[str, set[str]]:
    """``module -> package modules it imports`` for every module of the package."""
    files = {
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
        for p in PACKAGE.rglob("*.py")
    }
    return {mod: {m for m in _imports(p) if m in files and m != mod} for mod, p in files.items()}


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_scoring_never_imports_the_judge():
    """The judge produces judgements, scoring decides verdicts: judge -> scoring, one way (no
    scoring module reaches judge.py, directly or through others, lazily or not)."""
    graph = _graph()
    scoring = [m for m in graph if m.startswith("medunieval.scoring")]
    assert len(scoring) > 5
    offenders = [m for m in scoring if "medunieval.judge" in _reachable(graph, m)]
    assert offenders == []
    assert "medunieval.scoring.profiles" in graph["medunieval.judge"]


def test_backends_report_the_same_identity(tmp_path, monkeypatch):
    """vllm, openai and replay backends fingerprint as ``model_identity`` says (hf: in
    test_hf_backend, with a real tiny model)."""
    import types

    from medunieval.backends import openai_api, vllm_backend
    from medunieval.backends.replay import ReplayBackend

    fake = types.SimpleNamespace(LLM=lambda **kw: None, SamplingParams=object, __version__="x")
    monkeypatch.setattr(vllm_backend, "_require_vllm", lambda: fake)
    vllm = ModelPreset(name="m", model=str(_folder(tmp_path / "m")), backend="vllm")
    backend = vllm_backend.VLLMBackend.from_preset(vllm)
    assert backend.fingerprint() == model_identity.fingerprint(vllm)
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": "1", "response": "A"}\n')
    replay = ModelPreset(name="r", model="r", backend="replay")
    assert ReplayBackend(preds).fingerprint() == model_identity.fingerprint(replay)
    pytest.importorskip("openai")
    api = ModelPreset(name="g", model="gpt-x", backend="openai", options={"max_images": 3})
    client = openai_api.OpenAIBackend.from_preset(api)
    assert client.fingerprint() == model_identity.identity(api, openai_api.OpenAIBackend)
    client.close()
