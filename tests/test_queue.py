"""One queue for every engine: random and grid shared by workers like Optuna's trials, each candidate trained once
and in scikit-learn's order; an engine added as one module through the entry point; the queue's own rules (who
owns a study, a killed trial's retry in its place, the heartbeat it sends)."""

import contextlib
import importlib.metadata
import json
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import optuna
import pytest
from mlflow import MlflowClient

from sweeplab import config, engines
from sweeplab.errors import SweepLabError
from sweeplab.search.queue import storage as queue_storage
from sweeplab.search.queue import study as queue_study
from sweeplab.tags import CANDIDATE, KIND, TRIAL, WORKER
from tests.test_optuna import reviews_csv

RANDOM_SWEEP = """
    name: {name}
    model: embedding_pool
    engine: {engine}
    trials: 6
    folds: 2
    seed: 5
    fit: {{epochs: 2, batch_size: 16}}
    space:
      embedding_dim: [4, 8, 12]
      maxlen: 8
      learning_rate: {learning_rate}
"""


def sweep_file(directory, engine="random", name="shared", learning_rate="{low: 0.003, high: 0.03, log: true}"):
    path = directory / f"{name}.yaml"
    path.write_text(textwrap.dedent(RANDOM_SWEEP.format(name=name, engine=engine, learning_rate=learning_rate)))
    return path


def trial_runs(uri):
    client = MlflowClient(uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()], f"tags.`{KIND}` = 'trial'")
    return sorted(runs, key=lambda r: int(r.data.tags[TRIAL]))


def folds_of(run):
    return [run.data.metrics[f"fold_{k}_accuracy"] for k in (1, 2)]


# --- random and grid on the queue --------------------------------------------------------------------------------


@pytest.mark.integration
def test_two_workers_and_a_joining_one_share_a_random_search_with_randomized_search_cv_s_candidates(tmp_path):
    """`sweeplab sweep --workers 2` and a `sweeplab worker` from another shell: every candidate of
    ParameterSampler trained once, by several processes, with the fold scores one process alone gives."""
    data = reviews_csv(tmp_path, rows=120)
    path = sweep_file(tmp_path)
    sweep = config.load_sweep(str(path))
    candidates = engines.get("random")().proposals(sweep)  # RandomizedSearchCV's (tests/test_search_equivalence.py)
    scores = {}
    for workers in ("1", "2"):
        where = tmp_path / workers
        uri, storage = f"sqlite:///{where / 'mlflow.db'}", f"sqlite:///{where / 'optuna.db'}"
        command = [sys.executable, "-m", "sweeplab"]
        main = subprocess.Popen([*command, "sweep", str(path), "--data", str(data), "--tracking-uri", uri,
                                 "--storage", storage, "--workers", workers, "--heartbeat", "2"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        joined = None
        if workers == "2":
            deadline = time.monotonic() + 180
            while not (where / "optuna.db").exists() or not _has_study(storage, "shared-reviews"):
                assert main.poll() is None and time.monotonic() < deadline, main.communicate()
                time.sleep(0.3)
            joined = subprocess.Popen([*command, "worker", "shared", "--storage", storage, "--tracking-uri", uri,
                                       "--worker-index", "2", "--workers", "3", "--heartbeat", "2"],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = main.communicate(timeout=600)
        assert main.returncode == 0, err[-3000:]
        if joined is not None:
            assert joined.wait(timeout=120) == 0, joined.communicate()[1][-3000:]
        runs = [r for r in trial_runs(uri) if r.info.status == "FINISHED"]
        assert [{k: r.data.params[k] for k in ("embedding_dim", "learning_rate")} for r in runs] == \
               [{k: str(c[k]) for k in ("embedding_dim", "learning_rate")} for c in candidates]
        assert len({r.data.tags["sweeplab.trial_key"] for r in runs}) == len(candidates)  # each trained once
        scores[workers] = [folds_of(r) for r in runs]
        ran_by = {r.data.tags[WORKER] for r in runs}
        # Each run says which checkout's code ran it, whichever process (a helper, a joining worker) wrote it.
        assert all(r.data.tags.get("mlflow.source.git.commit") for r in runs)
        if workers == "2":
            assert len(ran_by) >= 2, ran_by
            found = optuna.load_study(study_name="shared-reviews", storage=storage)
            assert sorted(t.user_attrs[CANDIDATE] for t in found.trials if t.state.name == "COMPLETE") == \
                list(range(len(candidates)))
        print(f"observed: {workers} worker(s): {len(runs)} trials by {len(ran_by)} processes")
    assert scores["1"] == scores["2"]


def _has_study(storage, name):
    """Read-only, with plain SQL: an Optuna storage opened here would race the sweep to create its tables (a
    sweeplab process takes the creation lock first)."""
    import sqlite3

    database = storage[len("sqlite:///"):]
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            return name in {row[0] for row in db.execute("SELECT study_name FROM studies")}
    except sqlite3.Error:  # the file exists before its tables do
        return False


@pytest.mark.integration
def test_a_grid_sweep_reruns_on_a_new_queue_and_trains_nothing_twice(tmp_path, capsys):
    from sweeplab.cli import main

    data = reviews_csv(tmp_path)
    path = sweep_file(tmp_path, engine="grid", name="grid_queue", learning_rate="[0.01, 0.03]")
    args = ["sweep", str(path), "--data", str(data), "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
            "--storage", f"sqlite:///{tmp_path / 'optuna.db'}"]
    assert main(args) == 0
    assert main(args) == 0  # a rerun queues the grid anew and reuses every finished trial from the store
    assert "6 trials x 2 folds (grid), 6 already in the store (reused, not trained)" in capsys.readouterr().err
    found = optuna.load_study(study_name="grid_queue-reviews", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    assert [t.user_attrs[CANDIDATE] for t in found.trials] == list(range(6))
    assert found.user_attrs["sweeplab.owner"] == ""  # the sweep that ran it has let go of it


# --- an engine is one module -------------------------------------------------------------------------------------


@pytest.fixture
def reversed_grid(monkeypatch):
    """An installed package declaring `reversed_grid = tests.plugin_engines:ReversedGrid` under sweeplab.engines."""
    point = importlib.metadata.EntryPoint("reversed_grid", "tests.plugin_engines:ReversedGrid", engines.ENTRY_POINTS)
    real = importlib.metadata.entry_points
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group=None, **kw: [point] if group == engines.ENTRY_POINTS else real(group=group, **kw))
    monkeypatch.setattr(engines, "_plugins", None)
    yield
    engines._plugins = None


SPACE = {"embedding_dim": [4, 8], "maxlen": 8, "learning_rate": [0.01, 0.03]}


def test_an_engine_from_an_entry_point_checks_its_options_when_the_file_is_read(reversed_grid):
    sweep = config.parse_sweep({"name": "p", "model": "embedding_pool", "engine": {"name": "reversed_grid",
                                                                                   "step": 2}, "space": SPACE}, "p.yaml")
    assert sweep.engine == "reversed_grid" and sweep.engine_options == {"step": 2}
    assert sweep.to_dict()["engine"] == {"name": "reversed_grid", "step": 2}
    with pytest.raises(SweepLabError, match=r"^p.yaml: engine.step: expected an integer from 1, got 0$"):
        config.parse_sweep({"name": "p", "model": "embedding_pool", "engine": {"name": "reversed_grid", "step": 0},
                            "space": SPACE}, "p.yaml")
    with pytest.raises(SweepLabError, match=r"^p.yaml: engine.sampler: engine random takes no options$"):
        config.parse_sweep({"name": "p", "model": "embedding_pool", "engine": {"name": "random", "sampler": "tpe"},
                            "space": SPACE}, "p.yaml")
    with pytest.raises(SweepLabError, match=r"^p.yaml: engine: unknown engine 'nope', expected one of random, grid, "
                                            r"optuna, reversed_grid"):
        config.parse_sweep({"name": "p", "model": "embedding_pool", "engine": "nope", "space": SPACE}, "p.yaml")


@pytest.mark.integration
def test_an_engine_from_an_entry_point_runs_through_the_queue(reversed_grid, tmp_path):
    import sweeplab

    mapping = {"model": "embedding_pool", "engine": {"name": "reversed_grid", "step": 2}, "folds": 2, "seed": 1,
               "fit": {"epochs": 1, "batch_size": 16}, "space": SPACE}
    result = sweeplab.sweep(mapping, data=str(reviews_csv(tmp_path)), tracking_uri=f"sqlite:///{tmp_path / 'm.db'}",
                            storage=f"sqlite:///{tmp_path / 'o.db'}", progress=None)
    chosen = [{k: t.params[k] for k in ("embedding_dim", "learning_rate")} for t in result["reviews"].trials]
    assert chosen == [{"embedding_dim": 8, "learning_rate": 0.03}, {"embedding_dim": 4, "learning_rate": 0.03}]


def test_an_entry_point_that_is_no_engine_is_one_line(monkeypatch):
    point = importlib.metadata.EntryPoint("not_an_engine", "tests.plugin_factories:tiny_dense", engines.ENTRY_POINTS)
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group=None, **kw: [point])
    monkeypatch.setattr(engines, "_plugins", None)
    with pytest.raises(SweepLabError, match=r"^entry point sweeplab.engines: not_an_engine = "
                                            r"tests.plugin_factories:tiny_dense is not a sweeplab.engines.Engine"):
        engines.get("random")
    monkeypatch.setattr(engines, "_plugins", None)


def test_reading_a_random_or_grid_sweep_imports_no_optuna():
    probe = ("import json, sys; import sweeplab.config as c; c.load_sweep('{name}'); "
             "print(json.dumps('optuna' in sys.modules))")
    found = {name: json.loads(subprocess.run([sys.executable, "-c", probe.format(name=name)], capture_output=True,
                                             text=True, check=True).stdout)
             for name in ("cnn_grid", "glove_cnn", "cnn_optuna")}
    assert found == {"cnn_grid": False, "glove_cnn": False, "cnn_optuna": True}  # optuna's own does, to check options


# --- the queue's rules --------------------------------------------------------------------------------------------


def _dataset(name="toy"):
    return SimpleNamespace(name=name, reference={"file": "toy.csv"}, integrity={"sha256": "0" * 64, "path": "toy.csv"})


@pytest.fixture
def grid_sweep():
    return config.parse_sweep({"name": "q", "model": "embedding_pool", "engine": "grid", "space": SPACE}, "q.yaml")


def test_a_killed_trial_s_retry_stands_in_its_place_and_the_total_is_exact(tmp_path, grid_sweep):
    url = f"sqlite:///{tmp_path / 'o.db'}"
    found_storage, engine = queue_storage.open_storage(url, heartbeat=1), engines.get("grid")()
    queue_study.open_study(found_storage, engine, grid_sweep, _dataset(), fresh=False, join_hint="")
    found = queue_study.load(found_storage, engine, grid_sweep, "toy")
    queue_study.fill(found, engine, grid_sweep)
    queue_study.fill(found, engine, grid_sweep)  # nothing more: every candidate is queued
    assert len(found.trials) == 4
    killed = found.ask()  # candidate 0, its process killed: failed and queued again as Optuna's callback does
    found.tell(killed, state=optuna.trial.TrialState.FAIL)
    optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)(found, found.trials[killed.number])
    while (trial := found.ask()).user_attrs.get(CANDIDATE) is not None:
        trial.set_user_attr("sweeplab.fold_scores", [0.5, 0.5])
        found.tell(trial, 0.5)
        if len(found.get_trials(states=(optuna.trial.TrialState.WAITING,))) == 0:
            break
    results = queue_study.results(found, engine, grid_sweep)
    assert [r.state for r in results] == ["COMPLETE"] * 4
    assert [r.params["embedding_dim"] for r in results] == [4, 4, 8, 8]  # ParameterGrid's order
    assert [r.number for r in results] == [4, 1, 2, 3]  # the retry (trial 4) in candidate 0's place


def test_a_second_sweep_of_a_running_search_is_refused_and_a_dead_one_replaced(tmp_path, grid_sweep):
    url = f"sqlite:///{tmp_path / 'o.db'}"
    found_storage, engine = queue_storage.open_storage(url, heartbeat=30), engines.get("grid")()
    queue_study.open_study(found_storage, engine, grid_sweep, _dataset(), fresh=False, join_hint="")
    found = queue_study.load(found_storage, engine, grid_sweep, "toy")
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        host = queue_study.this_process().rpartition(":")[0]
        claim = found_storage.get_study_id_from_name("q-toy#running")  # as if that process had claimed it
        found_storage.set_study_user_attr(claim, "sweeplab.owner", f"{host}:{alive.pid}")
        with pytest.raises(SweepLabError, match=rf"^study q-toy: a sweep in process {host}:{alive.pid} is running "
                                                r"it; add workers with X, or wait for it$"):
            queue_study.open_study(found_storage, engine, grid_sweep, _dataset(), fresh=False, join_hint="add workers"
                                   " with X")
    finally:
        alive.kill()
        alive.wait()
    first = found.user_attrs["sweeplab.study_key"]
    assert queue_study.open_study(found_storage, engine, grid_sweep, _dataset(), fresh=False, join_hint="") != first


RACER = """
import sys, time
from types import SimpleNamespace
from sweeplab import config, engines
from sweeplab.errors import SweepLabError
from sweeplab.search.queue import storage, study
sweep = config.parse_sweep({"name": "q", "model": "embedding_pool", "engine": sys.argv[3],
                            "space": {"embedding_dim": [4, 8], "maxlen": 8}}, "q.yaml")
found = storage.open_storage(sys.argv[1], heartbeat=30)
dataset = SimpleNamespace(name="toy", reference={"file": "toy.csv"}, integrity={"sha256": "0" * 64, "path": "toy.csv"})
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # every racer starts at the same moment
try:
    study.open_study(found, engines.get(sys.argv[3])(), sweep, dataset, fresh=False, join_hint="join")
    print("opened", flush=True)
    time.sleep(3)  # still running it while the others try
except SweepLabError as exc:
    print(exc)
"""


@pytest.mark.parametrize("engine", ["optuna", "grid"])
def test_sweeps_started_at_the_same_moment_cannot_both_run_one_study(tmp_path, engine):
    """Two optuna sweeps started at once both used worker index 0 and trained the same configurations: only one
    may hold a study. Four processes race for it, released at the same instant."""
    import time

    url = f"sqlite:///{tmp_path / 'o.db'}"
    queue_storage.open_storage(url, heartbeat=30)  # made before the race: what is raced for is the study
    start = time.time() + 8  # after the imports
    racers = [subprocess.Popen([sys.executable, "-c", RACER, url, str(start), engine], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(4)]
    said = sorted(racer.communicate(timeout=120)[0].strip() for racer in racers)
    assert [racer.returncode for racer in racers] == [0] * 4
    assert said.count("opened") == 1, said
    assert all(line.startswith("study q-toy: a sweep in process ") for line in said if line != "opened"), said


def test_a_study_of_optuna_s_is_not_replaced_by_another_engine_s_without_fresh(tmp_path, grid_sweep):
    url = f"sqlite:///{tmp_path / 'o.db'}"
    found_storage = queue_storage.open_storage(url, heartbeat=30)
    as_optuna = grid_sweep.override(engine="optuna")
    queue_study.open_study(found_storage, engines.get("optuna")(), as_optuna, _dataset(), fresh=False, join_hint="")
    queue_study.release(found_storage, queue_study.load(found_storage, engines.get("optuna")(), as_optuna, "toy"))
    with pytest.raises(SweepLabError, match=r"study q-toy holds engine optuna's trials and this sweep uses engine "
                                            r"grid: run with --fresh to replace it"):
        queue_study.open_study(found_storage, engines.get("grid")(), grid_sweep, _dataset(), fresh=False,
                               join_hint="")
    queue_study.open_study(found_storage, engines.get("grid")(), grid_sweep, _dataset(), fresh=True, join_hint="")


def test_a_study_begun_before_engines_held_their_options_is_the_same_search(grid_sweep):
    """Studies made by the previous version hold the sampler and pruner at the top of the sweep."""
    sweep = grid_sweep.override(engine="optuna")
    old = {key: value for key, value in sweep.to_dict().items()}
    old.update({"engine": "optuna", "sampler": "tpe", "pruner": "median"})
    queue_study.check_same_search("q-toy", {"sweeplab.sweep": old, "sweeplab.data_sha256": "0" * 64}, sweep,
                                  _dataset())
    old["sampler"] = "random"
    with pytest.raises(SweepLabError, match="'engine' was"):
        queue_study.check_same_search("q-toy", {"sweeplab.sweep": old, "sweeplab.data_sha256": "0" * 64}, sweep,
                                      _dataset())


def test_a_trial_s_heartbeat_is_recorded_while_it_trains(tmp_path):
    """The queue sends heartbeats through Optuna's private helper (no public API outside study.optimize): pinned."""
    from sweeplab.search.queue.worker import _heartbeat

    found_storage = queue_storage.open_storage(f"sqlite:///{tmp_path / 'o.db'}", heartbeat=1)
    found = optuna.create_study(study_name="beat", storage=found_storage)
    trial = found.ask()
    with _heartbeat(found, trial):
        time.sleep(3)  # past the grace period of 2 heartbeats
        optuna.storages.fail_stale_trials(found)
        assert found.trials[trial.number].state.name == "RUNNING"
    time.sleep(3)
    optuna.storages.fail_stale_trials(found)
    assert found.trials[trial.number].state.name == "FAIL"


def _two_queued_datasets(tmp_path, grid_sweep):
    found_storage, engine = queue_storage.open_storage(f"sqlite:///{tmp_path / 'o.db'}", heartbeat=30), \
        engines.get("grid")()
    studies = []
    for name in ("a", "b"):
        queue_study.open_study(found_storage, engine, grid_sweep, _dataset(name), fresh=False, join_hint="")
        studies.append(queue_study.load(found_storage, engine, grid_sweep, name))
        queue_study.fill(studies[-1], engine, grid_sweep)
    contexts = [SimpleNamespace(dataset=name, sweep=grid_sweep) for name in ("a", "b")]
    return found_storage, engine, studies, contexts


def test_while_a_dataset_s_last_trial_runs_elsewhere_this_process_takes_the_next_dataset_s(tmp_path, grid_sweep,
                                                                                           monkeypatch):
    from sweeplab.search.queue import worker

    found_storage, engine, (a, b), contexts = _two_queued_datasets(tmp_path, grid_sweep)
    for _ in range(3):  # another process ran three of a's trials and runs the fourth
        a.tell(a.ask(), 0.5)
    elsewhere = a.ask()
    taken = []

    def run(self, size):
        trial = self.study.ask()
        taken.append((self.ctx.dataset, len(queue_study.real(a, "RUNNING"))))
        self.study.tell(trial, 0.5)
        if not queue_study.real(b, "WAITING"):
            a.tell(elsewhere, 0.5)  # the other process finishes a's last trial

    monkeypatch.setattr(worker.Taker, "run", run)
    worker.work([(a, contexts[0]), (b, contexts[1])], found_storage, engine, heartbeat=1,
                deadline=time.monotonic() + 20)  # a process that waited on a instead would give up here
    assert taken == [("b", 1)] * 4  # b's trials, all while a's last one ran elsewhere; then a was done


def test_a_helper_takes_the_first_dataset_s_trials_first_and_stops_when_none_is_left(tmp_path, grid_sweep,
                                                                                     monkeypatch):
    from sweeplab.search.queue import worker

    found_storage, engine, (a, b), contexts = _two_queued_datasets(tmp_path, grid_sweep)
    taken = []

    def run(self, size):
        self.study.tell(self.study.ask(), 0.5)
        taken.append(self.ctx.dataset)

    monkeypatch.setattr(worker.Taker, "run", run)
    worker.work([(a, contexts[0]), (b, contexts[1])], found_storage, engine, heartbeat=1, until_first=False)
    assert taken == ["a"] * 4 + ["b"] * 4
