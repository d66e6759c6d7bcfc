"""The presets for every model of the paper's Tables 1-2 (plus Hulu-Med-4B): one preset per
published row, a route for each, API presets exercised against a local OpenAI-compatible
server, own-code models refused on other backends with their route, and `list models`."""

from __future__ import annotations

import dataclasses
import re

import pytest
from fake_chat_server import FakeChatServer
from typer.testing import CliRunner

from medunieval.backends.openai_api import OpenAIBackend
from medunieval.cli import app
from medunieval.errors import ConfigError
from medunieval.leaderboard.reference import load_table
from medunieval.model_routes import API, HF_NATIVE, HF_REMOTE, SERVE, how_tested, paper_rows, route
from medunieval.presets import builtin_presets, resolve_model
from medunieval.types import GenParams, Message, Request, TextPart

runner = CliRunner()
PRESETS = builtin_presets()
ROWS = paper_rows()
API_PRESETS = sorted(n for n, p in PRESETS.items() if route(p) == API)
SERVE_PRESETS = sorted(n for n, p in PRESETS.items() if route(p) == SERVE)


def test_every_published_row_has_exactly_one_preset() -> None:
    labels = {
        row.model: row.preset
        for table in ("table1", "table2")
        for group in load_table(table, include_later=True).row_groups
        for row in group.rows
    }
    assert len(labels) == 28  # 26 models + Hulu-Med-4B; Qwen2.5-VL-32B is spelt two ways
    assert all(labels.values()), [m for m, p in labels.items() if not p]
    assert set(labels.values()) <= set(PRESETS)
    assert len(set(labels.values())) == len(ROWS) == 27
    assert labels["Qwen2.5V-32B"] == labels["Qwen2.5VL-32B"] == "Qwen2.5-VL-32B-Instruct"


def test_routes_and_groups() -> None:
    paper = {name: PRESETS[name] for name in ROWS}
    kinds = {name: route(p) for name, p in paper.items()}
    assert sorted(n for n, k in kinds.items() if k == API) == [
        "claude-sonnet-4", "deepseek-v3", "gemini-2.5-flash", "gpt-4.1", "gpt-4o", "o3-mini",
    ]  # fmt: skip
    assert sorted(n for n, k in kinds.items() if k == SERVE) == [
        "HealthGPT-14B", "HealthGPT-M3", "HuatuoGPT-Vision-34B", "HuatuoGPT-Vision-7B",
        "LLaVA-Med-7B",
    ]  # fmt: skip
    assert sorted(n for n, k in kinds.items() if k == HF_REMOTE) == [
        f"Hulu-Med-{s}" for s in ("14B", "32B", "4B", "7B")
    ]
    assert kinds["InternVL2.5-8B"] == kinds["InternVL2.5-38B"] == "vllm (remote code)"
    assert sum(k == HF_NATIVE for k in kinds.values()) == 10
    for name, preset in paper.items():
        assert preset.group in {
            "proprietary", "general_lt10b", "general_gt10b", "medical_lt10b", "medical_gt10b",
        }, name  # fmt: skip
        assert how_tested(preset) and "not exercised" not in how_tested(preset), name
        if route(preset) != API:
            assert preset.architecture, name


@pytest.mark.parametrize("name", API_PRESETS)
def test_api_preset_is_pinned_priced_and_keyed(name: str) -> None:
    options = PRESETS[name].options
    assert options["base_url"].startswith("https://")
    assert re.fullmatch(r"[A-Z]+_API_KEY", options["api_key_env"])
    price = options["price"]
    assert price["prompt_per_1m"] > 0 and price["completion_per_1m"] > 0
    model = PRESETS[name].model
    # a dated snapshot, except where the provider publishes none (noted in the preset)
    if name not in ("gemini-2.5-flash", "deepseek-v3"):
        assert re.search(r"\d{4}-?\d{2}-?\d{2}$", model), model


def _ask(preset, server: FakeChatServer, monkeypatch, key_env: str = "") -> tuple[dict, str]:
    if key_env:
        monkeypatch.setenv(key_env, "sk-local-test")
    local = dataclasses.replace(preset, options={**preset.options, "base_url": server.base_url,
                                                 "max_retries": 0})  # fmt: skip
    backend = OpenAIBackend.from_preset(local)
    req = Request("q1", "t", (Message("user", (TextPart("Which option? A or B"),)),),
                  GenParams(max_new_tokens=32))  # fmt: skip
    ((_, resp),) = list(backend.generate([req]))
    assert resp.error is None, resp.error
    return server.log[-1]["body"], resp.text


@pytest.mark.parametrize("name", API_PRESETS)
def test_api_preset_against_a_local_server(name: str, monkeypatch) -> None:
    preset = PRESETS[name]
    with FakeChatServer(answer="B") as server:
        body, text = _ask(preset, server, monkeypatch, preset.options["api_key_env"])
        assert server.log[-1]["auth"] == "Bearer sk-local-test"
    assert text == "B" and body["model"] == preset.model
    if preset.options.get("reasoning_model"):  # o3-mini rejects these
        assert body["max_completion_tokens"] == 32
        assert not {"max_tokens", "temperature", "top_p"} & set(body)
    else:
        assert body["max_tokens"] == 32 and body["temperature"] == 0


@pytest.mark.parametrize("name", SERVE_PRESETS)
def test_own_code_models_refuse_other_backends_with_their_route(name: str, monkeypatch) -> None:
    preset = PRESETS[name]
    assert preset.own_code and "needs its own code" in preset.own_code
    for backend in ("hf", "vllm"):
        with pytest.raises(ConfigError) as err:
            resolve_model(name, backend)
        msg = str(err.value)
        assert "\n" not in msg and msg.startswith(f"--backend {backend} cannot run {name}")
        assert preset.own_code in msg
    assert resolve_model(name, "replay").backend == "replay"  # answers made elsewhere
    with FakeChatServer(answer="yes") as server:  # the served endpoint, as the preset sends
        body, text = _ask(preset, server, monkeypatch)
    assert text == "yes" and body["model"] == preset.model
    assert preset.options["base_url"].startswith("http://127.0.0.1:")


def test_own_code_refusal_through_the_cli() -> None:
    res = runner.invoke(
        app, ["run", "--model", "LLaVA-Med-7B", "--backend", "hf", "--bench", "medqa"]
    )
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "LLaVA-Med needs its own code" in lines[0], res.output
    assert "--backend replay" in lines[0]


def test_list_models_shows_every_preset_route_and_test_untruncated(monkeypatch) -> None:
    from rich.console import Console

    import medunieval.cli as cli

    narrow = runner.invoke(app, ["list", "models"])  # 80 columns: cells wrap, never cut
    assert narrow.exit_code == 0, narrow.output
    assert "…" not in narrow.output and "..." not in narrow.output
    monkeypatch.setattr(cli, "out", Console(width=400))
    wide = runner.invoke(app, ["list", "models"])
    assert wide.exit_code == 0, wide.output
    rows = [line for line in wide.output.splitlines() if line.startswith("│")]
    assert len(rows) == len(PRESETS)
    cells = {r.split("│")[1].strip(): [c.strip() for c in r.split("│")[2:-1]] for r in rows}
    assert set(cells) == set(PRESETS)
    for name, preset in PRESETS.items():
        paper, kind, model, tested = cells[name][:4]
        assert kind == route(preset) and model == preset.model and tested == how_tested(preset)
        assert paper == (", ".join(ROWS[name]) if name in ROWS else "-")
    assert cells["Qwen2.5-VL-32B-Instruct"][0] == "Qwen2.5V-32B, Qwen2.5VL-32B"
