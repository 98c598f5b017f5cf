"""``sweeplab`` command line: sweep, worker, leaderboard, export, retrain, predict, data.

Bad input (sweep file, data, options) is reported as one line on stderr with exit code 2, before any run is
opened. Heavy imports (TensorFlow, MLflow) happen inside the commands that need them.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import warnings
from pathlib import Path

from sweeplab import data, engines, errors, files
from sweeplab.metrics import METRICS
from sweeplab.errors import SweepLabError


def main(argv: list[str] | None = None) -> int:
    # TensorFlow logs a spurious C++ error per fit (a tf.data attribute mismatch) between our progress lines.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # Every trial builds a new model, so TensorFlow's "retracing" warnings are expected, not a problem.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    # MLflow narrates model logging (progress bars, INFO lines, advice on type hints); our lines say what happened.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # a "View run" line per closed run
    warnings.filterwarnings("ignore", message=r".*(Add type hints|Inferred schema contains integer)")
    args = build_parser().parse_args(argv)
    errors.INTERRUPTED.clear()
    errors.INTERRUPTED.signum = signal.SIGINT
    in_main_thread = threading.current_thread() is threading.main_thread()
    # A signal the caller ignores stays ignored: nohup ignores SIGHUP, a shell's background job SIGINT.
    previous = {signum: signal.signal(signum, errors.interrupt) for signum in errors.STOP_SIGNALS
                if signal.getsignal(signum) is not signal.SIG_IGN} if in_main_thread else {}
    try:
        return args.handler(args) or 0
    except SweepLabError as exc:
        print(f"sweeplab: error: {exc}", file=sys.stderr)
        return SweepLabError.exit_code
    except KeyboardInterrupt:
        closed = "; the open runs were closed as KILLED" if getattr(args, "opens_runs", False) else ""
        print(f"sweeplab: {_stopped()}{closed}", file=sys.stderr)
        return errors.stop_status()
    except Exception as exc:
        if errors.INTERRUPTED.is_set():
            # After Ctrl-C, cleanup code may fail in turn (a store busy with a stopping worker's last writes) and
            # replace the KeyboardInterrupt: the user still asked to stop, and that is how the command ends.
            print(f"sweeplab: {_stopped()} ({type(exc).__name__} while stopping: {str(exc).splitlines()[0][:200]})",
                  file=sys.stderr)
            return errors.stop_status()
        exit_code = getattr(exc, "exit_code", None)
        if exit_code is None:
            raise
        print(f"sweeplab: error: {exc}", file=sys.stderr)
        return exit_code
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _stopped() -> str:
    return "interrupted" if errors.INTERRUPTED.signum == signal.SIGINT else f"stopped by {errors.stop_name()}"


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
    sweep.add_argument("--fresh", action="store_true",
                       help="train every trial even when the store has it finished (optuna: and start new studies)")
    sweep.add_argument("--dry-run", action="store_true",
                       help="say what would train, what the store already has, and how long it would take; "
                            "train, log and create nothing")
    optuna.add_argument("--workers", type=int, default=1, help="processes sharing each study (default: 1)")
    optuna.add_argument("--heartbeat", type=int, default=30,
                        help="seconds between trial heartbeats; a trial silent for twice that is retried")
    sweep.set_defaults(handler=cmd_sweep, opens_runs=True)

    worker = commands.add_parser("worker", help="join a running optuna sweep from this process or machine")
    worker.add_argument("space", metavar="SPACE", help="the sweep's name (or its YAML file)")
    worker.add_argument("--storage", required=True, help="the Optuna storage the sweep uses")
    worker.add_argument("--dataset", help="only the study of this source or data file stem")
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

    export = commands.add_parser("export", help="write a sweep's best configuration to experiments/ as YAML")
    export.add_argument("sweep", metavar="SWEEP", help="the sweep's name (its MLflow experiment)")
    export.add_argument("--source", required=True, help="the source (or data file stem) it ran on")
    export.add_argument("--rank", type=int, default=1,
                        help="which trial by the sweep's CV metric (default: 1, the best)")
    export.add_argument("--family", metavar="MODEL", help="in a sweep across model families: rank this family's "
                                                          "trials only (the name gets -<family>)")
    export.add_argument("--out", help="where to write it (default: experiments/<sweep>-<source>.yaml)")
    export.add_argument("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI or mlruns/mlflow.db)")
    export.set_defaults(handler=cmd_export)

    again = commands.add_parser("retrain", help="train an experiment into one raw-text model, test it once, "
                                                "log and register it in MLflow")
    again.add_argument("experiment", metavar="EXPERIMENT", help="an experiment file written by 'sweeplab export'")
    again.add_argument("--all-data", action="store_true",
                       help="train on train + test (no held-out score is left: the sweep's stands)")
    again.add_argument("--early-stopping", type=int, metavar="PATIENCE",
                       help="stop when the loss on a validation slice has not improved for PATIENCE epochs")
    again.add_argument("--out", help="the .keras file to write (default: models/<experiment name>.keras)")
    again.add_argument("--no-register", action="store_true", help="log the model but do not register it")
    again.add_argument("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI or mlruns/mlflow.db)")
    again.set_defaults(handler=cmd_retrain, opens_runs=True)

    predict = commands.add_parser("predict", help="label raw texts with a retrained model")
    predict.add_argument("model", metavar="MODEL", help="a .keras file from 'sweeplab retrain', or an MLflow model "
                                                        "URI (models:/NAME/VERSION, runs:/RUN_ID/model)")
    predict.add_argument("texts", metavar="TEXT", nargs="*", help="texts to label")
    predict.add_argument("--file", help="more texts: one per line, or a CSV/TSV/JSONL with --text-col; - is stdin")
    predict.add_argument("--text-col", default="text", help="text column of a CSV/TSV/JSONL --file (default: text)")
    predict.add_argument("--format", choices=("table", "csv", "json"), default="table")
    predict.add_argument("--tracking-uri", help="MLflow store for models:/ URIs (default: as for sweep)")
    predict.set_defaults(handler=cmd_predict)

    store = commands.add_parser("store", help="create (or check) the MLflow store and the Optuna storage now, "
                                              "safely while other sweeps start; 'make ui' runs it first")
    store.add_argument("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI or mlruns/mlflow.db)")
    store.add_argument("--storage", help="also this Optuna storage (default: none)")
    store.set_defaults(handler=cmd_store)

    fetch = commands.add_parser("data", help="fetch and verify the UCI Sentiment Labelled Sentences files")
    fetch.add_argument("--check", action="store_true", help="only report whether the files are present and intact")
    fetch.set_defaults(handler=cmd_data)
    return parser


def cmd_sweep(args) -> int:
    from sweeplab import space
    from sweeplab import sweep as runner
    from sweeplab.progress import Progress
    from sweeplab.tracking import Tracker, ui_url

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
    datasets = runner.load_datasets(sweep, args.data, args.text_col, args.label_col)
    splits = runner.prepare(sweep, datasets)
    for note in (note for dataset in datasets for note in dataset.notes):
        print(f"sweeplab: note: {note}", file=sys.stderr)
    tracker = Tracker(args.tracking_uri)
    engine = engines.get(sweep.engine, **optuna_options, local_dir=tracker.local_dir())
    if args.dry_run:
        _print_plans(sweep, runner.plan(sweep, splits, tracker, engine, args.fresh))
        return 0
    _outbox_retries_instead_of_mlflow()
    tracker.check()
    engine.check()
    _share_cores(args.workers)
    results = runner.run(sweep, splits, tracker, Progress(metric=sweep.metric), engine,
                         worker_args=["--tracking-uri", tracker.uri], fresh=args.fresh)
    print(f"{sweep.metric}:\n{'source':<10} {'best cv':>15} {'test':>6} {'bow test':>8} {'lift':>7}")
    for r in results:
        print(f"{r.source:<10} {r.best.mean:>7.3f} ± {r.best.std:.3f} {r.test_score:>6.3f} "
              f"{r.baseline.test_score:>8.3f} {r.test_score - r.baseline.test_score:>+7.3f}")
    ui = tracker.uri if tracker.uri.startswith(("http://", "https://")) else None
    page = ui_url(ui or "http://127.0.0.1:5000", tracker.experiment_id(sweep.name), sweep.metric)
    print(f"logged to {tracker.uri} (experiment '{sweep.name}'); compare with 'sweeplab leaderboard', or "
          + (f"open {page}" if ui else f"run 'make ui' and open {page}"))
    return 0


def _print_plans(sweep, plans) -> None:
    from sweeplab.progress import duration

    for plan in plans:
        trials = f"{plan.planned} trials" if plan.known else f"a budget of {plan.planned} trials"
        to_train = plan.planned - plan.reused - plan.finished_before
        print(f"== {sweep.name} on {plan.dataset} (dry run: nothing trains, nothing is logged): {trials} x "
              f"{plan.folds} folds x up to {plan.epochs} epochs ({sweep.engine})")
        done = [f"{plan.reused} finished in the store (reused, not trained)"] if plan.known else []
        done += [f"{plan.finished_before} finished in the study"] if plan.finished_before else []
        print(f"   {', '.join(done) or 'nothing finished yet'}; {max(to_train, 0)} to train")
        if plan.estimate_s is None:
            print(f"   no finished trial of {sweep.model} on this dataset in the store to estimate the time from")
        elif to_train > 0:
            print(f"   about {duration(plan.estimate_s)} of fitting, going by {plan.basis} finished trial"
                  f"{'s' if plan.basis != 1 else ''} of the same model on this dataset"
                  + ("" if plan.known else " (pruning may cut it short)"))


def _check_optuna_options(sweep, args) -> None:
    if sweep.engine != "optuna":
        given = [f"--{name}" for name in ("storage",) if getattr(args, name)]
        given += ["--workers"] if args.workers != 1 else []
        if given:
            raise SweepLabError(f"{', '.join(given)} need engine optuna (this sweep uses {sweep.engine})")
    if args.workers < 1 or args.heartbeat < 1:
        raise SweepLabError("--workers and --heartbeat must be at least 1")
    most = 2 * _cores()
    if args.workers > most:
        raise SweepLabError(f"--workers {args.workers}: at most {most} here (2 per core, {_cores()} cores; more only "
                            "wait for a core); add machines with 'sweeplab worker' instead")


def _outbox_retries_instead_of_mlflow() -> None:
    """MLflow's client retries a request for about 4 minutes before it fails, holding up training all along. A
    sweep's trial writes wait in an outbox instead (sweeplab.outbox), which retries and tells the user."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")


def _share_cores(workers: int) -> None:
    """Each of N worker processes gets its share of the cores, instead of all of them fighting over every core."""
    if workers > 1:
        share = max(1, _cores() // workers)
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(share))
        os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")


def _cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


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
    engine.check()
    studies = engine.joinable(name, args.dataset)
    if not studies:
        raise SweepLabError(f"no study of sweep '{name}' in {args.storage}: start it with 'sweeplab sweep'")
    tracker = Tracker(args.tracking_uri)
    _outbox_retries_instead_of_mlflow()
    tracker.check()
    for resolved, reference in studies:
        sweep = space.parse(resolved, f"study of {name}")
        split = runner.prepare(sweep, [data.load_reference(reference)])[0]
        runner.join(engine, sweep, split, tracker,
                    Progress(prefix=f"(worker {args.worker_index}) ", metric=sweep.metric))
    return 0


def cmd_leaderboard(args) -> int:
    from sweeplab import leaderboard
    from sweeplab.tracking import Tracker

    if args.top is not None and args.top < 1:
        raise SweepLabError(f"--top must be at least 1, got {args.top}")
    frame = leaderboard.collect(Tracker(args.tracking_uri), sweep=args.sweep, source=args.source, metric=args.metric)
    if args.pivot:
        print(leaderboard.render(leaderboard.pivot(frame, args.top), args.format, pivoted=True))
    else:
        print(leaderboard.render(leaderboard.rank(frame, args.top or 5), args.format))
    return 0


def cmd_export(args) -> int:
    from sweeplab import experiment
    from sweeplab.progress import format_params
    from sweeplab.tracking import Tracker

    if args.out:
        experiment.check_destination(args.out)  # before reading the store: a mistyped --out costs nothing
    tracker = Tracker(args.tracking_uri)
    if not tracker.has_store():
        raise SweepLabError(f"no MLflow store at {tracker.uri}: run a sweep first")
    mapping = experiment.export(tracker, args.sweep, args.source, args.rank, args.family)
    path = experiment.write(mapping, args.out or experiment.default_path(mapping))
    origin = mapping["origin"]
    print(f"wrote {path}: {mapping['model']} ({format_params({**mapping['params'], **mapping['fit']})})")
    metric = origin["metric"]
    print(f"  rank {origin['rank']} of sweep '{args.sweep}' on {args.source}: cv {metric} "
          f"{origin[f'cv_{metric}_mean']:.3f} ± {origin[f'cv_{metric}_std']:.3f} (run {origin['run_id']})")
    print(f"  retrain it with: sweeplab retrain {path}")
    return 0


def cmd_retrain(args) -> int:
    from sweeplab import experiment

    exp = experiment.load(args.experiment)
    if args.early_stopping is not None and args.early_stopping < 1:
        raise SweepLabError(f"--early-stopping must be at least 1, got {args.early_stopping}")
    out = Path(args.out or Path("models") / f"{exp.name}.keras")
    files.check_destination(out, "Keras model file", (".keras",))
    dataset = exp.load_dataset()  # refuse a changed dataset before training anything
    from sweeplab import retrain, textmodel
    from sweeplab.tracking import Tracker

    tracker = Tracker(args.tracking_uri)
    _warn_version_drift(exp)
    stopping = None
    if args.early_stopping is not None:
        stopping = {**experiment.EARLY_STOPPING, **(exp.early_stopping or {}), "patience": args.early_stopping}
    if args.all_data:
        print(f"--all-data: training on all {dataset.integrity['rows']} rows, the test split included; no held-out "
              f"score is left, so quote the sweep's test accuracy ({exp.origin.get('sweep_test_accuracy', 'n/a')})")
    result = retrain.retrain(exp, dataset, all_data=args.all_data, early_stopping=stopping)
    textmodel.save(result.model, out)
    with tracker.retrain_run(exp) as run:
        run.log_retrained(result)
        examples = [str(t) for t in dataset.texts[:3]]
        info = run.log_model(out, result.model, examples, None if args.no_register else exp.name)
    _report_retrain(result, out, run.run_id, info, tracker.uri)
    return 0


def _warn_version_drift(exp) -> None:
    from sweeplab import versions

    now = versions.current()
    drift = [f"{k} {v} (now {now[k]})" for k, v in exp.versions.items()
             if k in ("tensorflow-cpu", "keras", "scikit-learn", "numpy") and k in now and str(v) != now[k]]
    if drift:
        print(f"sweeplab: warning: {exp.path} was chosen with {', '.join(drift)}: scores may differ",
              file=sys.stderr)


def _report_retrain(result, out, run_id: str, info, uri: str) -> None:
    exp, evaluation = result.experiment, result.evaluation
    stopped = f", stopped early at epoch {result.epochs_run}" if result.epochs_run < exp.fit["epochs"] else ""
    held = f", {result.early_stopping['validation_split']:.0%} of them held out for early stopping" \
        if result.early_stopping else ""
    print(f"retrained {exp.name}: {exp.model} on {result.n_train} rows of {result.dataset.name}{held} in "
          f"{result.wall_time:.0f} s ({result.epochs_run} epochs{stopped})")
    metric = exp.origin.get("metric", "accuracy")  # compare in the metric the sweep ranked by
    sweep_cv = exp.origin.get(f"cv_{metric}_mean")
    sweep_test = exp.origin.get(f"sweep_test_{metric}")
    if evaluation is not None:
        print(f"  held-out test ({result.n_test} rows): accuracy {evaluation.accuracy:.3f}, "
              f"macro-F1 {evaluation.macro_f1:.3f}"
              + (f"; the sweep's cv {metric} {sweep_cv:.3f}" if sweep_cv is not None else "")
              + (f", its refit's test {metric} {sweep_test:.3f}" if sweep_test is not None else ""))
        print(f"  the raw-text model agrees with the pipeline on {evaluation.agreement:.1%} of the test texts")
    print(f"  saved {out}; logged run {run_id} to {uri}")
    if info.registered_model_version is not None:
        print(f"  registered model '{exp.name}' version {info.registered_model_version}: "
              f"sweeplab predict models:/{exp.name}/{info.registered_model_version} \"some text\"")


def cmd_predict(args) -> int:
    texts = list(args.texts) + (_read_texts(args.file, args.text_col) if args.file else [])
    if not texts:
        raise SweepLabError("no texts: give them as arguments or with --file")
    frame = _load_predictor(args.model, args.tracking_uri)(texts)
    frame.insert(2, "text", texts)
    if args.format == "json":
        print(frame.to_json(orient="records", force_ascii=False, indent=2))
    elif args.format == "csv":
        print(frame.to_csv(index=False), end="")
    else:
        for row in frame.itertuples(index=False):
            print(f"{row.label}\t{row.probability:.3f}\t{row.text}")
    return 0


def _load_predictor(model: str, tracking_uri: str | None):
    """texts -> DataFrame(label, probability, p_<class>...), from a .keras file or an MLflow model URI."""
    if model.endswith(".keras") or Path(model).is_file():
        from sweeplab import textmodel

        keras_model = textmodel.load(model)
        return lambda texts: textmodel.predict(keras_model, texts)
    import mlflow
    import pandas as pd

    from sweeplab.tracking import resolve_uri

    mlflow.set_tracking_uri(resolve_uri(tracking_uri))
    try:
        pyfunc = mlflow.pyfunc.load_model(model)
    except Exception as exc:  # MLflow raises several types for a URI it cannot resolve
        raise SweepLabError(f"{model}: cannot load as an MLflow model ({str(exc).splitlines()[0][:200]})") from None
    return lambda texts: pyfunc.predict(pd.DataFrame({"text": texts})).reset_index(drop=True)


def _read_texts(source: str, text_col: str) -> list[str]:
    """One text per non-blank line of a file or of standard input (-), or a column of a CSV/TSV/JSONL file."""
    if source == "-":
        import io

        buffer = getattr(sys.stdin, "buffer", None)  # None when a caller replaced stdin with a text stream
        stdin = sys.stdin if buffer is None else io.TextIOWrapper(buffer, encoding="utf-8", newline="\n")
        texts = [line for _, line in files.stream_lines(stdin, "standard input") if line.strip()]
        if buffer is not None:
            stdin.detach()  # leave sys.stdin's buffer open for whoever reads it next
        return texts
    path = Path(source)
    if path.suffix.lower() in data.USER_FILE_SUFFIXES:
        return [str(t) for t in data.read_column(path, text_col)]
    return [line for _, line in files.lines(path, "file") if line.strip()]


def cmd_store(args) -> int:
    from sweeplab.tracking import Tracker

    tracker = Tracker(args.tracking_uri)
    tracker.client  # noqa: B018 (opening the store creates or migrates it, under the creation lock)
    print(f"MLflow store ready: {tracker.uri}")
    if args.storage:
        from sweeplab.engines.optuna_search import OptunaEngine

        engine = OptunaEngine(storage=args.storage)
        engine.check()
        print(f"Optuna storage ready: {engine.storage_url()}")
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
    glove_mirror = os.environ.get("SWEEPLAB_GLOVE_MIRROR")
    if glove_mirror:
        print(f"GloVe vectors: {data.fetch_glove(glove_mirror)} verified")
    elif not data.glove_path().is_file():
        print(f"GloVe vectors: not fetched (set SWEEPLAB_GLOVE_MIRROR to a directory holding {data.GLOVE[0]}); "
              "only sweeps with embeddings: need them")
    return 0
