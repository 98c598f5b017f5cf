"""The helper processes a sweep starts for ``--workers N``: N - 1 ``sweeplab worker`` commands on the same studies."""

from __future__ import annotations

import os
import subprocess
import sys


def spawn(contexts: list, index: int, queue) -> subprocess.Popen:
    """Helper ``index`` (from 1) on the studies of ``contexts``' datasets, reporting where the sweep reports
    (``ctx.worker_args``)."""
    first = contexts[0]
    datasets = [option for ctx in contexts for option in ("--dataset", ctx.dataset)]
    command = [
        sys.executable, "-m", "sweeplab", "worker", first.sweep.name, *datasets,
        "--storage", queue.storage_url(), "--heartbeat", str(queue.heartbeat), "--worker-index", str(index),
        "--workers", str(queue.workers), *first.worker_args,
    ]
    return subprocess.Popen(command, env=os.environ.copy())
