"""The same sweep file and seed give the same sampled parameters and the same CV scores, run after run."""

import textwrap

import numpy as np
import pytest

from sweeplab.cli import main
from sweeplab.tracking import Tracker

pytestmark = pytest.mark.integration


def noisy_reviews(directory, rows=160):
    """Two classes a model learns only partly (a fifth of the labels are flipped), so scores differ between
    configurations and would show any nondeterminism in training."""
    rng = np.random.default_rng(1)
    words = ["the", "film", "was", "plot", "and", "acting", "really", "quite", "dull", "fine", "great", "awful"]
    lines = ["text,label"]
    for i in range(rows):
        label = i % 2
        text = list(rng.choice(words, size=6)) + ["great" if label else "awful"]
        lines.append(f"{' '.join(text)},{label if rng.random() > 0.2 else 1 - label}")
    path = directory / "noisy.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def sweep_file(directory, engine):
    path = directory / f"repro_{engine}.yaml"
    path.write_text(textwrap.dedent(f"""
        name: repro_{engine}
        model: cnn
        engine: {engine}
        trials: 4
        folds: 2
        fit: {{epochs: 3, batch_size: 16}}
        space:
          embedding_dim: [8, 16]
          maxlen: 10
          num_filters: [4, 8]
          kernel_size: [2, 3]
          dropout: {{low: 0.0, high: 0.5}}
          learning_rate: {{low: 0.003, high: 0.03, log: true}}
    """))
    return path


def run_twice(tmp_path, engine, seeds=(7, 7)):
    """Each run in a fresh store: (params, fold scores) per trial, in trial order, and the refit's test score."""
    data, sweep = noisy_reviews(tmp_path), sweep_file(tmp_path, engine)
    outcomes = []
    for attempt, seed in enumerate(seeds):
        uri = f"sqlite:///{tmp_path / str(attempt) / 'mlflow.db'}"
        args = ["sweep", str(sweep), "--data", str(data), "--tracking-uri", uri, "--seed", str(seed)]
        if engine == "optuna":
            args += ["--storage", f"sqlite:///{tmp_path / str(attempt) / 'optuna.db'}"]
        assert main(args) == 0
        tracker = Tracker(uri)
        experiments = [e for e, _ in tracker.sweep_experiments()]
        trials = sorted(tracker.runs(experiments, "trial"), key=lambda r: int(r.data.tags["sweeplab.trial"]))
        parent = tracker.runs(experiments, "dataset")[0]
        outcomes.append((
            [(r.data.params, {k: v for k, v in r.data.metrics.items() if k.startswith("fold_")}) for r in trials],
            parent.data.metrics["test_accuracy"],
        ))
    return outcomes


@pytest.mark.parametrize("engine", ["optuna", "random"])
def test_the_same_seed_gives_the_same_parameters_and_scores(tmp_path, engine):
    first, second = run_twice(tmp_path, engine)
    assert first == second
    scores = {value for _, metrics in first[0] for key, value in metrics.items() if key.endswith("_accuracy")}
    assert len(scores) > 2, "the trials should not all score alike, or the comparison proves little"


def test_another_seed_gives_other_parameters_and_scores(tmp_path):
    first, second = run_twice(tmp_path, "optuna", seeds=(7, 8))
    assert [params for params, _ in first[0]] != [params for params, _ in second[0]]
