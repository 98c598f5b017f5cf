"""The engine contract: what a sweep file's ``engine:`` stands for, and what the queue asks of it.

An engine only proposes. The queue (:mod:`sweeplab.search.queue`) holds each dataset's search as a study on an
Optuna storage, its trials WAITING until a process takes them; whichever process takes a trial asks the engine
what it is (:meth:`Engine.choose`) and who may stop it early (:meth:`Engine.judge`), trains it, and tells the
study how it ended. So:

- **When the sweep file is read** (no data, store or heavy library touched): :meth:`Engine.validate` checks the
  options given under ``engine:``, :meth:`Engine.check_sweep` the sweep as a whole (a grid needs finite values).
  A problem is reported through ``fail(key, problem)``: one line naming the key.
- **Per process**, one engine object, used from the process's main thread only. It keeps no state between calls:
  everything a call needs is in the sweep (``sweep.engine_options``) and the study, which every process shares.
- **Who owns a RUNNING trial**: the process that took it from the queue, until it tells the study the trial's
  end. Another process may end it first, when its heartbeat came late (the queue stops it then); an engine never
  tells the study anything itself.

An engine whose candidates are known up front (:meth:`Engine.proposals` returns them) has each queued with its
configuration; one that proposes as it goes (Optuna's samplers) has empty slots queued and chooses when a process
takes one, through the sampler the study is loaded with (:meth:`Engine.sampler`).
"""

from __future__ import annotations

from sweeplab.tags import CHOSEN


class Stop(Exception):
    """Raised by a judge to end a trial early; the message says where (the trial is PRUNED)."""


class Judge:
    """Sees a trial's scores as they come; raises :class:`Stop` to end it. This one never does."""

    def epoch(self, fold: int, epoch: int, value: float) -> None:
        """``value``: the fold's validation score in the sweep's metric after ``epoch``."""

    def fold(self, fold: int, running_mean: float) -> None:
        """``running_mean``: the mean score of the folds finished so far."""


class Engine:
    """Base class of every engine; :func:`sweeplab.engines.register` names a subclass."""

    name = ""  # set by register()
    # Whether a dataset's study outlives the run that made it: a rerun then continues it (Optuna's sampler learns
    # from its trials). Otherwise each run queues its candidates anew, and a rerun reuses the store's finished
    # trials through their keys.
    resumable = False
    # Whether the sweep file's top-level ``sampler:`` and ``pruner:`` are this engine's options (Optuna's, as they
    # were before engines held their options); other engines leave them unread.
    takes_top_level_options = False

    # --- when the sweep file is read ---------------------------------------------------------------------------

    @classmethod
    def validate(cls, options: dict, fail) -> dict:
        """The options given under ``engine:`` (without ``name``), checked and with defaults filled in, as the
        sweep will hold them; ``fail(option, problem)`` names the option (``sampler.n_startup_trials``). This
        engine takes none."""
        for key in options:
            fail(key, f"engine {cls.name} takes no options")
        return {}

    @classmethod
    def check_sweep(cls, sweep, fail) -> None:
        """Refuse a sweep this engine cannot search."""

    # --- what a search holds -----------------------------------------------------------------------------------

    def planned(self, sweep) -> int:
        """How many trials a full search of this sweep has."""
        raise NotImplementedError

    def proposals(self, sweep) -> list[dict] | None:
        """Every configuration a full search will try, in order, when the engine knows them up front; None when
        it proposes as it goes."""
        return None

    def queued_params(self, chosen: dict) -> dict:
        """The Optuna parameters a known candidate is queued with (``study.enqueue_trial``'s): none, since the
        queue records the configuration itself; an engine whose sampler reads them returns them."""
        return {}

    def replaces_failures(self, sweep) -> bool:
        """Whether a failed trial is replaced by a new slot (a sampler may propose something that works); known
        candidates fail the same way twice."""
        return False

    # --- when a process takes a trial --------------------------------------------------------------------------

    def sampler(self, sweep, worker_index: int, workers: int):
        """The Optuna sampler a study of this sweep is loaded with in a process: it proposes only for an engine
        that proposes as it goes."""
        import optuna

        return optuna.samplers.RandomSampler(seed=sweep.seed + worker_index)

    def pruner(self, sweep):
        """The Optuna pruner a study of this sweep is loaded with."""
        import optuna

        return optuna.pruners.NopPruner()

    def choose(self, sweep, trial) -> dict:
        """The configuration of ``trial`` (an ``optuna.Trial`` this process took from the queue), in the sweep's
        names: the candidate it was queued with."""
        return dict(trial.user_attrs[CHOSEN])

    def recorded(self, trial) -> dict:
        """The configuration a finished trial (an ``optuna.trial.FrozenTrial``) ran, in the sweep's names."""
        return dict(trial.user_attrs.get(CHOSEN, {}))

    def judge(self, sweep, trial) -> Judge | None:
        """Who sees the trial's scores as they come and may stop it (None: nobody)."""
        return None
