"""The helper processes a sweep starts for ``--workers N``: N - 1 ``sweeplab worker`` commands on the same study."""

from __future__ import annotations

import os
import subprocess
import sys


def spawn(ctx, index: int, queue) -> subprocess.Popen:
    """Helper ``index`` (from 1) on the dataset's study, reporting where the sweep reports (``ctx.worker_args``)."""
    command = [
        sys.executable, "-m", "sweeplab", "worker", ctx.sweep.name, "--dataset", ctx.dataset,
        "--storage", queue.storage_url(), "--heartbeat", str(queue.heartbeat), "--worker-index", str(index),
        "--workers", str(queue.workers), *ctx.worker_args,
    ]
    return subprocess.Popen(command, env=os.environ.copy())
