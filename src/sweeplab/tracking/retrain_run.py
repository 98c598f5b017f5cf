"""One retrain's run: its settings, its single test evaluation and its figures."""

from __future__ import annotations

import json
from pathlib import Path

from sweeplab.modeling.metrics import METRICS
from sweeplab.tracking.figures import confusion_figure, learning_curve
from sweeplab.tracking.runs import now

METRIC = "accuracy"  # the metric of runs from before sweeps had a choice


class RetrainRun:
    """One retrain: its settings, its single test evaluation, its figures and the registered raw-text model."""

    def __init__(self, tracker, run_id: str):
        self.tracker, self.client, self.run_id = tracker, tracker.client, run_id

    def describe_version(self, name: str, version, card: str, facts: dict) -> None:
        """The registered version's description (its model card) and tags (the card's facts): what the registry's
        page shows."""
        self.client.update_model_version(name, str(version), description=card)
        for key, value in facts.items():
            self.client.set_model_version_tag(name, str(version), key, value)

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
            metrics=[Metric(k, float(v), now(), 0) for k, v in metrics.items()],
        )
        self.client.log_text(self.run_id, Path(experiment.path).read_text(encoding="utf-8"), "experiment.yaml")
        if result.history:
            self.client.log_figure(self.run_id, learning_curve(result.history, f"retrain of {experiment.name}"),
                                   "learning_curve.png")
        if evaluation is not None:
            self.client.log_text(self.run_id, evaluation.report_text, "classification_report.txt")
            self.client.log_dict(self.run_id, evaluation.report, "classification_report.json")
            self.client.log_figure(self.run_id, confusion_figure(evaluation), "confusion_matrix.png")
