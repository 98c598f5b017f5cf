"""Hostile round two, for real processes: four sweeps racing to create one store, stop signals on every engine,
files that never end, stores that are not stores, and names that would lead writes out of their directories.

Each process is started as a user starts it (``python -m sweeplab``), with a timeout that turns a hang into a
failure instead of a stuck suite.
"""

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from sweeplab.errors import SweepLabError
from sweeplab.tags import KIND
from tests.test_optuna import _stop_signals_default, reviews_csv, running_children, start_and_stop_mid_trial, sweep_yaml

pytestmark = pytest.mark.integration

ROUNDS = int(os.environ.get("SWEEPLAB_RACE_ROUNDS", "1"))  # 0.2.0 failed every round; 10 by hand


def sweeplab(*args, timeout=120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sweeplab", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kwargs)


def one_line_refusal(result, fragment: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("sweeplab: error: "), result.stderr
    assert fragment in result.stderr, result.stderr


def engine_sweep(directory: Path, engine: str, trials: int = 2) -> Path:
    """A tiny sweep any engine can run: a finite space, so the grid engine takes it too."""
    path = sweep_yaml(directory, trials=trials, space="learning_rate: [0.01, 0.03]", name=f"tiny_{engine}")
    path.write_text(path.read_text().replace("engine: optuna", f"engine: {engine}"))
    return path


# --- concurrent first use ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_four_sweeps_started_at_once_on_a_fresh_store_all_finish(tmp_path, round_):
    """Two random and two optuna sweeps race to create the MLflow store and the Optuna storage beside it."""
    data = reviews_csv(tmp_path, rows=40)
    store = tmp_path / "store"
    uri = f"sqlite:///{store / 'mlflow.db'}"
    commands = []
    for k, engine in enumerate(["random", "random", "optuna", "optuna"]):
        (tmp_path / str(k)).mkdir()
        path = sweep_yaml(tmp_path / str(k), trials=1, space="learning_rate: [0.01]", name=f"race{k}")
        path.write_text(path.read_text().replace("engine: optuna", f"engine: {engine}"))
        commands.append([sys.executable, "-m", "sweeplab", "sweep", path, "--data", data, "--tracking-uri", uri,
                         "--epochs", "1"])
    processes = [subprocess.Popen(list(map(str, command)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True) for command in commands]
    results = [(process.wait(timeout=300), process.stderr.read()) for process in processes]
    assert [code for code, _ in results] == [0, 0, 0, 0], [err[-1500:] for _, err in results]
    client = MlflowClient(uri)
    parents = client.search_runs([e.experiment_id for e in client.search_experiments()], f"tags.`{KIND}` = 'dataset'")
    assert len(parents) == 4 and all(p.info.status == "FINISHED" for p in parents)
    with sqlite3.connect(store / "mlflow.db") as db:  # no half-applied migration left behind
        assert not [name for (name,) in db.execute("SELECT name FROM sqlite_master") if "_alembic_tmp" in name]
    assert sweeplab("leaderboard", "--tracking-uri", uri).returncode == 0


# --- every stop is a clean stop ---------------------------------------------------------------------------------


@pytest.mark.parametrize("engine, stop, extra", [
    ("random", signal.SIGTERM, ()),
    ("grid", signal.SIGTERM, ()),
    ("optuna", signal.SIGTERM, ("--workers", "2")),
    ("optuna", signal.SIGHUP, ()),
])
def test_a_stop_signal_ends_a_sweep_like_ctrl_c(tmp_path, engine, stop, extra):
    uri, storage = f"sqlite:///{tmp_path / 'mlflow.db'}", f"sqlite:///{tmp_path / 'optuna.db'}"
    args = ["sweep", str(engine_sweep(tmp_path, engine, trials=4)), "--data", str(reviews_csv(tmp_path)),
            "--tracking-uri", uri, *(["--storage", storage] if engine == "optuna" else [])]
    code = start_and_stop_mid_trial(type("Sweep", (), {"args": args, "uri": uri}), stop, *extra)
    assert code == 128 + stop  # 143 for SIGTERM, 129 for SIGHUP: what schedulers and shells expect
    assert running_children(uri) == 0
    client = MlflowClient(uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert runs and not [r for r in runs if r.info.status == "RUNNING"]
    assert {r.info.status for r in runs if r.data.tags[KIND] == "dataset"} == {"KILLED"}
    if engine == "optuna":
        import optuna

        study = optuna.load_study(study_name=f"tiny_{engine}-reviews", storage=storage)
        assert not [t for t in study.trials if t.state.name == "RUNNING"]


STOPPED_IN_C = """
import ctypes, importlib, runpy, sys

def stopped_inside_c(args):  # a stop that lands while C code runs Python source, as it does inside optree
    source = b"import os, signal\\nos.kill(os.getpid(), signal.SIGTERM)\\nwhile True: pass\\n"
    ctypes.pythonapi.PyRun_String(source, 257, ctypes.py_object({}), ctypes.py_object({}))  # 257: Py_file_input

importlib.import_module("sweeplab.cli.main").cmd_list = stopped_inside_c
sys.argv = ["sweeplab", "list"]
runpy.run_module("sweeplab", run_name="__main__")
"""


def test_a_stop_that_passed_through_c_still_ends_with_its_own_status(tmp_path):
    """CPython marks a KeyboardInterrupt that passed through PyRun_String and, at the end of ``python -m``, dies by
    SIGINT instead of exiting with the status: CI saw -2 for a SIGTERM'd sweep."""
    (tmp_path / "stopper.py").write_text(STOPPED_IN_C)
    result = subprocess.run([sys.executable, "-m", "stopper"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, preexec_fn=_stop_signals_default)
    assert result.returncode == 128 + signal.SIGTERM, result.stderr[-2000:]
    assert result.stderr == "sweeplab: stopped by SIGTERM\n"


# --- reads that never end ----------------------------------------------------------------------------------------


def test_fifos_and_devices_are_refused_at_once(tmp_path):
    """open() on a FIFO blocks until a writer comes, and /dev/zero never ends: neither may be read."""
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.yaml"
    zero.symlink_to("/dev/zero")
    vectors = tmp_path / "vectors.txt"
    os.mkfifo(vectors)
    sweep = tmp_path / "vectors.yaml"
    sweep.write_text(f"model: embedding_pool\nembeddings: {{path: {vectors}}}\nspace: {{maxlen: 8}}\n")
    texts = tmp_path / "texts.txt"
    os.mkfifo(texts)
    good = reviews_csv(tmp_path)
    for args, fragment in [
        (["sweep", "smoke", "--data", fifo], f"{fifo}: not a regular file (a device, FIFO or socket)"),
        (["sweep", zero, "--data", good], f"{zero}: sweep file not found"),
        (["sweep", sweep, "--data", good], f"{vectors}: not a regular file"),
        (["retrain", zero], f"{zero}: not a regular file"),
        (["predict", "model.keras", "--file", texts], f"{texts}: not a regular file"),
    ]:
        one_line_refusal(sweeplab(*args, "--tracking-uri", f"sqlite:///{tmp_path / 'store' / 'm.db'}", timeout=60),
                         fragment)
    assert not (tmp_path / "store").exists()


def test_an_endless_line_is_refused_without_reading_it_all(tmp_path):
    from sweeplab import files

    path = tmp_path / "one_line.txt"
    path.write_text("x" * (files.MAX_LINE_CHARS + 10))
    with pytest.raises(SweepLabError, match=r"one_line.txt:1: a line longer than 1,048,576 characters"):
        list(files.lines(path, "file"))


# --- stores that are not stores ---------------------------------------------------------------------------------


def test_a_file_that_is_not_a_store_is_refused_and_left_as_it_was(tmp_path):
    text_file = tmp_path / "notes.db"
    text_file.write_text("my notes, not a database\n")
    other = tmp_path / "inventory.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE parts (name TEXT)")
    journal = tmp_path / "journal.log"
    journal.write_text("this is not an optuna journal\n")
    before = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in (text_file, other, journal)}

    one_line_refusal(sweeplab("leaderboard", "--tracking-uri", f"sqlite:///{text_file}"),
                     f"{text_file}: not an MLflow store (file is not a database)")
    one_line_refusal(sweeplab("leaderboard", "--tracking-uri", f"sqlite:///{other}"),
                     f"{other}: not an MLflow store (an SQLite database with other tables: parts)")
    one_line_refusal(sweeplab("sweep", engine_sweep(tmp_path, "optuna"), "--data", reviews_csv(tmp_path),
                              "--storage", journal, "--tracking-uri", f"sqlite:///{tmp_path / 's' / 'm.db'}"),
                     f"{journal}:1: not an Optuna journal")
    one_line_refusal(sweeplab("sweep", engine_sweep(tmp_path, "optuna"), "--data", reviews_csv(tmp_path),
                              "--storage", f"sqlite:///{other}", "--tracking-uri", f"sqlite:///{tmp_path / 's' / 'm.db'}"),
                     f"{other}: not an Optuna storage")
    assert before == {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in before}


# --- names are names ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../../../escaped", "/tmp/escaped", "x" * 300, "nul\x00name", "two\nlines", ".hidden",
                                  "-rf", "a/b"])
def test_no_name_can_lead_a_write_outside_its_directory(tmp_path, name):
    from sweeplab import config
    from sweeplab.config import experiment

    with pytest.raises(SweepLabError, match=r"^fuzz.yaml: name: "):
        config.parse_sweep({"name": name, "model": "cnn"}, "fuzz.yaml")
    with pytest.raises(SweepLabError, match=r"^experiment name: .*give the file's path with --out"):
        experiment.default_path({"name": name})
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump({"name": name, "model": "cnn", "params": {}, "fit": {},
                                    "data": {"source": "yelp", "sha256": "0" * 64}, "split": {"test_size": 0.25,
                                                                                          "seed": 0}}))
    with pytest.raises(SweepLabError, match=rf"^{path}: name: "):
        experiment.load_experiment(path)


def test_glove_vectors_malformed_late_fail_when_the_sweep_is_read(tmp_path):
    from sweeplab import config

    vectors = tmp_path / "vectors.txt"
    vectors.write_text("good 0.1 0.2\nfilm 0.3 0.4\nbroken 0.5\n")
    sweep = tmp_path / "glove.yaml"
    sweep.write_text(f"model: embedding_pool\nembeddings: {{path: {vectors}}}\nspace: {{maxlen: 8}}\n")
    with pytest.raises(SweepLabError, match=rf"embeddings.path: {vectors}:3: expected a word and 2 numbers"):
        config.load_sweep(str(sweep))
    vectors.write_text("good 0.1 0.2\nfilm 0.3 nan\n")
    with pytest.raises(SweepLabError, match=rf"{vectors}:2: a vector has an infinite or NaN value"):
        config.load_sweep(str(sweep))


def test_a_stop_signal_the_caller_ignores_stays_ignored(tmp_path):
    """`nohup sweeplab sweep ...` ignores SIGHUP so that closing the terminal does not end the sweep: sweeplab
    must not undo that. The sweep outlives a SIGHUP, then stops cleanly on SIGTERM."""
    import time

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    process = subprocess.Popen(
        [sys.executable, "-m", "sweeplab", "sweep", engine_sweep(tmp_path, "random", trials=4), "--data",
         reviews_csv(tmp_path), "--tracking-uri", uri], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    deadline = time.monotonic() + 120
    while running_children(uri) == 0:
        assert process.poll() is None and time.monotonic() < deadline, "no trial started"
        time.sleep(0.2)
    process.send_signal(signal.SIGHUP)
    time.sleep(1.5)
    assert process.poll() is None, "the ignored SIGHUP stopped the sweep"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 128 + signal.SIGTERM
    assert running_children(uri) == 0


def test_a_stop_landing_while_the_callers_handlers_are_put_back_ends_as_a_stop(monkeypatch):
    """The window a SIGTERM hit once in a full test run (the process died of an escaped KeyboardInterrupt, -2):
    the command has finished, and sweeplab's stop handler is still installed while the caller's are put back.
    The stop must end the command with 128 + the signal, and every caller's handler must be back."""
    import importlib

    from sweeplab import errors

    cli = importlib.import_module("sweeplab.cli.main")  # the module; sweeplab.cli.main is also the function
    before = {signum: signal.getsignal(signum) for signum in errors.STOP_SIGNALS}
    real, putting_back = signal.signal, []

    def landing(signum, handler):
        if handler is not errors.interrupt and not putting_back:  # the first handler put back: the stop lands
            putting_back.append(signum)
            real(signum, handler)
            errors.interrupt(signal.SIGTERM, None)
        return real(signum, handler)

    monkeypatch.setattr(cli.signal, "signal", landing)
    try:
        code = cli.main(["list"])
    except KeyboardInterrupt:
        pytest.fail("the stop escaped main: the process would die of SIGINT")
    assert code == 128 + signal.SIGTERM
    assert putting_back and {signum: signal.getsignal(signum) for signum in errors.STOP_SIGNALS} == before


def test_a_command_forgets_the_stop_an_earlier_one_in_the_process_was_left_with():
    """In-process callers (a notebook, these tests) run several commands: a stop held for a store call when the
    last one ended must not stop the next one, nor name its signal."""
    from sweeplab import errors
    from sweeplab.cli import main

    errors.INTERRUPTED.set()
    errors.INTERRUPTED.signum, errors.INTERRUPTED.pending = signal.SIGTERM, True
    try:
        assert main(["list"]) == 0
        assert not errors.INTERRUPTED.pending and errors.INTERRUPTED.signum == signal.SIGINT
        with errors.held_stop():  # a held block that ends raises only a stop of its own command
            pass
    finally:
        errors.INTERRUPTED.clear()


def test_ctrl_c_in_a_command_that_opens_no_run_says_no_more_than_that(monkeypatch, capsys):
    from sweeplab.cli import main
    from sweeplab.results import leaderboard

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(leaderboard, "collect", interrupted)
    assert main(["leaderboard", "--tracking-uri", "sqlite:////nonexistent/mlflow.db"]) == 130
    assert capsys.readouterr().err == "sweeplab: interrupted\n"


@pytest.mark.parametrize("engine", ["random", "optuna"])
def test_a_stop_between_a_trial_run_opening_and_its_training_leaves_nothing_running(tmp_path, monkeypatch, engine):
    """The window a stop signal hit in CI: the child run exists, its parameters are being written, and no trial
    result exists yet to close it with. The parent's close takes the run with it."""
    from sweeplab.cli import main
    from sweeplab.tracking.trial_writer import TrialWriter

    opened = TrialWriter._create_child

    def stopped_after_opening(self, *args, **kwargs):
        opened(self, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(TrialWriter, "_create_child", stopped_after_opening)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["sweep", str(engine_sweep(tmp_path, engine)), "--data", str(reviews_csv(tmp_path)), "--tracking-uri", uri,
            *(["--storage", f"sqlite:///{tmp_path / 'optuna.db'}"] if engine == "optuna" else [])]
    assert main(args) == 130
    assert running_children(uri) == 0
    client = MlflowClient(uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(runs) == 2 and {r.info.status for r in runs} == {"KILLED"}


# --- round three: small ones -------------------------------------------------------------------------------------


def test_a_byte_that_is_not_utf8_is_reported_on_its_own_line(tmp_path):
    """A text stream decodes a buffer ahead of the line it hands out: a bad byte on line 5000 was reported on line
    4892. Each line is decoded on its own now, for every file read line by line."""
    from sweeplab import files

    path = tmp_path / "texts.txt"
    path.write_bytes("".join(f"good line {i}\n" for i in range(1, 5000)).encode() + b"line \xff five thousand\n")
    with pytest.raises(SweepLabError, match=r"texts.txt:5000: not valid UTF-8 \(byte 6 of the line\)$"):
        list(files.lines(path, "file"))
    wide = tmp_path / "wide.txt"  # a long line of 4-byte characters is still one line, not refused for its bytes
    wide.write_text("\U0001f600" * 1000 + "\nnext\n", encoding="utf-8")
    assert [n for n, _ in files.lines(wide, "file", max_chars=1000)] == [1, 2]
    with pytest.raises(SweepLabError, match=r"wide.txt:1: a line longer than 999 characters"):
        list(files.lines(wide, "file", max_chars=999))


def test_compare_json_holds_no_infinity(monkeypatch, capsys):
    """Identical rankings give a Friedman F of infinity: JSON has no such number (Python wrote `Infinity`)."""
    import math

    import pandas as pd

    from sweeplab.results import comparison

    found = comparison.Comparison("s", "accuracy", ("a", "b", "c"), pd.DataFrame({d: [0.8] for d in "abc"}, index=["x"]),
                                  {"x": "k=1"}, pd.Series({"x": 1.0}),
                                  {"chi2": 6.0, "p": 0.05, "f": math.inf, "f_p": math.nan}, 1.9, 0.05,
                                  pd.DataFrame(), 0)
    text = comparison.to_json(found)
    parsed = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert parsed["friedman"] == {"chi2": 6.0, "p": 0.05, "f": None, "f_p": None}


def test_a_leaderboard_csv_has_its_header_and_json_cells_with_rows_or_none(smoke_store, tmp_path, capsys):
    """No rows printed no header at all; a cell holding a list was Python's repr (['a', 'b']), not JSON."""
    import csv
    import io

    from sweeplab.cli import main

    assert main(["leaderboard", "--format", "csv", "--tracking-uri", f"sqlite:///{tmp_path / 'none.db'}"]) == 0
    (empty,) = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert main(["leaderboard", "--format", "csv", "--tracking-uri", smoke_store]) == 0
    header, *rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows and header[:len(empty)] == empty and all(h.startswith("param.") for h in header[len(empty):])
    for row in rows:
        cells = dict(zip(header, row))
        assert json.loads(cells["searched"]) == ["kernel_size", "num_filters"]
        assert len(json.loads(cells["fold_scores"])) == 2
    assert main(["leaderboard", "--pivot", "--format", "csv", "--tracking-uri", f"sqlite:///{tmp_path / 'n.db'}"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("sweep,metric,configuration,mean_cv")


def test_a_reader_that_stops_reading_ends_the_command_quietly(smoke_store):
    """`sweeplab leaderboard | head` is a BrokenPipeError when head is gone first: a traceback before."""
    done = subprocess.run(f"{sys.executable} -m sweeplab leaderboard --tracking-uri {smoke_store} | true; "
                          "echo ${PIPESTATUS[0]}", shell=True, executable="/bin/bash", capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.strip() == str(128 + signal.SIGPIPE) and done.stderr == ""


def test_a_stop_python_swallowed_in_a_weakref_callback_still_ends_the_command_as_stopped(monkeypatch, capsys):
    """A stop raised inside a weakref callback (SQLAlchemy's pool has them) is printed by Python as "Exception
    ignored" and lost: the command went on and exited 0. The stop was asked for all the same."""
    import gc
    import importlib
    import weakref

    from sweeplab import errors

    cli = importlib.import_module("sweeplab.cli.main")

    def stopped_in_a_callback(args):
        class Held:
            pass

        held = Held()
        weakref.finalize(held, os.kill, os.getpid(), signal.SIGTERM)
        del held
        gc.collect()
        return 0

    monkeypatch.setattr(cli, "cmd_list", stopped_in_a_callback)
    try:
        assert cli.main(["list"]) == 128 + signal.SIGTERM
    finally:
        errors.INTERRUPTED.clear()
    assert capsys.readouterr().err.endswith("sweeplab: stopped by SIGTERM\n")
