"""The figures a run carries. Drawn on :class:`matplotlib.figure.Figure` directly, not through pyplot: pyplot's
backend and its list of open figures are process-wide, and a notebook that imports sweeplab keeps its own."""

from __future__ import annotations

import numpy as np


def confusion_figure(evaluation):
    from matplotlib.figure import Figure

    names = [str(c) for c in evaluation.classes]
    figure = Figure(figsize=(1.2 * len(names) + 2.5, 1.2 * len(names) + 2))
    axis = figure.subplots()
    axis.imshow(evaluation.confusion, cmap="Blues")
    for (row, column), count in np.ndenumerate(evaluation.confusion):
        axis.text(column, row, str(count), ha="center", va="center",
                  color="white" if count > evaluation.confusion.max() / 2 else "black")
    axis.set_xticks(range(len(names)), names)
    axis.set_yticks(range(len(names)), names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(f"test accuracy {evaluation.accuracy:.3f}")
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
