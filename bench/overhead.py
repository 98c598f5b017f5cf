"""What sweeplab adds to a trial: one trial of the optuna engine (MLflow run, per-epoch scoring, the study)
against a bare Keras loop doing the same folds, epochs and configuration on the same data.

The bare loop is what one writes by hand, done right: per fold, a vectorizer fit on the training part, a new
model from the same factory, ``fit``, then the validation accuracy. The sweeplab side is ``engine.search`` of a
one-trial study on a real SQLite MLflow store and Optuna storage: everything a trial costs, the engine's own
bookkeeping around it included. A third side, sweeplab's fold loop alone with nothing recorded, separates the
bookkeeping (MLflow, Optuna) from the training. Target (issue 6): at most 5 % more wall time than the bare loop.

    python bench/overhead.py [--source yelp] [--repeats 5] [--epochs 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import alternate, median, queue, say, write

CONFIG = {"num_filters": 64, "kernel_size": 5, "embedding_dim": 50, "maxlen": 100, "max_words": 5000,
          "batch_size": 32}


def bare_loop(X, y, folds, epochs: int, seed: int) -> dict:
    import keras
    import numpy as np

    from sweeplab.modeling.factories import cnn
    from sweeplab.modeling.vectorize import SequenceVectorizer

    keras.utils.set_random_seed(seed)
    scores = []
    for train, valid in folds.split(X, y):
        vectorizer = SequenceVectorizer(max_words=CONFIG["max_words"], maxlen=CONFIG["maxlen"]).fit(X[train])
        X_train, X_valid = vectorizer.transform(X[train]), vectorizer.transform(X[valid])
        meta = {"X_shape_": X_train.shape, "vocab_size_": vectorizer.vocab_size_, "n_classes_": 2}
        model = cnn(meta, num_filters=CONFIG["num_filters"], kernel_size=CONFIG["kernel_size"],
                    embedding_dim=CONFIG["embedding_dim"])
        model.fit(X_train, y[train], epochs=epochs, batch_size=CONFIG["batch_size"], verbose=0)
        predicted = (model.predict(X_valid, verbose=0)[:, 0] > 0.5).astype(int)
        scores.append(float(np.mean(predicted == y[valid])))
    return {"cv_accuracy": round(float(np.mean(scores)), 4)}


def cv_only(sweep, split, folds) -> dict:
    """sweeplab's fold loop alone, nothing recorded: what the trial costs before any bookkeeping."""
    from sweeplab.modeling import pipeline
    from sweeplab.search.folds import cross_validate

    run = cross_validate(lambda: pipeline.for_sweep(sweep, sweep.fixed()), split.X_train, split.y_train, folds)
    return {"cv_accuracy": round(sum(run.scores) / len(run.scores), 4)}


def sweeplab_trial(sweep, split, folds, store: Path, repeat: list) -> dict:
    from sweeplab.search import runner
    from sweeplab.search.context import SearchContext
    from sweeplab.search.listener import Listeners
    from sweeplab.tracking import Tracker

    repeat.append(1)
    sweep = sweep.override(name=f"overhead{len(repeat)}")  # a new study and MLflow experiment each time
    tracker = Tracker(f"sqlite:///{store / 'mlflow.db'}")
    engine = queue(sweep, store)
    key = engine.open(sweep, split.dataset)
    with tracker.dataset_run(sweep, split.dataset, resume_key=key) as run:
        ctx = SearchContext(sweep, split.dataset.name, split.X_train, split.y_train, folds, Listeners(run.trials),
                            runner.search_key(sweep, split))
        [trial] = engine.search(ctx)
        run.trials.settle()  # the trial's MLflow writes are part of its cost, as in runner.run
    return {"cv_accuracy": round(trial.mean, 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="yelp")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    from sweeplab import config, data
    from sweeplab.search import runner as sweeps

    spec = {"name": "overhead", "model": "cnn", "engine": "optuna", "sources": [args.source], "trials": 1,
            "folds": 4, "seed": 1000, "sampler": "random", "pruner": "none",
            "fit": {"epochs": args.epochs, "batch_size": CONFIG["batch_size"]},
            "space": {k: v for k, v in CONFIG.items() if k != "batch_size"}}
    sweep = config.parse_sweep(spec, "bench/overhead.py")
    [split] = sweeps.prepare(sweep, [data.load_source(args.source)])
    folds = sweeps.folds_of(sweep)
    with tempfile.TemporaryDirectory() as tmp:
        say("warming up (imports, first trace)")
        bare_loop(split.X_train, split.y_train, folds, 1, sweep.seed)
        made = []
        runs = alternate({
            "bare_keras": lambda: bare_loop(split.X_train, split.y_train, folds, args.epochs, sweep.seed),
            "sweeplab_cv_only": lambda: cv_only(sweep, split, folds),
            "sweeplab": lambda: sweeplab_trial(sweep, split, folds, Path(tmp), made),
        }, args.repeats)
    bare, loop, ours = median(runs["bare_keras"]), median(runs["sweeplab_cv_only"]), median(runs["sweeplab"])
    write("overhead", {
        "config": {**CONFIG, "epochs": args.epochs, "folds": 4, "source": args.source,
                   "train_rows": len(split.X_train)},
        "repeats": args.repeats, "runs": runs,
        "bare_keras_median_s": bare, "sweeplab_cv_only_median_s": loop, "sweeplab_trial_median_s": ours,
        "overhead_pct": round(100 * (ours / bare - 1), 1), "target_pct": 5.0,
        "bookkeeping_s": round(ours - loop, 3), "bookkeeping_pct": round(100 * (ours / loop - 1), 1),
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
