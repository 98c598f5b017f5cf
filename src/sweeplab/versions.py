"""The versions that make a result reproducible: Python and the packages that train, split and score, and the
code revision of the checkout a command ran in."""

from __future__ import annotations

import functools
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


@functools.cache
def provenance() -> dict:
    """The tags that say where a run came from, as MLflow's fluent API would set them (``MlflowClient.create_run``
    sets none): the source, and when the working directory is in a git checkout, its commit and whether the tree
    had changes not committed. Outside a checkout (an installed sweeplab, a directory without git) only the source.
    Read once per process with ``git`` itself: two quick commands, bounded, and no failure of theirs stops a run."""
    import subprocess

    from sweeplab.tags import GIT_COMMIT, GIT_DIRTY, SOURCE_NAME, SOURCE_TYPE

    found = {SOURCE_TYPE: "LOCAL", SOURCE_NAME: "sweeplab"}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return found
        changes = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                 text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):  # no git on the machine, or it hung
        return found
    found[GIT_COMMIT] = commit.stdout.strip()
    if changes.returncode == 0:
        found[GIT_DIRTY] = str(bool(changes.stdout.strip())).lower()
    return found
