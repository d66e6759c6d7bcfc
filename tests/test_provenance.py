"""Every number bound to what produced it (issue 11), through the CLI.

Cases 1-7 of the issue (replay merging, edited data, regenerated predictions, overwritten
weights, new generation flags, judge outage, all-error runs), then a probe that changes each
input of a finished run in turn and checks the documented reaction (docs/scoring.md,
"Provenance").
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, load_samples, replay_cli, run_records, run_summary, write_predictions
from typer.testing import CliRunner

from medunieval.backends import BACKENDS
from medunieval.cli import app
from medunieval.model_identity import fingerprint as model_fingerprint
from medunieval.types import Response

runner = CliRunner()
QUESTION = {
    "question": "Which option is right?",
    "options": {"A": "alpha", "B": "beta", "C": "gamma", "D": "delta"},
    "answer_idx": "B",
    "meta_info": "step1",
}


def _medqa(folder: Path, rows: list[dict[str, Any]]) -> Path:
    (folder / "medqa").mkdir(parents=True, exist_ok=True)
    (folder / "medqa" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def _fixture_rows(n: int) -> list[dict[str, Any]]:
    lines = (FIXTURES / "medqa_test.jsonl").read_text().splitlines()[:n]
    return [json.loads(x) for x in lines]


def _preds(path: Path, answers: dict[str, str], bench: str = "medqa") -> Path:
    return write_predictions(path, [(bench, k, v) for k, v in answers.items()])


def _run(tmp: Path, preds: Path, data: Path, *extra: object, run_id: str = "r1"):
    return replay_cli(tmp, preds, ["medqa"], *extra, data_dir=data, run_id=run_id)


def _compat(tmp: Path, run_id: str = "r1") -> tuple[int, int]:
    p = run_summary(tmp, "medqa", run_id)["profiles"]["compat"]
    return p["correct"], p["n"]


def _gold(rows: list[dict[str, Any]]) -> dict[str, str]:
    return {str(r["realidx"]): r["answer_idx"] for r in rows}


# ------------------------------------------------------------------------- 1. replay merging
def test_replay_never_lends_one_samples_answer_to_another(tmp_path):
    data = _medqa(tmp_path / "d", [{**QUESTION, "realidx": i} for i in "abc"])
    preds = _preds(tmp_path / "p.jsonl", {"a": "A", "b": "B", "c": "B"})
    res = _run(tmp_path, preds, data)
    assert res.exit_code == 0, res.output
    assert "generated 3" in res.output
    assert _compat(tmp_path) == (2, 3)
    # `a` without a prediction: only `a` is missing, b and c keep their own answers
    preds = _preds(tmp_path / "p2.jsonl", {"b": "B", "c": "B"})
    res = _run(tmp_path, preds, data, "--max-error-rate", "1", run_id="r2")
    assert res.exit_code == 0, res.output
    s = run_summary(tmp_path, "medqa", "r2")
    assert s["error_kinds"] == {"missing_prediction": 1} and _compat(tmp_path, "r2") == (2, 3)
    # sharded == single
    preds = _preds(tmp_path / "p.jsonl", {"a": "A", "b": "B", "c": "B"})
    shards = []
    for i in range(2):
        res = _run(tmp_path, preds, data, "--num-shards", "2", "--shard-index", i, run_id="sh")
        assert res.exit_code == 0, res.output
        shards.append(str(tmp_path / "runs" / f"sh-shard{i}of2"))
    merged = tmp_path / "merged"
    assert runner.invoke(app, ["merge", *shards, "--output", str(merged)]).exit_code == 0
    s = json.loads((merged / "medqa" / "summary.json").read_text())
    assert s["profiles"]["compat"]["correct"] == 2


def test_sampled_generation_is_one_request_per_sample_with_its_own_seed(tmp_path, monkeypatch):
    """Greedy identical requests are one generation; with temperature > 0 each sample is its
    own draw, seeded per sample (the same seed in a shard or a single run)."""
    seen: list[Any] = []
    _fake_hf(monkeypatch, seen)
    model = _model_folder(tmp_path / "m")
    data = _medqa(tmp_path / "d", [{**QUESTION, "realidx": i} for i in "abc"])
    assert _hf_run(tmp_path, model, data, "g").exit_code == 0
    assert len(seen) == 1  # greedy: three identical requests, one generation
    seen.clear()
    assert _hf_run(tmp_path, model, data, "t", "--temperature", "0.7").exit_code == 0
    assert len(seen) == 3 and len({r.params.seed for r in seen}) == 3
    seeds = {r.sample_id: r.params.seed for r in seen}
    seen.clear()
    args = ("--temperature", "0.7", "--num-shards", "2", "--shard-index", "1")
    assert _hf_run(tmp_path, model, data, "t2", *args, "--no-cache").exit_code == 0
    assert seen and all(seeds[r.sample_id] == r.params.seed for r in seen)


# ------------------------------------------------------------------------- 2. edited data
def test_edited_data_reruns_exactly_the_changed_records(tmp_path):
    rows = _fixture_rows(20)
    data = _medqa(tmp_path / "d", rows)
    preds = _preds(tmp_path / "p.jsonl", _gold(rows))
    assert _run(tmp_path, preds, data).exit_code == 0
    assert _compat(tmp_path) == (20, 20)
    first = json.loads((tmp_path / "runs" / "r1" / "manifest.json").read_text())
    for r in rows[:10]:  # new gold for 10 rows: the old answers are now wrong
        r["answer_idx"] = "A" if r["answer_idx"] != "A" else "B"
    _medqa(tmp_path / "d", rows)
    res = _run(tmp_path, preds, data)
    assert res.exit_code == 0, res.output
    assert "medqa: 10 records re-run: data changed" in res.output
    assert "already done 10" in res.output
    assert _compat(tmp_path) == (10, 20)
    golds = {r["sample_id"]: r["answer"] for r in run_records(tmp_path, "medqa")}
    assert all(golds[str(r["realidx"])] == r["answer_idx"] for r in rows)
    manifest = json.loads((tmp_path / "runs" / "r1" / "manifest.json").read_text())
    entry = manifest["benchmarks"]["medqa"]
    assert entry["data_fingerprint"] != first["benchmarks"]["medqa"]["data_fingerprint"]
    assert manifest["invocations"][-1]["rerun"] == {"medqa": {"data changed": 10}}
    # samples no longer in the data do not count (here, or in rescore)
    _medqa(tmp_path / "d", rows[:15])
    res = _run(tmp_path, preds, data)
    assert "medqa: 5 records dropped" in res.output
    assert run_summary(tmp_path, "medqa")["n"] == 15
    res = runner.invoke(app, ["rescore", str(tmp_path / "runs" / "r1")])
    assert res.exit_code == 0 and run_summary(tmp_path, "medqa")["n"] == 15


# ------------------------------------------------------------------- 3. regenerated predictions
def test_regenerated_predictions_rerun_their_records(tmp_path):
    rows = _fixture_rows(12)
    data = _medqa(tmp_path / "d", rows)
    gold = _gold(rows)
    preds = _preds(tmp_path / "p.jsonl", gold)
    assert _run(tmp_path, preds, data).exit_code == 0
    wrong = {k: ("A" if v != "A" else "B") for k, v in list(gold.items())[:4]}
    _preds(tmp_path / "p.jsonl", {**gold, **wrong})  # overwritten in place
    res = _run(tmp_path, preds, data)
    assert res.exit_code == 0, res.output
    assert "medqa: 4 records re-run: predictions changed" in res.output
    assert _compat(tmp_path) == (8, 12)


# ---------------------------------------------------------------------- 4. overwritten weights
def _model_folder(path: Path, weights: bytes = b"weights-v1") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text('{"model_type": "llama"}')
    (path / "model.safetensors").write_bytes(weights)
    return path


def _fake_hf(monkeypatch: pytest.MonkeyPatch, seen: list[Any]) -> type:
    """An ``hf`` backend that never loads anything: answers "B", records what it was asked."""

    class FakeHF:
        name = "hf"
        modalities = frozenset({"text", "image"})
        cacheable = True
        loads = 0

        def __init__(self, fp: str) -> None:
            self._fp = fp

        @classmethod
        def from_preset(cls, preset: Any, identity: str | None = None, device=None, **_: Any):
            cls.loads += 1
            return cls(identity or model_fingerprint(preset, device))

        def fingerprint(self) -> str:
            return self._fp

        def generate(self, requests):
            for req in requests:
                seen.append(req)
                yield req, Response(text="B", finish_reason="stop")

        def close(self) -> None:
            pass

    BACKENDS.get("hf")  # make sure the registry is populated before patching one entry
    monkeypatch.setitem(BACKENDS._items, "hf", FakeHF)
    return FakeHF


def _hf_run(tmp: Path, model: Path, data: Path, run_id: str, *extra: object):
    args = ["run", "--model", model, "--backend", "hf", "--device", "cpu", "--bench", "medqa"]
    args += ["--data-dir", data, "--output", tmp / "runs", "--run-id", run_id, *extra]
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_overwritten_weights_give_new_keys_and_cached_runs_load_nothing(tmp_path, monkeypatch):
    seen: list[Any] = []
    fake = _fake_hf(monkeypatch, seen)
    model = _model_folder(tmp_path / "m")
    data = _medqa(tmp_path / "d", _fixture_rows(6))
    res = _hf_run(tmp_path, model, data, "w1")
    assert res.exit_code == 0, res.output
    assert (fake.loads, len(seen)) == (1, 6)
    keys = {r["request_key"] for r in run_records(tmp_path, "medqa", "w1")}
    # same weights, another run id: every answer from the store, the model never constructed
    res = _hf_run(tmp_path, model, data, "w2")
    assert res.exit_code == 0 and "from cache 6" in res.output
    assert (fake.loads, len(seen)) == (1, 6)
    # the weights file overwritten in place: new keys, regenerated, said so
    (model / "model.safetensors").write_bytes(b"weights-v2")
    res = _hf_run(tmp_path, model, data, "w1")
    assert res.exit_code == 0, res.output
    assert "medqa: 6 records re-run: model changed" in res.output
    assert (fake.loads, len(seen)) == (2, 12)
    latest = {r["sample_id"]: r["request_key"] for r in run_records(tmp_path, "medqa", "w1")}
    assert len(latest) == 6 and not keys & set(latest.values())
    manifest = json.loads((tmp_path / "runs" / "w1" / "manifest.json").read_text())
    assert manifest["backend"]["fingerprint"] == model_fingerprint(manifest_preset(model), "cpu")


def manifest_preset(model: Path):
    from medunieval.presets import resolve_model

    return resolve_model(str(model), "hf")


# ---------------------------------------------------------------------- 5. generation flags
def test_new_generation_flags_under_the_same_run_id_rerun(tmp_path):
    rows = _fixture_rows(5)
    data = _medqa(tmp_path / "d", rows)
    preds = _preds(tmp_path / "p.jsonl", _gold(rows))
    assert _run(tmp_path, preds, data, "--max-new-tokens", "16").exit_code == 0
    res = _run(tmp_path, preds, data, "--max-new-tokens", "32")
    assert res.exit_code == 0, res.output
    assert "medqa: 5 records re-run: generation parameters changed" in res.output
    manifest = json.loads((tmp_path / "runs" / "r1" / "manifest.json").read_text())
    assert manifest["benchmarks"]["medqa"]["generation"]["max_new_tokens"] == 32
    assert manifest["config"]["max_new_tokens"] == 32
    assert [i["config"]["max_new_tokens"] for i in manifest["invocations"]] == [16, 32]


# ----------------------------------------------------------------------------- 6. judge outage
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_judge_leaves_answers_not_judged_never_wrong(tmp_path, data_root):
    pytest.importorskip("openai")
    samples = load_samples("vqa_rad", data_root)
    preds = write_predictions(tmp_path / "p.jsonl", [("vqa_rad", s.id, s.answer) for s in samples])
    preset = tmp_path / "judge.yaml"
    preset.write_text(json.dumps({
        "name": "down-judge", "model": "judge", "backend": "openai",
        "options": {"base_url": f"http://127.0.0.1:{_closed_port()}/v1", "max_retries": 0,
                    "timeout_s": 5},
    }))  # fmt: skip
    res = replay_cli(tmp_path, preds, ["vqa_rad"], "--judge", preset, data_dir=data_root)
    assert res.exit_code == 3, res.output
    assert "judged scores incomplete" in res.output
    s = run_summary(tmp_path, "vqa_rad")
    n_open = sum(x.answer_type == "open" for x in samples)
    assert s["judge"]["unavailable"] == n_open and s["judge"]["judged"] == 0
    for profile in ("strict", "compat"):
        assert s["profiles"][profile]["subscores"]["answer_type"]["open"]["score"] == 1.0
    opened = [r for r in run_records(tmp_path, "vqa_rad") if r["answer_type"] == "open"]
    assert all(r["scores"]["strict"]["not_judged"] for r in opened)
    assert all(r["judge"]["status"] == "unavailable" for r in opened)
    status = json.loads((tmp_path / "runs" / "r1" / "summary.json").read_text())["status"]
    assert status["exit_code"] == 3 and "judged scores incomplete" in status["problems"][0]


# ----------------------------------------------------------------------------- 7. all errors
def test_every_sample_an_error_exits_3(tmp_path, fresh_data):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    res = replay_cli(tmp_path, empty, ["medqa"], data_dir=fresh_data)
    assert res.exit_code == 3, res.output
    assert "medqa: 60 of 60 samples failed" in res.output
    status = json.loads((tmp_path / "runs" / "r1" / "summary.json").read_text())["status"]
    assert status["exit_code"] == 3 and "missing_prediction 60" in status["problems"][0]
    # all images missing
    for img in (fresh_data / "vqa_rad" / "images").iterdir():
        img.unlink()
    preds = write_predictions(tmp_path / "p.jsonl", [])
    res = replay_cli(tmp_path, preds, ["vqa_rad"], data_dir=fresh_data, run_id="r2")
    assert res.exit_code == 3 and "missing_media" in res.output
    # the threshold is a flag; misconfiguration stays exit 2
    res = replay_cli(tmp_path, empty, ["medqa"], "--max-error-rate", "1", data_dir=fresh_data)
    assert res.exit_code == 0, res.output
    assert replay_cli(tmp_path, empty, ["nope"], data_dir=fresh_data).exit_code == 2


def test_run_id_must_stay_inside_output(tmp_path, data_root):
    preds = write_predictions(tmp_path / "p.jsonl", [])
    for bad in ("../../x", "a/b", ".hidden", ".."):
        res = replay_cli(tmp_path, preds, ["medqa"], data_dir=data_root, run_id=bad)
        assert res.exit_code == 2 and "--run-id" in res.output, bad
    assert not (tmp_path.parent / "x").exists() and not (tmp_path / "x").exists()


# ------------------------------------------------------------------------------ the probe
def test_probe_each_input_in_turn(tmp_path, monkeypatch, scripted_judge):
    """One finished run; then data, predictions, flags, prompt template, judge preset and judge
    template change one at a time. Each re-runs exactly its records and says why; an unchanged
    re-run and a rescore re-run nothing."""
    from judge_helpers import ScriptedJudge

    from medunieval import judge as judge_mod
    from medunieval import prompts

    rows = _fixture_rows(8)
    data = _medqa(tmp_path / "d", rows)
    gold = _gold(rows)
    preds = _preds(tmp_path / "p.jsonl", gold)

    def again(*extra: object) -> str:
        res = _run(tmp_path, preds, data, *extra)
        assert res.exit_code == 0, res.output
        return res.output

    assert "re-run" not in again()
    out = again()
    assert "re-run" not in out and "already done 8" in out
    assert runner.invoke(app, ["rescore", str(tmp_path / "runs" / "r1")]).exit_code == 0
    assert "already done 8" in again()  # rescore does not make records stale

    rows[0]["question"] += " (edited)"
    _medqa(tmp_path / "d", rows)
    assert "1 records re-run: data changed" in again()
    _preds(tmp_path / "p.jsonl", {**gold, str(rows[1]["realidx"]): "C"})
    assert "1 records re-run: predictions changed" in again()
    assert "8 records re-run: generation parameters changed" in again("--top-p", "0.5")
    assert "8 records re-run: generation parameters changed" in again()  # and back
    monkeypatch.setitem(prompts.INSTRUCTIONS, ("en", "mcq", False), "Answer with a letter.")
    assert "8 records re-run: prompt changed" in again()

    # an old record without provenance (an earlier version) is re-run, not trusted
    path = tmp_path / "runs" / "r1" / "medqa" / "records.jsonl"
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    for r in recs:
        if r["sample_id"] == recs[0]["sample_id"]:
            r.pop("provenance")
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert "1 records re-run: no provenance" in again()

    # judged fields: the judge (its fingerprint) and its template
    vqa = tmp_path / "vqa"
    (vqa / "vqa_rad").mkdir(parents=True)
    vqa_rows = json.loads((FIXTURES / "vqa_rad_testset.json").read_text())[:6]
    (vqa / "vqa_rad" / "testset.json").write_text(json.dumps(vqa_rows))
    from medunieval.demo import synth_image

    for i, r in enumerate(vqa_rows):
        synth_image(vqa / "vqa_rad" / "images" / r["image_name"], seed=i)
    samples = load_samples("vqa_rad", vqa)
    vpreds = write_predictions(tmp_path / "v.jsonl", [("vqa_rad", s.id, s.answer) for s in samples])
    _, judge_yaml = scripted_judge
    n_open = sum(s.answer_type == "open" for s in samples)
    assert n_open

    def judged(yaml: Path) -> str:
        res = replay_cli(tmp_path, vpreds, ["vqa_rad"], "--judge", yaml, data_dir=vqa, run_id="j")
        assert res.exit_code == 0, res.output
        return res.output

    assert "re-run" not in judged(judge_yaml)
    assert "re-run" not in judged(judge_yaml)

    class OtherJudge(ScriptedJudge):
        def fingerprint(self) -> str:
            return "scripted-judge:v2"

    monkeypatch.setitem(BACKENDS._items, "scripted2", OtherJudge)
    other = tmp_path / "other-judge.yaml"
    other.write_text("name: other-judge\nmodel: scripted\nbackend: scripted2\n")
    assert f"vqa_rad: {n_open} records re-run: judge changed" in judged(other)
    original = judge_mod.template
    monkeypatch.setattr(judge_mod, "template", lambda name: original(name) + "\nBe strict.")
    assert f"vqa_rad: {n_open} records re-run: judge prompt changed" in judged(other)
    recs = run_records(tmp_path, "vqa_rad", "j")
    opened = [r for r in recs if r["answer_type"] == "open"]
    assert all(r["judge"]["fingerprint"] == "scripted-judge:v2" for r in opened)
    assert all(len(r["judge"]["template_sha256"]) == 64 for r in opened)


def test_an_unchanged_rerun_reruns_nothing(tmp_path, data_root):
    """Provenance is deterministic: the same inputs, read again, give the same digests."""
    from conftest import SIX, gold_response

    rows = [(b, s.id, gold_response(s)) for b in SIX for s in load_samples(b, data_root)]
    preds = write_predictions(tmp_path / "p.jsonl", rows)
    assert replay_cli(tmp_path, preds, SIX, data_dir=data_root).exit_code == 0
    res = replay_cli(tmp_path, preds, SIX, data_dir=data_root)
    assert res.exit_code == 0 and "re-run" not in res.output
    assert f"generated 0, from cache 0, already done {len(rows)}" in res.output


def test_resume_checks_media_digests_without_decoding(tmp_path, data_root, monkeypatch):
    """A finished run's records are verified from media digests alone; only samples that run
    again are decoded (here: the one whose image changed)."""
    import shutil

    from medunieval.data import parts

    data = tmp_path / "data"
    shutil.copytree(data_root / "vqa_rad", data / "vqa_rad")
    samples = load_samples("vqa_rad", data)[:10]
    preds = write_predictions(tmp_path / "p.jsonl", [("vqa_rad", s.id, s.answer) for s in samples])
    args = ("--limit", "10")
    assert replay_cli(tmp_path, preds, ["vqa_rad"], *args, data_dir=data).exit_code == 0
    decoded: list[str] = []
    real = parts.check_image
    monkeypatch.setattr(
        parts, "check_image", lambda d, src, *a: decoded.append(src) or real(d, src, *a)
    )
    res = replay_cli(tmp_path, preds, ["vqa_rad"], *args, data_dir=data)
    assert res.exit_code == 0 and "already done 10" in res.output and decoded == []
    from medunieval.demo import synth_image

    image = Path(samples[0].media[0].source)
    synth_image(image, seed=999)  # new pixels for the first sample's image
    res = replay_cli(tmp_path, preds, ["vqa_rad"], *args, data_dir=data)
    users = sum(1 for s in samples if s.media[0].source == str(image))
    assert f"{users} records re-run: data changed" in res.output
    assert len(decoded) == users
