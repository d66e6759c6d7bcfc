"""Every default hub source, loaded through the hub code path from a card-faithful local
stand-in (tests/hub_standins.py), mapped, prompted and scored by a replay run; the load-time
check against the recorded card; ``medunieval data list | fetch``; URL sha256 pins."""

from __future__ import annotations

import json
import re

import pytest
from conftest import gold_response, replay_cli, run_summary, write_predictions
from hub_standins import ROWS, build, hf_image, serve
from typer.testing import CliRunner

from medunieval.benchmarks import BENCHMARKS
from medunieval.cli import app
from medunieval.data import cards
from medunieval.errors import ConfigError

RECORDED = cards.all_cards  # the packaged cards (tests patch the table for slices)
HUB_BENCHES = sorted(n for n in BENCHMARKS.names() if BENCHMARKS.get(n).hub is not None)
VQA_RAD_REV = "0be11a5dbdd87e29586d0c9028153cb4f44dc877"


def test_every_hub_benchmark_has_a_recorded_card_matching_its_declaration():
    table = cards.all_cards()
    assert sorted(table) == HUB_BENCHES
    assert sorted(ROWS) == HUB_BENCHES  # and a stand-in
    for name in HUB_BENCHES:
        hub, card = BENCHMARKS.get(name).hub, table[name]
        assert (card.repo, card.split, card.config) == (hub.id, hub.split, hub.config), name
        assert card.revision == hub.revision, name
        if card.revision is None:
            assert card.unpinned, f"{name}: unpinned without a documented reason"
        else:
            assert re.fullmatch(r"[0-9a-f]{40}", card.revision), name
            assert card.evidence, f"{name}: pinned without the evidence seen"
        assert card.files, name


@pytest.mark.parametrize("bench", HUB_BENCHES)
def test_card_faithful_standin_loads_maps_prompts_and_scores(bench, tmp_path, monkeypatch):
    standin = build(tmp_path / "hub", bench)
    asked = serve(monkeypatch, [standin])
    b = BENCHMARKS.get(bench)
    samples = b.samples(b.load_raw(None))
    assert samples, bench
    assert [s.error for s in samples if s.error] == [], bench
    for s in samples:
        assert s.question in b.prompt(s) or b.prompt_builder is not None
    assert asked and all(rev == b.hub.revision for _, rev in asked), asked
    preds = write_predictions(
        tmp_path / "preds.jsonl", [(bench, s.id, gold_response(s) or "A") for s in samples]
    )
    res = replay_cli(tmp_path, preds, [bench])
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "runs" / "r1" / "manifest.json").read_text())
    entry = manifest["benchmarks"][bench]
    assert entry["data_revision"] == b.hub.revision
    assert entry["data_check"]
    if b.hub.revision is None:
        assert "not pinned to a revision" in res.output
    summary = run_summary(tmp_path, bench)
    assert summary["n"] == len(samples) and summary["errors"] == 0, summary
    if b.answers_public:
        assert summary["profiles"]["strict"]["score"] == 1.0, summary["profiles"]["strict"]
    else:
        assert (tmp_path / "runs" / "r1" / bench / "submission.json").is_file()


def _vqa_rad_run(tmp_path, monkeypatch, rows, *extra, features=None):
    standin = build(tmp_path / "hub", "vqa_rad", rows, features)
    asked = serve(monkeypatch, [standin])
    monkeypatch.setattr(cards, "all_cards", RECORDED)  # the recorded card, not a slice
    preds = write_predictions(tmp_path / "p.jsonl", [("vqa_rad", "0", "yes")])
    # one prediction for the whole split: errors by design (the exit policy is tested elsewhere)
    return replay_cli(tmp_path, preds, ["vqa_rad"], "--max-error-rate", "1", *extra), asked


def _error_line(output: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, output
    return lines[0]


def _features(**types: str):
    import datasets

    return datasets.Features({k: cards.parse_type(v) for k, v in types.items()})


def test_renamed_feature_stops_with_one_line_naming_it_and_the_revision(tmp_path, monkeypatch):
    rows = [
        {"image": r["image"], "questions": r["question"], "answer": r["answer"]}
        for r in ROWS["vqa_rad"](451)
    ]
    feats = _features(image="image", questions="string", answer="string")
    res, _ = _vqa_rad_run(tmp_path, monkeypatch, rows, features=feats)
    assert res.exit_code == 2
    line = _error_line(res.output)
    assert "feature 'question' (string) missing" in line
    assert "unexpected feature 'questions' (string)" in line
    assert f"--data-revision vqa_rad={VQA_RAD_REV}" in line
    assert not (tmp_path / "runs" / "r1" / "vqa_rad" / "records.jsonl").exists()


def test_retyped_feature_is_named(tmp_path, monkeypatch):
    rows = [{**r, "answer": i} for i, r in enumerate(ROWS["vqa_rad"](451))]
    feats = _features(image="image", question="string", answer="int64")
    res, _ = _vqa_rad_run(tmp_path, monkeypatch, rows, features=feats)
    assert res.exit_code == 2
    assert "feature 'answer' is int64, card says string" in _error_line(res.output)


def test_dropped_rows_stop_with_the_count(tmp_path, monkeypatch):
    res, _ = _vqa_rad_run(tmp_path, monkeypatch, ROWS["vqa_rad"](450))
    assert res.exit_code == 2
    line = _error_line(res.output)
    assert "450 rows, card says 451" in line and VQA_RAD_REV in line


def test_latest_revision_proceeds_with_a_loud_warning(tmp_path, monkeypatch):
    res, asked = _vqa_rad_run(
        tmp_path, monkeypatch, ROWS["vqa_rad"](450), "--data-revision", "vqa_rad=latest"
    )
    assert res.exit_code == 0, res.output
    assert asked == [("flaviagiammarino/vqa-rad", None)]  # the default branch
    assert "WARNING: vqa_rad:" in res.output and "450 rows, card says 451" in res.output
    manifest = json.loads((tmp_path / "runs" / "r1" / "manifest.json").read_text())
    entry = manifest["benchmarks"]["vqa_rad"]
    assert entry["data_revision"] is None and entry["data_check"].startswith("latest revision")
    assert manifest["config"]["data_revision"] == {"vqa_rad": "latest"}


def test_another_revision_is_passed_to_the_hub_and_still_checked(tmp_path, monkeypatch):
    res, asked = _vqa_rad_run(
        tmp_path, monkeypatch, ROWS["vqa_rad"](451), "--data-revision", "deadbeef"
    )
    assert res.exit_code == 0, res.output
    assert asked == [("flaviagiammarino/vqa-rad", "deadbeef")]
    assert (
        "match the recorded card of 2023-06-03"
        in json.loads((tmp_path / "runs" / "r1" / "manifest.json").read_text())["benchmarks"][
            "vqa_rad"
        ]["data_check"]
    )


def test_bad_data_revision_values_are_config_errors(tmp_path):
    preds = write_predictions(tmp_path / "p.jsonl", [("vqa_rad", "0", "yes")])
    for bad in ("nosuchbench=main", "vqa_rad=", "vqa_rad=a b"):
        res = replay_cli(tmp_path, preds, ["vqa_rad"], "--data-revision", bad)
        assert res.exit_code == 2, (bad, res.output)
        assert "error:" in res.output


def test_type_notation_round_trips():
    for text in (
        "string",
        "int64",
        "image",
        "class_label[a,b,c,d]",
        "list<string>",
        "struct{A:string,B:list<int64>}",
    ):
        assert cards.feature_type(cards.parse_type(text)) == text


def test_struct_field_order_does_not_matter_but_names_and_types_do():
    card = cards.card_for("medqa")
    got = dict(card.features)
    got["options"] = "struct{D:string,C:string,B:string,A:string}"
    assert cards.differences(card, got, card.rows) == []
    got["options"] = "struct{A:string,B:string,C:string,E:string}"
    assert cards.differences(card, got, card.rows) == [
        "feature 'options' is struct{A:string,B:string,C:string,E:string}, card says "
        "struct{A:string,B:string,C:string,D:string}"
    ]
    del got["options"]
    got["extra"] = "string"  # not a card schema: extra fields pass, missing ones do not
    assert cards.differences(card, got, 5) == [
        "feature 'options' (struct{A:string,B:string,C:string,D:string}) missing",
        "5 rows, card says 1273",
    ]


# ------------------------------------------------------------------------- data list / fetch
runner = CliRunner()


def test_data_list_shows_revision_split_rows_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    snap = tmp_path / "hub-cache" / "datasets--flaviagiammarino--vqa-rad" / "snapshots"
    (snap / VQA_RAD_REV).mkdir(parents=True)
    res = runner.invoke(app, ["data", "list", "--bench", "vqa_rad,medqa,mmlu_med,healthbench"])
    assert res.exit_code == 0, res.output
    lines = {ln.split("│")[1].strip(): ln for ln in res.output.splitlines() if "│" in ln}
    assert "0be11a5dbdd8" in lines["vqa_rad"] and "451" in lines["vqa_rad"]
    assert lines["vqa_rad"].rstrip(" │").endswith("yes")
    assert "1,273" in lines["medqa"] and lines["medqa"].rstrip(" │").endswith("no")
    assert "unpinned" in lines["mmlu_med"] and "unpinned" in lines["healthbench"]


def test_data_fetch_downloads_and_verifies_each_source(tmp_path, monkeypatch):
    vqa = build(tmp_path / "hub", "vqa_rad")
    medqa = build(tmp_path / "hub", "medqa")
    serve(monkeypatch, [vqa, medqa])
    res = runner.invoke(app, ["data", "fetch", "--bench", "vqa_rad,medqa,iu_xray"])
    assert res.exit_code == 0, res.output
    assert "ok    vqa_rad: 451 rows at 0be11a5dbdd8" in res.output
    assert "ok    medqa:" in res.output and "skip  iu_xray" in res.output


def test_data_fetch_fails_fast_on_a_changed_source(tmp_path, monkeypatch):
    rows = [{"image": hf_image(), "question": "q", "answer": "a", "extra": "x"}] * 3
    feats = _features(image="image", question="string", answer="string", extra="string")
    serve(monkeypatch, [build(tmp_path / "hub", "vqa_rad", rows, feats)])
    monkeypatch.setattr(cards, "all_cards", RECORDED)
    res = runner.invoke(app, ["data", "fetch", "--bench", "vqa_rad"])
    assert res.exit_code == 2
    assert "FAIL  vqa_rad:" in res.output and "unexpected feature 'extra'" in res.output


# ------------------------------------------------------------------------- URL sha256 pins
def test_url_source_is_checked_against_its_pinned_sha256(tmp_path, monkeypatch):
    import hashlib

    from medunieval.data.download import fetch_url

    monkeypatch.setenv("MEDUNIEVAL_DATA_CACHE", str(tmp_path))
    url = "https://example.invalid/files/data.jsonl"
    local = tmp_path / "bench" / "data.jsonl"
    local.parent.mkdir()
    local.write_text('{"a": 1}\n')
    good = hashlib.sha256(local.read_bytes()).hexdigest()
    assert fetch_url(url, "bench", good) == local
    with pytest.raises(ConfigError, match="pinned value is 0000"):
        fetch_url(url, "bench", "0000" + good[4:])
