"""The Python API: the README's example as written, and what the command line relies on it for."""

import re
import sys

import pytest

import sweeplab
from sweeplab.errors import SweepLabError
from tests.conftest import ROOT


def readme_example() -> str:
    section = (ROOT / "README.md").read_text().split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(readme_example(), "README.md (Python API)", "exec"), namespace)
    result, board, experiment, model = (namespace[k] for k in ("result", "board", "experiment", "model"))
    [yelp] = result.datasets
    assert result.sweep.name == "smoke" and yelp.source == "yelp" and len(yelp.trials) == 2
    # What it returns is what it logged: the winner's run is the leaderboard's first row.
    assert board.iloc[0]["run_id"] == yelp.winner_run_id and board.iloc[0]["cv_mean"] == pytest.approx(yelp.best.mean)
    summary = result.summary()
    assert summary.loc[0, "lift"] == pytest.approx(yelp.test_score - yelp.baseline.test_score)
    assert experiment.path == "experiments/smoke-yelp.yaml" and experiment.origin["run_id"] == yelp.winner_run_id
    assert (tmp_path / "models" / "smoke-yelp.keras").is_file() and model.registered_version is None
    predicted = sweeplab.load_model(model.path).predict(["The food was great", "Never again"])
    assert list(predicted.columns[:2]) == ["label", "probability"] and len(predicted) == 2
    assert "The food was great" not in capsys.readouterr().err  # progress lines, not predictions, on stderr


def test_a_sweep_is_a_name_a_path_a_mapping_or_a_sweep(tmp_path):
    from sweeplab import config

    by_name = sweeplab.resolve_sweep("smoke")
    assert sweeplab.resolve_sweep(by_name.path) == by_name and sweeplab.resolve_sweep(by_name) is by_name
    mapping = sweeplab.resolve_sweep({"model": "cnn", "space": {"num_filters": [8, 16]}, "trials": 2})
    assert isinstance(mapping, config.Sweep) and mapping.trials == 2 and mapping.name == "notebook"
    with pytest.raises(SweepLabError, match=r"^sweep mapping: space.num_filterz: model 'cnn' takes no such"):
        sweeplab.resolve_sweep({"model": "cnn", "space": {"num_filterz": [8]}})
    with pytest.raises(SweepLabError, match="space: expected a sweep's name"):
        sweeplab.resolve_sweep(42)


def test_bad_options_are_refused_before_any_work(tmp_path):
    store = tmp_path / "mlflow.db"
    uri = f"sqlite:///{store}"
    with pytest.raises(SweepLabError, match="^nested runs its inner searches in this process: leave out workers"):
        sweeplab.sweep("smoke", workers=2, nested=2, tracking_uri=uri)
    with pytest.raises(SweepLabError, match="^data and sources both given"):
        sweeplab.sweep("smoke", sources=["yelp"], data="x.csv", tracking_uri=uri)
    with pytest.raises(SweepLabError, match="^progress: expected"):
        sweeplab.sweep("smoke", progress="fancy", tracking_uri=uri)
    with pytest.raises(SweepLabError, match="^top: expected None or an integer from 1, got int 0"):
        sweeplab.leaderboard(top=0, tracking_uri=uri)
    assert not store.exists()
    [planned] = sweeplab.plan("smoke", sources="imdb", tracking_uri=uri, progress=None)  # a dry run creates nothing
    assert planned.dataset == "imdb" and planned.planned == 2 and not store.exists()


def test_silent_and_bar_progress(tmp_path, capsys):
    """A notebook gets a tqdm bar per dataset; ``progress=None`` prints nothing at all."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sweeplab.sweep("smoke", sources=["yelp"], tracking_uri=uri, progress=None)
    assert capsys.readouterr() == ("", "")
    result = sweeplab.sweep("smoke", sources=["yelp"], tracking_uri=uri, progress="bar", fresh=True)
    out = capsys.readouterr().out
    assert "yelp: 100%" in out and "4/4 [" in out and f"best acc {max(t.mean for t in result['yelp'].trials):.3f}" in out
    assert out.index("== smoke on yelp") < out.index("yelp: 100%") < out.index("== yelp: best cv")


def test_the_notebook_check_reads_the_kernel(monkeypatch):
    from sweeplab.search.progress import in_notebook

    assert not in_notebook()

    class ZMQInteractiveShell:
        pass

    monkeypatch.setitem(sys.modules, "IPython", type(sys)("IPython"))
    sys.modules["IPython"].get_ipython = ZMQInteractiveShell
    assert in_notebook()


@pytest.mark.parametrize("onednn, user, found", [(True, None, "1"), (False, None, "0"), (True, "0", "0")])
def test_a_sweeps_onednn_setting_is_applied_before_tensorflow_loads(onednn, user, found, tmp_path):
    import json

    from tests.conftest import onednn_at_configure
    from tests.test_optuna import reviews_csv

    call = """
api.sweep({"model": "embedding_pool", "onednn": json.loads(sys.argv[1]), "trials": 1, "folds": 2,
           "space": {"embedding_dim": 8}},
          data=sys.argv[2], tracking_uri=sys.argv[3], progress=None)
"""
    # The user's own choice wins over the sweep's.
    assert onednn_at_configure(call, json.dumps(onednn), str(reviews_csv(tmp_path)),
                               f"sqlite:///{tmp_path / 'mlflow.db'}", user=user) == [False, found]


@pytest.mark.parametrize("onednn, user, warned", [(True, "0", True), (True, None, False), (False, "0", False)])
def test_asking_for_onednn_where_the_environment_turned_it_off_warns(onednn, user, warned, monkeypatch, recwarn):
    """bfloat16 without oneDNN trains ~15x slower: a user's TF_ENABLE_ONEDNN_OPTS=0 wins, but is said."""
    from sweeplab import runtime

    monkeypatch.setattr(runtime, "_configured", True)  # the process-wide part ran already: not again here
    if user is None:
        monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    else:
        monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", user)
    runtime.configure(onednn=onednn)
    said = [str(w.message) for w in recwarn if issubclass(w.category, RuntimeWarning)]
    assert bool(said) == warned and all("TF_ENABLE_ONEDNN_OPTS=0" in line for line in said)


def test_a_kernel_without_ipywidgets_is_not_told_to_update_jupyter(monkeypatch):
    """Optuna and MLflow import tqdm.auto, which in a Jupyter kernel without ipywidgets warns "IProgress not found.
    Please update jupyter and ipywidgets" above the sweep's output (seen in JupyterLab 4.4); the bar is tqdm's text
    bar then, which is fine. Not silenced at import of sweeplab: only once work starts."""
    import importlib
    import warnings

    from sweeplab import runtime

    class ZMQInteractiveShell:  # what tqdm.autonotebook takes for a Jupyter kernel
        pass

    monkeypatch.setitem(sys.modules, "IPython", type(sys)("IPython"))
    sys.modules["IPython"].get_ipython = ZMQInteractiveShell
    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", type(sys)("ipykernel.zmqshell"))
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # not installed: importing it raises ImportError

    def first_import_of_tqdm_auto() -> list:
        for name in ("tqdm.auto", "tqdm.autonotebook", "tqdm.notebook"):
            monkeypatch.delitem(sys.modules, name, raising=False)
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("default")
            if quieted:
                runtime.quiet_warnings()  # what a sweep calls before it parses its file (which imports Optuna)
            importlib.import_module("tqdm.auto")
        return [str(w.message) for w in said if "IProgress" in str(w.message)]

    quieted = False
    assert first_import_of_tqdm_auto()  # the warning this guards against
    quieted = True
    assert first_import_of_tqdm_auto() == []
