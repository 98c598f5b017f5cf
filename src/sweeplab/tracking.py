"""Where results go: MLflow. One experiment per sweep, one parent run per (sweep, dataset), one child per trial.

The default store is a SQLite database under ``mlruns/`` with artifacts beside it, so ``make ui`` and
``sweeplab leaderboard`` read the same runs; ``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` point elsewhere.
Runs are written through ``MlflowClient`` with explicit ids (no global "active run"), and every run this module
opens is closed on the way out, as FAILED or KILLED when something went wrong.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from sweeplab import outbox, versions
from sweeplab.errors import SweepLabError
from sweeplab.listener import Listener
from sweeplab.metrics import METRICS
from sweeplab.tags import (BEST, CV_KEY, DATA_SHA, ENGINE, EXPERIMENT_FILE, KIND, MODEL, NOTE, PARENT, PREFIX,
                           RESUME, REUSED_FROM, SOURCE, STATE, SWEEP, TRIAL, TRIAL_KEY, TRIALS, WORKER)
from sweeplab.tags import METRIC as METRIC_TAG
from sweeplab.trial import Finished
from sweeplab.urls import check_sqlite_store, check_writable, creation_lock, local_directory, sqlite_path

# mlflow's SQL store trips SQLAlchemy 2.x deprecation warnings that are mlflow's to fix, not ours.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(mlflow|sqlalchemy|alembic)(\.|$)")

METRIC = "accuracy"  # the metric of runs from before sweeps had a choice
EPOCH_FLUSH_S = 2.0  # a trial's per-epoch curve reaches the store at least this often, and at each fold's end


def default_tracking_uri() -> str:
    return f"sqlite:///{Path('mlruns').resolve() / 'mlflow.db'}"


def resolve_uri(uri: str | None = None) -> str:
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


class Tracker:
    """Opens runs in one MLflow store. Nothing touches the store until the first run is opened."""

    def __init__(self, uri: str | None = None):
        self.uri = resolve_uri(uri)
        self._client = None

    def has_store(self) -> bool:
        """False for a local SQLite store that does not exist yet (reading must not create one)."""
        database = sqlite_path(self.uri)
        return database is None or database.exists()

    def local_dir(self) -> Path:
        """Where local state beside the store belongs (the Optuna studies' default database)."""
        database = sqlite_path(self.uri)
        return database.parent if database is not None else Path("mlruns").resolve()

    def check(self) -> None:
        """Before a sweep trains anything: the store can take its runs (a local store is writable and not full,
        a tracking server answers)."""
        directory = local_directory(self.uri)
        if directory is not None:
            check_writable(directory, "MLflow store")
            return
        try:
            self.client.search_experiments(max_results=1)
        except Exception as exc:  # MLflow raises its own exception for every transport error
            raise SweepLabError(f"--tracking-uri {self.uri}: no MLflow tracking server answers "
                                f"({outbox.reason(exc)})") from None

    @property
    def client(self):
        if self._client is None:
            from mlflow import MlflowClient

            with creation_lock(self.uri):
                check_sqlite_store(self.uri, "experiments", "an MLflow store")
                client = MlflowClient(tracking_uri=self.uri)
                if sqlite_path(self.uri) is not None:
                    client.search_experiments(max_results=1)  # creates or migrates the store, under the lock
            self._client = client
        return self._client

    def sweep_experiments(self) -> list[tuple[str, str]]:
        """(experiment id, name) of every sweep's experiment in the store."""
        database = sqlite_path(self.uri)
        if database is not None:
            import sqlite3

            with contextlib.suppress(sqlite3.Error):
                return SqliteRuns(database).sweep_experiments()
        return [(e.experiment_id, e.name) for e in self.client.search_experiments() if e.tags.get(KIND) == "sweep"]

    def runs(self, experiment_ids: list[str], kind: str) -> list:
        """Every run of ``kind`` (``dataset``, ``trial``, ``retrain``) in these experiments: straight from the
        tables of a local SQLite store, through MLflow's client otherwise."""
        database = sqlite_path(self.uri)
        if database is not None:
            import sqlite3

            with contextlib.suppress(sqlite3.Error):
                return SqliteRuns(database).runs(experiment_ids, kind)
        return self._search_all(experiment_ids, f"tags.`{KIND}` = '{kind}'")

    def _search_all(self, experiment_ids: list[str], filter_string: str) -> list:
        runs, token = [], None
        while experiment_ids:
            page = self.client.search_runs(experiment_ids, filter_string=filter_string, max_results=1000,
                                           page_token=token)
            runs.extend(page)
            token = page.token
            if not token:
                break
        return runs

    def experiment_id(self, sweep_name: str) -> str:
        existing = self.client.get_experiment_by_name(sweep_name)
        if existing is not None:
            return existing.experiment_id
        database = sqlite_path(self.uri)
        # Artifacts live beside a SQLite store; a tracking server decides for itself.
        location = (database.parent / "artifacts" / sweep_name).resolve().as_uri() if database else None
        try:
            return self.client.create_experiment(sweep_name, artifact_location=location, tags={KIND: "sweep"})
        except Exception:
            # Another worker created it a moment ago.
            existing = self.client.get_experiment_by_name(sweep_name)
            if existing is None:
                raise
            return existing.experiment_id

    @contextlib.contextmanager
    def dataset_run(self, sweep, dataset, resume_key: str | None = None, cv_key: str | None = None):
        """The parent run of one dataset's search; FINISHED, FAILED or KILLED according to how the block ends.

        With ``resume_key`` (a resumable engine's study), the parent that carries the same key is reopened, so a
        resumed search keeps all its trials under one parent. A parent of the same sweep and dataset that a
        process on this machine left RUNNING when it died (SIGKILL, a lost terminal) is closed as KILLED first.
        ``cv_key`` tags every trial run, for :meth:`finished_trials`.
        """
        tags = {
            KIND: "dataset", SWEEP: sweep.name, SOURCE: dataset.name, ENGINE: sweep.engine,
            MODEL: sweep.model, DATA_SHA: dataset.integrity["sha256"], TRIALS: str(sweep.trials),
            METRIC_TAG: sweep.metric, WORKER: _this_process(),
        }
        experiment = self.experiment_id(sweep.name)
        parent = self._find_parent(experiment, resume_key) if resume_key else None
        self._close_abandoned(experiment, dataset.name, keep=parent.info.run_id if parent else None)
        if parent is None:
            parent = self.client.create_run(experiment, run_name=dataset.name,
                                            tags={**tags, **({RESUME: resume_key} if resume_key else {})})
        else:
            self.client.update_run(parent.info.run_id, status="RUNNING")
            for key in (TRIALS, ENGINE, WORKER):
                self.client.set_tag(parent.info.run_id, key, tags[key])
        run = DatasetRun(outbox.Outbox(self.client, self.uri), parent.info.run_id, experiment, tags,
                         _dataset_input(dataset), cv_key)
        with _closing(self.client, parent.info.run_id):
            try:
                yield run
            except BaseException:
                with contextlib.suppress(Exception):  # the search's own error is the one the user sees
                    run.close_open_children()
                raise

    def attach(self, sweep, dataset, resume_key: str, cv_key: str | None = None):
        """The parent run another process opened for this search, to add trials to (a worker's view)."""
        experiment = self.experiment_id(sweep.name)
        parent = self._find_parent(experiment, resume_key)
        if parent is None:
            raise SweepLabError(f"no MLflow run for study key {resume_key} in {self.uri}: "
                                "is this the tracking URI the sweep uses?")
        tags = {k: v for k, v in parent.data.tags.items() if k.startswith(PREFIX)}
        run = DatasetRun(outbox.Outbox(self.client, self.uri), parent.info.run_id, experiment, tags,
                         _dataset_input(dataset), cv_key)
        # Logged by the sweep's own process.
        run.baseline_cv = parent.data.metrics.get(f"baseline_cv_{run.metric}")
        return run

    @contextlib.contextmanager
    def retrain_run(self, experiment):
        """A ``retrain`` run beside the sweep's runs (in the sweep's MLflow experiment when it has one)."""
        source = experiment.data.get("source") or Path(experiment.data["file"]).stem
        tags = {
            KIND: "retrain", SWEEP: experiment.sweep, SOURCE: source, MODEL: experiment.model,
            EXPERIMENT_FILE: experiment.path, DATA_SHA: experiment.data["sha256"],
        }
        experiment_id = self.experiment_id(experiment.sweep or "retrain")
        run = self.client.create_run(experiment_id, run_name=f"retrain {experiment.name}", tags=tags)
        with _closing(self.client, run.info.run_id):
            yield RetrainRun(self, run.info.run_id)

    def _find_parent(self, experiment_id: str, resume_key: str):
        found = self.client.search_runs([experiment_id], f"tags.`{RESUME}` = '{resume_key}'", max_results=1)
        return found[0] if found else None

    def _close_abandoned(self, experiment_id: str, source: str, keep: str | None = None) -> None:
        """Close as KILLED this dataset's parents (and their running trials) that a dead process of this machine
        left RUNNING. Another machine's processes cannot be seen from here: their runs stay as they are."""
        running = self.client.search_runs(
            [experiment_id], f"tags.`{KIND}` = 'dataset' and tags.`{SOURCE}` = '{_quoted(source)}' and "
                             "attributes.status = 'RUNNING'", max_results=1000)
        for parent in running:
            if parent.info.run_id == keep or not _dead_here(parent.data.tags.get(WORKER, "")):
                continue
            children = self.client.search_runs(
                [experiment_id], f"tags.`{PARENT}` = '{parent.info.run_id}' and attributes.status = 'RUNNING'",
                max_results=50000)
            for run in [*children, parent]:
                _abandon(self.client, run.info.run_id)

    def finished_trials(self, cv_key: str) -> dict:
        """Trial key -> :class:`~sweeplab.trial.Finished` for every COMPLETE trial run of any sweep in this
        store whose search had ``cv_key`` (same data, split, folds and code). A run that trained is preferred to
        one that reused it."""
        import yaml

        if not self.has_store():
            return {}
        database = sqlite_path(self.uri)
        runs = None
        if database is not None:
            import sqlite3

            with contextlib.suppress(sqlite3.Error):
                runs = SqliteRuns(database).tagged(CV_KEY, cv_key)
        if runs is None:
            runs = self._search_all([e.experiment_id for e in self.client.search_experiments()],
                                    f"tags.`{CV_KEY}` = '{_quoted(cv_key)}'")
        found = {}
        for run in sorted(runs, key=lambda r: REUSED_FROM in r.data.tags, reverse=True):
            tags = run.data.tags
            measures = _fold_measures(run.data.metrics)
            if run.info.status == "FINISHED" and tags.get(STATE) == "COMPLETE" and TRIAL_KEY in tags and measures:
                params = {"model": tags.get(MODEL), **{k: yaml.safe_load(v) for k, v in run.data.params.items()}}
                found[tags[TRIAL_KEY]] = Finished(tags.get(REUSED_FROM) or run.info.run_id, measures,
                                                  run.data.metrics.get("fit_time_s", 0.0), params)
        return found


# --- reading runs back --------------------------------------------------------------------------------------------


class _Run:
    """The parts of an MLflow ``Run`` that reading back needs: ``info.run_id``, ``info.status``,
    ``info.start_time`` and ``data.tags``, ``data.metrics`` (latest values), ``data.params``."""

    def __init__(self, run_id: str, status: str, start_time: int):
        self.info = SimpleNamespace(run_id=run_id, status=status, start_time=start_time)
        self.data = SimpleNamespace(tags={}, metrics={}, params={})


class SqliteRuns:
    """Reads sweep experiments and their runs straight from a local SQLite store, read-only.

    Importing MLflow and opening its SQL store (which checks the schema's migrations) takes about 3 s, against a
    few tenths for the queries themselves: too slow for a leaderboard typed at a prompt. The tables read
    (experiments, experiment_tags, runs, tags, latest_metrics, params) are the ones MLflow's own search reads;
    a store whose schema does not match raises ``sqlite3.Error`` and the caller falls back to MLflow's client.
    """

    # The MLflow schema revisions (alembic heads) these queries were written against: MLflow 3.17's. Another
    # revision may rename a column or change what one means, so the fast path steps aside for MLflow's client
    # rather than trusting it; add a revision here once the queries are checked against it.
    SCHEMA_REVISIONS = frozenset({"dc11669786a5"})

    def __init__(self, database: Path):
        self.database = database

    def _connect(self):
        import sqlite3

        db = sqlite3.connect(f"{self.database.resolve().as_uri()}?mode=ro", uri=True)
        try:
            found = db.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error:
            db.close()
            raise
        if found is None or found[0] not in self.SCHEMA_REVISIONS:
            db.close()
            raise sqlite3.DatabaseError(f"MLflow schema revision {found and found[0]}, not one of "
                                        f"{sorted(self.SCHEMA_REVISIONS)} this reader was written for")
        return db

    def sweep_experiments(self) -> list[tuple[str, str]]:
        """(experiment id, name) of every active sweep experiment."""
        with contextlib.closing(self._connect()) as db:
            rows = db.execute(
                "SELECT e.experiment_id, e.name FROM experiments e JOIN experiment_tags t "
                "ON t.experiment_id = e.experiment_id WHERE e.lifecycle_stage = 'active' AND t.key = ? AND "
                "t.value = 'sweep' ORDER BY e.experiment_id", (KIND,)).fetchall()
        return [(str(experiment_id), name) for experiment_id, name in rows]

    def runs(self, experiment_ids: list[str], kind: str) -> list[_Run]:
        """Every active run of ``kind`` (the sweeplab.kind tag) in these experiments."""
        marks = ",".join("?" * len(experiment_ids))
        return self._read(f"SELECT r.run_uuid FROM runs r JOIN tags k ON k.run_uuid = r.run_uuid AND k.key = ? "
                          f"WHERE k.value = ? AND r.lifecycle_stage = 'active' AND r.experiment_id IN ({marks})",
                          (KIND, kind, *experiment_ids))

    def _read(self, selected: str, args: tuple) -> list[_Run]:
        """The runs whose ids the query ``selected`` gives, with their tags, params and latest metrics."""
        with contextlib.closing(self._connect()) as db:
            runs = {run_id: _Run(run_id, status, start_time) for run_id, status, start_time in db.execute(
                f"SELECT run_uuid, status, start_time FROM runs WHERE run_uuid IN ({selected})", args)}
            for table, field, value in (("tags", "tags", "value"), ("params", "params", "value"),
                                        ("latest_metrics", "metrics", "CASE WHEN is_nan THEN 'nan' ELSE value END")):
                for run_id, key, found in db.execute(
                        f"SELECT run_uuid, key, {value} FROM {table} WHERE run_uuid IN ({selected})", args):
                    getattr(runs[run_id].data, field)[key] = float(found) if field == "metrics" else found
        return list(runs.values())

    def tagged(self, key: str, value: str) -> list[_Run]:
        """Every active run, in any experiment, that has tag ``key`` = ``value``."""
        return self._read("SELECT r.run_uuid FROM runs r JOIN tags k ON k.run_uuid = r.run_uuid AND k.key = ? "
                          "WHERE k.value = ? AND r.lifecycle_stage = 'active'", (key, value))


def _fold_measures(metrics: dict) -> tuple:
    """Per fold, what a trial run logged as ``fold_<k>_<name>`` (not the per-epoch ``fold_<k>_val_<metric>``);
    empty unless every fold has every metric."""
    import re

    folds = {}
    for name, value in metrics.items():
        matched = re.fullmatch(r"fold_(\d+)_(.+)", name)
        if matched and not matched[2].startswith("val_"):
            folds.setdefault(int(matched[1]), {})[matched[2]] = value
    measures = tuple(folds[k] for k in sorted(folds))
    complete = sorted(folds) == list(range(1, len(folds) + 1)) and all(set(METRICS) <= set(m) for m in measures)
    return measures if complete else ()


def _abandon(client, run_id: str) -> None:
    """Close a run whose process died: KILLED, its trial state FAIL, and a note saying why."""
    client.set_tag(run_id, STATE, "FAIL")
    client.set_tag(run_id, NOTE, "abandoned: the process running it stopped")
    client.set_terminated(run_id, "KILLED")


def _this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _dead_here(worker: str) -> bool:
    """True when ``worker`` (host:pid) names a process of this machine that no longer exists."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists, as another user's
        return False
    return False


def _quoted(value: str) -> str:
    """A value inside an MLflow filter string's single quotes."""
    return value.replace("'", "\\'")


@contextlib.contextmanager
def _closing(client, run_id: str, status: str = "FINISHED"):
    """Ends the run with ``status``, or as KILLED/FAILED if the block raised: no run is left RUNNING.

    If the store cannot take that last write either (a tracking server that went away), the block's own error is
    the one the user sees.
    """
    try:
        yield
    except BaseException as exc:
        with contextlib.suppress(Exception):
            client.set_terminated(run_id, "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    client.set_terminated(run_id, status)


class DatasetRun(Listener):
    """One dataset's parent run. It listens to the trainer: one child run per trial, written as the trial goes
    (created when it starts, its validation curve every few seconds, each fold's metrics when the fold ends, named
    with its score when it ends); a reused trial's run repeats the metrics of the run it reuses.

    ``client`` is an :class:`~sweeplab.outbox.Outbox`: trial writes wait out a tracking server's absence, and
    :meth:`settle` waits for them before anything reads the runs back.
    """

    def __init__(self, client: outbox.Outbox, run_id: str, experiment_id: str, tags: dict, dataset_input=None,
                 cv_key: str | None = None):
        self.client, self.run_id, self.experiment_id = client, run_id, experiment_id
        self.dataset_input = dataset_input
        self.tags = {**{k: v for k, v in tags.items() if k not in (KIND, RESUME)}, WORKER: _this_process(),
                     **({CV_KEY: cv_key} if cv_key else {})}
        self.metric = tags.get(METRIC_TAG, "accuracy")  # parents from before sweeps had a metric: accuracy
        self.baseline_cv = None  # what each trial's lift is measured against
        self.child_ids = {}
        self._open = set()  # child runs this process opened and has not closed yet
        self._curves = {}
        self._flushed = {}  # trial number -> when its curve was last written

    def log_setup(self, sweep, dataset, n_train: int, n_test: int, baseline) -> None:
        from mlflow.entities import Metric, Param

        integrity = dataset.integrity
        params = {
            "engine": sweep.engine, "model": sweep.model, "folds": sweep.folds, "test_size": sweep.test_size,
            "seed": sweep.seed, "n_train": n_train, "n_test": n_test,
            "data.rows": integrity["rows"], "data.sha256": integrity["sha256"], "data.path": integrity["path"],
            "data.class_counts": json.dumps(integrity["class_counts"]),
            "data.reference": json.dumps(dataset.reference),
            **{f"version.{k}": v for k, v in versions.current().items()},
            **{f"fixed.{k}": v for k, v in sweep.fixed().items()},
        }
        logged = self.client.get_run(self.run_id).data.params  # a resumed parent keeps what it had
        self.client.log_batch(
            self.run_id,
            params=[Param(k, str(v)[:6000]) for k, v in params.items() if k not in logged],
            metrics=[Metric(f"baseline_{part}_{m}", value, _now(), 0) for m in METRICS
                     for part, value in (("cv", baseline.cv_mean_of(m)), ("test", baseline.test_measures[m]))],
        )
        self.client.log_dict(self.run_id, sweep.to_dict(), "sweep.yaml")
        self.client.log_dict(self.run_id, integrity, "integrity.json")
        self.baseline_cv = baseline.cv_mean

    # --- the engine's listener ------------------------------------------------------------------------------------

    def trial_started(self, number: int, params: dict) -> None:
        from mlflow.entities import Param

        run_id = self._create_child(number, f"{self._child_name(number)} (running)", {STATE: "RUNNING"})
        self.client.log_batch(run_id, params=[Param(k, str(v)) for k, v in params.items()])

    def epoch_done(self, number: int, fold: int, epoch: int, value: float) -> None:
        from mlflow.entities import Metric

        self._curves.setdefault(number, []).append(Metric(f"fold_{fold}_val_{self.metric}", value, _now(), epoch))
        # One write per epoch would cost more than a small model's epoch; every few seconds is live enough.
        if number in self.child_ids and _now() - self._flushed.get(number, 0) >= EPOCH_FLUSH_S * 1000:
            self._write(number, [])

    def fold_done(self, number: int, fold: int, params: dict, score: float, measures: dict) -> None:
        from mlflow.entities import Metric

        if number in self.child_ids:  # write the fold now, with the rest of its learning curve
            self._write(number, [Metric(f"fold_{fold}_{m}", value, _now(), 0) for m, value in measures.items()])

    def _write(self, number: int, metrics: list) -> None:
        self.client.log_batch(self.child_ids[number], metrics=[*self._curves.pop(number, []), *metrics])
        self._flushed[number] = _now()

    def trial_finished(self, trial) -> None:
        from mlflow.entities import Metric, Param, RunTag

        run_id = self.child_ids.get(trial.number)
        metrics, params, live = {"fit_time_s": trial.fit_time}, [], run_id is not None
        if not live:  # a trial that did not start here
            run_id = self._create_child(trial.number, self._child_name(trial.number))
            params = [Param(k, str(v)) for k, v in trial.params.items()]
        if not live or trial.reused_from:  # no fold was written as it went
            metrics.update({f"fold_{k}_{m}": value for k, fold in enumerate(trial.fold_measures, start=1)
                            for m, value in fold.items() if value == value})
        if self._curves.get(trial.number):
            self._write(trial.number, [])
        if trial.ok:
            metrics.update({**trial.summary(), f"cv_{self.metric}_mean": trial.mean,
                            f"cv_{self.metric}_std": trial.std})
            if self.baseline_cv is not None:
                metrics.update({f"baseline_cv_{self.metric}": self.baseline_cv,
                                "lift_cv": trial.mean - self.baseline_cv})
        tags = {STATE: trial.state, **({NOTE: trial.note[:5000]} if trial.note else {}),
                **({TRIAL_KEY: trial.key} if trial.key else {}),
                **({REUSED_FROM: trial.reused_from} if trial.reused_from else {})}
        with _closing(self.client, run_id, "FAILED" if trial.state == "FAIL" else "FINISHED"):
            self.client.update_run(run_id, name=self._finished_name(trial))
            self.client.log_batch(
                run_id, params=params, tags=[RunTag(k, v) for k, v in tags.items()],
                metrics=[Metric(k, float(v), _now(), 0) for k, v in metrics.items()],
            )
        self._open.discard(run_id)

    def close_open_children(self) -> None:
        """Close as KILLED the trial runs this process opened and did not close: a stop signal can land between
        a child's creation and the trainer's hold on it (while its parameters are written), where no trial
        result exists to close it with."""
        for run_id in sorted(self._open):
            _abandon(self.client, run_id)
        self._open.clear()

    def settle(self) -> None:
        """Wait until every trial write of this process reached the store."""
        self.client.drain()

    def reconcile(self, live: set) -> int:
        """Close as KILLED the children still RUNNING whose trial is not running any more (its process died)."""
        self.settle()
        orphans = [
            child for child in self._children()
            if child.info.status == "RUNNING" and int(child.data.tags.get(TRIAL, -1)) not in live
        ]
        for child in orphans:
            _abandon(self.client, child.info.run_id)
        return len(orphans)

    def _children(self) -> list:
        return self.client.search_runs([self.experiment_id], f"tags.`{PARENT}` = '{self.run_id}'",
                                       max_results=50000)

    def _create_child(self, number: int, name: str, tags: dict | None = None, start_time: int | None = None):
        """A trial's run, with the dataset as an MLflow input (the UI's Dataset column and filter show it)."""
        run_id = self.client.create_run(self.experiment_id, run_name=name, start_time=start_time,
                                        tags={**self._child_tags(number), **(tags or {})})
        self.child_ids[number] = run_id
        self._open.add(run_id)
        if self.dataset_input is not None:
            self.client.log_inputs(run_id, datasets=[self.dataset_input])
        return run_id

    def _child_name(self, number: int) -> str:
        return f"{self.tags[SOURCE]} trial {number}"

    def _finished_name(self, trial) -> str:
        """Score first, so that the MLflow UI's run list reads as a leaderboard without opening anything."""
        if trial.ok:
            metric = "" if self.metric == "accuracy" else f" {self.metric}"
            reused = " (reused)" if trial.reused_from else ""
            return f"cv{metric} {trial.mean:.3f}±{trial.std:.3f} {self._child_name(trial.number)}{reused}"
        return f"{trial.state.lower()} {self._child_name(trial.number)}"

    def _child_tags(self, number: int) -> dict:
        return {**self.tags, KIND: "trial", PARENT: self.run_id, TRIAL: str(number)}

    # --- after the search -----------------------------------------------------------------------------------------

    def log_result(self, result) -> None:
        """The refit winner: its test score against the baseline, on the parent and on the winning child."""
        from mlflow.entities import Metric, Param

        best, baseline, metric = result.best, result.baseline, result.metric
        scores = {**{f"test_{m}": value for m, value in result.test_measures.items()},
                  "lift": result.test_score - baseline.test_score}
        summary = {
            **scores, f"best_cv_{metric}_mean": best.mean, f"best_cv_{metric}_std": best.std,
            "trials_failed": sum(t.state == "FAIL" for t in result.trials),
            "trials_pruned": sum(t.state == "PRUNED" for t in result.trials),
            "trials": len(result.trials), "wall_time_s": result.wall_time,
        }
        logged = self.client.get_run(self.run_id).data.params
        self.client.log_batch(
            self.run_id,
            metrics=[Metric(k, float(v), _now(), 0) for k, v in summary.items()],
            params=[Param(f"best.{k}", str(v)) for k, v in best.params.items() if f"best.{k}" not in logged],
        )
        self.client.log_text(self.run_id, _cv_results(result.trials, metric).to_csv(index=False), "cv_results.csv")
        self.client.log_text(self.run_id, result.test_report, "test_classification_report.txt")
        winner = self.child_ids.get(best.number)
        for child in self._children():
            if child.data.tags.get(BEST) == "true":
                self.client.set_tag(child.info.run_id, BEST, "false")
            if child.data.tags.get(TRIAL) == str(best.number):
                winner = child.info.run_id
        self.client.log_batch(winner, metrics=[
            Metric(k, float(v), _now(), 0) for k, v in {**scores, f"baseline_test_{metric}": baseline.test_score}.items()
        ])
        self.client.set_tag(winner, BEST, "true")
        if result.history:
            self.client.log_figure(self.run_id, _learning_curve(result.history, self.tags[SOURCE]),
                                   "learning_curve.png")

    def log_figures(self, figures: dict) -> None:
        """An engine's diagnostic plots by file name: matplotlib figures, or text (HTML)."""
        import matplotlib.pyplot as plt

        for file_name, figure in figures.items():
            if isinstance(figure, str):
                self.client.log_text(self.run_id, figure, f"plots/{file_name}")
            else:
                self.client.log_figure(self.run_id, figure, f"plots/{file_name}")
                plt.close(figure)  # pyplot keeps every figure alive until closed


class RetrainRun:
    """One retrain: its settings, its single test evaluation, its figures and the registered raw-text model."""

    def __init__(self, tracker, run_id: str):
        self.tracker, self.client, self.run_id = tracker, tracker.client, run_id

    def log_retrained(self, result) -> None:
        from mlflow.entities import Metric, Param

        experiment, evaluation = result.experiment, result.evaluation
        params = {
            **experiment.configuration(), "model": experiment.model, "experiment": experiment.name,
            "all_data": result.all_data, "early_stopping": json.dumps(result.early_stopping),
            "test_size": experiment.test_size, "seed": experiment.seed, "n_train": result.n_train,
            "n_test": result.n_test, "data.sha256": experiment.data["sha256"],
            "data.path": result.dataset.integrity["path"], "origin.run_id": experiment.origin.get("run_id", ""),
        }
        metrics = {"epochs_run": result.epochs_run, "wall_time_s": result.wall_time}
        origin = experiment.origin  # what the sweep measured for this configuration, in every metric, to compare
        reference = {f"sweep_{key}": origin.get(key) for m in METRICS for key in (f"cv_{m}_mean", f"cv_{m}_std")}
        reference.update({f"sweep_test_{m}": origin.get(f"sweep_test_{m}") for m in METRICS})
        metrics.update({k: v for k, v in reference.items() if isinstance(v, (int, float))})
        if evaluation is not None:
            metrics.update({
                f"test_{METRIC}": evaluation.accuracy, "test_macro_f1": evaluation.macro_f1,
                f"pipeline_test_{METRIC}": evaluation.pipeline_accuracy, "raw_text_agreement": evaluation.agreement,
            })
        self.client.log_batch(
            self.run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()],
            metrics=[Metric(k, float(v), _now(), 0) for k, v in metrics.items()],
        )
        self.client.log_text(self.run_id, Path(experiment.path).read_text(encoding="utf-8"), "experiment.yaml")
        if result.history:
            self.client.log_figure(self.run_id, _learning_curve(result.history, f"retrain of {experiment.name}"),
                                   "learning_curve.png")
        if evaluation is not None:
            self.client.log_text(self.run_id, evaluation.report_text, "classification_report.txt")
            self.client.log_dict(self.run_id, evaluation.report, "classification_report.json")
            self.client.log_figure(self.run_id, _confusion_figure(evaluation), "confusion_matrix.png")

    def log_model(self, keras_path, model, examples: list[str], registered_name: str):
        """The raw-text model as an MLflow pyfunc model of this run, registered under ``registered_name``."""
        import mlflow

        from sweeplab import serving

        self.client.log_artifact(self.run_id, str(keras_path))
        mlflow.set_tracking_uri(self.tracker.uri)
        with mlflow.start_run(run_id=self.run_id):
            return serving.log_model(keras_path, model, examples, registered_name)


def _confusion_figure(evaluation):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [str(c) for c in evaluation.classes]
    figure, axis = plt.subplots(figsize=(1.2 * len(names) + 2.5, 1.2 * len(names) + 2))
    axis.imshow(evaluation.confusion, cmap="Blues")
    for (row, column), count in np.ndenumerate(evaluation.confusion):
        axis.text(column, row, str(count), ha="center", va="center",
                  color="white" if count > evaluation.confusion.max() / 2 else "black")
    axis.set_xticks(range(len(names)), names)
    axis.set_yticks(range(len(names)), names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(f"test accuracy {evaluation.accuracy:.3f}")
    figure.tight_layout()
    plt.close(figure)
    return figure


def _dataset_input(dataset):
    """The dataset as MLflow records inputs: name, a digest of its bytes, where it was read from."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    integrity = dataset.integrity
    record = Dataset(name=dataset.name, digest=integrity["sha256"][:12], source_type="local",
                     source=json.dumps({"uri": integrity["path"]}),
                     profile=json.dumps({"rows": integrity["rows"], "class_counts": integrity["class_counts"]}))
    return DatasetInput(record, tags=[InputTag("mlflow.data.context", "training")])


def ui_url(base: str, experiment_id: str, metric: str = "accuracy") -> str:
    """The MLflow UI page of a sweep's experiment that reads as its leaderboard: only trial runs (so none hides
    under a collapsed parent), best CV score first."""
    from urllib.parse import urlencode

    query = urlencode({"searchFilter": f"tags.`{KIND}` = 'trial'", "orderByKey": f"metrics.`cv_{metric}_mean`",
                       "orderByAsc": "false"})
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?{query}"


def _now() -> int:
    import time

    return int(time.time() * 1000)


def _cv_results(trials, metric: str):
    import pandas as pd

    rows = []
    for t in trials:
        row = {"trial": t.number, **t.params}
        row.update({f"fold_{k}_{metric}": s for k, s in enumerate(t.fold_scores, start=1)})
        row.update({f"cv_{metric}_mean": t.mean, f"cv_{metric}_std": t.std, **t.summary(),
                    "fit_time_s": t.fit_time, "state": t.state, "note": t.note or ""})
        rows.append(row)
    return pd.DataFrame(rows)


def _learning_curve(history: dict, title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for axis, key in zip(axes, ("loss", METRIC)):
        for name, values in history.items():
            if name.endswith(key):
                axis.plot(range(1, len(values) + 1), values, marker="o", label=name)
        axis.set_xlabel("epoch")
        axis.set_title(key)
        axis.legend()
    figure.suptitle(f"refit of the best configuration on {title}'s training split")
    figure.tight_layout()
    plt.close(figure)
    return figure
