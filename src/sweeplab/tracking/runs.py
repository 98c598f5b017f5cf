"""A run's life: who opened it, closing it however the block ends, and closing what a dead process left open."""

from __future__ import annotations

import contextlib

from sweeplab.tags import NOTE, STATE


def abandon(client, run_id: str) -> None:
    """Close a run whose process died: KILLED, its trial state FAIL, and a note saying why."""
    client.set_tag(run_id, STATE, "FAIL")
    client.set_tag(run_id, NOTE, "abandoned: the process running it stopped")
    client.set_terminated(run_id, "KILLED")


def quoted(value: str) -> str:
    """A value inside an MLflow filter string's single quotes."""
    return value.replace("'", "\\'")


@contextlib.contextmanager
def closing(client, run_id: str, status: str = "FINISHED"):
    """Ends the run with ``status``, or as KILLED/FAILED if the block raised: no run is left RUNNING.

    If the store cannot take that last write either (a tracking server that went away), the block's own error is
    the one the user sees.
    """
    try:
        yield
    except BaseException as exc:
        with contextlib.suppress(Exception):
            client.set_terminated(run_id, "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    client.set_terminated(run_id, status)


def now() -> int:
    import time

    return int(time.time() * 1000)

