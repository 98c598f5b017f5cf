"""One queue for every engine, measured: the same sweep with 1 or 2 worker processes (``--workers``), for the main
job (``cnn_grid`` on the three sources, fused as its file says) and for a 27-point grid on yelp (num_filters x
kernel_size x dense_units, cnn_grid's fit and fusion).

Each side is the real command on fresh stores (``sweeplab sweep ... --workers W``). Its wall time is the whole
command's (start-up, baselines, the refits and tests included); its rate is the finished trials over the span
from the first trial's start to the last one's end in every dataset's study, so start-up is left out. Every side
must train the same candidates: the trials' configurations are compared across sides. Sides alternate; medians
of ``--repeats`` runs, with the spread.

    python bench/workers.py [--repeats 3] [--only cnn_grid grid27]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from common import alternate, median, write

GRID27 = {
    "name": "grid27", "model": "cnn", "engine": "grid", "sources": ["yelp"], "fuse": 5, "folds": 4,
    "test_size": 0.25, "seed": 1000, "fit": {"epochs": 20, "batch_size": 10},
    "space": {"num_filters": [32, 64, 128], "kernel_size": [3, 5, 7], "dense_units": [5, 10, 20],
              "embedding_dim": 50, "maxlen": 100, "max_words": 5000},
}


def one_sweep(space: str, sources: list[str], workers: int, tmp: Path, made: list) -> dict:
    import optuna

    made.append(1)
    where = tmp / f"run{len(made)}"
    where.mkdir()
    if space == "grid27":
        (where / "grid27.yaml").write_text(yaml.safe_dump(GRID27))
        space = str(where / "grid27.yaml")
    storage = f"sqlite:///{where / 'optuna.db'}"
    command = [sys.executable, "-m", "sweeplab", "sweep", space, *[a for s in sources for a in ("--source", s)],
               "--workers", str(workers), "--storage", storage, "--tracking-uri", f"sqlite:///{where / 'mlflow.db'}"]
    # The largest peak resident memory among the command and its helpers (the kernel's maximum over the waited-for
    # processes, not their sum).
    timed = subprocess.run(["/usr/bin/time", "-f", "%M", *command], check=True, capture_output=True, text=True)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    done, chosen, tests = [], {}, {}  # the refit winners' test accuracy: what the user gets, per source
    for summary in optuna.get_all_study_summaries(storage):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        finished = [t for t in study.trials if t.state.name == "COMPLETE"]
        done += finished
        chosen[summary.study_name] = sorted(json.dumps(t.user_attrs["sweeplab.chosen"], sort_keys=True)
                                            for t in finished)
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{where / 'mlflow.db'}")
    for parent in client.search_runs([e.experiment_id for e in client.search_experiments()],
                                     "tags.`sweeplab.kind` = 'dataset'"):
        tests[parent.data.tags["sweeplab.source"]] = round(parent.data.metrics["test_accuracy"], 4)
    span = (max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)).total_seconds()
    return {"trials": len(done), "search_span_s": round(span, 1), "trials_per_hour": round(3600 * len(done) / span),
            "peak_rss_mb": round(int(timed.stderr.strip().splitlines()[-1]) / 1000), "test": tests,
            "chosen": chosen}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="+", default=["cnn_grid", "grid27"])
    args = parser.parse_args()
    jobs = {"cnn_grid": ("cnn_grid", ["yelp", "amazon", "imdb"]), "grid27": ("grid27", ["yelp"])}
    result = {"repeats": args.repeats}
    with tempfile.TemporaryDirectory() as tmp:
        made = []
        for job in args.only:
            space, sources = jobs[job]
            runs = alternate({f"workers_{w}": (lambda w=w: one_sweep(space, sources, w, Path(tmp), made))
                              for w in (1, 2)}, args.repeats)
            same = len({json.dumps(run["chosen"], sort_keys=True) for side in runs.values() for run in side}) == 1
            for side in runs.values():
                for run in side:
                    run.pop("chosen")
            one, two = (median(runs[f"workers_{w}"], "trials_per_hour") for w in (1, 2))
            wall_one, wall_two = (median(runs[f"workers_{w}"]) for w in (1, 2))
            result[job] = {
                "sources": sources, "runs": runs, "same_candidates": same,
                "trials_per_hour": {"workers_1": one, "workers_2": two}, "ratio_2_vs_1": round(two / one, 2),
                "wall_s": {"workers_1": wall_one, "workers_2": wall_two},
                "wall_ratio_1_vs_2": round(wall_one / wall_two, 2),
                "spread": {name: {"trials_per_hour": [min(r["trials_per_hour"] for r in side),
                                                      max(r["trials_per_hour"] for r in side)],
                                  "wall_s": [min(r["wall_s"] for r in side), max(r["wall_s"] for r in side)],
                                  "peak_rss_mb": [min(r["peak_rss_mb"] for r in side),
                                                  max(r["peak_rss_mb"] for r in side)]}
                           for name, side in runs.items()},
            }
    write("workers", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
