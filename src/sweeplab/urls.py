"""Store URLs, as both stores use them (MLflow's tracking store and Optuna's study storage): which URLs name a
store (:func:`problem`), whether its server answers in bounded time (:func:`unreachable`), where a local store
lives, the check that it can be written before a sweep starts, that it is the store it claims to be, and how one
process creates it: under a lock, whole or not at all."""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path
from urllib.parse import unquote, urlparse

TRACKING, STORAGE = "MLflow tracking store", "Optuna storage"
# Database servers both stores take (SQLAlchemy dialects, with or without "+driver").
DATABASES = ("postgresql", "mysql", "mssql")
# How long a server has to answer the first time: a wrong host or a firewall that drops packets must not stall a
# command (MLflow's own engine retries a database for minutes, a socket waits for the system's TCP timeout).
CONNECT_TIMEOUT_S = 10
_EXPECTED = {
    TRACKING: "sqlite:///PATH, http(s)://HOST:PORT (a tracking server) or postgresql://USER@HOST/DB",
    STORAGE: "sqlite:///PATH, postgresql://USER@HOST/DB or a journal file (journal:PATH, or a path ending in .log)",
}


def problem(url, role: str) -> str | None:
    """What is wrong with ``url`` as the address of a ``role`` store (:data:`TRACKING` or :data:`STORAGE`), or
    None: decided from the text alone, before anything connects."""
    from sweeplab.files import describe

    if not isinstance(url, str) or not url.strip():
        return f"expected a URL ({_EXPECTED[role]}), got {describe(url)}"
    if role == STORAGE and journal_path(url) is not None:
        return None if str(journal_path(url)) not in ("", ".") else "a journal storage needs a file's path"
    scheme = urlparse(url).scheme.lower()
    dialect = scheme.split("+")[0]
    if dialect == "sqlite":
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
        if not path:
            return "names no database file: sqlite:///PATH (sqlite:////PATH for an absolute one)"
        if unquote(path).startswith(":memory:") or "mode=memory" in url:
            return ("an in-memory database is lost when the process ends (and no other process can share it): "
                    "name a file, sqlite:///PATH")
        return None
    if role == TRACKING and scheme in ("http", "https"):
        return None if urlparse(url).hostname else "names no host"
    if dialect in DATABASES:
        return None if urlparse(url).hostname or "host=" in url else "names no database host"
    if role == TRACKING and scheme in ("", "file"):
        return ("MLflow's file store is retired (MLflow 3 refuses it): keep the runs in SQLite instead, "
                "sqlite:///PATH/mlflow.db")
    return f"not a URL this store takes ({f'scheme {scheme!r}' if scheme else 'no scheme'}); expected " \
           f"{_EXPECTED[role]}"


def unreachable(url: str, timeout: float = CONNECT_TIMEOUT_S) -> str | None:
    """Why the server a URL names does not answer within ``timeout`` seconds, or None when it answers (or the
    store is a local file). Any HTTP answer counts (a server asking for credentials is there); a database must
    accept a connection."""
    scheme = urlparse(url).scheme.lower()
    if scheme in ("http", "https"):
        import socket
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=timeout):
                return None
        except urllib.error.HTTPError:
            return None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, (TimeoutError, socket.timeout)):
                return "no answer"
            return f"{reason}"
    if scheme.split("+")[0] in DATABASES:
        import sqlalchemy

        arguments = {"connect_timeout": int(timeout)} if scheme.startswith(("postgresql", "mysql")) else {}
        try:
            engine = sqlalchemy.create_engine(url, connect_args=arguments, poolclass=sqlalchemy.pool.NullPool)
            with engine.connect():
                pass
        except Exception as exc:  # every driver raises its own types, wrapped or not by SQLAlchemy's
            text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            return (text[0] if text else type(exc).__name__)[:200]
        finally:
            with contextlib.suppress(Exception):
                engine.dispose()
    return None


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


def check_writable(directory: Path, what: str, database: Path | None = None) -> None:
    """Fail now, not after an hour of training, when ``directory`` cannot take the results: unwritable (read-only
    file system, permissions) or nearly full (``SWEEPLAB_MIN_FREE_MB``, 50 by default); and when the SQLite
    ``database`` there exists but cannot be written (a read-only file in a writable directory)."""
    import os
    import shutil
    import tempfile

    from sweeplab import environment
    from sweeplab.errors import SweepLabError

    need = environment.read("SWEEPLAB_MIN_FREE_MB")
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
    if database is not None and database.is_file() and database.stat().st_size:
        _check_sqlite_writable(database, what)


def _check_sqlite_writable(database: Path, what: str) -> None:
    """SQLite opens a file it may not write read-only, even when asked for read and write, and says so only at the
    first write (its write lock it takes all the same): open the file for writing now, as SQLite will need to."""
    import os

    from sweeplab.errors import SweepLabError

    try:
        os.close(os.open(database, os.O_RDWR))
    except OSError as exc:
        raise SweepLabError(f"{database}: cannot write the {what} ({exc.strerror}); make the file writable or "
                            "choose another location") from None


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


def create_whole(url: str, create) -> bool:
    """Create the local SQLite store ``url`` names, when it does not exist yet, whole or not at all: ``create`` is
    called with the URL of a temporary file beside it, and once it returns, one rename gives that file the store's
    name. A stop meanwhile is held until the rename is done; a kill (SIGKILL, a lost machine) leaves only the
    temporary file, which the next creation removes. MLflow migrates its schema in statements that SQLite cannot
    roll back, so a store stopped halfway could never be opened again. Call it under :func:`creation_lock`, which
    makes the caller the only process creating the store. True when it created it."""
    import os

    from sweeplab.errors import held_stop

    database = sqlite_path(url)
    if database is None:
        return False
    for leftover in database.parent.glob(f".{database.name}.*.creating*"):  # a killed creation's
        with contextlib.suppress(OSError):
            leftover.unlink()
    if database.exists() and database.stat().st_size:
        return False
    with held_stop():
        temporary = database.with_name(f".{database.name}.{os.getpid()}-{next(_CREATIONS)}.creating")
        try:
            create(f"sqlite:///{temporary}")
            with open(temporary, "rb") as written:
                os.fsync(written.fileno())
            os.replace(temporary, database)
        finally:
            for path in (temporary, temporary.with_name(f"{temporary.name}-journal")):
                with contextlib.suppress(OSError):
                    path.unlink()
    return True


# Each creation's temporary file has a name no other had: MLflow keeps an engine (and its open connection) per URL
# for the life of the process, which must never lead to a file that now holds the store.
_CREATIONS = itertools.count()


def check_sqlite_store(url: str, marker_table: str, what: str) -> None:
    """A local SQLite store that exists is ``what`` (it has ``marker_table``) or is empty: never another program's
    database, into which opening it would write tables of its own."""
    import sqlite3

    from sweeplab.errors import SweepLabError
    from sweeplab.files import regular_file

    database = sqlite_path(url)
    if database is None or not database.exists():
        return
    if regular_file(database, what.removeprefix("an ").removeprefix("a ")).stat().st_size == 0:
        return
    try:
        with contextlib.closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as db:
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        raise SweepLabError(f"{database}: not {what} ({exc})") from None
    if tables and marker_table not in tables:
        raise SweepLabError(f"{database}: not {what} (an SQLite database with other tables: "
                            f"{', '.join(sorted(tables)[:5])})")
