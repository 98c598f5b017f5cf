"""One queue for every engine: per dataset, a study on an Optuna storage whose WAITING trials any number of
processes, on any number of machines, take, train and report.

An engine (:mod:`sweeplab.engines`) proposes: its known candidates are queued with their configurations, in their
order, or empty slots are queued for a sampler to fill as processes take them. The sweep's process queues what the
search lacks (:func:`.study.fill`), starts ``workers - 1`` helper processes (``sweeplab worker``) and works on the
queue itself (:mod:`.worker`); ``sweeplab worker`` from another shell or machine joins the same queue. The trials
are then read back from the study: one per candidate, a killed trial's retry in its place, so the total is exact.

- :mod:`.storage`: the Optuna storage (SQLite beside the MLflow store by default, PostgreSQL for machines);
- :mod:`.study`: a dataset's study, what it remembers and what it lacks;
- :mod:`.worker`: the loop that takes trials, with heartbeats and the surplus and lost-trial rules;
- :mod:`.helpers`: the helper processes a sweep starts.
"""

from __future__ import annotations

import functools
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sweeplab.errors import INTERRUPTED
from sweeplab.processes import dead_here
from sweeplab.search.queue import helpers, storage, study
from sweeplab.search.queue.study import LOST, real, running, study_name
from sweeplab.search.queue.worker import work
from sweeplab.search.trial import TrialResult
from sweeplab.tags import RESUME, WORKER
from sweeplab.urls import local_file

__all__ = ["Queue", "study_name", "LOST"]


@dataclass
class Queue:
    """The queue of a sweep's searches in this process. ``worker_index`` 0 is the sweep's own process; its
    helpers and joining workers count from 1 (it seeds their samplers apart)."""

    engine: object  # a sweeplab.engines.Engine
    storage: str | None = None
    fresh: bool = False
    workers: int = 1
    heartbeat: int = 30
    local_dir: Path | None = None  # where the default SQLite storage lives
    worker_index: int = 0

    def __post_init__(self):
        if self.storage is not None:
            storage.check_url(self.storage)
        self._claimed = set()  # the studies this process's sweep has claimed

    def storage_url(self) -> str:
        return self.storage or storage.default_url(self.local_dir)

    @functools.cached_property
    def _storage(self):
        return storage.open_storage(self.storage_url(), self.heartbeat)

    def check(self) -> None:
        """Before anything trains: a local storage is writable and not full, a database storage opens."""
        storage.check_usable(self.storage_url())
        self._storage  # noqa: B018 (opening it reports an unreachable database as one line)

    # --- what the engine plans ----------------------------------------------------------------------------------

    def planned(self, sweep) -> int:
        return self.engine.planned(sweep)

    def proposals(self, sweep) -> list[dict] | None:
        return self.engine.proposals(sweep)

    def has_state(self, sweep, dataset_name: str) -> bool:
        """Whether a resumable engine's study of the dataset exists, found without creating a storage or a study."""
        local = local_file(self.storage_url())
        if not self.engine.resumable or (local is not None and not local.exists()):
            return False
        return study_name(sweep.name, dataset_name) in study.names(self._storage)

    def finished(self, sweep, dataset_name: str) -> int:
        """Trials an earlier run of a resumable search finished (a rerun of any other queues anew)."""
        if not self.has_state(sweep, dataset_name):
            return 0
        return len(real(self._load(sweep, dataset_name), "COMPLETE", "PRUNED"))

    # --- the sweep's process ------------------------------------------------------------------------------------

    def check_studies(self, sweep, datasets) -> None:
        """Before anything trains: each dataset's study may be opened by this sweep (not run by another, the same
        search where one is continued); each is claimed for it (:meth:`let_go` ends every claim)."""
        for dataset in datasets:
            self._claimed.add(study_name(sweep.name, dataset.name))
            study.check(self._storage, self.engine, sweep, dataset, self.fresh, self._join_hint(sweep))

    def let_go(self) -> None:
        """This process's sweep is over, however it ended: no study stays claimed by it (a stop or an error before a
        dataset's search began left its claim, which a notebook's live process would hold for good)."""
        for name in sorted(self._claimed):
            study.release_claim(self._storage, name)
        self._claimed.clear()

    def open(self, sweep, dataset) -> str:
        """Create, continue or queue anew the dataset's study; return the key that ties it to its MLflow parent."""
        self._claimed.add(study_name(sweep.name, dataset.name))
        return study.open_study(self._storage, self.engine, sweep, dataset, self.fresh, self._join_hint(sweep))

    def _join_hint(self, sweep) -> str:
        return f"add workers with 'sweeplab worker {sweep.name} --storage {self.storage_url()}'"

    def searches(self, contexts: list) -> Iterator[tuple[object, list[TrialResult]]]:
        """Each dataset's trials (``contexts``: one per dataset, its study opened), dataset by dataset. Every queue is
        filled first and the ``workers - 1`` helper processes work on them all, so that nothing waits for one
        dataset while another has trials waiting; this process, while a dataset's last trials run elsewhere, takes
        the next datasets' trials. A dataset's trials come as soon as none of them runs any more: its refit then
        overlaps the helpers' work on the next ones. Use it under ``contextlib.closing``."""
        studies = [self._prepare(ctx) for ctx in contexts]
        started = [helpers.spawn(contexts, index, self) for index in range(1, self.workers)]
        held, stopped = list(zip(contexts, studies)), False
        try:
            while held:
                ctx, found = held[0]
                work([(s, c) for c, s in held], self._storage, self.engine, self.heartbeat, _deadline(ctx.sweep))
                _let_go(self._storage, *held.pop(0))
                yield ctx, study.results(found, self.engine, ctx.sweep)
        except BaseException as error:  # also GeneratorExit: the caller failed (or was stopped) with the rest
            # A terminal's Ctrl-C reaches the helpers too, a kill of this process alone does not.
            stopped = True
            signum = INTERRUPTED.signum if INTERRUPTED.is_set() else \
                signal.SIGINT if isinstance(error, KeyboardInterrupt) else signal.SIGTERM
            for helper in started:
                helper.send_signal(signum)
            raise
        finally:
            for index, helper in enumerate(started, start=1):
                if helper.wait() != 0 and not stopped:  # its unfinished trial is retried once its heartbeat is stale
                    print(f"sweeplab: worker {index} exited with status {helper.returncode}", file=sys.stderr)
            for ctx, found in held:
                _let_go(self._storage, ctx, found)

    def search(self, ctx) -> list[TrialResult]:
        """One dataset's search (:meth:`searches` of one)."""
        [(_, trials)] = list(self.searches([ctx]))
        return trials

    def _prepare(self, ctx):
        """The dataset's study, its dead trials failed and queued again, and what it lacks queued."""
        found = self._load(ctx.sweep, ctx.dataset)
        storage.optuna().storages.fail_stale_trials(found)
        _fail_dead_here(found)
        ctx.listener.reconcile(running(found))
        study.fill(found, self.engine, ctx.sweep)
        return found

    # --- a joining process --------------------------------------------------------------------------------------

    def joinable(self, sweep_name: str, datasets: list | None = None) -> list[tuple[dict, dict, str]]:
        return study.joinable(self._storage, sweep_name, datasets)

    def resume_key(self, sweep, dataset_name: str) -> str:
        return self._load(sweep, dataset_name).user_attrs[RESUME]

    def join(self, contexts: list) -> None:
        """A helper's part: run waiting trials of the studies (one context each, in the sweep's order) that
        another process opened, until none waits and none runs."""
        entries = [(self._load(ctx.sweep, ctx.dataset), ctx) for ctx in contexts]
        work(entries, self._storage, self.engine, self.heartbeat, _deadline(contexts[0].sweep), until_first=False)

    def _load(self, sweep, dataset_name: str):
        return study.load(self._storage, self.engine, sweep, dataset_name, self.worker_index, self.workers)


def _deadline(sweep) -> float | None:
    return time.monotonic() + sweep.timeout if sweep.timeout else None


def _let_go(found_storage, ctx, found) -> None:
    """This process is done with the dataset's study: close the runs of trials that no longer run anywhere (a
    process stopped between opening a trial's run and recording it leaves it RUNNING), and release the study."""
    ctx.listener.reconcile(running(found))
    study.release(found_storage, found)


def _fail_dead_here(found) -> None:
    """Fail now, and queue again, the RUNNING trials of a process of this machine that no longer exists (a
    killed sweep being rerun), rather than waiting for their heartbeats to go stale."""
    module = storage.optuna()
    for trial in real(found, "RUNNING"):
        if dead_here(trial.user_attrs.get(WORKER, "")):
            found.tell(trial.number, state=module.trial.TrialState.FAIL, skip_if_finished=True)
            retry = module.storages.RetryHeartbeatStaleTrialCallback(max_retry=storage.RETRIES)
            retry(found, found.get_trials(deepcopy=False)[trial.number])
