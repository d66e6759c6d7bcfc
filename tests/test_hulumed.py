"""Hulu-Med through its published interface (the stand-in in ``hulumed_standin.py`` plays its
remote code), batched the Hulu-Med way: each request embedded on its own, one left-padded
``inputs_embeds`` batch decoded. Greedy batched outputs must equal the model card's one
conversation per ``generate`` call, and out-of-memory back-off must work as for the others."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from hulumed_standin import build_hulumed_standin  # noqa: E402
from PIL import Image  # noqa: E402
from request_helpers import image_part, one_turn  # noqa: E402

from medunieval.backends.hf import HFBackend  # noqa: E402
from medunieval.presets import ModelPreset  # noqa: E402
from medunieval.types import (  # noqa: E402
    GenParams,
    Request,
    TextPart,
)

PARAMS = GenParams(max_new_tokens=6)


@pytest.fixture(scope="session", autouse=True)
def _modules_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Remote code is copied into transformers' modules cache: keep it in a temp folder."""
    import transformers.dynamic_module_utils as dmu

    mp = pytest.MonkeyPatch()
    mp.setattr(dmu, "HF_MODULES_CACHE", str(tmp_path_factory.mktemp("hf_modules")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hulumed_standin(tmp_path_factory.mktemp("hulumed_standin"))


def request(sid: str, *parts) -> Request:
    return one_turn(sid, PARAMS, *parts)


def mixed_requests(folder: Path) -> list[Request]:
    """Text-only, one image, several images and more than five images (a video item)."""
    imgs = [image_part(folder, f"h{k}", (40 + 14 * (k % 3), 42 + 7 * (k % 2)), k) for k in range(7)]
    return [
        request("text", TextPart("What is the normal adult heart rate?")),
        request("one", imgs[0], TextPart("Which organ is shown?")),
        request("two", imgs[1], imgs[2], TextPart("Compare the two images.")),
        request("seven", *imgs, TextPart("Describe the series.")),
        request("text2", TextPart("Name a beta blocker.")),
        request("one_b", imgs[3], TextPart("Is there a fracture? Answer yes or no.")),
    ]


def preset(model: Path, **options) -> ModelPreset:
    return ModelPreset(
        name="hulu-standin",
        model=str(model),
        adapter="hulumed",
        trust_remote_code=True,
        options={"max_images_as_images": 5, **options},
    )


def run(backend: HFBackend, reqs: list[Request]) -> dict:
    out = {req.sample_id: resp for req, resp in backend.generate(reqs)}
    assert len(out) == len(reqs)
    return out


# --------------------------------------------------------------------- the published interface
def test_standin_follows_the_published_interface(standin: Path, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoProcessor

    model = AutoModelForCausalLM.from_pretrained(standin, trust_remote_code=True).eval()
    proc = AutoProcessor.from_pretrained(standin, trust_remote_code=True)
    frames = [Image.new("RGB", (60, 40), (30 * i, 5, 5)) for i in range(3)]
    conv = [
        {
            "role": "user",
            "content": [{"type": "video", "num_frames": 3}, {"type": "text", "text": "Q?"}],
        }
    ]
    enc = proc(
        images=[frames],
        conversation=conv,
        add_system_prompt=False,
        add_generation_prompt=True,
        return_tensors="pt",
    )
    assert set(enc) == {
        "input_ids",
        "attention_mask",
        "pixel_values",
        "grid_sizes",
        "merge_sizes",
        "modals",
    }
    # 3 frames resized to 28x56 (merge size 2 for a video): 2x4 patches of 3*14*14 values each
    assert enc["pixel_values"].shape == (3 * 2 * 4, 3 * 14 * 14)
    assert enc["grid_sizes"].tolist() == [[3, 2, 4]] and enc["merge_sizes"].tolist() == [2]
    assert enc["modals"] == ["video"]
    image_id = model.config.image_token_index
    assert int((enc["input_ids"] == image_id).sum()) == 3 * 2  # (2/2)*(4/2) tokens per frame
    # the published batch-size-1 assertion under token compression
    two = {
        **enc,
        "input_ids": enc["input_ids"].repeat(2, 1),
        "attention_mask": enc["attention_mask"].repeat(2, 1),
    }
    with pytest.raises(AssertionError, match="Token compression is only supported"):
        model.generate(**two, max_new_tokens=2)
    with pytest.raises(NotImplementedError, match="inputs_embeds"):
        model.generate(inputs_embeds=torch.zeros(1, 2, model.config.hidden_size))
    # <think> blocks are dropped unless use_think=True
    ids = proc.tokenizer("<think>plan</think>Answer", return_tensors="pt")["input_ids"]
    assert proc.batch_decode(ids) == ["Answer"]
    assert "plan" in proc.batch_decode(ids, use_think=True)[0]


# ---------------------------------------------------------------------------------- batching
def test_batched_equals_one_conversation_per_generate(standin: Path, tmp_path: Path) -> None:
    reqs = mixed_requests(tmp_path)
    one = HFBackend.from_preset(preset(standin), batch_size=1, device="cpu")
    many = HFBackend.from_preset(preset(standin), batch_size=8, device="cpu")
    try:
        calls: list[tuple[str, int]] = []
        for backend in (one, many):
            real = backend.adapter.generate

            def spy(inputs, kwargs, real=real):
                key = "inputs_embeds" if "inputs_embeds" in inputs else "input_ids"
                calls.append((key, int(inputs[key].shape[0])))
                return real(inputs, kwargs)

            backend.adapter.generate = spy
        alone, batched = run(one, reqs), run(many, reqs)
    finally:
        one.close()
        many.close()
    # one conversation per model.generate call (the card's path) vs one embedding batch
    assert calls[: len(reqs)] == [("input_ids", 1)] * len(reqs)
    assert sorted(calls[len(reqs) :]) == [("inputs_embeds", 6)]
    for sid, resp in alone.items():
        assert resp.error is None, resp.error
        assert resp.completion_tokens > 0
        got = batched[sid]
        assert (got.text, got.completion_tokens, got.finish_reason) == (
            resp.text,
            resp.completion_tokens,
            resp.finish_reason,
        ), sid
    # token compression shortened the seven-frame request's prompt (consecutive frames differ
    # little), so the embedding path saw fewer tokens than the processor produced
    assert batched["seven"].prompt_tokens <= alone["seven"].prompt_tokens


def test_images_reach_the_model(standin: Path, tmp_path: Path) -> None:
    a = image_part(tmp_path, "a", (56, 56), 1)
    b = image_part(tmp_path, "b", (56, 56), 9)
    backend = HFBackend.from_preset(preset(standin), batch_size=4, device="cpu")
    try:
        out = run(backend, [request("a", a, TextPart("Q?")), request("b", b, TextPart("Q?"))])
    finally:
        backend.close()
    assert out["a"].text != out["b"].text


def test_oom_backoff_on_the_embedding_batch(standin: Path, tmp_path: Path) -> None:
    """Fault injection: the language model runs out of memory on more than two rows."""
    reqs = [r for r in mixed_requests(tmp_path) if r.sample_id in ("one", "two", "one_b")]
    reqs.append(request("img", image_part(tmp_path, "o", (42, 42), 20), TextPart("Q")))
    ref = HFBackend.from_preset(preset(standin), batch_size=1, device="cpu")
    try:
        expected = run(ref, reqs)
    finally:
        ref.close()
    backend = HFBackend.from_preset(preset(standin), batch_size="auto", device="cpu")
    backend.batch_size = 8
    model = backend.adapter.model
    real_forward = model.forward
    seen: list[int] = []

    def forward(*args, **kwargs):
        rows = kwargs.get("inputs_embeds")
        rows = rows if rows is not None else kwargs.get("input_ids")
        seen.append(int(rows.shape[0]))
        if rows.shape[0] > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_forward(*args, **kwargs)

    model.forward = forward
    try:
        got = run(backend, reqs)
    finally:
        backend.close()
    assert backend.batch_size == 2 and max(seen) > 2
    for sid, resp in expected.items():
        assert got[sid].error is None and got[sid].text == resp.text, sid


def test_remote_code_without_the_embedding_hook_runs_one_at_a_time(standin: Path, capsys) -> None:
    from medunieval.backends.hf import ADAPTER_CLASSES

    class CardOnly:  # a model that only offers generate()
        generation_config = None

        def generate(self, **kwargs):
            raise AssertionError("not called")

    from transformers import AutoProcessor

    proc = AutoProcessor.from_pretrained(standin, trust_remote_code=True)
    adapter = ADAPTER_CLASSES["hulumed"]()
    adapter.attach(CardOnly(), proc, {})
    assert adapter.max_batch == 1
    assert "one request per generate call" in capsys.readouterr().err
    adapter = ADAPTER_CLASSES["hulumed"]()
    adapter.attach(CardOnly(), proc, {"hulumed_batched": False})
    assert adapter.max_batch == 1


# ------------------------------------------------------------------------------------- CLI
def test_cli_run_with_a_hulumed_preset(standin: Path, tmp_path: Path, data_root: Path) -> None:
    import json

    import yaml
    from typer.testing import CliRunner

    from medunieval.cli import app

    spec = tmp_path / "hulu.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "name": "hulu-standin",
                "model": str(standin),
                "backend": "hf",
                "adapter": "hulumed",
                "trust_remote_code": True,
                "dtype": "float32",
                "options": {"batch_size": 4},
            }
        )
    )
    outputs = {}
    for run_id in ("a", "b"):
        args = [
            "run",
            "--model",
            str(spec),
            "--bench",
            "vqa_rad",
            "--data-dir",
            str(data_root / "vqa_rad"),
            "--output",
            str(tmp_path / "runs"),
            "--run-id",
            run_id,
            "--device",
            "cpu",
            "--max-new-tokens",
            "6",
            "--no-cache",
            "--limit",
            "4",
        ]
        if run_id == "b":
            args += ["--batch-size", "1"]
        res = CliRunner().invoke(app, args, catch_exceptions=False)
        assert res.exit_code == 0, res.output
        recs = (tmp_path / "runs" / run_id / "vqa_rad" / "records.jsonl").read_text()
        outputs[run_id] = {
            r["sample_id"]: r["response"]["text"] for r in map(json.loads, recs.splitlines())
        }
    assert outputs["a"] == outputs["b"] and len(outputs["a"]) > 1


def test_remote_code_failing_on_transformers_5_says_so(standin: Path, monkeypatch) -> None:
    import transformers

    from medunieval.backends.hf import ADAPTER_CLASSES
    from medunieval.errors import ConfigError

    def broken(self, *args, **kwargs):  # what 4.51-era remote code can do on 5.x
        raise AttributeError("'Qwen2Model' object has no attribute '_update_causal_mask'")

    monkeypatch.setattr(ADAPTER_CLASSES["hulumed"], "load", broken)
    monkeypatch.setattr(transformers, "__version__", "5.24.0")
    with pytest.raises(ConfigError) as info:
        HFBackend.from_preset(preset(standin), device="cpu")
    message = str(info.value)
    assert "\n" not in message and "transformers 4.x" in message and "5.24.0" in message
    assert "_update_causal_mask" in message
