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
import warnings
from pathlib import Path
from urllib.parse import unquote, urlparse

# mlflow's SQL store trips SQLAlchemy 2.x deprecation warnings that are mlflow's to fix, not ours.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(mlflow|sqlalchemy|alembic)(\.|$)")

PREFIX = "sweeplab."
KIND, SWEEP, SOURCE = PREFIX + "kind", PREFIX + "sweep", PREFIX + "source"
STATE, BEST, ERROR, TRIAL = PREFIX + "state", PREFIX + "best", PREFIX + "error", PREFIX + "trial"
PARENT = "mlflow.parentRunId"
METRIC = "accuracy"


def default_tracking_uri() -> str:
    return f"sqlite:///{Path('mlruns').resolve() / 'mlflow.db'}"


def resolve_uri(uri: str | None = None) -> str:
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def _sqlite_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite":
        return None
    return Path(unquote(parsed.path)[1:] if uri.startswith("sqlite:////") else unquote(uri[len("sqlite:///"):]))


class Tracker:
    """Opens runs in one MLflow store. Nothing touches the store until the first run is opened."""

    def __init__(self, uri: str | None = None):
        self.uri = resolve_uri(uri)
        self._client = None

    def has_store(self) -> bool:
        """False for a local SQLite store that does not exist yet (reading must not create one)."""
        database = _sqlite_path(self.uri)
        return database is None or database.exists()

    @property
    def client(self):
        if self._client is None:
            from mlflow import MlflowClient

            database = _sqlite_path(self.uri)
            if database is not None:
                database.parent.mkdir(parents=True, exist_ok=True)
            self._client = MlflowClient(tracking_uri=self.uri)
        return self._client

    def experiment_id(self, sweep_name: str) -> str:
        existing = self.client.get_experiment_by_name(sweep_name)
        if existing is not None:
            return existing.experiment_id
        database = _sqlite_path(self.uri)
        # Artifacts live beside a SQLite store; a tracking server decides for itself.
        location = (database.parent / "artifacts" / sweep_name).resolve().as_uri() if database else None
        return self.client.create_experiment(sweep_name, artifact_location=location, tags={KIND: "sweep"})

    @contextlib.contextmanager
    def dataset_run(self, sweep, dataset):
        """The parent run of one dataset's search; FINISHED, FAILED or KILLED according to how the block ends."""
        tags = {
            KIND: "dataset", SWEEP: sweep.name, SOURCE: dataset.name, PREFIX + "engine": sweep.engine,
            PREFIX + "model": sweep.model, PREFIX + "data_sha256": dataset.integrity["sha256"],
        }
        run = self.client.create_run(self.experiment_id(sweep.name), run_name=dataset.name, tags=tags)
        with _closing(self.client, run.info.run_id):
            yield DatasetRun(self.client, run.info.run_id, run.info.experiment_id, tags)


@contextlib.contextmanager
def _closing(client, run_id: str, status: str = "FINISHED"):
    """Ends the run with ``status``, or as KILLED/FAILED if the block raised: no run is left RUNNING."""
    try:
        yield
    except KeyboardInterrupt:
        client.set_terminated(run_id, "KILLED")
        raise
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, status)


class DatasetRun:
    """Writes one dataset's results: the setup, one child per trial, then the refit's summary."""

    def __init__(self, client, run_id: str, experiment_id: str, tags: dict):
        self.client, self.run_id, self.experiment_id = client, run_id, experiment_id
        self.tags = {k: v for k, v in tags.items() if k != KIND}
        self.child_ids = {}

    def log_setup(self, sweep, dataset, n_train: int, n_test: int) -> None:
        from mlflow.entities import Param

        integrity = dataset.integrity
        params = {
            "engine": sweep.engine, "model": sweep.model, "folds": sweep.folds, "trials": sweep.trials,
            "test_size": sweep.test_size, "seed": sweep.seed, "n_train": n_train, "n_test": n_test,
            "data.rows": integrity["rows"], "data.sha256": integrity["sha256"], "data.path": integrity["path"],
            "data.class_counts": json.dumps(integrity["class_counts"]),
            **{f"fixed.{k}": v for k, v in sweep.fixed().items()},
        }
        self.client.log_batch(self.run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()])
        self.client.log_dict(self.run_id, sweep.to_dict(), "sweep.yaml")
        self.client.log_dict(self.run_id, integrity, "integrity.json")

    def log_trials(self, trials, baseline) -> None:
        for trial in trials:
            self._log_trial(trial, baseline)
        self.client.log_text(self.run_id, _cv_results(trials).to_csv(index=False), "cv_results.csv")

    def _log_trial(self, trial, baseline) -> None:
        from mlflow.entities import Metric, Param, RunTag

        tags = {
            **self.tags, KIND: "trial", PARENT: self.run_id, TRIAL: str(trial.number),
            STATE: "COMPLETE" if trial.ok else "FAIL", **({ERROR: trial.error[:5000]} if trial.error else {}),
        }
        metrics = {f"fold_{k}_{METRIC}": s for k, s in enumerate(trial.fold_scores, start=1) if s == s}
        if trial.ok:
            metrics.update({
                f"cv_{METRIC}_mean": trial.mean, f"cv_{METRIC}_std": trial.std,
                f"baseline_cv_{METRIC}": baseline.cv_mean, "lift_cv": trial.mean - baseline.cv_mean,
            })
        metrics["fit_time_s"] = trial.fit_time
        name = f"{self.tags[SOURCE]}-trial-{trial.number:03d}"
        run = self.client.create_run(self.experiment_id, run_name=name, tags=tags)
        with _closing(self.client, run.info.run_id, "FINISHED" if trial.ok else "FAILED"):
            self.client.log_batch(
                run.info.run_id,
                metrics=[Metric(k, float(v), _now(), 0) for k, v in metrics.items()],
                params=[Param(k, str(v)) for k, v in trial.params.items()],
            )
        self.child_ids[trial.number] = run.info.run_id

    def log_result(self, result) -> None:
        """The refit winner: its test score against the baseline, on the parent and on the winning child."""
        from mlflow.entities import Metric, Param

        best, baseline = result.best, result.baseline
        scores = {
            f"test_{METRIC}": result.test_score, f"baseline_test_{METRIC}": baseline.test_score,
            "lift": result.test_score - baseline.test_score,
        }
        summary = {
            **scores, f"best_cv_{METRIC}_mean": best.mean, f"best_cv_{METRIC}_std": best.std,
            f"baseline_cv_{METRIC}": baseline.cv_mean, "trials_failed": sum(not t.ok for t in result.trials),
            "trials": len(result.trials), "wall_time_s": result.wall_time,
        }
        self.client.log_batch(
            self.run_id,
            metrics=[Metric(k, float(v), _now(), 0) for k, v in summary.items()],
            params=[Param(f"best.{k}", str(v)) for k, v in best.params.items()],
        )
        child = self.child_ids[best.number]
        self.client.log_batch(child, metrics=[Metric(k, float(v), _now(), 0) for k, v in scores.items()])
        self.client.set_tag(child, BEST, "true")
        if result.history:
            self.client.log_figure(self.run_id, _learning_curve(result.history, self.tags[SOURCE]),
                                   "learning_curve.png")


def _now() -> int:
    import time

    return int(time.time() * 1000)


def _cv_results(trials):
    import pandas as pd

    rows = []
    for t in trials:
        row = {"trial": t.number, **t.params}
        row.update({f"fold_{k}_{METRIC}": s for k, s in enumerate(t.fold_scores, start=1)})
        row.update({f"cv_{METRIC}_mean": t.mean, f"cv_{METRIC}_std": t.std, "fit_time_s": t.fit_time,
                    "state": "COMPLETE" if t.ok else "FAIL", "error": t.error or ""})
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
