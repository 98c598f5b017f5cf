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
from dataclasses import dataclass
from pathlib import Path

from sweeplab.errors import INTERRUPTED
from sweeplab.processes import dead_here
from sweeplab.search.queue import helpers, storage, study
from sweeplab.urls import local_file
from sweeplab.search.queue.study import LOST, real, running, study_name
from sweeplab.search.queue.worker import work
from sweeplab.search.trial import TrialResult
from sweeplab.tags import RESUME, WORKER

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

    def storage_url(self) -> str:
        return self.storage or storage.default_url(self.local_dir)

    @functools.cached_property
    def _storage(self):
        return storage.open_storage(self.storage_url(), self.heartbeat)

    def check(self) -> None:
        """Before anything trains: a local storage is writable and not full, a database storage opens."""
        storage.check_local(self.storage_url())
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

    def open(self, sweep, dataset) -> str:
        """Create, continue or queue anew the dataset's study; return the key that ties it to its MLflow parent."""
        hint = (f"add workers with 'sweeplab worker {sweep.name} --storage {self.storage_url()}'")
        return study.open_study(self._storage, self.engine, sweep, dataset, self.fresh, hint)

    def search(self, ctx) -> list[TrialResult]:
        """Queue what the search lacks, run it here and in ``workers - 1`` helper processes, return its trials."""
        sweep = ctx.sweep
        found = self._load(sweep, ctx.dataset)
        storage.optuna().storages.fail_stale_trials(found)
        _fail_dead_here(found)
        ctx.listener.reconcile(running(found))
        study.fill(found, self.engine, sweep)
        started = [helpers.spawn(ctx, index, self) for index in range(1, self.workers)]
        try:
            work(found, self._storage, ctx, self.engine, self.heartbeat, _deadline(sweep))
        except KeyboardInterrupt:  # a terminal's Ctrl-C reaches them too, a kill of this process alone does not
            for helper in started:
                helper.send_signal(INTERRUPTED.signum if INTERRUPTED.is_set() else signal.SIGINT)
            raise
        finally:
            for index, helper in enumerate(started, start=1):
                if helper.wait() != 0:  # its unfinished trial is retried once its heartbeat goes stale
                    print(f"sweeplab: worker {index} exited with status {helper.returncode}", file=sys.stderr)
            # Also after Ctrl-C: a process stopped between opening a trial's run and recording it leaves it RUNNING.
            ctx.listener.reconcile(running(found))
            study.release(found)
        return study.results(found, self.engine, sweep)

    def figures(self, sweep, dataset_name: str) -> dict:
        return self.engine.figures(sweep, self._load(sweep, dataset_name))

    # --- a joining process --------------------------------------------------------------------------------------

    def joinable(self, sweep_name: str, dataset_name: str | None = None) -> list[tuple[dict, dict]]:
        return study.joinable(self._storage, sweep_name, dataset_name)

    def resume_key(self, sweep, dataset_name: str) -> str:
        return self._load(sweep, dataset_name).user_attrs[RESUME]

    def join(self, ctx) -> None:
        """A helper's part: run waiting trials of a study that another process opened."""
        found = self._load(ctx.sweep, ctx.dataset)
        work(found, self._storage, ctx, self.engine, self.heartbeat, _deadline(ctx.sweep))

    def _load(self, sweep, dataset_name: str):
        return study.load(self._storage, self.engine, sweep, dataset_name, self.worker_index, self.workers)


def _deadline(sweep) -> float | None:
    return time.monotonic() + sweep.timeout if sweep.timeout else None


def _fail_dead_here(found) -> None:
    """Fail now, and queue again, the RUNNING trials of a process of this machine that no longer exists (a
    killed sweep being rerun), rather than waiting for their heartbeats to go stale."""
    module = storage.optuna()
    for trial in real(found, "RUNNING"):
        if dead_here(trial.user_attrs.get(WORKER, "")):
            found.tell(trial.number, state=module.trial.TrialState.FAIL, skip_if_finished=True)
            retry = module.storages.RetryHeartbeatStaleTrialCallback(max_retry=storage.RETRIES)
            retry(found, found.get_trials(deepcopy=False)[trial.number])
