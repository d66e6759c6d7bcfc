"""`medunieval report`: the self-contained HTML page, checked as data and in a real headless
browser (Debian chromium + chromedriver through Selenium; `.ci/run` installs them)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import gold_response, load_samples, replay_cli, write_predictions, wrong_response
from typer.testing import CliRunner

from medunieval.cli import app

runner = CliRunner()
N_WRONG, N_MISSING = 5, 3


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    """A vqa_rad replay run of 30 samples: 3 ids missing from the predictions (errors), 5 wrong
    answers, and one hedged answer on which strict and compat disagree."""
    tmp = tmp_path_factory.mktemp("report")
    samples = load_samples("vqa_rad", data_root)[:30]
    rows = []
    for i, s in enumerate(samples):
        if i < N_MISSING:
            continue
        text = wrong_response(s) if i < N_MISSING + N_WRONG else gold_response(s)
        if i == 8:
            assert s.answer == "Yes"
            text = "Yesterday"  # compat's substring rule finds "yes"; strict matches words
        rows.append(("vqa_rad", s.id, text))
    preds = write_predictions(tmp / "p.jsonl", rows)
    res = replay_cli(tmp, preds, ["vqa_rad"], "--limit", "30", data_dir=data_root)
    assert res.exit_code == 3, res.output  # 3 of 30 without a prediction (> 5% errors)
    return tmp / "runs" / "r1"


def _page_data(page: str) -> list[dict]:
    m = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    assert m
    return json.loads(m.group(1).replace("<\\/", "</"))


def test_report_page_content(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    res = runner.invoke(app, ["report", str(run_dir), "--output", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text()
    rows = _page_data(page)
    assert len(rows) == 30
    assert sum(r["error"] is not None for r in rows) == N_MISSING
    assert f"Errors ({N_MISSING})" in page
    assert all(r["thumb"].startswith("data:image/jpeg;base64,") for r in rows)  # local images
    assert "http://" not in page and "https://" not in page  # self-contained: no network
    assert "<table id='summary'>" in page and "answer_type" in page  # sub-scores
    wrong = sum(not r["strict"] for r in rows)
    assert wrong == N_MISSING + N_WRONG + 1
    disagree = [r["id"] for r in rows if r["error"] is None and r["strict"] != r["compat"]]
    assert len(disagree) == 1 and "compat ≠ strict (1)" in page
    default = run_dir / "report.html"
    assert runner.invoke(app, ["report", str(run_dir)]).exit_code == 0 and default.is_file()
    res = runner.invoke(app, ["report", str(tmp_path / "nope")])
    assert res.exit_code == 2


def test_report_paper_reference_for_a_known_preset(run_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["model"]["name"] = "Hulu-Med-7B"
    (run / "manifest.json").write_text(json.dumps(manifest))
    from medunieval.report import build_report

    page = build_report(run)
    assert "<td>78.0</td>" in page and "title='paper 78.0'" in page  # VQA-RAD, Table 1


def _chrome():
    webdriver = pytest.importorskip("selenium.webdriver")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("Debian chromium + chromium-driver are not installed (.ci/run installs them)")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver_path), options=opts)


def test_report_in_a_headless_browser(run_dir: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    out = tmp_path / "report.html"
    assert runner.invoke(app, ["report", str(run_dir), "--output", str(out)]).exit_code == 0
    driver = _chrome()
    try:
        driver.get(out.as_uri())
        body_rows = driver.find_elements(By.CSS_SELECTOR, "#records tbody tr")
        assert len(body_rows) == 30
        assert driver.find_element(By.ID, "count").text == "30 of 30 records"
        driver.find_element(By.CSS_SELECTOR, "button[data-filter='errors']").click()
        assert driver.find_element(By.ID, "count").text == f"{N_MISSING} of 30 records"
        assert len(driver.find_elements(By.CSS_SELECTOR, "#records tbody tr.err")) == N_MISSING
        driver.find_element(By.CSS_SELECTOR, "button[data-filter='wrong']").click()
        rows = driver.find_elements(By.CSS_SELECTOR, "#records tbody tr")
        assert len(rows) == N_MISSING + N_WRONG + 1
        driver.find_element(By.CSS_SELECTOR, "button[data-filter='disagree']").click()
        assert driver.find_element(By.ID, "count").text == "1 of 30 records"
        imgs = driver.find_elements(By.CSS_SELECTOR, "#records tbody img")
        assert imgs and all(
            driver.execute_script("return arguments[0].naturalWidth", i) > 0 for i in imgs
        )
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
    finally:
        driver.quit()
