"""``sweeplab`` command line: the parser, and how every command ends (exit codes, stop signals).

Bad input (sweep file, data, options) is reported as one line on stderr with exit code 2, before any run is
opened. Each command is a thin layer over :mod:`sweeplab.api`; heavy imports (TensorFlow, MLflow) happen inside
the commands that need them."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from sweeplab import __version__, data, errors
from sweeplab.cli.models import cmd_predict, cmd_retrain, cmd_serve
from sweeplab.cli.results import cmd_compare, cmd_export, cmd_leaderboard, cmd_report
from sweeplab.cli.store import cmd_data, cmd_store
from sweeplab.cli.sweeps import cmd_list, cmd_show, cmd_sweep, cmd_worker
from sweeplab.config.parse import SELECT_RULES
from sweeplab.errors import OptionError, SweepLabError
from sweeplab.modeling.metrics import METRICS


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    errors.INTERRUPTED.clear()
    in_main_thread = threading.current_thread() is threading.main_thread()
    # A signal the caller ignores stays ignored: nohup ignores SIGHUP, a shell's background job SIGINT.
    previous = {signum: signal.signal(signum, errors.interrupt) for signum in errors.STOP_SIGNALS
                if signal.getsignal(signum) is not signal.SIG_IGN} if in_main_thread else {}
    try:
        code = _dispatch(args)
    except BrokenPipeError:
        code = _reader_gone()
    finally:
        late = _put_back(previous)
        if errors.INTERRUPTED.is_set():
            _forget_interrupt_in_c()
    return errors.stop_status() if late else code


def _dispatch(args) -> int:
    """Run the command; its errors and stops become one line and an exit status."""
    try:
        code = args.handler(args) or 0
        if errors.INTERRUPTED.is_set():
            # The stop's KeyboardInterrupt was lost: raised inside a weakref callback or a __del__ (SQLAlchemy's pool
            # has them), Python prints "Exception ignored" and goes on. The user still asked to stop.
            print(f"sweeplab: {_stopped()}", file=sys.stderr)
            return errors.stop_status()
        return code
    except SweepLabError as exc:
        shown = exc.as_flags(getattr(args, "positionals", None)) if isinstance(exc, OptionError) else exc
        print(f"sweeplab: error: {shown}", file=sys.stderr)
        return SweepLabError.exit_code
    except KeyboardInterrupt:
        closed = "; the open runs were closed as KILLED" if getattr(args, "opens_runs", False) else ""
        print(f"sweeplab: {_stopped()}{closed}", file=sys.stderr)
        return errors.stop_status()
    except Exception as exc:
        full = errors.disk_full(exc)
        if full is not None:
            print(f"sweeplab: error: the disk a store or an output is on is full ({full}, in {type(exc).__name__}): "
                  "free space and run the same command again (finished trials are kept and reused; runs left "
                  "RUNNING are closed by the next sweep)", file=sys.stderr)
            return 1
        if errors.INTERRUPTED.is_set():
            # After Ctrl-C, cleanup code may fail in turn (a store busy with a stopping worker's last writes) and
            # replace the KeyboardInterrupt: the user still asked to stop, and that is how the command ends.
            print(f"sweeplab: {_stopped()} ({type(exc).__name__} while stopping: {errors.first_line(exc)})",
                  file=sys.stderr)
            return errors.stop_status()
        exit_code = getattr(exc, "exit_code", None)
        if exit_code is None:
            raise
        print(f"sweeplab: error: {exc}", file=sys.stderr)
        return exit_code


def _reader_gone() -> int:
    """What stdout was piped to stopped reading (``sweeplab leaderboard | head``): end quietly, as a Unix tool
    killed by SIGPIPE does, rather than with a traceback (and another one when Python flushes stdout at exit)."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 128 + signal.SIGPIPE


def _put_back(previous: dict) -> bool:
    """Put the caller's signal handlers back. A stop signal that lands meanwhile still finds sweeplab's handler
    on its signal and raises KeyboardInterrupt here, after the command is done (it once escaped, and the process
    died of SIGINT instead of ending with 128 + the signal): every handler still goes back, and True says the
    command ends as stopped."""
    late = False
    for signum, handler in previous.items():
        while True:
            try:
                signal.signal(signum, handler)
                break
            except KeyboardInterrupt:
                late = True
    return late


def _forget_interrupt_in_c() -> None:
    """CPython 3.11 remembers a KeyboardInterrupt that passed through Python source run from C (``PyRun_String``:
    optree and TensorFlow's pybind11 code do it inside every fit) and, when ``python -m`` ends, replaces the exit
    status with death by SIGINT, although the interrupt was handled (CPython gh-128130): a stopped sweep or its
    workers then ended as -2 instead of 143, about one stop in 25. Running empty source through the same C path
    clears the mark."""
    import ctypes

    ctypes.pythonapi.PyRun_SimpleString(b"")


def _stopped() -> str:
    return "interrupted" if errors.INTERRUPTED.signum == signal.SIGINT else f"stopped by {errors.stop_name()}"


def _positional(command, dest: str, metavar: str, **options) -> None:
    """A positional argument, whose METAVAR an option's error names (``SWEEP: expected a name ...``)."""
    command.add_argument(dest, metavar=metavar, **options)
    command.set_defaults(positionals={**(command.get_default("positionals") or {}), dest: metavar})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sweeplab", description="Hyperparameter sweeps for Keras text classifiers.")
    parser.add_argument("--version", action="version", version=f"sweeplab {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    sweep = commands.add_parser("sweep", help="run a sweep and log every trial to MLflow")
    _positional(sweep, "space", metavar="SPACE", help="a sweep's name (see 'sweeplab list') or a YAML file's path")
    sweep.add_argument("--source", action="append", choices=[*data.SOURCES, data.POOLED],
                       help="run on this source instead of the sweep's sources (repeatable)")
    sweep.add_argument("--data", metavar="PATH", help="your own CSV, TSV or JSONL file instead of the UCI sources")
    sweep.add_argument("--text-col", default="text", help="text column of --data (default: text)")
    sweep.add_argument("--label-col", default="label", help="label column of --data (default: label)")
    sweep.add_argument("--engine", help="override the sweep file's engine (random, grid, optuna, or an installed "
                                        "one)")
    sweep.add_argument("--trials", type=int, help="override the number of trials")
    sweep.add_argument("--folds", type=int, help="override the number of CV folds")
    sweep.add_argument("--epochs", type=int, help="override the epochs per fit")
    sweep.add_argument("--seed", type=int, help="override the seed (split, folds, sampling, weights)")
    sweep.add_argument("--nested", type=int, metavar="K",
                       help="also estimate the whole search by nested CV with K outer folds (K times the search)")
    sweep.add_argument("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI or mlruns/mlflow.db)")
    queue = sweep.add_argument_group("the queue of trials, for every engine")
    queue.add_argument("--storage", help="where the queue lives: an Optuna storage URL (postgresql://... for "
                                         "several machines) or journal file (default: mlruns/optuna.db)")
    sweep.add_argument("--fresh", action="store_true",
                       help="train every trial even when the store has it finished (optuna: and start new studies)")
    sweep.add_argument("--dry-run", action="store_true",
                       help="say what would train, what the store already has, and how long it would take; "
                            "train, log and create nothing")
    queue.add_argument("--workers", type=int, default=1,
                       help="processes taking trials from the queue, this one included (default: 1)")
    queue.add_argument("--heartbeat", type=int, default=30,
                       help="seconds between trial heartbeats; a trial silent for twice that is retried")
    sweep.set_defaults(handler=cmd_sweep, opens_runs=True)

    worker = commands.add_parser("worker", help="join a running sweep's queue from this process or machine")
    _positional(worker, "space", metavar="SPACE", help="the sweep's name (or its YAML file)")
    worker.add_argument("--storage", required=True, help="the Optuna storage the sweep uses")
    worker.add_argument("--dataset", action="append",
                        help="the queue of this source or data file stem (repeatable; default: every dataset the "
                             "sweep is running now)")
    worker.add_argument("--tracking-uri", help="the MLflow store the sweep logs to")
    worker.add_argument("--heartbeat", type=int, default=30, help="seconds between trial heartbeats")
    worker.add_argument("--worker-index", type=int, default=1, help="seeds this worker's sampler (default: 1)")
    worker.add_argument("--workers", type=int, default=2, help="workers in all, for the sampler (default: 2)")
    worker.set_defaults(handler=cmd_worker, opens_runs=True)

    board = commands.add_parser("leaderboard", help="best trials per source, read back from MLflow")
    board.add_argument("--sweep", help="only this sweep")
    board.add_argument("--source", help="only this source (or data file stem)")
    board.add_argument("--top", type=int, help="trials shown per source (default: 5; with --pivot: all rows)")
    board.add_argument("--pivot", action="store_true",
                       help="one row per configuration, one column per source: CV mean ± std and rank")
    board.add_argument("--metric", choices=METRICS, help="rank by this metric (default: each sweep's own)")
    board.add_argument("--format", choices=("table", "csv", "json"), default="table")
    board.add_argument("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI or mlruns/mlflow.db)")
    board.set_defaults(handler=cmd_leaderboard)

    report = commands.add_parser("report", help="a sweep's report: one HTML page that opens offline, and a markdown "
                                                "summary")
    _positional(report, "sweep", metavar="SWEEP", help="the sweep's name (its MLflow experiment)")
    report.add_argument("--out", help="the directory to write report.html and report.md in (default: "
                                      "reports/<sweep>/ beside the store, mlruns/reports/<sweep>/ for a server's)")
    report.add_argument("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI or mlruns/mlflow.db)")
    report.set_defaults(handler=cmd_report)

    compare = commands.add_parser("compare", help="a sweep's configurations across datasets: ranks, Friedman, "
                                                  "critical difference, and the transfer matrix")
    _positional(compare, "sweep", metavar="SWEEP", help="the sweep's name (its MLflow experiment)")
    compare.add_argument("--alpha", type=float, default=0.05, help="significance level (default: 0.05)")
    compare.add_argument("--no-transfer", action="store_true",
                         help="leave out the transfer matrix (it trains one model per dataset)")
    compare.add_argument("--format", choices=("table", "json"), default="table")
    compare.add_argument("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI or mlruns/mlflow.db)")
    compare.set_defaults(handler=cmd_compare)

    export = commands.add_parser("export", help="write a sweep's best configuration to experiments/ as YAML")
    _positional(export, "sweep", metavar="SWEEP", help="the sweep's name (its MLflow experiment)")
    export.add_argument("--source", required=True, help="the source (or data file stem) it ran on")
    export.add_argument("--rank", type=int,
                        help="which trial by the sweep's CV metric (default: the one the sweep refit)")
    export.add_argument("--select", choices=SELECT_RULES,
                        help="best: the highest CV; simplest: the fewest trainable parameters among the trials "
                             "tied with the best (default: the sweep's own rule)")
    export.add_argument("--family", metavar="MODEL", help="in a sweep across model families: rank this family's "
                                                          "trials only (the name gets -<family>)")
    export.add_argument("--out", help="where to write it (default: experiments/<sweep>-<source>.yaml)")
    export.add_argument("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI or mlruns/mlflow.db)")
    export.set_defaults(handler=cmd_export)

    again = commands.add_parser("retrain", help="train an experiment into one raw-text model, test it once, "
                                                "log and register it in MLflow")
    _positional(again, "experiment", metavar="EXPERIMENT", help="an experiment file written by 'sweeplab export'")
    again.add_argument("--all-data", action="store_true",
                       help="train on train + test (no held-out score is left: the sweep's stands)")
    again.add_argument("--early-stopping", type=int, metavar="PATIENCE",
                       help="stop when the loss on a validation slice has not improved for PATIENCE epochs")
    again.add_argument("--out", help="the .keras file to write (default: models/<experiment name>.keras)")
    again.add_argument("--no-register", action="store_true", help="log the model but do not register it")
    again.add_argument("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI or mlruns/mlflow.db)")
    again.set_defaults(handler=cmd_retrain, opens_runs=True)

    predict = commands.add_parser("predict", help="label raw texts with a retrained model")
    _positional(predict, "model", metavar="MODEL", help="a .keras file from 'sweeplab retrain', or an MLflow model "
                                                        "URI (models:/NAME/VERSION, runs:/RUN_ID/model)")
    _positional(predict, "texts", metavar="TEXT", nargs="*", help="texts to label")
    predict.add_argument("--file", help="more texts: one per line, or a CSV/TSV/JSONL with --text-col; - is stdin")
    predict.add_argument("--text-col", default="text", help="text column of a CSV/TSV/JSONL --file (default: text)")
    predict.add_argument("--format", choices=("table", "csv", "json"), default="table")
    predict.add_argument("--tracking-uri", help="MLflow store for models:/ URIs (default: as for sweep)")
    predict.set_defaults(handler=cmd_predict)

    served = commands.add_parser("serve", help="serve a registered raw-text model over HTTP (MLflow's scoring "
                                               "server, with bounds on requests)")
    _positional(served, "model", metavar="MODEL", help="models:/NAME/VERSION, runs:/RUN_ID/model or a logged "
                                                       "model's directory")
    served.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    served.add_argument("--port", type=int, default=5001, help="port (default: 5001)")
    served.add_argument("--tracking-uri", help="MLflow store for models:/ URIs (default: as for sweep)")
    served.set_defaults(handler=cmd_serve)

    store = commands.add_parser("store", help="create (or check) the MLflow store and the Optuna storage now, "
                                              "safely while other sweeps start; 'make ui' runs it first")
    store.add_argument("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI or mlruns/mlflow.db)")
    store.add_argument("--storage", help="also this Optuna storage (default: none)")
    store.set_defaults(handler=cmd_store)

    listed = commands.add_parser("list", help="the sweeps a name finds: built-in, and yours in sweeps/")
    listed.set_defaults(handler=cmd_list)

    show = commands.add_parser("show", help="print a sweep as it runs, defaults filled in")
    _positional(show, "space", metavar="SPACE", help="a sweep's name or a YAML file's path")
    show.set_defaults(handler=cmd_show)

    fetch = commands.add_parser("data", help="fetch and verify the UCI Sentiment Labelled Sentences files")
    fetch.add_argument("--check", action="store_true", help="only report whether the files are present and intact")
    fetch.set_defaults(handler=cmd_data)
    return parser

