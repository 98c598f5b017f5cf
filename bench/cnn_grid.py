"""``make sweep SPACE=cnn_grid`` against the tutorial's own search, per source, as a user runs each: whole processes.

One side is ``sweeplab sweep cnn_grid --source S`` into a new MLflow store (so nothing is reused); the other is
``bench/tutorial_search.py S``, the tutorial's RandomizedSearchCV + scikeras over the same candidates, folds, epochs
and batch size, with scikit-learn fitting a fresh pipeline per fold. Both sides' fold scores are compared (the
search is the same, so they should be equal), and their wall and CPU times. The sides alternate, ``--repeats``
times per source (default 3). Target (issue 13): sweeplab at least 2x faster on every source, at equal fold scores.

    python bench/cnn_grid.py [--sources yelp amazon imdb] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, alternate, median, say, write

BIN = Path(sys.executable).parent


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: list[str], env: dict | None = None) -> dict:
    cpu = _children_cpu()
    subprocess.run(command, check=True, cwd=ROOT, env={**os.environ, **(env or {})},
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return {"cpu_s": round(_children_cpu() - cpu, 2)}


def tutorial(source: str, tmp: Path, scores: dict) -> dict:
    out = tmp / f"tutorial-{source}.json"
    timing = _timed([sys.executable, "bench/tutorial_search.py", source, str(out)])
    found = json.loads(out.read_text())
    scores["tutorial"] = {json.dumps(p, sort_keys=True): f for p, f in zip(found["params"], found["fold_scores"])}
    return {**timing, "best_cv": round(found["best_cv"], 4), "test_accuracy": round(found["test"], 4)}


def sweeplab(source: str, tmp: Path, scores: dict, runs: list) -> dict:
    runs.append(1)
    store = tmp / f"store-{source}-{len(runs)}"
    timing = _timed([str(BIN / "sweeplab"), "sweep", "cnn_grid", "--source", source,
                     "--tracking-uri", f"sqlite:///{store / 'mlflow.db'}"])
    from sweeplab.tracking import Tracker

    tracker = Tracker(f"sqlite:///{store / 'mlflow.db'}")
    ids = [id_ for id_, _ in tracker.sweep_experiments()]
    [parent] = tracker.runs(ids, "dataset")
    found = {}
    for trial in tracker.runs(ids, "trial"):
        params = {k: int(trial.data.params[k]) for k in ("num_filters", "kernel_size")}
        found[json.dumps(params, sort_keys=True)] = [trial.data.metrics[f"fold_{k}_accuracy"] for k in range(1, 5)]
    scores["sweeplab"] = found
    return {**timing, "best_cv": round(parent.data.metrics["best_cv_accuracy_mean"], 4),
            "test_accuracy": round(parent.data.metrics["test_accuracy"], 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", nargs="+", default=["yelp", "amazon", "imdb"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    per_source = {}
    with tempfile.TemporaryDirectory() as tmp:
        for source in args.sources:
            say(f"== {source}")
            scores, made = {}, []
            runs = alternate({"tutorial": lambda: tutorial(source, Path(tmp), scores),
                              "sweeplab": lambda: sweeplab(source, Path(tmp), scores, made)}, args.repeats)
            ref, ours = runs["tutorial"], runs["sweeplab"]
            walls = sorted(r["wall_s"] / o["wall_s"] for r, o in zip(ref, ours))
            same = scores["tutorial"].keys() == scores["sweeplab"].keys()
            largest = max((abs(a - b) for key in scores["tutorial"] if key in scores["sweeplab"]
                           for a, b in zip(scores["tutorial"][key], scores["sweeplab"][key])), default=None)
            per_source[source] = {
                "tutorial": ref, "sweeplab": ours,
                "tutorial_wall_median_s": median(ref), "sweeplab_wall_median_s": median(ours),
                "speedup": round(median(ref) / median(ours), 2),
                "speedup_per_pair": [round(w, 2) for w in walls],
                "cpu_speedup": round(median(ref, "cpu_s") / median(ours, "cpu_s"), 2),
                "same_candidates": same, "largest_fold_score_difference": largest,
                "meets_target": bool(median(ref) / median(ours) >= 2 and same),
            }
            say(f"  {source}: {per_source[source]['speedup']}x, fold scores differ by at most {largest}")
    write("cnn_grid", {"repeats": args.repeats, "target_speedup": 2.0, "sources": per_source,
                       "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "sweeplab's default")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
