"""What each speed lever of the trainer is worth on a cnn_grid trial (4 folds x 20 epochs, batch 10, maxlen 100):
the same fold loop and folds, three ways, alternating, ``--repeats`` times (default 3):

- ``full, 1 step/call``: every batch padded to ``maxlen``, one training step per TensorFlow call (plain scikeras);
- ``cut, 1 step/call``: batches cut to the padding the model needs (``KerasTextClassifier.trim_padding``);
- ``cut, 1 epoch/call``: and a whole epoch of training steps per call (``steps_per_execution`` 0), sweeplab's
  default.

For the smallest and the largest configuration of the grid (32 filters x kernel 3, 128 x 7), on one source.
Each side also gives the arithmetic it did (``common.cv_flops``: full padding does more) and that arithmetic per
second as a share of this machine's peak, measured by a matmul micro-bench in the same run (``peak_flops``).

    python bench/levers.py [--source yelp] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys

from common import alternate, cv_flops, median, peak_flops, say, write

SIDES = {"full, 1 step/call": {"trim_padding": False, "steps_per_execution": 1},
         "cut, 1 step/call": {"trim_padding": True, "steps_per_execution": 1},
         "cut, 1 epoch/call": {"trim_padding": True, "steps_per_execution": 0}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="yelp")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from sweeplab import config, data
    from sweeplab.modeling import pipeline
    from sweeplab.search import runner
    from sweeplab.search.folds import cross_validate

    sweep = config.load_sweep("cnn_grid")
    [split] = runner.prepare(sweep, [data.load_source(args.source)])
    splits = list(runner.folds_of(sweep).split(split.X_train, split.y_train))
    peak = peak_flops()
    configurations = {}
    for filters, kernel in ((32, 3), (128, 7)):
        params = {**sweep.fixed(), "num_filters": filters, "kernel_size": kernel}
        say(f"== {filters} filters, kernel {kernel}")

        def side(settings, params=params):
            def run():
                def make():
                    return pipeline.for_sweep(sweep, params).set_params(
                        **{f"clf__{k}": v for k, v in settings.items()})

                folds = cross_validate(make, split.X_train, split.y_train, runner.folds_of(sweep))
                return {"fold_scores": [round(s, 4) for s in folds.scores]}
            return run

        runs = alternate({name: side(settings) for name, settings in SIDES.items()}, args.repeats)
        base = median(runs["full, 1 step/call"])
        work = {trim: cv_flops(sweep, params, split.X_train, split.y_train, splits, trim=trim)
                for trim in (False, True)}
        configurations[f"{filters}x{kernel}"] = {
            name: {"median_s": median(found), "speedup": round(base / median(found), 2),
                   "spread_s": [min(r["wall_s"] for r in found), max(r["wall_s"] for r in found)],
                   "fold_scores": found[0]["fold_scores"], "gflop": round(work[SIDES[name]["trim_padding"]] / 1e9, 2)}
            for name, found in runs.items()}
    # Measured again at the end, the higher one kept: a slower peak is the machine being busy, not its limit.
    peak = max(peak, peak_flops())
    for sides in configurations.values():
        for side in sides.values():
            side["percent_of_peak"] = round(100 * side["gflop"] * 1e9 / side["median_s"] / peak, 2)
    write("levers", {"source": args.source, "repeats": args.repeats, "peak_gflops": round(peak / 1e9, 1),
                     "configurations": configurations})
    return 0


if __name__ == "__main__":
    sys.exit(main())
