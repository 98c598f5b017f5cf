"""``optuna``: Optuna's samplers and pruners choose configurations, with pruning *inside* k-fold CV.

**Steps.** A pruner compares trials by the values they report at the same step. With E the most epochs the
sweep allows, fold f (from 1; with ``repeats``, the folds of later repeats number on: repeat r's fold j is
fold (r - 1) k + j) reports

- after epoch e, the fold's validation score (the sweep's metric), at step (f - 1) * (E + 1) + e;
- when the fold ends, the mean score of the folds finished so far, at step f * (E + 1);

so a step means the same point of training in every trial, and a trial is cut after its first bad epochs or
after its first bad fold. A trial with fewer epochs leaves the later epoch steps of each fold empty.

**Studies.** One per dataset, named ``<sweep>-<dataset>``, in ``--storage`` (default: SQLite beside the MLflow
store). A study remembers the resolved sweep and its dataset, so ``sweeplab worker`` can join it from
anywhere. ``trials`` is a total: the sweep continues its study until it holds that many finished (COMPLETE
or PRUNED) trials; ``--fresh`` deletes the study and starts over.

**Slots.** The sweep queues the missing trials as WAITING trials; workers run only trials they pop from that
queue, which every Optuna storage does atomically, so any number of workers finish the total exactly. If two
workers race for the last slot, the loser's new trial is closed at once as FAIL (user attribute
``sweeplab.surplus``) without training. A failed trial is replaced by a new slot while failures are fewer
than ``trials``.

**Killed workers.** Trials send a heartbeat. A process with no queued trial left waits while other trials are
RUNNING: one whose heartbeat stops (its process was killed, its machine lost) is marked FAIL and its parameters
are queued again, and whichever process is free runs it, so the study still reaches its total. The dead trial's
MLflow run is closed as KILLED. A trial records which ``host:pid`` ran it (user attribute ``sweeplab.worker``).
On a loaded machine a live trial's heartbeat can come late and another process declare it dead: the process
still training it stops it at its next report, closes its run as FAILED with that note, and goes on.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from sweeplab.config import optuna_settings
from sweeplab.errors import INTERRUPTED, SweepLabError, held_stop
from sweeplab.search.engines.base import Engine
from sweeplab.search.trainer import Judge, Stop
from sweeplab.search.trial import COMPLETE, FAIL, PRUNED, TrialResult
from sweeplab.tags import (DATA_ATTR, DATA_SHA, FIT_TIME, FOLD_MEASURES, FOLD_SCORES, NOTE, RESUME, SLOT, SURPLUS,
                           SWEEP_ATTR, WORKER)
from sweeplab.urls import check_sqlite_store, check_writable, creation_lock, journal_path, local_directory, local_file

# Settings that may change between runs of one study; any other difference needs --fresh.
MAY_CHANGE = {"trials", "timeout", "description", "sources", "engine", "path", "fuse", "onednn"}


class SurplusTrial(Exception):
    """This worker lost the race for the study's last slot."""


def _optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures and prunes are reported our way
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


@dataclass
class OptunaEngine(Engine):
    storage: str | None = None
    fresh: bool = False
    workers: int = 1
    heartbeat: int = 30
    local_dir: Path | None = None  # where the default SQLite storage lives
    worker_index: int = 0  # 0: the sweep's own process; helpers count from 1

    def proposals(self, sweep) -> list[dict] | None:
        return _grid(sweep) if sweep.sampler["name"] == "grid" else None

    # --- the study -----------------------------------------------------------------------------------------------

    def storage_url(self) -> str:
        if self.storage:
            return self.storage
        return f"sqlite:///{Path(self.local_dir or 'mlruns').resolve() / 'optuna.db'}"

    @functools.cached_property
    def _storage(self):
        optuna = _optuna()
        url = self.storage_url()
        journal = journal_path(url)
        if journal is not None:
            from optuna.storages.journal import JournalFileBackend

            _check_journal(journal)
            return optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
        from sqlalchemy.exc import SQLAlchemyError

        options = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
        try:
            with creation_lock(url):
                check_sqlite_store(url, "studies", "an Optuna storage")
                return optuna.storages.RDBStorage(
                    url, engine_kwargs=options, heartbeat_interval=self.heartbeat, grace_period=2 * self.heartbeat,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3),
                )
        except (SQLAlchemyError, ValueError, ImportError) as exc:
            problem = str(exc).splitlines()[0]
            raise SweepLabError(f"--storage {url}: cannot open it as an Optuna storage ({problem})") from None

    def check(self) -> None:
        """Before anything trains: a local storage is writable and not full, a database storage opens."""
        directory = local_directory(self.storage_url())
        if directory is not None:
            check_writable(directory, "Optuna storage")
        self._storage  # noqa: B018 (opening it reports an unreachable database as one line)

    @staticmethod
    def study_name(sweep_name: str, dataset_name: str) -> str:
        return f"{sweep_name}-{dataset_name}"

    def load(self, study_name: str, sweep, worker_index: int = 0):
        return _optuna().load_study(study_name=study_name, storage=self._storage,
                                    sampler=_sampler(sweep, worker_index, self.workers), pruner=_pruner(sweep))

    def open(self, sweep, dataset) -> str:
        """Create or continue the dataset's study; return the key that ties it to its MLflow parent run."""
        optuna = _optuna()
        name, storage = self.study_name(sweep.name, dataset.name), self._storage
        if self.fresh and name in {s.study_name for s in optuna.get_all_study_summaries(storage)}:
            optuna.delete_study(study_name=name, storage=storage)
        study = optuna.create_study(study_name=name, storage=storage, direction="maximize", load_if_exists=True)
        attrs = study.user_attrs
        if RESUME in attrs:
            _check_same_search(name, attrs, sweep, dataset)
        else:
            study.set_user_attr(RESUME, uuid.uuid4().hex)
            study.set_user_attr(DATA_ATTR, dataset.reference)
            study.set_user_attr(DATA_SHA, dataset.integrity["sha256"])
        study.set_user_attr(SWEEP_ATTR, sweep.to_dict())  # workers follow the latest total and timeout
        return study.user_attrs[RESUME]

    def joinable(self, sweep_name: str, dataset_name: str | None = None) -> list[tuple[dict, dict]]:
        """(resolved sweep, dataset reference) of each study of this sweep in the storage, for a worker to join."""
        prefix = f"{sweep_name}-"
        found = []
        for summary in _optuna().get_all_study_summaries(self._storage):
            attrs = summary.user_attrs
            if summary.study_name.startswith(prefix) and SWEEP_ATTR in attrs and (
                    dataset_name is None or summary.study_name == self.study_name(sweep_name, dataset_name)):
                found.append((attrs[SWEEP_ATTR], attrs[DATA_ATTR]))
        return found

    def planned(self, sweep) -> int:
        return len(_grid(sweep)) if sweep.sampler["name"] == "grid" else sweep.trials

    def has_state(self, sweep, dataset_name: str) -> bool:
        """Whether the dataset's study exists, found without creating a storage or a study."""
        local = local_file(self.storage_url())
        if local is not None and not local.exists():
            return False
        name = self.study_name(sweep.name, dataset_name)
        return name in {s.study_name for s in _optuna().get_all_study_summaries(self._storage)}

    def finished(self, sweep, dataset_name: str) -> int:
        study = self.load(self.study_name(sweep.name, dataset_name), sweep)
        return len(_real(study, "COMPLETE", "PRUNED"))

    # --- running -------------------------------------------------------------------------------------------------

    def search(self, ctx) -> list[TrialResult]:
        """Queue the missing trials, run them here and in ``workers - 1`` more processes, return all trials."""
        optuna = _optuna()
        study = self.load(self.study_name(ctx.sweep.name, ctx.dataset), ctx.sweep, self.worker_index)
        optuna.storages.fail_stale_trials(study)
        ctx.listener.reconcile(_running(study))
        _fill_slots(study, ctx.sweep)
        helpers = [self._spawn(ctx, index) for index in range(1, self.workers)]
        try:
            self.work(study, ctx)
        except KeyboardInterrupt:  # a terminal's Ctrl-C reaches them too, a kill of this process alone does not
            for helper in helpers:
                helper.send_signal(INTERRUPTED.signum if INTERRUPTED.is_set() else signal.SIGINT)
            raise
        finally:
            for index, helper in enumerate(helpers, start=1):
                if helper.wait() != 0:  # its unfinished trial is retried once its heartbeat goes stale
                    print(f"sweeplab: worker {index} exited with status {helper.returncode}", file=sys.stderr)
            # Also after Ctrl-C: a process stopped between opening a trial's run and recording it leaves it RUNNING.
            ctx.listener.reconcile(_running(study))
        return [self.result(t, ctx.sweep) for t in _real(study, "COMPLETE", "PRUNED", "FAIL")]

    def join(self, ctx) -> None:
        """A helper's part: run queued trials of a study that another process opened."""
        self.work(self.load(self.study_name(ctx.sweep.name, ctx.dataset), ctx.sweep, self.worker_index), ctx)

    def work(self, study, ctx) -> None:
        """Run queued trials until none is left and none runs elsewhere (or the sweep's timeout passes)."""
        optuna = _optuna()
        deadline = time.monotonic() + ctx.sweep.timeout if ctx.sweep.timeout else None
        objective = _Objective(ctx, study)
        # Only our RDB storages send heartbeats: without them a dead trial would never go stale.
        watches = isinstance(self._storage, optuna.storages.RDBStorage)
        while deadline is None or time.monotonic() < deadline:
            if watches:  # a dead process's trial is queued again before this one asks for work
                optuna.storages.fail_stale_trials(study)
            waiting = len(_real(study, "WAITING"))
            if waiting:
                objective.run(min(ctx.sweep.fuse, waiting))
            elif watches and _real(study, "RUNNING"):
                # Another process's trial: if that process died, its heartbeat stops and the trial is queued again.
                time.sleep(min(self.heartbeat, 5))
            else:
                return

    def _spawn(self, ctx, index: int):
        command = [
            sys.executable, "-m", "sweeplab", "worker", ctx.sweep.name, "--dataset", ctx.dataset,
            "--storage", self.storage_url(), "--heartbeat", str(self.heartbeat), "--worker-index", str(index),
            "--workers", str(self.workers), *ctx.worker_args,
        ]
        return subprocess.Popen(command, env=os.environ.copy())

    @staticmethod
    def result(trial, sweep) -> TrialResult:
        state = {"COMPLETE": COMPLETE, "PRUNED": PRUNED}.get(trial.state.name, FAIL)
        lost = "the trial's process stopped (or its heartbeat came late)"
        note = trial.user_attrs.get(NOTE) or (None if state != FAIL else lost)
        return TrialResult(
            number=trial.number, params=sweep.configuration(chosen_from(trial.params)),
            fold_scores=tuple(trial.user_attrs.get(FOLD_SCORES, ())),
            fit_time=trial.user_attrs.get(FIT_TIME, 0.0), state=state, note=note,
            fold_measures=tuple(trial.user_attrs.get(FOLD_MEASURES, ())),
        )

    # --- after the search ----------------------------------------------------------------------------------------

    def figures(self, sweep, dataset_name: str) -> dict:
        """Optuna's plots of the study, by file name: PNG through matplotlib, HTML too when plotly is installed."""
        import matplotlib.pyplot as plt

        optuna = _optuna()
        study = self.load(self.study_name(sweep.name, dataset_name), sweep)
        figures = {}
        # Optuna draws through pyplot: interactive mode off so that a notebook does not show each plot, and its
        # notes on small studies silenced here only. The backend is the process's (Agg unless the user chose one).
        with plt.ioff(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=r"optuna\.")
            for plot in ("optimization_history", "param_importances", "parallel_coordinate", "slice"):
                # A plot can be impossible (importances need two finished trials that differ): leave it out.
                with contextlib.suppress(ValueError, RuntimeError, ZeroDivisionError):
                    axes = getattr(optuna.visualization.matplotlib, f"plot_{plot}")(study)
                    figures[f"{plot}.png"] = (axes.flatten()[0] if hasattr(axes, "flatten") else axes).figure
                if optuna.visualization.is_available():
                    with contextlib.suppress(ValueError, RuntimeError, ZeroDivisionError):
                        html = getattr(optuna.visualization, f"plot_{plot}")(study).to_html(include_plotlyjs="cdn")
                        figures[f"{plot}.html"] = html
        return figures


class _Objective:
    """Queued trials: suggest parameters, let the trainer run them, report their steps to the pruner, tell the
    study how each ended. Run here rather than by ``study.optimize``, which runs one trial at a time and cannot
    be told that the study no longer wants a result (see :meth:`_lost`)."""

    def __init__(self, ctx, study):
        self.ctx, self.study = ctx, study

    def run(self, size: int) -> None:
        """Up to ``size`` queued trials asked for at once and run as one group, which the trainer fuses where the
        models share a batch stream (``fuse``). The sampler proposes them all before hearing of any: the price
        of training them together. Each trial sends the heartbeat ``study.optimize`` would send."""
        from optuna.storages._heartbeat import get_heartbeat_thread  # what study.optimize runs around a trial
        from optuna.trial import TrialState

        optuna, trials = _optuna(), []
        for _ in range(size):
            with warnings.catch_warnings():
                # The heartbeats below are the ones optimize would run, which the warning asks for.
                warnings.filterwarnings("ignore", "Heartbeat of storage", UserWarning)
                trial = self.study.ask()
            try:
                self._claim(trial)
            except SurplusTrial:
                self.study.tell(trial, state=TrialState.FAIL)
                break
            trials.append(trial)
        with contextlib.ExitStack() as beating:
            for trial in trials:
                beating.enter_context(get_heartbeat_thread(trial._trial_id, self.study._storage))
            try:
                results = self.ctx.trainer.run_group([(t.number, suggest(self.ctx.sweep, t)) for t in trials],
                                                     [_Pruning(t, self.ctx.sweep) for t in trials])
            except KeyboardInterrupt as stopped:
                for trial in trials:
                    if getattr(stopped, "result", None) is not None and stopped.result.number == trial.number:
                        _record(trial, stopped.result)
                    self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
                raise
            except Exception as error:  # as study.optimize(catch=Exception) does: these trials fail, the rest run
                note = f"{type(error).__name__}: {error}".splitlines()[0]
                for trial in trials:
                    _record(trial, TrialResult(trial.number, {}, (), 0.0, FAIL, note))
                    self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
                    self._replace_failed()
                return
            for trial, result in zip(trials, results):
                if self._lost(trial):
                    continue
                try:
                    self.study.tell(trial, self._outcome(trial, result), skip_if_finished=True)
                except optuna.TrialPruned:
                    self.study.tell(trial, state=TrialState.PRUNED, skip_if_finished=True)
                except TrialFailed:
                    self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)

    def _lost(self, trial) -> bool:
        """Whether another process ended this trial meanwhile: on a loaded machine a heartbeat can come late, and
        a process that sees it late declares the trial dead and queues its parameters again (the retry
        callback). The study then holds the retry, not this result, which only the trial's MLflow run keeps."""
        return self.study._storage.get_trial(trial._trial_id).state.is_finished()

    def _claim(self, trial) -> None:
        if SLOT not in trial.user_attrs:
            trial.set_user_attr(SURPLUS, True)
            raise SurplusTrial("every queued trial was taken by another worker")
        with held_stop():
            trial.set_user_attr(WORKER, f"{socket.gethostname()}:{os.getpid()}")

    def _outcome(self, trial, result: TrialResult) -> float:
        """Record a finished trial on the study; its CV mean, or TrialPruned / TrialFailed."""
        optuna = _optuna()
        _record(trial, result)
        if result.state == PRUNED:
            raise optuna.TrialPruned(result.note)
        if result.state == FAIL:
            self._replace_failed()
            raise TrialFailed(result.note)
        if result.reused_from:  # the pruner compares trials step by step: give it the reused one's folds
            for fold in range(1, len(result.fold_scores) + 1):
                trial.report(statistics.fmean(result.fold_scores[:fold]), fold * _span(self.ctx.sweep))
        return result.mean

    def _replace_failed(self) -> None:
        sweep = self.ctx.sweep
        if sweep.sampler["name"] != "grid" and len(_real(self.study, "FAIL")) < sweep.trials:
            self.study.enqueue_trial({}, user_attrs={SLOT: True})


class TrialFailed(Exception):
    """A trial's fit failed; the message is its error (Optuna records the trial as FAIL)."""


class TrialLost(Exception):
    """The study ended this trial while it trained here (:meth:`_Objective._lost`); it stops, recorded as FAIL."""


class _Pruning(Judge):
    """Reports every epoch and fold to the study at its step (see the module's docstring); stops a trial the
    pruner cuts."""

    def __init__(self, trial, sweep):
        self.trial, self.metric, self.span = trial, sweep.metric, _span(sweep)

    def epoch(self, fold: int, epoch: int, value: float) -> None:
        self._report(value, (fold - 1) * self.span + epoch, f"fold {fold} epoch {epoch}")

    def fold(self, fold: int, running_mean: float) -> None:
        self._report(running_mean, fold * self.span, f"the end of fold {fold}")

    def _report(self, value: float, step: int, where: str) -> None:
        optuna = _optuna()
        try:
            with held_stop():  # a stop inside the storage's driver could leave the study's database locked
                self.trial.report(value, step)
                prune = self.trial.should_prune()
        except optuna.exceptions.UpdateFinishedTrialError:
            raise TrialLost("another worker saw its heartbeat late, declared it dead and queued its parameters "
                            "again") from None
        if prune:
            raise Stop(f"pruned at {where} ({self.metric} {value:.3f}, step {step})")


def _span(sweep) -> int:
    """Steps per fold: E epochs, then the running mean."""
    return sweep.max_epochs() + 1


def _record(trial, result: TrialResult | None) -> None:
    """What a worker joining later (or the sweep, reading the study back) needs of a trial."""
    if result is None:
        return
    # A trial the study ended meanwhile (_Objective._lost) refuses updates; it keeps what the study holds.
    with held_stop(), contextlib.suppress(_optuna().exceptions.UpdateFinishedTrialError):
        trial.set_user_attr(FOLD_SCORES, list(result.fold_scores))
        trial.set_user_attr(FOLD_MEASURES, list(result.fold_measures))
        trial.set_user_attr(FIT_TIME, result.fit_time)
        if result.note:
            trial.set_user_attr(NOTE, result.note)


# --- helpers --------------------------------------------------------------------------------------------------------


def _real(study, *states: str) -> list:
    """The study's trials in these states, leaving out the surplus ones that never ran."""
    from optuna.trial import TrialState

    wanted = tuple(TrialState[s] for s in states)
    return [t for t in study.get_trials(deepcopy=False, states=wanted) if not t.user_attrs.get(SURPLUS)]


def _running(study) -> set:
    return {t.number for t in _real(study, "RUNNING")}


def _grid(sweep) -> list[dict]:
    from sklearn.model_selection import ParameterGrid

    return list(ParameterGrid({name: p.grid_values() for name, p in sweep.searched().items()}))


def _fill_slots(study, sweep) -> None:
    """Queue what the study still lacks: the missing number of trials, or the grid points not yet taken."""
    if sweep.sampler["name"] == "grid":
        taken = [t.system_attrs.get("fixed_params", t.params) for t in _real(study, "COMPLETE", "PRUNED",
                                                                            "RUNNING", "WAITING")]
        for point in _grid(sweep):
            if point not in taken:
                study.enqueue_trial(point, user_attrs={SLOT: True})
        return
    missing = sweep.trials - len(_real(study, "COMPLETE", "PRUNED", "RUNNING", "WAITING"))
    for _ in range(missing):
        study.enqueue_trial({}, user_attrs={SLOT: True})


def _sampler(sweep, worker_index: int, workers: int):
    # The same seed in two workers would sample the same configurations.
    return optuna_settings.build("sampler", sweep.sampler, sweep, workers, seed=sweep.seed + worker_index)


def _pruner(sweep):
    return optuna_settings.build("pruner", sweep.pruner, sweep)


def _check_same_search(name: str, attrs: dict, sweep, dataset) -> None:
    if attrs.get(DATA_SHA) != dataset.integrity["sha256"]:
        raise SweepLabError(f"study {name}: its data had sha256 {attrs.get(DATA_SHA)}, "
                            f"{dataset.integrity['path']} now has {dataset.integrity['sha256']}; use --fresh")
    # Studies begun before sweeps had a metric ranked by accuracy.
    before, now = {"metric": "accuracy", **attrs.get(SWEEP_ATTR, {})}, sweep.to_dict()
    for key in sorted(set(before) | set(now)):
        if key not in MAY_CHANGE and before.get(key) != now.get(key):
            raise SweepLabError(f"study {name}: '{key}' was {before.get(key)!r} when the study began, now "
                                f"{now.get(key)!r}; run with --fresh to start a new study")


def _check_journal(path: Path) -> None:
    """A journal file that exists is one: its first line is one of Optuna's JSON operations (a file that is not
    would fail later, mid-sweep, with a decoding traceback)."""
    import json

    from sweeplab import files

    first = next(files.lines(path, "Optuna journal"), None) if path.exists() else None
    if first is None:  # a new or empty journal
        return
    try:
        record = json.loads(first[1])
    except ValueError:
        record = None
    if not isinstance(record, dict) or "op_code" not in record:
        raise SweepLabError(f"{path}:1: not an Optuna journal (expected one JSON operation per line)")


# --- what a study samples ----------------------------------------------------------------------------------------


def suggest(sweep, trial) -> dict:
    """An Optuna trial's choices: the family first, then the parameters that exist for it.

    A family's own parameters are named ``<family>.<name>`` in the study, so that two families may give the same
    parameter different ranges; :func:`chosen_from` reads them back.
    """
    chosen = {}
    if sweep.families:
        chosen["model"] = trial.suggest_categorical("model", list(sweep.families))
    family = sweep.families.get(chosen.get("model"), {})
    for name, param in sweep.searched(chosen.get("model")).items():
        chosen[name] = _suggest_one(param, trial, f"{chosen['model']}.{name}" if name in family else name)
    return chosen


def _suggest_one(param, trial, key: str):
    """Ask an Optuna trial for a parameter's value, under ``key`` in the study."""
    if param.values:
        return trial.suggest_categorical(key, list(param.values))
    if param.integer:
        return trial.suggest_int(key, int(param.low), int(param.high), step=int(param.step or 1), log=param.log)
    return trial.suggest_float(key, param.low, param.high, step=param.step, log=param.log)


def chosen_from(study_params: dict) -> dict:
    """The sweep's names for what :func:`suggest` chose."""
    return {key.split(".", 1)[-1]: value for key, value in study_params.items()}
