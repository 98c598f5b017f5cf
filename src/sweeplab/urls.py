"""Store URLs, as both stores use them (MLflow's tracking store and Optuna's study storage), and the check that a
local store can be written before a sweep starts."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///relative`` or ``sqlite:////absolute`` URL; None for other URLs."""
    if urlparse(url).scheme != "sqlite":
        return None
    return Path(unquote(url[len("sqlite:///"):]))


def ensure_sqlite_dir(url: str) -> None:
    """SQLite creates a missing database file, but not a missing directory."""
    database = sqlite_path(url)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)


def check_writable(directory: Path, what: str) -> None:
    """Fail now, not after an hour of training, when ``directory`` cannot take the results: unwritable (read-only
    file system, permissions) or nearly full (``SWEEPLAB_MIN_FREE_MB``, 50 by default)."""
    import os
    import shutil
    import tempfile

    from sweeplab.errors import SweepLabError

    need = float(os.environ.get("SWEEPLAB_MIN_FREE_MB", "50"))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".sweeplab-probe-") as probe:
            probe.write(b"\0" * 65536)  # a real write: a full disk can still create an empty file
            probe.flush()
            os.fsync(probe.fileno())
        free = shutil.disk_usage(directory).free / 2**20
    except OSError as exc:
        raise SweepLabError(f"{directory}: cannot write the {what} there ({exc.strerror or exc}); make it "
                            "writable or choose another location") from None
    if free < need:
        raise SweepLabError(f"{directory}: only {free:.0f} MB free for the {what}, a sweep needs {need:.0f} MB "
                            "(SWEEPLAB_MIN_FREE_MB): free some space or choose another location")


def local_directory(url: str) -> Path | None:
    """The directory a local store writes to: a SQLite database's or a journal file's; None for a server."""
    database = sqlite_path(url)
    if database is not None:
        return database.parent
    if url.startswith("journal:") or url.endswith((".log", ".jsonl")):
        return Path(url.removeprefix("journal:")).parent
    return None
