"""A sweep's report, read back from the store: per dataset every trial (its folds, interval, tie, state, the folds'
validation curves per epoch), the winner's test score against the baseline, its classification report and confusion
matrix, the refit's curves, and advice from the evidence; across datasets the pivot, the comparison and the
transfer matrix when a ``compare`` run has one. :mod:`sweeplab.results.html` draws it as one self-contained page,
:func:`markdown` as a summary.

The report reads what the runs hold, whatever engine wrote them, so every engine gets the same history,
importances and parallel coordinates.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from sweeplab.errors import SweepLabError
from sweeplab.modeling.metrics import CHOSEN_EPOCHS
from sweeplab.search.trial import TrialResult
from sweeplab.tags import BEST, GIT_COMMIT, GIT_DIRTY, NOTE, PARENT, REUSED_FROM, SELECTED, SOURCE, STATE, TIED, TRIAL

# Past this many trials the report's table shows the best of them and folds the rest away, and its curves the best.
SHOWN_TRIALS, SHOWN_CURVES = 50, 8


@dataclass(frozen=True)
class TrialView(TrialResult):
    """A trial as its run holds it: its result, and what the report shows beside it."""

    run_id: str = ""
    tied: bool = False
    selected: bool = False  # the trial the sweep refit and tested
    curves: tuple = ()  # per fold: its validation score after each epoch (the sweep's metric)
    chosen_epochs: tuple = ()  # per fold: the epoch whose weights it kept, where early stopping chose one


@dataclass(frozen=True)
class DatasetView:
    """One dataset's search as its runs hold it (:func:`collect`); what :mod:`sweeplab.results.advice` reads."""

    source: str
    run_id: str
    metric: str
    engine: str
    folds: int  # per repeat: what an interval is corrected by
    select: str
    compare: dict
    trials: tuple  # of TrialView, by number
    searched: tuple  # the names of the searched parameters
    baseline_cv: float | None
    baseline_test: float | None
    test: float | None  # the refit winner on the test split, in the sweep's metric
    test_measures: dict = field(default_factory=dict)
    test_report: str = ""
    classes: tuple = ()
    confusion: tuple = ()
    refit_history: dict = field(default_factory=dict)  # metric -> value per epoch
    space: object = None  # the sweeplab.config.Sweep it ran (its parameters' ranges), when the run has it
    patience: int = 0  # early stopping inside the folds (0: every epoch trains)
    wall_time: float = math.nan
    advice: tuple = ()  # of sweeplab.results.advice.Advice

    def complete(self) -> list:
        return [t for t in self.trials if t.ok]

    def best(self) -> TrialView | None:
        return max(self.complete(), key=lambda t: (t.mean, -t.number), default=None)

    def winner(self) -> TrialView | None:
        return next((t for t in self.trials if t.selected), None) or self.best()

    def tied(self) -> list:
        return [t for t in self.complete() if t.tied]

    def pruned(self) -> list:
        return [t for t in self.trials if t.state == "PRUNED"]

    def interval(self, trial: TrialView) -> tuple[float, float]:
        return trial.interval(self.folds or None)

    def curves_complete(self) -> bool:
        """Whether every complete trial has a validation curve for each of its folds."""
        complete = self.complete()
        return bool(complete) and all(len(t.curves) == len(t.fold_scores) and all(t.curves) for t in complete)

    def searched_space(self) -> dict:
        """The sweep's searched parameters (name -> sweeplab.config.Param), those of every family included."""
        if self.space is None:
            return {}
        found = dict(self.space.searched())
        for family in self.space.families:
            found.update(self.space.searched(family))
        return found

    def shown(self, trial: TrialView) -> str:
        """The trial's searched parameters, as the leaderboard shows them."""
        from sweeplab.search.progress import format_params

        return format_params({k: trial.params[k] for k in self.searched if k in trial.params}) or "its defaults"

    def test_name(self) -> str:
        if self.compare.get("test") == "bayesian":
            return f"Bayesian correlated t-test, rope {self.compare.get('rope', 0.01):g}"
        return f"corrected paired t-test, alpha {self.compare.get('alpha', 0.05):g}"


@dataclass(frozen=True)
class SweepReport:
    sweep: str
    tracking_uri: str
    experiment_id: str
    datasets: tuple  # of DatasetView
    pivot: object = None  # DataFrame (sweeplab.results.leaderboard.pivot) over two datasets or more
    comparison: object = None  # sweeplab.results.comparison.Comparison over three datasets or more
    transfer: object = None  # DataFrame, from the latest compare run that trained one
    notes: tuple = ()  # what could not be shown, and why
    revision: str = ""  # the code revision the searches ran with, when their runs recorded one
    written: str = ""  # when the report was made


def collect(tracker, sweep: str) -> SweepReport:
    """The report of ``sweep``'s latest finished search on each dataset it ran on."""
    from sweeplab.results import advice, comparison, leaderboard

    ids, parents = leaderboard.latest_searches(tracker, sweep)
    if not parents:
        raise SweepLabError(f"sweep '{sweep}' has no finished run in {tracker.uri}: run it first")
    children = [run for run in tracker.runs(ids, "trial") if run.data.tags.get(PARENT) in parents]
    reused = {run.data.tags[REUSED_FROM] for run in children if run.data.tags.get(REUSED_FROM)}
    known = {run.info.run_id for run in children}
    originals = [tracker.client.get_run(run_id) for run_id in sorted(reused - known)]  # reused from elsewhere
    curves = tracker.histories([*children, *originals], "fold_")
    refits = tracker.histories(list(parents.values()), "refit_")
    views = []
    for parent in sorted(parents.values(), key=lambda run: run.info.start_time):  # the sweep's own order
        own = [run for run in children if run.data.tags.get(PARENT) == parent.info.run_id]
        view = _dataset(tracker, parent, own, curves, refits.get(parent.info.run_id, {}))
        views.append(_with_advice(view, advice.advise(view)))
    notes, pivot, compared, transfer = [], None, None, None
    if len(views) >= 2:
        pivot = leaderboard.pivot(leaderboard.collect(tracker, sweep=sweep))
    if len(views) >= comparison.MIN_DATASETS:
        try:
            compared = comparison.compare(tracker, sweep)
        except SweepLabError as exc:
            notes.append(f"no comparison across datasets: {exc}")
        transfer = _latest_transfer(tracker, ids[0])
        if transfer is None:
            notes.append(f"no transfer matrix yet: 'sweeplab compare {sweep}' trains one")
    else:
        notes.append(f"ran on {len(views)} dataset(s): ranks across datasets and the transfer matrix need "
                     f"{comparison.MIN_DATASETS}")
    revisions = {parent.data.tags.get(GIT_COMMIT, "") + ("+changes" if parent.data.tags.get(GIT_DIRTY) == "true"
                                                           else "") for parent in parents.values()}
    return SweepReport(sweep, tracker.uri, ids[0], tuple(views), pivot, compared, transfer, tuple(notes),
                       ", ".join(sorted(r for r in revisions if r)), time.strftime("%Y-%m-%d %H:%M"))


def _with_advice(view: DatasetView, found: list) -> DatasetView:
    from dataclasses import replace

    return replace(view, advice=tuple(found))


def _dataset(tracker, parent, children: list, curves: dict, refit: dict) -> DatasetView:
    from sweeplab.results.leaderboard import compare_settings
    from sweeplab.tracking.dataset_run import CONFUSION
    from sweeplab.tracking.reader import fold_measures, param_values

    params, metrics, tags = parent.data.params, parent.data.metrics, parent.data.tags
    metric = tags.get("sweeplab.metric", "accuracy")
    space = _sweep(tracker, parent)
    searched = tuple(sorted(set(space.searched()) | {n for f in space.families for n in space.searched(f)}
                            | ({"model"} if space.families else set()))) if space else ()
    selected = tags.get(SELECTED)
    trials = []
    for run in children:
        m, run_tags = run.data.metrics, run.data.tags
        folds = fold_measures(m)
        scores = tuple(fold[metric] for fold in folds) if folds else tuple(
            m[f"fold_{k}_{metric}"] for k in range(1, len(m) + 1) if f"fold_{k}_{metric}" in m)
        history = curves.get(run_tags.get(REUSED_FROM) or run.info.run_id, {})
        fold_curves = tuple(tuple(value for _, value in history[f"fold_{k}_val_{metric}"])
                            for k in range(1, len(scores) + 1) if f"fold_{k}_val_{metric}" in history)
        chosen = tuple(int(m[f"fold_{k}_{CHOSEN_EPOCHS}"]) for k in range(1, len(scores) + 1)
                       if f"fold_{k}_{CHOSEN_EPOCHS}" in m)
        number = int(run_tags.get(TRIAL, -1))
        trials.append(TrialView(
            number=number, params=param_values(run.data.params), fold_scores=scores,
            fit_time=m.get("fit_time_s", math.nan), state=run_tags.get(STATE, "FAIL"), note=run_tags.get(NOTE),
            fold_measures=folds, reused_from=run_tags.get(REUSED_FROM), run_id=run.info.run_id,
            tied=run_tags.get(TIED) == "true", selected=run_tags.get(BEST) == "true" or str(number) == selected,
            curves=fold_curves, chosen_epochs=chosen))
    confusion = _json(tracker, parent.info.run_id, CONFUSION) or {}
    return DatasetView(
        source=tags[SOURCE], run_id=parent.info.run_id, metric=metric, engine=params.get("engine", ""),
        folds=int(params.get("folds", 0) or 0), select=params.get("select", "best"), compare=compare_settings(parent),
        trials=tuple(sorted(trials, key=lambda t: t.number)), searched=searched,
        baseline_cv=metrics.get(f"baseline_cv_{metric}"), baseline_test=metrics.get(f"baseline_test_{metric}"),
        test=metrics.get(f"test_{metric}"),
        test_measures={k[len("test_"):]: v for k, v in metrics.items() if k.startswith("test_")},
        test_report=tracker.artifact_text(parent.info.run_id, "test_classification_report.txt") or "",
        classes=tuple(confusion.get("classes", ())), confusion=tuple(map(tuple, confusion.get("counts", ()))),
        refit_history={key[len("refit_"):]: [value for _, value in values] for key, values in refit.items()},
        space=space, patience=int(space.space["patience"].largest()) if space and "patience" in space.space else 0,
        wall_time=metrics.get("wall_time_s", math.nan))


def _sweep(tracker, parent):
    """The sweep a dataset run ran (its ``sweep.yaml``), or None for a run without one it can read."""
    import yaml

    from sweeplab import config

    text = tracker.artifact_text(parent.info.run_id, "sweep.yaml")
    if not text:
        return None
    try:
        return config.parse_sweep(yaml.safe_load(text), f"run {parent.info.run_id}")
    except (SweepLabError, yaml.YAMLError, TypeError, AttributeError):
        return None  # a sweep file of another version's, which this one does not read


def _json(tracker, run_id: str, path: str):
    text = tracker.artifact_text(run_id, path)
    return json.loads(text) if text else None


def _latest_transfer(tracker, experiment_id: str):
    """The transfer matrix of the latest ``compare`` run of the sweep that trained one, or None."""
    import io

    import pandas as pd

    runs = sorted(tracker.runs([experiment_id], "comparison"), key=lambda run: run.info.start_time, reverse=True)
    for run in runs:
        text = tracker.artifact_text(run.info.run_id, "transfer.csv")
        if text:
            return pd.read_csv(io.StringIO(text), index_col=0)
    return None


# --- parameter importances, for every engine ---------------------------------------------------------------------


def importances(view: DatasetView) -> dict | None:
    """How much of the CV score's variance each searched parameter explains (Optuna's fANOVA evaluator, on an
    in-memory study of the complete trials with the sweep's ranges as distributions), largest first; None when the
    trials cannot tell (fewer than three, or one configuration)."""
    from sweeplab.search.queue.storage import optuna as quiet_optuna

    optuna = quiet_optuna()  # its INFO lines ("A new study created in memory") are not the user's

    distributions = _distributions(view)
    complete = [t for t in view.complete() if all(name in t.params for name in distributions)]
    if len(distributions) == 0 or len(complete) < 3 or len({t.mean for t in complete}) < 2:
        return None
    study = optuna.create_study(direction="maximize", storage=optuna.storages.InMemoryStorage())
    for trial in complete:
        with contextlib.suppress(ValueError):  # a value outside the sweep's ranges (a study's older settings)
            study.add_trial(optuna.trial.create_trial(
                params={name: trial.params[name] for name in distributions}, distributions=distributions,
                value=trial.mean))
    if len(study.trials) < 3:
        return None
    try:
        return dict(optuna.importance.get_param_importances(study))
    except (ValueError, RuntimeError):
        return None


def _distributions(view: DatasetView) -> dict:
    """The searched parameters as Optuna distributions: a list is categorical, a range an int or float range."""
    import optuna.distributions as d

    found = {}
    for name, param in view.searched_space().items():
        if param.values:
            found[name] = d.CategoricalDistribution(list(param.values))
        elif param.integer:
            found[name] = d.IntDistribution(int(param.low), int(param.high), log=param.log,
                                            step=int(param.step or 1))
        else:
            found[name] = d.FloatDistribution(param.low, param.high, log=param.log, step=param.step)
    if view.space is not None and view.space.families:
        # A family's own parameters exist in its trials only: across families, the family and what they share.
        found["model"] = d.CategoricalDistribution(list(view.space.families))
        found = {name: value for name, value in found.items() if name == "model" or name in view.space.space}
    return found


# --- the summary ---------------------------------------------------------------------------------------------------


def markdown(report: SweepReport) -> str:
    """The report's summary as markdown: per dataset the winner, its interval, test against the baseline, and the
    advice."""
    lines = [f"# Sweep `{report.sweep}`", "",
             f"Store: `{report.tracking_uri}` (experiment {report.experiment_id}); written {report.written}"
             + (f"; code {report.revision}" if report.revision else ""), "",
             "| dataset | winner | cv [95 % interval] | tied | test | baseline test | lift |",
             "|---|---|---|---|---|---|---|"]
    for view in report.datasets:
        winner = view.winner()
        if winner is None:
            lines.append(f"| {view.source} | (no complete trial) | | | | | |")
            continue
        low, high = view.interval(winner)
        lift = f"{view.test - view.baseline_test:+.3f}" if view.test is not None and view.baseline_test else ""
        lines.append(f"| {view.source} | trial {winner.number}: {view.shown(winner)} | {winner.mean:.3f} "
                     f"[{low:.3f}, {high:.3f}] | {len(view.tied())} of {len(view.complete())} | "
                     f"{_number(view.test)} | {_number(view.baseline_test)} | {lift} |")
    for view in report.datasets:
        if view.advice:
            lines += ["", f"## Advice for {view.source}", ""] + [f"- {a.text}" for a in view.advice]
    if report.notes:
        lines += ["", "## Not shown", ""] + [f"- {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


def _number(value) -> str:
    return "" if value is None or value != value else f"{value:.3f}"


def write(report: SweepReport, out: Path) -> tuple[Path, Path]:
    """The report as ``report.html`` (one self-contained page) and ``report.md`` in the directory ``out``."""
    from sweeplab import files
    from sweeplab.results import html

    page = files.write_atomically(Path(out) / "report.html", html.render(report).encode("utf-8"), "report")
    summary = files.write_atomically(Path(out) / "report.md", markdown(report).encode("utf-8"), "report summary")
    return page, summary
