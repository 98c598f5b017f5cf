"""One dataset's parent run: its setup and the refit winner's result (the sweep's report joins it at the end)."""

from __future__ import annotations

import json

from sweeplab import versions
from sweeplab.modeling.metrics import METRICS
from sweeplab.statistics import EVIDENCE
from sweeplab.tags import BEST, CV_KEY, KIND
from sweeplab.tags import METRIC as METRIC_TAG
from sweeplab.tags import RESUME, SELECTED, TIED, TRIAL, WORKER
from sweeplab.tracking import outbox
from sweeplab.processes import this_process
from sweeplab.tracking.runs import now
from sweeplab.tracking.trial_writer import TrialWriter


CONFUSION = "test_confusion.json"  # the refit winner's confusion matrix on the test split (sweeplab.results.report)


class DatasetRun:
    """One dataset's parent run: the search's setup (settings, data integrity, the baseline), then the refit
    winner's test score against the baseline with the winning trial's run tagged. Its
    trial runs are written by :attr:`trials`, the :class:`~sweeplab.tracking.trial_writer.TrialWriter` the trainer
    tells as it goes."""

    def __init__(self, client: outbox.Outbox, run_id: str, experiment_id: str, tags: dict, dataset_input=None,
                 cv_key: str | None = None, folds: int | None = None):
        self.client, self.run_id, self.experiment_id = client, run_id, experiment_id
        # A trial's run says which process, and which checkout's code, ran it (a worker's may differ from the sweep's).
        self.tags = {**{k: v for k, v in tags.items() if k not in (KIND, RESUME)}, WORKER: this_process(),
                     **versions.provenance(), **({CV_KEY: cv_key} if cv_key else {})}
        self.metric = tags.get(METRIC_TAG, "accuracy")  # parents from before sweeps had a metric: accuracy
        self.trials = TrialWriter(client, run_id, experiment_id, self.tags, self.metric, dataset_input, folds)

    def log_setup(self, sweep, dataset, n_train: int, n_test: int, baseline) -> None:
        from mlflow.entities import Metric, Param

        integrity = dataset.integrity
        params = {
            "engine": sweep.engine, "model": sweep.model, "folds": sweep.folds, "repeats": sweep.repeats,
            "test_size": sweep.test_size,
            "seed": sweep.seed, "n_train": n_train, "n_test": n_test,
            "data.rows": integrity["rows"], "data.sha256": integrity["sha256"], "data.path": integrity["path"],
            "data.class_counts": json.dumps(integrity["class_counts"]),
            "data.reference": json.dumps(dataset.reference),
            **{f"version.{k}": v for k, v in versions.current().items()},
            **{f"fixed.{k}": v for k, v in sweep.fixed().items()},
            **{f"compare.{k}": v for k, v in sweep.compare.items()}, "select": sweep.select,
            "onednn": sweep.onednn,
            **({"nested.outer_folds": sweep.nested} if sweep.nested else {}),
        }
        logged = self.client.get_run(self.run_id).data.params  # a resumed parent keeps what it had
        self.client.log_batch(
            self.run_id,
            params=[Param(k, str(v)[:6000]) for k, v in params.items() if k not in logged],
            metrics=[Metric(f"baseline_{part}_{m}", value, now(), 0) for m in METRICS
                     for part, value in (("cv", baseline.cv_mean_of(m)), ("test", baseline.test_measures[m]))],
        )
        self.client.log_dict(self.run_id, sweep.to_dict(), "sweep.yaml")
        self.client.log_dict(self.run_id, integrity, "integrity.json")
        self.trials.baseline_cv = baseline.cv_mean

    # --- after the search -----------------------------------------------------------------------------------------

    def log_result(self, result) -> str:
        """The refit winner: its test score against the baseline, on the parent and on the winning child (whose
        run id it returns); the tie group, on the parent (a table of its trials) and on every trial run (a tag, and
        the evidence against the best)."""
        from mlflow.entities import Metric, Param, RunTag

        winner, baseline, metric = result.winner, result.baseline, result.metric
        scores = {**{f"test_{m}": value for m, value in result.test_measures.items()},
                  "lift": result.test_score - baseline.test_score}
        summary = {
            **scores, f"best_cv_{metric}_mean": result.best.mean, f"best_cv_{metric}_std": result.best.std,
            f"winner_cv_{metric}_mean": winner.mean, "optimism": result.optimism, "tied_with_best": len(result.tied),
            "trials_failed": sum(t.state == "FAIL" for t in result.trials),
            "trials_pruned": sum(t.state == "PRUNED" for t in result.trials),
            "trials": len(result.trials), "wall_time_s": result.wall_time,
        }
        logged = self.client.get_run(self.run_id).data.params
        self.client.log_batch(
            self.run_id,
            metrics=[Metric(k, float(v), now(), 0) for k, v in summary.items()],
            params=[Param(f"best.{k}", str(v)) for k, v in winner.params.items() if f"best.{k}" not in logged],
            tags=[RunTag(SELECTED, str(winner.number))],
        )
        self.client.log_text(self.run_id, _cv_results(result.trials, metric).to_csv(index=False), "cv_results.csv")
        self.client.log_text(self.run_id, _tie_group(result).to_csv(index=False), "tie_group.csv")
        self.client.log_text(self.run_id, result.test_report, "test_classification_report.txt")
        runs = dict(self.trials.child_ids)
        evidence_name = f"vs_best_{EVIDENCE[result.compare['test']]}" if result.compare else None
        for child in self.trials.children():
            number = int(child.data.tags.get(TRIAL, -1))
            runs[number] = child.info.run_id  # a real id, where child_ids may hold a write still queued
            if child.data.tags.get(BEST) == "true":
                self.client.set_tag(child.info.run_id, BEST, "false")
            if number in result.evidence:
                self.client.log_batch(child.info.run_id,
                                      metrics=[Metric(evidence_name, result.evidence[number], now(), 0)],
                                      tags=[RunTag(TIED, str(number in result.tied).lower())])
        self.client.log_batch(runs[winner.number], metrics=[
            Metric(k, float(v), now(), 0) for k, v in {**scores, f"baseline_test_{metric}": baseline.test_score}.items()
        ])
        self.client.set_tag(runs[winner.number], BEST, "true")
        if result.confusion:
            self.client.log_dict(self.run_id, {"classes": list(result.classes), "counts": [list(row) for row in
                                                                                          result.confusion]},
                                 CONFUSION)
        # The refit's own curves, per epoch: MLflow draws and compares them (its batches hold 1,000 values).
        curves = [Metric(f"refit_{name}", float(value), now(), epoch)
                  for name, values in result.history.items() for epoch, value in enumerate(values, start=1)]
        for start in range(0, len(curves), 1000):
            self.client.log_batch(self.run_id, metrics=curves[start:start + 1000])
        return runs[winner.number]

    def log_nested(self, nested) -> None:
        """The nested estimate (:class:`~sweeplab.search.nested.NestedResult`): its mean and spread, each outer
        fold's score, and a table of the outer folds' winners."""
        from mlflow.entities import Metric

        metric = nested.metric
        values = {f"nested_{metric}_mean": nested.mean, f"nested_{metric}_std": nested.std,
                  f"nested_inner_cv_{metric}_mean": nested.inner_mean, "nested_winners": len(nested.winners),
                  **{f"outer_{f.fold}_{metric}": f.score for f in nested.folds}}
        self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), now(), 0) for k, v in values.items()])
        self.client.log_text(self.run_id, nested.table().to_csv(index=False), "nested.csv")


def _tie_group(result):
    """The trials tied with the best, best first: what the selection rule chose among, and the runner-ups."""
    import pandas as pd

    from sweeplab.modeling.metrics import TRAINABLE_PARAMS

    rows = [{"trial": t.number, f"cv_{result.metric}_mean": t.mean, "evidence_vs_best": result.tied[t.number],
             TRAINABLE_PARAMS: t.trainable_params,
             "fit_time_s": t.fit_time, "best": t is result.best, "selected": t is result.winner, **t.params}
            for t in result.trials if t.number in result.tied]
    return pd.DataFrame(rows).sort_values(f"cv_{result.metric}_mean", ascending=False, kind="stable")


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

