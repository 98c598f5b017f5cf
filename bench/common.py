"""What the benches share: quiet imports, the machine they ran on, alternating sides, medians, ratios, results.

Absolute times on a shared 2-core machine are noise, so a comparison runs both sides in one invocation, in
alternating order (A B, then B A, ...), several times, and reports medians and their ratio.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

RESULTS = Path(__file__).with_name("results")
ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")


def machine() -> dict:
    from sweeplab import versions

    return {"cores": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
            **{name: versions.current().get(name)
               for name in ("sweeplab", "tensorflow-cpu", "keras", "mlflow", "optuna")}}


def alternate(sides: dict[str, Callable[[], dict | None]], repeats: int) -> dict[str, list[dict]]:
    """Run every side once per repeat, the order reversed on every other repeat; each run gives
    ``{"wall_s": ..., **what the side returned}``."""
    runs = {name: [] for name in sides}
    order = list(sides)
    for repeat in range(repeats):
        for name in order if repeat % 2 == 0 else reversed(order):
            started = time.perf_counter()
            extra = sides[name]() or {}
            runs[name].append({"wall_s": round(time.perf_counter() - started, 3), **extra})
            say(f"  repeat {repeat + 1}/{repeats} {name}: {runs[name][-1]['wall_s']:.2f} s")
    return runs


def median(runs: list[dict], key: str = "wall_s") -> float:
    return round(statistics.median(run[key] for run in runs), 3)


def rss_mb() -> float:
    """This process's resident memory now, in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def write(name: str, result: dict) -> dict:
    """bench/results/<name>.json: the result, the command that made it and the machine."""
    result = {"bench": name, "command": " ".join([Path(sys.executable).name, *sys.argv]), **result,
              "machine": machine(), "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result
