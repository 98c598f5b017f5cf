"""The tutorial's search as its readers run it, one process: RandomizedSearchCV + scikeras over the CNN grid
(num_filters 32/64/128 x kernel_size 3/5/7, 5 of the 9 points), 4 stratified folds, 20 epochs, batch size 10,
embedding 50, maxlen 100, 5,000 words, the tokenizer fit inside each fold (a Pipeline), refit on the training split
and one test score. It reads ``sweeps/cnn_grid.yaml`` for these settings and the split, so it searches exactly what
``sweeplab sweep cnn_grid`` searches, with scikit-learn doing the fitting (a fresh pipeline per fold, Keras' own
``predict``), every batch padded to ``maxlen`` and one training step per call, as plain scikeras trains; it
writes its fold scores as JSON.

    python bench/tutorial_search.py SOURCE OUT.json
"""

from __future__ import annotations

import json
import sys
import time


def main(source: str, out: str) -> int:
    started = time.perf_counter()
    import numpy as np
    from common import PLAIN_SCIKERAS
    from sklearn.model_selection import RandomizedSearchCV

    from sweeplab import config, data
    from sweeplab.modeling import pipeline
    from sweeplab.search import runner
    from sweeplab.engines.sklearn_search import pipeline_space

    sweep = config.load_sweep("cnn_grid")
    [split] = runner.prepare(sweep, [data.load_source(source)])
    tutorial = pipeline.build(sweep.model, sweep.fixed(), sweep.seed).set_params(**PLAIN_SCIKERAS)
    search = RandomizedSearchCV(tutorial,
                                pipeline_space(sweep, "random"), n_iter=sweep.trials, random_state=sweep.seed,
                                cv=runner.folds_of(sweep), refit=True)
    search.fit(split.X_train, split.y_train)
    results = search.cv_results_
    folds = [[float(results[f"split{k}_test_score"][i]) for k in range(sweep.folds)]
             for i in range(len(results["params"]))]
    params = [{k.rsplit("__", 1)[-1]: int(v) for k, v in p.items()} for p in results["params"]]
    test = float(np.mean(search.predict(split.X_test) == split.y_test))
    with open(out, "w") as handle:
        json.dump({"params": params, "fold_scores": folds, "best_cv": float(search.best_score_), "test": test,
                   "wall_s": time.perf_counter() - started}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
