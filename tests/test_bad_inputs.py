"""Hostile input: the corpus in tests/bad_inputs/ through the real command line, and the sweep-file parser fuzzed.

Every refusal is exit code 2 with one line naming the file, key or column, and nothing written: no MLflow store,
no Optuna storage.
"""

import contextlib
import io
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweeplab import space
from sweeplab.cli import main
from sweeplab.errors import SweepLabError
from tests.conftest import ROOT
from tests.test_optuna import reviews_csv

CORPUS = Path(__file__).parent / "bad_inputs"
CASES = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))


def refuse(argv, tmp_path):
    """Run the command line; return its exit code and stderr, after checking that it wrote no store."""
    store = tmp_path / "store"
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main([*argv, "--tracking-uri", f"sqlite:///{store}/mlflow.db"])
    assert not store.exists() or not any(store.iterdir()), f"{argv} wrote {list(store.iterdir())}"
    return code, err.getvalue().splitlines()


def filled(text: str, tmp_path) -> str:
    sweeps = ROOT / "sweeps"
    places = {"{dir}": CORPUS, "{sweeps}": sweeps, "{good_csv}": tmp_path / "reviews.csv",
              "{known}": ", ".join(sorted(p.stem for p in sweeps.glob("*.yaml")))}
    for place, value in places.items():
        text = text.replace(place, str(value))
    return text


def expected(message: str, tmp_path) -> str:
    return "sweeplab: error: " + filled(message, tmp_path)


def test_every_corpus_file_has_a_case():
    on_disk = {f"{kind}/{p.name}" for kind in ("sweeps", "data") for p in (CORPUS / kind).iterdir()}
    assert on_disk == {f"{kind}/{name}" for kind in ("sweeps", "data") for name in CASES[kind]}


@pytest.mark.parametrize("name", sorted(CASES["sweeps"]))
def test_a_bad_sweep_file_is_refused_in_one_line(name, tmp_path):
    code, err = refuse(["sweep", str(CORPUS / "sweeps" / name), "--data", str(reviews_csv(tmp_path))], tmp_path)
    assert (code, err) == (2, [expected(CASES["sweeps"][name], tmp_path)])


@pytest.mark.parametrize("name", sorted(CASES["data"]))
def test_a_bad_data_file_is_refused_in_one_line(name, tmp_path):
    code, err = refuse(["sweep", "smoke", "--data", str(CORPUS / "data" / name)], tmp_path)
    assert (code, err) == (2, [expected(CASES["data"][name], tmp_path)])


@pytest.mark.parametrize("case", CASES["commands"], ids=lambda case: " ".join(case["args"]))
def test_bad_options_are_refused_in_one_line(case, tmp_path):
    reviews_csv(tmp_path)
    args = [filled(a, tmp_path) for a in case["args"]]
    code, err = refuse(args, tmp_path)
    assert (code, err) == (2, [expected(case["expect"], tmp_path)])


# --- fuzzing the parser -----------------------------------------------------------------------------------------

KEYS = sorted(space.TOP_LEVEL | {"embedding_dim", "maxlen", "dropout", "learning_rate", "cell", "epochs", "low",
                                 "high", "log", "step", "percentile", "name", "path", "cnn", "rnn"})
scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=12) | st.sampled_from(["cnn", "rnn", "optuna", "grid", "tpe", "yelp", "1e-3", "lstm"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=4),
                      max_leaves=12)
# Values of the right shape, so that mutations of a valid sweep often stay valid and reach the engines' settings.
plausible = (st.integers(-5, 300) | st.floats(-0.5, 1.5) | st.lists(st.integers(-2, 64), min_size=1, max_size=3)
             | st.fixed_dictionaries({"low": st.floats(-0.01, 0.1), "high": st.floats(0.0, 1.0)},
                                     optional={"log": st.booleans(), "step": st.floats(-0.1, 0.1)}))
PARAMS = ["embedding_dim", "maxlen", "dropout", "learning_rate", "num_filters", "kernel_size", "epochs",
          "batch_size", "dense_units", "max_words"]
VALID = {"name": "fuzz", "model": "cnn", "engine": "optuna", "trials": 3,
         "space": {"embedding_dim": [8, 16], "learning_rate": {"low": 0.001, "high": 0.01, "log": True}}}


def parses_or_refuses_in_one_line(raw) -> None:
    """The parser's contract: a Sweep, or a SweepLabError of one line that names the file."""
    try:
        sweep = space.parse(raw, "fuzz.yaml")
    except SweepLabError as exc:
        message = str(exc)
        assert message.startswith("fuzz.yaml: ") and "\n" not in message, message
        return
    assert sweep.trials >= 1 and sweep.folds >= 2 and sweep.space
    for param in sweep.space.values():  # what it accepted is finite: it will not blow up a trial
        for value in (param.values or (param.low, param.high)):
            assert not isinstance(value, float) or math.isfinite(value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), values, max_size=6))
def test_fuzzed_mappings_parse_or_are_refused_in_one_line(raw):
    parses_or_refuses_in_one_line(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), plausible | values, max_size=1),
       st.dictionaries(st.sampled_from(PARAMS), plausible | plausible | values, max_size=3))
def test_a_valid_sweep_with_fuzzed_settings_and_space(top, in_space):
    """Mutations of a valid sweep reach the deep checks (ranges, types, families) that random mappings miss."""
    parses_or_refuses_in_one_line({**VALID, **top, "space": {**VALID["space"], **in_space}})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("abcdefmnopqrstu:-[]{},&*!|>'\"#%@`\n \t0123456789.")), max_size=80))
def test_fuzzed_yaml_text_is_read_or_refused_in_one_line(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        raw = space.read_yaml(path, "sweep settings")
    except SweepLabError as exc:
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)
        return
    parses_or_refuses_in_one_line(raw)
