"""A sweep's report and the advice in it: stores written through sweeplab's own tracking code with numbers chosen to
trigger each rule (and not to), the page opened offline in headless Chromium, and a 1,000-trial search kept
readable."""

import subprocess
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.model_selection import ParameterGrid

from sweeplab import config
from sweeplab.cli import main
from sweeplab.results import advice as advice_rules
from sweeplab.results import report as reports
from sweeplab.search import runner
from sweeplab.search.trial import COMPLETE, PRUNED, TrialResult
from sweeplab.tracking import Tracker

SPACE = {"kernel_size": [3, 5, 7], "num_filters": [16, 32, 64], "maxlen": 20, "embedding_dim": 8}


def written_search(tmp_path, scores: list, curves=None, baseline=(0.70, 0.72), test=0.80, space=None,
                   winner_params=None, select="best", params_of=None, name="fake"):
    """A store holding one finished search of ``len(scores)`` trials, written by sweeplab's tracking code as a
    sweep writes it: ``scores[i]`` the fold scores of trial i, ``curves[i][fold]`` its per-epoch validation
    scores (by default a flat curve at the fold's score over 4 epochs), the baseline's (cv, test) and the
    winner's test score. Returns the tracking URI."""
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    sweep = config.parse_sweep({"name": name, "model": "cnn", "engine": "grid", "folds": len(scores[0]),
                                "select": select, "space": space or SPACE}, f"{name}.yaml")
    dataset = SimpleNamespace(name="toy", reference={"source": "yelp"},
                              integrity={"sha256": "0" * 64, "path": "toy.csv", "rows": 1000,
                                         "class_counts": {"0": 500, "1": 500}})
    grid = list(ParameterGrid({k: v for k, v in (space or SPACE).items() if isinstance(v, list)}))
    tracker, trials = Tracker(uri), []
    with tracker.dataset_run(sweep, dataset, cv_key="fake") as run:
        cv_baseline, test_baseline = baseline
        base = runner.Baseline(tuple({"accuracy": cv_baseline, "macro_f1": cv_baseline} for _ in scores[0]),
                               {"accuracy": test_baseline, "macro_f1": test_baseline})
        run.log_setup(sweep, dataset, 750, 250, base)
        for number, folds in enumerate(scores):
            params = sweep.configuration((params_of or (lambda n: grid[n % len(grid)]))(number))
            run.trials.trial_started(number, params)
            measures = []
            for fold, score in enumerate(folds, start=1):
                for epoch, value in enumerate(curves[number][fold - 1] if curves else [score] * 4, start=1):
                    run.trials.epoch_done(number, fold, epoch, value)
                measures.append({"accuracy": score, "macro_f1": score,
                                 "trainable_params": 1000.0 * params["num_filters"] * params["kernel_size"]})
                run.trials.fold_done(number, fold, params, score, measures[-1])
            trial = TrialResult(number, params, tuple(folds), 1.0, COMPLETE, None, tuple(measures), f"key{number}")
            run.trials.trial_finished(trial)
            trials.append(trial)
        top = max(trials, key=lambda t: t.mean)
        evidence, tied, winner = runner._select(sweep, trials, top)
        result = runner.DatasetResult(
            source="toy", trials=trials, best=top, test_measures={"accuracy": test, "macro_f1": test},
            test_report="fake report", metric="accuracy", baseline=base, history={"loss": [0.6, 0.4, 0.3]},
            wall_time=3.0, tied=tied, evidence=evidence, compare=dict(sweep.compare), select=sweep.select,
            selected=winner, folds=sweep.folds, classes=("0", "1"), confusion=((100, 25), (20, 105)))
        run.log_result(result)
    return uri


def advice_of(uri, name="fake") -> dict:
    [view] = reports.collect(Tracker(uri), name).datasets
    return {a.rule: a.text for a in view.advice}


# --- each rule, triggered and not -------------------------------------------------------------------------------


def test_early_peak_speaks_when_the_folds_peaked_long_before_the_budget(tmp_path):
    peaked = [[[0.70, 0.82, 0.80, 0.79, 0.78, 0.78, 0.77, 0.77, 0.76, 0.76, 0.76, 0.75] for _ in range(4)]
              for _ in range(5)]
    scores = [[curve[-1] for curve in trial] for trial in peaked]
    said = advice_of(written_search(tmp_path / "a", scores, peaked))
    assert said["early_peak"] == ("validation accuracy peaked by epoch 2 in 20 of 20 folds (of 12 epochs trained): "
                                  "`fit: {patience: 3}` would train about 2x less")
    rising = [[list(np.linspace(0.6, 0.8 + 0.01 * t, 12)) for _ in range(4)] for t in range(5)]
    scores = [[curve[-1] for curve in trial] for trial in rising]
    assert "early_peak" not in advice_of(written_search(tmp_path / "b", scores, rising))


def test_all_tied_hands_on_the_simplest_when_no_trial_differs(tmp_path):
    noisy = [[0.80 + 0.01 * ((t + f) % 3), 0.81, 0.79, 0.80] for t, f in zip(range(5), [0, 1, 2, 0, 1])]
    said = advice_of(written_search(tmp_path / "a", noisy))
    assert said["all_tied"].startswith("no trial differs from the best (5 of 5 tied, corrected paired t-test, alpha "
                                       "0.05): `select: simplest` hands on kernel_size=3 num_filters=16 (48,000 ")
    clear = [[0.90, 0.91, 0.92, 0.90]] + [[0.60, 0.61, 0.62, 0.60]] * 4
    assert "all_tied" not in advice_of(written_search(tmp_path / "b", clear))
    assert "all_tied" not in advice_of(written_search(tmp_path / "c", noisy, select="simplest"))


def test_baseline_wins_when_bag_of_words_beats_every_trial(tmp_path):
    scores = [[0.80, 0.81, 0.79, 0.80], [0.78, 0.77, 0.79, 0.78], [0.70, 0.71, 0.69, 0.70]]
    said = advice_of(written_search(tmp_path / "a", scores, baseline=(0.85, 0.84), test=0.79))
    assert said["baseline_wins"] == ("the bag-of-words baseline beats every trial on toy: cv accuracy 0.850 against "
                                     "the best trial's 0.800; test 0.840 against the winner's 0.790")
    assert "baseline_wins" not in advice_of(written_search(tmp_path / "b", scores, baseline=(0.75, 0.74)))


def test_optimism_speaks_when_the_test_falls_short_of_the_cv(tmp_path):
    scores = [[0.84, 0.82, 0.83, 0.83], [0.70, 0.71, 0.69, 0.70], [0.65, 0.66, 0.64, 0.65]]
    said = advice_of(written_search(tmp_path / "a", scores, test=0.788))
    assert said["optimism"].startswith("the CV promised 0.830, the test gave 0.788: optimism +0.042")
    assert "optimism" not in advice_of(written_search(tmp_path / "b", scores, test=0.82))


def test_edge_won_speaks_when_the_winner_stands_at_the_space_s_edge(tmp_path):
    scores = [[0.70] * 4, [0.72] * 4, [0.90, 0.91, 0.92, 0.90]]
    # ParameterGrid's order: kernel_size varies slowest (3, 3, 3, 5, ...); trial 2 gets kernel 7 here.
    at_edge = advice_of(written_search(tmp_path / "a", scores, params_of=lambda n: {"kernel_size": [3, 5, 7][n],
                                                                                    "num_filters": 32}))
    assert at_edge["edge_won"] == ("the search space's edge won: kernel_size 7 is the largest tried; the best may lie "
                                   "beyond it (widen the space there)")
    inside = advice_of(written_search(tmp_path / "b", scores, params_of=lambda n: {"kernel_size": [3, 7, 5][n],
                                                                                   "num_filters": 32}))
    assert "edge_won" not in inside


def test_every_rule_has_a_test_here():
    tested = {name for name in globals() if name.startswith("test_")}
    for rule in advice_rules.RULES:
        assert any(name.startswith(f"test_{rule.__name__}") for name in tested), rule.__name__


# --- the page ----------------------------------------------------------------------------------------------------


SECTIONS = ["Summary", "Advice from the evidence", "Trials (", "Validation curves per epoch", "History",
            "Parameter importances", "Parallel coordinates", "The winner on the held-out test split",
            "Every configuration on every dataset", "Ranks across 3 datasets",
            "Transfer: each dataset's winner tested on every dataset"]


@pytest.fixture(scope="module")
def three_sources(tmp_path_factory):
    """The smoke sweep on the three UCI sources with 3 epochs, and compare's transfer matrix: every section has
    something to show. Returns (the store's URI, the sweep's stdout)."""
    import contextlib
    import io

    root = tmp_path_factory.mktemp("report")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["sweep", "smoke", "--source", "yelp", "--source", "amazon", "--source", "imdb", "--epochs", "3",
                     "--trials", "3",
                     "--tracking-uri", uri]) == 0
    assert main(["compare", "smoke", "--tracking-uri", uri]) == 0
    return uri, out.getvalue()


def test_the_end_of_a_sweep_names_the_next_step_and_gives_advice_with_numbers(three_sources):
    _, out = three_sources
    assert "sweeplab export smoke --source yelp" in out or "make export SPACE=smoke SOURCE=yelp" in out
    assert "retrain" in out and "report: " in out and "#/experiments/" in out
    advice = [line for line in out.splitlines() if line.startswith("  advice: ")]
    assert advice and all(any(c.isdigit() for c in line) for line in advice)


def test_the_report_opens_offline_with_every_section(three_sources, tmp_path, browser):
    """The page is one file: no script, style or image comes from anywhere else. Opened in Chromium it has every
    section; the screenshots of its top and of one dataset's section are left in tmp_path to look at."""
    from selenium.webdriver.common.by import By

    uri, _ = three_sources
    assert main(["report", "smoke", "--out", str(tmp_path / "r"), "--tracking-uri", uri]) == 0
    page = tmp_path / "r" / "report.html"
    text = page.read_text(encoding="utf-8")
    assert "http://" not in text.replace("http://127.0.0.1:5000", "") and "https://" not in text
    assert text.count("<script") == 1 and "src=" not in text.split("<script")[1].split(">")[0]
    browser.get(page.as_uri())
    body = browser.find_element(By.TAG_NAME, "body").text
    for section in SECTIONS:
        assert section in body, section
    fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(name.startswith("data:") for name in fetched), fetched
    images = browser.execute_script("return Array.from(document.images).map(i => [i.naturalWidth, i.complete])")
    assert images and all(width > 0 and done for width, done in images)  # every figure drew
    browser.save_screenshot(str(tmp_path / "report_top.png"))
    browser.execute_script("document.getElementById('dataset-amazon').scrollIntoView()")
    browser.save_screenshot(str(tmp_path / "report_amazon.png"))
    assert (tmp_path / "report_top.png").stat().st_size > 20_000
    print(f"screenshots: {tmp_path / 'report_top.png'} {tmp_path / 'report_amazon.png'}")
    # Sorting a table by a click on its heading: the trials by CV, lowest first after one click on "cv accuracy".
    heads = browser.find_elements(By.CSS_SELECTOR, "#dataset-yelp ~ table.sortable th")
    cv = next(h for h in heads if h.text == "cv accuracy")
    cv.click()
    cv.click()
    column = cv.get_property("cellIndex")
    table = cv.find_element(By.XPATH, "./ancestor::table")
    values = [float(row.find_elements(By.TAG_NAME, "td")[column].get_attribute("data-sort"))
              for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert values == sorted(values)


def test_every_dataset_run_carries_the_report_and_the_refit_curves(three_sources):
    from mlflow import MlflowClient

    uri, _ = three_sources
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("smoke").experiment_id
    parents = client.search_runs([experiment], "tags.`sweeplab.kind` = 'dataset'")
    assert len(parents) == 3
    for parent in parents:
        assert {"report.html", "report.md", "test_confusion.json"} <= {a.path for a in
                                                                       client.list_artifacts(parent.info.run_id)}
        assert [m.step for m in client.get_metric_history(parent.info.run_id, "refit_loss")] == [1, 2, 3]


def test_a_thousand_trials_stay_readable(tmp_path, browser):
    """The table shows the best 50 and folds the rest away, the curves the best few, and the page stays a few
    screens long and a few megabytes, whatever the number of trials."""
    rng = np.random.default_rng(0)
    space = config.parse_sweep({"name": "big", "model": "cnn", "engine": "random", "folds": 4,
                                "space": {"learning_rate": {"low": 1e-4, "high": 1e-2, "log": True},
                                          "num_filters": {"low": 8, "high": 256}, "kernel_size": [3, 5, 7]}},
                               "big.yaml")
    trials = []
    for number in range(1000):
        params = {"learning_rate": float(10 ** rng.uniform(-4, -2)), "num_filters": int(rng.integers(8, 257)),
                  "kernel_size": int(rng.choice([3, 5, 7]))}
        pruned = number % 3 == 0
        folds = tuple(rng.uniform(0.6, 0.85, 2 if pruned else 4))
        trials.append(reports.TrialView(
            number, params, folds, 2.0, PRUNED if pruned else COMPLETE, "pruned at epoch 2" if pruned else None,
            tuple({"accuracy": s, "trainable_params": float(params["num_filters"] * 1000)} for s in folds),
            run_id=f"run{number}", tied=bool(rng.random() < 0.1), selected=number == 7,
            curves=tuple(tuple(rng.uniform(0.5, 0.85, 20)) for _ in folds)))
    view = reports.DatasetView("big", "parent", "accuracy", "optuna", 4, "best", {"test": "t_test", "alpha": 0.05},
                               tuple(trials), ("kernel_size", "learning_rate", "num_filters"), 0.7, 0.72, 0.8,
                               {"accuracy": 0.8}, "report", ("0", "1"), ((1, 2), (3, 4)), {"loss": [0.5, 0.4]},
                               space)
    view = reports._with_advice(view, advice_rules.advise(view))
    found = reports.SweepReport("big", "sqlite:///x", "1", (view,), written="now")
    page, _ = reports.write(found, tmp_path)
    assert page.stat().st_size < 4_000_000
    browser.get(page.as_uri())
    height = browser.execute_script("return document.body.scrollHeight")
    shown = browser.execute_script("return Array.from(document.querySelectorAll('table.sortable tbody tr'))"
                                   ".filter(r => !r.closest('details') || r.closest('details').open).length")
    browser.save_screenshot(str(tmp_path / "thousand.png"))
    assert shown == reports.SHOWN_TRIALS and height < 12_000, (shown, height)
    assert "the other 950 trials" in page.read_text(encoding="utf-8")
    assert f"Validation curves per epoch (the best {reports.SHOWN_CURVES} trials and the winner)" in \
        page.read_text(encoding="utf-8")


# --- provenance ---------------------------------------------------------------------------------------------------


def test_runs_record_the_commit_of_the_checkout_they_ran_in_and_nothing_breaks_outside_one(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    from sweeplab import versions

    checkout = tmp_path / "project"
    checkout.mkdir()
    for command in (["git", "init", "-q"], ["git", "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q",
                                             "--allow-empty", "-m", "start"]):
        subprocess.run(command, cwd=checkout, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True).stdout.strip()
    outside = tmp_path / "plain"
    outside.mkdir()
    for where, commit in ((checkout, head), (outside, None)):
        monkeypatch.chdir(where)
        versions.provenance.cache_clear()
        uri = written_search(where, [[0.8, 0.7], [0.6, 0.7]], name="prov")
        client = MlflowClient(uri)
        found = client.search_runs([client.get_experiment_by_name("prov").experiment_id])
        assert len(found) == 3 and {r.data.tags["mlflow.source.name"] for r in found} == {"sweeplab"}
        assert {r.data.tags.get("mlflow.source.git.commit") for r in found} == {commit}
        assert {r.data.tags.get("sweeplab.git_dirty") for r in found} == ({"false"} if commit else {None})
    versions.provenance.cache_clear()


# --- one ETA for a fused group ------------------------------------------------------------------------------------


def test_the_members_of_a_fused_group_share_one_eta():
    """Five trials trained as one model end each fold together and report one by one: their lines gave ETAs from
    9:54 down to 1:34 for the same moment."""
    import io

    from sweeplab.search.progress import Progress

    now = [0.0]
    stream = io.StringIO()
    shown = Progress(stream=stream, clock=lambda: now[0])
    shown.start("yelp", trials=5, folds=4)
    for number in range(5):
        shown.trial_started(number, {})
    now[0] = 10.0
    for number in range(5):
        shown.fold_done(number, 1, {}, 0.8)
    etas = {line.rsplit("ETA ", 1)[1] for line in stream.getvalue().splitlines()}
    assert etas == {"0:30"}  # 5 of 20 folds in 10 s: 15 left, 30 s
