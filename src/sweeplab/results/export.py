"""Export: the trial ranked N of a sweep on a source, read back from MLflow, as an experiment file's mapping: every
parameter (vectorizer, model, fit), the dataset it was found on with its sha256, the split, where it came from and
the package versions."""

from __future__ import annotations

import json
from pathlib import Path

from sweeplab import config, data, versions
from sweeplab.advice import command
from sweeplab.errors import OptionError, SweepLabError


def export(tracker, sweep: str, source: str, rank: int = 1, family: str | None = None) -> dict:
    """The experiment mapping of the trial ranked ``rank`` (by CV mean) in the latest finished run of
    ``sweep`` on ``source``; with ``family``, ranked among that model family's trials only."""
    from sweeplab.modeling.defaults import FIT_DEFAULTS
    from sweeplab.modeling.metrics import METRICS
    from sweeplab.modeling.pipeline import tunable
    from sweeplab.results import leaderboard
    from sweeplab.tags import PARENT, TRIAL

    if rank < 1:
        raise OptionError(f"{{}} must be at least 1, got {rank}", "rank")
    trials = leaderboard.collect(tracker, sweep=sweep, source=source)
    if family is not None and not trials.empty:
        trials = trials[[params.get("model") == family for params in trials["params"]]]
        if trials.empty:
            raise OptionError(f"{{}} {family}: no complete trial of that family in sweep '{sweep}' on "
                                f"'{source}'", "family")
    ranked = leaderboard.rank(trials, rank)
    if ranked.empty:
        first = command(f"make sweep SPACE={sweep} SOURCE={source}", f"sweeplab sweep {sweep} --source {source}")
        raise SweepLabError(f"no finished run of sweep '{sweep}' on source '{source}' in {tracker.uri}: run "
                            f"'{first}' first")
    if len(ranked) < rank:
        raise OptionError(f"{{}} {rank}: sweep '{sweep}' on '{source}' has only {len(ranked)} complete trials", "rank")
    row = ranked.iloc[rank - 1]
    child = tracker.client.get_run(row["run_id"])
    parent = tracker.client.get_run(child.data.tags[PARENT])
    logged = parent.data.params
    chosen = dict(row["params"])
    model = chosen.pop("model", logged["model"])  # a family sweep's trial names its family

    def fail(name, problem):
        raise SweepLabError(f"run {row['run_id']}: parameter {name}: {problem}")

    configuration = config.check_configuration(model, {**tunable(model), **chosen}, fail)
    fit = {k: configuration.pop(k) for k in FIT_DEFAULTS}
    recorded = {k[len("version."):]: v for k, v in logged.items() if k.startswith("version.")}
    measured = child.data.metrics
    origin = {
        "tracking_uri": _portable(tracker.uri), "experiment": sweep, "parent_run_id": parent.info.run_id,
        "run_id": child.info.run_id, "trial": int(child.data.tags.get(TRIAL, -1)), "rank": rank,
        "engine": logged.get("engine"), "folds": int(logged["folds"]), "metric": row["metric"],
        **{key: round(measured[key], 6) for m in METRICS for key in (f"cv_{m}_mean", f"cv_{m}_std") if key in measured},
        **{f"baseline_cv_{m}": round(parent.data.metrics[f"baseline_cv_{m}"], 6) for m in METRICS
           if f"baseline_cv_{m}" in parent.data.metrics},
        # The sweep refit and tested only its winner.
        **{f"sweep_test_{m}": round(measured[f"test_{m}"], 6) for m in METRICS if f"test_{m}" in measured},
    }
    if not recorded:
        origin["versions_from"] = "export: the sweep did not record its own"
    return {
        "name": f"{sweep}-{source}" + (f"-{family}" if family else "") + (f"-rank{rank}" if rank > 1 else ""),
        "sweep": sweep,
        "model": model,
        "params": configuration,
        "fit": fit,
        "early_stopping": None,
        "data": {**_data_section(logged, source), "sha256": logged["data.sha256"], "rows": int(logged["data.rows"]),
                 "class_counts": json.loads(logged["data.class_counts"])},
        "split": {"test_size": float(logged["test_size"]), "seed": int(logged["seed"])},
        "origin": origin,
        "versions": recorded or versions.current(),
    }


def _data_section(logged: dict, source: str) -> dict:
    """Where the data lives: a UCI source by name, or a user's file (relative to here when it is below here)."""
    reference = json.loads(logged["data.reference"]) if "data.reference" in logged else (
        {"source": source} if source in [*data.SOURCES, data.POOLED] else
        {"data": logged["data.path"], "text_col": "text", "label_col": "label"})
    if "source" in reference:
        return {"source": reference["source"]}
    path = Path(reference["data"])
    try:
        path = path.resolve().relative_to(Path.cwd())
    except ValueError:
        pass
    return {"file": str(path), "text_col": reference["text_col"], "label_col": reference["label_col"]}


def _portable(uri: str) -> str:
    """A SQLite store below the working directory by its relative path: the file is meant to be committed."""
    from sweeplab.urls import sqlite_path

    database = sqlite_path(uri)
    if database is not None and database.resolve().is_relative_to(Path.cwd()):
        return f"sqlite:///{database.resolve().relative_to(Path.cwd())}"
    return uri

