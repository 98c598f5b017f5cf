"""``sweeplab`` command line: sweep, leaderboard, data.

Bad input (sweep file, data, options) is reported as one line on stderr with exit code 2, before any run is
opened. Heavy imports (TensorFlow, MLflow) happen inside the commands that need them.
"""

from __future__ import annotations

import argparse
import os
import sys

from sweeplab import data
from sweeplab.errors import SweepLabError


def main(argv: list[str] | None = None) -> int:
    # TensorFlow logs a spurious C++ error per fit (a tf.data attribute mismatch) between our progress lines.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args) or 0
    except SweepLabError as exc:
        print(f"sweeplab: error: {exc}", file=sys.stderr)
        return SweepLabError.exit_code
    except KeyboardInterrupt:
        print("sweeplab: interrupted; the open runs were closed as KILLED", file=sys.stderr)
        return 130
    except Exception as exc:
        exit_code = getattr(exc, "exit_code", None)
        if exit_code is None:
            raise
        print(f"sweeplab: error: {exc}", file=sys.stderr)
        return exit_code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sweeplab", description="Hyperparameter sweeps for Keras text classifiers.")
    commands = parser.add_subparsers(dest="command", required=True)

    sweep = commands.add_parser("sweep", help="run a sweep and log every trial to MLflow")
    sweep.add_argument("space", metavar="SPACE", help="a sweep name in sweeps/ or a path to a YAML file")
    sweep.add_argument("--source", action="append", choices=[*data.SOURCES, data.POOLED],
                       help="run on this source instead of the sweep's sources (repeatable)")
    sweep.add_argument("--data", metavar="PATH", help="your own CSV, TSV or JSONL file instead of the UCI sources")
    sweep.add_argument("--text-col", default="text", help="text column of --data (default: text)")
    sweep.add_argument("--label-col", default="label", help="label column of --data (default: label)")
    sweep.add_argument("--engine", help="override the sweep file's engine (random, grid)")
    sweep.add_argument("--trials", type=int, help="override the number of trials")
    sweep.add_argument("--folds", type=int, help="override the number of CV folds")
    sweep.add_argument("--epochs", type=int, help="override the epochs per fit")
    sweep.add_argument("--seed", type=int, help="override the seed (split, folds, sampling, weights)")
    sweep.add_argument("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI or mlruns/mlflow.db)")
    sweep.set_defaults(handler=cmd_sweep)

    board = commands.add_parser("leaderboard", help="best trials per source, read back from MLflow")
    board.add_argument("--sweep", help="only this sweep")
    board.add_argument("--source", help="only this source (or data file stem)")
    board.add_argument("--top", type=int, default=5, help="trials shown per source (default: 5)")
    board.add_argument("--format", choices=("table", "csv", "json"), default="table")
    board.add_argument("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI or mlruns/mlflow.db)")
    board.set_defaults(handler=cmd_leaderboard)

    fetch = commands.add_parser("data", help="fetch and verify the UCI Sentiment Labelled Sentences files")
    fetch.add_argument("--check", action="store_true", help="only report whether the files are present and intact")
    fetch.set_defaults(handler=cmd_data)
    return parser


def cmd_sweep(args) -> int:
    from sweeplab import space
    from sweeplab import sweep as runner
    from sweeplab.progress import Progress
    from sweeplab.tracking import Tracker

    if args.data and args.source:
        raise SweepLabError("--data and --source both given: use one")
    if not args.data and (args.text_col, args.label_col) != ("text", "label"):
        raise SweepLabError("--text-col and --label-col apply to --data only")
    sweep = space.load(args.space).override(
        engine=args.engine, trials=args.trials, folds=args.folds, epochs=args.epochs, seed=args.seed,
        sources=args.source,
    )
    splits = runner.prepare(sweep, runner.load_datasets(sweep, args.data, args.text_col, args.label_col))
    tracker = Tracker(args.tracking_uri)
    results = runner.run(sweep, splits, tracker, Progress())
    print(f"{'source':<10} {'best cv':>15} {'test':>6} {'bow test':>8} {'lift':>7}")
    for r in results:
        print(f"{r.source:<10} {r.best.mean:>7.3f} ± {r.best.std:.3f} {r.test_score:>6.3f} "
              f"{r.baseline.test_score:>8.3f} {r.test_score - r.baseline.test_score:>+7.3f}")
    print(f"logged to {tracker.uri} (experiment '{sweep.name}'); compare with 'sweeplab leaderboard' or 'make ui'")
    return 0


def cmd_leaderboard(args) -> int:
    from sweeplab import leaderboard
    from sweeplab.tracking import Tracker

    if args.top < 1:
        raise SweepLabError(f"--top must be at least 1, got {args.top}")
    frame = leaderboard.collect(Tracker(args.tracking_uri), sweep=args.sweep, source=args.source)
    print(leaderboard.render(leaderboard.rank(frame, args.top), args.format))
    return 0


def cmd_data(args) -> int:
    directory = data.default_data_dir()
    if args.check:
        status = data.check(directory)
        for name, state in status.items():
            print(f"{directory / name}: {state}")
        return 0 if all(state == "ok" for state in status.values()) else 1
    mirror = os.environ.get("SWEEPLAB_DATA_MIRROR") or None
    data.fetch(directory, mirror=mirror)
    for name in data.SOURCES:
        dataset = data.load(name, directory)
        record = dataset.integrity
        print(f"{name}: {record['rows']} rows {record['class_counts']} sha256 {record['sha256'][:12]}… ok")
    print(f"data in {directory}: all files verified")
    return 0
