"""One ``sweeplab compare`` run: the comparison across datasets, its tables and its two figures."""

from __future__ import annotations

from sweeplab.tracking.figures import critical_difference, transfer_heatmap
from sweeplab.tracking.runs import now


class ComparisonRun:
    def __init__(self, client, run_id: str):
        self.client, self.run_id = client, run_id

    def log(self, comparison) -> None:
        from mlflow.entities import Metric, Param

        c = comparison
        metrics = {"friedman_chi2": c.friedman["chi2"], "friedman_p": c.friedman["p"],
                   "iman_davenport_f": c.friedman["f"], "iman_davenport_p": c.friedman["f_p"],
                   "critical_difference": c.cd, "datasets": len(c.datasets),
                   "configurations": len(c.configurations), "pairs_different": len(c.different())}
        self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), now(), 0) for k, v in metrics.items()],
                              params=[Param("alpha", str(c.alpha)), Param("datasets", ",".join(c.datasets)),
                                      Param("metric", c.metric)])
        ranks = c.scores.assign(average_rank=c.ranks, configuration=[c.configurations[k] for k in c.scores.index])
        self.client.log_text(self.run_id, ranks.to_csv(index_label="label"), "ranks.csv")
        self.client.log_text(self.run_id, c.pairwise.to_csv(), "nemenyi_p.csv")
        title = (f"{c.sweep}: average rank over {len(c.datasets)} datasets (CD {c.cd:.2f} at alpha {c.alpha:g}, "
                 f"Friedman p {c.friedman['p']:.3f})")
        self.client.log_figure(self.run_id, critical_difference(c.ranks, c.pairwise, c.cd, title),
                               "critical_difference.png")
        if c.transfer is not None:
            self.client.log_text(self.run_id, c.transfer.to_csv(index_label="trained_on"), "transfer.csv")
            self.client.log_figure(self.run_id, transfer_heatmap(c.transfer, c.metric), "transfer.png")
