"""What a fold is scored with: every metric of :data:`METRICS`; a sweep's ``metric:`` picks the one it ranks by."""

from __future__ import annotations

METRICS = ("accuracy", "macro_f1")
# Facts of a fold's fitted model, logged beside its metrics (sweeplab.modeling.pipeline.facts). Here, not in the
# pipeline module, so that reading results does not import scikit-learn (a second of `sweeplab leaderboard`).
TRAINABLE_PARAMS = "trainable_params"  # the fold fact a configuration's size is read from (the "simplest" rule)
CHOSEN_EPOCHS = "chosen_epochs"  # the fold fact of early stopping: the epoch whose weights the fold kept


def measure_predictions(y_true, y_pred) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0))}


def confusion(y_true, y_pred, n_classes: int) -> list[list[int]]:
    """Counts of true class (rows) against predicted class (columns), every class a row and a column."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=range(n_classes)).tolist()


def class_report(y_true, y_pred, classes: list, as_dict: bool = False):
    """Per-class precision, recall and F1 under the original label names (text, or a dict with ``as_dict``)."""
    from sklearn.metrics import classification_report

    return classification_report(y_true, y_pred, labels=range(len(classes)), target_names=[str(c) for c in classes],
                                 digits=3, zero_division=0, output_dict=as_dict)
