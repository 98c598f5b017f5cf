"""The leaderboard's SQLite fast path against MLflow's own client, on a real store: the same runs, tags, params and
metrics; and a store of another schema revision goes to MLflow's client instead of being read on trust."""

import sqlite3

import pytest

from sweeplab.tags import KIND
from sweeplab.tracking import Tracker
from sweeplab.tracking.reader import SqliteRuns


@pytest.fixture
def store(tmp_path):
    from mlflow.entities import Metric, Param, RunTag

    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client = tracker.client
    experiment = client.create_experiment("reader", tags={KIND: "sweep"})
    client.create_experiment("not_a_sweep")
    for number, score in enumerate([0.5, 0.75, float("nan")]):
        run = client.create_run(experiment, tags={KIND: "trial", "sweeplab.trial": str(number)})
        client.log_batch(run.info.run_id, metrics=[Metric("cv_accuracy_mean", score, 0, 0)],
                         params=[Param("embedding_dim", str(8 * (number + 1)))], tags=[RunTag("extra", "x")])
        client.set_terminated(run.info.run_id, "FINISHED")
    client.create_run(experiment, tags={KIND: "dataset"})
    return tracker, experiment, tmp_path / "mlflow.db"


def as_seen(run) -> tuple:
    data = run.data
    metrics = {k: ("nan" if v != v else v) for k, v in data.metrics.items()}
    return run.info.run_id, run.info.status, dict(data.params), metrics, {k: v for k, v in data.tags.items()
                                                                          if not k.startswith("mlflow.")}


def test_the_fast_path_reads_what_mlflow_reads(store):
    tracker, experiment, database = store
    fast = SqliteRuns(database)
    assert fast.sweep_experiments() == [(experiment, "reader")]
    slow = tracker._search_all([experiment], f"tags.`{KIND}` = 'trial'")
    assert sorted(map(as_seen, fast.runs([experiment], "trial"))) == sorted(map(as_seen, slow))
    assert len(fast.runs([experiment], "dataset")) == 1


def test_another_schema_revision_is_not_read_on_trust(store, monkeypatch):
    tracker, experiment, database = store
    with sqlite3.connect(database) as db:
        db.execute("UPDATE alembic_version SET version_num = 'f00dfeedbeef'")
    with pytest.raises(sqlite3.DatabaseError, match="MLflow schema revision f00dfeedbeef"):
        SqliteRuns(database).runs([experiment], "trial")
    asked = []
    monkeypatch.setattr(Tracker, "_search_all", lambda self, ids, filter_string: asked.append(filter_string) or [])
    assert tracker.runs([experiment], "trial") == [] and asked == [f"tags.`{KIND}` = 'trial'"]


def test_params_read_back_as_the_sweep_file_had_them_floats_without_a_point_included():
    """MLflow keeps params as text and Python writes 0.0000001 as '1e-07', which YAML 1.1 reads as a string:
    the report's importances refused it against the sweep's float choices."""
    from sweeplab.tracking.reader import param_values

    assert param_values({"lr": "1e-07", "big": "2E+5", "point": "0.001", "cell": "lstm", "n": "64", "on": "True",
                         "name": "e5"}) == {"lr": 1e-07, "big": 2e5, "point": 0.001, "cell": "lstm", "n": 64,
                                            "on": True, "name": "e5"}
