"""Export: the trial ranked N of a sweep on a source, read back from MLflow, as an experiment file's mapping: every
parameter (vectorizer, model, fit), the dataset it was found on with its sha256, the split, where it came from and
the package versions."""

from __future__ import annotations

import json
from pathlib import Path

from sweeplab import config, data, versions
from sweeplab.advice import command
from sweeplab.errors import OptionError, SweepLabError


def export(tracker, sweep: str, source: str, rank: int | None = None, family: str | None = None,
           select: str | None = None) -> dict:
    """The experiment mapping of a trial of the latest finished run of ``sweep`` on ``source``: the one ranked
    ``rank`` by CV mean, or the one the ``select`` rule hands on ("best", or "simplest": the fewest trainable
    parameters among the trials tied with the best). By default, the one the sweep itself refit (its own rule).
    With ``family``, among that model family's trials only."""
    from sweeplab.modeling.defaults import CV_DEFAULTS, FIT_DEFAULTS
    from sweeplab.modeling.metrics import METRICS
    from sweeplab.modeling.pipeline import CHOSEN_EPOCHS, refit_configuration, tunable
    from sweeplab.modeling.registry import family_of
    from sweeplab.results import leaderboard
    from sweeplab.tags import PARENT, TRIAL

    if select == "simplest" and rank not in (None, 1):
        raise OptionError(f"{{}} picks one trial of the tie group: leave out the rank ({rank})", "select")
    trials = leaderboard.collect(tracker, sweep=sweep, source=source)
    if family is not None and not trials.empty:
        trials = trials[[params.get("model") == family for params in trials["params"]]]
        if trials.empty:
            raise OptionError(f"{{}} {family}: no complete trial of that family in sweep '{sweep}' on "
                                f"'{source}'", "family")
    ranked = leaderboard.rank(trials, len(trials) or 1)
    if ranked.empty:
        raise SweepLabError(f"no finished run of sweep '{sweep}' on source '{source}' in {tracker.uri}: "
                            f"{_how_to_run(sweep, source)}")
    own_rule = tracker.client.get_run(ranked.iloc[0]["parent_run_id"]).data.params.get("select", "best")
    rule = select or ("best" if rank is not None else own_rule)
    if rule == "simplest":
        position = _simplest(ranked, sweep, source)
    else:
        position = (rank or 1) - 1
        if position >= len(ranked):
            raise OptionError(f"{{}} {rank}: sweep '{sweep}' on '{source}' has only {len(ranked)} complete trials",
                              "rank")
    row = ranked.iloc[position]
    rank = position + 1
    child = tracker.client.get_run(row["run_id"])
    parent = tracker.client.get_run(child.data.tags[PARENT])
    logged = parent.data.params
    chosen = dict(row["params"])
    model = family_of(chosen, logged["model"])
    chosen.pop("model", None)

    def fail(name, problem):
        raise SweepLabError(f"run {row['run_id']}: parameter {name}: {problem}")

    measured = child.data.metrics
    # With early stopping the refit trains for the epochs the folds chose, as the sweep's own refit did.
    chosen_epochs = [int(measured[f"fold_{k}_{CHOSEN_EPOCHS}"]) for k in range(1, int(logged["folds"]) * int(
        logged.get("repeats", 1)) + 1) if f"fold_{k}_{CHOSEN_EPOCHS}" in measured]
    configuration = config.check_configuration(model, {**tunable(model), **chosen}, fail)
    budget = configuration["epochs"]
    configuration = refit_configuration(configuration, [{CHOSEN_EPOCHS: e} for e in chosen_epochs])
    cv_only = {k: configuration.pop(k) for k in CV_DEFAULTS}
    fit = {k: configuration.pop(k) for k in FIT_DEFAULTS}
    recorded = {k[len("version."):]: v for k, v in logged.items() if k.startswith("version.")}
    origin = {
        "tracking_uri": _portable(tracker.uri), "experiment": sweep, "parent_run_id": parent.info.run_id,
        "run_id": child.info.run_id, "trial": int(child.data.tags.get(TRIAL, -1)), "rank": rank, "select": rule,
        "tied_with_best": bool(row["tied"]),
        "engine": logged.get("engine"), "folds": int(logged["folds"]), "metric": row["metric"],
        **({"patience": cv_only["patience"], "epochs_budget": budget,
            "chosen_epochs": chosen_epochs} if cv_only["patience"] else {}),
        **{key: round(measured[key], 6) for m in METRICS for key in (f"cv_{m}_mean", f"cv_{m}_std") if key in measured},
        **{key: round(measured[key], 6) for key in (f"cv_{row['metric']}_ci_low", f"cv_{row['metric']}_ci_high")
           if key in measured},
        **{f"baseline_{part}_{m}": round(parent.data.metrics[f"baseline_{part}_{m}"], 6) for m in METRICS
           for part in ("cv", "test") if f"baseline_{part}_{m}" in parent.data.metrics},
        # The sweep refit and tested only its winner.
        **{f"sweep_test_{m}": round(measured[f"test_{m}"], 6) for m in METRICS if f"test_{m}" in measured},
    }
    if not recorded:
        origin["versions_from"] = "export: the sweep did not record its own"
    return {
        "name": f"{sweep}-{source}" + (f"-{family}" if family else "") + (
            ("-simplest" if own_rule != "simplest" else "") if rule == "simplest" else
            (f"-rank{rank}" if rank > 1 else "")),
        "sweep": sweep,
        "model": model,
        "params": configuration,
        "fit": fit,
        "early_stopping": None,
        # A dataset run logged before sweeps had the setting has no such param: it ran with oneDNN off.
        **({"onednn": True} if logged.get("onednn") == "True" else {}),
        "data": {**_data_section(logged, source), "sha256": logged["data.sha256"], "rows": int(logged["data.rows"]),
                 "class_counts": json.loads(logged["data.class_counts"])},
        "split": {"test_size": float(logged["test_size"]), "seed": int(logged["seed"])},
        "origin": origin,
        "versions": recorded or versions.current(),
    }


def _how_to_run(sweep: str, source: str) -> str:
    """The command that runs ``sweep`` on ``source``, where a name finds them both; else what to give it (a sweep
    file given by its path, a user's data file, are not found by name)."""
    from sweeplab.data import POOLED, SOURCES

    if sweep in config.sweep_files() and source in (*SOURCES, POOLED):
        first = command(f"make sweep SPACE={sweep} SOURCE={source}", f"sweeplab sweep {sweep} --source {source}")
        return f"run '{first}' first"
    data = f"--source {source}" if source in (*SOURCES, POOLED) else "--data <the file>"
    return f"run the sweep on it first (sweeplab sweep <the sweep file of '{sweep}'> {data})"


def _simplest(ranked, sweep: str, source: str) -> int:
    """The position (by CV) of the trial the "simplest" rule picks among those tied with the best."""
    from sweeplab.modeling.metrics import TRAINABLE_PARAMS
    from sweeplab.search import selection

    tied = ranked[ranked["tied"]]
    if tied[TRAINABLE_PARAMS].isna().any():
        raise SweepLabError(f"sweep '{sweep}' on '{source}' ran before trials recorded their trainable parameters: "
                            "run it again (its trials are reused only under the same sweeplab version) to select "
                            "the simplest")
    chosen = selection.choose("simplest", ranked.index[0], list(tied.index), tied[TRAINABLE_PARAMS].to_dict(),
                              tied["fit_time_s"].to_dict())
    return int(ranked.index.get_loc(chosen))


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

