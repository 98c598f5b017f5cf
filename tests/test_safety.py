"""What a file or a command line can make sweeplab do: no code from a .keras file, servers on loopback unless
asked otherwise. (YAML tags and importable model names are in the hostile-input corpus, tests/bad_inputs/.)"""

import subprocess

import pytest

from sweeplab.cli import main
from tests.conftest import ROOT


def test_a_keras_file_carrying_code_is_refused(tmp_path, capsys):
    import keras

    marker = tmp_path / "ran"
    where = str(marker)  # the closure is saved with the function
    inputs = keras.Input(shape=(1,), dtype="string")
    # A Lambda layer stores its Python function in the file: loading it unsafely would run it.
    outputs = keras.layers.Lambda(lambda x: (open(where, "w").close(), x)[1])(inputs)
    path = tmp_path / "evil.keras"
    keras.Model(inputs, outputs).save(path)
    marker.unlink(missing_ok=True)  # building the model called the function once

    assert main(["predict", str(path), "hello"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"sweeplab: error: {path}: not a sweeplab .keras model (")
    assert "arbitrary code execution" in err[0] and not marker.exists()


def dry_run(target: str, *variables: str) -> str:
    done = subprocess.run(["make", "-n", "-C", str(ROOT), target, *variables, "MODEL=models:/x/1"],
                          capture_output=True, text=True, check=True)
    return done.stdout


@pytest.mark.parametrize("target", ["ui", "server", "dashboard", "serve"])
def test_servers_listen_on_loopback_unless_a_host_is_given(target):
    default = dry_run(target)
    assert "--host 127.0.0.1" in default and "warning" not in default
    exposed = dry_run(target, "HOST=0.0.0.0")
    assert "--host 0.0.0.0" in exposed
    if target != "serve":  # sweeplab serve warns itself (below), from make or not
        assert 'echo "warning: HOST=0.0.0.0 is not loopback: anyone who can reach this machine can read' in exposed


def test_sweeplab_serve_warns_when_it_is_not_on_loopback(tmp_path, capsys):
    from sweeplab.cli import main

    assert main(["serve", "models:/x/1", "--host", "0.0.0.0", "--tracking-uri", f"sqlite:///{tmp_path}/m.db"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == ("sweeplab: warning: --host 0.0.0.0 is not loopback: anyone who can reach this machine can send "
                      "texts to the model") and err[1].startswith("sweeplab: error: models:/x/1: no MLflow store at")
