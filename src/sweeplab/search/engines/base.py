"""The engine interface: what the sweep runner asks of an engine, and what an engine gets for one dataset."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field


@dataclass
class SearchContext:
    """Everything an engine needs for one dataset: the training split, the folds, whom to tell, and which
    finished trials of earlier searches it may reuse."""

    sweep: object
    dataset: str
    X: object
    y: object
    cv: object
    listener: object  # a sweeplab.search.listener.Listener
    cv_key: str  # sweeplab.search.trial.cv_key of this dataset's search
    finished: dict = field(default_factory=dict)  # trial key -> sweeplab.search.trial.Finished
    worker_args: tuple = ()  # command-line options a helper process needs to report to the same place

    @functools.cached_property
    def trainer(self):
        """The one trainer of this search in this process: engines propose, it trains (and reuses)."""
        from sweeplab.search.trainer import Trainer

        return Trainer(self, self.finished)


class Engine:
    """The narrow interface the sweep runner uses. The defaults describe an engine that keeps no state of its own
    between runs: its searches continue through trial reuse alone."""

    def planned(self, sweep) -> int:
        """How many trials a full search of this sweep has."""
        raise NotImplementedError

    def proposals(self, sweep) -> list[dict] | None:
        """Every configuration a full search will try, in order, when the engine knows them up front."""
        return None

    def check(self) -> None:
        """Fail before any training if the engine's own storage cannot be used."""

    def open(self, sweep, dataset) -> str | None:
        """Prepare the search of ``dataset``; an engine with state of its own returns a key that ties it to its
        MLflow parent run across runs."""
        return None

    def has_state(self, sweep, dataset_name: str) -> bool:
        """Whether earlier runs left state of the engine's own for this search (found without creating any)."""
        return False

    def finished(self, sweep, dataset_name: str) -> int:
        """Trials already finished in the engine's own state by earlier runs of the same search."""
        return 0

    def search(self, ctx: SearchContext) -> list:
        """Every trial of the search (:class:`~sweeplab.search.trial.TrialResult`), each run by ``ctx.trainer``."""
        raise NotImplementedError

    def figures(self, sweep, dataset_name: str) -> dict:
        """Diagnostic plots by file name."""
        return {}
