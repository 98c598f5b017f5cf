"""Retraining an experiment: its configuration fit on the whole training split (or on all the data), one score on
the held-out test split, and the result folded into a raw-text model (:mod:`sweeplab.modeling.textmodel`).

The split is the sweep's own (same seed and test size), so the test rows are the ones the sweep never saw and the
score compares with the sweep's refit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from sweeplab import data
from sweeplab.modeling import pipeline, textmodel
from sweeplab.modeling.metrics import class_report, measure_predictions


@dataclass(frozen=True)
class Evaluation:
    """The raw-text model on the held-out test texts, and how closely it matches the pipeline it came from."""

    accuracy: float
    macro_f1: float
    pipeline_accuracy: float
    agreement: float  # share of test texts where the raw-text model and the pipeline predict the same label
    report: dict
    report_text: str
    confusion: np.ndarray
    classes: list


@dataclass(frozen=True)
class Retrained:
    experiment: object
    dataset: data.Dataset
    model: object  # the raw-text Keras model
    history: dict
    n_train: int
    n_test: int
    all_data: bool
    early_stopping: dict | None
    evaluation: Evaluation | None  # None with --all-data: there is no held-out text left
    wall_time: float

    @property
    def epochs_run(self) -> int:
        return len(self.history.get("loss", []))


def retrain(experiment, dataset: data.Dataset, all_data: bool = False,
            early_stopping: dict | None = None) -> Retrained:
    """``experiment`` trained on ``dataset`` (from :meth:`Experiment.load_dataset`, which checks its hash)."""
    started = time.monotonic()
    X_train, X_test, y_train, y_test = data.holdout_split(dataset, experiment.test_size, experiment.seed)
    if all_data:
        X_train, y_train = np.concatenate([X_train, X_test]), np.concatenate([y_train, y_test])
    early_stopping = early_stopping or experiment.early_stopping
    fitted = fit(experiment, X_train, y_train, early_stopping)
    model = textmodel.from_pipeline(fitted, dataset.classes)
    evaluation = None if all_data else evaluate(model, fitted, X_test, y_test, dataset.classes)
    return Retrained(
        experiment=experiment, dataset=dataset, model=model,
        history=dict(getattr(fitted.named_steps["clf"], "history_", {})), n_train=len(X_train),
        n_test=0 if all_data else len(X_test), all_data=all_data, early_stopping=early_stopping,
        evaluation=evaluation,
        wall_time=time.monotonic() - started,
    )


def fit(experiment, X, y, early_stopping: dict | None):
    """The experiment's pipeline fit on ``X``; with early stopping, on all but a stratified validation slice,
    whose loss decides when to stop (the best epoch's weights are kept)."""
    pipe = pipeline.build(experiment.model, experiment.configuration(), experiment.seed)
    if not early_stopping:
        return pipe.fit(X, y)
    import keras
    from sklearn.model_selection import train_test_split

    X_fit, X_valid, y_fit, y_valid = train_test_split(
        X, y, test_size=early_stopping["validation_split"], stratify=y, random_state=experiment.seed)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=early_stopping["patience"],
                                         restore_best_weights=True)
    # A parameter, not a fit() argument: scikeras ignores callbacks passed to fit().
    pipe.set_params(clf__callbacks=[stop])
    # The vocabulary is the fit part's own: the validation slice stays unseen, like a CV fold's.
    vectorizer = pipe.named_steps["vectorize"].fit(X_fit)
    pipe.named_steps["clf"].fit(vectorizer.transform(X_fit), y_fit,
                                validation_data=(vectorizer.transform(X_valid), y_valid))
    return pipe


def evaluate(model, fitted, X_test, y_test, classes) -> Evaluation:
    from sklearn.metrics import confusion_matrix

    predicted = textmodel.predict(model, X_test)["label"].tolist()
    index = {label: i for i, label in enumerate(classes)}
    predicted_ids = np.array([index[label] for label in predicted])
    from_pipeline = fitted.predict(X_test)
    measured = measure_predictions(y_test, predicted_ids)
    return Evaluation(
        accuracy=measured["accuracy"],
        macro_f1=measured["macro_f1"],
        pipeline_accuracy=measure_predictions(y_test, from_pipeline)["accuracy"],
        agreement=float(np.mean(predicted_ids == from_pipeline)),
        report=class_report(y_test, predicted_ids, classes, as_dict=True),
        report_text=class_report(y_test, predicted_ids, classes),
        confusion=confusion_matrix(y_test, predicted_ids, labels=range(len(classes))),
        classes=list(classes),
    )
