"""Inputs that explode (issue 14): each must end in one line and exit 2 in < 5 s and < 300 MB, the whole command
(`python -m sweeplab ...`, Python's start and imports included). Time and peak memory are the child process's own
(``os.wait4``), ``--repeats`` runs each (default 3), medians reported.

With ``--before DIR`` (a checkout of an older sweeplab, e.g. ``git worktree add /tmp/old <rev>``), every case also
runs against ``DIR/src`` under a 30 s and 4 GB limit, to show what the bounds changed.

    python bench/bombs.py [--repeats 3] [--before /tmp/old]
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import say, write

LIMIT_S, LIMIT_MB = 5.0, 300.0
BEFORE_TIMEOUT_S, BEFORE_MEMORY = 30, 4 << 30


def cases(work: Path) -> dict[str, list[str]]:
    data = work / "reviews.csv"
    data.write_text("text,label\n" + "".join(f"great film {i},1\nawful plot {i},0\n" for i in range(20)))
    # Nine anchors, each nine aliases of the one before: 9**9 values, inside a key the parser reads.
    laughs = ["  - &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    laughs += [f"  - &{k} [{', '.join([f'*{p}'] * 9)}]" for p, k in zip("abcdefgh", "bcdefghi")]
    (work / "laughs.yaml").write_text("model: cnn\nspace:\n maxlen:\n" + "\n".join(" " + line for line in laughs)
                                      + "\n")
    (work / "laughs_name.yaml").write_text("model: cnn\nname:\n" + "\n".join(laughs) + "\n")
    (work / "zero.yaml").write_text("model: embedding_pool\nembeddings: {path: /dev/zero}\nspace: {maxlen: 8}\n")
    (work / "deep.yaml").write_text("model: cnn\nseed: " + "[" * 100_000 + "]" * 100_000 + "\n")
    (work / "big.yaml").write_text("model: cnn\ndescription: " + "x" * (64 << 20) + "\n")
    (work / "line.txt").write_text("y" * (256 << 20))  # one line of 256 MB
    fifo = work / "fifo.csv"
    os.mkfifo(fifo)
    store = ["--tracking-uri", f"sqlite:///{work / 'store' / 'mlflow.db'}"]
    return {
        "billion laughs (9 lines, 10^9 values)": ["sweep", work / "laughs.yaml", "--data", data, *store],
        "billion laughs in name:": ["sweep", work / "laughs_name.yaml", "--data", data, *store],
        "embeddings: {path: /dev/zero}": ["sweep", work / "zero.yaml", "--data", data, *store],
        "YAML nested 100,000 deep": ["sweep", work / "deep.yaml", "--data", data, *store],
        "a 64 MB sweep file": ["sweep", work / "big.yaml", "--data", data, *store],
        "--data a FIFO": ["sweep", "smoke", "--data", fifo, *store],
        "predict --file with a 256 MB line": ["predict", "model.keras", "--file", work / "line.txt"],
        "--workers 100000": ["sweep", "cnn_optuna", "--workers", "100000", *store],
    }


def run(args: list, pythonpath: str | None = None, limited: bool = False) -> dict:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath

    def limit():
        if limited:
            resource.setrlimit(resource.RLIMIT_AS, (BEFORE_MEMORY, BEFORE_MEMORY))

    started = time.perf_counter()
    # A session of its own, so that a timeout kills what it started too: 0.2.0 spawned --workers without bound.
    process = subprocess.Popen([sys.executable, "-m", "sweeplab", *map(str, args)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env=env, preexec_fn=limit, start_new_session=True)
    deadline = started + BEFORE_TIMEOUT_S if limited else None
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if deadline and time.perf_counter() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(process.pid, 0)
            break
        time.sleep(0.02)
    wall = time.perf_counter() - started
    stderr = process.stderr.read().decode("utf-8", "replace")
    code = os.waitstatus_to_exitcode(status)
    return {"wall_s": round(wall, 2), "peak_mb": round(usage.ru_maxrss / 1024, 1), "exit": code,
            "stderr_lines": stderr.count("\n"), "last_line": stderr.strip().splitlines()[-1][:160] if stderr.strip()
            else "", "timed_out": bool(deadline) and wall > BEFORE_TIMEOUT_S}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", help="an older checkout to run the same cases against")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, command in cases(Path(tmp)).items():
            say(f"== {name}")
            runs = [run(command) for _ in range(args.repeats)]
            wall = statistics.median(r["wall_s"] for r in runs)
            peak = statistics.median(r["peak_mb"] for r in runs)
            results[name] = {
                "wall_s_median": wall, "wall_s_range": [min(r["wall_s"] for r in runs), max(r["wall_s"] for r in runs)],
                "peak_mb_median": peak, "exit": runs[0]["exit"], "one_line": all(r["stderr_lines"] == 1 for r in runs),
                "message": runs[0]["last_line"], "met": wall < LIMIT_S and peak < LIMIT_MB and runs[0]["exit"] == 2,
            }
            if args.before:
                results[name]["before"] = run(command, str(Path(args.before) / "src"), limited=True)
            say(f"   {wall:.2f} s, {peak:.0f} MB, exit {runs[0]['exit']}: {runs[0]['last_line'][:100]}"
                + (f"\n   before: {results[name]['before']}" if args.before else ""))
    write("bombs", {"limits": {"wall_s": LIMIT_S, "peak_mb": LIMIT_MB}, "repeats": args.repeats,
                    "before": args.before, "cases": results})
    return 0 if all(r["met"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
