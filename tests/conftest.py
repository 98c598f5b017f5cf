import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILT_IN_SWEEPS = ROOT / "src" / "sweeplab" / "sweeps"  # shipped as package data
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# sweeplab's default, whichever test configures the process first (a sweep with `onednn: true` would otherwise
# turn it on for every process a later test starts); the tests of the setting start their own clean processes.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def require(component: str, problem: str | None) -> None:
    """A test needs ``component`` (PostgreSQL, Chromium, unshare), and ``problem`` says why it is missing (None: it
    is there). CI (``CI=true``) is meant to run every such test, so there its absence fails the test; on a laptop
    without root the test is skipped with this one line."""
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{component} is missing, and CI must run this test: {problem}", pytrace=False)
    pytest.skip(f"{component} missing: {problem}")


@pytest.fixture(scope="session")
def uci_dir() -> Path:
    """The UCI files as `make data` leaves them (make test fetches them first)."""
    from sweeplab.data.sources import SUBDIR, check

    directory = ROOT / "data" / SUBDIR
    broken = {name: state for name, state in check(directory).items() if state != "ok"}
    assert not broken, f"run 'make data' first: {broken}"
    return directory


@pytest.fixture(scope="session")
def glove_file() -> Path:
    """The GloVe subset as `make data` leaves it (copied from ../shared/data/glove and checked)."""
    path = ROOT / "data" / "glove" / "glove.6B.50d.subset.txt"
    assert path.is_file(), "run 'make data' first (it copies the GloVe vectors from ../shared/data/glove)"
    return path


@pytest.fixture(autouse=True)
def _project_paths(monkeypatch, uci_dir):
    """Tests run from anywhere but read the project's data/, and no sweeps/ of the working directory's: a name
    finds a built-in sweep."""
    monkeypatch.setenv("SWEEPLAB_SWEEPS_DIR", str(ROOT / "tests" / "no-local-sweeps"))
    monkeypatch.setenv("SWEEPLAB_DATA_DIR", str(uci_dir.parent))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="session")
def smoke_store(tmp_path_factory):
    """`sweeplab sweep smoke` once per test session: 2 trials x 2 folds x 1 epoch on the real yelp file.

    Read it, don't add to it: several modules check what is in it.
    """
    from sweeplab.cli import main

    uri = f"sqlite:///{tmp_path_factory.mktemp('smoke') / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SWEEPLAB_SWEEPS_DIR", str(ROOT / "tests" / "no-local-sweeps"))
        patch.setenv("SWEEPLAB_DATA_DIR", str(ROOT / "data"))
        assert main(["sweep", "smoke", "--tracking-uri", uri]) == 0
    return uri


@pytest.fixture
def tiny_texts():
    """60 short texts whose label is readable from one word, in two balanced classes."""
    rng = np.random.default_rng(0)
    filler = ["the", "a", "film", "food", "phone", "was", "really", "quite", "and", "it"]
    texts, labels = [], []
    for i in range(60):
        label = i % 2
        words = list(rng.choice(filler, size=6)) + ["great" if label else "awful"]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return np.array(texts, dtype=object), np.array(labels)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def serve():
    """Start a server command in its own process group, wait until ``url`` answers, stop it afterwards."""
    import json
    import signal
    import subprocess
    import time
    import urllib.request

    started = []

    def start(command: list[str], url: str, timeout: float = 90):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        started.append(process)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    body = response.read().decode()
                try:
                    return json.loads(body)
                except ValueError:
                    return body
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, f"{command[0]} did not come up"
                time.sleep(1)

    yield start
    for process in started:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


_CONFIGURE_PROBE = """
import json, os, sys
from sweeplab import api, runtime

configure = runtime.configure

def stop_at_configure(*args, **kwargs):
    tensorflow_loaded = "tensorflow" in sys.modules
    configure(*args, **kwargs)
    print(json.dumps([tensorflow_loaded, os.environ.get("TF_ENABLE_ONEDNN_OPTS")]))
    raise SystemExit(0)

runtime.configure = stop_at_configure
"""


def onednn_at_configure(call: str, *args: str, user: str | None = None) -> list:
    """Runs ``call`` (sweeplab's API, ``sys.argv[1:]`` = ``args``) in a clean process until it applies its process
    settings, and says ``[whether TensorFlow was loaded by then, TF_ENABLE_ONEDNN_OPTS as TensorFlow will read it]``.
    ``user``: the variable as the user set it beforehand (None: unset)."""
    import json
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if user is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = user
    done = subprocess.run([sys.executable, "-c", _CONFIGURE_PROBE + call, *args], capture_output=True, text=True,
                          env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture
def browser():
    """Headless Chromium through its driver, as a person's browser (Debian's packages; 'make browser' installs
    them): open a page, read it, save a screenshot to look at."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [path for path in ("/usr/bin/chromium", "/usr/bin/chromedriver") if not Path(path).exists()]
    require("Chromium", f"{', '.join(missing)} not found ('make browser' installs them)" if missing else None)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        yield driver
    finally:
        driver.quit()
