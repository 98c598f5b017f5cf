"""The optuna engine for real: SQLite studies, resume, killed and parallel workers, pruning, seeds."""

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import optuna
import pytest
from mlflow import MlflowClient

from sweeplab.cli import main
from sweeplab.tags import KIND, NOTE, PARENT, REUSED_FROM, STATE, TRIAL, TRIAL_KEY

pytestmark = pytest.mark.integration


def reviews_csv(directory, rows=80):
    """A two-class set a small model learns in a couple of epochs."""
    rng = np.random.default_rng(0)
    filler = ["the", "film", "was", "plot", "and", "acting", "really", "quite"]
    lines = ["text,label"]
    for i in range(rows):
        words = list(rng.choice(filler, size=5)) + ["great" if i % 2 else "awful"] * 2
        rng.shuffle(words)
        lines.append(f"{' '.join(words)},{i % 2}")
    path = directory / "reviews.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def sweep_yaml(directory, trials=3, extra="", space="learning_rate: {low: 0.003, high: 0.03, log: true}",
               name="tiny_optuna", model="embedding_pool"):
    path = directory / f"{name}.yaml"
    path.write_text(textwrap.dedent(f"""
        name: {name}
        model: {model}
        engine: optuna
        trials: {trials}
        folds: 2
        seed: 5
        fit: {{epochs: 3, batch_size: 16}}
        space:
          embedding_dim: [4, 8]
          maxlen: 8
          {space}
    """) + textwrap.dedent(extra))
    return path


class Sweep:
    """The command line with one store and one storage per test."""

    def __init__(self, tmp_path, rows=80, **yaml):
        self.tmp = tmp_path
        self.uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
        self.storage = f"sqlite:///{tmp_path / 'optuna.db'}"
        self.args = ["sweep", str(sweep_yaml(tmp_path, **yaml)), "--data", str(reviews_csv(tmp_path, rows)),
                     "--tracking-uri", self.uri, "--storage", self.storage]

    def __call__(self, *extra) -> int:
        return main([*self.args, *extra])

    def study(self):
        return optuna.load_study(study_name="tiny_optuna-reviews", storage=self.storage)

    def finished(self):
        return [t for t in self.study().trials if t.state.name in ("COMPLETE", "PRUNED")]

    def children(self):
        client = MlflowClient(self.uri)
        ids = [e.experiment_id for e in client.search_experiments()]
        return client.search_runs(ids, f"tags.`{KIND}` = 'trial'")

    def parents(self):
        client = MlflowClient(self.uri)
        ids = [e.experiment_id for e in client.search_experiments()]
        return client.search_runs(ids, f"tags.`{KIND}` = 'dataset'")


def test_rerunning_continues_the_study_to_its_total(tmp_path):
    sweep = Sweep(tmp_path)
    assert sweep("--trials", "3") == 0
    assert len(sweep.finished()) == 3
    assert sweep("--trials", "5") == 0
    assert len(sweep.finished()) == 5
    children = sweep.children()
    assert sorted(int(c.data.tags[TRIAL]) for c in children) == [0, 1, 2, 3, 4]  # no duplicates
    (parent,) = sweep.parents()  # one parent: the resumed study kept its run
    assert {c.data.tags[PARENT] for c in children} == {parent.info.run_id}
    assert parent.info.status == "FINISHED" and parent.data.metrics["trials"] == 5
    assert sweep("--trials", "5") == 0 and len(sweep.finished()) == 5  # nothing left to do


def test_children_carry_epoch_curves_and_states(tmp_path):
    sweep = Sweep(tmp_path)
    assert sweep() == 0
    client = MlflowClient(sweep.uri)
    child = sweep.children()[0]
    curve = client.get_metric_history(child.info.run_id, "fold_1_val_accuracy")
    assert [m.step for m in curve] == [1, 2, 3]
    assert child.data.tags[STATE] in ("COMPLETE", "PRUNED")
    artifacts = {a.path for a in client.list_artifacts(sweep.parents()[0].info.run_id)}
    assert {"report.html", "report.md"} <= artifacts  # its figures, as for every engine (sweeplab.results.report)


def test_a_settings_change_needs_fresh(tmp_path, capsys):
    sweep = Sweep(tmp_path, trials=1)
    assert sweep() == 0
    assert sweep("--epochs", "2") == 2
    assert "'space' was" in capsys.readouterr().err
    assert sweep("--epochs", "2", "--fresh") == 0
    assert len(sweep.finished()) == 1


def test_the_same_seed_samples_the_same_parameters(tmp_path):
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        sweep = Sweep(tmp_path / name)
        assert sweep() == 0
        runs.append([t.params for t in sorted(sweep.study().trials, key=lambda t: t.number)])
    assert runs[0] == runs[1] and len(runs[0]) == 3


def test_two_workers_finish_the_total_exactly(tmp_path):
    sweep = Sweep(tmp_path, trials=4)
    assert sweep("--workers", "2") == 0
    assert len(sweep.finished()) == 4
    children = sweep.children()
    assert all(c.info.status != "RUNNING" for c in children)
    assert sorted(c.data.tags[TRIAL] for c in children if c.info.status == "FINISHED") == \
        sorted(str(t.number) for t in sweep.finished())


def test_a_hopeless_region_is_pruned(tmp_path):
    # learning_rate 1e-7 never leaves chance level; the pruner must stop it in its first fold.
    sweep = Sweep(tmp_path, rows=200, trials=8, space="learning_rate: [0.05, 1.0e-7]",
                  extra="sampler: random\npruner: {name: median, n_startup_trials: 1, n_warmup_steps: 0}\n")
    assert sweep() == 0
    hopeless = [t for t in sweep.study().trials if t.params["learning_rate"] == 1e-7]
    assert len(hopeless) >= 3
    assert sum(t.state.name == "COMPLETE" for t in hopeless) <= 1  # at most a startup trial runs to the end
    notes = [c.data.tags[NOTE] for c in sweep.children()
             if c.data.tags[STATE] == "PRUNED" and c.data.params["learning_rate"] == "1e-07"]
    assert notes and all(n.startswith("pruned at fold 1 epoch") for n in notes)


def test_every_trial_failing_exits_nonzero_with_the_error(tmp_path, capsys):
    # A convolution wider than the sequences: valid values each, impossible together, so every fit fails.
    sweep = Sweep(tmp_path, trials=2, model="cnn", space="kernel_size: [20]")
    assert sweep() == 1
    # Failed trials are replaced while earlier failures are fewer than `trials`: 2 slots + 2 replacements.
    assert "all 4 trials failed; first error: ValueError" in capsys.readouterr().err
    assert all(c.info.status == "FAILED" for c in sweep.children())


def test_grid_sampler_runs_each_point_once(tmp_path):
    sweep = Sweep(tmp_path, trials=99, space="learning_rate: [0.01, 0.03]", extra="sampler: grid\n")
    assert sweep() == 0
    points = sorted((t.params["embedding_dim"], t.params["learning_rate"]) for t in sweep.finished())
    assert points == [(4, 0.01), (4, 0.03), (8, 0.01), (8, 0.03)]


def running_children(uri):
    database = uri[len("sqlite:///"):]
    if not os.path.exists(database):
        return 0
    with sqlite3.connect(database) as db:
        try:
            return db.execute("SELECT count(*) FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
                              "WHERE r.status = 'RUNNING' AND t.key = ? AND t.value = 'trial'",
                              (KIND,)).fetchone()[0]
        except sqlite3.OperationalError:  # MLflow has created the file but not its tables yet
            return 0


def _stop_signals_default():
    for stop in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop, signal.SIG_DFL)


def start_and_stop_mid_trial(sweep, stop_signal, *extra):
    command = [sys.executable, "-m", "sweeplab", *sweep.args, *extra]
    # sweeplab keeps a stop signal its caller ignores ignored (nohup, a shell's background job): give the sweep
    # the dispositions of a foreground command, whatever those of the test run are.
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               preexec_fn=_stop_signals_default)
    deadline = time.monotonic() + 120
    while running_children(sweep.uri) == 0:  # wait until a trial is mid-way
        assert process.poll() is None and time.monotonic() < deadline, "no trial started"
        time.sleep(0.2)
    process.send_signal(stop_signal)
    return process.wait(timeout=120)


def test_ctrl_c_stops_cleanly_and_the_rerun_finishes(tmp_path):
    sweep = Sweep(tmp_path, trials=4)
    assert start_and_stop_mid_trial(sweep, signal.SIGINT, "--workers", "2") == 130
    assert running_children(sweep.uri) == 0
    assert [p.info.status for p in sweep.parents()] == ["KILLED"]
    assert sweep() == 0
    assert len(sweep.finished()) == 4 and running_children(sweep.uri) == 0
    assert [p.info.status for p in sweep.parents()] == ["FINISHED"]


def test_a_killed_sweep_resumes_and_leaves_nothing_running(tmp_path):
    sweep = Sweep(tmp_path, trials=4)
    start_and_stop_mid_trial(sweep, signal.SIGKILL, "--heartbeat", "1")
    assert running_children(sweep.uri) == 1
    time.sleep(3)  # past the grace period (2 heartbeats) so the trial counts as dead

    assert sweep("--heartbeat", "1") == 0
    assert len(sweep.finished()) == 4
    assert running_children(sweep.uri) == 0
    killed = [c for c in sweep.children() if c.info.status == "KILLED"]
    assert len(killed) == 1 and killed[0].data.tags[NOTE].startswith("abandoned")
    assert all(p.info.status == "FINISHED" for p in sweep.parents())


def test_make_dashboard_serves_the_studies(tmp_path, serve):
    from tests.conftest import ROOT, free_port

    sweep = Sweep(tmp_path, trials=1)
    assert sweep() == 0
    port = free_port()
    answer = serve(["make", "-s", "-C", str(ROOT), "dashboard", f"STORAGE={sweep.storage}",
                    f"DASHBOARD_PORT={port}"], f"http://127.0.0.1:{port}/api/studies")
    assert [s["study_name"] for s in answer["study_summaries"]] == ["tiny_optuna-reviews"]


def test_storage_in_a_new_directory_and_unusable_storages(tmp_path, capsys):
    sweep = Sweep(tmp_path, trials=1)
    fresh_dir = f"sqlite:///{tmp_path / 'new' / 'dir' / 'optuna.db'}"
    args = [a if a != sweep.storage else fresh_dir for a in sweep.args]
    assert main(args) == 0 and (tmp_path / "new" / "dir" / "optuna.db").exists()

    args = [a if a != sweep.storage else "postgresql://nobody@127.0.0.1:1/none" for a in sweep.args]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("sweeplab: error: --storage postgresql://nobody@127.0.0.1:1/none: no database answers")


@pytest.mark.parametrize("fuse", [1, 3])
def test_a_trial_another_worker_declared_dead_is_run_again_and_the_sweep_goes_on(tmp_path, fuse):
    """A loaded machine can send a heartbeat late: another process then marks this process's trial FAIL and
    queues its parameters again while it still trains. This process must drop that trial's result and carry on,
    not crash on the study's refusal of its report. The other process is played by a thread here, which makes
    the trial's heartbeat an hour old (with 30 s heartbeats, the trial's own thread does not beat meanwhile)."""
    import threading

    sweep = Sweep(tmp_path, trials=3, extra=f"fuse: {fuse}\n")
    declared = []

    def other_worker():
        # Read with plain SQL until a trial runs: an Optuna storage opened on the file before the sweep has made
        # its tables would race the sweep to create them.
        database, found, deadline = sweep.storage[len("sqlite:///"):], None, time.monotonic() + 120
        while found is None and time.monotonic() < deadline:
            time.sleep(0.05)
            with contextlib.suppress(sqlite3.OperationalError):  # no file (read-only: not created) or no tables yet
                with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
                    found = db.execute("SELECT trial_id, number FROM trials t WHERE state = 'RUNNING' AND EXISTS "
                                       "(SELECT 1 FROM trial_intermediate_values v WHERE v.trial_id = t.trial_id)"
                                       ).fetchone()
        if found is not None:
            with contextlib.closing(sqlite3.connect(database)) as db, db:
                db.execute("UPDATE trial_heartbeats SET heartbeat = datetime('now', '-1 hour') WHERE trial_id = ?",
                           (found[0],))
            storage = optuna.storages.RDBStorage(
                sweep.storage, heartbeat_interval=30, grace_period=60,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3))
            optuna.storages.fail_stale_trials(optuna.load_study(study_name="tiny_optuna-reviews", storage=storage))
            declared.append(found[1])

    thread = threading.Thread(target=other_worker)
    thread.start()
    code = sweep("--heartbeat", "30")
    thread.join()
    assert declared, "no trial was seen running"
    assert code == 0
    trials = sweep.study().trials
    victim = next(t for t in trials if t.state.name == "FAIL")
    assert len(sweep.finished()) == 3
    retried = [t for t in sweep.finished() if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retried) == 1 and retried[0].params == victim.params
    children = sweep.children()
    assert all(c.info.status != "RUNNING" for c in children)
    (lost,) = [c for c in children if c.data.tags[TRIAL] == str(victim.number)]
    assert lost.info.status == "FAILED" and "declared it dead" in lost.data.tags[NOTE]
    assert sorted(c.data.tags[TRIAL] for c in children if c.info.status == "FINISHED") == \
        sorted(str(t.number) for t in sweep.finished())


def test_an_error_outside_the_fit_fails_those_trials_and_the_sweep_goes_on(tmp_path, monkeypatch, capsys):
    """What study.optimize(catch=Exception) gave a trial run alone: an error raised around the training (not by
    a fit, which the trainer records itself) fails the trials at hand, a new slot replaces them, the rest run."""
    from sweeplab.search.trainer import Trainer

    original, calls = Trainer.run_group, []

    def first_one_breaks(self, proposals, judges=None):
        calls.append(len(proposals))
        if len(calls) == 1:
            raise RuntimeError("the listener could not start the trial\nsecond line")
        return original(self, proposals, judges)

    monkeypatch.setattr(Trainer, "run_group", first_one_breaks)
    sweep = Sweep(tmp_path, trials=2)
    assert sweep() == 0
    trials = sorted(sweep.study().trials, key=lambda t: t.number)
    assert trials[0].state.name == "FAIL" and len(trials) == 3 and len(sweep.finished()) == 2
    assert trials[0].user_attrs[NOTE] == "RuntimeError: the listener could not start the trial"
    assert len(calls) == 3


@pytest.mark.parametrize("fuse, fresh", [(1, False), (3, False), (1, True)])
def test_a_configuration_proposed_again_in_one_search_is_reused_not_trained(tmp_path, fuse, fresh):
    """A space of one point: Optuna proposes it for every trial. It trains once; the others reuse it, whether they
    come one by one, in one fused group, or in a --fresh search (which reuses only its own trials)."""
    sweep = Sweep(tmp_path, trials=3, space="learning_rate: 0.01", extra=f"fuse: {fuse}\n")
    path = tmp_path / "tiny_optuna.yaml"
    path.write_text(path.read_text().replace("embedding_dim: [4, 8]", "embedding_dim: 8"))
    if fresh:
        assert sweep() == 0  # the store has the configuration; a --fresh search trains it once all the same
    assert sweep(*(["--fresh"] if fresh else [])) == 0
    children = _latest_search(sweep)
    reused = [c for c in children if REUSED_FROM in c.data.tags]
    trained = [c for c in children if REUSED_FROM not in c.data.tags]
    assert len(children) == 3 and len(trained) == 1 and len(reused) == 2
    assert {c.data.tags[REUSED_FROM] for c in reused} == {trained[0].info.run_id}
    assert len({c.data.tags[TRIAL_KEY] for c in children}) == 1
    assert {c.data.metrics["cv_accuracy_mean"] for c in children} == {trained[0].data.metrics["cv_accuracy_mean"]}


def _latest_search(sweep):
    """The trial runs under the newest parent run (a --fresh rerun's)."""
    parent = max(sweep.parents(), key=lambda run: run.info.start_time)
    return [c for c in sweep.children() if c.data.tags[PARENT] == parent.info.run_id]


def test_a_study_that_is_another_search_is_refused_before_the_first_dataset_trains(tmp_path, capsys):
    """Every dataset's study is checked before anything trains: the second source's mismatch was found after the
    first source had trained and logged."""
    uri, storage = f"sqlite:///{tmp_path / 'mlflow.db'}", f"sqlite:///{tmp_path / 'optuna.db'}"
    common = ["sweep", "smoke", "--engine", "optuna", "--trials", "1", "--tracking-uri", uri, "--storage", storage]
    assert main([*common, "--source", "amazon"]) == 0
    capsys.readouterr()
    assert main([*common, "--source", "yelp", "--source", "amazon", "--folds", "3"]) == 2
    assert capsys.readouterr().err == ("sweeplab: error: study smoke-amazon: 'folds' was 2 when the study began, now "
                                       "3; run with --fresh to start a new study\n")
    client = MlflowClient(uri)
    parents = client.search_runs([e.experiment_id for e in client.search_experiments()], f"tags.`{KIND}` = 'dataset'")
    assert [p.data.tags["sweeplab.source"] for p in parents] == ["amazon"]  # nothing of yelp was logged
    assert "smoke-yelp" not in {s.study_name for s in optuna.get_all_study_summaries(storage)}
    # Nothing stays claimed by this (live) process: another sweep of smoke-yelp may start.
    assert not [s.study_name for s in optuna.get_all_study_summaries(storage) if s.study_name.endswith("#running")]
