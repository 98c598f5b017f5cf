"""Every environment variable sweeplab reads, parsed and checked in one place: a bad value is one line naming the
variable when a command starts (:func:`check`), not a traceback after an hour of training.

An empty value counts as unset. The variables sweeplab *sets* for the libraries it runs are
:data:`sweeplab.runtime.ENVIRONMENT`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


def _megabytes(text: str) -> float:
    return _number(text, "a number of megabytes from 0")


def _seconds(text: str) -> float:
    return _number(text, "a number of seconds from 0")


def _number(text: str, expected: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected {expected}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"expected {expected}")
    return value


def _directory(text: str) -> Path:
    """A directory, made when missing: anything else in its place (a file) is a mistake."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise ValueError("expected a directory, and this is a file")
    return path


def _existing_directory(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise ValueError("expected a directory holding the files" if not path.exists() else
                         "expected a directory, and this is a file")
    return path


def _tracking_uri(text: str) -> str:
    from sweeplab import urls

    wrong = urls.problem(text, urls.TRACKING)
    if wrong:
        raise ValueError(wrong)
    return text


@dataclass(frozen=True)
class Variable:
    name: str
    meaning: str
    default: object  # the value when it is unset or empty
    parse: Callable[[str], object]  # raises ValueError saying what was expected


VARIABLES = {variable.name: variable for variable in (
    Variable("SWEEPLAB_DATA_DIR", "where the UCI files (and GloVe vectors) are fetched to", Path("data"), _directory),
    Variable("SWEEPLAB_DATA_MIRROR", "a directory holding the UCI files, read instead of the published archive",
             None, _existing_directory),
    Variable("SWEEPLAB_GLOVE_MIRROR", "a directory holding the GloVe subset", None, _existing_directory),
    Variable("SWEEPLAB_SWEEPS_DIR", "your own sweep files, found by name before the built-in ones", Path("sweeps"),
             _directory),
    Variable("SWEEPLAB_MIN_FREE_MB", "free space a local store needs before a sweep starts", 50.0, _megabytes),
    Variable("SWEEPLAB_TRACKING_WAIT", "how long a sweep waits for a tracking server that went away", 300.0,
             _seconds),
    Variable("MLFLOW_TRACKING_URI", "the MLflow store when --tracking-uri is not given", None, _tracking_uri),
)}


def read(name: str):
    """The variable's value, parsed; its default when unset or empty."""
    from sweeplab.errors import SweepLabError, brief

    variable = VARIABLES[name]
    text = os.environ.get(name, "")
    if not text:
        return variable.default
    try:
        return variable.parse(text)
    except ValueError as exc:
        shown = repr(text) if len(text) <= 300 else brief(text)  # a path in full; SweepLabError bounds the rest
        raise SweepLabError(f"{name}={shown}: {exc} ({variable.meaning})") from None


def check() -> None:
    """Every variable sweeplab reads holds a value it can use (each command calls it before its work)."""
    for name in VARIABLES:
        read(name)
