"""A dataset as every layer sees it: raw texts, labels encoded 0..K-1 with their original names, an integrity
record (rows, class counts, sha256) logged with every sweep; the one rule for how labels read; the held-out split."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sweeplab.errors import SweepLabError, brief


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


def encode(name, texts, raw_labels, *, path, sha256, reference, sources=None, notes=()) -> Dataset:
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


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def label_values(labels: list) -> list:
    """The one rule for numeric-looking labels: when every label is an integer written the plain way ("0", "1",
    "-1", "10": no plus sign, leading zero, point or space), labels are those integers and order as numbers;
    otherwise every label is its text and orders as text. So "1.0" is not "1", and "01" and "1" are two classes."""
    text = [str(label) for label in labels]
    if all(_PLAIN_INTEGER.fullmatch(label) for label in text):
        return [int(label) for label in text]
    return text

_PLAIN_INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,17})")


def held_out_rows(rows: int, fraction: float) -> int:
    """How many of ``rows`` a stratified split holds out for ``fraction``, as scikit-learn sizes it."""
    return math.ceil(fraction * rows)


def check_fraction(where: str, setting: str, fraction: float, rows: int, classes: int, parts: tuple[str, str]) -> None:
    """A stratified split of ``rows`` that holds ``fraction`` out leaves each of ``parts`` (held out, kept) at
    least one row of each class; else one line naming ``where`` and the ``setting``, with the range that works."""
    held = held_out_rows(rows, fraction)
    for part, size in zip(parts, (held, rows - held)):
        if size < classes:
            raise SweepLabError(f"{where}: {setting} {fraction:g} of {rows:,} rows leaves {size} for the {part}, "
                                f"too few to hold each of the {classes} classes; choose {setting} between "
                                f"{classes / rows:.3g} and {1 - classes / rows:.3g}")


def holdout_split(dataset: Dataset, test_size: float, seed: int):
    """A fixed stratified train/test split. The search only ever sees the train part."""
    from sklearn.model_selection import train_test_split

    path, rows, classes = dataset.integrity["path"], len(dataset.texts), dataset.n_classes
    label, smallest = min(dataset.integrity["class_counts"].items(), key=lambda item: item[1])
    if smallest < 2:
        raise SweepLabError(f"{path}: class {brief(label)} has {smallest} row, a held-out split needs at least 2 of "
                            "each class")
    check_fraction(path, "test_size", test_size, rows, classes, ("test split", "training split"))
    return train_test_split(
        dataset.texts, dataset.labels, test_size=test_size, random_state=seed, stratify=dataset.labels
    )

