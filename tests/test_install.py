"""Usable after ``pip install``: a fresh virtual environment outside the checkout, the command run from an empty
directory, the built-in sweeps found as package data."""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """sweeplab installed (not editable) into a fresh venv. Its dependencies are this venv's, put on the new
    one's path (a plain path line: this venv's own .pth files, its editable sweeplab among them, are not run),
    so that nothing is downloaded."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    # From a copy of the files a clone has: building in the checkout would leave build/ there, whose stale copies
    # of the package (the sweep files among them) a later build picks up whatever pyproject.toml says.
    clone = tmp_path_factory.mktemp("clone")
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    for name in listed:
        if (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", str(clone)], check=True, cwd=clone,
                   env={**os.environ, "TMPDIR": str(clone)})
    return venv


def run(venv, args, cwd, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SWEEPLAB_", "PYTHONPATH", "MLFLOW_"))}
    return subprocess.run([venv / "bin" / "sweeplab", *args], cwd=cwd, capture_output=True, text=True,
                          env={**clean, **env}, timeout=600)


def test_the_installed_command_runs_a_sweep_from_an_empty_directory(installed, tmp_path, uci_dir):
    where = subprocess.run([installed / "bin" / "python", "-c", "import sweeplab; print(sweeplab.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, check=True).stdout
    assert where.startswith(str(installed)), f"the checkout's sweeplab, not the installed one: {where}"
    assert run(installed, ["--version"], tmp_path).stdout.startswith("sweeplab 0.")
    listed = run(installed, ["list"], tmp_path).stdout
    assert "smoke" in listed and "cnn_grid" in listed and "built-in" in listed
    fetched = run(installed, ["data"], tmp_path, SWEEPLAB_DATA_MIRROR=str(uci_dir))
    assert fetched.returncode == 0, fetched.stderr
    assert (tmp_path / "data" / "sentiment_labelled_sentences" / "yelp_labelled.txt").is_file()
    swept = run(installed, ["sweep", "smoke", "--source", "yelp"], tmp_path)
    assert swept.returncode == 0, swept.stderr[-2000:]
    assert "== smoke on yelp" in swept.stderr and (tmp_path / "mlruns" / "mlflow.db").is_file()
    # Outside the checkout the hints name the command, not the Makefile.
    assert "run 'mlflow ui --backend-store-uri" in swept.stdout and "make ui" not in swept.stdout


def test_a_local_sweep_wins_over_the_built_in_one(installed, tmp_path):
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps" / "smoke.yaml").write_text("model: cnn\ndescription: mine\nspace:\n  num_filters: [4]\n")
    shown = run(installed, ["show", "smoke"], tmp_path)
    assert shown.returncode == 0 and "description: mine" in shown.stdout
    assert "mine" in run(installed, ["list"], tmp_path).stdout
    missing = run(installed, ["sweep", "smoke", "--source", "yelp", "--dry-run"], tmp_path / "sweeps")
    assert missing.returncode == 2 and "run 'sweeplab data'" in missing.stderr, missing.stderr
