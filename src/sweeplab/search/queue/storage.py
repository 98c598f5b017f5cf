"""Where the queue lives: an Optuna storage. SQLite beside the MLflow store by default, a database server
(``postgresql://…``) for several machines, or a journal file; opened once per process, with heartbeats on the
database storages."""

from __future__ import annotations

import warnings
from pathlib import Path

from sweeplab import urls
from sweeplab.errors import OptionError, SweepLabError, first_line, held_stop
from sweeplab.urls import (check_sqlite_store, check_writable, create_whole, creation_lock, journal_path,
                           local_directory, sqlite_path)

RETRIES = 3  # a trial whose process died is queued again this many times at most


def optuna():
    """Optuna, quiet: failures and prunes are reported sweeplab's way."""
    import optuna as module

    module.logging.set_verbosity(module.logging.ERROR)
    warnings.filterwarnings("ignore", category=module.exceptions.ExperimentalWarning)
    return module


def default_url(local_dir: Path | None) -> str:
    """SQLite beside the MLflow store (``mlruns/optuna.db``)."""
    return f"sqlite:///{Path(local_dir or 'mlruns').resolve() / 'optuna.db'}"


def open_storage(url: str, heartbeat: int):
    """The Optuna storage at ``url``. On a database a running trial sends a heartbeat every ``heartbeat``
    seconds; one silent for twice that is failed by the next process that looks, and queued again (up to
    :data:`RETRIES` times)."""
    module = optuna()
    journal = journal_path(url)
    if journal is not None:
        from optuna.storages.journal import JournalFileBackend

        _check_journal(journal)
        return module.storages.JournalStorage(JournalFileBackend(str(journal)))
    from sqlalchemy.exc import SQLAlchemyError

    options = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    if url.startswith(("postgresql", "mysql")):
        options = {"connect_args": {"connect_timeout": urls.CONNECT_TIMEOUT_S}}

    def rdb(at: str):
        return module.storages.RDBStorage(
            at, engine_kwargs=options, heartbeat_interval=heartbeat, grace_period=2 * heartbeat,
            heartbeat_stale_trial_callback=module.storages.RetryHeartbeatStaleTrialCallback(max_retry=RETRIES),
        )

    def create(at: str) -> None:
        rdb(at).engine.dispose()  # its tables made; the file then takes the storage's name

    try:
        with creation_lock(url), held_stop():
            check_sqlite_store(url, "studies", "an Optuna storage")
            create_whole(url, create)
            return rdb(url)
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        problem = first_line(exc)
        raise OptionError(f"{{}} {url}: cannot open it as an Optuna storage ({problem})", "storage") from None


def check_url(url: str) -> None:
    """The URL names a storage (:func:`sweeplab.urls.problem`)."""
    wrong = urls.problem(url, urls.STORAGE)
    if wrong:
        raise OptionError(f"{{}} {url}: {wrong}", "storage")


def check_usable(url: str) -> None:
    """A local storage's directory is writable and not full; a database server answers in bounded time."""
    directory = local_directory(url)
    if directory is not None:
        check_writable(directory, "Optuna storage", sqlite_path(url))
        return
    silent = urls.unreachable(url)
    if silent is not None:
        raise OptionError(f"{{}} {url}: no database answers ({silent}; waited up to {urls.CONNECT_TIMEOUT_S} s)",
                          "storage")


def watches_heartbeats(storage) -> bool:
    """Only the database storages send heartbeats: without them a dead trial would never go stale."""
    return isinstance(storage, optuna().storages.RDBStorage)


def _check_journal(path: Path) -> None:
    """A journal file that exists is one: its first line is one of Optuna's JSON operations (a file that is not
    would fail later, mid-sweep, with a decoding traceback)."""
    import json

    from sweeplab import files

    first = next(files.lines(path, "Optuna journal"), None) if path.exists() else None
    if first is None:  # a new or empty journal
        return
    try:
        record = json.loads(first[1])
    except ValueError:
        record = None
    if not isinstance(record, dict) or "op_code" not in record:
        raise SweepLabError(f"{path}:1: not an Optuna journal (expected one JSON operation per line)")
