"""Pretrained word vectors (GloVe's text format: ``word v1 ... vD`` per line) as an Embedding layer's weights.

The matrix is built per fit for the vocabulary that fit learnt: row 0 (padding) is zeros, row 1 (out of
vocabulary) and words the file lacks get small random vectors scaled like the file's, seeded so that a trial is
reproducible. ``coverage`` is the share of the fitted vocabulary the file has, which a sweep logs per trial: a low
one means the frozen embedding knows little of this data.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sweeplab import files
from sweeplab.errors import SweepLabError


@dataclass(frozen=True)
class Vectors:
    index: dict  # word -> row of ``matrix``
    matrix: np.ndarray  # float32, one row per word

    @property
    def width(self) -> int:
        return self.matrix.shape[1]


def load_vectors(path: str | Path) -> Vectors:
    """The vectors in ``path`` (read once per process and file version), every line checked: a file that is
    malformed anywhere fails here, when the sweep file is read, not in every trial."""
    path = files.regular_file(path, "embeddings file")
    stat = path.stat()
    return _load(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _load(path: str, mtime_ns: int, size: int) -> Vectors:
    words, rows, numbers, width = {}, [], [], None
    for number, line in files.lines(path, "embeddings file"):
        parts = line.split(" ")
        if width is None:
            width = len(parts) - 1
        if len(parts) - 1 != width or width < 1:
            raise SweepLabError(f"{path}:{number}: expected a word and {max(width, 1)} numbers separated by spaces "
                                "(GloVe's text format)")
        if parts[0] in words:  # GloVe has none; a later duplicate would only shadow the first
            continue
        words[parts[0]] = len(rows)
        rows.append(parts[1:])
        numbers.append(number)
    if not rows:
        raise SweepLabError(f"{path}: no vectors in it")
    try:
        matrix = np.asarray(rows, dtype=np.float32)
    except ValueError:
        bad = next(i for i, row in enumerate(rows) if not _numbers(row))
        raise SweepLabError(f"{path}:{numbers[bad]}: a vector has a value that is not a number") from None
    if not np.isfinite(matrix).all():
        bad = int(np.flatnonzero(~np.isfinite(matrix).all(axis=1))[0])
        raise SweepLabError(f"{path}:{numbers[bad]}: a vector has an infinite or NaN value")
    return Vectors(words, matrix)


def _numbers(row: list[str]) -> bool:
    try:
        np.asarray(row, dtype=np.float32)
    except ValueError:
        return False
    return True


def width(path: str | Path) -> int:
    """The vectors' dimension; reading them checks the whole file (and caches it for the trials)."""
    return load_vectors(path).width


@dataclass(frozen=True)
class Pretrained:
    """An Embedding layer's starting weights for one fitted vocabulary, and whether training may change them."""

    matrix: np.ndarray
    trainable: bool
    coverage: float


def for_vocabulary(vocabulary: dict, path: str | Path, trainable: bool, seed: int) -> Pretrained:
    """Weights for ``vocabulary`` (word -> id, ids from 2; 0 pads, 1 is out of vocabulary)."""
    vectors = load_vectors(path)
    rng = np.random.default_rng(seed)
    scale = float(vectors.matrix.std())
    matrix = rng.normal(0.0, scale, size=(len(vocabulary) + 2, vectors.width)).astype(np.float32)
    matrix[0] = 0.0
    found = 0
    for word, row in vocabulary.items():
        known = vectors.index.get(word)
        if known is not None:
            matrix[row] = vectors.matrix[known]
            found += 1
    return Pretrained(matrix, bool(trainable), found / len(vocabulary) if vocabulary else 0.0)
