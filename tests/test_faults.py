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


FILLED_MID_SWEEP = """
mount -t tmpfs -o size=24m tmpfs {mount} || exit 99
"$@" 2> {err} &
pid=$!
for i in $(seq 1 600); do grep -q "fold 1/2" {err} 2>/dev/null && break; sleep 0.1; done
dd if=/dev/zero of={mount}/fill bs=64k 2>/dev/null
wait $pid; echo "first: $?"
rm {mount}/fill
"$@" >/dev/null 2>&1; echo "again: $?"
{python} -c "import sqlite3; print('running:', sqlite3.connect('{mount}/mlflow.db').execute(\\"select count(*) from runs where status = 'RUNNING'\\").fetchone()[0])"
"""


@needs_namespaces
def test_a_disk_that_fills_mid_sweep_is_one_line_and_the_rerun_finishes(tmp_path, monkeypatch):
    """The store's disk fills while a trial trains: one line (it printed 1,500: MLflow's logged tracebacks, then
    Optuna's), exit 1, nothing taken for a failed trial; once there is room, the same command finishes and closes
    the runs the stopped one left RUNNING."""
    monkeypatch.setenv("SWEEPLAB_MIN_FREE_MB", "1")
    err = tmp_path / "err.txt"
    command = [sys.executable, "-m", "sweeplab", "sweep", str(sweep_yaml(tmp_path, trials=2)), "--data",
               str(reviews_csv(tmp_path)), "--epochs", "40", "--tracking-uri", f"sqlite:///{MOUNT}/mlflow.db",
               "--storage", f"sqlite:///{MOUNT}/optuna.db"]
    script = FILLED_MID_SWEEP.format(mount=MOUNT, err=err, python=sys.executable)
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", *command], capture_output=True, text=True,
                          timeout=600)
    said = err.read_text().splitlines()
    assert done.stdout.split() == ["first:", "1", "again:", "0", "running:", "0"], (done.stdout, said[-5:])
    assert said[-1].startswith("sweeplab: error: the disk a store or an output is on is full (database or disk "
                               "is full") and "Traceback" not in err.read_text()
    assert not [line for line in said if " fail" in line]  # no trial was blamed for the disk


@needs_namespaces
def test_a_read_only_store_file_in_a_writable_directory_is_found_before_any_training(tmp_path):
    """The directory takes the probe's write, the database file does not: `sweeplab store` said "ready" and the
    sweep died in 225 lines at its first write."""
    from sweeplab.cli import main

    database = tmp_path / "mlflow.db"
    assert main(["store", "--tracking-uri", f"sqlite:///{database}"]) == 0
    uri = f"sqlite:///{database}"
    script = (f"mount --bind {database} {database} && mount -o remount,bind,ro {database} || exit 99; "
              f'"$@" store --tracking-uri {uri}; echo "store: $?"; "$@" sweep smoke --tracking-uri {uri}; '
              'echo "sweep: $?"')
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", sys.executable, "-m", "sweeplab"],
                          capture_output=True, text=True, timeout=300)
    line = (f"sweeplab: error: {database}: cannot write the MLflow store (Read-only file system); make the file "
            "writable or choose another location")
    assert done.stdout.split() == ["store:", "2", "sweep:", "2"] and done.stderr.splitlines() == [line, line]


@pytest.mark.parametrize("scheme, flag, said", [
    ("http", "--tracking-uri", "no MLflow tracking server answers (no answer; waited up to 10 s)"),
    ("postgresql", "--storage", "no database answers (connection timeout expired; waited up to 10 s)"),
])
def test_a_server_that_never_answers_is_one_line_after_a_bounded_wait(tmp_path, scheme, flag, said):
    """A socket that accepts connections and never answers (a wrong port, a hung server): `postgresql://` hung for
    1 min 47 s in MLflow's retries, a silent HTTP server for the system's TCP timeout. A listening socket on loopback
    that nobody accepts on plays it."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    url = f"{scheme}://sweeplab@127.0.0.1:{port}/optuna" if scheme == "postgresql" else f"http://127.0.0.1:{port}"
    args = ["sweep", str(sweep_yaml(tmp_path)), "--data", str(reviews_csv(tmp_path))]
    args += [flag, url, *(["--tracking-uri", f"sqlite:///{tmp_path}/m.db"] if flag == "--storage" else
                          ["--storage", f"sqlite:///{tmp_path}/o.db"])]
    try:
        done = subprocess.run([sys.executable, "-m", "sweeplab", *args], capture_output=True, text=True, timeout=90)
    finally:
        silent.close()
    assert done.returncode == 2 and done.stderr == f"sweeplab: error: {flag} {url}: {said}\n"
