"""Runs a sweep. Per dataset: a fixed held-out split, the baseline, the engine's search on the training part,
a refit of the winner on the whole training part, and one score on the test part; tracking records it all.

This is the part every engine shares: engines only decide which configurations to try.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import statistics
import time
from dataclasses import dataclass

from sweeplab import data
from sweeplab.errors import SweepLabError
from sweeplab.modeling import pipeline
from sweeplab.modeling.baseline import baseline
from sweeplab.modeling.metrics import METRICS, class_report, confusion, measure_predictions
from sweeplab.modeling.pipeline import measure
from sweeplab.modeling.vectorize import tokenize
from sweeplab.search import nested, selection
from sweeplab.search.context import SearchContext
from sweeplab.search.listener import Listeners
from sweeplab.search.nested import NestedResult
from sweeplab.search.progress import duration, format_params
from sweeplab.search.trainer import configuration_key
from sweeplab.search.trial import COMPLETE, FAIL, PRUNED, TrialResult, best, cv_key
from sweeplab.statistics import BAYESIAN


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
    best: TrialResult  # the highest CV mean
    test_measures: dict  # the refit winner (:attr:`selected`) on the test split, every metric
    test_report: str  # its per-class precision, recall and F1
    metric: str
    baseline: Baseline
    history: dict
    wall_time: float
    run_id: str = ""  # the dataset's parent run in MLflow
    winner_run_id: str = ""  # the winning trial's run
    # The trials the compare test cannot tell apart from the best, trial number -> its evidence against them
    # (sweeplab.search.selection.tie_group); the evidence for every complete trial; the rule that chose the winner.
    tied: dict = dataclasses.field(default_factory=dict)
    evidence: dict = dataclasses.field(default_factory=dict)
    compare: dict = dataclasses.field(default_factory=dict)
    select: str = "best"
    selected: TrialResult | None = None  # the winner, refit and tested: the best, or the simplest of the tied
    folds: int = 0  # per repeat: what the intervals are corrected by (0: every score is one fold)
    nested: NestedResult | None = None  # with nested: the search's outcome estimated by nested CV
    classes: tuple = ()  # the label names, in the order of the confusion matrix's rows and columns
    confusion: tuple = ()  # the refit winner on the test split: rows true class, columns predicted

    @property
    def winner(self) -> TrialResult:
        return self.selected or self.best

    @property
    def test_score(self) -> float:
        return self.test_measures[self.metric]

    def interval(self) -> tuple[float, float]:
        """The winner's 95 % CV interval (:meth:`~sweeplab.search.trial.TrialResult.interval`)."""
        return self.winner.interval(self.folds or None)

    @property
    def optimism(self) -> float:
        """How much the winner's CV mean promised over what its refit scored on the held-out split: the best of
        many noisy estimates is biased upwards."""
        return self.winner.mean - self.test_score


def load_datasets(sweep, data_path=None, text_col="text", label_col="label") -> list[data.Dataset]:
    """A user's file when given, else the sweep's sources."""
    if data_path:
        return [data.load_file(data_path, text_col, label_col)]
    return [data.load_source(source) for source in sweep.sources]


def prepare(sweep, datasets) -> list[Split]:
    """Split every dataset up front, so a dataset too small for the sweep (its folds, its nested CV's outer folds,
    the words its folds keep) fails before anything is logged."""
    splits = []
    for dataset in datasets:
        X_train, X_test, y_train, y_test = data.holdout_split(dataset, sweep.test_size, sweep.seed)
        smallest = _smallest_class(y_train, dataset.n_classes)
        if smallest < sweep.folds:
            raise SweepLabError(
                f"{sweep.path}: folds: {sweep.folds} folds need at least {sweep.folds} training rows per class, "
                f"{dataset.name} has {smallest} in its smallest class"
            )
        if sweep.nested:
            _check_outer_folds(sweep, dataset, y_train, smallest)
        _check_words(sweep, dataset, X_train, y_train)
        splits.append(Split(dataset, X_train, X_test, y_train, y_test))
    return splits


def _smallest_class(y, n_classes: int) -> int:
    return min(int((y == label).sum()) for label in range(n_classes))


def _check_outer_folds(sweep, dataset, y_train, smallest: int) -> None:
    """Nested CV's outer folds split the training rows stratified, and each outer fold's training part must hold
    the inner search's folds."""
    if smallest < sweep.nested:
        raise SweepLabError(f"{sweep.path}: nested.outer_folds: {sweep.nested} outer folds need at least "
                            f"{sweep.nested} training rows per class, {dataset.name} has {smallest} in its smallest "
                            "class")
    import numpy as np

    for k, (rows, _) in enumerate(nested.outer_folds(sweep).split(np.zeros(len(y_train)), y_train), start=1):
        inner = _smallest_class(y_train[rows], dataset.n_classes)
        if inner < sweep.folds:
            raise SweepLabError(f"{sweep.path}: nested: outer fold {k} of {dataset.name} keeps {inner} training rows "
                                f"in its smallest class, fewer than the {sweep.folds} folds")


def _check_words(sweep, dataset, X_train, y_train) -> None:
    """Every fold's training part has a word the tokenizer keeps, or its bag of words is empty."""
    import numpy as np

    has_words = np.fromiter((bool(tokenize(text)) for text in X_train), dtype=bool, count=len(X_train))
    parts = [("training split", np.arange(len(X_train)))]
    parts += [(f"training part of fold {k}", train) for k, (train, _) in
              enumerate(folds_of(sweep).split(X_train, y_train), start=1)]
    for part, rows in parts:
        if not has_words[rows].any():
            raise SweepLabError(f"{dataset.integrity['path']}: no text in the {part} has a word the tokenizer keeps "
                                "(a run of letters or digits); these texts cannot be classified by "
                                "their words")


def run(sweep, splits: list[Split], tracker, progress, queue, worker_args=(), fresh: bool = False
        ) -> list[DatasetResult]:
    """Search (through ``queue``, a :class:`~sweeplab.search.queue.Queue`), refit and test every split; ``fresh``:
    train every trial even when the store has an identical finished one.

    Every dataset's search is opened first (its baseline, its queue, its MLflow parent run), so that the workers
    take whichever dataset's trials wait; each dataset is then refit, tested and closed as soon as its trials are
    done, while the workers go on with the next. ``progress`` hears of each dataset through a copy of its own."""
    with contextlib.ExitStack() as every:
        searches = [_open(sweep, split, queue, tracker, progress, worker_args, fresh, every) for split in splits]
        results = []
        with contextlib.closing(queue.searches([search.context for search in searches])) as done:
            # The queue first: zip asks it once more after the last dataset, which lets it wait for its helpers.
            for (_, trials), search in zip(done, searches):
                with search.stack:  # the dataset's parent run ends with its result, whatever comes after
                    results.append(_finish(sweep, search, trials, queue))
    return results


def folds_of(sweep):
    """The search's splits: stratified k-fold, or with ``repeats`` that many k-folds, each shuffled anew."""
    from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold

    if sweep.repeats > 1:
        return RepeatedStratifiedKFold(n_splits=sweep.folds, n_repeats=sweep.repeats, random_state=sweep.seed)
    return StratifiedKFold(sweep.folds, shuffle=True, random_state=sweep.seed)


def _baseline(split: Split, cv, metric: str) -> Baseline:
    from sklearn.model_selection import cross_validate

    folds = cross_validate(baseline(), split.X_train, split.y_train, cv=cv, scoring=measure)
    cv_measures = tuple({m: float(folds[f"test_{m}"][k]) for m in METRICS} for k in range(cv.get_n_splits()))
    fitted = baseline().fit(split.X_train, split.y_train)
    return Baseline(cv_measures, measure(fitted, split.X_test, split.y_test), metric)


def search_key(sweep, split: Split) -> str:
    """The :func:`~sweeplab.search.trial.cv_key` of a dataset's search: what its trials share."""
    return cv_key(split.dataset.integrity["sha256"], sweep.test_size, sweep.seed, sweep.folds, sweep.repeats)


def reusable(sweep, split: Split, tracker, fresh: bool = False) -> dict:
    """The store's finished trials that this dataset's search may reuse, by trial key (none when ``fresh``)."""
    return {} if fresh else tracker.finished_trials(search_key(sweep, split))


def _context(sweep, split: Split, cv, listener, finished: dict, worker_args=(), lookup=None) -> SearchContext:
    return SearchContext(sweep, split.dataset.name, split.X_train, split.y_train, cv, listener,
                         search_key(sweep, split), finished, tuple(worker_args), lookup)


def _lookup(tracker, sweep, split: Split, parent: str | None):
    """The trainer's look for a trial finished since the search opened (see :class:`~sweeplab.search.trainer.
    Trainer`); with ``parent`` (a ``--fresh`` search), among that parent run's trials only."""
    return functools.partial(tracker.finished_trial, search_key(sweep, split), parent=parent)


@dataclass
class _Search:
    """A dataset's search while it runs: what :func:`_open` made and :func:`_finish` needs."""

    split: Split
    baseline: Baseline
    run: object  # its MLflow parent (a sweeplab.tracking.DatasetRun)
    context: SearchContext
    progress: object  # the dataset's copy of the sweep's progress listener
    planned: int
    started: float
    stack: contextlib.ExitStack  # holds the parent run open


def _open(sweep, split: Split, queue, tracker, progress, worker_args, fresh: bool, every) -> _Search:
    """A dataset's baseline, its queue's study and its MLflow parent run, opened under ``every``."""
    started = time.monotonic()
    dataset, cv = split.dataset, folds_of(sweep)
    baseline = _baseline(split, cv, sweep.metric)
    resume_key = queue.open(sweep, dataset)
    finished = reusable(sweep, split, tracker, fresh)
    stack = every.enter_context(contextlib.ExitStack())
    run = stack.enter_context(tracker.dataset_run(sweep, dataset, resume_key=resume_key,
                                                  cv_key=search_key(sweep, split)))
    run.log_setup(sweep, dataset, len(split.X_train), len(split.X_test), baseline)
    planned, done = queue.planned(sweep), queue.finished(sweep, dataset.name)
    lane = copy.copy(progress)
    context = _context(sweep, split, cv, Listeners(lane, run.trials), finished, worker_args,
                       _lookup(tracker, sweep, split, run.run_id if fresh else None))
    proposals, left = queue.proposals(sweep), _to_train(sweep, split, queue, finished, done)
    reused = 0 if proposals is None else len(proposals) - len(left)
    estimate, basis = _estimate(sweep, left, finished.values())
    lane.say(
        f"== {sweep.name} on {dataset.name}: {len(split.X_train)} train / {len(split.X_test)} test rows, "
        f"{dataset.n_classes} classes; {planned} trials x {sweep.folds_text()} ({sweep.engine})"
        + (f", {done} finished before" if done else "")
        + (f", {reused} already in the store (reused, not trained)" if reused else "")
        + (f"; about {duration(estimate)} of fitting to do, going by {basis} finished trial{'s' * (basis != 1)} "
           "of the same model here" if estimate else "")
        + f"; baseline logreg cv {sweep.metric} {baseline.cv_mean:.3f}, test {baseline.test_score:.3f}"
    )
    lane.start(dataset.name, planned, sweep.splits, done + reused)
    return _Search(split, baseline, run, context, lane, planned, started, stack)


def _finish(sweep, search: _Search, trials: list, queue) -> DatasetResult:
    """Pick a dataset's winner from its trials, refit it on the training split, test it once, log it all."""
    split, run, baseline, progress, planned = search.split, search.run, search.baseline, search.progress, search.planned
    dataset = split.dataset
    run.trials.settle()  # a tracking server that went away mid-search gets the trials' writes before we read them
    top = best(trials)
    if top is None:
        first = next((t.error for t in trials if t.error), "no trial finished")
        raise SweepFailed(f"{dataset.name}: all {len(trials)} trials failed; first error: {first}")
    evidence, tied, winner = _select(sweep, trials, top)
    refit = pipeline.for_sweep(sweep, winner.refit_params).fit(split.X_train, split.y_train)
    predicted = refit.predict(split.X_test)
    result = DatasetResult(
        source=dataset.name, trials=trials, best=top,
        test_measures=measure_predictions(split.y_test, predicted),
        test_report=class_report(split.y_test, predicted, dataset.classes), metric=sweep.metric,
        classes=tuple(str(c) for c in dataset.classes),
        confusion=tuple(map(tuple, confusion(split.y_test, predicted, dataset.n_classes))),
        baseline=baseline, history=dict(getattr(refit.named_steps["clf"], "history_", {})),
        wall_time=time.monotonic() - search.started, tied=tied, evidence=evidence, compare=dict(sweep.compare),
        select=sweep.select, selected=winner, folds=sweep.folds,
    )
    result = dataclasses.replace(result, run_id=run.run_id, winner_run_id=run.log_result(result))
    if sweep.nested:
        result = dataclasses.replace(result, nested=_nested(sweep, split, queue, progress))
        run.log_nested(result.nested)
    counts = {state: sum(t.state == state for t in trials) for state in (COMPLETE, PRUNED, FAIL)}
    low, high = top.interval(sweep.folds)
    progress.say(
        f"== {dataset.name}: best cv {sweep.metric} {top.mean:.3f} ± {top.std:.3f} "
        f"(95 % interval {low:.3f} to {high:.3f}) ({format_params(top.params)}); "
        f"{len(tied)} of {counts[COMPLETE]} complete trials are tied with the best ({_test_name(sweep.compare)})"
    )
    if winner is not top:
        progress.say(f"== {dataset.name}: refit the simplest of them, trial {winner.number}: cv {winner.mean:.3f}, "
                     f"{winner.trainable_params:,.0f} trainable parameters against the best's "
                     f"{top.trainable_params:,.0f} "
                     f"({format_params(winner.params)})")
    progress.say(
        f"== {dataset.name}: test {result.test_score:.3f} vs baseline {baseline.test_score:.3f} "
        f"(lift {result.test_score - baseline.test_score:+.3f}); optimism (cv − test) {result.optimism:+.3f}; "
        f"{counts[COMPLETE]} complete, {counts[PRUNED]} pruned, {counts[FAIL]} failed; {result.wall_time:.0f} s"
    )
    if result.nested is not None:
        outer = result.nested
        progress.say(f"== {dataset.name}: nested estimate {sweep.metric} {outer.mean:.3f} ± {outer.std:.3f} "
                     f"({sweep.nested} outer folds) against best cv {top.mean:.3f}; inside, the searches promised "
                     f"{outer.inner_mean:.3f}; {outer.stability()}")
    if len(trials) - counts[FAIL] < planned:
        progress.say(f"== {dataset.name}: {len(trials) - counts[FAIL]} of {planned} trials finished "
                     "(timeout, or trials still running elsewhere): run the same command again to continue")
    return result


def _nested(sweep, split: Split, queue, progress) -> NestedResult:
    """The whole search again inside each outer fold of the training split (:mod:`sweeplab.search.nested`): same
    engine, same folds scheme, same selection rule; its trials are not logged one by one, nor reused."""
    progress.say(f"== {split.dataset.name}: nested CV, {sweep.nested} outer folds: the search runs again inside "
                 "each outer fold's training part, and its winner is scored on that fold's held-out part")

    def search(k: int, rows) -> tuple[TrialResult, int, int]:
        dataset = dataclasses.replace(split.dataset, name=f"{split.dataset.name}.outer{k}")
        inner = Split(dataset, split.X_train[rows], None, split.y_train[rows], None)
        queue.open(sweep, dataset)
        progress.start(dataset.name, queue.planned(sweep), sweep.splits, queue.finished(sweep, dataset.name))
        trials = queue.search(_context(sweep, inner, folds_of(sweep), Listeners(progress), {}))
        top = best(trials)
        if top is None:
            raise SweepFailed(f"{dataset.name}: all {len(trials)} trials of the inner search failed")
        _, tied, winner = _select(sweep, trials, top)
        return winner, len(tied), sum(t.ok for t in trials)

    return nested.estimate(sweep, split.X_train, split.y_train, search)


def _select(sweep, trials: list, top: TrialResult) -> tuple[dict, dict, TrialResult]:
    """The evidence against the best for every complete trial, the tie group, and the trial the sweep's rule
    hands on."""
    complete = {t.number: t for t in trials if t.ok}
    evidence, tied = selection.tie_group({n: t.fold_scores for n, t in complete.items()}, sweep.folds,
                                         sweep.compare, best=top.number)
    chosen = selection.choose(sweep.select, top.number, tied, {n: t.trainable_params for n, t in complete.items()},
                              {n: t.fit_time for n, t in complete.items()})
    return evidence, tied, complete[chosen]


def _test_name(compare: dict) -> str:
    if compare["test"] == BAYESIAN:
        return f"Bayesian correlated t-test, rope {compare['rope']:g}, P(best better) < {1 - compare['alpha']:g}"
    return f"corrected paired t-test, alpha {compare['alpha']:g}"


@dataclass(frozen=True)
class Plan:
    """What a sweep would do on one dataset, read without training, logging or creating anything."""

    dataset: str
    planned: int  # trials in a full search
    known: bool  # whether the engine knows its candidates up front (random, grid; Optuna's grid sampler)
    reused: int  # of the candidates, those the store has finished (they will not train)
    finished_before: int  # trials the engine's own state has finished (an Optuna study)
    folds: int  # fits per trial: every fold of every repeat
    epochs: int  # the most epochs a trial may train
    estimate_s: float | None  # the fits still to do, from finished trials of the same model on this dataset
    basis: int  # how many finished trials the estimate rests on
    storage: str = ""  # where the trials will queue
    workers: int = 1  # processes of this sweep that will take them


def plan(sweep, splits: list[Split], tracker, queue, fresh: bool = False) -> list[Plan]:
    """Per dataset: the trials a run of ``sweep`` would train and reuse, and how long the training would take
    going by the fit times of matching finished trials in the store."""
    plans = []
    for split in splits:
        finished = reusable(sweep, split, tracker, fresh)
        proposals = queue.proposals(sweep)
        before = queue.finished(sweep, split.dataset.name) if queue.has_state(sweep, split.dataset.name) else 0
        left = _to_train(sweep, split, queue, finished, before)
        estimate, basis = _estimate(sweep, left, finished.values())
        plans.append(Plan(split.dataset.name, queue.planned(sweep), proposals is not None,
                          0 if proposals is None else len(proposals) - len(left), before, sweep.splits,
                          sweep.max_epochs(), estimate, basis, queue.storage_url(), queue.workers))
    return plans


def _to_train(sweep, split: Split, queue, finished: dict, before: int) -> list:
    """The configurations a dataset's search has yet to train: its known candidates the store has not finished, or
    (Optuna proposes as it goes, only its budget is known) None for each trial of the budget not finished before."""
    proposals = queue.proposals(sweep)
    if proposals is None:
        return [None] * max(queue.planned(sweep) - before, 0)
    cv = search_key(sweep, split)
    return [sweep.configuration(chosen) for chosen in proposals
            if configuration_key(sweep, cv, sweep.configuration(chosen)) not in finished]


def _estimate(sweep, left: list, finished) -> tuple[float | None, int]:
    """Seconds of fitting for the configurations ``left`` (None: one Optuna will choose), from the median seconds
    per fold-epoch of the ``finished`` trials of the same model (of any of the sweep's models for Optuna's); and
    how many trials that rests on. None when there are none to go by."""
    import statistics

    def epochs(params: dict) -> int:
        return int(params.get("epochs", pipeline.FIT_DEFAULTS["epochs"]))

    rates = {}
    for done in finished:
        rates.setdefault(done.params.get("model"), []).append(done.fit_time / (sweep.splits * epochs(done.params)))
    total, basis = 0.0, 0
    for params in left:
        models = [sweep.model_of(params)] if params is not None else list(sweep.models)
        found = [rate for model in models for rate in rates.get(model, [])]
        if not found:
            return None, 0
        total += statistics.median(found) * sweep.splits * (sweep.max_epochs() if params is None else epochs(params))
        basis = max(basis, len(found))
    return total, basis


def join(queue, searches: list[tuple], tracker, progress, fresh: bool = False) -> None:
    """A worker's share of the searches another process started, ``searches`` as ``(sweep, split)`` in the sweep's
    order: run waiting trials of any of them, report each to its dataset's parent run."""
    contexts, runs = [], []
    for sweep, split in searches:
        runs.append(tracker.attach(sweep, split.dataset, queue.resume_key(sweep, split.dataset.name),
                                   search_key(sweep, split)))
        lane = copy.copy(progress)
        lane.start(split.dataset.name, queue.planned(sweep), sweep.splits, queue.finished(sweep, split.dataset.name))
        contexts.append(_context(sweep, split, folds_of(sweep), Listeners(lane, runs[-1].trials),
                                 reusable(sweep, split, tracker, fresh), (),
                                 _lookup(tracker, sweep, split, runs[-1].run_id if fresh else None)))
    try:
        queue.join(contexts)
    finally:
        for run in runs:
            run.trials.settle()
