"""``random`` and ``grid`` are scikit-learn's RandomizedSearchCV and GridSearchCV: the same candidates, in the same
order, with the same fold scores, although they go through the queue of trials, sweeplab's trainer resets one model
between folds and vectorizes each fold once per search while scikit-learn clones and fits a fresh pipeline per fold.
(tests/test_queue.py compares a search shared by two workers with RandomizedSearchCV the same way.)"""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

from sweeplab import config, data
from sweeplab.modeling import pipeline
from sweeplab.modeling.metrics import METRICS
from sweeplab.engines.sklearn_search import SklearnEngine, pipeline_space
from sweeplab.search import runner
from sweeplab.search.context import SearchContext
from sweeplab.search.listener import Listener
from sweeplab.search.queue import Queue

SWEEP = {
    "name": "equivalence", "model": "cnn", "sources": ["yelp"], "trials": 3, "folds": 3, "seed": 3,
    "fit": {"epochs": 4, "batch_size": 32},
    # dropout: the trainer's reset model must also restart its dropout masks where a fresh model would.
    "space": {"num_filters": [8, 16], "kernel_size": [3, 5], "embedding_dim": 16, "maxlen": 30,
              "max_words": 1500, "dropout": 0.3, "learning_rate": {"low": 0.005, "high": 0.02, "log": True}},
}


def _split(sweep):
    [split] = runner.prepare(sweep, [data.load_source("yelp")])
    return split.X_train[:480], split.y_train[:480], split


def _sweeplab(sweep, X, y, split, directory):
    ctx = SearchContext(sweep, "yelp", X, y, runner.folds_of(sweep), Listener(), runner.search_key(sweep, split))
    queue = Queue(SklearnEngine(sweep.engine), local_dir=directory)
    queue.open(sweep, split.dataset)
    return queue.search(ctx)


def _scikit_learn(search_class, sweep, X, y, **options):
    search = search_class(pipeline.build(sweep.model, sweep.fixed(), sweep.seed), pipeline_space(sweep, sweep.engine),
                          cv=runner.folds_of(sweep), scoring=pipeline.measure, refit=False, error_score="raise",
                          **options)
    return search.fit(X, y).cv_results_


def _same(trials, results, sweep):
    assert len(trials) == len(results["params"])
    for trial, candidate in zip(trials, results["params"]):
        assert {key.rsplit("__", 1)[-1]: value for key, value in candidate.items()} == \
               {name: trial.params[name] for name in sweep.searched()}
    for i, trial in enumerate(trials):
        for fold in range(sweep.folds):
            for metric in METRICS:
                assert trial.fold_measures[fold][metric] == results[f"split{fold}_test_{metric}"][i], \
                    (trial.number, fold, metric)
    assert len({t.mean for t in trials}) > 1  # the configurations really differ


@pytest.mark.integration
def test_random_is_randomized_search_cv(tmp_path):
    sweep = config.parse_sweep({**SWEEP, "engine": "random"}, "equivalence.yaml")
    X, y, split = _split(sweep)
    trials = _sweeplab(sweep, X, y, split, tmp_path)
    results = _scikit_learn(RandomizedSearchCV, sweep, X, y, n_iter=sweep.trials, random_state=sweep.seed)
    _same(trials, results, sweep)


@pytest.mark.integration
def test_grid_is_grid_search_cv(tmp_path):
    grid = {**SWEEP, "engine": "grid", "space": {**SWEEP["space"], "learning_rate": 0.01, "kernel_size": 3}}
    sweep = config.parse_sweep(grid, "equivalence.yaml")
    X, y, split = _split(sweep)
    trials = _sweeplab(sweep, X, y, split, tmp_path)
    _same(trials, _scikit_learn(GridSearchCV, sweep, X, y), sweep)
    assert np.isfinite([t.mean for t in trials]).all()
