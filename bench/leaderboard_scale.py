"""How long `sweeplab leaderboard` takes on a store with many runs (issue 6's target: under 1 s with 1,000+).

Builds a real SQLite MLflow store the way sweeps write it (one experiment, a parent per source, N trial runs with
their params, per-fold and summary metrics and tags), then times the leaderboard read: in-process (collect + rank
+ render) and as the command a user types (a fresh process, imports included). Only one side: nothing to
alternate with. Writes bench/results/leaderboard_scale.json.

    python bench/leaderboard_scale.py [--trials 1200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import write


def build_store(uri: str, trials: int) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    from sweeplab.tags import BEST, KIND
    from sweeplab.tags import METRIC as METRIC_TAG
    from sweeplab.tags import PARENT, SOURCE, STATE, SWEEP, TRIAL

    client = MlflowClient(uri)
    experiment = client.create_experiment("scale", tags={KIND: "sweep"})
    sources = ("yelp", "amazon", "imdb")
    now = int(time.time() * 1000)
    for source in sources:
        parent = client.create_run(experiment, run_name=source,
                                   tags={KIND: "dataset", SWEEP: "scale", SOURCE: source, METRIC_TAG: "accuracy"})
        pid = parent.info.run_id
        client.log_batch(pid, params=[Param("fixed.maxlen", "100")], metrics=[
            Metric("baseline_cv_accuracy", 0.8, now, 0), Metric("baseline_test_accuracy", 0.8, now, 0)])
        for number in range(trials // len(sources)):
            run = client.create_run(experiment, run_name=f"{source} trial {number}", tags={
                KIND: "trial", SWEEP: "scale", SOURCE: source, PARENT: pid, TRIAL: str(number)})
            score = 0.7 + (number * 7919 % 1000) / 10000
            client.log_batch(run.info.run_id, params=[
                Param("num_filters", str(32 + number % 97)), Param("kernel_size", str(3 + number % 5)),
                Param("maxlen", "100")], metrics=[
                *(Metric(f"fold_{k}_accuracy", score, now, 0) for k in range(1, 5)),
                Metric("cv_accuracy_mean", score, now, 0), Metric("cv_accuracy_std", 0.01, now, 0),
                Metric("cv_macro_f1_mean", score, now, 0), Metric("lift_cv", score - 0.8, now, 0)],
                tags=[RunTag(STATE, "COMPLETE"), RunTag(BEST, str(number == 0).lower())])
            client.set_terminated(run.info.run_id, "FINISHED")
        client.set_terminated(pid, "FINISHED")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from sweeplab.results import leaderboard
    from sweeplab.tracking import Tracker

    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        started = time.perf_counter()
        build_store(uri, args.trials)
        build_s = time.perf_counter() - started
        in_process, command = [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            frame = leaderboard.collect(Tracker(uri))
            leaderboard.render(leaderboard.rank(frame, 5), "table")
            in_process.append(time.perf_counter() - started)
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "sweeplab", "leaderboard", "--tracking-uri", uri],
                           check=True, capture_output=True)
            command.append(time.perf_counter() - started)
    write("leaderboard_scale", {
        "trial_runs": len(frame), "repeats": args.repeats, "build_store_s": round(build_s, 1),
        "in_process_median_s": round(statistics.median(in_process), 3),
        "command_median_s": round(statistics.median(command), 3), "target_s": 1.0,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
