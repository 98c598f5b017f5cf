"""The transfer matrix: does a model tuned on one dataset work on another? Each dataset's winner (the trial its
sweep refit) is trained on its own training split, exactly as the sweep refit it, and scored on every dataset's
held-out test split. The diagonal is the sweep's own test score again; off it, yelp → amazon and so on.
"""

from __future__ import annotations

import json
import math


def transfer_matrix(tracker, sweep: str, metric: str, datasets: tuple, progress=None):
    """A DataFrame: rows the dataset a winner was tuned and trained on, columns the dataset whose test split
    scored it, in ``metric``; NaN where the two datasets' classes differ."""
    import pandas as pd

    from sweeplab import data
    from sweeplab.modeling import pipeline
    from sweeplab.modeling.metrics import measure_predictions
    from sweeplab.modeling.registry import family_of
    from sweeplab.results import leaderboard
    from sweeplab.tags import DATA_SHA

    frame = leaderboard.collect(tracker, sweep=sweep, metric=metric)
    splits, winners = {}, {}
    for source in datasets:
        rows = frame[(frame["source"] == source) & frame["test"].notna()]
        if rows.empty:
            continue
        row = rows.iloc[0]
        run = tracker.client.get_run(row["parent_run_id"])
        parent = run.data.params
        reference = json.loads(parent["data.reference"]) if "data.reference" in parent else {"source": source}
        dataset = data.load_reference(reference, run.data.tags.get(DATA_SHA), f"sweep '{sweep}' on {source}")
        splits[source] = (dataset, data.holdout_split(dataset, float(parent["test_size"]), int(parent["seed"])))
        winners[source] = (parent.get("model"), dict(row["params"]), int(parent["seed"]))
    matrix = pd.DataFrame(math.nan, index=list(winners), columns=list(splits), dtype=float)
    for trained, (model, params, seed) in winners.items():
        if progress is not None:
            progress(f"transfer: training {trained}'s winner on its training split")
        dataset, (X_train, _, y_train, _) = splits[trained]
        fitted = pipeline.build(family_of(params, model), params, seed).fit(X_train, y_train)
        for tested, (other, (_, X_test, _, y_test)) in splits.items():
            if list(other.classes) == list(dataset.classes):
                matrix.at[trained, tested] = measure_predictions(y_test, fitted.predict(X_test))[metric]
    return matrix
