"""Store URLs, as both stores use them (MLflow's tracking store and Optuna's study storage): where a local store
lives, the check that it can be written before a sweep starts, that it is the store it claims to be, and the lock
under which one process creates it."""

from __future__ import annotations

import contextlib
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


def journal_path(url: str) -> Path | None:
    """The file of an Optuna journal storage (``journal:PATH``, or a path ending in .log or .jsonl); None else."""
    if url.startswith("journal:") or url.endswith((".log", ".jsonl")):
        return Path(url.removeprefix("journal:"))
    return None


def local_file(url: str) -> Path | None:
    """The file a local store lives in: a SQLite database or a journal; None for a server."""
    return sqlite_path(url) or journal_path(url)


def local_directory(url: str) -> Path | None:
    """The directory a local store writes to: a SQLite database's or a journal file's; None for a server."""
    path = local_file(url)
    return None if path is None else path.parent


@contextlib.contextmanager
def creation_lock(url: str):
    """Held while a process creates or migrates a local SQLite store, so that any number of sweeps, workers and
    readers may start at once on a store that does not exist yet: one creates it, the others wait, then find it
    made. Two processes migrating one database at once can leave it half-migrated for good. The lock is a file
    beside the database held with flock, which the kernel releases when its process ends, however it ends. Other
    stores need none: a server database migrates inside its own transactions."""
    database = sqlite_path(url)
    if database is None:
        yield
        return
    import fcntl

    ensure_sqlite_dir(url)
    with open(database.with_name(f"{database.name}.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_sqlite_store(url: str, marker_table: str, what: str) -> None:
    """A local SQLite store that exists is ``what`` (it has ``marker_table``) or is empty: never another program's
    database, into which opening it would write tables of its own."""
    import sqlite3

    from sweeplab.errors import SweepLabError
    from sweeplab.files import regular_file

    database = sqlite_path(url)
    if database is None or not database.exists():
        return
    if regular_file(database, what).stat().st_size == 0:
        return
    try:
        with contextlib.closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as db:
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        raise SweepLabError(f"{database}: not {what} ({exc})") from None
    if tables and marker_table not in tables:
        raise SweepLabError(f"{database}: not {what} (an SQLite database with other tables: "
                            f"{', '.join(sorted(tables)[:5])})")
