"""Stops a store's creation at many points and reports what each stop left: ``python -m tests.stop_points STORE
HOW POINTS``, one JSON line per stop. tests/test_store_creation.py runs it.

STORE: ``mlflow`` (the MLflow store) or ``optuna`` (the Optuna storage, the MLflow store made first). HOW: ``term``
(SIGTERM through ``sweeplab store``), ``api`` (Ctrl-C, Python's own SIGINT handler, through
``sweeplab.open_stores``) or ``kill`` (SIGKILL: the process dies at the POINTS-th percent of the creation; then
``python -m tests.stop_points state DIRECTORY`` says what it left).

The points are calls into the code that creates a store (SQLAlchemy, alembic, MLflow's and Optuna's storage
code), counted by a profile hook: a creation is first counted whole, then stopped at the k-th of N points spread
evenly over it. A stop lands there as a real signal would, at the next bytecode.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import tempfile
from pathlib import Path

WATCHED = ("/sqlalchemy/", "/alembic/", "/mlflow/store/", "/optuna/storages/")


class StopAt:
    """A profile hook that sends ``signum`` to this process at the ``at``-th watched call (0: never); counts them."""

    def __init__(self, at: int, signum: int):
        self.at, self.signum, self.calls = at, signum, 0

    def __call__(self, frame, event, arg):
        if event == "call" and any(part in frame.f_code.co_filename for part in WATCHED):
            self.calls += 1
            if self.calls == self.at:
                os.kill(os.getpid(), self.signum)


def urls(directory: Path) -> tuple[str, str]:
    return f"sqlite:///{directory}/mlflow.db", f"sqlite:///{directory}/optuna.db"


def create(directory: Path, store: str, how: str, at: int = 0) -> tuple[object, int]:
    """Create the store in ``directory``, stopped at the ``at``-th watched call; (the outcome, calls counted)."""
    from sweeplab.cli import main

    tracking, storage = urls(directory)
    stopper = StopAt(at, signal.SIGINT if how == "api" else signal.SIGKILL if how == "kill" else signal.SIGTERM)
    sys.setprofile(stopper)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            if how == "api":
                import sweeplab

                sweeplab.open_stores(tracking, storage if store == "optuna" else None)
                outcome = 0
            else:
                outcome = main(["store", "--tracking-uri", tracking, *(["--storage", storage] if store == "optuna"
                                                                          else [])])
    except KeyboardInterrupt:
        outcome = "KeyboardInterrupt"
    except BaseException as exc:  # noqa: BLE001 (what escaped is the finding)
        outcome = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    finally:
        sys.setprofile(None)
    if "Exception ignored" in err.getvalue():
        outcome = f"{outcome} (with 'Exception ignored')"
    return outcome, stopper.calls


def state(directory: Path) -> dict:
    """What a stop left: the files, then whether the next use works and leaves complete stores."""
    import sqlite3

    from sweeplab.cli import main

    left = sorted(path.name for path in directory.iterdir())
    tracking, storage = urls(directory)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            again = main(["store", "--tracking-uri", tracking, "--storage", storage])
            board = main(["leaderboard", "--tracking-uri", tracking])
        except BaseException as exc:  # noqa: BLE001
            again, board = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}", None
    from sweeplab.tracking.store import _schema_head

    leftovers, revision = [], None
    with contextlib.suppress(sqlite3.Error):  # a store left broken reads as incomplete
        for database in directory.glob("*.db"):
            with contextlib.closing(sqlite3.connect(database)) as db:
                leftovers += [name for (name,) in db.execute("SELECT name FROM sqlite_master")
                              if name.startswith("_alembic_tmp_")]
        with contextlib.closing(sqlite3.connect(directory / "mlflow.db")) as db:
            revision = db.execute("SELECT version_num FROM alembic_version").fetchone()
    return {"left": left, "again": again, "leaderboard": board, "error": err.getvalue().strip()[-300:],
            "leftover_tables": leftovers, "complete": revision is not None and revision[0] == _schema_head(),
            "temporary_files": sorted(p.name for p in directory.iterdir() if ".creating" in p.name)}


def main(store: str, how: str, points: int) -> None:
    base = Path(tempfile.mkdtemp(prefix="stops-"))

    def fresh(name: str) -> Path:
        directory = base / name
        directory.mkdir()
        if store == "optuna":  # the stops land in the Optuna storage's creation
            create(directory, "mlflow", "term")
        return directory

    create(fresh("warm"), store, "term")  # first-use imports are not part of a creation
    _, total = create(fresh("count"), store, "term")
    if how == "kill":  # one point per process, POINTS giving where: the point-th of 100 spread over the creation
        at = max(1, total * points // 100)
        directory = fresh(f"at{at}")
        print(json.dumps({"at": at, "total": total, "dir": str(directory)}), flush=True)
        create(directory, store, how, at)
        return
    for k in range(1, points + 1):
        at = max(1, total * k // (points + 1))
        directory = fresh(f"at{at}")
        outcome, _ = create(directory, store, how, at)
        print(json.dumps({"at": at, "total": total, "outcome": outcome, **state(directory)}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "state":  # python -m tests.stop_points state DIRECTORY: what a killed creation left there
        print(json.dumps(state(Path(sys.argv[2]))))
    else:
        main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
