"""``sweeplab compare SWEEP``: a sweep's configurations across the datasets it ran on, the way Demšar (JMLR 7,
2006) compares classifiers over data sets: average ranks, the Friedman test, the Nemenyi critical difference and
its diagram; and the transfer matrix, each dataset's winner scored on every other dataset's test split
(:mod:`sweeplab.results.transfer`).

A configuration counts when it finished on every dataset compared (random and grid searches propose the same
ones on every dataset; Optuna's differ, so few of its configurations can be compared).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from sweeplab import statistics
from sweeplab.errors import SweepLabError
from sweeplab.search.progress import format_params

MIN_DATASETS, MIN_CONFIGURATIONS = 3, 3  # Friedman's test needs three configurations; ranks need datasets


@dataclass(frozen=True)
class Comparison:
    sweep: str
    metric: str
    datasets: tuple
    scores: object  # DataFrame: configuration label -> CV mean per dataset
    configurations: dict  # label -> its searched parameters, shown
    ranks: object  # Series: label -> average rank (1 = best), best first
    friedman: dict  # chi2, p, f, f_p (sweeplab.statistics.friedman)
    cd: float  # the Nemenyi critical difference at alpha
    alpha: float
    pairwise: object  # DataFrame: Nemenyi p-values between configurations (scikit-posthocs)
    left_out: int  # configurations that did not finish on every dataset
    transfer: object = None  # DataFrame: trained on (rows) x tested on (columns), or None

    @property
    def weak(self) -> str | None:
        """What so few datasets can and cannot show, when they are few."""
        n, k = len(self.datasets), len(self.configurations)
        if n > 5:
            return None
        return (f"with {n} datasets the Friedman test is weak: even {n} datasets ranking all {k} configurations the "
                f"same way give p = {statistics.smallest_friedman_p(n, k):.3f} at best, and two configurations "
                f"differ only when their average ranks are {self.cd:.2f} apart (of at most {k - 1}); read the "
                "ranks as a description, not as evidence")

    def different(self) -> list[tuple[str, str]]:
        """The pairs whose average ranks are further apart than the critical difference."""
        labels = list(self.ranks.index)
        return [(a, b) for i, a in enumerate(labels) for b in labels[i + 1:]
                if abs(self.ranks[a] - self.ranks[b]) > self.cd]


def compare(tracker, sweep: str, alpha: float = statistics.ALPHA):
    """The :class:`Comparison` of the latest finished runs of ``sweep`` on each dataset it ran on (without the
    transfer matrix: :func:`sweeplab.results.transfer.transfer_matrix` trains models)."""
    import pandas as pd
    import scikit_posthocs

    from sweeplab.results import leaderboard

    frame = leaderboard.collect(tracker, sweep=sweep)
    datasets = tuple(sorted(frame["source"].unique())) if not frame.empty else ()
    if len(datasets) < MIN_DATASETS:
        raise SweepLabError(f"sweep '{sweep}' has finished runs on {len(datasets)} dataset(s) "
                            f"({', '.join(datasets) or 'none'}) in {tracker.uri}; comparing across datasets needs "
                            f"{MIN_DATASETS} or more")
    frame = frame.assign(key=[json.dumps(p, sort_keys=True, default=str) for p in frame["params"]])
    table = frame.pivot_table(index="key", columns="source", values="cv_mean", aggfunc="max")
    complete = table.dropna()
    if len(complete) < MIN_CONFIGURATIONS:
        raise SweepLabError(f"sweep '{sweep}': {len(complete)} configuration(s) finished on all of "
                            f"{', '.join(datasets)}; the Friedman test needs {MIN_CONFIGURATIONS} or more (the grid "
                            "and random engines try the same configurations on every dataset, Optuna does not)")
    ranks = pd.Series(statistics.average_ranks(complete.to_numpy().T), index=complete.index)
    order = ranks.sort_values(kind="stable").index
    labels = {key: f"C{i}" for i, key in enumerate(order, start=1)}
    searched = frame.drop_duplicates("key").set_index("key")
    shown = {labels[key]: format_params({k: v for k, v in json.loads(key).items()
                                          if k in searched.at[key, "searched"]}) for key in order}
    scores = complete.loc[order].rename(index=labels)
    pairwise = scikit_posthocs.posthoc_nemenyi_friedman(scores.to_numpy().T)  # blocks x groups
    pairwise.index = pairwise.columns = list(scores.index)
    return Comparison(
        sweep=sweep, metric=str(frame["metric"].iloc[0]), datasets=datasets, scores=scores, configurations=shown,
        ranks=ranks.loc[order].rename(index=labels), friedman=statistics.friedman(scores.to_numpy().T),
        cd=statistics.nemenyi_cd(len(scores), len(datasets), alpha), alpha=alpha, pairwise=pairwise,
        left_out=len(table) - len(complete),
    )


def render(comparison: Comparison) -> str:
    c = comparison
    lines = [f"sweep '{c.sweep}': {len(c.configurations)} configurations on {len(c.datasets)} datasets "
             f"({', '.join(c.datasets)}), cv {c.metric}"
             + (f"; {c.left_out} more did not finish on every dataset and are left out" if c.left_out else "")]
    table = c.scores.copy()
    table.index.name, table.columns.name = "config", None
    table.insert(0, "avg rank", c.ranks)
    table["configuration"] = [c.configurations[label] for label in table.index]
    lines.append(table.to_string(float_format=lambda v: f"{v:.3f}"))
    f = c.friedman
    lines.append(f"Friedman: chi2 {f['chi2']:.2f}, p {f['p']:.3f}; Iman-Davenport F {f['f']:.2f}, p {f['f_p']:.3f}")
    different = c.different()
    lines.append(f"Nemenyi critical difference at alpha {c.alpha:g}: {c.cd:.2f} ranks; "
                 + (f"{len(different)} pair(s) differ: " + ", ".join(f"{a} > {b}" for a, b in different)
                    if different else "no two configurations differ"))
    if c.weak:
        lines.append(f"note: {c.weak}")
    if c.transfer is not None:
        lines.append(f"transfer: each dataset's winner trained on its training split, test {c.metric} on every "
                     "test split (rows: trained on; columns: tested on)")
        lines.append(c.transfer.to_string(float_format=lambda v: f"{v:.3f}"))
    return "\n".join(lines)


def to_json(comparison: Comparison) -> str:
    """:func:`to_dict` as JSON that any parser reads: an infinite or undefined number (a Friedman F of identical
    rankings) is null, not the ``Infinity`` and ``NaN`` Python would write."""
    def finite(value):
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        if isinstance(value, dict):
            return {key: finite(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [finite(item) for item in value]
        return value

    return json.dumps(finite(to_dict(comparison)), indent=2, allow_nan=False)


def to_dict(comparison: Comparison) -> dict:
    c = comparison
    return {
        "sweep": c.sweep, "metric": c.metric, "datasets": list(c.datasets), "alpha": c.alpha,
        "configurations": [{"label": label, "params": c.configurations[label], "average_rank": float(c.ranks[label]),
                            "cv": {d: float(c.scores.at[label, d]) for d in c.datasets}} for label in c.ranks.index],
        "friedman": c.friedman, "critical_difference": c.cd, "different": c.different(), "weak": c.weak,
        "left_out": c.left_out,
        "transfer": None if c.transfer is None else {
            trained: {tested: (None if v != v else float(v)) for tested, v in row.items()}
            for trained, row in c.transfer.iterrows()},
    }
