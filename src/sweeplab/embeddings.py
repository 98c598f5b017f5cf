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

from sweeplab.errors import SweepLabError


@dataclass(frozen=True)
class Vectors:
    index: dict  # word -> row of ``matrix``
    matrix: np.ndarray  # float32, one row per word

    @property
    def width(self) -> int:
        return self.matrix.shape[1]


def load(path: str | Path) -> Vectors:
    """The vectors in ``path`` (read once per process and file version)."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        raise SweepLabError(f"{path}: embeddings file not found") from None
    return _load(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _load(path: str, mtime_ns: int, size: int) -> Vectors:
    words, rows, width = {}, [], None
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            parts = line.rstrip("\n").split(" ")
            if width is None:
                width = len(parts) - 1
            if len(parts) - 1 != width or width < 1:
                raise SweepLabError(f"{path}:{number}: expected a word and {width} numbers separated by spaces")
            if parts[0] in words:  # GloVe has none; a later duplicate would only shadow the first
                continue
            words[parts[0]] = len(rows)
            rows.append(parts[1:])
    if not rows:
        raise SweepLabError(f"{path}: no vectors in it")
    try:
        matrix = np.asarray(rows, dtype=np.float32)
    except ValueError:
        raise SweepLabError(f"{path}: a vector has a value that is not a number") from None
    return Vectors(words, matrix)


def width(path: str | Path) -> int:
    """The vectors' dimension, from the first line only (cheap enough for validating a sweep file)."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as lines:
            first = lines.readline().rstrip("\n").split(" ")
    except OSError:
        raise SweepLabError(f"{path}: embeddings file not found") from None
    except UnicodeDecodeError:
        raise SweepLabError(f"{path}: not valid UTF-8") from None
    if len(first) < 2:
        raise SweepLabError(f"{path}: expected GloVe text lines 'word v1 ... vD'")
    return len(first) - 1


@dataclass(frozen=True)
class Pretrained:
    """An Embedding layer's starting weights for one fitted vocabulary, and whether training may change them."""

    matrix: np.ndarray
    trainable: bool
    coverage: float


def for_vocabulary(vocabulary: dict, path: str | Path, trainable: bool, seed: int) -> Pretrained:
    """Weights for ``vocabulary`` (word -> id, ids from 2; 0 pads, 1 is out of vocabulary)."""
    vectors = load(path)
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
