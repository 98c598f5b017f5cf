"""Trial runs, written as the trials go: the trainer's listener on the MLflow side."""

from __future__ import annotations

from sweeplab.errors import held_stop
from sweeplab.search.listener import Listener
from sweeplab.tags import KIND, NOTE, PARENT, REUSED_FROM, SOURCE, STATE, TRIAL, TRIAL_KEY
from sweeplab.tracking.runs import abandon, closing, now

EPOCH_FLUSH_S = 2.0  # a trial's per-epoch curve reaches the store at least this often, and at each fold's end


class TrialWriter(Listener):
    """One child run per trial under a dataset's parent run: created when the trial starts, its validation curve
    every few seconds, each fold's metrics when the fold ends, named with its score when it ends; a reused trial's
    run repeats the metrics of the run it reuses. Children whose trial stopped running (its process died) are
    closed as KILLED when the engine says which trials still run.

    ``client`` is an :class:`~sweeplab.tracking.outbox.Outbox`: writes wait out a tracking server's absence, and
    :meth:`settle` waits for them before anything reads the runs back.
    """

    def __init__(self, client, parent_id: str, experiment_id: str, tags: dict, metric: str, dataset_input=None,
                 folds: int | None = None):
        self.client, self.parent_id, self.experiment_id = client, parent_id, experiment_id
        self.tags, self.metric, self.dataset_input = tags, metric, dataset_input
        self.folds = folds  # per repeat, for the intervals (None: every score is one fold of one k-fold)
        self.baseline_cv = None  # what each trial's lift is measured against
        self.child_ids = {}
        self._open = set()  # child runs this process opened and has not closed yet
        self._curves = {}
        self._flushed = {}  # trial number -> when its curve was last written

    def trial_started(self, number: int, params: dict) -> None:
        from mlflow.entities import Param

        run_id = self._create_child(number, f"{self._child_name(number)} (running)", {STATE: "RUNNING"})
        self.client.log_batch(run_id, params=[Param(k, str(v)) for k, v in params.items()])

    def epoch_done(self, number: int, fold: int, epoch: int, value: float) -> None:
        from mlflow.entities import Metric

        self._curves.setdefault(number, []).append(Metric(f"fold_{fold}_val_{self.metric}", value, now(), epoch))
        # One write per epoch would cost more than a small model's epoch; every few seconds is live enough.
        if number in self.child_ids and now() - self._flushed.get(number, 0) >= EPOCH_FLUSH_S * 1000:
            self._write(number, [])

    def fold_done(self, number: int, fold: int, params: dict, score: float, measures: dict) -> None:
        from mlflow.entities import Metric

        if number in self.child_ids:  # write the fold now, with the rest of its learning curve
            self._write(number, [Metric(f"fold_{fold}_{m}", value, now(), 0) for m, value in measures.items()])

    def _write(self, number: int, metrics: list) -> None:
        self.client.log_batch(self.child_ids[number], metrics=[*self._curves.pop(number, []), *metrics])
        self._flushed[number] = now()

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
            low, high = trial.interval(self.folds)
            metrics.update({**trial.summary(), f"cv_{self.metric}_mean": trial.mean,
                            f"cv_{self.metric}_std": trial.std, f"cv_{self.metric}_ci_low": low,
                            f"cv_{self.metric}_ci_high": high})
            if self.baseline_cv is not None:
                metrics.update({f"baseline_cv_{self.metric}": self.baseline_cv,
                                "lift_cv": trial.mean - self.baseline_cv})
        tags = {STATE: trial.state, **({NOTE: trial.note[:5000]} if trial.note else {}),
                **({TRIAL_KEY: trial.key} if trial.key else {}),
                **({REUSED_FROM: trial.reused_from} if trial.reused_from else {})}
        with closing(self.client, run_id, "FAILED" if trial.state == "FAIL" else "FINISHED"):
            self.client.update_run(run_id, name=self._finished_name(trial))
            self.client.log_batch(
                run_id, params=params, tags=[RunTag(k, v) for k, v in tags.items()],
                metrics=[Metric(k, float(v), now(), 0) for k, v in metrics.items()],
            )
        self._open.discard(run_id)

    def reconcile(self, live: set) -> int:
        """Close as KILLED the children still RUNNING whose trial is not running any more (its process died)."""
        self.settle()
        orphans = [
            child for child in self.children()
            if child.info.status == "RUNNING" and int(child.data.tags.get(TRIAL, -1)) not in live
        ]
        for child in orphans:
            abandon(self.client, child.info.run_id)
        return len(orphans)

    def close_open_children(self) -> None:
        """Close as KILLED the trial runs this process opened and did not close: a stop signal can land between
        a child's creation and the trainer's hold on it (while its parameters are written), where no trial
        result exists to close it with."""
        for run_id in list(self._open):  # the outbox's handles, which have no order
            abandon(self.client, run_id)
        self._open.clear()

    def settle(self) -> None:
        """Wait until every trial write of this process reached the store."""
        self.client.drain()

    def children(self) -> list:
        return self.client.search_runs([self.experiment_id], f"tags.`{PARENT}` = '{self.parent_id}'",
                                       max_results=50000)

    def _create_child(self, number: int, name: str, tags: dict | None = None, start_time: int | None = None):
        """A trial's run, with the dataset as an MLflow input (the UI's Dataset column and filter show it)."""
        with held_stop():  # a stop between the two would leave a run that close_open_children does not know
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
        return {**self.tags, KIND: "trial", PARENT: self.parent_id, TRIAL: str(number)}
