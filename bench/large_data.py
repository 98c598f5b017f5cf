"""One trial on imdb_50k (50,000 reviews): the command's wall time and peak memory, and the trial's own time.

Runs ``sweeplab sweep large_cnn --data imdb_50k.csv`` (2 folds x 2 epochs of a CNN, maxlen at the 90th percentile
of the training texts' lengths, 20,000 words) as a user would, on a fresh store, and reads the peak resident
memory of that process from the kernel. Only one side: there is nothing to alternate with.

    python bench/large_data.py [--data ../shared/data/imdb_large/imdb_50k.csv]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import SHARED, say, write


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "imdb_large" / "imdb_50k.csv")
    args = parser.parse_args()
    if not args.data.exists():
        say(f"{args.data}: not found; skipping the large-data bench")
        return 0
    from mlflow import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "sweeplab", "sweep", "large_cnn", "--data", str(args.data),
                               "--tracking-uri", uri], capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            say(done.stderr[-3000:])
            return 1
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1000  # kB on Linux
        client = MlflowClient(uri)
        [experiment] = [e for e in client.search_experiments() if e.name == "large_cnn"]
        runs = client.search_runs([experiment.experiment_id])
        trial = next(r for r in runs if r.data.tags.get("sweeplab.kind") == "trial")
        parent = next(r for r in runs if r.data.tags.get("sweeplab.kind") == "dataset")
    write("large_data", {
        "data": str(args.data), "rows": int(parent.data.params["data.rows"]),
        "command_wall_s": round(wall, 1), "peak_rss_mb": round(peak_mb),
        "trial_s": round((trial.info.end_time - trial.info.start_time) / 1000, 1),
        "trial_fit_s": round(trial.data.metrics["fit_time_s"], 1),
        "cv_accuracy": round(trial.data.metrics["cv_accuracy_mean"], 4),
        "test_accuracy": round(parent.data.metrics["test_accuracy"], 4),
        "baseline_test_accuracy": round(parent.data.metrics["baseline_test_accuracy"], 4),
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
