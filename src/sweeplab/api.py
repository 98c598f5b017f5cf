"""The Python API: everything the ``sweeplab`` command does, from a script or a notebook. The command line is a
thin layer over these functions (:mod:`sweeplab.cli`).

    import sweeplab

    result = sweeplab.sweep("smoke", sources=["yelp"])       # runs it, logs every trial to MLflow
    result.summary()                                         # one row per dataset: winner, scores, run ids
    sweeplab.leaderboard(sweep="smoke")                       # every complete trial, read back from MLflow
    experiment = sweeplab.export("smoke", source="yelp")     # the winner as an experiment file
    model = sweeplab.retrain(experiment.path)                # one raw-text model, tested once, registered
    sweeplab.load_model(model.path).predict(["great food"])  # labels and probabilities

Process-wide settings (TensorFlow's logging, MLflow's, warning filters) are applied when work starts
(:func:`sweeplab.runtime.configure`), never when sweeplab is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sweeplab import runtime
from sweeplab.config import Experiment, Sweep
from sweeplab.config.parse import SELECT_RULES
from sweeplab.constraints import (BOOLEAN, FUNCTION, NAME, PATH, TEXT, TEXTS, Constraint, between, instance_of,
                                  integer, methods, one_of, validated)
from sweeplab.errors import OptionError, SweepLabError, first_line, held_stop
from sweeplab.modeling.metrics import METRICS

__all__ = ["sweep", "plan", "join", "leaderboard", "report", "compare", "export", "retrain", "load_model", "serve",
           "fetch_data", "open_stores", "sweep_names", "resolve_sweep", "SweepResult", "ReportResult", "RetrainResult",
           "Model"]


# --- what the keywords take ---------------------------------------------------------------------------------------
# sweeplab.constraints.validated checks them as a call comes in; a sweep's own settings (engine, trials, folds,
# epochs, seed) are checked by the sweep parser, with the file they override. None stands for "None allowed".

_URL = (None, TEXT)
_COUNT = (None, integer())
_PROGRESS = (one_of("auto", "lines", "bar"), None, methods("say", "start"))
_SWEEP_OPTIONS = dict(
    space=(Constraint("a sweep's name or a YAML file's path", PATH.holds),
           instance_of(dict, "a mapping shaped like a sweep file"), instance_of(Sweep, "a Sweep")),
    sources=(None, TEXT, TEXTS), data=(None, PATH), text_col=(TEXT,), label_col=(TEXT,), engine=(None, TEXT),
    trials=_COUNT, folds=_COUNT, epochs=_COUNT, seed=_COUNT, nested=(None, integer(2)), tracking_uri=_URL,
    storage=_URL, fresh=(BOOLEAN,), workers=(integer(1),), heartbeat=(integer(1),), progress=_PROGRESS,
)


# --- sweeps -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    """What a sweep found: one :class:`~sweeplab.search.runner.DatasetResult` per dataset (the winning trial, its
    test scores, the baseline, every trial, the MLflow run ids), and where the runs are."""

    sweep: object  # the sweep that ran, overrides applied (a sweeplab.config.Sweep)
    datasets: tuple
    tracking_uri: str
    experiment_id: str
    report: object = None  # the ReportResult written at its end (None when it could not be: report_problem says why)
    report_problem: str = ""

    def __getitem__(self, source: str):
        for result in self.datasets:
            if result.source == source:
                return result
        raise KeyError(source)

    def summary(self):
        """One row per dataset: the winner's CV (with its 95 % interval) and test scores in the sweep's metric, the
        baseline's, the lift, the optimism (CV − test), how many trials are tied with the best, the rule that chose
        the winner among them, its parameters and run ids."""
        import pandas as pd

        return pd.DataFrame([{
            "source": r.source, "metric": r.metric, "cv_mean": r.winner.mean, "cv_std": r.winner.std,
            "ci_low": r.interval()[0], "ci_high": r.interval()[1], "test": r.test_score,
            "baseline_test": r.baseline.test_score, "lift": r.test_score - r.baseline.test_score,
            "optimism": r.optimism, "tied": len(r.tied), "select": r.select, "best_cv_mean": r.best.mean,
            "params": r.winner.params, "trials": len(r.trials), "run_id": r.run_id, "winner_run_id": r.winner_run_id,
        } for r in self.datasets])


@validated(space=_SWEEP_OPTIONS["space"])
def resolve_sweep(space):
    """A :class:`~sweeplab.config.Sweep` from a sweep's name (local ``sweeps/`` first, then the built-in ones), a
    YAML file's path, a mapping shaped like a sweep file, or a ``Sweep`` (returned as it is)."""
    from sweeplab import config

    if isinstance(space, config.Sweep):
        return space
    if isinstance(space, dict):
        return config.parse_sweep({"name": "notebook", **space}, "sweep mapping")
    return config.load_sweep(str(space))


@validated()
def sweep_names() -> dict:
    """Every sweep that a name finds: name -> its file (a local one shadows the built-in of the same name)."""
    from sweeplab import config

    return config.sweep_files()


@validated(**_SWEEP_OPTIONS)
def sweep(space, *, sources=None, data=None, text_col: str = "text", label_col: str = "label", engine=None,
          trials=None, folds=None, epochs=None, seed=None, nested=None, tracking_uri=None, storage=None,
          fresh: bool = False, workers: int = 1, heartbeat: int = 30, progress="auto") -> SweepResult:
    """Run a sweep on its sources (or ``sources``, or the user file ``data``) and log every trial to MLflow.

    Keyword arguments override the sweep file as the command's options do (``nested=K``: nested CV with K outer
    folds around the whole search, as ``nested: {outer_folds: K}``); ``fresh`` trains every trial even
    when the store has an identical finished one. ``progress``: ``"auto"`` (a progress bar in a notebook, lines
    on stderr elsewhere), ``"lines"``, ``"bar"``, ``None`` (silent) or a :class:`~sweeplab.search.listener.
    Listener` with a ``say`` and a ``start`` method.
    """
    from sweeplab.search import runner

    prepared = _prepare(space, sources, data, text_col, label_col, engine, trials, folds, epochs, seed, nested,
                        tracking_uri, storage, fresh, workers, heartbeat, progress)
    the_sweep, splits, tracker, queue, shown = prepared
    # Once the sweep is known (its oneDNN setting) and before anything imports TensorFlow or MLflow.
    runtime.configure(workers, onednn=the_sweep.onednn)
    tracker.check()
    tracker.check_experiment(the_sweep.name)
    queue.check()
    try:
        queue.check_studies(the_sweep, [split.dataset for split in splits])
        results = runner.run(the_sweep, splits, tracker, shown, queue, worker_args=["--tracking-uri", tracker.uri],
                             fresh=fresh)
    finally:
        with held_stop():
            queue.let_go()
    written, problem = None, ""
    try:  # the search's results are logged whatever happens here: a report that fails says so and no more
        written = _write_report(tracker, the_sweep.name, None, log=True)
    except Exception as exc:  # noqa: BLE001 (any: the sweep is done; its report is what failed, said once)
        problem = f"{type(exc).__name__}: {first_line(exc)}"
    return SweepResult(the_sweep, tuple(results), tracker.uri, tracker.experiment_id(the_sweep.name), written,
                       problem)


@validated(**_SWEEP_OPTIONS)
def plan(space, *, sources=None, data=None, text_col: str = "text", label_col: str = "label", engine=None,
         trials=None, folds=None, epochs=None, seed=None, nested=None, tracking_uri=None, storage=None,
         fresh: bool = False, workers: int = 1, heartbeat: int = 30, progress="auto") -> list:
    """What :func:`sweep` with the same arguments would do (:class:`~sweeplab.search.runner.Plan` per dataset:
    trials to train, trials the store has, an estimate of the time); trains, logs and creates nothing.
    ``progress`` shows the notes on the data, as :func:`sweep` does."""
    from sweeplab.search import runner

    the_sweep, splits, tracker, queue, _ = _prepare(space, sources, data, text_col, label_col, engine, trials,
                                                    folds, epochs, seed, nested, tracking_uri, storage, fresh,
                                                    workers, heartbeat, progress)
    return runner.plan(the_sweep, splits, tracker, queue, fresh)


def _prepare(space, sources, data_path, text_col, label_col, engine, trials, folds, epochs, seed, nested,
             tracking_uri, storage, fresh, workers, heartbeat, progress):
    """The check phase of :func:`sweep` and :func:`plan`: everything decidable from the sweep, the options, the
    data's size and the environment (the keywords and environment variables were checked as the call came in),
    before anything is created or trained; then :func:`sweep` checks the stores themselves."""
    from sweeplab import engines
    from sweeplab.search import runner
    from sweeplab.search.queue import Queue
    from sweeplab.tracking import Tracker

    if isinstance(sources, str):  # sources="yelp" is one source, not four letters
        sources = [sources]
    if data_path is not None and sources:
        raise OptionError("{} and {} both given: use one", "data", "sources")
    if data_path is None and (text_col, label_col) != ("text", "label"):
        raise OptionError("{} and {} apply to {} only", "text_col", "label_col", "data")
    runtime.quiet_warnings()  # before the sweep file is parsed: an optuna sweep's imports Optuna, and Optuna tqdm
    the_sweep = resolve_sweep(space).override(engine=engine, trials=trials, folds=folds, epochs=epochs, seed=seed,
                                              sources=sources, nested=nested)
    _check_queue_options(the_sweep, workers, heartbeat)
    shown = _progress(progress, the_sweep.metric)
    datasets = runner.load_datasets(the_sweep, data_path, text_col, label_col)
    splits = runner.prepare(the_sweep, datasets)
    for note in (note for dataset in datasets for note in dataset.notes):
        shown.say(f"sweeplab: note: {note}")
    tracker = Tracker(tracking_uri)
    queue = Queue(engines.get(the_sweep.engine)(), storage=storage, fresh=fresh, workers=workers,
                  heartbeat=heartbeat, local_dir=tracker.local_dir())
    return the_sweep, splits, tracker, queue, shown


def _check_queue_options(the_sweep, workers: int, heartbeat: int) -> None:
    if the_sweep.nested and workers != 1:
        raise OptionError("{} runs its inner searches in this process: leave out {}", "nested", "workers")
    most = 2 * runtime.cores()
    if workers > most:
        raise OptionError(f"{{}} {workers}: at most {most} here (2 per core, {runtime.cores()} cores; more only wait "
                          "for a core); add machines with 'sweeplab worker' instead", "workers")


def _progress(progress, metric: str, prefix: str = ""):
    from sweeplab.search import progress as shown

    if progress == "auto":
        progress = "bar" if shown.in_notebook() else "lines"
    if progress == "lines":
        return shown.Progress(prefix=prefix, metric=metric)
    if progress == "bar":
        return shown.BarProgress(prefix=prefix, metric=metric)
    if progress is None:
        return shown.Silent()
    return progress


@validated(space=(PATH,), storage=(TEXT,), dataset=(None, TEXT, TEXTS), tracking_uri=_URL, heartbeat=(integer(1),),
           worker_index=(integer(1),), workers=(integer(2),), progress=_PROGRESS)
def join(space: str, storage: str, *, dataset=None, tracking_uri=None, heartbeat: int = 30, worker_index: int = 1,
         workers: int = 2, progress="lines") -> None:
    """Work on the queues of a sweep another process started (``sweeplab worker``), whatever its engine: run
    waiting trials and log them under the same parent runs. ``dataset``: a dataset's name, or a list of them (by
    default every dataset a sweep is running now)."""
    from sweeplab import config, data, engines
    from sweeplab.search import runner
    from sweeplab.search.queue import Queue
    from sweeplab.tracking import Tracker

    name = config.load_sweep(space).name if str(space).endswith((".yaml", ".yml")) else space
    queue = Queue(None, storage=storage, heartbeat=heartbeat, workers=workers, worker_index=worker_index)
    queue.check()
    studies = queue.joinable(name, [dataset] if isinstance(dataset, str) else dataset)
    if not studies:
        raise SweepLabError(f"no study of sweep '{name}' in {storage} is running: start it with 'sweeplab sweep'")
    # Once the studies' sweeps are known (their oneDNN setting) and before anything imports TensorFlow or MLflow.
    runtime.configure(workers, onednn=any(resolved.get("onednn", False) for resolved, _, _ in studies))
    tracker = Tracker(tracking_uri)
    tracker.check()
    searches = []
    for resolved, reference, sha256 in studies:
        the_sweep = config.parse_sweep(resolved, f"study of {name}")
        dataset = data.load_reference(reference, sha256, f"study of {name}")  # the data the sweep runs on
        searches.append((the_sweep, runner.prepare(the_sweep, [dataset])[0]))
    queue.engine = engines.get(searches[0][0].engine)()  # the studies of one sweep share its engine
    runner.join(queue, searches, tracker,
                _progress(progress, searches[0][0].metric, prefix=f"(worker {worker_index}) "))


# --- results ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportResult:
    """A sweep's report: the page (``html``, one self-contained file), its markdown summary (``markdown``), and
    what it shows (:class:`~sweeplab.results.report.SweepReport`: per dataset the trials, the winner, the advice)."""

    html: Path
    markdown: Path
    report: object = field(repr=False)

    def advice(self, source: str) -> list[str]:
        """The advice for one dataset, as sentences."""
        return [a.text for view in self.report.datasets if view.source == source for a in view.advice]


@validated(sweep=(NAME,), out=(None, PATH), tracking_uri=_URL)
def report(sweep: str, *, out=None, tracking_uri=None) -> ReportResult:
    """Write ``sweep``'s report (:mod:`sweeplab.results.report`) to the directory ``out`` (by default
    ``reports/<sweep>/`` beside a local store, ``mlruns/reports/<sweep>/`` for a server's): ``report.html``, which
    opens offline, and ``report.md``. A sweep writes it at its end too, and logs it on each dataset's parent run."""
    from sweeplab.tracking import Tracker

    runtime.configure(keras=False)
    tracker = Tracker(tracking_uri)
    tracker.check(write=False)
    return _write_report(tracker, sweep, out, log=False)


def _write_report(tracker, sweep: str, out, log: bool) -> ReportResult:
    from sweeplab import files
    from sweeplab.results import report as reports

    directory = Path(out or tracker.local_dir() / "reports" / sweep)
    if directory.exists() and not directory.is_dir():
        raise OptionError(f"{{}} {directory}: a file; give the directory to write the report in", "out")
    files.check_destination(directory / "report.html", "report", (".html",))
    found = reports.collect(tracker, sweep)
    page, summary = reports.write(found, directory)
    if log:  # beside each dataset's runs, where MLflow's UI shows an HTML artifact as a page
        for view in found.datasets:
            tracker.client.log_artifact(view.run_id, str(page))
            tracker.client.log_artifact(view.run_id, str(summary))
    return ReportResult(page, summary, found)


@validated(sweep=(None, NAME), source=(None, NAME), metric=(None, one_of(*METRICS)), top=(None, integer(1)),
           pivot=(BOOLEAN,), tracking_uri=_URL)
def leaderboard(sweep=None, source=None, *, metric=None, top=None, pivot: bool = False, tracking_uri=None):
    """The complete trials of the latest finished search of each (sweep, source), best first, as a DataFrame:
    ``top`` per (sweep, source) (all by default); with ``pivot``, one row per configuration and a column group per
    source (CV mean, std, rank in that source)."""
    from sweeplab.results import leaderboard as board
    from sweeplab.tracking import Tracker

    runtime.configure(keras=False)
    tracker = Tracker(tracking_uri)
    tracker.check(write=False)
    frame = board.collect(tracker, sweep=sweep, source=source, metric=metric)
    return board.pivot(frame, top) if pivot else board.rank(frame, top or len(frame) or 1)


@validated(sweep=(NAME,), alpha=(between(0, 1),), transfer=(BOOLEAN,), tracking_uri=_URL, progress=(None, FUNCTION))
def compare(sweep: str, *, alpha: float = 0.05, transfer: bool = True, tracking_uri=None, progress=None):
    """Compare ``sweep``'s configurations across the three or more datasets it ran on (average ranks, Friedman,
    Nemenyi critical difference) and, with ``transfer``, train each dataset's winner and score it on every test
    split; log it all as a ``comparison`` run (with the critical-difference diagram and the transfer heat map).
    Returns the :class:`~sweeplab.results.comparison.Comparison`. ``progress``: a function taking a line."""
    import dataclasses

    from sweeplab.results import comparison
    from sweeplab.results.transfer import transfer_matrix
    from sweeplab.tracking import Tracker

    runtime.configure()
    tracker = Tracker(tracking_uri)
    tracker.check(write=False)
    if not tracker.has_store():
        raise SweepLabError(f"no MLflow store at {tracker.uri}: run a sweep first")
    found = comparison.compare(tracker, sweep, float(alpha))
    if transfer:
        found = dataclasses.replace(found, transfer=transfer_matrix(tracker, sweep, found.metric, found.datasets,
                                                                    progress))
    with tracker.comparison_run(sweep) as run:
        run.log(found)
    return found


@validated(sweep=(NAME,), source=(NAME,), rank=(None, integer(1)), select=(None, one_of(*SELECT_RULES)),
           family=(None, NAME), out=(None, PATH), tracking_uri=_URL)
def export(sweep: str, source: str, *, rank: int | None = None, select: str | None = None, family=None, out=None,
           tracking_uri=None):
    """Write a trial of ``sweep`` on ``source`` to an experiment file: by default the one the sweep refit and
    tested; the one ranked ``rank`` by CV; or the one the ``select`` rule picks ("best", or "simplest" of those
    tied with the best). Among ``family``'s trials only, in a sweep across model families. The file is ``out``, by
    default ``experiments/<sweep>-<source>.yaml``; returns it read back, as :func:`sweeplab.config.load_experiment`
    reads it."""
    from sweeplab.config import experiment
    from sweeplab.results.export import export as exported
    from sweeplab.tracking import Tracker

    runtime.configure(keras=False)
    if out is not None:
        experiment.check_destination(out)  # before reading the store: a mistyped out costs nothing
    tracker = Tracker(tracking_uri)
    tracker.check(write=False)
    if not tracker.has_store():
        raise SweepLabError(f"no MLflow store at {tracker.uri}: run a sweep first")
    mapping = exported(tracker, sweep, source, rank, family, select)
    path = experiment.write(mapping, out or experiment.default_path(mapping))
    return experiment.load_experiment(path)


@dataclass(frozen=True)
class RetrainResult:
    """A retrained raw-text model: where it was saved, its MLflow run, its registered version (None when not
    registered), the retrain itself (:class:`~sweeplab.serving.retrain.Retrained`: the held-out evaluation, the
    learning history, the rows used) and its model card (:mod:`sweeplab.serving.card`)."""

    path: Path
    run_id: str
    registered_version: str | None
    tracking_uri: str
    retrained: object = field(repr=False)
    card: Path | None = None  # the model card, markdown beside the .keras file (and the version's description)


@validated(experiment=(PATH, instance_of(Experiment, "an Experiment")), all_data=(BOOLEAN,),
           early_stopping=(None, integer(1)), out=(None, PATH), register=(BOOLEAN,), tracking_uri=_URL)
def retrain(experiment, *, all_data: bool = False, early_stopping=None, out=None, register: bool = True,
            tracking_uri=None) -> RetrainResult:
    """Train an experiment file's configuration into one raw-text Keras model on its training split (``all_data``:
    train + test), test it once, save it (``out``, by default ``models/<name>.keras``), log it to MLflow and
    register it under the experiment's name. ``early_stopping``: a patience in epochs."""
    from sweeplab import data, files
    from sweeplab.config import experiment as experiments
    from sweeplab.tracking import Tracker

    exp = experiment if isinstance(experiment, experiments.Experiment) else experiments.load_experiment(experiment)
    # After reading the file, before anything loads TensorFlow, which reads the oneDNN setting once.
    runtime.configure(onednn=exp.onednn)
    path = Path(out or Path("models") / f"{exp.name}.keras")
    files.check_destination(path, "Keras model file", (".keras",))
    tracker = Tracker(tracking_uri)
    dataset = exp.load_dataset()  # refuse a changed dataset before training anything
    stopping = exp.early_stopping
    if early_stopping is not None:
        stopping = {**experiments.EARLY_STOPPING, **(exp.early_stopping or {}), "patience": early_stopping}
    if stopping:  # the validation slice is cut from the training rows, stratified
        rows = len(dataset.texts)
        training = rows if all_data else rows - data.held_out_rows(rows, exp.test_size)
        data.check_fraction(exp.path, "early_stopping.validation_split", stopping["validation_split"], training,
                            dataset.n_classes, ("validation slice", "rows left to train on"))
    tracker.check()
    tracker.check_experiment(exp.sweep or "retrain")
    from sweeplab.modeling import textmodel
    from sweeplab.serving import card, pyfunc
    from sweeplab.serving import retrain as retraining

    result = retraining.retrain(exp, dataset, all_data=all_data, early_stopping=stopping)
    textmodel.save(result.model, path)
    with tracker.retrain_run(exp) as run:
        run.log_retrained(result)
        examples = [str(t) for t in dataset.texts[:3]]
        info = pyfunc.log_model(run, path, result.model, examples, exp.name if register else None)
        version = info.registered_model_version
        written = card.card(exp, result, run.run_id, str(version) if version else None)
        files.write_atomically(path.with_suffix(".md"), written.encode("utf-8"), "model card")
        run.client.log_text(run.run_id, written, "model_card.md")
        if version is not None:
            run.describe_version(exp.name, version, written, card.facts(exp, result, run.run_id))
    return RetrainResult(path, run.run_id, version, tracker.uri, result, path.with_suffix(".md"))


class Model:
    """A retrained model, from its .keras file or from MLflow (``models:/NAME/VERSION``, ``runs:/RUN_ID/model``)."""

    def __init__(self, predict):
        self._predict = predict

    def predict(self, texts) -> "object":
        """A DataFrame with one row per text: ``label``, ``probability`` and ``p_<class>`` for every class."""
        if isinstance(texts, str):
            texts = [texts]
        from sweeplab.modeling.textmodel import check_texts

        return self._predict(check_texts(texts))


@validated(model=(PATH,), tracking_uri=_URL)
def load_model(model, *, tracking_uri=None) -> Model:
    """The model a .keras file from :func:`retrain` holds, or an MLflow model URI points to."""
    runtime.configure()
    if str(model).endswith(".keras") or Path(model).is_file():
        from sweeplab.modeling import textmodel

        keras_model = textmodel.load_text_model(model)
        return Model(lambda texts: textmodel.predict(keras_model, texts))
    import mlflow
    import pandas as pd

    from sweeplab.tracking import Tracker
    from sweeplab.tracking.store import using_uri

    tracker = Tracker(tracking_uri)  # the one URL rule, as for every command
    _check_has_model_store(tracker, model)
    try:
        with using_uri(tracker.uri):
            pyfunc = mlflow.pyfunc.load_model(str(model))
    except Exception as exc:  # MLflow raises several types for a URI it cannot resolve
        raise SweepLabError(f"{model}: cannot load as an MLflow model ({first_line(exc)})") from None
    return Model(lambda texts: pyfunc.predict(pd.DataFrame({"text": texts})).reset_index(drop=True))


@validated(model=(PATH,), host=(TEXT,), port=(integer(1, 65535),), tracking_uri=_URL, ready=(None, FUNCTION))
def serve(model, *, host: str = "127.0.0.1", port: int = 5001, tracking_uri=None, ready=None) -> None:
    """Serve a raw-text model (``models:/NAME/VERSION``, ``runs:/RUN_ID/model`` or a logged model's directory) over
    HTTP until the process is stopped: MLflow's scoring server with bounds on what a request may hold
    (:mod:`sweeplab.serving.server`). POST raw texts to ``/invocations``, as for ``mlflow models serve``.
    ``ready`` is called with the URL once the model is loaded."""
    runtime.configure()
    from sweeplab.serving import server
    from sweeplab.tracking import Tracker
    from sweeplab.tracking.store import using_uri

    tracker = Tracker(tracking_uri)  # the one URL rule, as for every command
    _check_has_model_store(tracker, model)
    try:
        with using_uri(tracker.uri):
            app = server.application(str(model))
    except Exception as exc:  # MLflow raises several types for a URI it cannot resolve
        raise SweepLabError(f"{model}: cannot load as an MLflow model ({first_line(exc)})") from None
    if ready is not None:
        ready(f"http://{host}:{port}/invocations")
    server.serve(app, host, port)


def _check_has_model_store(tracker, model) -> None:
    """A registered or logged model's URI names a store to read: one that does not exist has no model, and reading
    must not create it (MLflow's registry would)."""
    if str(model).startswith(("models:/", "runs:/")) and not tracker.has_store():
        raise SweepLabError(f"{model}: no MLflow store at {tracker.uri}, so no model there (is this the "
                            "tracking URI the model was registered in?)")


# --- stores and data ---


@validated(tracking_uri=_URL, storage=_URL)
def open_stores(tracking_uri=None, storage=None) -> dict:
    """Create (or migrate, or check) the MLflow store, and the Optuna storage when given, now: safely while other
    sweeps start, one process at a time. Their URLs, as ``tracking_uri`` and ``storage``."""
    from sweeplab.search.queue import Queue
    from sweeplab.tracking import Tracker

    runtime.configure()
    tracker = Tracker(tracking_uri)
    queue = Queue(None, storage=storage) if storage else None  # both URLs checked before either store is made
    tracker.check()
    tracker.client  # noqa: B018 (opening the store creates or migrates it, under the creation lock)
    ready = {"tracking_uri": tracker.uri}
    if queue is not None:
        queue.check()
        ready["storage"] = queue.storage_url()
    return ready


# --- data ---------------------------------------------------------------------------------------------------------


@validated(mirror=(None, PATH), glove_mirror=(None, PATH))
def fetch_data(mirror=None, glove_mirror=None) -> dict:
    """Fetch and verify the UCI files (from ``mirror``, a directory holding them, or the published archive), and
    the GloVe vectors when ``glove_mirror`` names a directory holding them; returns each source's integrity
    record (rows, class counts, sha256), and ``glove`` the vectors' path when there."""
    from sweeplab import data

    directory = data.default_data_dir()
    data.fetch(directory, mirror=mirror)
    found = {name: data.load_source(name, directory).integrity for name in data.SOURCES}
    if glove_mirror:
        found["glove"] = data.fetch_glove(glove_mirror)
    return found
