"""The outbox in front of a tracking server: writes wait in order while it is away, then all go out."""

import os
import signal

import pytest
from mlflow.exceptions import MlflowException

from sweeplab import errors
from sweeplab.tracking.outbox import Outbox, PendingRun, TrackingUnavailable


class FlakyClient:
    """Answers like MLflow's REST client; while ``down`` every call fails as a refused connection does."""

    def __init__(self):
        self.down, self.calls, self.created, self.locked = False, [], 0, 0

    def _call(self, name, *args):
        if self.locked:  # what MLflow's SQLAlchemy store raises when SQLite refuses a deadlocking write
            self.locked -= 1
            raise MlflowException("(sqlite3.OperationalError) database is locked\n[SQL: UPDATE runs SET status=?]")
        if self.down:
            raise MlflowException("API request to http://127.0.0.1:9/api/2.0/mlflow/runs/log-batch failed with "
                                  "exception HTTPConnectionPool: Max retries exceeded ([Errno 111] Connection refused)")
        self.calls.append((name, *args))

    def create_run(self, experiment_id, **kwargs):
        self._call("create_run", experiment_id)
        self.created += 1
        return type("Run", (), {"info": type("Info", (), {"run_id": f"run{self.created}"})})()

    def log_batch(self, run_id, metrics=()):
        self._call("log_batch", run_id, tuple(metrics))

    def set_tag(self, run_id, key, value):
        if value == "bad":
            raise MlflowException("INVALID_PARAMETER_VALUE: tag value rejected")
        self._call("set_tag", run_id, key, value)

    def get_run(self, run_id):
        return ("read", run_id)


def test_writes_wait_in_order_while_the_server_is_away(capsys):
    client = FlakyClient()
    outbox = Outbox(client, "http://127.0.0.1:9", retry_every=0)
    client.down = True
    run = outbox.create_run("1")
    assert isinstance(run, PendingRun) and run.run_id is None
    outbox.log_batch(run, metrics=[1])
    outbox.set_tag(run, "k", "v")
    assert client.calls == [] and len(outbox.waiting) == 3
    assert "cannot be reached" in capsys.readouterr().err

    client.down = False
    outbox.drain(wait=1)
    assert client.calls == [("create_run", "1"), ("log_batch", "run1", (1,)), ("set_tag", "run1", "k", "v")]
    assert run.run_id == "run1" and not outbox.waiting
    assert "answers again" in capsys.readouterr().err
    assert outbox.get_run("x") == ("read", "x")  # reads are not queued


def test_a_rejected_write_is_raised_not_retried():
    outbox = Outbox(FlakyClient(), "http://127.0.0.1:9")
    with pytest.raises(MlflowException, match="rejected"):
        outbox.set_tag("run1", "k", "bad")
    assert not outbox.waiting


def test_a_write_sqlite_refused_as_locked_is_sent_again(monkeypatch):
    """SQLite refuses at once a write that would deadlock with another process's (a worker opening its trial while
    the sweep closes one): the write is tried again, in place, instead of failing the trial's bookkeeping."""
    client = FlakyClient()
    outbox = Outbox(client, "sqlite:///mlflow.db")
    client.locked = 3
    run = outbox.create_run("1")
    assert run.run_id == "run1" and client.calls == [("create_run", "1")] and not outbox.waiting

    monkeypatch.setattr("sweeplab.tracking.outbox.LOCK_RETRY_S", 0.2)
    client.locked = 100  # a lock that does not go away is an error after a while, as before
    with pytest.raises(MlflowException, match="database is locked"):
        outbox.set_tag(run, "k", "v")


def test_a_server_that_stays_away_is_an_error_after_the_wait():
    client = FlakyClient()
    client.down = True
    outbox = Outbox(client, "http://127.0.0.1:9", retry_every=0.1)
    outbox.set_tag("run1", "k", "v")
    with pytest.raises(TrackingUnavailable, match=r"could not be reached for 0 s: 1 writes were not logged"):
        outbox.drain(wait=0.3)


def test_a_stop_during_a_write_comes_after_it(monkeypatch):
    """A stop signal that lands inside the store's driver is raised once the write and its bookkeeping are done:
    raised inside, it once left SQLite locked against the writes that close the runs, and it would leave a
    created run queued to be created again."""
    client = FlakyClient()
    create = client.create_run

    def stopped_while_creating(experiment_id, **kwargs):
        client.create_run = create
        run = create(experiment_id, **kwargs)  # the run is in the store: a stop now must not lose it
        os.kill(os.getpid(), signal.SIGTERM)
        (lambda: None)()  # Python runs signal handlers when a function starts: here, still inside the write
        return run

    client.create_run = stopped_while_creating
    previous = signal.signal(signal.SIGTERM, errors.interrupt)
    monkeypatch.setattr(errors.INTERRUPTED, "signum", signal.SIGINT)
    try:
        outbox = Outbox(client, "sqlite:///mlflow.db")
        with pytest.raises(KeyboardInterrupt):
            outbox.create_run("1")
    finally:
        signal.signal(signal.SIGTERM, previous)
        errors.INTERRUPTED.clear()
    assert errors.INTERRUPTED.held == 0 and not errors.INTERRUPTED.pending
    outbox.drain(wait=0)
    assert client.created == 1 and not outbox.waiting
