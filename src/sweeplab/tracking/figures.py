"""The figures a run carries. Drawn on :class:`matplotlib.figure.Figure` directly, not through pyplot: pyplot's
backend and its list of open figures are process-wide, and a notebook that imports sweeplab keeps its own."""

from __future__ import annotations

import numpy as np


def confusion_figure(evaluation):
    """A retrain's confusion matrix on the test split."""
    return confusion_counts(evaluation.classes, evaluation.confusion, f"test accuracy {evaluation.accuracy:.3f}")


def confusion_counts(classes, counts, title: str):
    """True class (rows) against predicted class (columns), each cell its count."""
    from matplotlib.figure import Figure

    names, counts = [str(c) for c in classes], np.asarray(counts)
    figure = Figure(figsize=(1.2 * len(names) + 2.5, 1.2 * len(names) + 2))
    axis = figure.subplots()
    axis.imshow(counts, cmap="Blues")
    for (row, column), count in np.ndenumerate(counts):
        axis.text(column, row, str(count), ha="center", va="center",
                  color="white" if count > counts.max() / 2 else "black")
    axis.set_xticks(range(len(names)), names)
    axis.set_yticks(range(len(names)), names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    figure.tight_layout()
    return figure


def learning_curve(history: dict, title: str):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.5))
    axes = figure.subplots(1, 2)
    for axis, key in zip(axes, ("loss", "accuracy")):  # what Keras records while fitting
        for name, values in history.items():
            if name.endswith(key):
                axis.plot(range(1, len(values) + 1), values, marker="o", label=name)
        axis.set_xlabel("epoch")
        axis.set_title(key)
        axis.legend()
    figure.suptitle(f"refit of the best configuration on {title}'s training split")
    figure.tight_layout()
    return figure


def critical_difference(ranks, pairwise, cd: float, title: str):
    """Demšar's critical-difference diagram: the configurations on their average-rank axis, those not told apart
    (Nemenyi p-value at or above alpha) joined by a bar, and the critical difference drawn above
    (scikit-posthocs draws it)."""
    import scikit_posthocs
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 1.6 + 0.3 * len(ranks)))
    axis = figure.subplots()
    scikit_posthocs.critical_difference_diagram(ranks, pairwise, ax=axis, cd=cd)
    axis.set_title(title, fontsize=10, pad=30)  # room for the CD bar drawn above the axis
    figure.tight_layout()
    return figure


def transfer_heatmap(matrix, metric: str):
    """Trained on (rows) x tested on (columns), each cell the test score."""
    from matplotlib.figure import Figure

    values = matrix.to_numpy(dtype=float)
    figure = Figure(figsize=(1.3 * len(matrix.columns) + 2.5, 1.1 * len(matrix.index) + 1.8))
    axis = figure.subplots()
    image = axis.imshow(values, cmap="viridis", vmin=np.nanmin(values), vmax=np.nanmax(values))
    for (row, column), value in np.ndenumerate(values):
        axis.text(column, row, "" if value != value else f"{value:.3f}", ha="center", va="center",
                  color="black" if value > np.nanmean(values) else "white")
    axis.set_xticks(range(len(matrix.columns)), matrix.columns)
    axis.set_yticks(range(len(matrix.index)), matrix.index)
    axis.set_xlabel("tested on")
    axis.set_ylabel("tuned and trained on")
    axis.set_title(f"test {metric} of each dataset's winner")
    figure.colorbar(image, ax=axis)
    figure.tight_layout()
    return figure


# --- a sweep's report (sweeplab.results.report) --------------------------------------------------------------------


def fold_curves(trials: list, metric: str, winner_number: int | None):
    """Each trial's validation score per epoch: the mean over its folds, a band from the lowest to the highest fold,
    and a mark where its folds' scores were taken (the epochs early stopping kept, else the last)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 4))
    axis = figure.subplots()
    colors = iter(_palette(len(trials)))
    for trial in trials:
        width = min(len(curve) for curve in trial.curves)
        curves = np.array([curve[:width] for curve in trial.curves])
        epochs = np.arange(1, width + 1)
        color = next(colors)
        label = f"trial {trial.number} (cv {trial.mean:.3f})" + (" winner" if trial.number == winner_number else "")
        axis.plot(epochs, curves.mean(axis=0), color=color, linewidth=2.2 if trial.number == winner_number else 1.2,
                  label=label)
        axis.fill_between(epochs, curves.min(axis=0), curves.max(axis=0), color=color, alpha=0.12)
        chosen = trial.chosen_epochs or (width,) * len(curves)
        taken = [min(max(int(e), 1), width) for e in chosen]
        axis.scatter(taken, [curve[e - 1] for curve, e in zip(curves, taken)], color=color, marker="v", s=22,
                     zorder=3)
    from matplotlib.ticker import MaxNLocator

    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("epoch")
    axis.set_ylabel(f"validation {metric}")
    axis.set_title("the folds' validation curves (mean and range; \u25bc where each fold's score was taken)")
    axis.legend(fontsize=7, ncol=2, loc="lower right")
    figure.tight_layout()
    return figure


def search_history(trials: list, metric: str, baseline: float | None):
    """Each trial's CV mean by trial number, the best so far, the pruned trials' last running mean, and the
    bag-of-words baseline."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.6))
    axis = figure.subplots()
    complete = [t for t in trials if t.ok]
    axis.scatter([t.number for t in complete], [t.mean for t in complete], s=14, color="#1f77b4", label="complete")
    pruned = [t for t in trials if t.state == "PRUNED" and t.fold_scores]
    if pruned:
        axis.scatter([t.number for t in pruned], [np.nanmean(t.fold_scores) for t in pruned], s=14, marker="x",
                     color="#999999", label="pruned (folds it finished)")
    if complete:
        ordered = sorted(complete, key=lambda t: t.number)
        axis.step([t.number for t in ordered], np.maximum.accumulate([t.mean for t in ordered]), where="post",
                  color="#d62728", label="best so far")
    if baseline is not None:
        axis.axhline(baseline, color="#2ca02c", linestyle="--", linewidth=1, label=f"bag-of-words cv {baseline:.3f}")
    from matplotlib.ticker import MaxNLocator

    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("trial")
    axis.set_ylabel(f"cv {metric}")
    axis.set_title("history of the search")
    axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    return figure


def importance_bars(importances: dict):
    """Each searched parameter's share of the CV score's variance (fANOVA)."""
    from matplotlib.figure import Figure

    names = list(importances)[::-1]
    figure = Figure(figsize=(6, 0.45 * len(names) + 1.4))
    axis = figure.subplots()
    axis.barh(names, [importances[n] for n in names], color="#1f77b4")
    for row, name in enumerate(names):
        axis.text(importances[name], row, f" {importances[name]:.2f}", va="center", fontsize=8)
    axis.set_xlim(0, 1.1)
    axis.set_xlabel("share of the variance of the cv score (fANOVA)")
    axis.set_title("parameter importances")
    figure.tight_layout()
    return figure


def parallel_coordinates(trials: list, names: list, spaces: dict, metric: str):
    """One axis per searched parameter and one for the CV score; each complete trial a line, colored by its
    score, the best on top. A list's values are spaced evenly in their order, a range is linear (or log)."""
    from matplotlib import cm
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    complete = sorted((t for t in trials if t.ok), key=lambda t: t.mean)
    figure = Figure(figsize=(max(6, 1.6 * (len(names) + 1)), 4))
    axis = figure.subplots()
    scores = [t.mean for t in complete]
    norm = Normalize(min(scores), max(scores) if max(scores) > min(scores) else min(scores) + 1e-9)
    columns = [[_position(t.params.get(name), spaces.get(name), [u.params.get(name) for u in complete])
                for name in names] + [norm(t.mean)] for t in complete]
    for trial, row in zip(complete, columns):
        axis.plot(range(len(row)), row, color=cm.viridis(norm(trial.mean)), alpha=0.25 if len(complete) > 100 else 0.7,
                  linewidth=0.8)
    for x, name in enumerate([*names, f"cv {metric}"]):
        axis.axvline(x, color="#444444", linewidth=0.8)
        labels = _axis_labels(name, spaces.get(name), [t.params.get(name) for t in complete]) if x < len(names) \
            else [(0, f"{min(scores):.3f}"), (1, f"{max(scores):.3f}")]
        for y, text in labels:
            axis.text(x + 0.04, y, text, fontsize=7, va="center")
    axis.set_xticks(range(len(names) + 1), [*names, f"cv {metric}"], fontsize=8)
    axis.set_yticks([])
    axis.set_ylim(-0.05, 1.05)
    axis.set_title(f"parallel coordinates ({len(complete)} complete trials, colored by cv {metric})")
    figure.tight_layout()
    return figure


def _position(value, param, seen: list) -> float:
    """Where a parameter's value stands on its axis, from 0 to 1."""
    choices = _choices(param, seen)
    if choices is not None:
        return choices.index(value) / max(len(choices) - 1, 1) if value in choices else 0.5
    low, high = _bounds(param, seen)
    if value is None or high <= low:
        return 0.5
    if param is not None and param.log and low > 0 and value > 0:
        return (np.log(value) - np.log(low)) / (np.log(high) - np.log(low))
    return (value - low) / (high - low)


def _axis_labels(name: str, param, seen: list) -> list:
    choices = _choices(param, seen)
    if choices is not None:
        return [(i / max(len(choices) - 1, 1), str(c)) for i, c in enumerate(choices)]
    low, high = _bounds(param, seen)
    return [(0, f"{low:.3g}"), (1, f"{high:.3g}")]


def _choices(param, seen: list):
    """The values of a categorical axis, in order: the sweep's list, or the values seen when it is not numeric."""
    if param is not None and param.values:
        return list(param.values)
    if param is None and any(isinstance(v, str) or isinstance(v, bool) for v in seen):
        return sorted({str(v) for v in seen})
    return None


def _bounds(param, seen: list) -> tuple[float, float]:
    if param is not None and param.low is not None:
        return float(param.low), float(param.high)
    numbers = [float(v) for v in seen if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return (min(numbers), max(numbers)) if numbers else (0.0, 1.0)


def refit_curves(history: dict, title: str):
    """The refit's own curves per epoch (loss and the sweep's metrics on its training data)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3))
    axis = figure.subplots()
    for name, values in history.items():
        axis.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=name)
    axis.set_xlabel("epoch")
    axis.set_title(title, fontsize=9)
    axis.legend(fontsize=7)
    figure.tight_layout()
    return figure


def _palette(count: int) -> list:
    from matplotlib import cm

    return [cm.tab10(i % 10) for i in range(count)]
