"""What one dataset's search works with, in whichever process takes its trials."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field


@dataclass
class SearchContext:
    """Everything a search of one dataset needs: the training split, the folds, whom to tell, and which finished
    trials of earlier searches it may reuse."""

    sweep: object
    dataset: str
    X: object
    y: object
    cv: object
    listener: object  # a sweeplab.search.listener.Listener
    cv_key: str  # sweeplab.search.trial.cv_key of this dataset's search
    finished: dict = field(default_factory=dict)  # trial key -> sweeplab.search.trial.Finished
    worker_args: tuple = ()  # command-line options a helper process needs to report to the same place
    lookup: object = None  # trial key -> a Finished one since the search opened, or None (the trainer's lookup)

    @functools.cached_property
    def trainer(self):
        """The one trainer of this search in this process: engines propose, it trains (and reuses)."""
        from sweeplab.search.trainer import Trainer

        return Trainer(self, self.finished, self.lookup)
