"""One configuration through stratified k-fold CV, a fold at a time, with a report after every epoch and fold.

Each fold has its own vectorizer, fit on the fold's training part only (so the vocabulary is the fold's own,
exactly as in the scikit-learn engines), and the model trains with a Keras callback that scores the fold's
validation part after every epoch. Reports go to ``on_epoch(fold, epoch, score)`` and
``on_fold(fold, score, measures)``, scores in ``metric``; either may raise to stop the trial (that is how Optuna
prunes). Folds and epochs count from 1.

Two costs are paid once rather than per fold or per trial:

- vectorizing: :class:`VectorizedFolds` keeps every fold's fitted vectorizer and its two transformed parts, for
  the next trials with the same vectorizer settings;
- building and tracing the Keras model: the embedding table is sized by the vectorizer's capacity, not its fitted
  vocabulary, so every fold has the same model shape and later folds reset and retrain the first fold's model
  (:meth:`~sweeplab.modeling.classifier.KerasTextClassifier.fit_again`), with exactly the weights a fresh model
  would start from: the scores are those of scikit-learn's own cross-validation of the same pipeline.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

from sklearn.base import clone
from sklearn.pipeline import Pipeline

from sweeplab.modeling.metrics import measure_predictions


@dataclass
class FoldRun:
    """What the folds produced so far: still meaningful when a report stopped the trial midway."""

    scores: list = field(default_factory=list)  # the chosen metric per fold
    measures: list = field(default_factory=list)  # every metric per fold
    fit_time: float = 0.0


@dataclass(frozen=True)
class VectorizedFold:
    vectorizer: object  # fitted on the fold's training part
    train: object
    valid: object


class VectorizedFolds:
    """Every fold's vectorized training and validation parts, per vectorizer setting, for the last ``keep``
    settings used (a search that varies ``maxlen`` would otherwise hold one copy of the data per value)."""

    def __init__(self, X, splits: list, keep: int = 4):
        self.X, self.splits, self.keep = X, splits, keep
        self._cache = OrderedDict()

    def get(self, vectorizer) -> list[VectorizedFold]:
        key = (type(vectorizer).__name__, tuple(sorted(vectorizer.get_params().items())))
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        folds = []
        for train, valid in self.splits:
            fitted = clone(vectorizer).fit(self.X[train])
            folds.append(VectorizedFold(fitted, fitted.transform(self.X[train]), fitted.transform(self.X[valid])))
        self._cache[key] = folds
        while len(self._cache) > self.keep:
            self._cache.popitem(last=False)
        return folds


def cross_validate(make_pipeline: Callable, X, y, cv, on_epoch=None, on_fold=None, run: FoldRun | None = None,
                   metric: str = "accuracy", folds: VectorizedFolds | None = None):
    """``make_pipeline()`` gives the unfitted Pipeline(vectorize, clf) of the configuration; ``folds`` a cache
    shared by the trials of one search (made here when not given, over ``cv``'s splits)."""
    from sweeplab.modeling.pipeline import facts

    run = run if run is not None else FoldRun()
    folds = folds if folds is not None else VectorizedFolds(X, list(cv.split(X, y)))
    template = make_pipeline()
    parts = folds.get(template.named_steps["vectorize"])
    classifier = template.named_steps["clf"]
    for fold, ((train, valid), part) in enumerate(zip(folds.splits, parts), start=1):

        def report(epoch, value, fold=fold):
            if on_epoch is not None:
                on_epoch(fold, epoch, value)

        # A parameter, not a fit() argument: scikeras ignores callbacks passed to fit().
        classifier.set_params(callbacks=[_epoch_scorer(part.valid, y[valid], report, metric, classifier)])
        started = time.perf_counter()
        try:
            if fold == 1:
                classifier.fit(part.train, y[train])
            else:
                classifier.fit_again(part.train, y[train])
        finally:
            run.fit_time += time.perf_counter() - started
        fitted = Pipeline([("vectorize", part.vectorizer), ("clf", classifier)])
        run.measures.append({**measure_predictions(y[valid], classifier.predict(part.valid)), **facts(fitted)})
        run.scores.append(run.measures[-1][metric])
        if on_fold is not None:
            on_fold(fold, run.scores[-1], run.measures[-1])
    return run


def _epoch_scorer(X_valid, y_valid, report, metric: str, classifier):
    """A Keras callback scoring the fold's vectorized validation part after each epoch.

    The model is called directly (:func:`~sweeplab.modeling.classifier.probabilities`): ``model.predict`` would build a
    new data pipeline every epoch, which costs more than the prediction itself on small data.
    """
    import keras

    from sweeplab.modeling.classifier import probabilities

    class EpochScorer(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            found = probabilities(self.model, X_valid, trim=classifier.trim_padding)
            predicted = (found[:, 0] > 0.5).astype(int) if found.shape[1] == 1 else found.argmax(axis=1)
            report(epoch + 1, measure_predictions(y_valid, predicted)[metric])

    return EpochScorer()
