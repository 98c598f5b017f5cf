"""Experiment files as a user edits them: read back strictly, every mistake one line that names file and key."""

import textwrap

import pytest
import yaml

from sweeplab.cli import main
from sweeplab.config import experiment
from sweeplab.data.sources import SOURCES
from sweeplab.errors import SweepLabError

YELP_SHA = SOURCES["yelp"][1]


def write(tmp_path, text, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def valid(**changes) -> dict:
    mapping = {
        "name": "cnn_grid-yelp", "sweep": "cnn_grid", "model": "cnn",
        "params": {"num_filters": 16, "kernel_size": 3, "maxlen": 40, "learning_rate": "1e-3"},
        "fit": {"epochs": 2, "batch_size": 32}, "early_stopping": None,
        "data": {"source": "yelp", "sha256": YELP_SHA}, "split": {"test_size": 0.25, "seed": 7},
    }
    mapping.update(changes)
    return mapping


def dump(tmp_path, mapping):
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(mapping), encoding="utf-8")
    return path


def test_a_valid_file_loads_with_types_and_defaults(tmp_path):
    exp = experiment.load_experiment(dump(tmp_path, valid(early_stopping={"patience": 2})))
    assert exp.model == "cnn" and exp.params["learning_rate"] == 0.001  # YAML 1.1 reads 1e-3 as a string
    assert exp.configuration()["epochs"] == 2 and exp.seed == 7 and exp.test_size == 0.25
    assert exp.early_stopping == {"patience": 2, "validation_split": 0.1}
    assert exp.reference() == {"source": "yelp"}
    assert exp.onednn is False and experiment.load_experiment(dump(tmp_path, valid(onednn=True))).onednn is True


@pytest.mark.parametrize("change, message", [
    ({"model": "transformer"}, "model: unknown model 'transformer'"),
    ({"params": {"num_filtres": 16}}, "params.num_filtres: model 'cnn' takes no such parameter"),
    ({"params": {"num_filters": "many"}}, "params.num_filters: expected int values, got 'many'"),
    ({"params": {"num_filters": [8, 16]}}, "params.num_filters: expected a single value"),
    ({"params": {"epochs": 3}}, "params.epochs: a fit setting: put it under fit"),
    ({"fit": {"epochs": 2, "patience": 1}}, "fit.patience: unknown fit setting"),
    ({"data": {"source": "yelp", "sha256": "abc"}}, "data.sha256: expected 64 lowercase hex digits"),
    ({"data": {"source": "twitter", "sha256": YELP_SHA}}, "data.source: unknown source 'twitter'"),
    ({"data": {"source": "yelp", "file": "x.csv", "sha256": YELP_SHA}}, "data: expected exactly one of source"),
    ({"split": {"test_size": 1.5, "seed": 7}}, "split.test_size: expected a fraction between 0 and 1"),
    ({"split": {"test_size": 0.25}}, "split.seed: expected an integer >= 0, got None"),
    ({"early_stopping": {"patience": 0}}, "early_stopping.patience: expected an integer >= 1"),
    ({"early_stopping": "yes"}, "early_stopping: expected null or a mapping"),
    ({"epochs": 3}, "epochs: unknown key"),
    ({"onednn": "yes"}, "onednn: expected true or false, got 'yes'"),
    ({"fit": {"epochs": 2, "precision": "mixed_bfloat16"}}, "fit.precision: mixed_bfloat16 needs onednn: true"),
])
def test_each_mistake_is_one_line_naming_the_key(tmp_path, change, message):
    path = dump(tmp_path, valid(**change))
    with pytest.raises(SweepLabError, match="^" + str(path).replace(".", r"\.") + ": " + message.replace("(", r"\(")):
        experiment.load_experiment(path)


@pytest.mark.parametrize("missing", experiment.REQUIRED)
def test_a_missing_key_is_named(tmp_path, missing):
    mapping = valid()
    del mapping[missing]
    with pytest.raises(SweepLabError, match=f": {missing}: missing$"):
        experiment.load_experiment(dump(tmp_path, mapping))


def test_files_that_are_not_experiments(tmp_path):
    with pytest.raises(SweepLabError, match="experiment settings file not found"):
        experiment.load_experiment(tmp_path / "nope.yaml")
    with pytest.raises(SweepLabError, match="invalid YAML at line 3"):
        experiment.load_experiment(write(tmp_path, "model: cnn\nparams: [unclosed\n"))
    with pytest.raises(SweepLabError, match="expected a mapping of experiment settings, got list"):
        experiment.load_experiment(write(tmp_path, "- model\n- cnn\n"))
    with pytest.raises(SweepLabError, match="expected a mapping of experiment settings, got nothing"):
        experiment.load_experiment(write(tmp_path, ""))
    with pytest.raises(SweepLabError, match="invalid YAML"):  # safe loading: no Python objects from YAML tags
        experiment.load_experiment(write(tmp_path, "model: !!python/object/apply:os.system ['true']\n"))


def test_retrain_refuses_a_bad_file_with_exit_2_before_touching_mlflow(tmp_path, capsys):
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    path = dump(tmp_path, valid(model="transformer"))
    assert main(["retrain", str(path), "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sweeplab: error: ") and "model: unknown model" in err and "\n" not in err
    assert not (tmp_path / "store").exists()


def test_retrain_refuses_data_whose_hash_changed(tmp_path, capsys):
    """A tampered hash (or a changed dataset) is refused before any training or logging."""
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    path = dump(tmp_path, valid(data={"source": "yelp", "sha256": "0" * 64}))
    assert main(["retrain", str(path), "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err
    assert "data.sha256: " in err and f"has sha256 {YELP_SHA}, {'0' * 64} when it was chosen on: its contents changed" in err
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("onednn, found", [(True, "1"), (None, "0")])
def test_retrain_runs_with_the_sweeps_onednn_setting_applied_before_tensorflow_loads(onednn, found, tmp_path):
    """An experiment exported from a sweep with ``onednn: true`` (large_cnn) retrains with it, as the sweep ran."""
    from tests.conftest import onednn_at_configure

    path = dump(tmp_path, valid(**({"onednn": onednn} if onednn is not None else {})))
    assert onednn_at_configure("api.retrain(sys.argv[1], tracking_uri=sys.argv[2])", str(path),
                               f"sqlite:///{tmp_path / 'mlflow.db'}") == [False, found]
