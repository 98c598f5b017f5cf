"""What the benches share: quiet imports, the machine they ran on, alternating sides, medians, ratios, results.

Absolute times on a shared 2-core machine are noise, so a comparison runs both sides in one invocation, in
alternating order (A B, then B A, ...), several times, and reports medians and their ratio.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

RESULTS = Path(__file__).with_name("results")
# The tutorial's model trains as plain scikeras does: every batch padded to maxlen, one training step per call.
PLAIN_SCIKERAS = {"clf__trim_padding": False, "clf__steps_per_execution": 1}
ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")
# What `sweeplab sweep` sets before TensorFlow loads (oneDNN off, among others): a bench that calls the runner
# in-process measures what a user's sweep runs, not TensorFlow's defaults.
from sweeplab import runtime  # noqa: E402

runtime.configure(keras=False)  # backends.py runs Keras on JAX on purpose


def queue(sweep, directory: Path):
    """The queue a sweep's trials go through, its storage in ``directory`` (beside the bench's MLflow store)."""
    from sweeplab import engines
    from sweeplab.search.queue import Queue

    return Queue(engines.get(sweep.engine)(), local_dir=directory)


def machine() -> dict:
    from sweeplab import versions

    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
            "machine": platform.machine(),
            **{name: versions.current().get(name)
               for name in ("sweeplab", "tensorflow-cpu", "keras", "mlflow", "optuna")}}


def _cpu_model() -> str:
    """The processor, as the kernel names it (another CPU gives other digits and other times)."""
    try:
        with open("/proc/cpuinfo") as info:
            return next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    except OSError:
        return platform.processor()


def alternate(sides: dict[str, Callable[[], dict | None]], repeats: int) -> dict[str, list[dict]]:
    """Run every side once per repeat, the order reversed on every other repeat; each run gives
    ``{"wall_s": ..., **what the side returned}``."""
    runs = {name: [] for name in sides}
    order = list(sides)
    for repeat in range(repeats):
        for name in order if repeat % 2 == 0 else reversed(order):
            started = time.perf_counter()
            extra = sides[name]() or {}
            runs[name].append({"wall_s": round(time.perf_counter() - started, 3), **extra})
            say(f"  repeat {repeat + 1}/{repeats} {name}: {runs[name][-1]['wall_s']:.2f} s")
    return runs


def median(runs: list[dict], key: str = "wall_s") -> float:
    return round(statistics.median(run[key] for run in runs), 3)


def rss_mb() -> float:
    """This process's resident memory now, in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB: the kernel's high-water mark of its own address space
    (VmHWM). Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries the parent's high-water mark over into a
    child at exec, so a child of a bench that holds TensorFlow and a 50,000-row frame (1.04 GB) reported at least
    that whatever it did."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1000  # kB


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def write(name: str, result: dict) -> dict:
    """bench/results/<name>.json: the result, the command that made it and the machine."""
    result = {"bench": name, "command": " ".join([Path(sys.executable).name, *sys.argv]), **result,
              "machine": machine(), "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


def peak_flops(size: int = 1024, seconds: float = 3.0, dtype: str = "float32") -> float:
    """This machine's arithmetic rate at its best in ``dtype``, in FLOP/s: square matrix products through
    TensorFlow (all its threads), the fastest of repeated timings. A large matmul is the densest work TensorFlow
    does on a CPU, so no model's training gets closer: "x % of peak" measures against what is reachable, not a
    datasheet. bfloat16 runs at its rate only through oneDNN (``TF_ENABLE_ONEDNN_OPTS=1`` before TensorFlow loads)."""
    import tensorflow as tf

    a, b = (tf.cast(tf.random.uniform((size, size), seed=seed), dtype) for seed in (1, 2))
    # Several products per call, so Python's dispatch is a sliver of what is timed.
    products = tf.function(lambda a, b: [tf.reduce_sum(tf.matmul(a + i, b)) for i in range(8)])
    products(a, b)
    best, deadline = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < deadline or best == float("inf"):
        started = time.perf_counter()
        [p.numpy() for p in products(a, b)]
        best = min(best, time.perf_counter() - started)
    return 8 * 2 * size**3 / best


def cv_flops(sweep, params: dict, X, y, splits, epochs: list | None = None, trim: bool = True) -> float:
    """The arithmetic of one configuration's cross-validation (:mod:`sweeplab.modeling.flops`): per fold, its
    training epochs on the fold's training part and, after each, one scoring pass over its validation part.
    ``epochs``: the epochs each fold trained (a pruned trial's last fold, fewer; a fold it never reached, 0);
    default: the configuration's ``epochs`` for every fold (the fold's closing measures reuse its last scoring
    pass). Builds each fold's model without training it."""
    from sweeplab.modeling import flops, pipeline

    total = 0.0
    for fold, (train, valid) in enumerate(splits):
        trained = epochs[fold] if epochs is not None else None
        if trained == 0:
            continue
        pipe = pipeline.for_sweep(sweep, params)
        vectorizer, classifier = pipe.named_steps["vectorize"], pipe.named_steps["clf"]
        X_train, _ = classifier.prepare(vectorizer.fit_transform(X[train]), y[train])
        trained = classifier.epochs if trained is None else trained
        total += flops.training_flops(classifier.model_, X_train, classifier.batch_size, trained, trim,
                                      classifier.buckets, multiple=classifier.pad_to_multiple_of)
        total += trained * flops.prediction_flops(classifier.model_, vectorizer.transform(X[valid]), trim,
                                                  classifier.pad_to_multiple_of)
    return total


def fold_epochs(sweep, trial) -> list[int]:
    """The epochs each of a trial's folds trained, for :func:`cv_flops`: a finished fold its ``epochs`` (with
    early stopping, its chosen epoch plus the patience it waited); a pruned trial's last fold the epochs its
    pruner's note names ("pruned at fold 2 epoch 3 ..."); the folds after it none."""
    import re

    from sweeplab.modeling import pipeline
    from sweeplab.modeling.defaults import CV_DEFAULTS, FIT_DEFAULTS

    params = {**FIT_DEFAULTS, **CV_DEFAULTS, **sweep.fixed(sweep.model_of(trial.params)), **trial.params}
    budget, patience, folds = int(params["epochs"]), int(params["patience"]), sweep.splits
    found = [min(budget, int(m[pipeline.CHOSEN_EPOCHS]) + patience) if m.get(pipeline.CHOSEN_EPOCHS) else budget
             for m in trial.fold_measures]
    stopped = re.search(r"fold (\d+) epoch (\d+)", trial.note or "")
    if stopped and int(stopped.group(1)) == len(found) + 1:
        found.append(int(stopped.group(2)))
    return (found + [0] * folds)[:folds]
