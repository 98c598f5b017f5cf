"""A 100-trial sweep in one process: time per trial and resident memory at trial 10 against trial 100.

Optuna engine, random sampler, no pruning, a small CNN over 2 folds x 2 epochs on yelp, a real SQLite MLflow store
and Optuna storage. A leak of Keras graphs, sessions or MLflow clients shows as memory or time per trial that
grows with the trial count. Target (issue 6): no growth over 10 % between trial 10 and trial 100, in either.
Times per trial are medians over the 10 trials up to each point, so one slow trial does not decide.

    python bench/scaling.py [--trials 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import queue, rss_mb, say, write

SPEC = {
    "name": "scaling", "model": "cnn", "engine": "optuna", "sources": ["yelp"], "folds": 2, "seed": 1000,
    "sampler": "random", "pruner": "none", "fit": {"epochs": 2, "batch_size": 32},
    # New weights every trial, but few shapes: trials at 10 and at 100 then cost the same when nothing leaks.
    "space": {"num_filters": [16, 32], "kernel_size": [3, 5], "learning_rate": {"low": 1e-3, "high": 1e-2},
              "dropout": {"low": 0.0, "high": 0.5}, "embedding_dim": 32, "maxlen": 40, "max_words": 3000},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    args = parser.parse_args()
    from sweeplab import config, data
    from sweeplab.search import runner
    from sweeplab.search.progress import Progress
    from sweeplab.tracking import Tracker

    class Meter(Progress):
        def __init__(self):
            super().__init__(stream=open(os.devnull, "w"))
            self.last, self.points = time.perf_counter(), []

        def trial_finished(self, trial):
            now = time.perf_counter()
            self.points.append({"trial": len(self.points) + 1, "seconds": round(now - self.last, 3),
                                "rss_mb": round(rss_mb(), 1)})
            self.last = now
            if len(self.points) % 10 == 0:
                say(f"  trial {len(self.points)}: {self.points[-1]['seconds']:.2f} s, {self.points[-1]['rss_mb']:.0f} MB")

    sweep = config.parse_sweep({**SPEC, "trials": args.trials}, "bench/scaling.py")
    splits = runner.prepare(sweep, [data.load_source("yelp")])
    meter = Meter()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        runner.run(sweep, splits, Tracker(f"sqlite:///{Path(tmp) / 'mlflow.db'}"), meter,
                   queue(sweep, Path(tmp)))
        wall = time.perf_counter() - started
    points = meter.points
    early, late = points[:10], points[-10:]
    time_early = statistics.median(p["seconds"] for p in early[1:])  # the first trial pays for imports and tracing
    time_late = statistics.median(p["seconds"] for p in late)
    rss_early, rss_late = early[-1]["rss_mb"], late[-1]["rss_mb"]
    write("scaling", {
        "trials": len(points), "sweep_wall_s": round(wall, 1),
        "trial_s_median_at_10": round(time_early, 3), "trial_s_median_at_100": round(time_late, 3),
        "trial_time_growth_pct": round(100 * (time_late / time_early - 1), 1),
        "rss_mb_at_10": rss_early, "rss_mb_at_100": rss_late,
        "rss_growth_pct": round(100 * (rss_late / rss_early - 1), 1), "target_growth_pct": 10.0,
        "points": points,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
