"""Keras 3 on JAX against TensorFlow: the same trials through sweeplab's fold loop, each backend in its own
process (Keras picks its backend once, at import).

Each side runs the same configurations (the tutorial's CNN at batch size 32, and ``fast``'s embedding model) over
4 folds on yelp and reports its wall time, the import of the backend excluded and reported apart, and the CV
accuracy it reached. Sides alternate; medians of ``--repeats`` runs. Needs the ``jax`` extra
(``pip install -e '.[bench]'``); without it the bench says so and records nothing.

    python bench/backends.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

from common import alternate, median, say, write

CONFIGS = [
    ("cnn", {"num_filters": 64, "kernel_size": 5, "embedding_dim": 50, "maxlen": 100, "epochs": 5, "batch_size": 32}),
    ("embedding_pool", {"embedding_dim": 64, "dense_units": 16, "dropout": 0.2, "learning_rate": 0.005,
                        "maxlen_percentile": 95, "epochs": 8, "batch_size": 32}),
]


def child() -> None:
    """Runs in the backend's own process; prints one JSON line. Both backends train with Keras's own ``fit`` on
    padded arrays: sweeplab's fold loop is TensorFlow's (tf.data batches, tf.function forward passes), so what
    this answers is whether Keras on JAX runs sweeplab's models faster than on TensorFlow, loop for loop."""
    started = time.perf_counter()
    import keras
    import numpy as np

    from sweeplab import data
    from sweeplab.config.parse import parse_sweep as parse
    from sweeplab.modeling import factories
    from sweeplab.modeling.vectorize import SequenceVectorizer
    from sweeplab.search import runner

    imported = time.perf_counter() - started
    sweep = parse({"name": "backends", "model": "cnn", "folds": 4, "seed": 1000, "space": {"maxlen": 100}},
                  "bench/backends.py")
    [split] = runner.prepare(sweep, [data.load_source("yelp")])
    texts, labels = np.asarray(split.X_train, dtype=object), np.asarray(split.y_train).astype("int32")
    trials = []
    for model, params in CONFIGS:
        settings = dict(params)
        fit = {name: settings.pop(name) for name in ("epochs", "batch_size")}
        shape = {name: settings.pop(name) for name in ("maxlen", "maxlen_percentile") if name in settings}
        started, scores = time.perf_counter(), []
        for train, test in runner.folds_of(sweep).split(texts, labels):
            keras.utils.set_random_seed(sweep.seed)
            vectorizer = SequenceVectorizer(**shape).fit(texts[train])
            X_train, X_test = (vectorizer.transform(texts[rows]).astype("int32") for rows in (train, test))
            meta = {"vocab_size_": vectorizer.capacity_, "X_shape_": X_train.shape, "n_classes_": 2}
            network = getattr(factories, model)(meta, **settings)
            network.fit(X_train, labels[train], verbose=0, **fit)
            scores.append(network.evaluate(X_test, labels[test], verbose=0)[1])
        trials.append({"model": model, "seconds": round(time.perf_counter() - started, 2),
                       "cv_accuracy": round(float(np.mean(scores)), 4)})
    print(json.dumps({"backend": keras.backend.backend(), "import_s": round(imported, 2),
                      "trials_s": round(sum(t["seconds"] for t in trials), 2), "trials": trials}))


def side(backend: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child"], capture_output=True, text=True, check=True,
                          env={**os.environ, "KERAS_BACKEND": backend})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
        return 0
    if importlib.util.find_spec("jax") is None:
        say("jax is not installed (pip install -e '.[bench]'): skipping the backend comparison")
        return 0
    runs = alternate({"tensorflow": lambda: side("tensorflow"), "jax": lambda: side("jax")}, args.repeats)
    tf_s, jax_s = median(runs["tensorflow"], "trials_s"), median(runs["jax"], "trials_s")
    write("backends", {
        "configs": dict(CONFIGS), "repeats": args.repeats, "runs": runs,
        "tensorflow_trials_median_s": tf_s, "jax_trials_median_s": jax_s,
        "tensorflow_import_median_s": median(runs["tensorflow"], "import_s"),
        "jax_import_median_s": median(runs["jax"], "import_s"),
        "jax_speedup": round(tf_s / jax_s, 2),
        "same_accuracy": [a["cv_accuracy"] for a in runs["tensorflow"][0]["trials"]] ==
                         [b["cv_accuracy"] for b in runs["jax"][0]["trials"]],
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
