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


def refuse(argv, tmp_path, env=None):
    """Run the command line (with ``env``'s variables set); return its exit code and stderr, after checking that it
    wrote no store and no model. A command that names its own --tracking-uri keeps it."""
    store = tmp_path / "store"
    err = io.StringIO()
    takes_uri = argv[0] not in ("data", "list", "show")
    uri = [] if "--tracking-uri" in argv or not takes_uri else ["--tracking-uri", f"sqlite:///{store}/mlflow.db"]
    out = ["--out", str(tmp_path / "models" / "m.keras")] if argv[0] == "retrain" else []
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), pytest.MonkeyPatch.context() as mp:
        for name, value in (env or {}).items():
            mp.setenv(name, filled(value, tmp_path))
        code = main([*argv, *uri, *out])
    assert not store.exists() or not any(store.iterdir()), f"{argv} wrote {list(store.iterdir())}"
    assert not list((tmp_path / "models").glob("*")), f"{argv} wrote a model"
    return code, err.getvalue().splitlines()


def filled(text: str, tmp_path) -> str:
    sweeps = BUILT_IN_SWEEPS
    cores = len(os.sched_getaffinity(0))
    places = {"{dir}": CORPUS, "{sweeps}": sweeps, "{local}": ROOT / "tests" / "no-local-sweeps",
              "{good_csv}": tmp_path / "reviews.csv", "{tmp}": tmp_path, "{data_dir}": ROOT / "data",
              "{cores}": cores, "{most_workers}": 2 * cores,
              "{known}": ", ".join(sorted(p.stem for p in sweeps.glob("*.yaml")))}
    for place, value in places.items():
        text = text.replace(place, str(value))
    return text


def expected(message: str, tmp_path) -> str:
    return "sweeplab: error: " + filled(message, tmp_path)


KINDS = ("sweeps", "data", "experiments")


def test_every_corpus_file_has_a_case():
    on_disk = {f"{kind}/{p.name}" for kind in KINDS for p in (CORPUS / kind).iterdir()}
    assert on_disk == {f"{kind}/{name}" for kind in KINDS for name in CASES[kind]}


@pytest.mark.parametrize("name", sorted(CASES["sweeps"]))
def test_a_bad_sweep_file_is_refused_in_one_line(name, tmp_path):
    code, err = refuse(["sweep", str(CORPUS / "sweeps" / name), "--data", str(reviews_csv(tmp_path))], tmp_path)
    assert (code, err) == (2, [expected(CASES["sweeps"][name], tmp_path)])


@pytest.mark.parametrize("name", sorted(CASES["data"]))
def test_a_bad_data_file_is_refused_in_one_line(name, tmp_path):
    code, err = refuse(["sweep", "smoke", "--data", str(CORPUS / "data" / name)], tmp_path)
    assert (code, err) == (2, [expected(CASES["data"][name], tmp_path)])


@pytest.mark.parametrize("name", sorted(CASES["experiments"]))
def test_a_bad_experiment_file_is_refused_in_one_line_before_training(name, tmp_path):
    code, err = refuse(["retrain", str(CORPUS / "experiments" / name)], tmp_path)
    assert (code, err) == (2, [expected(CASES["experiments"][name], tmp_path)])


@pytest.mark.parametrize("case", CASES["commands"],
                         ids=lambda case: " ".join([*case["args"], *(f"{k}={v}" for k, v in case.get("env", {}).items())]))
def test_bad_options_are_refused_in_one_line(case, tmp_path):
    reviews_csv(tmp_path)
    args = [filled(a, tmp_path) for a in case["args"]]
    code, err = refuse(args, tmp_path, case.get("env"))
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


# --- fuzzing the Python API's keywords ---------------------------------------------------------------------------

class Reached(BaseException):
    """The call got past every check to where work starts (a store is opened or checked, a server started)."""


def _reached(*args, **kwargs):
    raise Reached


anything = (st.none() | st.booleans() | st.integers(-3, 3) | st.integers() | st.floats(allow_nan=True)
            | st.text(max_size=8) | st.lists(st.text(max_size=5), max_size=3)
            | st.dictionaries(st.text(max_size=5), st.integers(), max_size=2) | st.builds(object)
            | st.sampled_from(["smoke", "yelp", "auto", "lines", "bar", "best", "simplest", "accuracy", "../x", "", " ",
                               "sqlite:///:memory:", "ftp://x", "x.yaml", "models:/x/1", Path("x.yaml"), ["yelp"], 2, 1.5]))
# Each API function with the arguments it needs; the fuzzed keywords replace some of them.
CALLS = {"sweep": ("smoke",), "plan": ("smoke",), "join": ("smoke", "sqlite:///{tmp}/o.db"), "leaderboard": (),
         "report": ("smoke",),
         "compare": ("smoke",), "export": ("smoke", "yelp"), "retrain": ("{tmp}/x.yaml",), "load_model": ("{tmp}/m.keras",),
         "serve": ("models:/x/1",), "open_stores": (), "fetch_data": (), "resolve_sweep": ("smoke",), "sweep_names": ()}


def test_every_api_function_declares_what_its_keywords_take():
    import sweeplab

    assert set(CALLS) == {name for name in sweeplab.api.__all__ if callable(getattr(sweeplab.api, name))
                          and not isinstance(getattr(sweeplab.api, name), type)}
    for name in CALLS:  # a keyword without constraints could not be declared: validated refuses the function
        assert set(getattr(sweeplab.api, name).constraints) == set(
            __import__("inspect").signature(getattr(sweeplab.api, name)).parameters)


READERS = {"leaderboard", "export", "compare", "report"}  # run for real, on a copy of the smoke sweep's store


@pytest.mark.parametrize("function", sorted(CALLS))
def test_fuzzed_api_keywords_are_refused_in_one_line_or_reach_the_work(function, tmp_path_factory, monkeypatch,
                                                                        smoke_store):
    """Wrong types and values of every keyword of every API function: a SweepLabError of one line (before any
    store is written), or the call reaches its work: stubbed where it would train or serve, run for real where it
    reads a store. Never a TypeError or AttributeError."""
    import inspect
    import shutil

    import sweeplab
    from sweeplab.search.queue import Queue
    from sweeplab.serving import server
    from sweeplab.tracking import Tracker

    stubs = [(Queue, "check"), (server, "application"), (sweeplab.data, "fetch")]
    for target, attribute in stubs + ([] if function in READERS else [(Tracker, "check")]):
        monkeypatch.setattr(target, attribute, _reached)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))  # export's default experiments/ lands there
    read = tmp_path_factory.mktemp("read") / "store"
    shutil.copytree(Path(smoke_store[len("sqlite:///"):]).parent, read)
    call = getattr(sweeplab.api, function)
    parameters = list(inspect.signature(call).parameters)

    @settings(max_examples=100, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(st.data())
    def check(drawn):
        tmp = tmp_path_factory.mktemp("api")
        positional = [value.replace("{tmp}", str(tmp)) for value in CALLS[function]]
        keywords = dict(zip(parameters, positional))
        if "tracking_uri" in parameters:
            keywords["tracking_uri"] = f"sqlite:///{read}/mlflow.db" if function in READERS else \
                f"sqlite:///{tmp}/store/mlflow.db"
        if parameters:
            for name in drawn.draw(st.lists(st.sampled_from(parameters), min_size=1, max_size=1)):
                keywords[name] = drawn.draw(anything, label=name)
        try:
            call(**keywords)
        except SweepLabError as exc:
            assert "\n" not in str(exc), str(exc)
            event("refused")
        except Reached:
            event("reached the work")
        else:
            event("did its work")
        assert not (tmp / "store").exists() or not any((tmp / "store").iterdir())

    check()


# --- fuzzing experiment files --------------------------------------------------------------------------------------

EXPERIMENT = {"name": "fuzz-yelp", "sweep": "fuzz", "model": "cnn", "params": {"maxlen": 8, "num_filters": 8},
              "fit": {"epochs": 1}, "data": {"source": "yelp", "sha256": "0" * 63 + "1"},
              "split": {"test_size": 0.25, "seed": 0}, "early_stopping": {"patience": 2, "validation_split": 0.1}}
# Keys to change, at the top and inside each section: the file's own keys, and some that belong elsewhere.
EXPERIMENT_KEYS = {None: [*EXPERIMENT, "origin", "versions", "onednn", "description", "maxlen"],
                   "params": [*PARAMS, "epochs", "cell", "precision"], "fit": ["epochs", "batch_size", "precision",
                                                                             "patience", "maxlen"],
                   "data": ["source", "file", "sha256", "text_col", "label_col", "rows"],
                   "split": ["test_size", "seed", "folds"], "early_stopping": ["patience", "validation_split", "x"]}


@st.composite
def experiment_changes(draw):
    section = draw(st.sampled_from(list(EXPERIMENT_KEYS)))
    keys = st.sampled_from(EXPERIMENT_KEYS[section]) | st.text(max_size=6)
    return section, draw(st.dictionaries(keys, plausible | values | st.sampled_from(["cnn", "yelp", "x.csv"]),
                                         min_size=1, max_size=2))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(experiment_changes())
def test_fuzzed_experiment_files_load_or_are_refused_in_one_line(tmp_path_factory, change):
    """A valid experiment with keys set to random values, at the top or inside one section: read back as an
    Experiment, or one line naming the file (retrain reads nothing else before it checks the data)."""
    from sweeplab.config import load_experiment

    section, changes = change
    mapping = {key: dict(value) if isinstance(value, dict) else value for key, value in EXPERIMENT.items()}
    target = mapping if section is None else mapping[section]
    target.update(changes)
    path = tmp_path_factory.mktemp("exp") / "fuzz.yaml"
    path.write_text(yaml.safe_dump(mapping), encoding="utf-8")
    try:
        loaded = load_experiment(path)
    except SweepLabError as exc:
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc), str(exc)
        event("refused")
        return
    event("loaded")
    assert loaded.name and loaded.model and 0 < loaded.test_size < 1
