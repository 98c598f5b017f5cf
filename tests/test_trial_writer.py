"""The trial writer on its own, against a real SQLite MLflow store: one child run per trial, written as the trial
goes, named with its score, closed however it ends; and what the end-to-end sweeps cannot stage (a dead worker's
trials, a flush on the clock)."""

import math

import pytest

from sweeplab.search.trial import COMPLETE, FAIL, TrialResult
from sweeplab.statistics import corrected_interval
from sweeplab.tags import KIND, NOTE, PARENT, REUSED_FROM, SOURCE, STATE, TRIAL, TRIAL_KEY
from sweeplab.tracking import Tracker, trial_writer
from sweeplab.tracking.outbox import Outbox

FOLDS = ({"accuracy": 0.8, "macro_f1": 0.7}, {"accuracy": 0.9, "macro_f1": 0.8})


@pytest.fixture
def writer(tmp_path):
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client = tracker.client
    experiment = client.create_experiment("unit")
    parent = client.create_run(experiment, run_name="yelp").info.run_id
    made = trial_writer.TrialWriter(Outbox(client, tracker.uri), parent, experiment,
                                    {SOURCE: "yelp", KIND: "dataset"}, "accuracy")
    made.baseline_cv = 0.75
    return made


def run(writer, number: int):
    """Trial ``number``'s run as the store has it (the writer holds the outbox's handle to it)."""
    return writer.client.get_run(writer.child_ids[number].run_id)


def trial(number=0, state=COMPLETE, scores=(0.8, 0.9), **kwargs):
    return TrialResult(number, {"num_filters": 8}, scores, 1.5, state, fold_measures=FOLDS[:len(scores)], **kwargs)


def test_a_trial_run_lives_from_its_start_to_its_score(writer):
    client = writer.client
    writer.trial_started(0, {"num_filters": 8})
    run_id = writer.child_ids[0].run_id
    running = client.get_run(run_id)
    assert running.info.status == "RUNNING" and running.info.run_name == "yelp trial 0 (running)"
    assert running.data.tags[PARENT] == writer.parent_id and running.data.tags[KIND] == "trial"
    assert running.data.tags[TRIAL] == "0" and running.data.params == {"num_filters": "8"}
    writer.epoch_done(0, 1, 1, 0.7)  # buffered: the clock has not come round yet
    writer.fold_done(0, 1, {}, 0.8, FOLDS[0])  # the fold and its curve, at once
    metrics = client.get_run(run_id).data.metrics
    assert metrics == {"fold_1_accuracy": 0.8, "fold_1_macro_f1": 0.7, "fold_1_val_accuracy": 0.7}
    writer.fold_done(0, 2, {}, 0.9, FOLDS[1])
    writer.trial_finished(trial(key="k1"))
    done = client.get_run(run_id)
    assert done.info.status == "FINISHED" and done.info.run_name == "cv 0.850±0.050 yelp trial 0"
    assert done.data.tags[STATE] == "COMPLETE" and done.data.tags[TRIAL_KEY] == "k1"
    assert done.data.metrics["cv_accuracy_mean"] == pytest.approx(0.85)
    assert done.data.metrics["lift_cv"] == pytest.approx(0.10) and done.data.metrics["baseline_cv_accuracy"] == 0.75
    assert done.data.metrics["cv_macro_f1_mean"] == pytest.approx(0.75)
    interval = (done.data.metrics["cv_accuracy_ci_low"], done.data.metrics["cv_accuracy_ci_high"])
    assert interval == pytest.approx(corrected_interval([0.8, 0.9], folds=2))


def test_the_curve_reaches_the_store_every_few_seconds(writer, monkeypatch):
    clock = [10_000]
    monkeypatch.setattr(trial_writer, "now", lambda: clock[0])
    writer.trial_started(0, {})
    for epoch, at in enumerate((10_000, 10_500, 11_000, 12_000, 12_500), start=1):
        clock[0] = at
        writer.epoch_done(0, 1, epoch, epoch / 10)
    history = writer.client.get_metric_history(writer.child_ids[0].run_id, "fold_1_val_accuracy")
    # Written with the first epoch, then once EPOCH_FLUSH_S (2 s) had passed: epochs 2 to 4 together at 12.0 s;
    # epoch 5 waits for the next flush, or its fold's end.
    assert sorted(m.step for m in history) == [1, 2, 3, 4] and trial_writer.EPOCH_FLUSH_S == 2.0
    writer.fold_done(0, 1, {}, 0.5, FOLDS[0])
    assert len(writer.client.get_metric_history(writer.child_ids[0].run_id, "fold_1_val_accuracy")) == 5


def test_a_failed_trial_is_failed_and_a_reused_one_repeats_its_folds(writer):
    writer.trial_started(0, {})
    writer.trial_finished(trial(0, FAIL, scores=(math.nan,), note="ValueError: kernel wider than the sequence"))
    failed = run(writer, 0)
    assert failed.info.status == "FAILED" and failed.info.run_name == "fail yelp trial 0"
    assert failed.data.tags[NOTE].startswith("ValueError") and "cv_accuracy_mean" not in failed.data.metrics
    writer.trial_finished(trial(1, reused_from="abc123"))  # never started here: its run is made at its end
    reused = run(writer, 1)
    assert reused.info.run_name == "cv 0.850±0.050 yelp trial 1 (reused)" and reused.data.tags[REUSED_FROM] == "abc123"
    assert reused.data.metrics["fold_2_accuracy"] == 0.9 and reused.data.params == {"num_filters": "8"}


def test_trials_that_stopped_running_are_closed_as_killed(writer):
    for number in range(3):
        writer.trial_started(number, {})
    writer.trial_finished(trial(0))
    assert writer.reconcile(live={2}) == 1  # trial 1's process died; trial 2 still runs elsewhere
    states = {n: run(writer, n).info.status for n in range(3)}
    assert states == {0: "FINISHED", 1: "KILLED", 2: "RUNNING"}
    assert run(writer, 1).data.tags[NOTE].startswith("abandoned")
    writer.close_open_children()  # a stop signal: what this process opened and did not close
    assert run(writer, 2).info.status == "KILLED"
    assert run(writer, 0).info.status == "FINISHED"
