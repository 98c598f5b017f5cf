"""Where results go: MLflow. The store (:mod:`.store`), a dataset's parent run (:mod:`.dataset_run`) and its trial
runs written as they go (:mod:`.trial_writer`) through a write queue that outlasts a server's absence
(:mod:`.outbox`), runs read back fast (:mod:`.reader`), a run's life (:mod:`.runs`), figures (:mod:`.figures`) and a
retrain's run (:mod:`.retrain_run`)."""

from sweeplab.tracking.dataset_run import DatasetRun
from sweeplab.tracking.reader import SqliteRuns
from sweeplab.tracking.store import Tracker, default_tracking_uri, resolve_uri, run_url, ui_url
from sweeplab.tracking.trial_writer import TrialWriter

__all__ = ["DatasetRun", "SqliteRuns", "Tracker", "default_tracking_uri", "resolve_uri", "run_url", "ui_url",
           "TrialWriter"]
