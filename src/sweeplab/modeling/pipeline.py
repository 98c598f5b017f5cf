"""The estimator every engine tunes: Pipeline(vectorize, clf) with clf a scikeras-wrapped model factory.

A sweep names parameters flatly (``maxlen``, ``num_filters``, ``epochs``); :func:`route` says which step of the
pipeline each one belongs to. This is the only place that knows the pipeline's shape.
"""

from __future__ import annotations

import functools
import math
import statistics
from pathlib import Path

from sklearn.pipeline import Pipeline

from sweeplab.modeling import registry
from sweeplab.modeling.defaults import CV_DEFAULTS, EMBEDDING_DEFAULTS, FIT_CHOICES, FIT_DEFAULTS
from sweeplab.modeling.metrics import CHOSEN_EPOCHS, TRAINABLE_PARAMS, measure_predictions
from sweeplab.modeling.vectorize import BagOfWordsVectorizer, SequenceVectorizer


def vectorizer(model: str):
    """The vectorizer class that makes ``model``'s input."""
    return SequenceVectorizer if registry.reads(model) == registry.SEQUENCES else BagOfWordsVectorizer


def _classifier_defaults(model: str) -> dict:
    return {**FIT_DEFAULTS, **CV_DEFAULTS,
            **(EMBEDDING_DEFAULTS if registry.reads(model) == registry.SEQUENCES else {})}


def tunable(model: str) -> dict:
    """Every parameter a sweep over ``model`` may set, with its default (whose type is the expected type)."""
    return {**vectorizer(model)().get_params(), **_classifier_defaults(model), **registry.defaults(model)}


def choices(model: str) -> dict:
    """The parameters of ``model``'s pipeline that take one of a fixed set of values, with those values."""
    return {**getattr(vectorizer(model), "CHOICES", {}), **FIT_CHOICES, **registry.choices(model)}


def route(name: str, model: str) -> str:
    """The pipeline parameter a sweep parameter sets."""
    if name in vectorizer(model)().get_params():
        return f"vectorize__{name}"
    if name in _classifier_defaults(model):
        return f"clf__{name}"
    if name in registry.defaults(model):
        return f"clf__model__{name}"
    raise KeyError(f"{model} takes no parameter '{name}'")


def for_sweep(sweep, configuration: dict) -> Pipeline:
    """An unfitted pipeline for one configuration of ``sweep`` (its family, when it searches several)."""
    return build(sweep.model_of(configuration), configuration, sweep.seed)


def build(model: str, params: dict, seed: int) -> Pipeline:
    """An unfitted pipeline for ``model`` with ``params`` (sweep names) set; the rest keep their defaults.

    A ``model`` entry in ``params`` (a family sweep's configuration names its family) is not a parameter."""
    params = {name: value for name, value in params.items() if name != "model"}
    from sweeplab.modeling.classifier import KerasTextClassifier  # imports TensorFlow: only when a model is wanted

    classifier = KerasTextClassifier(model=registry.get(model), random_state=seed, verbose=0, **FIT_DEFAULTS,
                                     **CV_DEFAULTS, **EMBEDDING_DEFAULTS)
    pipe = Pipeline([("vectorize", vectorizer(model)()), ("clf", classifier)])
    return pipe.set_params(**{route(name, model): value for name, value in params.items()})


def resolve(model: str, configuration: dict) -> dict:
    """Everything that decides what a configuration of ``model`` trains: every parameter its pipeline takes, with
    the defaults of those the configuration leaves out, and the model's name. A pretrained vectors file is named
    by its content as well as its path."""
    resolved = {**tunable(model), **{k: v for k, v in configuration.items() if k != "model"}, "model": model}
    if resolved.get("embeddings"):
        path = Path(resolved["embeddings"])
        stat = path.stat()
        resolved["embeddings_sha256"] = _file_digest(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    return resolved


@functools.lru_cache(maxsize=4)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    """A file's sha256, once per process and file version (the key of every trial of a sweep needs it)."""
    from sweeplab.data import sha256_of

    return sha256_of(path)


def measure(estimator, X, y) -> dict:
    """Every metric of METRICS for one prediction of ``X``, and the facts a fitted pipeline learnt from its data
    (see :func:`facts`): a scorer for scikit-learn's searches and cross_validate."""
    return {**measure_predictions(y, estimator.predict(X)), **facts(estimator)}


def facts(fitted) -> dict:
    """What a fitted pipeline learnt from its training data that a trial should record (a data-derived sequence
    length, the share of the vocabulary pretrained vectors cover); empty for anything else, such as the
    baseline."""
    steps = getattr(fitted, "named_steps", {})
    vectorizer, classifier = steps.get("vectorize"), steps.get("clf")
    found = {}
    if vectorizer is not None and getattr(vectorizer, "maxlen_percentile", 0):
        found["maxlen"] = float(vectorizer.maxlen_)
    if getattr(classifier, "pretrained_", None) is not None:
        found["embedding_coverage"] = classifier.pretrained_.coverage
    model = getattr(classifier, "model_", None)
    if model is not None:
        found[TRAINABLE_PARAMS] = float(sum(math.prod(w.shape) for w in model.trainable_weights))
    if getattr(classifier, "chosen_epochs_", None):
        found[CHOSEN_EPOCHS] = float(classifier.chosen_epochs_)
    return found


def refit_configuration(configuration: dict, fold_measures) -> dict:
    """What a configuration's refit on the whole training part trains: with early stopping, for the median of
    the epochs its folds chose (rounded up: the refit sees a fold's data and its validation part), not for the
    epoch budget; otherwise the configuration as it is."""
    chosen = [fold[CHOSEN_EPOCHS] for fold in fold_measures if fold.get(CHOSEN_EPOCHS)]
    if not chosen:
        return dict(configuration)
    return {**configuration, "epochs": math.ceil(statistics.median(chosen))}
