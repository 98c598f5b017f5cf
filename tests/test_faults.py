"""A store that cannot take the results fails the sweep before any training, with one line and exit 2.

Each case mounts a real tmpfs (full, tiny or read-only) in a private mount namespace (`unshare -rm`, no root on
the host needed) and points the store at it.
"""

import shutil
import subprocess
import sys

import pytest

from tests.conftest import require
from tests.test_optuna import reviews_csv, sweep_yaml

pytestmark = pytest.mark.integration
MOUNT = "/mnt"  # inside the namespace only


def _namespaces_problem() -> str | None:
    """None when ``unshare -rm`` can mount a tmpfs here, else why not."""
    if shutil.which("unshare") is None:
        return "no unshare command (util-linux)"
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {MOUNT}"],
                           capture_output=True, text=True)
    return None if probe.returncode == 0 else f"unshare -rm cannot mount a tmpfs ({probe.stderr.strip()[:120]})"


@pytest.fixture(scope="module")
def namespaces():
    require("unshare", _namespaces_problem())


needs_namespaces = pytest.mark.usefixtures("namespaces")


def sweep_on_mount(tmp_path, mount_options, *store, env=None):
    """`sweeplab sweep` with a tmpfs mounted at /mnt; returns (exit code, stderr lines, what /mnt holds after)."""
    command = [sys.executable, "-m", "sweeplab", "sweep", str(sweep_yaml(tmp_path)), "--data",
               str(reviews_csv(tmp_path)), *store]
    script = (f'mount -t tmpfs -o {mount_options} tmpfs {MOUNT} || exit 99; "$@"; code=$?; '
              f'echo "left: $(ls -A {MOUNT} | tr "\\n" " ")"; exit $code')
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", *command], capture_output=True, text=True,
                          timeout=300, env=env)
    return done.returncode, done.stderr.strip().splitlines(), done.stdout


@needs_namespaces
@pytest.mark.parametrize("options, store, message", [
    ("size=1m", "tracking", "/mnt/mlruns: only 1 MB free for the MLflow store, a sweep needs 50 MB "
                            "(SWEEPLAB_MIN_FREE_MB): free some space or choose another location"),
    ("ro", "tracking", "/mnt/mlruns: cannot write the MLflow store there (Read-only file system); make it writable "
                       "or choose another location"),
    ("ro", "optuna", "/mnt/studies: cannot write the Optuna storage there (Read-only file system); make it writable "
                     "or choose another location"),
])
def test_an_unusable_store_fails_before_any_training(tmp_path, options, store, message):
    on_mount = {"tracking": ["--tracking-uri", f"sqlite:///{MOUNT}/mlruns/mlflow.db",
                             "--storage", f"sqlite:///{tmp_path}/optuna.db"],
                "optuna": ["--tracking-uri", f"sqlite:///{tmp_path}/mlruns/mlflow.db",
                           "--storage", f"sqlite:///{MOUNT}/studies/optuna.db"]}[store]
    code, err, out = sweep_on_mount(tmp_path, options, *on_mount)
    # One line and nothing else on stderr: no "== sweep on dataset" header, so nothing was split or trained.
    assert code == 2 and err == [f"sweeplab: error: {message}"]
    assert "mlflow.db" not in out.split("left:")[-1]
    assert not (tmp_path / "mlruns" / "mlflow.db").exists() and not (tmp_path / "optuna.db").exists()


@needs_namespaces
def test_a_disk_too_full_for_one_write_is_caught_even_with_no_free_space_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("SWEEPLAB_MIN_FREE_MB", "0")
    code, err, _ = sweep_on_mount(tmp_path, "size=16k", "--tracking-uri", f"sqlite:///{MOUNT}/mlflow.db",
                                  "--storage", f"sqlite:///{tmp_path}/optuna.db")
    assert code == 2 and err == ["sweeplab: error: /mnt: cannot write the MLflow store there (No space left on "
                                 "device); make it writable or choose another location"]


def test_a_tracking_server_that_does_not_answer_fails_before_any_training(tmp_path, capsys):
    from sweeplab.cli import main
    from tests.conftest import free_port

    uri = f"http://127.0.0.1:{free_port()}"
    code = main(["sweep", str(sweep_yaml(tmp_path)), "--data", str(reviews_csv(tmp_path)), "--tracking-uri", uri,
                 "--storage", f"sqlite:///{tmp_path}/optuna.db"])
    captured = capsys.readouterr()
    assert code == 2 and "==" not in captured.err  # the header of a started sweep goes to stderr
    assert captured.err.splitlines() == [f"sweeplab: error: --tracking-uri {uri}: no MLflow tracking server answers "
                                         "([Errno 111] Connection refused; waited up to 10 s)"]
