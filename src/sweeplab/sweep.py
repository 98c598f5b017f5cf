"""Runs a sweep. Per dataset: a fixed held-out split, the baseline, the engine's search on the training part,
a refit of the winner on the whole training part, and one score on the test part; tracking records it all.

This is the part every engine shares: engines only decide which configurations to try.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from sweeplab import data, engines, models, pipeline
from sweeplab.engines.base import SearchContext
from sweeplab.errors import SweepLabError
from sweeplab.listener import Listeners
from sweeplab.metrics import METRICS, class_report, measure_predictions
from sweeplab.pipeline import measure
from sweeplab.progress import format_params
from sweeplab.trial import COMPLETE, FAIL, PRUNED, TrialResult, best, cv_key


class SweepFailed(Exception):
    """Every trial of a dataset failed: the sweep cannot pick a winner."""

    exit_code = 1


@dataclass(frozen=True)
class Split:
    dataset: data.Dataset
    X_train: object
    X_test: object
    y_train: object
    y_test: object


@dataclass(frozen=True)
class Baseline:
    """Bag-of-words + LogisticRegression on the same folds and test split, in every metric."""

    cv_measures: tuple  # per fold: {metric: value}
    test_measures: dict
    metric: str = "accuracy"

    def cv_mean_of(self, metric: str) -> float:
        return statistics.fmean(fold[metric] for fold in self.cv_measures)

    @property
    def cv_mean(self) -> float:
        return self.cv_mean_of(self.metric)

    @property
    def test_score(self) -> float:
        return self.test_measures[self.metric]


@dataclass(frozen=True)
class DatasetResult:
    source: str
    trials: list
    best: TrialResult
    test_measures: dict  # the refit winner on the test split, every metric
    test_report: str  # its per-class precision, recall and F1
    metric: str
    baseline: Baseline
    history: dict
    wall_time: float

    @property
    def test_score(self) -> float:
        return self.test_measures[self.metric]


def load_datasets(sweep, data_path=None, text_col="text", label_col="label") -> list[data.Dataset]:
    """A user's file when given, else the sweep's sources."""
    if data_path:
        return [data.load_file(data_path, text_col, label_col)]
    return [data.load(source) for source in sweep.sources]


def prepare(sweep, datasets) -> list[Split]:
    """Split every dataset up front, so a dataset too small for the sweep fails before anything is logged."""
    splits = []
    for dataset in datasets:
        X_train, X_test, y_train, y_test = data.holdout_split(dataset, sweep.test_size, sweep.seed)
        smallest = min(int((y_train == label).sum()) for label in range(dataset.n_classes))
        if smallest < sweep.folds:
            raise SweepLabError(
                f"{sweep.path}: folds: {sweep.folds} folds need at least {sweep.folds} training rows per class, "
                f"{dataset.name} has {smallest} in its smallest class"
            )
        splits.append(Split(dataset, X_train, X_test, y_train, y_test))
    return splits


def run(sweep, splits: list[Split], tracker, progress, engine=None, worker_args=(), fresh: bool = False
        ) -> list[DatasetResult]:
    """Search, refit and test every split; ``fresh``: train every trial even when the store has an identical
    finished one."""
    engine = engine or engines.get(sweep.engine)
    return [_run_one(sweep, split, engine, tracker, progress, worker_args, fresh) for split in splits]


def folds_of(sweep):
    from sklearn.model_selection import StratifiedKFold

    return StratifiedKFold(sweep.folds, shuffle=True, random_state=sweep.seed)


def _baseline(split: Split, cv, metric: str) -> Baseline:
    from sklearn.model_selection import cross_validate

    folds = cross_validate(models.baseline(), split.X_train, split.y_train, cv=cv, scoring=measure)
    cv_measures = tuple({m: float(folds[f"test_{m}"][k]) for m in METRICS} for k in range(cv.get_n_splits()))
    fitted = models.baseline().fit(split.X_train, split.y_train)
    return Baseline(cv_measures, measure(fitted, split.X_test, split.y_test), metric)


def search_key(sweep, split: Split) -> str:
    """The :func:`~sweeplab.trial.cv_key` of a dataset's search: what its trials share."""
    return cv_key(split.dataset.integrity["sha256"], sweep.test_size, sweep.seed, sweep.folds)


def reusable(sweep, split: Split, tracker, fresh: bool = False) -> dict:
    """The store's finished trials that this dataset's search may reuse, by trial key (none when ``fresh``)."""
    return {} if fresh else tracker.finished_trials(search_key(sweep, split))


def _context(sweep, split: Split, cv, listener, finished: dict, worker_args=()) -> SearchContext:
    return SearchContext(sweep, split.dataset.name, split.X_train, split.y_train, cv, listener,
                         search_key(sweep, split), finished, tuple(worker_args))


def _run_one(sweep, split: Split, engine, tracker, progress, worker_args, fresh: bool) -> DatasetResult:
    started = time.monotonic()
    dataset, cv = split.dataset, folds_of(sweep)
    baseline = _baseline(split, cv, sweep.metric)
    resume_key = engine.open(sweep, dataset)
    finished = reusable(sweep, split, tracker, fresh)
    with tracker.dataset_run(sweep, dataset, resume_key=resume_key, cv_key=search_key(sweep, split)) as run:
        run.log_setup(sweep, dataset, len(split.X_train), len(split.X_test), baseline)
        planned, done = engine.planned(sweep), engine.finished(sweep, dataset.name)
        context = _context(sweep, split, cv, Listeners(progress, run), finished, worker_args)
        proposals = engine.proposals(sweep)
        reused = 0 if proposals is None else sum(context.trainer.key(sweep.configuration(chosen)) in finished
                                                 for chosen in proposals)
        progress.say(
            f"== {sweep.name} on {dataset.name}: {len(split.X_train)} train / {len(split.X_test)} test rows, "
            f"{dataset.n_classes} classes; {planned} trials x {sweep.folds} folds ({sweep.engine})"
            + (f", {done} finished before" if done else "")
            + (f", {reused} already in the store (reused, not trained)" if reused else "")
            + f"; baseline logreg cv {sweep.metric} {baseline.cv_mean:.3f}, test {baseline.test_score:.3f}"
        )
        progress.start(dataset.name, planned, sweep.folds, done + reused)
        trials = engine.search(context)
        run.settle()  # a tracking server that went away mid-search gets the trials' writes before we read them
        winner = best(trials)
        if winner is None:
            first = next((t.error for t in trials if t.error), "no trial finished")
            raise SweepFailed(f"{dataset.name}: all {len(trials)} trials failed; first error: {first}")
        refit = pipeline.for_sweep(sweep, winner.params).fit(split.X_train, split.y_train)
        predicted = refit.predict(split.X_test)
        result = DatasetResult(
            source=dataset.name, trials=trials, best=winner,
            test_measures=measure_predictions(split.y_test, predicted),
            test_report=class_report(split.y_test, predicted, dataset.classes), metric=sweep.metric,
            baseline=baseline, history=dict(getattr(refit.named_steps["clf"], "history_", {})),
            wall_time=time.monotonic() - started,
        )
        run.log_result(result)
        run.log_figures(engine.figures(sweep, dataset.name))
    counts = {state: sum(t.state == state for t in trials) for state in (COMPLETE, PRUNED, FAIL)}
    progress.say(
        f"== {dataset.name}: best cv {sweep.metric} {winner.mean:.3f} ± {winner.std:.3f} "
        f"({format_params(winner.params)}); "
        f"test {result.test_score:.3f} vs baseline {baseline.test_score:.3f} "
        f"(lift {result.test_score - baseline.test_score:+.3f}); "
        f"{counts[COMPLETE]} complete, {counts[PRUNED]} pruned, {counts[FAIL]} failed; {result.wall_time:.0f} s"
    )
    if len(trials) - counts[FAIL] < planned:
        progress.say(f"== {dataset.name}: {len(trials) - counts[FAIL]} of {planned} trials finished "
                     "(timeout, or trials still running elsewhere): run the same command again to continue")
    return result


@dataclass(frozen=True)
class Plan:
    """What a sweep would do on one dataset, read without training, logging or creating anything."""

    dataset: str
    planned: int  # trials in a full search
    known: bool  # whether the engine knows its candidates up front (random, grid; Optuna's grid sampler)
    reused: int  # of the candidates, those the store has finished (they will not train)
    finished_before: int  # trials the engine's own state has finished (an Optuna study)
    folds: int
    epochs: int  # the most epochs a trial may train
    estimate_s: float | None  # the fits still to do, from finished trials of the same model on this dataset
    basis: int  # how many finished trials the estimate rests on


def plan(sweep, splits: list[Split], tracker, engine, fresh: bool = False) -> list[Plan]:
    """Per dataset: the trials a run of ``sweep`` would train and reuse, and how long the training would take
    going by the fit times of matching finished trials in the store."""
    import statistics as stats

    from sweeplab.trial import trial_key

    plans = []
    for split in splits:
        finished = reusable(sweep, split, tracker, fresh)
        search = search_key(sweep, split)
        proposals = engine.proposals(sweep)
        before = engine.finished(sweep, split.dataset.name) if engine.has_state(sweep, split.dataset.name) else 0
        if proposals is None:  # Optuna proposes as it goes: only its budget is known
            left = [sweep.configuration(sweep.fixed())] * max(engine.planned(sweep) - before, 0)
            reused = 0
        else:
            keys = [trial_key(search, pipeline.resolve(sweep.model_of(p), sweep.configuration(p))) for p in proposals]
            left = [sweep.configuration(p) for p, key in zip(proposals, keys) if key not in finished]
            reused = len(proposals) - len(left)
        per_fold_epoch = {}  # model -> seconds per fold-epoch of the finished trials that trained
        for done in finished.values():
            epochs = int(done.params.get("epochs", pipeline.FIT_DEFAULTS["epochs"]))
            per_fold_epoch.setdefault(done.params.get("model", sweep.model), []).append(
                done.fit_time / (sweep.folds * epochs))
        estimate, basis = 0.0, 0
        for params in left:
            rates = per_fold_epoch.get(sweep.model_of(params))
            if not rates:
                estimate = None
                break
            estimate += stats.median(rates) * sweep.folds * int(params.get("epochs", pipeline.FIT_DEFAULTS["epochs"]))
            basis = len(rates)
        plans.append(Plan(split.dataset.name, engine.planned(sweep), proposals is not None, reused, before,
                          sweep.folds, sweep.max_epochs(), estimate if left else 0.0, basis))
    return plans


def join(engine, sweep, split: Split, tracker, progress, fresh: bool = False) -> None:
    """A worker's share of a search another process started: run queued trials, report to the same parent."""
    cv = folds_of(sweep)
    run = tracker.attach(sweep, split.dataset, engine.open(sweep, split.dataset), search_key(sweep, split))
    progress.start(split.dataset.name, engine.planned(sweep), sweep.folds, engine.finished(sweep, split.dataset.name))
    engine.join(_context(sweep, split, cv, Listeners(progress, run), reusable(sweep, split, tracker, fresh)))
    run.settle()
