"""A stop while a store is being created leaves no store or a complete one, and the command says it stopped.

MLflow migrates a new SQLite store in statements SQLite cannot roll back: a SIGTERM in the middle once left a store
that every later command refused (``table _alembic_tmp_experiments already exists``). ``tests/stop_points.py``
stops the creation at points spread evenly over it (calls into SQLAlchemy, alembic, MLflow's and Optuna's storage
code), each stop a new creation, and reports what each left; a SIGKILL cannot be held, so it kills a process at
points of its own and the next use must find no half of a store. ``SWEEPLAB_STOP_POINTS`` sets how many points
(16 here; 40 by hand).
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration
POINTS = int(os.environ.get("SWEEPLAB_STOP_POINTS", "16"))


def stops(store: str, how: str, points: int) -> list[dict]:
    done = subprocess.run([sys.executable, "-m", "tests.stop_points", store, how, str(points)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


def left_whole(found: dict) -> bool:
    """The next use works and finds complete stores, with nothing of a creation left over."""
    return (found["again"], found["leaderboard"], found["leftover_tables"], found["complete"],
            found["temporary_files"]) == (0, 0, [], True, [])


@pytest.mark.parametrize("store, how, points, stopped", [
    ("mlflow", "term", POINTS, 128 + signal.SIGTERM),
    ("optuna", "term", POINTS // 2, 128 + signal.SIGTERM),
    ("mlflow", "api", POINTS // 2, "KeyboardInterrupt"),  # a notebook's Ctrl-C, Python's own handler
])
def test_a_stop_anywhere_in_a_store_s_creation_leaves_it_whole_or_absent(store, how, points, stopped):
    found = stops(store, how, points)
    assert len(found) == points and len({f["at"] for f in found}) == points  # distinct points, all in the creation
    assert all(0 < f["at"] < f["total"] for f in found)
    assert [f["outcome"] for f in found] == [stopped] * points  # every stop says it stopped; none was lost
    broken = [f for f in found if not left_whole(f)]
    assert not broken, broken


@pytest.mark.parametrize("percent", [10, 50, 90])
def test_a_kill_in_a_store_s_creation_leaves_no_half_of_one(percent):
    done = subprocess.run([sys.executable, "-m", "tests.stop_points", "mlflow", "kill", str(percent)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    point = json.loads(done.stdout.splitlines()[-1])
    directory = Path(point["dir"])
    assert "mlflow.db" not in os.listdir(directory)  # killed mid-creation: the store's name was never taken
    after = json.loads(subprocess.run([sys.executable, "-m", "tests.stop_points", "state", str(directory)], cwd=ROOT,
                                      capture_output=True, text=True, timeout=300, check=True).stdout)
    assert left_whole(after), after


def test_a_store_an_older_version_left_half_created_is_made_anew(tmp_path, capsys):
    """Before stores were created whole, a stop left one like this (a migration's temporary table, no run):
    the next use makes it anew; the same schema holding runs is one line saying how to migrate it."""
    from sweeplab.cli import main

    database = tmp_path / "mlflow.db"
    uri = f"sqlite:///{database}"
    assert main(["store", "--tracking-uri", uri]) == 0
    with sqlite3.connect(database) as db:
        db.execute("UPDATE alembic_version SET version_num = '0584bdc529eb'")
        db.execute("CREATE TABLE _alembic_tmp_experiments (experiment_id INTEGER)")
    assert main(["store", "--tracking-uri", uri]) == 0
    assert capsys.readouterr().err == (f"sweeplab: note: {database} was left half-created by a stopped command and "
                                       "holds no runs: made anew\n")
    with sqlite3.connect(database) as db:
        assert not db.execute("SELECT name FROM sqlite_master WHERE name LIKE '_alembic_tmp_%'").fetchall()
        db.execute("UPDATE alembic_version SET version_num = '0584bdc529eb'")
        db.execute("INSERT INTO runs (run_uuid, experiment_id, lifecycle_stage) VALUES ('r1', 0, 'active')")
    assert main(["store", "--tracking-uri", uri]) == 2
    assert capsys.readouterr().err.startswith(f"sweeplab: error: {database}: an MLflow store of schema revision "
                                              "0584bdc529eb, not this MLflow's ")
