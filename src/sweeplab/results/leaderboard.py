"""Reads trials back from MLflow into pandas and ranks them per sweep and source.

Only the latest finished parent run of each (sweep, source) counts, so re-running a sweep replaces its entries
rather than mixing two sets of settings; older runs stay browsable in the MLflow UI.
"""

from __future__ import annotations

import json
import math

from sweeplab import statistics
from sweeplab.advice import command
from sweeplab.errors import SweepLabError
from sweeplab.modeling.metrics import METRICS, TRAINABLE_PARAMS
from sweeplab.search import selection
from sweeplab.search.progress import format_params
from sweeplab.statistics import corrected_interval
from sweeplab.tags import BEST
from sweeplab.tags import METRIC as METRIC_TAG
from sweeplab.tags import PARENT, SOURCE, STATE, SWEEP, TRIAL_KEY
from sweeplab.tracking.reader import param_values

FORMATS = ("table", "csv", "json")
# The columns of a ranked trial (rank() of what collect() reads), in order: a CSV of no trials still has them.
COLUMNS = ("sweep", "source", "rank", "metric", "cv_mean", "cv_std", "ci_low", "ci_high", "baseline_cv", "lift_cv",
           "test", "baseline_test", "lift_test", *(f"cv_{name}_{stat}" for name in METRICS for stat in ("mean", "std")),
           "params", "searched", "fold_scores", TRAINABLE_PARAMS, "fit_time_s", "start_time", "parent_run_id",
           "run_id", "tied")


def collect(tracker, sweep: str | None = None, source: str | None = None, metric: str | None = None):
    """One row per complete trial (not pruned, not failed) of the latest finished parent per (sweep, source).

    ``cv_mean``, ``test`` and the baseline columns are in ``metric``, by default each sweep's own.
    """
    import pandas as pd

    ids, parents = latest_searches(tracker, sweep, source)
    if not parents:
        return pd.DataFrame()
    rows, seen = [], set()
    for child in sorted(tracker.runs(ids, "trial"), key=lambda run: run.info.start_time):
        tags = child.data.tags
        if tags.get(PARENT) not in parents or tags.get(STATE) != "COMPLETE":
            continue
        # One trial counts once, however many runs stand for it (a reused trial proposed again).
        identity = (tags[PARENT], tags.get(TRIAL_KEY) or child.info.run_id)
        if identity not in seen:
            seen.add(identity)
            rows.append(_row(child, parents[tags[PARENT]], metric))
    return _with_ties(pd.DataFrame(rows), parents)


def latest_searches(tracker, sweep: str | None = None, source: str | None = None) -> tuple[list, dict]:
    """(the ids of the sweeps' experiments, run id -> dataset run) of the latest finished search of each (sweep,
    source): what the leaderboard ranks and the report shows. Refused in one line when ``sweep`` names none."""
    if not tracker.has_store():
        return [], {}
    experiments = tracker.sweep_experiments()
    if sweep is not None:
        experiments = [(id_, name) for id_, name in experiments if name == sweep]
        if not experiments:
            raise SweepLabError(f"no sweep named '{sweep}' in {tracker.uri}")
    ids = [id_ for id_, _ in experiments]
    latest = {}
    for parent in tracker.runs(ids, "dataset") if ids else []:
        key = (parent.data.tags[SWEEP], parent.data.tags[SOURCE])
        if parent.info.status == "FINISHED" and (source is None or key[1] == source):
            if key not in latest or parent.info.start_time > latest[key].info.start_time:
                latest[key] = parent
    return ids, {run.info.run_id: run for run in latest.values()}


def compare_settings(parent) -> dict:
    """How a dataset run told trials apart from its best: its logged ``compare.*`` settings, or the defaults
    for runs from before there were any."""
    logged = parent.data.params
    test = logged.get("compare.test", statistics.T_TEST)
    found = {"test": test, "alpha": float(logged.get("compare.alpha", statistics.ALPHA))}
    if test == statistics.BAYESIAN:
        found["rope"] = float(logged.get("compare.rope", statistics.ROPE))
    return found


def _with_ties(frame, parents: dict):
    """Each trial marked ``tied`` when its dataset run's compare test cannot tell it apart from that run's best,
    worked out from the fold scores (so runs logged before the test was have it too)."""
    if frame.empty:
        return frame
    frame["tied"] = False
    for parent_id, group in frame.groupby("parent_run_id"):
        parent = parents[parent_id]
        splits = group["fold_scores"].map(len).mode().iloc[0]  # a trial with other folds is not comparable
        scores = {index: folds for index, folds in group["fold_scores"].items() if len(folds) == splits >= 2}
        if not scores:
            continue
        best = max(scores, key=lambda index: (group.at[index, "cv_mean"], -group.at[index, "start_time"]))
        _, tied = selection.tie_group(scores, int(parent.data.params.get("folds", len(scores[best]))),
                                      compare_settings(parent), best)
        frame.loc[list(tied), "tied"] = True
    return frame


def _row(child, parent, metric: str | None) -> dict:
    m, pm = child.data.metrics, parent.data.metrics
    metric = metric or parent.data.tags.get(METRIC_TAG, "accuracy")
    best = child.data.tags.get(BEST) == "true"
    cv_mean, baseline_cv = m.get(f"cv_{metric}_mean", math.nan), pm.get(f"baseline_cv_{metric}", math.nan)
    # From the folds, so that runs logged before intervals were have one too.
    folds = [m[f"fold_{k}_{metric}"] for k in range(1, len(m) + 1) if f"fold_{k}_{metric}" in m]
    low, high = corrected_interval(folds, int(parent.data.params.get("folds", len(folds))))
    test, baseline_test = m.get(f"test_{metric}") if best else None, pm.get(f"baseline_test_{metric}", math.nan)
    return {
        "sweep": child.data.tags[SWEEP],
        "source": child.data.tags[SOURCE],
        "metric": metric,
        "cv_mean": cv_mean,
        "cv_std": m.get(f"cv_{metric}_std", math.nan),
        "ci_low": low,
        "ci_high": high,
        "baseline_cv": baseline_cv,
        "lift_cv": cv_mean - baseline_cv,
        "test": test,
        "baseline_test": baseline_test,
        "lift_test": None if test is None else test - baseline_test,
        **{f"cv_{name}_{stat}": m.get(f"cv_{name}_{stat}", math.nan) for name in METRICS for stat in ("mean", "std")},
        # MLflow stores params as strings; YAML gives back the numbers and booleans the sweep file had.
        "params": param_values(dict(sorted(child.data.params.items()))),
        "searched": sorted(set(child.data.params) - {k[len("fixed."):] for k in parent.data.params
                                                      if k.startswith("fixed.")}),
        "fold_scores": tuple(folds),
        TRAINABLE_PARAMS: m.get(f"fold_1_{TRAINABLE_PARAMS}", math.nan),
        "fit_time_s": m.get("fit_time_s", math.nan),
        "start_time": child.info.start_time,
        "parent_run_id": parent.info.run_id,
        "run_id": child.info.run_id,
    }


def rank(frame, top: int):
    """The ``top`` trials of each (sweep, source) by CV mean, numbered from 1."""
    if frame.empty:
        return frame
    ordered = frame.sort_values(["sweep", "source", "cv_mean"], ascending=[True, True, False])
    ordered = ordered.groupby(["sweep", "source"], sort=False).head(top).copy()
    ordered.insert(2, "rank", ordered.groupby(["sweep", "source"]).cumcount() + 1)
    return ordered.reset_index(drop=True)


def pivot(frame, top: int | None = None):
    """One row per configuration of a sweep, one column group per source: CV mean, std and rank in that source.

    A configuration that wins on one source and loses on another shows it on one line. Rows are ordered by their
    mean CV accuracy over the sources they ran on; ``top`` keeps that many rows per sweep.
    """
    import pandas as pd

    if frame.empty:
        return pd.DataFrame(columns=_pivot_columns([]))
    ranked = rank(frame, len(frame))
    ranked["key"] = [json.dumps(p, sort_keys=True) for p in ranked["params"]]
    rows = {}
    # Ranked best first, so the first trial of a configuration in a source is its best there.
    for trial in ranked.itertuples(index=False):
        row = rows.setdefault((trial.sweep, trial.key), {
            "sweep": trial.sweep, "metric": trial.metric, "configuration": _shown_params(trial.params, trial.searched),
            "params": trial.params,
        })
        if f"{trial.source}.cv_mean" not in row:
            mean, std = trial.cv_mean, trial.cv_std
            row.update({f"{trial.source}.cv_mean": mean, f"{trial.source}.cv_std": std,
                        f"{trial.source}.rank": trial.rank})
    table = pd.DataFrame(list(rows.values()))
    sources = sorted(ranked["source"].unique())
    means = table[[f"{s}.cv_mean" for s in sources]]
    table["mean_cv"], table["sources"] = means.mean(axis=1), means.notna().sum(axis=1)
    table["avg_rank"] = table[[f"{s}.rank" for s in sources]].mean(axis=1)
    table = table.sort_values(["sweep", "mean_cv"], ascending=[True, False])
    if top is not None:
        table = table.groupby("sweep", sort=False).head(top)
    return table[_pivot_columns(sources)].reset_index(drop=True)


def _pivot_columns(sources: list) -> list:
    return ["sweep", "metric", "configuration", *[f"{s}.{k}" for s in sources for k in ("cv_mean", "cv_std", "rank")],
            "mean_cv", "avg_rank", "sources", "params"]


def _pivot_table(table) -> str:
    sources = [c[: -len(".cv_mean")] for c in table.columns if c.endswith(".cv_mean")]
    shown = table[["sweep", "metric", "configuration"]].copy()
    for source in sources:
        shown[source] = [
            "" if m != m else f"{m:.3f} ± {s:.3f} #{int(r)}"
            for m, s, r in zip(table[f"{source}.cv_mean"], table[f"{source}.cv_std"], table[f"{source}.rank"])
        ]
    shown["mean"] = [f"{m:.3f}" for m in table["mean_cv"]]
    shown["avg rank"] = [f"{r:.1f}" for r in table["avg_rank"]]
    width = max(map(len, shown["configuration"]))
    footer = ""
    if len(sources) >= 3:
        names = table["sweep"].unique()
        name = names[0] if len(names) == 1 else "SWEEP"
        footer = (f"\nare these ranks different beyond chance? 'sweeplab compare {name}' tests them (Friedman, "
                  "Nemenyi critical difference) and trains the transfer matrix")
    return ("cv mean ± std and rank within each source\n"
            + shown.to_string(index=False, formatters={"configuration": lambda text: f"{text:<{width}}"}) + footer)


def _shown_params(params: dict, searched: list) -> str:
    """The searched parameters of a configuration (the fixed ones are the same on every row)."""
    return format_params({k: params[k] for k in sorted(params) if k in searched})


def render(frame, fmt: str, pivoted: bool = False) -> str:
    """``frame`` from :func:`rank` (or from :func:`pivot` when ``pivoted``) as a table, CSV or JSON."""
    import pandas as pd

    frame = frame.drop(columns=["start_time"], errors="ignore")
    if fmt == "json":
        return json.dumps(json.loads(frame.to_json(orient="records")), indent=2)
    if fmt == "csv":
        if frame.empty and not pivoted:
            frame = pd.DataFrame(columns=[c for c in COLUMNS if c != "start_time"])
        if not pivoted:  # one column per parameter, as the searched ones differ between sweeps
            params = pd.DataFrame(list(frame["params"]), index=frame.index).add_prefix("param.")
            frame = pd.concat([frame.drop(columns="params"), params], axis=1)
        # A cell holding a list or a mapping (searched, fold_scores, a pivot's params) is JSON, not Python's repr.
        return frame.map(lambda v: json.dumps(v, sort_keys=True) if isinstance(v, (list, tuple, dict)) else v
                         ).to_csv(index=False).removesuffix("\n")  # printed, which ends the line
    if frame.empty:
        first = command("make sweep SPACE=smoke", "sweeplab sweep smoke")
        return f"no finished sweeps in this store yet: run '{first}'"
    return _pivot_table(frame) if pivoted else _table(frame)


def _table(frame) -> str:
    def number(value):
        return "" if value is None or value != value else f"{value:.3f}"

    shown = frame.assign(
        cv=[f"{m:.3f} [{low:.2f}, {high:.2f}]" for m, low, high in zip(frame["cv_mean"], frame["ci_low"],
                                                                       frame["ci_high"])],
        lift_cv=[f"{v:+.3f}" for v in frame["lift_cv"]],
        test=[number(v) for v in frame["test"]],
        baseline=[number(v) for v in frame["baseline_test"]],
        lift_test=["" if v is None or v != v else f"{v:+.3f}" for v in frame["lift_test"]],
        tied=["yes" if tied else "" for tied in frame["tied"]],
        params=[_shown_params(p, searched) for p, searched in zip(frame["params"], frame["searched"])],
    )[["sweep", "source", "metric", "rank", "cv", "tied", "lift_cv", "test", "baseline", "lift_test", "params"]]
    shown.columns = ["sweep", "source", "metric", "rank", "cv [95 % interval]", "tied with #1", "lift vs bow (cv)",
                     "test", "bow test", "lift (test)", "params"]
    width = max(map(len, shown["params"]))
    return shown.to_string(index=False, formatters={"params": lambda text: f"{text:<{width}}"})
