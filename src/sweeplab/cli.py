"""``sweeplab`` command line: sweep, worker, leaderboard, data.

Bad input (sweep file, data, options) is reported as one line on stderr with exit code 2, before any run is
opened. Heavy imports (TensorFlow, MLflow) happen inside the commands that need them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from sweeplab import data, engines
from sweeplab.errors import SweepLabError


def main(argv: list[str] | None = None) -> int:
    # TensorFlow logs a spurious C++ error per fit (a tf.data attribute mismatch) between our progress lines.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # Every trial builds a new model, so TensorFlow's "retracing" warnings are expected, not a problem.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
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
    optuna = sweep.add_argument_group("engine optuna")
    optuna.add_argument("--storage", help="Optuna storage URL or journal file (default: mlruns/optuna.db)")
    optuna.add_argument("--fresh", action="store_true", help="delete the sweep's studies and start over")
    optuna.add_argument("--workers", type=int, default=1, help="processes sharing each study (default: 1)")
    optuna.add_argument("--heartbeat", type=int, default=30,
                        help="seconds between trial heartbeats; a trial silent for twice that is retried")
    sweep.set_defaults(handler=cmd_sweep)

    worker = commands.add_parser("worker", help="join a running optuna sweep from this process or machine")
    worker.add_argument("space", metavar="SPACE", help="the sweep's name (or its YAML file)")
    worker.add_argument("--storage", required=True, help="the Optuna storage the sweep uses")
    worker.add_argument("--dataset", help="only the study of this source or data file stem")
    worker.add_argument("--tracking-uri", help="the MLflow store the sweep logs to")
    worker.add_argument("--heartbeat", type=int, default=30, help="seconds between trial heartbeats")
    worker.add_argument("--worker-index", type=int, default=1, help="seeds this worker's sampler (default: 1)")
    worker.add_argument("--workers", type=int, default=2, help="workers in all, for the sampler (default: 2)")
    worker.set_defaults(handler=cmd_worker)

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
    optuna_options = {"storage": args.storage, "fresh": args.fresh, "workers": args.workers,
                      "heartbeat": args.heartbeat}
    _check_optuna_options(sweep, args)
    splits = runner.prepare(sweep, runner.load_datasets(sweep, args.data, args.text_col, args.label_col))
    tracker = Tracker(args.tracking_uri)
    engine = engines.get(sweep.engine, **optuna_options, local_dir=tracker.local_dir())
    _share_cores(args.workers)
    results = runner.run(sweep, splits, tracker, Progress(), engine, worker_args=["--tracking-uri", tracker.uri])
    print(f"{'source':<10} {'best cv':>15} {'test':>6} {'bow test':>8} {'lift':>7}")
    for r in results:
        print(f"{r.source:<10} {r.best.mean:>7.3f} ± {r.best.std:.3f} {r.test_score:>6.3f} "
              f"{r.baseline.test_score:>8.3f} {r.test_score - r.baseline.test_score:>+7.3f}")
    print(f"logged to {tracker.uri} (experiment '{sweep.name}'); compare with 'sweeplab leaderboard' or 'make ui'")
    return 0


def _check_optuna_options(sweep, args) -> None:
    if sweep.engine != "optuna":
        given = [f"--{name}" for name in ("storage", "fresh") if getattr(args, name)]
        given += ["--workers"] if args.workers != 1 else []
        if given:
            raise SweepLabError(f"{', '.join(given)} need engine optuna (this sweep uses {sweep.engine})")
    if args.workers < 1 or args.heartbeat < 1:
        raise SweepLabError("--workers and --heartbeat must be at least 1")


def _share_cores(workers: int) -> None:
    """Each of N worker processes gets its share of the cores, instead of all of them fighting over every core."""
    if workers > 1:
        share = max(1, (os.cpu_count() or 1) // workers)
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(share))
        os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")


def cmd_worker(args) -> int:
    from sweeplab import space
    from sweeplab import sweep as runner
    from sweeplab.engines.optuna_search import OptunaEngine
    from sweeplab.progress import Progress
    from sweeplab.tracking import Tracker

    name = space.load(args.space).name if args.space.endswith((".yaml", ".yml")) else args.space
    _share_cores(args.workers)
    engine = OptunaEngine(storage=args.storage, heartbeat=args.heartbeat, workers=args.workers,
                          worker_index=args.worker_index)
    studies = engine.joinable(name, args.dataset)
    if not studies:
        raise SweepLabError(f"no study of sweep '{name}' in {args.storage}: start it with 'sweeplab sweep'")
    tracker = Tracker(args.tracking_uri)
    for resolved, reference in studies:
        sweep = space.parse(resolved, f"study of {name}")
        split = runner.prepare(sweep, [data.load_reference(reference)])[0]
        runner.join(engine, sweep, split, tracker, Progress(prefix=f"(worker {args.worker_index}) "))
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
