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
