"""Sweep files: the shipped ones load, and every kind of mistake is one line naming the file and the key."""

import re
import textwrap

import pytest

from sweeplab import config
from sweeplab.cli import main
from sweeplab.errors import SweepLabError
from sweeplab.modeling import registry
from tests.conftest import BUILT_IN_SWEEPS, ROOT

VALID = """
name: t
model: cnn
sources: [yelp]
trials: 2
folds: 2
fit: {epochs: 1, batch_size: 8}
space:
  num_filters: [8, 16]
  learning_rate: {low: 1.0e-4, high: 1.0e-2, log: true}
  maxlen: 20
"""


def write(tmp_path, text, name="sweep.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_cnn_grid_is_the_reference_search():
    sweep = config.load_sweep("cnn_grid")
    assert (sweep.model, sweep.engine, sweep.trials, sweep.folds, sweep.seed) == ("cnn", "random", 5, 4, 1000)
    assert sweep.fuse == 5  # its candidates share a batch stream: one fused model (bench/cnn_grid.py)
    assert sweep.sources == ("yelp", "amazon", "imdb")
    assert sweep.test_size == 0.25
    assert sweep.fixed() == {"embedding_dim": 50, "maxlen": 100, "max_words": 5000, "epochs": 20, "batch_size": 10}
    assert {n: p.values for n, p in sweep.searched().items()} == {
        "num_filters": (32, 64, 128), "kernel_size": (3, 5, 7)}


def test_smoke_is_small():
    sweep = config.load_sweep("smoke")
    assert (sweep.trials, sweep.folds, sweep.fixed()["epochs"]) == (2, 2, 1)


def test_valid_file_parses_ranges_and_fixed_values(tmp_path):
    sweep = config.load_sweep(str(write(tmp_path, VALID)))
    lr = sweep.space["learning_rate"]
    assert (lr.low, lr.high, lr.log, lr.integer) == (1e-4, 1e-2, True, False)
    assert sweep.fixed()["maxlen"] == 20 and sweep.space["num_filters"].values == (8, 16)
    assert sweep.name == "t" and sweep.path.endswith("sweep.yaml")


def test_compare_and_select_default_to_the_t_test_and_the_best(tmp_path):
    sweep = config.load_sweep(str(write(tmp_path, VALID)))
    assert (sweep.compare, sweep.select) == ({"test": "t_test", "alpha": 0.05}, "best")
    chosen = VALID + "select: simplest\ncompare: {test: bayesian, alpha: 0.1}\n"
    chosen = config.load_sweep(str(write(tmp_path, chosen)))
    assert (chosen.compare, chosen.select) == ({"test": "bayesian", "alpha": 0.1, "rope": 0.01}, "simplest")
    assert config.parse_sweep(chosen.to_dict(), "again").compare == chosen.compare  # what is logged reads back


def test_name_defaults_to_file_stem(tmp_path):
    sweep = config.load_sweep(str(write(tmp_path, VALID.replace("name: t\n", ""), name="mine.yaml")))
    assert sweep.name == "mine"


@pytest.mark.parametrize("change, key, fragment", [
    (("trials: 2", "trails: 2"), "trails", "unknown key"),
    (("model: cnn", "model: transformer"), "model", "unknown model 'transformer'"),
    (("maxlen: 20", "maxlen: 20\n  num_units: 4"), "space.num_units", "takes no such parameter"),
    (("num_filters: [8, 16]", "num_filters: []"), "space.num_filters", "empty list"),
    (("num_filters: [8, 16]", "num_filters: [8, sixteen]"), "space.num_filters", "expected int"),
    (("num_filters: [8, 16]", "num_filters: [8, 16.5]"), "space.num_filters", "expected int"),
    (("num_filters: [8, 16]", "num_filters: {low: 64, high: 8}"), "space.num_filters", "low 64 is greater than high 8"),
    (("num_filters: [8, 16]", "num_filters: {low: 8}"), "space.num_filters", "needs both low and high"),
    (("num_filters: [8, 16]", "num_filters: {low: 8, high: 9, bins: 3}"), "space.num_filters", "unknown key 'bins'"),
    (("log: true", "log: true, step: 0.1"), "space.learning_rate", "a log range needs low > 0 and no step"),
    (("trials: 2", "trials: 0"), "trials", "integer from 1 to 1,000,000"),
    (("folds: 2", "folds: 1"), "folds", "integer from 2 to 1,000"),
    (("folds: 2", "folds: two"), "folds", "integer from 2 to 1,000"),
    (("sources: [yelp]", "sources: [twitter]"), "sources", "unknown source 'twitter'"),
    (("sources: [yelp]", "sources: []"), "sources", "non-empty list"),
    (("trials: 2", "trials: 2\nengine: bayes"), "engine", "unknown engine 'bayes'"),
    (("fit: {epochs: 1, batch_size: 8}", "fit: {epochs: 1, steps: 8}"), "fit.steps", "unknown key"),
    (("maxlen: 20", "maxlen: 20\n  epochs: [1, 2]"), "fit.epochs", "also given under space"),
    (("trials: 2", "trials: 2\ntest_size: 1.5"), "test_size", "fraction between 0 and 1"),
    (("trials: 2", "trials: 2\nrepeats: 0"), "repeats", "integer from 1 to 100"),
    (("trials: 2", "trials: 2\nrepeats: 1.5"), "repeats", "integer from 1 to 100"),
    (("trials: 2", "trials: 2\nselect: smallest"), "select", "unknown rule 'smallest', expected one of best, simplest"),
    (("trials: 2", "trials: 2\ncompare: t_test"), "compare", "expected {test: t_test | bayesian"),
    (("trials: 2", "trials: 2\ncompare: {test: wilcoxon}"), "compare.test", "unknown test 'wilcoxon'"),
    (("trials: 2", "trials: 2\ncompare: {alpha: 5}"), "compare.alpha", "probability between 0 and 1"),
    (("trials: 2", "trials: 2\ncompare: {alpha: 0}"), "compare.alpha", "probability between 0 and 1"),
    (("trials: 2", "trials: 2\ncompare: {level: 0.05}"), "compare.level", "unknown key"),
    (("trials: 2", "trials: 2\ncompare: {rope: 0.01}"), "compare.rope", "belongs to test: bayesian"),
    (("trials: 2", "trials: 2\ncompare: {test: bayesian, rope: -1}"), "compare.rope", "from 0 to 1"),
])
def test_mistakes_are_one_line_naming_file_and_key(tmp_path, change, key, fragment):
    old, new = change
    assert old in VALID
    path = write(tmp_path, VALID.replace(old, new, 1))
    with pytest.raises(SweepLabError) as caught:
        config.load_sweep(str(path))
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert fragment in message and "\n" not in message


@pytest.mark.parametrize("text, fragment", [
    ("name: [unclosed", "invalid YAML at line 1"),
    ("- a\n- b\n", "expected a mapping of sweep settings, got list"),
    ("", "expected a mapping of sweep settings, got nothing"),
    ("model: cnn\n", "space: expected a mapping of parameters"),
])
def test_malformed_files(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(SweepLabError, match=fragment) as caught:
        config.load_sweep(str(path))
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_unknown_sweep_name_lists_the_known_ones():
    with pytest.raises(SweepLabError, match=r"no sweep named 'nope' .*known: .*cnn_grid"):
        config.load_sweep("nope")


def test_command_line_overrides_are_validated():
    sweep = config.load_sweep("smoke").override(epochs=3, folds=3, sources=["imdb"], engine="grid")
    assert (sweep.fixed()["epochs"], sweep.folds, sweep.sources, sweep.engine) == (3, 3, ("imdb",), "grid")
    with pytest.raises(SweepLabError, match=r"\(with command-line overrides\): trials: expected an integer from 1 to 1,000,000"):
        config.load_sweep("smoke").override(trials=0)


def test_bad_file_exits_2_before_anything_is_logged(tmp_path, capsys):
    path = write(tmp_path, VALID.replace("model: cnn", "model: bert"))
    store = tmp_path / "store" / "mlflow.db"
    code = main(["sweep", str(path), "--tracking-uri", f"sqlite:///{store}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [f"sweeplab: error: {path}: model: unknown model 'bert', expected one of "
                   f"{', '.join(sorted(registry.REGISTRY))}"]
    assert not store.parent.exists()


def test_distributions():
    import numpy as np

    from sweeplab.engines.sklearn_search import distribution

    ints = distribution(config.Param("n", low=2, high=64, log=True, integer=True))
    draws = [ints.rvs(random_state=np.random.RandomState(i)) for i in range(200)]
    assert min(draws) >= 2 and max(draws) <= 64 and all(isinstance(d, int) for d in draws)
    assert config.Param("n", low=8, high=32, step=8, integer=True).grid_values() == [8, 16, 24, 32]
    assert config.Param("d", low=0.0, high=0.5, step=0.25).grid_values() == [0.0, 0.25, 0.5]
    assert config.Param("d", low=0.0, high=0.5).grid_values() is None
    lr = distribution(config.Param("lr", low=1e-4, high=1e-2, log=True))
    assert all(1e-4 <= lr.rvs(random_state=i) <= 1e-2 for i in range(50))


def test_yaml_1_1_exponent_strings_are_floats(tmp_path):
    sweep = config.load_sweep(str(write(tmp_path, VALID.replace("1.0e-4", "1e-4"))))
    assert sweep.space["learning_rate"].low == 1e-4


def test_resolved_sweep_round_trips(tmp_path):
    sweep = config.load_sweep(str(write(tmp_path, VALID)))
    again = config.parse_sweep(sweep.to_dict(), "resolved")
    assert again.space == sweep.space and again.sources == sweep.sources


@pytest.mark.parametrize("spec, fragment", [
    ("cell: [lstm, transformer]", "space.cell: expected one of lstm, gru, simple_rnn, got 'transformer'"),
    ("cell: 3", "space.cell: expected one of lstm, gru, simple_rnn, got 3"),
    ("bidirectional: [true, maybe]", "space.bidirectional: expected bool values, got 'maybe'"),
])
def test_a_parameter_with_a_fixed_set_of_values_is_checked_against_it(tmp_path, spec, fragment):
    path = write(tmp_path, f"model: rnn\nspace:\n  {spec}\n")
    with pytest.raises(SweepLabError, match=fragment):
        config.load_sweep(str(path))
    assert config.load_sweep(str(write(tmp_path, "model: rnn\nspace:\n  cell: [lstm, gru, simple_rnn]\n"))).searched()


def test_maxlen_from_a_percentile_of_the_data(tmp_path):
    sweep = config.load_sweep(str(write(tmp_path, "model: cnn\nspace:\n  maxlen: {percentile: 95}\n")))
    assert sweep.fixed() == {"maxlen_percentile": 95.0} and "maxlen" not in sweep.space
    searched = config.load_sweep(str(write(tmp_path, "model: rnn\nspace:\n  maxlen: {percentile: [90, 99]}\n")))
    assert searched.searched()["maxlen_percentile"].values == (90.0, 99.0)
    assert config.parse_sweep(searched.to_dict(), "round trip").space == searched.space
    for spec, fragment in [("{percentile: 0}", "a percentile must be a number in (0, 100], got 0"),
                           ("{percentile: 95, low: 3}", "a data-derived length takes only 'percentile: N'"),
                           ("{percentile: [90, x]}", "got 'x'")]:
        with pytest.raises(SweepLabError, match=r"space\.maxlen: .*" + re.escape(fragment)):
            config.load_sweep(str(write(tmp_path, f"model: cnn\nspace:\n  maxlen: {spec}\n")))


def test_pretrained_embeddings_in_a_sweep_file(tmp_path, glove_file):
    sweep = config.load_sweep(str(write(tmp_path, f"model: cnn\nembeddings: {{path: {glove_file}, trainable: [false, true]}}\n"
                                           "space:\n  num_filters: 8\n")))
    assert sweep.fixed()["embeddings"] == str(glove_file)
    assert sweep.searched()["embeddings_trainable"].values == (False, True)
    assert config.parse_sweep(sweep.to_dict(), "round trip").space == sweep.space
    for text, key, fragment in [
        ("embeddings: {path: nope.txt}\n", "embeddings.path", "nope.txt: embeddings file not found"),
        (f"embeddings: {{path: {glove_file}, frozen: true}}\n", "embeddings.frozen", "unknown key"),
        (f"embeddings: {{path: {glove_file}, trainable: maybe}}\n", "space.embeddings_trainable",
         "expected bool values"),
        (f"embeddings: {glove_file}\nspace:\n  embedding_dim: 64\n", "space.embedding_dim",
         "the embedding width is the vectors' (50 in"),
    ]:
        path = write(tmp_path, "model: cnn\n" + text + ("" if "space:" in text else "space:\n  num_filters: 8\n"))
        with pytest.raises(SweepLabError, match=f"{key}: .*{re.escape(fragment)}"):
            config.load_sweep(str(path))


def test_bow_dense_takes_bag_of_words_settings_not_sequence_ones(tmp_path):
    sweep = config.load_sweep(str(write(tmp_path, "model: bow_dense\nspace:\n  mode: [binary, tfidf]\n  max_words: 2000\n")))
    assert sweep.searched()["mode"].values == ("binary", "tfidf")
    for spec, key, fragment in [("mode: [bm25]", "space.mode", "expected one of binary, count, tfidf"),
                                ("maxlen: 100", "space.maxlen", "model 'bow_dense' takes no such parameter"),
                                ("embedding_dim: 8", "space.embedding_dim", "model .bow_dense. takes no such")]:
        with pytest.raises(SweepLabError, match=f"{key}: {fragment}"):
            config.load_sweep(str(write(tmp_path, f"model: bow_dense\nspace:\n  {spec}\n")))


FAMILIES = """\
model: [cnn, rnn, bow_dense]
space:
  learning_rate: [0.001, 0.01]
  cnn: {num_filters: [8, 16], maxlen: {percentile: 95}}
  rnn: {cell: [lstm, gru], units: 8}
  bow_dense: {mode: tfidf}
"""


def test_a_sweep_across_model_families(tmp_path):
    sweep = config.load_sweep(str(write(tmp_path, FAMILIES)))
    assert sweep.models == ("cnn", "rnn", "bow_dense") and sweep.model == "cnn|rnn|bow_dense"
    assert set(sweep.searched()) == {"learning_rate"}  # shared by every family
    assert set(sweep.searched("rnn")) == {"learning_rate", "cell"} and sweep.fixed("rnn")["units"] == 8
    assert sweep.fixed("cnn")["maxlen_percentile"] == 95.0 and "units" not in sweep.fixed("cnn")
    assert sweep.configuration({"model": "bow_dense", "learning_rate": 0.01})["mode"] == "tfidf"
    again = config.parse_sweep(sweep.to_dict(), "round trip")
    assert (again.space, again.families, again.model) == (sweep.space, sweep.families, sweep.model)


@pytest.mark.parametrize("old, new, key, fragment", [
    ("  rnn: {cell: [lstm, gru], units: 8}", "  rnn: {units: 8}\n  cnn2: 1", "space.cnn2", "no such parameter"),
    ("cnn: {num_filters: [8, 16], maxlen: {percentile: 95}}", "cnn: {cell: lstm}", "space.cnn.cell",
     "cnn takes no such parameter (rnn does: put it under space.rnn)"),
    ("  learning_rate: [0.001, 0.01]", "  maxlen: 50", "space.maxlen",
     "shared by every family, but bow_dense takes no such parameter: put it under space.cnn and space.rnn"),
    ("  bow_dense: {mode: tfidf}", "  bow_dense: {mode: tfidf}\n  flatten: {}", "space.flatten",
     "flatten is not one of this sweep's models (cnn, rnn, bow_dense)"),
    ("  rnn: {cell: [lstm, gru], units: 8}", "  rnn: {learning_rate: 0.1}", "space.rnn.learning_rate",
     "set it in one place"),
    ("model: [cnn, rnn, bow_dense]", "model: [cnn, rnn, cnn]", "model", "a family is listed twice"),
    ("model: [cnn, rnn, bow_dense]", "model: [cnn, gpt]", "model", "unknown model 'gpt'"),
    ("model: [cnn, rnn, bow_dense]", "model: cnn", "space.cnn", "a family's own parameters need model: [a list"),
])
def test_family_mistakes_are_one_line(tmp_path, old, new, key, fragment):
    assert old in FAMILIES
    with pytest.raises(SweepLabError, match=f": {re.escape(key)}: .*{re.escape(fragment)}"):
        config.load_sweep(str(write(tmp_path, FAMILIES.replace(old, new))))


def test_the_optuna_grid_sampler_cannot_search_families(tmp_path):
    with pytest.raises(SweepLabError, match="sampler: the grid sampler cannot search across model families"):
        config.load_sweep(str(write(tmp_path, FAMILIES + "engine: optuna\nsampler: grid\n")))


@pytest.mark.parametrize("path", sorted(BUILT_IN_SWEEPS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_sweep_loads(path, monkeypatch):
    monkeypatch.chdir(ROOT)  # glove_cnn names data/glove/... relative to the project
    sweep = config.load_sweep(str(path))
    assert sweep.name == path.stem and sweep.description


@pytest.fixture
def plugin(monkeypatch):
    """An installed package declaring `tiny_dense = tests.plugin_factories:tiny_dense` under sweeplab.models."""
    import importlib.metadata

    point = importlib.metadata.EntryPoint("tiny_dense", "tests.plugin_factories:tiny_dense", registry.ENTRY_POINTS)
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group=None: [point] if group == registry.ENTRY_POINTS else [])
    monkeypatch.setattr(registry, "_plugins", None)
    yield
    registry._plugins = None


def test_factories_come_from_the_registry_or_entry_points_only(plugin, tiny_texts):
    from sweeplab.modeling import pipeline

    sweep = config.parse_sweep({"name": "p", "model": "tiny_dense", "space": {"embedding_dim": [4, 8]}}, "p.yaml")
    assert sweep.model == "tiny_dense" and "tiny_dense" not in registry.REGISTRY
    X, y = tiny_texts
    assert pipeline.build("tiny_dense", {"epochs": 30, "maxlen": 8}, 0).fit(X, y).score(X, y) > 0.9
    with pytest.raises(SweepLabError, match=r"p.yaml: model: unknown model 'tests.plugin_factories:tiny_dense'"):
        config.parse_sweep({"name": "p", "model": "tests.plugin_factories:tiny_dense", "space": {"embedding_dim": [4]}},
                    "p.yaml")


def test_a_plugin_registered_under_another_name_keeps_it_in_family_sweeps(monkeypatch):
    """The family of a proposal is the name the factory is registered under, not its function's __name__."""
    import importlib.metadata

    from sweeplab import engines

    point = importlib.metadata.EntryPoint("small_dense", "tests.plugin_factories:tiny_dense", registry.ENTRY_POINTS)
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group=None: [point] if group == registry.ENTRY_POINTS else [])
    monkeypatch.setattr(registry, "_plugins", None)
    for engine in ("random", "grid"):
        sweep = config.parse_sweep({"name": "p", "model": ["small_dense", "embedding_pool"], "engine": engine,
                             "trials": 4, "space": {"embedding_dim": [4, 8]}}, "p.yaml")
        assert {p["model"] for p in engines.get(engine)().proposals(sweep)} == {"small_dense", "embedding_pool"}

