"""The MLflow store sweeplab writes to and reads from: one experiment per sweep, one parent run per (sweep, dataset),
one child per trial.

The default store is a SQLite database under ``mlruns/`` with artifacts beside it, so ``make ui`` and
``sweeplab leaderboard`` read the same runs; ``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` point elsewhere.
Runs are written through ``MlflowClient`` with explicit ids (no global "active run"), and every run this package
opens is closed on the way out, as FAILED or KILLED when something went wrong."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from sweeplab import environment, names, urls, versions
from sweeplab.errors import OptionError, SweepLabError, held_stop
from sweeplab.modeling.registry import family_of
from sweeplab.processes import dead_here, this_process
from sweeplab.search.trial import Finished
from sweeplab.tags import CV_KEY, DATA_SHA, ENGINE, EXPERIMENT_FILE, KIND
from sweeplab.tags import METRIC as METRIC_TAG
from sweeplab.tags import MODEL, PARENT, PREFIX, RESUME, REUSED_FROM, SOURCE, STATE, SWEEP, TRIAL_KEY, TRIALS, WORKER
from sweeplab.tracking import outbox
from sweeplab.tracking.comparison_run import ComparisonRun
from sweeplab.tracking.dataset_run import DatasetRun
from sweeplab.tracking.reader import SqliteRuns, fold_measures, param_values
from sweeplab.tracking.retrain_run import RetrainRun
from sweeplab.tracking.runs import abandon, closing, quoted
from sweeplab.urls import check_sqlite_store, check_writable, create_whole, creation_lock, local_directory, sqlite_path


def default_tracking_uri() -> str:
    return f"sqlite:///{Path('mlruns').resolve() / 'mlflow.db'}"


def resolve_uri(uri: str | None = None) -> str:
    return uri or environment.read("MLFLOW_TRACKING_URI") or default_tracking_uri()


@contextlib.contextmanager
def using_uri(uri: str):
    """MLflow's fluent API (``mlflow.start_run``, ``mlflow.pyfunc.load_model``) reads a process-wide tracking URI:
    set it for the block only, so that a notebook's own choice is what it was afterwards."""
    import mlflow
    from mlflow.tracking._tracking_service import utils

    # MLflow's own _use_tracking_uri restores the URI set in code but drops an MLFLOW_TRACKING_URI the user exported.
    exported, chosen = os.environ.get("MLFLOW_TRACKING_URI"), getattr(utils, "_tracking_uri", None)
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(chosen)
        if exported is not None:
            os.environ["MLFLOW_TRACKING_URI"] = exported

class Tracker:
    """Opens runs in one MLflow store. Nothing touches the store until the first run is opened; a URL that names no
    store is refused at once."""

    def __init__(self, uri: str | None = None):
        wrong = urls.problem(uri, urls.TRACKING) if uri is not None else None
        if wrong:
            raise OptionError(f"{{}} {uri}: {wrong}", "tracking_uri")
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

    def check(self, write: bool = True) -> None:
        """Before a command works: a server answers within :data:`~sweeplab.urls.CONNECT_TIMEOUT_S`; with ``write``
        (a sweep, a retrain), the store can take the runs (a local store is writable and not full)."""
        directory = local_directory(self.uri)
        if directory is not None:
            if write:
                check_writable(directory, "MLflow store", sqlite_path(self.uri))
            return
        silent = urls.unreachable(self.uri)
        if silent is None:
            try:
                self.client.search_experiments(max_results=1)
            except Exception as exc:  # MLflow raises its own exception for every transport error
                silent = outbox.reason(exc)
        if silent is not None:
            who = "no MLflow tracking server" if self.uri.startswith("http") else "no database"
            raise OptionError(f"{{}} {self.uri}: {who} answers ({silent}; waited up to {urls.CONNECT_TIMEOUT_S} s)",
                              "tracking_uri")

    @property
    def client(self):
        if self._client is None:
            from mlflow import MlflowClient

            database = sqlite_path(self.uri)
            with creation_lock(self.uri), held_stop():
                check_sqlite_store(self.uri, "experiments", "an MLflow store")
                if database is not None and _interrupted_creation(database):
                    database.unlink()
                create_whole(self.uri, lambda url: MlflowClient(tracking_uri=url).search_experiments(max_results=1))
                client = MlflowClient(tracking_uri=self.uri)
                if database is not None:
                    client.search_experiments(max_results=1)  # checks the schema while others wait on the lock
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

    def histories(self, runs: list, prefix: str) -> dict:
        """run id -> metric key -> [(step, value), ...] of the ``runs`` (as :meth:`runs` gives them), for the
        keys starting with ``prefix``: straight from a local SQLite store, through MLflow's client otherwise."""
        database = sqlite_path(self.uri)
        if database is not None:
            import sqlite3

            with contextlib.suppress(sqlite3.Error):
                return SqliteRuns(database).histories([run.info.run_id for run in runs], prefix)
        return {run.info.run_id: {key: [(m.step, m.value) for m in self.client.get_metric_history(run.info.run_id,
                                                                                                     key)]
                                  for key in run.data.metrics if key.startswith(prefix)} for run in runs}

    def artifact_text(self, run_id: str, path: str) -> str | None:
        """A run's text artifact, or None when it has none at ``path``."""
        import tempfile

        with tempfile.TemporaryDirectory() as scratch:
            try:
                local = self.client.download_artifacts(run_id, path, scratch)
            except Exception:  # MLflow raises its own types for a missing artifact, by store
                return None
            return Path(local).read_text(encoding="utf-8")

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

    def check_experiment(self, name: str) -> None:
        """The experiment ``name`` can take runs: MLflow keeps a deleted experiment's name, and refuses both runs in
        it and a new experiment of that name, until it is restored or its runs are deleted for good. A store that
        does not exist yet is not made by this check."""
        if self.has_store():
            self._usable(self.client.get_experiment_by_name(name))

    def _usable(self, experiment):
        if experiment is not None and experiment.lifecycle_stage == "deleted":
            raise SweepLabError(
                f"MLflow experiment '{experiment.name}' in {self.uri} is deleted (in the trash), and MLflow keeps "
                f"its name: restore it (mlflow experiments restore --experiment-id {experiment.experiment_id}) or "
                f"delete it for good (mlflow gc --backend-store-uri {self.uri})")
        return experiment

    def experiment_id(self, sweep_name: str) -> str:
        """The id of the sweep's experiment, created when missing (its artifacts under the store's directory)."""
        wrong = names.problem(sweep_name)
        if wrong:  # the name becomes the artifacts directory: every caller's name goes through the one rule
            raise SweepLabError(f"MLflow experiment name: {wrong}")
        existing = self._usable(self.client.get_experiment_by_name(sweep_name))
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
            METRIC_TAG: sweep.metric, WORKER: this_process(), **versions.provenance(),
        }
        experiment = self.experiment_id(sweep.name)
        parent = self._find_parent(experiment, resume_key) if resume_key else None
        self._close_abandoned(experiment, dataset.name, keep=parent.info.run_id if parent else None)
        if parent is None:
            parent = self.client.create_run(experiment, run_name=dataset.name,
                                            tags={**tags, **({RESUME: resume_key} if resume_key else {})})
        else:
            self.client.update_run(parent.info.run_id, status="RUNNING")
            for key in (TRIALS, ENGINE, WORKER, *versions.provenance()):  # this run's, where the study continues
                self.client.set_tag(parent.info.run_id, key, tags[key])
        run = DatasetRun(outbox.Outbox(self.client, self.uri), parent.info.run_id, experiment, tags,
                         dataset_input(dataset), cv_key, sweep.folds)
        with closing(self.client, parent.info.run_id):
            try:
                yield run
            except BaseException:
                with contextlib.suppress(Exception):  # the search's own error is the one the user sees
                    run.trials.close_open_children()
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
                         dataset_input(dataset), cv_key, sweep.folds)
        # Logged by the sweep's own process.
        run.trials.baseline_cv = parent.data.metrics.get(f"baseline_cv_{run.metric}")
        return run

    @contextlib.contextmanager
    def retrain_run(self, experiment):
        """A ``retrain`` run beside the sweep's runs (in the sweep's MLflow experiment when it has one)."""
        source = experiment.data.get("source") or Path(experiment.data["file"]).stem
        tags = {
            KIND: "retrain", SWEEP: experiment.sweep, SOURCE: source, MODEL: experiment.model,
            EXPERIMENT_FILE: experiment.path, DATA_SHA: experiment.data["sha256"], WORKER: this_process(),
            **versions.provenance(),
        }
        experiment_id = self.experiment_id(experiment.sweep or "retrain")
        self._close_abandoned_retrains(experiment_id)
        run = self.client.create_run(experiment_id, run_name=f"retrain {experiment.name}", tags=tags)
        with closing(self.client, run.info.run_id):
            yield RetrainRun(self, run.info.run_id)

    @contextlib.contextmanager
    def comparison_run(self, sweep: str):
        """A ``comparison`` run in the sweep's experiment (``sweeplab compare``)."""
        run = self.client.create_run(self.experiment_id(sweep), run_name=f"compare {sweep} across datasets",
                                     tags={KIND: "comparison", SWEEP: sweep, **versions.provenance()})
        with closing(self.client, run.info.run_id):
            yield ComparisonRun(self.client, run.info.run_id)

    def _find_parent(self, experiment_id: str, resume_key: str):
        found = self.client.search_runs([experiment_id], f"tags.`{RESUME}` = '{resume_key}'", max_results=1)
        return found[0] if found else None

    def _close_abandoned(self, experiment_id: str, source: str, keep: str | None = None) -> None:
        """Close as KILLED this dataset's parents (and their running trials) that a dead process of this machine
        left RUNNING. Another machine's processes cannot be seen from here: their runs stay as they are."""
        running = self.client.search_runs(
            [experiment_id], f"tags.`{KIND}` = 'dataset' and tags.`{SOURCE}` = '{quoted(source)}' and "
                             "attributes.status = 'RUNNING'", max_results=1000)
        for parent in running:
            if parent.info.run_id == keep or not dead_here(parent.data.tags.get(WORKER, "")):
                continue
            children = self.client.search_runs(
                [experiment_id], f"tags.`{PARENT}` = '{parent.info.run_id}' and attributes.status = 'RUNNING'",
                max_results=50000)
            for run in [*children, parent]:
                abandon(self.client, run.info.run_id)

    def _close_abandoned_retrains(self, experiment_id: str) -> None:
        """Close as KILLED the retrain runs a dead process of this machine left RUNNING (SIGKILL, an OOM kill), and
        fail the model each was logging (MLflow leaves it PENDING)."""
        running = self.client.search_runs(
            [experiment_id], f"tags.`{KIND}` = 'retrain' and attributes.status = 'RUNNING'", max_results=1000)
        for run in running:
            if not dead_here(run.data.tags.get(WORKER, "")):
                continue
            for model in self.client.search_logged_models([experiment_id],
                                                          filter_string=f"source_run_id = '{run.info.run_id}'"):
                if str(model.status) == "PENDING":
                    self.client.finalize_logged_model(model.model_id, "FAILED")
            abandon(self.client, run.info.run_id)

    def finished_trials(self, cv_key: str) -> dict:
        """Trial key -> :class:`~sweeplab.search.trial.Finished` for every COMPLETE trial run of any sweep in this
        store whose search had ``cv_key`` (same data, split, folds and code). A run that trained is preferred to
        one that reused it."""
        if not self.has_store():
            return {}
        return _finished(self._tagged(CV_KEY, cv_key))

    def finished_trial(self, cv_key: str, key: str, parent: str | None = None) -> Finished | None:
        """The finished trial with trial key ``key`` in a search with ``cv_key`` (only among the trials of the
        parent run ``parent`` when given: a ``--fresh`` search reuses its own trials only), or None: asked as each
        trial starts, for what finished since the search opened. A tracking server that cannot be reached has none
        to give: the trial trains (its writes wait in the outbox meanwhile)."""
        try:
            tagged = self._tagged(TRIAL_KEY, key)
        except Exception as exc:  # MLflow raises its own exception for every transport error
            if outbox.unreachable(exc):
                return None
            raise
        runs = [r for r in tagged if r.data.tags.get(CV_KEY) == cv_key and
                (parent is None or r.data.tags.get(PARENT) == parent)]
        return _finished(runs).get(key)

    def _tagged(self, tag: str, value: str) -> list:
        """Every run of any experiment with tag ``tag`` = ``value``: straight from a local SQLite store's tables,
        through MLflow's client otherwise."""
        database = sqlite_path(self.uri)
        if database is not None:
            import sqlite3

            with contextlib.suppress(sqlite3.Error):
                return SqliteRuns(database).tagged(tag, value)
        return self._search_all([e.experiment_id for e in self.client.search_experiments()],
                                f"tags.`{tag}` = '{quoted(value)}'")


def _finished(runs) -> dict:
    """Trial key -> :class:`~sweeplab.search.trial.Finished` of the COMPLETE trial runs among ``runs``; a run that
    trained is preferred to one that reused it."""
    found = {}
    for run in sorted(runs, key=lambda r: REUSED_FROM in r.data.tags, reverse=True):
        tags = run.data.tags
        measures = fold_measures(run.data.metrics)
        if run.info.status == "FINISHED" and tags.get(STATE) == "COMPLETE" and TRIAL_KEY in tags and measures:
            params = param_values(run.data.params)
            with contextlib.suppress(SweepLabError):  # a run that names no family of its own: not reusable
                params["model"] = family_of(params, tags.get(MODEL))
                found[tags[TRIAL_KEY]] = Finished(tags.get(REUSED_FROM) or run.info.run_id, measures,
                                                  run.data.metrics.get("fit_time_s", 0.0), params)
    return found


def _interrupted_creation(database: Path) -> bool:
    """Whether ``database`` is a store an older sweeplab began to create and was stopped in (before stores were
    created whole, :func:`~sweeplab.urls.create_whole`): its schema short of MLflow's and no run or registered
    model in it, so that making it anew loses nothing. A store short of the schema that holds runs is one line
    saying how to migrate it."""
    import sqlite3

    if not database.is_file() or not database.stat().st_size:
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as db:
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            revision = db.execute("SELECT version_num FROM alembic_version").fetchone() \
                if "alembic_version" in tables else None
            held = sum(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                       for table in ("runs", "registered_models") if table in tables)
    except sqlite3.Error:
        return False  # not an SQLite database: check_sqlite_store says so
    leftovers = any(name.startswith("_alembic_tmp_") for name in tables)
    revision = revision[0] if revision else None
    if not leftovers and revision is not None and (revision in SqliteRuns.SCHEMA_REVISIONS or
                                                   revision == _schema_head()):
        return False
    if held:
        raise SweepLabError(f"{database}: an MLflow store of schema revision {revision}, not this MLflow's "
                            f"{_schema_head()}: back it up, then run 'mlflow db upgrade sqlite:///{database}'")
    import sys

    print(f"sweeplab: note: {database} was left half-created by a stopped command and holds no runs: made anew",
          file=sys.stderr)
    return True


def _schema_head() -> str:
    """The schema revision this MLflow writes: the head of its migration scripts (alembic's public reader over
    the scripts MLflow ships)."""
    import mlflow.store
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(Path(mlflow.store.__file__).parent / "db_migrations")).get_current_head()


def dataset_input(dataset):
    """The dataset as MLflow records inputs: name, a digest of its bytes, where it was read from."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    integrity = dataset.integrity
    record = Dataset(name=dataset.name, digest=integrity["sha256"][:12], source_type="local",
                     source=json.dumps({"uri": integrity["path"]}),
                     profile=json.dumps({"rows": integrity["rows"], "class_counts": integrity["class_counts"]}))
    return DatasetInput(record, tags=[InputTag("mlflow.data.context", "training")])


def run_url(base: str, experiment_id: str, run_id: str) -> str:
    """A run's page in the MLflow UI at ``base``."""
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def ui_url(base: str, experiment_id: str, metric: str = "accuracy") -> str:
    """The MLflow UI page of a sweep's experiment that reads as its leaderboard: only trial runs (so none hides
    under a collapsed parent), best CV score first."""
    from urllib.parse import urlencode

    query = urlencode({"searchFilter": f"tags.`{KIND}` = 'trial'", "orderByKey": f"metrics.`cv_{metric}_mean`",
                       "orderByAsc": "false"})
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?{query}"

