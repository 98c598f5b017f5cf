"""Hostile input: the corpus in tests/bad_inputs/ through the real command line, and the sweep-file parser fuzzed.

Every refusal is exit code 2 with one line naming the file, key or column, and nothing written: no MLflow store,
no Optuna storage.
"""

import contextlib
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sweeplab import config, data
from sweeplab.cli import main
from sweeplab.config.parse import TOP_LEVEL
from sweeplab.errors import SweepLabError
from sweeplab.files import read_yaml
from tests.conftest import BUILT_IN_SWEEPS, ROOT
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
    sweeps = BUILT_IN_SWEEPS
    cores = len(os.sched_getaffinity(0))
    places = {"{dir}": CORPUS, "{sweeps}": sweeps, "{local}": ROOT / "tests" / "no-local-sweeps",
              "{good_csv}": tmp_path / "reviews.csv",
              "{cores}": cores, "{most_workers}": 2 * cores,
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

KEYS = sorted(TOP_LEVEL | {"embedding_dim", "maxlen", "dropout", "learning_rate", "cell", "epochs", "low",
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
        sweep = config.parse_sweep(raw, "fuzz.yaml")
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
        raw = read_yaml(path, "sweep settings")
    except SweepLabError as exc:
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)
        return
    parses_or_refuses_in_one_line(raw)


# --- fuzzing the data readers -----------------------------------------------------------------------------------

# Cells a user's file really holds: pandas' missing-value words, padded and numeric-looking labels, separators,
# quotes and line breaks inside cells, a NUL, a byte-order mark, U+0085, and arbitrary text.
cells = st.sampled_from(["", "NA", "None", "N/A", "nan", "null", "1", "0", " pos", "neg ", "1.0", "-1", "01", "great food",
                         "awful", '"', '""', ",", "\t", "\n", "\r\n", "\r", "\x00", "\ufeff", "\x85", "é", "{", "}"]
                        ) | st.text(max_size=10)
headers = st.sampled_from([["text", "label"], ["label", "text"], ["text"], ["text", "label", "extra"], [], ["", ""]])
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | cells,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                       max_size=3), max_leaves=6)
json_lines = (st.fixed_dictionaries({}, optional={"text": json_values, "label": json_values, "x": json_values})
              .map(json.dumps)
              | json_values.map(json.dumps) | st.text(max_size=30))


def _table(separator):
    rows = st.lists(st.lists(cells, max_size=4), max_size=30)
    return st.tuples(headers, rows).map(
        lambda parts: "\n".join(separator.join(row) for row in [parts[0], *parts[1]]).encode("utf-8"))


def _as_bytes(lines):
    return lines.map(lambda ls: "\n".join(ls).encode("utf-8"))


# Mostly well-formed rows of two columns, which get past parsing to the checks behind it (labels, classes,
# split sizes, words); the free-form tables and raw bytes test the parsing itself.
texts = st.sampled_from(["good film", "bad plot", "NA", "None", "12345", " padded text ", "é ü", ":)"])
odd = cells.filter(str.strip)  # empty cells are frequent enough in the tables below
# Each file draws two labels (or a few odd ones), so that classes are large enough to split more often than not.
label_pairs = st.sampled_from([("pos", "neg"), ("0", "1"), ("NA", "None"), ("1", "1.0"), (" pos", "pos "),
                               ("-1", "1"), ("pos", "neg ")]) | st.tuples(odd, odd)


@st.composite
def pairs(draw):
    two = draw(label_pairs)
    rows = draw(st.lists(st.tuples(st.one_of(*[texts] * 9, odd), st.integers(0, 20)), min_size=8, max_size=40))
    return [(text, two[pick % 2] if pick < 20 else draw(odd)) for text, pick in rows]


def _rows(separator):
    return pairs().map(lambda rs: ("text" + separator + "label\n" + "".join(
        f"{t}{separator}{lab}\n" for t, lab in rs)).encode("utf-8"))


def _objects():
    return pairs().map(lambda rs: "".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rs).encode())


FORMATS = {
    "csv": _rows(",") | _table(",") | st.binary(max_size=120),
    "tsv": _rows("\t") | _table("\t") | st.binary(max_size=120),
    "jsonl": _objects() | _as_bytes(st.lists(json_lines, max_size=30)) | st.binary(max_size=120),
}
SMOKE = config.load_sweep(str(BUILT_IN_SWEEPS / "smoke.yaml"))


def loads_or_refuses_in_one_line(path) -> None:
    """The readers' contract: a dataset every sweep can split, or one line that names the file (or the sweep)."""
    from sweeplab.search import runner

    try:
        dataset = data.load_file(path)
        runner.prepare(SMOKE, [dataset])
    except SweepLabError as exc:
        message = str(exc)
        assert message.startswith((str(path), SMOKE.path)) and "\n" not in message, message
        event("refused")
        return
    event("loaded and split")
    assert dataset.n_classes >= 2 and len(dataset.texts) == len(dataset.labels)
    assert all(isinstance(t, str) and t.strip() for t in dataset.texts)


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_fuzzed_data_files_load_or_are_refused_in_one_line(kind, tmp_path_factory):
    @settings(max_examples=int(os.environ.get("SWEEPLAB_FUZZ_EXAMPLES", "1000")), deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(FORMATS[kind])
    def check(content):
        path = tmp_path_factory.mktemp("data") / f"fuzz.{kind}"
        path.write_bytes(content)
        loads_or_refuses_in_one_line(path)

    check()


def test_another_keras_backend_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    """sweeplab's fold loop is TensorFlow's: on jax every trial failed on a symbolic tensor."""
    store = tmp_path / "store"
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run([sys.executable, "-m", "sweeplab", "sweep", "smoke", "--data", reviews_csv(tmp_path),
                           "--tracking-uri", f"sqlite:///{store}/mlflow.db"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2 and done.stderr == (
        "sweeplab: error: KERAS_BACKEND is 'jax': sweeplab trains with TensorFlow; unset it or set it to tensorflow\n")
    assert not store.exists()

    # A notebook that loaded Keras on another backend before sweeplab: the same refusal, in its words.
    fake = type("Keras", (), {"backend": type("Backend", (), {"backend": staticmethod(lambda: "jax")})})
    monkeypatch.setitem(sys.modules, "keras", fake)
    code, lines = refuse(["sweep", "smoke", "--data", str(reviews_csv(tmp_path))], tmp_path)
    assert code == 2 and lines == ["sweeplab: error: Keras in this process runs on jax: sweeplab trains with "
                                   "TensorFlow; start a new process with KERAS_BACKEND=tensorflow"]
