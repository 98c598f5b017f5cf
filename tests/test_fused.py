"""Fused trials: configurations trained side by side as one Keras model score what each scores alone."""

import pytest
from sklearn.model_selection import StratifiedKFold

from sweeplab.modeling import pipeline
from sweeplab.search.folds import Member, NotFused, VectorizedFolds, cross_validate, cross_validate_fused

SHARED = {"batch_size": 8, "maxlen": 10, "max_words": 50}
# Different widths, dropouts, learning rates and epoch counts: only the stream is shared.
POOLS = [
    {"embedding_dim": 4, "dense_units": 8, "dropout": 0.0, "learning_rate": 0.01, "epochs": 3},
    {"embedding_dim": 8, "dense_units": 4, "dropout": 0.3, "learning_rate": 0.003, "epochs": 5},
    {"embedding_dim": 6, "dense_units": 6, "dropout": 0.5, "learning_rate": 0.02, "epochs": 4, "patience": 1},
]


def alone_and_fused(model, configurations, X, y, folds=3):
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=1).split(X, y))

    def make(params):
        return lambda: pipeline.build(model, {**SHARED, **params}, seed=3)

    alone, curves = [], []
    for params in configurations:
        heard = []
        run = cross_validate(make(params), X, y, None, folds=VectorizedFolds(X, splits),
                             on_epoch=lambda fold, epoch, value, heard=heard: heard.append((fold, epoch, value)))
        alone.append(run)
        curves.append(heard)
    members = []
    for params in configurations:
        heard = []
        members.append(Member(make(params), on_epoch=lambda fold, epoch, value, heard=heard: heard.append(
            (fold, epoch, value))))
        members[-1].heard = heard
    cross_validate_fused(members, X, y, folds=VectorizedFolds(X, splits))
    return alone, curves, members


def test_a_fused_member_scores_exactly_what_it_scores_alone(tiny_texts):
    """Same batches, same initial weights, same dropout masks, its own optimizer: every fold's every metric and
    every epoch's validation score are equal to the last digit, early stopping included."""
    X, y = tiny_texts
    alone, curves, members = alone_and_fused("embedding_pool", POOLS, X, y)
    for run, heard, member in zip(alone, curves, members):
        assert member.stopped is None
        assert member.run.measures == run.measures  # exact: accuracy, F1, AUC, trainable parameters, chosen epoch
        assert member.heard == heard
    assert members[2].run.measures[0][pipeline.CHOSEN_EPOCHS] <= 4


def test_folds_of_other_lengths_train_the_models_they_score(tiny_texts):
    """``maxlen: {percentile: ...}`` gives each fold its own sequence length, so each fold builds new member
    models: the fused model must be rebuilt around them (it once went on training the first fold's models, and
    every later fold scored an untrained one)."""
    import numpy as np

    texts, y = tiny_texts
    padding = np.random.default_rng(1).integers(0, 25, len(texts))
    X = np.array([text + " and it" * n for text, n in zip(texts, padding)], dtype=object)
    configurations = [{**params, "maxlen_percentile": 60, "max_words": 50} for params in POOLS[:2]]
    alone, _, members = alone_and_fused("embedding_pool", configurations, X, y)
    assert len({fold["maxlen"] for fold in alone[0].measures}) > 1  # the folds' lengths differ
    for run, member in zip(alone, members):
        assert member.run.measures == run.measures


def test_convolutions_of_other_widths_fuse_with_the_widest_padding(tiny_texts):
    """Kernel 2 and kernel 4 share batches cut for kernel 4: the narrower one sees more padding than alone, which
    leaves its outputs as they were and its gradients equal up to float rounding (how a max splits its gradient
    among tied padding windows): the scores agree closely, not to the last digit."""
    X, y = tiny_texts
    configurations = [{"num_filters": 4, "kernel_size": 2, "embedding_dim": 4, "epochs": 3},
                      {"num_filters": 8, "kernel_size": 4, "embedding_dim": 4, "epochs": 3}]
    alone, _, members = alone_and_fused("cnn", configurations, X, y)
    for run, member in zip(alone, members):
        assert member.run.scores == pytest.approx(run.scores, abs=0.05)
    assert members[1].run.measures == alone[1].measures  # the widest one sees exactly its own batches


def test_a_member_stopped_by_its_pruner_leaves_the_others_training(tiny_texts):
    X, y = tiny_texts
    splits = list(StratifiedKFold(3, shuffle=True, random_state=1).split(X, y))

    class Pruned(Exception):
        pass

    def prune(fold, score, measures):
        raise Pruned

    make = [lambda p=p: pipeline.build("embedding_pool", {**SHARED, **p}, seed=3) for p in POOLS[:2]]
    members = [Member(make[0], on_fold=prune), Member(make[1])]
    cross_validate_fused(members, X, y, folds=VectorizedFolds(X, splits))
    assert isinstance(members[0].stopped, Pruned) and len(members[0].run.scores) == 1
    assert members[1].stopped is None and len(members[1].run.scores) == 3
    alone = cross_validate(make[1], X, y, None, folds=VectorizedFolds(X, splits))
    assert members[1].run.measures == alone.measures


def test_a_model_that_needs_its_full_length_is_not_fused(tiny_texts):
    X, y = tiny_texts
    make = lambda: pipeline.build("flatten", {**SHARED, "epochs": 1}, seed=3)  # noqa: E731
    with pytest.raises(NotFused):
        cross_validate_fused([Member(make), Member(make)], X, y, cv=StratifiedKFold(2))


@pytest.mark.integration
@pytest.mark.parametrize("engine", ["grid", "optuna"])
def test_a_fused_sweep_logs_every_trial_with_the_scores_of_an_unfused_one(tmp_path, tiny_texts, engine):
    """`fuse: 3` over six candidates: two fused models of three, each trial its own MLflow run with the fold scores
    the same sweep logs without fusion. Optuna asks for three trials at a time (its random sampler draws the same
    configurations either way) and is told each one's outcome."""
    import textwrap

    from mlflow import MlflowClient

    from sweeplab import api
    from sweeplab.tags import KIND, TRIAL

    texts, labels = tiny_texts
    data = tmp_path / "tiny.csv"
    data.write_text("text,label\n" + "\n".join(f"{t},{y}" for t, y in zip(texts, labels)) + "\n")
    found = {}
    for fuse in (1, 3):
        sweep = tmp_path / f"fused{fuse}.yaml"
        sweep.write_text(textwrap.dedent(f"""
            model: embedding_pool
            engine: {engine}
            sampler: random
            pruner: none
            trials: 6
            folds: 3
            seed: 5
            fuse: {fuse}
            fit: {{epochs: 3, batch_size: 8}}
            space: {{embedding_dim: [4, 8], dropout: [0.0, 0.2, 0.4], maxlen: 10, max_words: 50}}
        """))
        uri = f"sqlite:///{tmp_path / f'mlflow{fuse}.db'}"
        storage = {"storage": f"sqlite:///{tmp_path / f'optuna{fuse}.db'}"} if engine == "optuna" else {}
        (result,) = api.sweep(str(sweep), data=str(data), tracking_uri=uri, progress=None, **storage).datasets
        client = MlflowClient(uri)
        children = client.search_runs([e.experiment_id for e in client.search_experiments()],
                                      filter_string=f"tags.`{KIND}` = 'trial'")
        assert sorted(int(c.data.tags[TRIAL]) for c in children) == list(range(6))
        assert all(c.info.status == "FINISHED" for c in children)
        found[fuse] = ({t.number: t.fold_measures for t in result.trials},
                       {int(c.data.tags[TRIAL]): c.data.metrics["cv_accuracy_mean"] for c in children},
                       result.test_measures)
    assert found[3] == found[1]
    if engine == "optuna":
        import optuna

        study = optuna.load_study(study_name="fused3-tiny", storage=f"sqlite:///{tmp_path / 'optuna3.db'}")
        assert [t.state.name for t in study.trials] == ["COMPLETE"] * 6
        assert [t.value for t in study.trials] == [found[3][1][t.number] for t in study.trials]
