"""How to keep this machine's cores busy: trials per hour of the same sweep with 1 or 2 worker processes, each
alone or with fused trials (``fuse: N``, several trials trained as one model), one worker with TensorFlow held
to one thread or given two inter-op threads (item 4 of issue 17: one worker's thread settings), and which setting
is best.

Each side is the real command (``sweeplab sweep ... --workers W``, the sweep file's ``fuse``) on fresh stores;
its rate is the finished trials over the span from the first trial's start to the last one's end, read back from
the Optuna study, so process start-up, the baseline and the refit are left out. Sides alternate; medians of
``--repeats`` runs. Optuna's random sampler draws the same kind of trials on every side.

    python bench/parallel.py [--trials 12] [--fuse 4 12] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from common import alternate, median, write

SPEC = {
    "name": "parallel", "model": "cnn", "engine": "optuna", "folds": 2, "seed": 1000,
    "sampler": "random", "pruner": "none", "fit": {"epochs": 3, "batch_size": 32},
    "space": {"num_filters": {"low": 16, "high": 128, "log": True}, "kernel_size": {"low": 2, "high": 7},
              "embedding_dim": {"low": 16, "high": 64, "log": True}, "maxlen": 50, "max_words": 5000},
}


def one_sweep(workers: int, fuse: int, trials: int, tmp: Path, runs: list, env: dict | None = None) -> dict:
    import optuna

    runs.append(1)
    where = tmp / f"run{len(runs)}"
    where.mkdir()
    sweep_file = where / "parallel.yaml"
    sweep_file.write_text(yaml.safe_dump({**SPEC, "trials": trials, "fuse": fuse}))
    storage = f"sqlite:///{where / 'optuna.db'}"
    subprocess.run([sys.executable, "-m", "sweeplab", "sweep", str(sweep_file), "--source", "yelp",
                    "--workers", str(workers), "--storage", storage,
                    "--tracking-uri", f"sqlite:///{where / 'mlflow.db'}"], check=True, capture_output=True,
                   env={**os.environ, **(env or {})})
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name="parallel-yelp", storage=storage)
    done = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    span = (max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)).total_seconds()
    return {"trials": len(done), "search_span_s": round(span, 1), "trials_per_hour": round(3600 * len(done) / span)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    # 4: groups of four; 12: the whole sweep as one group (each step 12 models wide).
    parser.add_argument("--fuse", type=int, nargs="+", default=[4, 12])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    threads = {"one_thread": {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"},
               "interop_2": {"TF_NUM_INTRAOP_THREADS": "2", "TF_NUM_INTEROP_THREADS": "2"}}
    settings = {"workers_1": (1, 1, None), "workers_2": (2, 1, None),
                **{f"workers_{w}_fuse_{n}": (w, n, None) for n in args.fuse for w in (1, 2)},
                **{f"workers_1_{name}": (1, 1, env) for name, env in threads.items()}}
    with tempfile.TemporaryDirectory() as tmp:
        made = []
        runs = alternate({name: (lambda w=w, f=f, e=e: one_sweep(w, f, args.trials, Path(tmp), made, e))
                          for name, (w, f, e) in settings.items()}, args.repeats)
    rates = {name: median(found, "trials_per_hour") for name, found in runs.items()}
    one, two = rates["workers_1"], rates["workers_2"]
    write("parallel", {"trials": args.trials, "fuse": args.fuse, "repeats": args.repeats, "runs": runs,
                       "trials_per_hour": rates, "ratio_to_1_worker": {n: round(r / one, 2) for n, r in rates.items()},
                       "spread": {n: [min(r["trials_per_hour"] for r in found),
                                      max(r["trials_per_hour"] for r in found)] for n, found in runs.items()},
                       "best": max(rates, key=rates.get),
                       "trials_per_hour_1_worker": one, "trials_per_hour_2_workers": two,
                       "ratio_2_vs_1": round(two / one, 2)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
