"""What every engine now shares through the trainer: trials written live, reuse of finished trials (resume after a
kill, a grid extended by one value, --fresh), --dry-run, and engine settings refused when the file is read."""

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
from mlflow import MlflowClient

from sweeplab.cli import main
from sweeplab.search.listener import Listener
from sweeplab.tags import KIND, NOTE, PARENT, REUSED_FROM, STATE, TRIAL_KEY
from tests.test_optuna import reviews_csv, running_children

pytestmark = pytest.mark.integration


def grid_yaml(directory, filters="[4, 8]", engine="grid", epochs=3, name="core"):
    path = directory / f"{name}.yaml"
    path.write_text(textwrap.dedent(f"""
        name: {name}
        model: cnn
        engine: {engine}
        trials: 4
        folds: 2
        seed: 5
        fit: {{epochs: {epochs}, batch_size: 16}}
        space:
          num_filters: {filters}
          kernel_size: [2, 3]
          embedding_dim: 4
          maxlen: 8
    """))
    return path


class Store:
    def __init__(self, tmp_path):
        self.tmp, self.uri = tmp_path, f"sqlite:///{tmp_path / 'mlflow.db'}"
        self.data = str(reviews_csv(tmp_path))

    def sweep(self, sweep_file, *extra):
        return main(["sweep", str(sweep_file), "--data", self.data, "--tracking-uri", self.uri, *extra])

    def runs(self, kind):
        client = MlflowClient(self.uri)
        ids = [e.experiment_id for e in client.search_experiments()]
        return client.search_runs(ids, f"tags.`{KIND}` = '{kind}'", max_results=1000)

    def latest_trials(self):
        parents = sorted(self.runs("dataset"), key=lambda run: run.info.start_time)
        return [c for c in self.runs("trial") if c.data.tags[PARENT] == parents[-1].info.run_id]


def test_random_trials_are_in_the_store_while_the_search_goes_on(tmp_path, monkeypatch):
    store = Store(tmp_path)
    seen = []

    class Peek(Listener):
        """When trial 2 starts, trial 1 must be in the store: finished, its folds and its curve written."""

        def trial_started(self, number, params):
            if number == 1:
                [run] = [r for r in store.runs("trial") if r.data.tags["sweeplab.trial"] == "0"]
                curve = MlflowClient(store.uri).get_metric_history(run.info.run_id, "fold_2_val_accuracy")
                seen.append((run.info.status, run.data.tags[STATE], "fold_2_accuracy" in run.data.metrics,
                             [m.step for m in curve], run.info.run_name.startswith("cv ")))

    from sweeplab.search import listener

    real = listener.Listeners.__init__
    monkeypatch.setattr(listener.Listeners, "__init__", lambda self, *ls: real(self, *ls, Peek()))
    assert store.sweep(grid_yaml(tmp_path, engine="random")) == 0
    assert seen == [("FINISHED", "COMPLETE", True, [1, 2, 3], True)]


def test_a_killed_random_sweep_trains_only_what_was_not_finished(tmp_path):
    store = Store(tmp_path)
    sweep_file = grid_yaml(tmp_path, engine="random", epochs=6)
    command = [sys.executable, "-m", "sweeplab", "sweep", str(sweep_file), "--data", store.data,
               "--tracking-uri", store.uri]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while _finished_trials(store.uri) < 2:  # two trials done, the third under way
        assert process.poll() is None and time.monotonic() < deadline, "the sweep ended before it was killed"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert [p.info.status for p in store.runs("dataset")] == ["RUNNING"]  # as SIGKILL leaves it

    assert store.sweep(sweep_file) == 0
    trials = store.latest_trials()
    reused = [t for t in trials if REUSED_FROM in t.data.tags]
    assert len(trials) == 4 and len(reused) >= 2 and len({t.data.tags[TRIAL_KEY] for t in trials}) == 4
    assert len(trials) - len(reused) <= 2  # only what was not finished trained again
    assert sorted(p.info.status for p in store.runs("dataset")) == ["FINISHED", "KILLED"]
    assert running_children(store.uri) == 0
    killed = [c for c in store.runs("trial") if c.info.status == "KILLED"]
    assert all(c.data.tags[NOTE].startswith("abandoned") for c in killed)
    assert main(["leaderboard", "--format", "json", "--tracking-uri", store.uri, "--top", "99"]) == 0


def _finished_trials(uri) -> int:
    database = uri[len("sqlite:///"):]
    try:
        with sqlite3.connect(database) as db:
            return db.execute("SELECT count(*) FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
                              "WHERE r.status = 'FINISHED' AND t.key = ? AND t.value = 'trial'", (KIND,)).fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_a_grid_extended_by_one_value_trains_only_the_new_points(tmp_path, capsys):
    store = Store(tmp_path)
    assert store.sweep(grid_yaml(tmp_path, "[4, 8]")) == 0
    assert store.sweep(grid_yaml(tmp_path, "[4, 8, 12]")) == 0
    assert "6 trials x 2 folds (grid), 4 already in the store (reused, not trained)" in capsys.readouterr().err
    trials = store.latest_trials()
    trained = sorted(int(t.data.params["num_filters"]) for t in trials if REUSED_FROM not in t.data.tags)
    assert len(trials) == 6 and trained == [12, 12]
    # Reused runs carry the scores of the runs they reuse.
    originals = {r.info.run_id: r for r in store.runs("trial")}
    for trial in trials:
        if REUSED_FROM in trial.data.tags:
            original = originals[trial.data.tags[REUSED_FROM]]
            assert trial.data.metrics["cv_accuracy_mean"] == original.data.metrics["cv_accuracy_mean"]
            assert trial.data.tags[TRIAL_KEY] == original.data.tags[TRIAL_KEY]

    assert store.sweep(grid_yaml(tmp_path, "[4, 8, 12]"), "--fresh") == 0
    assert not [t for t in store.latest_trials() if REUSED_FROM in t.data.tags]


def test_a_dry_run_counts_estimates_and_writes_nothing(tmp_path, capsys):
    store = Store(tmp_path)
    assert store.sweep(grid_yaml(tmp_path, "[4, 8]"), "--dry-run") == 0
    out = capsys.readouterr().out
    assert "4 trials x 2 folds x up to 3 epochs (grid)" in out and "0 finished in the store" in out
    assert "no finished trial of cnn on this dataset in the store to estimate the time from" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["core.yaml", "reviews.csv"]
    assert store.sweep(grid_yaml(tmp_path, "[4, 8]"), "--dry-run", "--workers", "2") == 0
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    assert (f"the trials wait in one queue at {storage}: 2 processes take them; another shell or machine joins "
            f"with 'sweeplab worker core --storage {storage}'") in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["core.yaml", "reviews.csv"]

    assert store.sweep(grid_yaml(tmp_path, "[4, 8]")) == 0
    before = (tmp_path / "mlflow.db").read_bytes()
    assert store.sweep(grid_yaml(tmp_path, "[4, 8, 12]"), "--dry-run") == 0
    out = capsys.readouterr().out
    assert "4 finished in the store (reused, not trained); 2 to train" in out
    assert "of fitting, going by 4 finished trials of the same model on this dataset" in out
    assert (tmp_path / "mlflow.db").read_bytes() == before
    # Overrides show in the plan as they will run, and nested CV says what it adds.
    assert store.sweep(grid_yaml(tmp_path, "[4, 8]"), "--dry-run", "--folds", "3", "--nested", "2") == 0
    out = capsys.readouterr().out
    assert "4 trials x 3 folds x up to 3 epochs (grid)" in out
    assert "then nested CV: the whole search 2 more times, on 1/2 of the training split each" in out


def test_the_grid_engine_refuses_a_continuous_range_before_anything_runs(tmp_path, capsys):
    sweep_file = tmp_path / "c.yaml"
    sweep_file.write_text(grid_yaml(tmp_path).read_text().replace("kernel_size: [2, 3]",
                                                                  "learning_rate: {low: 0.001, high: 0.01}"))
    store = Store(tmp_path)
    uri = f"sqlite:///{tmp_path / 'other' / 'mlflow.db'}"
    assert main(["sweep", str(sweep_file), "--data", store.data, "--tracking-uri", uri, "--engine", "grid"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("space.learning_rate: the grid engine needs a list or a range with a step")
    assert not (tmp_path / "other").exists()


def test_trial_keys_are_the_ones_the_previous_version_wrote(monkeypatch):
    """Finished trials stay reusable across the engines' and families' rework: these keys were computed by the
    version before it (commit 0315924) for the same configurations under the same package versions."""
    from sweeplab import config, versions
    from sweeplab.search.trainer import configuration_key
    from sweeplab.search.trial import cv_key

    monkeypatch.setattr(versions, "current", lambda: {
        "sweeplab": "0.3.0", "tensorflow-cpu": "2.21.0", "keras": "3.15.1", "scikeras": "0.13.0",
        "scikit-learn": "1.9.1", "numpy": "2.4.6", "tensorflow": None})
    cv = cv_key("0" * 64, 0.25, 1000, 4)
    assert cv == "1209c1b12748b30805dcb9763fa6e752"
    single = config.load_sweep("cnn_grid")
    assert configuration_key(single, cv, single.configuration({"num_filters": 64, "kernel_size": 5})) == \
        "8dfe3bbdac66646faf67975400b302cd"
    families = config.load_sweep("families")
    for family, expected in (("rnn", "f40d6249c3bed98190267f58151822ee"), ("cnn", "c60d5b5f5b3a58142cd34f4f97cc82ab")):
        chosen = {name: p.grid_values()[0] if p.grid_values() else p.low
                  for name, p in families.searched(family).items()}
        assert configuration_key(families, cv, families.configuration({"model": family, **chosen})) == expected
