"""The fold loop on its own: what each fold's vectorizer sees, the order and content of the reports, what a
stopped trial keeps, and the vectorized-fold cache."""

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

from sweeplab.modeling import pipeline
from sweeplab.modeling.vectorize import SequenceVectorizer
from sweeplab.search.folds import FoldRun, VectorizedFolds, cross_validate

PARAMS = {"epochs": 2, "batch_size": 8, "maxlen": 8, "embedding_dim": 4, "num_filters": 4, "kernel_size": 2}


@pytest.fixture(scope="module")
def texts():
    rng = np.random.default_rng(0)
    good, bad = ["great", "fine", "lovely"], ["awful", "poor", "bad"]
    X = np.array([" ".join(rng.choice(good if i % 2 else bad, 4)) for i in range(40)], dtype=object)
    y = np.array([i % 2 for i in range(40)])
    X[0] = "zebra awful awful awful"  # "zebra" appears once: in one fold's validation part, never in its training
    return X, y


def test_each_fold_vectorizer_is_fit_on_its_training_part_only(texts):
    X, y = texts
    splits = list(StratifiedKFold(2, shuffle=True, random_state=0).split(X, y))
    folds = VectorizedFolds(X, splits).get(SequenceVectorizer(maxlen=8))
    for (train, valid), fold in zip(splits, folds):
        vocabulary = set(fold.vectorizer.vocabulary_)
        assert vocabulary == {word for text in X[train] for word in text.split()}
        assert ("zebra" in vocabulary) == (0 in train)


def test_vectorized_folds_are_made_once_per_setting_and_the_oldest_goes(texts):
    X, y = texts
    folds = VectorizedFolds(X, list(StratifiedKFold(2).split(X, y)), keep=2)
    first = folds.get(SequenceVectorizer(maxlen=8))
    assert folds.get(SequenceVectorizer(maxlen=8)) is first
    folds.get(SequenceVectorizer(maxlen=4))
    folds.get(SequenceVectorizer(maxlen=6))  # a third setting: maxlen 8, the least recently used, is dropped
    assert folds.get(SequenceVectorizer(maxlen=8)) is not first


def test_reports_come_epoch_by_epoch_then_fold_by_fold(texts):
    X, y = texts
    heard = []
    run = cross_validate(lambda: pipeline.build("cnn", PARAMS, seed=0), X, y, StratifiedKFold(2),
                         on_epoch=lambda fold, epoch, value: heard.append(("epoch", fold, epoch)),
                         on_fold=lambda fold, score, measures: heard.append(("fold", fold, score, measures)))
    assert [h[:3] for h in heard] == [("epoch", 1, 1), ("epoch", 1, 2), ("fold", 1, run.scores[0]),
                                      ("epoch", 2, 1), ("epoch", 2, 2), ("fold", 2, run.scores[1])]
    measures = [h[3] for h in heard if h[0] == "fold"]
    assert measures == run.measures and all({"accuracy", "macro_f1"} <= set(m) for m in measures)
    assert [m["accuracy"] for m in measures] == run.scores and run.fit_time > 0


def test_a_report_that_raises_stops_the_trial_and_keeps_what_was_done(texts):
    X, y = texts
    run = FoldRun()

    class Pruned(Exception):
        pass

    def prune(fold, score, measures):
        raise Pruned  # as Optuna's pruner stops a trial: from inside a report

    with pytest.raises(Pruned):
        cross_validate(lambda: pipeline.build("cnn", PARAMS, seed=0), X, y, StratifiedKFold(3), on_fold=prune, run=run)
    assert len(run.scores) == len(run.measures) == 1 and run.fit_time > 0


def test_the_metric_chosen_is_the_score_reported(texts):
    X, y = texts
    run = cross_validate(lambda: pipeline.build("cnn", PARAMS, seed=0), X, y, StratifiedKFold(2), metric="macro_f1")
    assert run.scores == [m["macro_f1"] for m in run.measures]


def test_early_stopping_stops_a_fold_and_keeps_its_best_epoch(texts):
    """patience 2: each fold stops two epochs after its best validation score, keeps that epoch's weights (its
    score is the best epoch's) and records which epoch that was."""
    X, y = texts
    heard = {}
    params = {**PARAMS, "epochs": 40, "patience": 2, "learning_rate": 0.05}
    run = cross_validate(lambda: pipeline.build("cnn", params, seed=0), X, y, StratifiedKFold(2),
                         on_epoch=lambda fold, epoch, value: heard.setdefault(fold, []).append(value))
    for fold, scores in heard.items():
        chosen = run.measures[fold - 1][pipeline.CHOSEN_EPOCHS]
        assert chosen == 1 + scores.index(max(scores))  # the first epoch with the best score
        assert len(scores) == chosen + 2 < 40  # stopped after two epochs without a better one
        assert run.scores[fold - 1] == max(scores)  # the best epoch's weights, not the last epoch's


def test_without_patience_every_epoch_trains_and_none_is_chosen(texts):
    X, y = texts
    heard = []
    run = cross_validate(lambda: pipeline.build("cnn", {**PARAMS, "epochs": 4}, seed=0), X, y, StratifiedKFold(2),
                         on_epoch=lambda fold, epoch, value: heard.append(epoch))
    assert heard == [1, 2, 3, 4] * 2 and all(pipeline.CHOSEN_EPOCHS not in m for m in run.measures)


def test_the_refit_trains_for_the_median_epochs_the_folds_chose():
    chosen = [{pipeline.CHOSEN_EPOCHS: e} for e in (3.0, 8.0, 4.0, 6.0)]
    assert pipeline.refit_configuration({"epochs": 40, "patience": 2}, chosen) == {"epochs": 5, "patience": 2}
    assert pipeline.refit_configuration({"epochs": 40}, [{"accuracy": 0.8}]) == {"epochs": 40}



@pytest.fixture(scope="module")
def noisy():
    """Words that lean one way, labels flipped one time in four: validation scores that move from epoch to epoch."""
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(30)]
    y = rng.integers(0, 2, 120)
    X = np.array([" ".join(rng.choice(words[:18] if label else words[12:], 5)) for label in y], dtype=object)
    return X, np.where(rng.random(120) < 0.25, 1 - y, y)


@pytest.mark.parametrize("patience", [0, 3])
def test_a_fold_predicts_its_validation_part_once_an_epoch_and_its_measures_are_the_models(noisy, monkeypatch,
                                                                                         patience):
    """The closing measures reuse the scoring of the epoch whose weights the model keeps (the last one, or with
    patience the best one): no pass more over the validation part, and the same labels ``predict`` gives."""
    from sweeplab.modeling import classifier as classifier_module

    X, y = noisy
    calls, real = [], classifier_module.probabilities
    monkeypatch.setattr(classifier_module, "probabilities", lambda model, rows, **kw: calls.append(len(rows))
                        or real(model, rows, **kw))
    splits = list(StratifiedKFold(2, shuffle=True, random_state=0).split(X, y))
    folds, made, heard = VectorizedFolds(X, splits), [], []
    params = {**PARAMS, "epochs": 12, "patience": patience, "learning_rate": 0.05}
    run = cross_validate(lambda: made.append(pipeline.build("cnn", params, seed=0)) or made[-1], X, y, None,
                         on_epoch=lambda fold, epoch, value: heard.append((fold, value)), folds=folds)
    assert len(calls) == len(heard)  # one scoring pass an epoch, none after the fold
    last_fold = [value for fold, value in heard if fold == 2]
    if patience:  # the kept weights are not the last epoch's, and scored otherwise
        assert len(last_fold) < 12 and max(last_fold) != last_fold[-1]
    [(_, valid)], last = splits[-1:], folds.get(made[0].named_steps["vectorize"])[-1]
    predicted = made[0].named_steps["clf"].predict(last.valid)  # the model as the last fold left it
    assert run.measures[-1]["accuracy"] == np.mean(predicted == y[valid])
