"""Distributed sweeps for real: a PostgreSQL cluster from Debian's packages (`make postgres`), an MLflow tracking
server on it (`make server`), several worker processes on one study, and the faults they must survive."""

import functools
import os
import signal
import subprocess
import sys
import time
import urllib.request
from types import SimpleNamespace

import optuna
import pytest
from mlflow import MlflowClient

from sweeplab.tags import CANDIDATE, CHOSEN, KIND, NOTE, PARENT, TRIAL
from tests.conftest import ROOT, free_port, require
from tests.test_optuna import reviews_csv, sweep_yaml

pytestmark = pytest.mark.integration
TRIALS = 12


@pytest.fixture(scope="module")
def postgres():
    """`make postgres` on a free port for this module; `make postgres-stop` afterwards (it deletes the cluster)."""
    port = free_port()
    env = {**os.environ, "PG_PORT": str(port)}
    started = subprocess.run(["make", "-s", "-C", str(ROOT), "postgres"], env=env, timeout=600, capture_output=True,
                             text=True)
    last = (started.stderr.strip() or started.stdout.strip() or "no output").splitlines()[-1][:160]
    require("PostgreSQL", None if started.returncode == 0 else
            f"'make postgres' failed ({last}); it needs Debian's postgresql packages or root to install them")
    yield SimpleNamespace(env=env, url=lambda db: f"postgresql://sweeplab:sweeplab@127.0.0.1:{port}/{db}")
    subprocess.run(["make", "-s", "-C", str(ROOT), "postgres-stop"], env=env, check=True, timeout=120)


class TrackingServer:
    """`make server`: MLflow's tracking server on the module's PostgreSQL, stopped and started like a service."""

    def __init__(self, postgres, store):
        self.postgres, self.store, self.port = postgres, store, free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self):
        log = open(self.store / "server.log", "ab")
        self.process = subprocess.Popen(
            ["make", "-s", "-C", str(ROOT), "server", f"SERVER_PORT={self.port}", f"STORE={self.store}"],
            env=self.postgres.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=5) as answer:
                    if answer.read() == b"OK":
                        return
            except OSError:
                pass
            assert self.process.poll() is None and time.monotonic() < deadline, (self.store / "server.log").read_text()
            time.sleep(0.5)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)


@pytest.fixture
def server(postgres, tmp_path):
    tracking = TrackingServer(postgres, tmp_path)
    tracking.start()
    yield tracking
    tracking.stop()


class DistributedSweep:
    """One sweep on the shared PostgreSQL storage and tracking server, run as real commands."""

    def __init__(self, name, tmp_path, postgres, server, trials=TRIALS, engine="optuna"):
        self.name, self.storage, self.server, self.engine = name, postgres.url("optuna"), server, engine
        if engine == "grid":  # 2 x 3 points
            trials, space = 6, "learning_rate: [0.003, 0.01, 0.03]"
            sweep = sweep_yaml(tmp_path, trials=trials, name=name, space=space)
        else:
            sweep = sweep_yaml(tmp_path, trials=trials, name=name)
        sweep.write_text(sweep.read_text().replace("engine: optuna", f"engine: {engine}"))
        self.args = [str(sweep), "--data", str(reviews_csv(tmp_path, rows=120)), "--storage", self.storage,
                     "--tracking-uri", server.uri]
        self.trials = trials

    def start(self, *extra):
        return subprocess.Popen([sys.executable, "-m", "sweeplab", "sweep", *self.args, *extra],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def worker(self, *extra):
        return subprocess.Popen([sys.executable, "-m", "sweeplab", "worker", self.name, "--storage", self.storage,
                                 "--tracking-uri", self.server.uri, *extra],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    @functools.cached_property
    def reader(self):
        """One storage for all the polling: a URL makes Optuna open a new connection pool per call, and polling
        every 0.2 s exhausted PostgreSQL's 100 connections before the garbage collector closed them."""
        return optuna.storages.RDBStorage(self.storage)

    def study(self):
        return optuna.load_study(study_name=f"{self.name}-reviews", storage=self.reader)

    def wait_for_study(self, process, timeout=180):
        deadline = time.monotonic() + timeout
        while f"{self.name}-reviews" not in {s.study_name for s in optuna.get_all_study_summaries(self.reader)}:
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.5)

    def trials_in(self, *states):
        return [t for t in self.study().trials
                if t.state.name in states and not t.user_attrs.get("sweeplab.surplus")]

    def runs(self):
        client = MlflowClient(self.server.uri)
        experiment = client.get_experiment_by_name(self.name)
        return [] if experiment is None else client.search_runs([experiment.experiment_id], max_results=1000)

    def check_every_finished_trial_has_one_run(self):
        """The study reached its total; each COMPLETE or PRUNED trial has exactly one FINISHED MLflow run, with
        the study's score; no run is left RUNNING. Returns the trial runs."""
        finished = self.trials_in("COMPLETE", "PRUNED")
        assert len(finished) == self.trials
        runs = self.runs()
        assert [r.info.run_name for r in runs if r.info.status == "RUNNING"] == []
        children = [r for r in runs if r.data.tags.get(KIND) == "trial"]
        for trial in finished:
            mine = [r for r in children if r.data.tags[TRIAL] == str(trial.number)]
            assert len(mine) == 1, (trial.number, [r.info.run_name for r in mine])
            assert mine[0].info.status == "FINISHED"
            if trial.state.name == "COMPLETE":
                assert mine[0].data.metrics["cv_accuracy_mean"] == pytest.approx(trial.value)
                assert {"fold_1_accuracy", "fold_2_accuracy"} <= set(mine[0].data.metrics)
        parents = [r for r in runs if r.data.tags.get(KIND) == "dataset"]
        assert [p.info.status for p in parents] == ["FINISHED"]
        assert all(c.data.tags[PARENT] == parents[0].info.run_id for c in children)
        return children


def finish(process, timeout=300):
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def test_three_workers_on_postgresql_run_one_study(tmp_path, postgres, server):
    """`sweeplab sweep --workers 2` and a `sweeplab worker` from another shell: three processes, one study."""
    sweep = DistributedSweep("pg_three", tmp_path, postgres, server)
    main = sweep.start("--workers", "2", "--heartbeat", "2")
    sweep.wait_for_study(main)
    joined = sweep.worker("--worker-index", "2", "--workers", "3", "--heartbeat", "2")
    code, out, err = finish(main)
    assert code == 0, err
    assert finish(joined)[0] == 0
    sweep.check_every_finished_trial_has_one_run()
    by = {t.user_attrs["sweeplab.worker"].split(":")[1] for t in sweep.trials_in("COMPLETE", "PRUNED")}
    assert len(by) == 3, f"trials ran in {len(by)} processes: {by}"
    assert str(joined.pid) in by and str(main.pid) in by
    assert "test" in out and "logged to http://127.0.0.1" in out
    counts = {pid: sum(t.user_attrs["sweeplab.worker"].endswith(f":{pid}") for t in sweep.trials_in("COMPLETE",
                                                                                                   "PRUNED"))
              for pid in by}
    print(f"observed: {sweep.trials} trials in 3 processes, trials per process {sorted(counts.values())}")


@pytest.mark.parametrize("engine", ["optuna", "random", "grid"])
def test_a_worker_killed_mid_trial_does_not_cost_the_study_a_trial(tmp_path, postgres, server, engine):
    """SIGKILL one of three workers while its trial trains: the others re-run that trial and finish the total;
    for random and grid, every candidate is trained once and the killed one's retry stands in its place."""
    sweep = DistributedSweep(f"pg_kill_{engine}", tmp_path, postgres, server, engine=engine)
    main = sweep.start("--workers", "3", "--heartbeat", "1")
    sweep.wait_for_study(main)
    deadline = time.monotonic() + 180
    while True:  # a helper's trial that is training
        # Optuna's step 1 is the first epoch of fold 1: a trial that trains (a reused one reports only its folds'
        # ends). Random and grid report no steps: their trial must have its MLflow run open (nothing is reused in
        # this new store).
        training = {int(r.data.tags[TRIAL]) for r in sweep.runs() if r.data.tags.get(KIND) == "trial"
                    and r.info.status == "RUNNING"} if engine != "optuna" else set()
        victims = [t for t in sweep.trials_in("RUNNING")
                   if (1 in t.intermediate_values if engine == "optuna" else t.number in training)
                   and t.user_attrs.get("sweeplab.worker", ":").split(":")[1] not in ("", str(main.pid))]
        if victims:
            break
        assert main.poll() is None and time.monotonic() < deadline, main.communicate()
        time.sleep(0.2)
    killed = victims[0]
    os.kill(int(killed.user_attrs["sweeplab.worker"].split(":")[1]), signal.SIGKILL)
    killed_at = time.monotonic()

    code, out, err = finish(main)
    assert code == 0, err
    assert "exited with status -9" in err
    children = sweep.check_every_finished_trial_has_one_run()
    assert sweep.study().trials[killed.number].state.name == "FAIL"
    retried = [t for t in sweep.trials_in("COMPLETE", "PRUNED") if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retried) == 1 and retried[0].params == killed.params
    assert retried[0].user_attrs[CHOSEN] == killed.user_attrs[CHOSEN]
    if engine != "optuna":  # each candidate once, the retry in the killed one's place
        assert sorted(t.user_attrs[CANDIDATE] for t in sweep.trials_in("COMPLETE", "PRUNED")) == \
            list(range(sweep.trials))
    dead = [c for c in children if c.data.tags[TRIAL] == str(killed.number)]
    assert [(c.info.status, c.data.tags[NOTE][:9]) for c in dead] == [("KILLED", "abandoned")]
    print(f"observed ({engine}): killed trial {killed.number} after step {max(killed.intermediate_values, default=0)}"
          f"; re-run as trial "
          f"{retried[0].number} ({retried[0].state.name}) by pid {retried[0].user_attrs['sweeplab.worker']}; "
          f"sweep ended {time.monotonic() - killed_at:.0f} s after the kill; {len(children)} trial runs for "
          f"{sweep.trials} finished trials + 1 KILLED")


def test_a_tracking_server_restart_mid_sweep_loses_no_result(tmp_path, postgres, server):
    """Stop the MLflow server while trials train and start it again: writes wait, then all of them land."""
    sweep = DistributedSweep("pg_restart", tmp_path, postgres, server)
    main = sweep.start("--workers", "2", "--heartbeat", "2")
    sweep.wait_for_study(main)
    deadline = time.monotonic() + 180
    while len(sweep.trials_in("COMPLETE", "PRUNED")) < 1:
        assert main.poll() is None and time.monotonic() < deadline, main.communicate()
        time.sleep(0.2)
    server.stop()
    stopped = time.monotonic()
    before = {t.number for t in sweep.trials_in("COMPLETE", "PRUNED")}
    while len(sweep.trials_in("COMPLETE", "PRUNED")) < len(before) + 2:  # trials that finish with no server
        assert main.poll() is None and time.monotonic() < deadline, main.communicate()
        time.sleep(0.2)
    during = {t.number for t in sweep.trials_in("COMPLETE", "PRUNED")} - before
    server.start()
    down = time.monotonic() - stopped

    code, out, err = finish(main)
    assert code == 0, err
    assert f"MLflow at {server.uri} cannot be reached" in err
    assert f"MLflow at {server.uri} answers again" in err
    children = sweep.check_every_finished_trial_has_one_run()
    assert during <= {int(c.data.tags[TRIAL]) for c in children if c.info.status == "FINISHED"}
    told = [line for line in err.splitlines() if "MLflow at" in line]
    print(f"observed: server down {down:.0f} s, trials {sorted(during)} finished meanwhile; the sweep said:",
          *told, sep="\n  ")
