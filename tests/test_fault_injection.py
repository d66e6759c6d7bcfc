"""Fault injection through the CLI (issue 12): hostile data and media, damaged run files,
impossible settings and failing writes. Each case asserts the documented outcome — a sample's
error kind with the run going on, a warning and the good records kept, or exit code 2 with
one line on stderr and no traceback — and that nothing written before is lost."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import sqlite3
import stat
import struct
import time
import zlib
from pathlib import Path

import pytest
from conftest import gold_response, load_samples, replay_cli, write_predictions
from typer.testing import CliRunner

from medunieval.cli import app

runner = CliRunner()  # stdout and stderr apart (click >= 8.2)


def cli(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def one_line_exit_2(res) -> str:
    """The outcome promised for misconfiguration: exit 2, one line on stderr, no traceback."""
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    assert res.exception is None or isinstance(res.exception, SystemExit)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error: "), res.stderr
    assert "Traceback" not in res.output + res.stderr
    return lines[-1]


def bomb_png() -> bytes:
    """``Image.new("1", (30000, 30000))`` as PNG, written directly (Pillow takes 5 s)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    comp = zlib.compressobj(9)
    row = b"\0" * (1 + 30000 // 8)
    idat = b"".join(comp.compress(row) for _ in range(30000)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def records(run: Path, bench: str) -> dict[str, dict]:
    lines = (run / bench / "records.jsonl").read_bytes().splitlines()
    return {r["sample_id"]: r for r in map(json.loads, lines)}


def gold_preds(tmp: Path, bench: str, data_root: Path) -> Path:
    rows = [(bench, s.id, gold_response(s)) for s in load_samples(bench, data_root)]
    return write_predictions(tmp / f"{bench}-preds.jsonl", rows)


# ------------------------------------------------------------------- a single hostile input
def test_decompression_bomb_is_one_samples_error_and_reruns_survive(
    tmp_path: Path, fresh_data: Path
) -> None:
    rows = json.loads((fresh_data / "vqa_rad" / "testset.json").read_text())
    (fresh_data / "vqa_rad" / "images" / rows[1]["image_name"]).write_bytes(bomb_png())
    preds = gold_preds(tmp_path, "vqa_rad", fresh_data)
    for _ in range(2):  # the re-run (which retries failed samples) does not die either
        res = replay_cli(tmp_path, preds, ["vqa_rad"], "--limit", "4", data_dir=fresh_data)
        assert res.exit_code == 3, res.output  # 1 of 4 failed: the exit policy says so
        recs = records(tmp_path / "runs" / "r1", "vqa_rad")
        bad = recs[str(rows[1]["qid"])]
        assert bad["error"]["kind"] == "media_too_large"
        assert "900000000 pixels" in bad["error"]["reason"]
        assert sum(r["error"] is None for r in recs.values()) == 3
    res = cli("report", tmp_path / "runs" / "r1")  # its thumbnail is skipped, not a crash
    assert res.exit_code == 0, res.output
    # the limit is a flag: a tiny one makes every image too large, the run still finishes
    res = replay_cli(tmp_path, preds, ["vqa_rad"], "--limit", "1", "--max-image-pixels", "100",
                     data_dir=fresh_data, run_id="tiny")  # fmt: skip
    assert res.exit_code == 3, res.output  # finished, every sample an error
    kinds = {r["error"]["kind"] for r in records(tmp_path / "runs" / "tiny", "vqa_rad").values()}
    assert kinds == {"media_too_large"}


def test_unparseable_jsonl_rows_are_row_errors(tmp_path: Path, fresh_data: Path) -> None:
    path = fresh_data / "medqa" / "test.jsonl"
    lines = path.read_bytes().splitlines()
    lines[1] = b"[" * 200_000  # RecursionError in json
    lines[2] = b'{"question": "caf\xe9"}'  # not UTF-8
    lines[3] = b'{"question": '  # not JSON
    path.write_bytes(b"\n".join(lines[:8]) + b"\n")
    preds = gold_preds(tmp_path, "medqa", fresh_data)
    res = replay_cli(tmp_path, preds, ["medqa"], data_dir=fresh_data)
    assert res.exit_code == 3, res.output  # finished; 3 of 8 rows are errors
    recs = records(tmp_path / "runs" / "r1", "medqa")
    assert len(recs) == 8
    errors = sorted(r["error"]["reason"] for r in recs.values() if r["error"])
    assert len(errors) == 3 and all(r["error"]["kind"] == "malformed_row" for r in recs.values()
                                    if r["error"])  # fmt: skip
    assert any("nested too deeply" in e for e in errors) and any("UTF-8" in e for e in errors)
    summary = json.loads((tmp_path / "runs" / "r1" / "medqa" / "summary.json").read_text())
    assert summary["n"] == 8 and summary["errors"] == 3


def test_unparseable_csv_record_is_a_row_error(tmp_path: Path) -> None:
    from medunieval.data.sources import read_local

    path = tmp_path / "test.csv"
    path.write_text('question,answer\nq1,A\n"' + "x" * 200_000 + '",B\nq3,C\n')
    rows = read_local(path).rows
    assert rows[0] == {"question": "q1", "answer": "A"} and rows[2]["answer"] == "C"
    assert "field larger than field limit" in rows[1]["_malformed"]


def test_damaged_parquet_and_json_files_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "medqa").mkdir()
    (tmp_path / "medqa" / "test.parquet").write_bytes(b"PAR1 not really parquet PAR1")
    args = ["run", "--model", "m", "--backend", "replay", "--predictions", tmp_path / "p.jsonl",
            "--bench", "medqa", "--data-dir", tmp_path, "--output", tmp_path / "runs"]  # fmt: skip
    (tmp_path / "p.jsonl").write_text("")
    assert "test.parquet" in one_line_exit_2(cli(*args))
    (tmp_path / "medqa" / "test.parquet").unlink()
    (tmp_path / "mmlu_pro_med").mkdir()
    (tmp_path / "mmlu_pro_med" / "test.json").write_text("[" * 200_000)
    args[args.index("medqa")] = "mmlu_pro_med"
    assert "nested too deeply" in one_line_exit_2(cli(*args))


# ------------------------------------------------------------------ readers of our own files
DAMAGE = [b"null", b"[1,2]", b'{"sample_id": "x\xff"}', b"not json"]


def _string_response(line: bytes) -> bytes:
    rec = json.loads(line)
    rec["response"] = "a plain string"
    return json.dumps(rec).encode()


@pytest.fixture()
def damaged_run(tmp_path: Path, data_root: Path) -> tuple[Path, Path, int]:
    """A finished medqa replay run of 12 samples whose records.jsonl then gets damaged lines
    (null, a list, non-UTF-8, not JSON, a string response) and a last line torn inside a
    UTF-8 character. Returns (run dir, predictions, good records)."""
    preds = gold_preds(tmp_path, "medqa", data_root)
    res = replay_cli(tmp_path, preds, ["medqa"], "--limit", "12", data_dir=data_root)
    assert res.exit_code == 0, res.output
    run = tmp_path / "runs" / "r1"
    path = run / "medqa" / "records.jsonl"
    lines = path.read_bytes().splitlines()
    damaged = lines[:3] + DAMAGE + [_string_response(lines[3])] + lines[4:]
    torn = json.dumps({"sample_id": "é" * 3}, ensure_ascii=False).encode()[:-6]
    path.write_bytes(b"\n".join(damaged) + b"\n" + torn[: torn.index(b"\xc3") + 1])
    return run, preds, 11  # sample 3's only record is the damaged one


def test_damaged_records_are_skipped_counted_and_kept(damaged_run, tmp_path: Path) -> None:
    run, preds, good = damaged_run
    res = cli("rescore", run)
    assert res.exit_code == 0, res.output
    assert res.stderr.count("warning:") == 2  # the count, then where the lines were kept
    assert "skipped 6 damaged line(s)" in res.stderr and f"{good} record(s) read" in res.stderr
    assert len(records(run, "medqa")) == good
    kept = (run / "medqa" / "records.skipped").read_bytes()
    assert all(d in kept for d in DAMAGE) and b"a plain string" in kept
    summary = json.loads((run / "medqa" / "summary.json").read_text())
    assert summary["n"] == good

    out = tmp_path / "report.html"
    assert cli("report", run, "--output", out).exit_code == 0 and out.is_file()
    assert cli("regress", "--baseline", run, "--candidate", run).exit_code == 0
    assert cli("leaderboard", "--runs", run.parent, "--table", "1").exit_code == 0


def test_damaged_records_before_rescore_report_and_resume(damaged_run, data_root) -> None:
    run, preds, good = damaged_run
    res = cli("report", run)
    assert res.exit_code == 0 and "skipped 6 damaged line(s)" in res.stderr, res.output
    res = cli("regress", "--baseline", run, "--candidate", run)
    assert res.exit_code == 0 and "skipped 6 damaged line(s)" in res.stderr
    res = cli("compare", run, run, "--format", "json")
    assert res.exit_code == 0 and "skipped 6 damaged line(s)" in res.stderr, res.output
    # resume: the torn tail is cut, the damaged sample is generated again, nothing good lost
    res = replay_cli(run.parent.parent, preds, ["medqa"], "--limit", "12", data_dir=data_root)
    assert res.exit_code == 0, res.output
    assert "generated 1, from cache 0, already done 11" in res.stderr
    from medunieval.rundir import RunDir

    recs = RunDir(run, on_warning=lambda _m: None).read_records("medqa")
    assert len(recs) == 12 and all(not r.failed for r in recs)
    assert not (run / "medqa" / "records.jsonl").read_bytes().endswith(b"\xc3")  # torn tail cut


def test_damaged_manifest_and_summaries(tmp_path: Path, data_root: Path) -> None:
    preds = gold_preds(tmp_path, "medqa", data_root)
    assert replay_cli(tmp_path, preds, ["medqa"], "--limit", "5", data_dir=data_root).exit_code == 0
    run = tmp_path / "runs" / "r1"
    text = (run / "summary.json").read_text()
    (run / "summary.json").write_text(text[: len(text) // 2])  # truncated
    line = one_line_exit_2(cli("report", run))
    assert "summary.json is damaged" in line and "rescore" in line
    one_line_exit_2(cli("regress", "--baseline", run, "--candidate", run))
    res = cli("leaderboard", "--runs", run.parent, "--table", "1")  # a folder: skip + warn
    assert res.exit_code == 0 and "run skipped" in res.stderr, res.output
    assert cli("rescore", run).exit_code == 0  # rebuilds it
    assert json.loads((run / "summary.json").read_text())["benchmarks"]["medqa"]["n"] == 5

    manifest = (run / "manifest.json").read_bytes()
    (run / "manifest.json").write_bytes(manifest[:100])
    res = cli("rescore", run)
    assert res.exit_code == 0 and "manifest.json is damaged" in res.stderr
    (run / "medqa" / "summary.json").write_text('{"n": 5, "profi')
    res = cli("rescore", run)
    assert res.exit_code == 0 and "it is rebuilt" in res.stderr
    res = replay_cli(tmp_path, preds, ["medqa"], "--limit", "5", data_dir=data_root)
    assert res.exit_code == 0 and "kept as manifest.json.damaged" in res.stderr, res.output
    assert (run / "manifest.json.damaged").read_bytes() == manifest[:100]  # nothing lost
    assert json.loads((run / "manifest.json").read_text())["invocations"]
    assert len(records(run, "medqa")) == 5


def test_merge_with_damaged_shards(tmp_path: Path, data_root: Path) -> None:
    preds = gold_preds(tmp_path, "medqa", data_root)
    shards = []
    for i in range(2):
        res = replay_cli(tmp_path, preds, ["medqa"], "--limit", "6", "--num-shards", "2",
                         "--shard-index", str(i), data_dir=data_root, run_id="s")  # fmt: skip
        assert res.exit_code == 0, res.output
        shards.append(tmp_path / "runs" / f"s-shard{i}of2")
    with (shards[0] / "medqa" / "records.jsonl").open("ab") as fh:
        fh.write(b"null\n\xff\xfe\n")
    (shards[1] / "medqa" / "summary.json").write_text("{")
    out = tmp_path / "merged"
    res = cli("merge", *shards, "--output", out)
    assert res.exit_code == 0, res.output
    assert "skipped 2 damaged line(s)" in res.stderr and "counts are left out" in res.stderr
    assert len(records(out, "medqa")) == 6
    (shards[1] / "manifest.json").write_text('{"run_id": ')
    assert "manifest.json is damaged" in one_line_exit_2(cli("merge", *shards, "--output", out))


def test_temp_files_are_cleaned_and_files_respect_the_umask(tmp_path, data_root) -> None:
    preds = gold_preds(tmp_path, "medqa", data_root)
    assert replay_cli(tmp_path, preds, ["medqa"], "--limit", "3", data_dir=data_root).exit_code == 0
    run = tmp_path / "runs" / "r1"
    names = [
        "medqa/.records.k3j_x9q2",
        ".summary.json.abcd1234",
        ".manifest.json.zz_99yy0",
        "medqa/.summary.json.q1w2e3r4",
    ]
    leftovers = [run / n for n in names]
    for f in leftovers:
        f.write_text("partial")
    keep = run / ".my-notes"
    keep.write_text("mine")
    old = os.umask(0o022)
    try:
        assert cli("rescore", run).exit_code == 0
    finally:
        os.umask(old)
    assert not any(f.exists() for f in leftovers) and keep.exists()
    for f in (
        run / "summary.json",
        run / "medqa" / "summary.json",
        run / "medqa" / "records.jsonl",
    ):
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, f
    for f in leftovers[:2]:
        f.write_text("partial")
    assert replay_cli(tmp_path, preds, ["medqa"], "--limit", "3", data_dir=data_root).exit_code == 0
    assert not any(f.exists() for f in leftovers)
    assert stat.S_IMODE((run / "manifest.json").stat().st_mode) == 0o666 & ~old


# ------------------------------------------------------------ one line instead of a traceback
def _replay_args(tmp: Path, preds: Path, data_root: Path, *extra: object) -> list[object]:
    return ["run", "--model", "m", "--backend", "replay", "--predictions", preds, "--bench",
            "medqa", "--data-dir", data_root, "--output", tmp / "runs", *extra]  # fmt: skip


def test_impossible_settings_stop_with_one_line(tmp_path: Path, data_root: Path) -> None:
    preds = gold_preds(tmp_path, "medqa", data_root)
    t0 = time.monotonic()
    line = one_line_exit_2(cli(*_replay_args(tmp_path, preds, data_root, "--device", "cuda")))
    assert "CUDA is not available" in line and time.monotonic() - t0 < 15
    assert "not a device" in one_line_exit_2(
        cli(*_replay_args(tmp_path, preds, data_root, "--device", "banana"))
    )
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert "is a file" in one_line_exit_2(
        cli(*_replay_args(afile.parent, preds, data_root, "--output", afile))
    )
    # an API model: the store is checked before any request (no server is needed for that)
    api = ["run", "--model", "gpt-4.1", "--bench", "medqa", "--data-dir", data_root,
           "--output", tmp_path / "runs", "--limit", "2"]  # fmt: skip
    assert "is a folder" in one_line_exit_2(cli(*api, "--cache", tmp_path))
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    assert "not a response store" in one_line_exit_2(cli(*api, "--cache", junk))
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"id": "0", "response": "A"}\n{"id": "1", "response": "caf\xe9"}\n')
    line = one_line_exit_2(cli(*_replay_args(tmp_path, bad, data_root)))
    assert "line 2: not UTF-8" in line


def test_a_store_with_a_corrupt_page(tmp_path: Path) -> None:
    from medunieval.store import ResponseStore
    from medunieval.types import Response

    path = tmp_path / "responses.sqlite"
    store = ResponseStore(path)
    store.put_many((f"k{i}", "fp", Response(text="x" * 500)) for i in range(200))
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[4096 : 2 * 4096] = b"\xff" * 4096  # page 2, the table's root page, overwritten
    path.write_bytes(bytes(data))
    line = one_line_exit_2(cli("cache", "--path", path))
    assert "malformed" in line and "move it aside" in line


def test_read_only_output_and_cache(tmp_path: Path, data_root: Path, monkeypatch) -> None:
    # as root chmod does not stop writes, so the OS error is simulated
    import medunieval.preflight as preflight

    preds = gold_preds(tmp_path, "medqa", data_root)

    def read_only(*_a, **_k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(preflight.tempfile, "mkstemp", read_only)
    line = one_line_exit_2(cli(*_replay_args(tmp_path, preds, data_root)))
    assert "--output" in line and "read-only" in line
    api = ["run", "--model", "gpt-4.1", "--bench", "medqa", "--data-dir", data_root,
           "--output", tmp_path / "runs", "--cache", tmp_path / "c" / "r.sqlite"]  # fmt: skip
    monkeypatch.setattr(preflight, "check_output", lambda _p: None)
    assert "--cache" in one_line_exit_2(cli(*api))


def test_disk_full_while_writing_records(tmp_path: Path, data_root: Path, monkeypatch) -> None:
    import medunieval.rundir as rundir

    preds = gold_preds(tmp_path, "medqa", data_root)
    args = _replay_args(tmp_path, preds, data_root, "--run-id", "full")
    assert cli(*args, "--limit", "5").exit_code == 0
    real = os.fsync

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rundir.os, "fsync", full)
    line = one_line_exit_2(cli(*args, "--limit", "9"))
    assert "the disk is full" in line and "5 record line(s) of medqa are safe" in line
    assert "re-run the same command to resume" in line
    assert (
        len((tmp_path / "runs" / "full" / "medqa" / "records.jsonl").read_bytes().splitlines()) == 5
    )
    monkeypatch.setattr(rundir.os, "fsync", real)
    res = cli(*args, "--limit", "9")
    assert res.exit_code == 0 and "generated 4, from cache 0, already done 5" in res.stderr


def test_disk_full_in_the_store(tmp_path: Path) -> None:
    from medunieval.store import ResponseStore, StoreError
    from medunieval.types import Response

    store = ResponseStore(tmp_path / "s.sqlite")

    class Full:
        in_transaction = False

        def execute(self, sql, *a):
            if sql.startswith("BEGIN"):
                raise sqlite3.OperationalError("database or disk is full")

    real, store._db = store._db, Full()
    with pytest.raises(StoreError, match="disk is full.*re-run"):
        store.put_many([("k", "fp", Response(text="x"))])
    store._db = real
    store.close()


# ---------------------------------------------------------------- the same media verdicts
def _half_jpeg(data_root: Path) -> str:
    from PIL import Image

    rows = json.loads((data_root / "vqa_rad" / "testset.json").read_text())
    path = data_root / "vqa_rad" / "images" / rows[0]["image_name"]
    buf = io.BytesIO()
    Image.effect_noise((256, 256), 60).convert("RGB").save(buf, "JPEG", quality=90)
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return str(rows[0]["qid"])


def test_half_a_jpeg_is_corrupt_media_on_replay_and_openai(
    tmp_path: Path, fresh_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fake_chat_server import FakeChatServer

    qid = _half_jpeg(fresh_data)
    preds = gold_preds(tmp_path, "vqa_rad", fresh_data)
    res = replay_cli(tmp_path, preds, ["vqa_rad"], "--limit", "3", data_dir=fresh_data)
    assert res.exit_code == 3, res.output  # 1 of 3 failed: the exit policy says so
    assert records(tmp_path / "runs" / "r1", "vqa_rad")[qid]["error"]["kind"] == "corrupt_media"
    monkeypatch.setenv("MUE_TEST_KEY", "sk-test")
    with FakeChatServer(answer="yes") as server:
        preset = tmp_path / "api.yaml"
        preset.write_text(json.dumps({"name": "fake", "model": "fake", "backend": "openai",
                                      "options": {"base_url": server.base_url,
                                                  "api_key_env": "MUE_TEST_KEY"}}))  # fmt: skip
        res = cli("run", "--model", preset, "--bench", "vqa_rad", "--data-dir", fresh_data,
                  "--limit", "3", "--output", tmp_path / "runs", "--run-id", "api")  # fmt: skip
        assert res.exit_code == 3, res.output
        assert len(server.log) == 2  # the broken image is never sent
    assert records(tmp_path / "runs" / "api", "vqa_rad")[qid]["error"]["kind"] == "corrupt_media"


def test_rad3d_one_release_csv_reads_like_several(tmp_path: Path) -> None:
    from media_synth import FIX, make_nifti

    rad = tmp_path / "rad3d"  # the rad3d part of media_synth.build_media_root
    shutil.copytree(FIX / "rad3d", rad)
    make_nifti(rad / "valid_1_a_1.nii.gz", seed=1)
    make_nifti(rad / "valid_2_a_1.nii.gz", seed=2)
    csvs = sorted(rad.glob("test/Task*/*.csv"))
    assert len(csvs) >= 2
    for extra in csvs[1:]:
        shutil.rmtree(extra.parent) if len(list(extra.parent.iterdir())) == 1 else extra.unlink()
    kept = sorted(rad.glob("test/Task*/*.csv"))
    assert len(kept) == 1
    preds = write_predictions(tmp_path / "p.jsonl", [("rad3d", str(i), "A") for i in range(3)])
    res = replay_cli(tmp_path, preds, ["rad3d"], data_dir=rad)
    assert res.exit_code == 0, res.output
    recs = records(tmp_path / "runs" / "r1", "rad3d")
    assert recs and all(r["error"] is None for r in recs.values())
    assert {r["meta"]["task"] for r in recs.values()} == {"Image Observation"}
    assert all(r["meta"]["subtask"] == "Anatomical observation" for r in recs.values())


# ------------------------------------------------------------------ the HTML report
HOSTILE = [
    "<!--<script>",
    "</script><script>window.__pwned = 1</script>",
    "</SCRIPT >--><!-- unterminated",
    "<![CDATA[ ]]> ]]> <!DOCTYPE x>",
    "line\u2028separator\u2029paragraph",
    "nul\x00byte and \x01 control",
    "\u202eright-to-left override\u202c and \u200f marks",
    "&amp; &lt;b&gt; &#x3c;script&#x3e; &nbsp; &",
    '<img src=x onerror="window.__pwned = 2">',
    "\\u003c/script\\u003e and \\\\ backslashes \" quotes '",
    "emoji \U0001d518 \U0001f600 and combining e\u0301",
    "x" * 3000 + "</script>",
]


def test_hostile_responses_render_verbatim_in_chromium(tmp_path: Path, data_root: Path) -> None:
    from test_report import _chrome

    samples = load_samples("medqa", data_root)[: len(HOSTILE) + 1]
    huge = "<!--" + "y" * 20_000 + "</script>"
    texts = [*HOSTILE, huge]
    preds = write_predictions(
        tmp_path / "p.jsonl", [("medqa", s.id, t) for s, t in zip(samples, texts, strict=True)]
    )
    limit = str(len(texts))
    assert (
        replay_cli(tmp_path, preds, ["medqa"], "--limit", limit, data_dir=data_root).exit_code == 0
    )
    out = tmp_path / "report.html"
    assert cli("report", tmp_path / "runs" / "r1", "--output", out).exit_code == 0
    page = out.read_text(encoding="utf-8")
    data = page.split('<script type="application/json" id="data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data and "\u2028" not in data and "\u2029" not in data
    driver = _chrome()
    try:
        driver.get(out.as_uri())
        shown = driver.execute_script(
            "return [...document.querySelectorAll('#records tbody tr')]"
            ".map(tr => [tr.cells[1].textContent, tr.cells[4].textContent]);"
        )
        assert driver.execute_script("return window.__pwned === undefined")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        driver.quit()
    by_id = dict(shown)
    assert len(by_id) == len(texts)
    from medunieval.report import MAX_TEXT

    for s, text in zip(samples, texts, strict=True):
        expected = text if len(text) <= MAX_TEXT else text[:MAX_TEXT]
        assert by_id[s.id].startswith(expected), (s.id, by_id[s.id][:80])
        if len(text) <= MAX_TEXT:
            assert by_id[s.id] == text
    assert errors == []
