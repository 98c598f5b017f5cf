"""One configuration through stratified k-fold CV, a fold at a time, with a report after every epoch and fold.

Each fold has its own vectorizer, fit on the fold's training part only (so the vocabulary is the fold's own,
exactly as in the scikit-learn engines), and the model trains with a Keras callback that scores the fold's
validation part after every epoch. Reports go to ``on_epoch(fold, epoch, score)`` and
``on_fold(fold, score, measures)``, scores in ``metric``; either may raise to stop the trial (that is how Optuna
prunes). Folds and epochs count from 1.

Two costs are paid once rather than per fold or per trial:

- vectorizing: :class:`VectorizedFolds` keeps every fold's fitted vectorizer and its two transformed parts, for
  the next trials with the same vectorizer settings (and tokenizes each text once for all folds);
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
from sweeplab.modeling.vectorize import SequenceVectorizer, Tokens


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
        # Token ids: every text tokenized once for all folds (not kept: a setting is vectorized once anyway).
        tokens = Tokens(self.X) if isinstance(vectorizer, SequenceVectorizer) else None
        for train, valid in self.splits:
            fitted = clone(vectorizer)
            if tokens is None:
                encoded, held_out = fitted.fit_transform(self.X[train]), fitted.transform(self.X[valid])
            else:
                encoded, held_out = fitted.fit_transform_tokens(tokens, train), fitted.transform_tokens(tokens, valid)
            folds.append(VectorizedFold(fitted, encoded, held_out))
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

        scorer = _epoch_scorer(part.valid, y[valid], report, metric, classifier)
        # A parameter, not a fit() argument: scikeras ignores callbacks passed to fit().
        classifier.set_params(callbacks=[scorer])
        started = time.perf_counter()
        try:
            if fold == 1:
                classifier.fit(part.train, y[train])
            else:
                classifier.fit_again(part.train, y[train])
        finally:
            run.fit_time += time.perf_counter() - started
        fitted = Pipeline([("vectorize", part.vectorizer), ("clf", classifier)])
        run.measures.append({**measure_predictions(y[valid], scorer.final()), **facts(fitted)})
        run.scores.append(run.measures[-1][metric])
        if on_fold is not None:
            on_fold(fold, run.scores[-1], run.measures[-1])
    return run


class NotFused(Exception):
    """The configurations' models cannot share one batch stream (a model that needs its full length)."""


@dataclass
class Member:
    """One configuration of a fused cross-validation: its pipeline, whom it reports to, what it has done, and what
    stopped it (a report that raised, a failed fit)."""

    make_pipeline: Callable
    on_epoch: Callable | None = None
    on_fold: Callable | None = None
    run: FoldRun = field(default_factory=FoldRun)
    stopped: Exception | None = None


def cross_validate_fused(members: list[Member], X, y, metric: str = "accuracy",
                         folds: VectorizedFolds | None = None, cv=None) -> None:
    """The members' cross-validations, fold by fold, each fold's models trained as one fused model
    (:mod:`sweeplab.modeling.fused`): the scores are those each would get alone (``tests/test_fused.py``).

    The members' pipelines share their vectorizer settings and batch stream
    (:func:`~sweeplab.modeling.fused.fusion_key`). A member whose report raises (its pruner) or whose training
    fails stops there (``member.stopped``); the others go on. The fused fit's time is shared out evenly among the
    members it trained. Raises :class:`NotFused`, before any report, when the models cannot share a stream."""
    from sweeplab.modeling import fused
    from sweeplab.modeling.pipeline import facts

    folds = folds if folds is not None else VectorizedFolds(X, list(cv.split(X, y)))
    pipelines = [member.make_pipeline() for member in members]
    classifiers = [pipe.named_steps["clf"] for pipe in pipelines]
    parts = folds.get(pipelines[0].named_steps["vectorize"])
    group = None
    for fold, ((train, valid), part) in enumerate(zip(folds.splits, parts), start=1):
        active = [i for i, member in enumerate(members) if member.stopped is None]
        if not active:
            return
        started = time.perf_counter()
        callbacks, scorers = [], {}
        for i in active:

            def report(epoch, value, fold=fold, member=members[i]):
                if member.on_epoch is not None:
                    member.on_epoch(fold, epoch, value)

            scorers[i] = _epoch_scorer(part.valid, y[valid], report, metric, classifiers[i])
            callbacks.append([scorers[i]])
            encoded = classifiers[i].prepare(part.train, y[train])
        training = [classifiers[i] for i in active]
        if fold == 1 and not fused.can_fuse(training):
            raise NotFused("a model of the group needs its full sequence length")
        if group is None or not group.trains(training):
            group = fused.Group(training)
        outcomes = group.fit(*encoded, callbacks)
        share = (time.perf_counter() - started) / len(active)
        for i, outcome in zip(active, outcomes):
            member = members[i]
            member.run.fit_time += share
            if outcome is not None:
                member.stopped = outcome
                continue
            fitted = Pipeline([("vectorize", part.vectorizer), ("clf", classifiers[i])])
            member.run.measures.append({**measure_predictions(y[valid], scorers[i].final()), **facts(fitted)})
            member.run.scores.append(member.run.measures[-1][metric])
            if member.on_fold is not None:
                try:
                    member.on_fold(fold, member.run.scores[-1], member.run.measures[-1])
                except Exception as exc:  # its pruner: this member stops, the others go on
                    member.stopped = exc


def _epoch_scorer(X_valid, y_valid, report, metric: str, classifier):
    """A Keras callback scoring the fold's vectorized validation part after each epoch; with the classifier's
    ``patience``, it also stops the fold once that many epochs have not beaten the best score, and leaves the
    model with the best epoch's weights (its epoch in ``classifier.chosen_epochs_``). The fold's score is then the
    best epoch's: chosen on the fold's own validation part, it leans optimistic by as much as any other
    parameter chosen there.

    The model is called directly (:func:`~sweeplab.modeling.classifier.probabilities`): ``model.predict`` would build a
    new data pipeline every epoch, which costs more than the prediction itself on small data. Its labels are the
    ones ``classifier.predict`` gives (the same call and the classifier's own target encoder), so the fold's closing
    measures take them from ``final()`` rather than a pass more over the validation part: on imdb_50k that pass
    was 1 in every ``epochs + 1`` of the scoring.
    """
    import keras

    from sweeplab.modeling.classifier import probabilities

    patience = int(getattr(classifier, "patience", 0) or 0)

    class EpochScorer(keras.callbacks.Callback):
        # The validation labels predicted with the weights the model ends with (None: no epoch ended).
        kept = None

        def on_train_begin(self, logs=None):
            self.best, self.best_epoch, self.best_weights, self.last = -float("inf"), 0, None, 0
            self.kept, classifier.chosen_epochs_ = None, None

        def on_epoch_end(self, epoch, logs=None):
            found = probabilities(self.model, X_valid, trim=classifier.trim_padding,
                                  multiple=classifier.pad_to_multiple_of)
            predicted = classifier.target_encoder_.inverse_transform(found)
            score, self.last = measure_predictions(y_valid, predicted)[metric], epoch + 1
            if not patience:
                self.kept = predicted
            elif score > self.best:
                self.best, self.best_epoch, self.best_weights = score, self.last, self.model.get_weights()
                self.kept = predicted
            elif self.last - self.best_epoch >= patience:
                self.model.stop_training = True
            report(self.last, score)

        def on_train_end(self, logs=None):
            if not patience or self.best_weights is None:
                return
            if self.best_epoch < self.last:
                self.model.set_weights(self.best_weights)
            classifier.chosen_epochs_ = self.best_epoch

        def final(self):
            """``classifier.predict`` of the validation part, as the fit left the model."""
            return self.kept if self.kept is not None else classifier.predict(X_valid)

    return EpochScorer()
