"""The UCI Sentiment Labelled Sentences sources and the GloVe vectors: fetching them (a mirror directory, or the
published archive checked against its sha256) and reading them back."""

from __future__ import annotations

import hashlib
import io
import urllib.error
import urllib.request
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

from sweeplab import environment, files
from sweeplab.advice import command
from sweeplab.data.dataset import Dataset, encode, sha256_of
from sweeplab.data.tables import load_file
from sweeplab.errors import SweepLabError

ARCHIVE_URL = "https://archive.ics.uci.edu/static/public/331/sentiment+labelled+sentences.zip"

SUBDIR = "sentiment_labelled_sentences"

ROWS_PER_SOURCE = 1000

# name -> (file name, sha256). The digests are those of the published files (see SOURCES.md in the mirror).
SOURCES = {
    "yelp": ("yelp_labelled.txt", "c76468b7b5c6e56a0804d728345c5f84aa2142ddb214420f61cc9cfd4c00d2ea"),
    "amazon": ("amazon_cells_labelled.txt", "47003fc0a0d4840b00e96e715b6189bad09e7443a3da41c4cbe12ffc79f86ae3"),
    "imdb": ("imdb_labelled.txt", "aef2e49e3da25714d61175e3a6e68eeef74a20a2f914318dc3be9947ea86512d"),
}

README = ("readme.txt", "736c26aa54e3614459e50314ece0698051f0923d108ed53938dcb1aa0483bfd4")

# Pretrained vectors for `embeddings:` (GloVe 6B 50d: the 20,000 most frequent words plus every UCI word; how it
# was cut from the published vectors is in the mirror's SOURCES.md). Fetched to data/glove/ from a mirror.
GLOVE = ("glove.6B.50d.subset.txt", "0dab3dc9eca4e2fb5d526a0c2e12b78171d3ebc8620fe69005bc26327c27976a")

POOLED = "all"


def default_data_dir() -> Path:
    return environment.read("SWEEPLAB_DATA_DIR") / SUBDIR


def check(directory: Path | None = None) -> dict[str, str]:
    """Status of every expected file: 'ok', 'missing' or 'checksum mismatch'."""
    directory = Path(directory or default_data_dir())
    status = {}
    for file_name, digest in [*SOURCES.values(), README]:
        path = directory / file_name
        if not path.exists():
            status[file_name] = "missing"
        else:
            status[file_name] = "ok" if sha256_of(path) == digest else "checksum mismatch"
    return status


def fetch(directory: Path | None = None, mirror: str | Path | None = None, url: str = ARCHIVE_URL) -> Path:
    """Put verified copies of the UCI files in ``directory``: from ``mirror`` when given, else from ``url``.

    Files already present with the right checksum are left alone, so this is cheap to repeat.
    """
    directory = Path(directory or default_data_dir())
    wanted = [name for name, state in check(directory).items() if state != "ok"]
    if not wanted:
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    blobs = _read_mirror(Path(mirror), wanted) if mirror else _read_archive(url, wanted)
    expected = dict([*SOURCES.values(), README])
    for name in wanted:
        digest = hashlib.sha256(blobs[name]).hexdigest()
        if digest != expected[name]:
            raise SweepLabError(f"{name}: sha256 {digest} does not match the published {expected[name]}")
    for name in wanted:
        files.write_atomically(directory / name, blobs[name])
    return directory


def glove_path() -> Path:
    return default_data_dir().parent / "glove" / GLOVE[0]


def fetch_glove(mirror: str | Path, target: Path | None = None) -> Path:
    """Copy the GloVe subset from ``mirror`` (a directory holding it) and check its sha256; a no-op when present.

    The subset is not published as a download of its own (the published glove.6B.zip is 822 MB for all sizes),
    so a mirror is the way in: ``SWEEPLAB_GLOVE_MIRROR``, which the Makefile sets to ``../shared/data/glove``.
    """
    target = Path(target or glove_path())
    name, digest = GLOVE
    if target.is_file() and sha256_of(target) == digest:
        return target
    blob = _read_mirror(Path(mirror), [name], "SWEEPLAB_GLOVE_MIRROR")[name]
    actual = hashlib.sha256(blob).hexdigest()
    if actual != digest:
        raise SweepLabError(f"{Path(mirror) / name}: sha256 {actual} is not the expected {digest}")
    target.parent.mkdir(parents=True, exist_ok=True)
    files.write_atomically(target, blob)
    return target


def _read_mirror(mirror: Path, names: list[str], variable: str = "SWEEPLAB_DATA_MIRROR") -> dict[str, bytes]:
    """``names`` from the directory ``mirror``, which the environment variable ``variable`` named."""
    missing = [name for name in names if not (mirror / name).is_file()]
    if missing:
        raise SweepLabError(f"{variable}={mirror}: missing {', '.join(missing)}")
    return {name: (mirror / name).read_bytes() for name in names}


def _read_archive(url: str, names: list[str]) -> dict[str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            archive = response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise SweepLabError(
            f"could not download {url}: {exc}; set SWEEPLAB_DATA_MIRROR to a directory holding the UCI files"
        ) from None
    try:
        members = zipfile.ZipFile(io.BytesIO(archive))
    except zipfile.BadZipFile:
        raise SweepLabError(f"{url}: not a zip archive") from None
    # The archive nests the files in a folder (and ships __MACOSX copies): match on the base name.
    by_name = {
        Path(info.filename).name: info
        for info in members.infolist()
        if not info.is_dir() and "__MACOSX" not in info.filename
    }
    missing = [name for name in names if name not in by_name]
    if missing:
        raise SweepLabError(f"{url}: archive lacks {', '.join(missing)}")
    return {name: members.read(by_name[name]) for name in names}


def load_source(name: str, directory: Path | None = None) -> Dataset:
    """A UCI source by name (``yelp``, ``amazon``, ``imdb``) or ``all`` for the three pooled."""
    if name == POOLED:
        return _load_pooled(directory)
    if name not in SOURCES:
        raise SweepLabError(f"unknown source '{name}': expected one of {', '.join([*SOURCES, POOLED])}")
    file_name, digest = SOURCES[name]
    path = Path(directory or default_data_dir()) / file_name
    if not path.exists():
        raise SweepLabError(f"{path} not found: run '{command('make data', 'sweeplab data')}' to fetch the UCI files")
    actual = sha256_of(path)
    if actual != digest:
        raise SweepLabError(f"{path}: sha256 {actual} is not the published {digest}; run 'sweeplab data' again")
    texts, labels = _read_labelled_sentences(path)
    counts = Counter(labels)
    if len(texts) != ROWS_PER_SOURCE or counts != {0: ROWS_PER_SOURCE // 2, 1: ROWS_PER_SOURCE // 2}:
        raise SweepLabError(f"{path}: read {len(texts)} rows {dict(counts)}, expected 1000 rows with 500 per label")
    return encode(name, np.array(texts, dtype=object), labels, path=str(path), sha256=actual,
                   reference={"source": name})


def _read_labelled_sentences(path: Path) -> tuple[list[str], list[int]]:
    """Parse ``sentence<TAB>label`` lines.

    Not with a CSV reader: imdb_labelled.txt has unbalanced quotes (default quoting reads 748 rows), and not with
    ``str.splitlines``: it holds U+0085, which that treats as a line break. Split on '\\n' (as
    :func:`sweeplab.files.lines` does) and the last TAB only.
    """
    texts, labels = [], []
    for number, line in files.lines(path, "UCI file"):
        if not line.strip():
            continue
        text, sep, label = line.rpartition("\t")
        if not sep or label.strip() not in ("0", "1"):
            raise SweepLabError(f"{path}:{number}: expected 'sentence<TAB>0|1'")
        texts.append(text.strip())
        labels.append(int(label))
    return texts, labels


def load_reference(reference: dict, sha256: str | None = None, expected_by: str = "") -> Dataset:
    """The dataset a :attr:`Dataset.reference` points to (how a worker, a retrain or a comparison finds the data a
    sweep ran on). With ``sha256``, refused unless its bytes are the ones it had then: ``expected_by`` (a file, a
    sweep) starts the message."""
    if "source" in reference:
        dataset = load_source(reference["source"])
    else:
        dataset = load_file(reference["data"], reference["text_col"], reference["label_col"])
    actual = dataset.integrity["sha256"]
    if sha256 is not None and actual != sha256:
        raise SweepLabError(f"{expected_by}: {dataset.integrity['path']} has sha256 {actual}, {sha256} when it was "
                            "chosen on: its contents changed since")
    return dataset


def _load_pooled(directory: Path | None) -> Dataset:
    parts = [load_source(name, directory) for name in SOURCES]
    texts = np.concatenate([part.texts for part in parts])
    labels = [part.classes[i] for part in parts for i in part.labels]
    sources = np.array([part.name for part in parts for _ in part.texts], dtype=object)
    combined = hashlib.sha256("".join(part.integrity["sha256"] for part in parts).encode()).hexdigest()
    paths = ",".join(part.integrity["path"] for part in parts)
    return encode(POOLED, texts, labels, path=paths, sha256=combined, sources=sources,
                   reference={"source": POOLED})

