"""One configuration through stratified k-fold CV, a fold at a time, with a report after every epoch and fold.

Each fold fits the whole Pipeline on its training part (so the vocabulary is the fold's own, exactly as in the
scikit-learn engines) with a Keras callback that scores the fold's validation part after every epoch. Reports
go to ``on_epoch(fold, epoch, score)`` and ``on_fold(fold, score)``; either may raise to stop the trial (that is
how Optuna prunes). Folds and epochs count from 1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from sweeplab.engines.base import score


@dataclass
class FoldRun:
    """What the folds produced so far: still meaningful when a report stopped the trial midway."""

    scores: list = field(default_factory=list)
    fit_time: float = 0.0


def cross_validate(make_pipeline: Callable, X, y, cv, on_epoch=None, on_fold=None, run: FoldRun | None = None):
    run = run if run is not None else FoldRun()
    for fold, (train, valid) in enumerate(cv.split(X, y), start=1):
        pipe = make_pipeline()

        def report(epoch, value, fold=fold):
            if on_epoch is not None:
                on_epoch(fold, epoch, value)

        # A parameter, not a fit() argument: scikeras ignores callbacks passed to fit().
        pipe.set_params(clf__callbacks=[_epoch_scorer(pipe, X[valid], y[valid], report)])
        started = time.perf_counter()
        try:
            pipe.fit(X[train], y[train])
        finally:
            run.fit_time += time.perf_counter() - started
        run.scores.append(score(pipe, X[valid], y[valid]))
        if on_fold is not None:
            on_fold(fold, run.scores[-1])
    return run


def _epoch_scorer(pipe, X_valid, y_valid, report):
    """A Keras callback scoring the validation texts after each epoch, through the fold's own vectorizer.

    The model is called directly on the whole (small) validation matrix: ``model.predict`` would build a new
    data pipeline every epoch, which costs more than the prediction itself.
    """
    import keras

    class EpochScorer(keras.callbacks.Callback):
        sequences = None

        def on_epoch_end(self, epoch, logs=None):
            if self.sequences is None:  # the vectorizer is fitted by now: the Pipeline fits it before the model
                self.sequences = pipe.named_steps["vectorize"].transform(X_valid)
            probabilities = keras.ops.convert_to_numpy(self.model(self.sequences, training=False))
            if probabilities.shape[1] == 1:
                predicted = (probabilities[:, 0] > 0.5).astype(int)
            else:
                predicted = probabilities.argmax(axis=1)
            report(epoch + 1, float(np.mean(predicted == y_valid)))

    return EpochScorer()
