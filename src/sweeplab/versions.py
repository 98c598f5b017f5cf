"""The versions that make a result reproducible: Python and the packages that train, split and score."""

from __future__ import annotations

import platform
from importlib import metadata

PACKAGES = ("sweeplab", "tensorflow-cpu", "keras", "scikeras", "scikit-learn", "numpy", "pandas", "optuna", "mlflow")


def current() -> dict:
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass  # e.g. the GPU build of tensorflow instead of tensorflow-cpu
    return found
