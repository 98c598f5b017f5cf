"""MLflow writes that outlive a tracking server going away for a while.

Trial runs are written while trials train. When the tracking server cannot be reached (restarted, a network
blip), the writes wait here, in order, and go out once it answers again; training goes on meanwhile, and the user
is told when writes start waiting and when they went through. Before a search ends its writes are drained: the
sweep waits for the server (``SWEEPLAB_TRACKING_WAIT`` seconds, 300 by default) rather than drop a result. A SQLite
store locked by another process's write is tried again for a few seconds (:data:`LOCK_RETRY_S`). Any other error
(a rejected value, a full disk) is raised as it would be without the outbox.
"""

from __future__ import annotations

import re
import sys
import time
from collections import deque
from dataclasses import dataclass, field

from sweeplab.errors import first_line, held_stop

# What MLflow's REST client says when the server is not there (it wraps requests' errors in its own exception).
UNREACHABLE = ("connection refused", "max retries exceeded", "failed to establish a new connection",
               "connection aborted", "remotedisconnected", "connection reset", "timeout exception", "timed out",
               "error code 502", "error code 503", "error code 504")
# SQLite answers this at once, without waiting its busy timeout, when two processes' transactions would deadlock
# (one reads then writes while the other writes: the sweep closing its trial while a worker opens one). It has
# rolled the transaction back, and running it again is the remedy SQLite's documentation gives.
LOCKED = "database is locked"
LOCK_RETRY_S = 10.0
WRITES = frozenset({"create_run", "log_batch", "set_tag", "set_terminated", "update_run", "log_inputs", "log_dict",
                    "log_text", "log_figure"})


class TrackingUnavailable(Exception):
    """The tracking server stayed away past the wait: some results could not be logged."""

    exit_code = 1


def unreachable(exc: Exception) -> bool:
    text = f"{type(exc).__name__}: {exc}".lower()
    return any(sign in text for sign in UNREACHABLE)


def reason(exc: Exception) -> str:
    """The part of a transport error a person needs ("[Errno 111] Connection refused"), not MLflow's whole URL
    and urllib3's retry story."""
    found = re.search(r"\[Errno -?\d+\][^'\")]*|error code \d+|timed? ?out[^'\")]*", str(exc))
    return found.group(0).strip() if found else first_line(exc, 1000)[-160:]


def default_wait() -> float:
    from sweeplab import environment

    return environment.read("SWEEPLAB_TRACKING_WAIT")


class PendingRun:
    """A run the outbox creates as soon as the server answers; ``run_id`` is None until then."""

    run_id: str | None = None


@dataclass
class _Write:
    method: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    created: PendingRun | None = None  # for create_run: the handle later writes name the run by


def _resolved(value):
    return value.run_id if isinstance(value, PendingRun) else value


class Outbox:
    """An ``MlflowClient`` whose writes wait while the server is unreachable. Reads go straight to the client.

    ``create_run`` returns a :class:`PendingRun`, which later writes accept wherever a run id goes.
    """

    def __init__(self, client, uri: str, retry_every: float = 5.0):
        self.client, self.uri, self.retry_every = client, uri, retry_every
        self.waiting: deque[_Write] = deque()
        self.down_since: float | None = None
        self.last_try = 0.0
        self.sent_late = 0
        self.told_drain = False

    def __getattr__(self, name: str):
        method = getattr(self.client, name)
        if name not in WRITES:
            return _held(method) if callable(method) else method

        def write(*args, **kwargs):
            created = PendingRun() if name == "create_run" else None
            self.waiting.append(_Write(name, args, kwargs, created))
            self.flush()
            return created

        return write

    def flush(self, force: bool = False) -> bool:
        """Send the waiting writes in order. False while the server cannot be reached; between two tries at
        least ``retry_every`` seconds pass, so that an outage does not stall every epoch on connection timeouts."""
        if self.down_since is not None and not force and time.monotonic() - self.last_try < self.retry_every:
            return False
        self.last_try = time.monotonic()
        while self.waiting:
            write = self.waiting[0]
            with held_stop():  # a stop comes after the write and its bookkeeping: a run is never created twice
                try:
                    result = self._send(write)
                except Exception as exc:
                    if not unreachable(exc):
                        self.waiting.popleft()
                        raise
                    self._went_down(exc)
                    return False
                self.waiting.popleft()
                if write.created is not None:
                    write.created.run_id = result.info.run_id
                if self.down_since is not None:
                    self.sent_late += 1
        if self.down_since is not None:
            _say(f"MLflow at {self.uri} answers again after {time.monotonic() - self.down_since:.0f} s: "
                 f"the {self.sent_late} writes that waited went through")
            self.down_since, self.sent_late = None, 0
        return True

    def _send(self, write: _Write):
        deadline, pause = time.monotonic() + LOCK_RETRY_S, 0.05
        while True:
            try:
                return getattr(self.client, write.method)(
                    *map(_resolved, write.args), **{k: _resolved(v) for k, v in write.kwargs.items()})
            except Exception as exc:
                if LOCKED not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(2 * pause, 1.0)

    def drain(self, wait: float | None = None) -> None:
        """Return once every write went through; raise :class:`TrackingUnavailable` after ``wait`` seconds."""
        wait = default_wait() if wait is None else wait
        deadline = time.monotonic() + wait
        while not self.flush(force=True):
            if time.monotonic() >= deadline:
                raise TrackingUnavailable(
                    f"MLflow at {self.uri} could not be reached for {wait:.0f} s: {len(self.waiting)} writes were "
                    "not logged (the Optuna study keeps the trials' scores); restart the server and run the same "
                    "command again")
            if not self.told_drain:
                _say(f"waiting up to {wait:.0f} s for MLflow at {self.uri} to log {len(self.waiting)} writes "
                     "(SWEEPLAB_TRACKING_WAIT sets how long)")
                self.told_drain = True
            time.sleep(min(self.retry_every, max(0.0, deadline - time.monotonic())))
        self.told_drain = False

    def _went_down(self, exc: Exception) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
            _say(f"warning: MLflow at {self.uri} cannot be reached ({reason(exc)}); its writes wait here and are "
                 f"retried every {self.retry_every:.0f} s while training goes on")


def _held(method):
    def read(*args, **kwargs):
        with held_stop():
            return method(*args, **kwargs)

    return read


def _say(line: str) -> None:
    print(f"sweeplab: {line}", file=sys.stderr, flush=True)
