"""Fused trials against trials trained one by one: trials per hour of the same sweep, and whether the scores agree.

Each side is ``sweep.run`` of one built-in sweep on one source, on fresh stores, in this process: ``fuse: 1``
(every trial alone) against ``fuse: N`` (up to N trials whose models share a batch stream as one fused Keras
model, :mod:`sweeplab.modeling.fused`). A side's rate is its trials over the span from the first trial's start to
the last one's end, so the baseline and the refit are left out. Sides alternate; medians of ``--repeats`` runs.

With random or grid the two sides train the same candidates, so their fold scores are compared trial by trial
(equal to the last digit where the members' padding margins are equal; close where a narrower convolution
shares the widest one's padding). Optuna's fused side asks for N trials before it tells any, so its sampler
proposes from less feedback: the trials differ, and its best CV is reported beside the rate.

Each side also gives the arithmetic its trials needed (``common.cv_flops``, each trial's folds for the epochs
they trained; a pruned member's ride-along epochs in a fused group are waste and not counted) per second of its
span, as a share of this machine's peak (``peak_flops``, measured in the same run).

    python bench/fused.py [--spaces cnn_grid fast] [--source yelp] [--fuse 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from common import alternate, cv_flops, fold_epochs, median, peak_flops, queue, say, write


def one_sweep(sweep, split, fuse: int, tmp: Path, made: list) -> dict:
    from sweeplab.search import runner
    from sweeplab.search.progress import Progress
    from sweeplab.tracking import Tracker

    class Span(Progress):
        def __init__(self):
            super().__init__(stream=open(os.devnull, "w"))
            self.first, self.last = None, None

        def trial_started(self, number, params):
            self.first = self.first or time.perf_counter()

        def trial_finished(self, trial):
            self.last = time.perf_counter()

    made.append(1)
    where = tmp / f"run{len(made)}"
    where.mkdir()
    span = Span()
    [result] = runner.run(sweep.override(fuse=fuse), [split], Tracker(f"sqlite:///{where / 'mlflow.db'}"), span,
                          queue(sweep, where))
    seconds = span.last - span.first
    splits = list(runner.folds_of(sweep).split(split.X_train, split.y_train))
    work = sum(cv_flops(sweep, t.params, split.X_train, split.y_train, splits, fold_epochs(sweep, t))
               for t in result.trials if t.reused_from is None)
    return {"trials": len(result.trials), "search_span_s": round(seconds, 1), "gflop": round(work / 1e9, 1),
            "trials_per_hour": round(3600 * len(result.trials) / seconds),
            "best_cv": round(result.best.mean, 4), "pruned": sum(t.state == "PRUNED" for t in result.trials),
            "fold_scores": {t.number: list(t.fold_scores) for t in result.trials}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", nargs="+", default=["cnn_grid", "fast"])
    parser.add_argument("--source", default="yelp")
    parser.add_argument("--fuse", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from sweeplab import config, data
    from sweeplab.search import runner

    peak = peak_flops()
    spaces, per_run = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        made = []
        for name in args.spaces:
            say(f"== {name} on {args.source}")
            sweep = config.load_sweep(name)
            [split] = runner.prepare(sweep, [data.load_source(args.source)])
            runs = alternate({"alone": lambda: one_sweep(sweep, split, 1, Path(tmp), made),
                              "fused": lambda: one_sweep(sweep, split, args.fuse, Path(tmp), made)}, args.repeats)
            alone, fused = runs["alone"], runs["fused"]
            per_run.append(runs)
            rates = [f["trials_per_hour"] / a["trials_per_hour"] for a, f in zip(alone, fused)]
            same_trials = sweep.engine != "optuna"
            differences = [abs(x - y) for a, f in zip(alone, fused) for n in a["fold_scores"]
                           for x, y in zip(a["fold_scores"][n], f["fold_scores"][n])] if same_trials else []
            spaces[name] = {
                "engine": sweep.engine, "trials": sweep.trials, "fuse": args.fuse, "runs": runs,
                "trials_per_hour_alone": median(alone, "trials_per_hour"),
                "trials_per_hour_fused": median(fused, "trials_per_hour"),
                "ratio": round(median(fused, "trials_per_hour") / median(alone, "trials_per_hour"), 2),
                "ratio_per_pair": [round(r, 2) for r in rates],
                "best_cv": {"alone": median(alone, "best_cv"), "fused": median(fused, "best_cv")},
                "largest_fold_score_difference": round(max(differences), 4) if differences else None,
            }
    # Measured again at the end, the higher one kept: a slower peak is the machine being busy, not its limit.
    peak = max(peak, peak_flops())
    for name, runs in zip(spaces, per_run):
        for found in runs.values():
            for run in found:
                run["percent_of_peak"] = round(100 * run["gflop"] * 1e9 / run["search_span_s"] / peak, 2)
        spaces[name]["percent_of_peak"] = {side: median(found, "percent_of_peak") for side, found in runs.items()}
    write("fused", {"source": args.source, "repeats": args.repeats, "peak_gflops": round(peak / 1e9, 1),
                    "spaces": spaces})
    return 0


if __name__ == "__main__":
    sys.exit(main())
