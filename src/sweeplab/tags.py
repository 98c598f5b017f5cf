"""Every name sweeplab writes into MLflow (run tags) and Optuna (study and trial attributes), in one place.

Readers (leaderboard, export, the reuse lookup) and writers (tracking, the Optuna engine) import them from here, so
a name cannot drift between the side that writes it and the side that reads it.
"""

PREFIX = "sweeplab."

# --- MLflow run tags ----------------------------------------------------------------------------------------------
KIND = PREFIX + "kind"  # "sweep" on an experiment; "dataset", "trial" or "retrain" on a run
SWEEP, SOURCE, MODEL, ENGINE = PREFIX + "sweep", PREFIX + "source", PREFIX + "model", PREFIX + "engine"
TRIALS, DATA_SHA = PREFIX + "trials", PREFIX + "data_sha256"
METRIC = PREFIX + "metric"  # the metric a dataset run ranks by
STATE, NOTE, TRIAL = PREFIX + "state", PREFIX + "note", PREFIX + "trial"
BEST = PREFIX + "best"  # "true" on the trial the sweep refit and tested: the best, or the simplest of the tied
TIED = PREFIX + "tied"  # "true" on a trial its dataset's compare test cannot tell apart from the best
SELECTED = PREFIX + "selected"  # on a dataset run: the number of the trial it refit
RESUME = PREFIX + "study_key"  # ties an Optuna study to its MLflow parent run
WORKER = PREFIX + "worker"  # host:pid of the process that ran a run
TRIAL_KEY = PREFIX + "trial_key"  # what determines a trial's result, hashed (sweeplab.search.trial.trial_key)
CV_KEY = PREFIX + "cv_key"  # the dataset, split and folds part of it: finds a dataset's reusable trials at once
REUSED_FROM = PREFIX + "reused_from"  # the run whose result a reused trial's run repeats
EXPERIMENT_FILE = PREFIX + "experiment_file"
PARENT = "mlflow.parentRunId"  # MLflow's own
# Where a run came from (sweeplab.versions.provenance): MLflow's own names, which its UI shows, and whether the
# checkout had changes not committed.
SOURCE_TYPE, SOURCE_NAME, GIT_COMMIT = "mlflow.source.type", "mlflow.source.name", "mlflow.source.git.commit"
GIT_DIRTY = PREFIX + "git_dirty"

# --- Optuna attributes --------------------------------------------------------------------------------------------
SLOT, SURPLUS = PREFIX + "slot", PREFIX + "surplus"  # a queued trial; one that lost the race for its slot
CHOSEN, CANDIDATE = PREFIX + "chosen", PREFIX + "candidate"  # a trial's configuration; a known candidate's index
OWNER = PREFIX + "owner"  # host:pid of the sweep running a study, while it runs
ENGINE_ATTR = PREFIX + "engine"  # the engine whose candidates a study queues
SWEEP_ATTR, DATA_ATTR = PREFIX + "sweep", PREFIX + "dataset"  # a study's resolved sweep and data reference
FOLD_SCORES, FOLD_MEASURES = PREFIX + "fold_scores", PREFIX + "fold_measures"
FIT_TIME = PREFIX + "fit_time"
