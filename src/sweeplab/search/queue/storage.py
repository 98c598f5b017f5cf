"""Where the queue lives: an Optuna storage. SQLite beside the MLflow store by default, a database server
(``postgresql://…``) for several machines, or a journal file; opened once per process, with heartbeats on the
database storages."""

from __future__ import annotations

import warnings
from pathlib import Path

from sweeplab.errors import SweepLabError
from sweeplab.urls import check_sqlite_store, check_writable, creation_lock, journal_path, local_directory

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
    try:
        with creation_lock(url):
            check_sqlite_store(url, "studies", "an Optuna storage")
            return module.storages.RDBStorage(
                url, engine_kwargs=options, heartbeat_interval=heartbeat, grace_period=2 * heartbeat,
                heartbeat_stale_trial_callback=module.storages.RetryHeartbeatStaleTrialCallback(max_retry=RETRIES),
            )
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        problem = str(exc).splitlines()[0]
        raise SweepLabError(f"--storage {url}: cannot open it as an Optuna storage ({problem})") from None


def check_local(url: str) -> None:
    """A local storage's directory is writable and not full."""
    directory = local_directory(url)
    if directory is not None:
        check_writable(directory, "Optuna storage")


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
