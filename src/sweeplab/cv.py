"""One configuration through stratified k-fold CV, a fold at a time, with a report after every epoch and fold.

Each fold fits the whole Pipeline on its training part (so the vocabulary is the fold's own, exactly as in the
scikit-learn engines) with a Keras callback that scores the fold's validation part after every epoch. Reports
go to ``on_epoch(fold, epoch, score)`` and ``on_fold(fold, score, measures)``, scores in ``metric``; either may
raise to stop the trial (that is how Optuna prunes). Folds and epochs count from 1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable


import numpy as np

from sweeplab.engines.base import measure, measure_predictions

CHUNK = 2048  # validation rows per call when scoring an epoch


@dataclass
class FoldRun:
    """What the folds produced so far: still meaningful when a report stopped the trial midway."""

    scores: list = field(default_factory=list)  # the chosen metric per fold
    measures: list = field(default_factory=list)  # every metric per fold
    fit_time: float = 0.0


def cross_validate(make_pipeline: Callable, X, y, cv, on_epoch=None, on_fold=None, run: FoldRun | None = None,
                   metric: str = "accuracy"):
    run = run if run is not None else FoldRun()
    for fold, (train, valid) in enumerate(cv.split(X, y), start=1):
        pipe = make_pipeline()

        def report(epoch, value, fold=fold):
            if on_epoch is not None:
                on_epoch(fold, epoch, value)

        # A parameter, not a fit() argument: scikeras ignores callbacks passed to fit().
        pipe.set_params(clf__callbacks=[_epoch_scorer(pipe, X[valid], y[valid], report, metric)])
        started = time.perf_counter()
        try:
            pipe.fit(X[train], y[train])
        finally:
            run.fit_time += time.perf_counter() - started
        run.measures.append(measure(pipe, X[valid], y[valid]))
        run.scores.append(run.measures[-1][metric])
        if on_fold is not None:
            on_fold(fold, run.scores[-1], run.measures[-1])
    return run


def _epoch_scorer(pipe, X_valid, y_valid, report, metric: str):
    """A Keras callback scoring the validation texts after each epoch, through the fold's own vectorizer.

    The model is called directly on the validation matrix, in chunks: ``model.predict`` would build a new data
    pipeline every epoch, which costs more than the prediction itself on small data, and chunks keep a large
    fold's activations (rows × length × width floats) within memory.
    """
    import keras

    class EpochScorer(keras.callbacks.Callback):
        sequences = None

        def on_epoch_end(self, epoch, logs=None):
            if self.sequences is None:  # the vectorizer is fitted by now: the Pipeline fits it before the model
                self.sequences = pipe.named_steps["vectorize"].transform(X_valid)
            probabilities = np.concatenate([
                keras.ops.convert_to_numpy(self.model(self.sequences[start:start + CHUNK], training=False))
                for start in range(0, len(self.sequences), CHUNK)])
            if probabilities.shape[1] == 1:
                predicted = (probabilities[:, 0] > 0.5).astype(int)
            else:
                predicted = probabilities.argmax(axis=1)
            report(epoch + 1, measure_predictions(y_valid, predicted)[metric])

    return EpochScorer()
