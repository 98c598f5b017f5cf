"""From leaderboard to model, for real: export the smoke sweep's winner, retrain it, predict on raw strings through
the .keras file, the registered pyfunc and `mlflow models serve`, and read the cross-source pivot."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from sweeplab.cli import main
from sweeplab.data.sources import SOURCES
from sweeplab.tags import BEST, KIND
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store(smoke_store, tmp_path_factory):
    """A copy of the smoke sweep's store, so the retrain runs added here stay out of the shared one."""
    copy = tmp_path_factory.mktemp("export") / "store"
    shutil.copytree(Path(smoke_store[len("sqlite:///"):]).parent, copy)
    return f"sqlite:///{copy / 'mlflow.db'}"


@pytest.fixture(scope="module")
def retrained(store, tmp_path_factory):
    """`sweeplab export smoke --source yelp` then `sweeplab retrain` on the file it wrote."""
    work = tmp_path_factory.mktemp("retrain")
    exported = work / "smoke-yelp.yaml"
    assert main(["export", "smoke", "--source", "yelp", "--out", str(exported), "--tracking-uri", store]) == 0
    model = work / "smoke-yelp.keras"
    assert main(["retrain", str(exported), "--out", str(model), "--tracking-uri", store]) == 0
    return {"experiment": exported, "model": model, "uri": store}


def trial_runs(uri, kind):
    client = MlflowClient(uri)
    return client.search_runs([e.experiment_id for e in client.search_experiments()], f"tags.`{KIND}` = '{kind}'")


def test_export_writes_the_winner_whole(retrained):
    exported = yaml.safe_load(retrained["experiment"].read_text())
    (best,) = [r for r in trial_runs(retrained["uri"], "trial") if r.data.tags.get(BEST) == "true"]
    assert exported["name"] == "smoke-yelp" and exported["sweep"] == "smoke" and exported["model"] == "cnn"
    chosen = {k: yaml.safe_load(v) for k, v in best.data.params.items()}
    assert {**exported["params"], **exported["fit"]}.items() >= chosen.items()
    assert {"dense_units", "dropout", "learning_rate"} <= set(exported["params"])  # defaults written out too
    assert exported["data"] == {"source": "yelp", "sha256": SOURCES["yelp"][1], "rows": 1000,
                                "class_counts": {"0": 500, "1": 500}}
    assert exported["split"] == {"test_size": 0.25, "seed": 7}
    assert "onednn" not in exported  # the smoke sweep runs with oneDNN off, the default
    origin = exported["origin"]
    assert origin["run_id"] == best.info.run_id and origin["rank"] == 1
    assert origin["cv_accuracy_mean"] == pytest.approx(best.data.metrics["cv_accuracy_mean"], abs=1e-6)
    assert exported["versions"]["keras"] == "3.15.1" and "versions_from" not in origin  # the sweep logged its own


def test_retrain_matches_the_pipeline_it_came_from(retrained):
    (run,) = [r for r in trial_runs(retrained["uri"], "retrain") if r.data.params["all_data"] == "False"]
    m = run.data.metrics
    assert run.info.status == "FINISHED" and run.data.params["n_train"] == "750"
    # The raw-text model predicts what the pipeline predicts on the same held-out split, every text of the 250
    # (the README's "250/250").
    assert m["raw_text_agreement"] == 1.0
    assert m["test_accuracy"] == m["pipeline_test_accuracy"]
    # Same configuration, split and seed as the sweep's refit of its winner: the same model, the same score.
    assert m["test_accuracy"] == pytest.approx(m["sweep_test_accuracy"], abs=1e-9)
    artifacts = {a.path for a in MlflowClient(retrained["uri"]).list_artifacts(run.info.run_id)}
    assert {"experiment.yaml", "classification_report.txt", "classification_report.json", "confusion_matrix.png",
            "learning_curve.png", "smoke-yelp.keras"} <= artifacts
    (version,) = MlflowClient(retrained["uri"]).search_model_versions("name = 'smoke-yelp'")
    assert version.run_id == run.info.run_id


def test_predict_from_the_keras_file_and_from_the_registry(retrained, capsys, monkeypatch):
    texts = ["The food was great and the staff were lovely", "Worst service ever, never again"]
    assert main(["predict", str(retrained["model"]), *texts, "--format", "json"]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert [row["text"] for row in from_file] == texts
    assert all(row["label"] in (0, 1) and 0.5 <= row["probability"] <= 1 for row in from_file)

    assert main(["predict", "models:/smoke-yelp/1", *texts, "--format", "json",
                 "--tracking-uri", retrained["uri"]]) == 0
    from_registry = json.loads(capsys.readouterr().out)
    assert [r["label"] for r in from_registry] == [r["label"] for r in from_file]
    np.testing.assert_allclose([r["probability"] for r in from_registry], [r["probability"] for r in from_file],
                               atol=1e-6)

    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", retrained["uri"])
    mlflow.set_tracking_uri(retrained["uri"])
    predictions = mlflow.pyfunc.load_model("models:/smoke-yelp/1").predict(pd.DataFrame({"text": texts}))
    assert list(predictions.columns) == ["label", "probability", "p_0", "p_1"]
    assert list(predictions["label"]) == [r["label"] for r in from_file]


def test_predict_reads_texts_from_a_file_and_refuses_bad_models(retrained, tmp_path, capsys):
    lines = tmp_path / "texts.txt"
    lines.write_text("loved it\n\nhated it\n", encoding="utf-8")
    assert main(["predict", str(retrained["model"]), "--file", str(lines)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].endswith("\tloved it") and out[1].endswith("\thated it")

    assert main(["predict", str(tmp_path / "missing.keras"), "hello"]) == 2
    assert "missing.keras: model file not found" in capsys.readouterr().err
    assert main(["predict", "models:/no-such-model/1", "hello", "--tracking-uri", retrained["uri"]]) == 2
    assert "models:/no-such-model/1: cannot load as an MLflow model" in capsys.readouterr().err
    assert main(["predict", str(retrained["model"])]) == 2


def post(port: int, body: bytes, content_type: str = "application/json") -> tuple[int, dict]:
    """POST to a served model's /invocations: (the status, the JSON answer)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", method="POST", data=body,
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read() or b"{}")


def records(*values) -> bytes:
    return json.dumps({"dataframe_records": [{"text": value} for value in values]}).encode()


NOT_TEXT = [  # (request body, where the answer says the problem is): each must be a 4xx with its reason
    (records("fine", None), "$.dataframe_records[1].text: expected a text (a string), got null"),
    (records(5), "$.dataframe_records[0].text: expected a text (a string), got 5"),
    (records({"a": 1}), "$.dataframe_records[0].text.a: expected a text (a string), got 1"),
    (records(["a"]), None),  # a list of strings where one text goes: the model says what it got
    (json.dumps({"inputs": {"text": ["a", None]}}).encode(), "$.inputs.text[1]: expected a text (a string), got null"),
    (json.dumps({"instances": [{"text": 3.5}]}).encode(), "$.instances[0].text: expected a text (a string), got 3.5"),
    (json.dumps({"dataframe_split": {"columns": ["text"], "data": [[True]]}}).encode(), "got true"),
    (b'{"dataframe_records": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    (json.dumps({"dataframe_records": [{"text": "x"}] * 100_001}).encode(), "100,001 texts in one call, at most 100,000"),
    (records("x" * ((1 << 20) + 1)), "text 1: 1,048,577 characters, at most 1,048,576"),
]


def test_the_served_model_takes_text_only_and_bounds_requests(retrained, serve, monkeypatch):
    """Anything but text is a 4xx with its reason (null, numbers, objects, in every input format), deep JSON too
    (MLflow's server answered 500); a body over 64 MiB is 413 without being parsed; many clients at once are
    answered; what a request may hold is documented in sweeplab.serving.server."""
    import concurrent.futures

    from sweeplab.serving.server import MAX_BODY_BYTES

    port = free_port()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", retrained["uri"])
    serve(["make", "-s", "-C", str(ROOT), "serve", "MODEL=models:/smoke-yelp/1", f"SERVE_PORT={port}"],
          f"http://127.0.0.1:{port}/version", timeout=180)
    for body, reason in NOT_TEXT:
        status, answer = post(port, body)
        assert status == 400 and (reason is None or reason in answer["message"]), (body[:80], status, answer)
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)  # says its size, sends none of it
    connection.putrequest("POST", "/invocations")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
    connection.endheaders()
    answered = connection.getresponse()
    assert answered.status == 413 and "larger than 67,108,864 bytes" in json.load(answered)["message"]
    connection.close()
    assert post(port, records("y" * (MAX_BODY_BYTES // 2)))[0] == 400  # 32 MiB is read, and refused by the model
    assert post(port, b"text\nhello\n", "text/csv")[0] == 200
    with concurrent.futures.ThreadPoolExecutor(100) as pool:
        statuses = list(pool.map(lambda i: post(port, records(f"text {i}"))[0], range(100)))
    assert statuses == [200] * 100


def test_mlflow_models_serve_refuses_non_text_where_it_reaches_the_model(retrained, serve, monkeypatch):
    """Under MLflow's own server (no sweeplab guard in front), the model still refuses what reaches it as sent."""
    port = free_port()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", retrained["uri"])
    monkeypatch.setenv("PATH", f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}")
    serve([str(ROOT / ".venv" / "bin" / "mlflow"), "models", "serve", "-m", "models:/smoke-yelp/1", "--env-manager",
           "local", "--host", "127.0.0.1", "--port", str(port)], f"http://127.0.0.1:{port}/version", timeout=180)
    status, answer = post(port, records("fine", None))
    assert status == 400 and "text 2: expected a string, got float nan" in answer["message"]  # pandas' null
    assert post(port, records(7))[0] == 400 and post(port, records("fine"))[0] == 200


def test_the_served_model_answers_raw_text(retrained, serve, monkeypatch):
    """`make serve` runs MLflow's scoring server (through `sweeplab serve`) on 127.0.0.1; raw text in, labels out."""
    import urllib.request

    port = free_port()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", retrained["uri"])
    serve(["make", "-s", "-C", str(ROOT), "serve", "MODEL=models:/smoke-yelp/1", f"SERVE_PORT={port}"],
          f"http://127.0.0.1:{port}/version", timeout=180)
    texts = ["The food was great and the staff were lovely", "Worst service ever, never again"]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations", method="POST",
        data=json.dumps({"dataframe_records": [{"text": t} for t in texts]}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        served = json.load(response)["predictions"]
    from sweeplab.modeling import textmodel

    expected = textmodel.predict(textmodel.load_text_model(retrained["model"]), texts)
    assert [row["label"] for row in served] == list(expected["label"])
    np.testing.assert_allclose([row["probability"] for row in served], expected["probability"], atol=1e-5)


def test_retrain_on_all_the_data_says_so_and_has_no_test_score(retrained, tmp_path, capsys):
    model = tmp_path / "all.keras"
    assert main(["retrain", str(retrained["experiment"]), "--all-data", "--no-register", "--out", str(model),
                 "--tracking-uri", retrained["uri"]]) == 0
    out = capsys.readouterr().out
    assert "--all-data: training on all 1000 rows, the test split included; no held-out score" in out
    run = max(trial_runs(retrained["uri"], "retrain"), key=lambda r: r.info.start_time)
    assert run.data.params["all_data"] == "True" and run.data.params["n_train"] == "1000"
    assert "test_accuracy" not in run.data.metrics and model.is_file()
    assert len(MlflowClient(retrained["uri"]).search_model_versions("name = 'smoke-yelp'")) == 1


def test_export_refuses_what_is_not_there(store, tmp_path, capsys):
    assert main(["export", "smoke", "--source", "imdb", "--tracking-uri", store]) == 2
    assert "no finished run of sweep 'smoke' on source 'imdb'" in capsys.readouterr().err
    assert main(["export", "smoke", "--source", "yelp", "--rank", "3", "--tracking-uri", store]) == 2
    assert "--rank 3: sweep 'smoke' on 'yelp' has only 2 complete trials" in capsys.readouterr().err
    assert main(["export", "nope", "--source", "yelp", "--tracking-uri", store]) == 2
    assert main(["export", "smoke", "--source", "yelp", "--tracking-uri",
                 f"sqlite:///{tmp_path / 'none.db'}"]) == 2


def test_export_refuses_a_destination_it_cannot_write_and_leaves_nothing(store, tmp_path, capsys):
    for out, fragment in [(tmp_path, f"{tmp_path}: a directory; give the path of the experiment file to write"),
                          (tmp_path / "x.txt", "the experiment file must end in .yaml or .yml"),
                          ("/proc/sweeplab-export.yaml", "/proc/sweeplab-export.yaml: ")]:
        assert main(["export", "smoke", "--source", "yelp", "--out", str(out), "--tracking-uri", store]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and fragment in err, err
    assert list(tmp_path.iterdir()) == []


def test_pivot_puts_a_configuration_on_one_line(store, capsys):
    assert main(["leaderboard", "--pivot", "--format", "json", "--tracking-uri", store]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and {r["sweep"] for r in rows} == {"smoke"}
    assert sorted(r["yelp.rank"] for r in rows) == [1, 2]
    assert rows[0]["yelp.cv_mean"] >= rows[1]["yelp.cv_mean"] and rows[0]["sources"] == 1
    assert main(["leaderboard", "--pivot", "--tracking-uri", store]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "yelp" in table[1] and "#1" in table[2] and "num_filters=" in table[2]


def test_a_three_class_csv_exports_and_retrains_with_early_stopping(tmp_path, capsys):
    """A user's file, not a UCI source: the experiment points at the file by path and hash; early stopping keeps
    a validation slice out of training and stops before the epoch budget; labels come back as the CSV's names."""
    from tests.test_sweep import sweep_file, topic_csv

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    csv = topic_csv(tmp_path, rows_per_class=40)
    sweep = sweep_file(tmp_path, [2, 3])
    sweep.write_text(sweep.read_text() + "onednn: true\n")  # carried to the experiment, for its retrain
    assert main(["sweep", str(sweep), "--data", str(csv), "--label-col", "topic", "--tracking-uri", uri]) == 0
    exported = tmp_path / "tiny-topics.yaml"
    assert main(["export", "tiny", "--source", "topics", "--out", str(exported), "--tracking-uri", uri]) == 0
    mapping = yaml.safe_load(exported.read_text())
    assert mapping["data"]["file"] == str(csv) and mapping["data"]["label_col"] == "topic"
    assert mapping["onednn"] is True
    mapping["fit"]["epochs"] = 200
    mapping["early_stopping"] = {"patience": 2, "validation_split": 0.2}
    mapping["params"]["learning_rate"] = 0.05
    mapping["origin"]["metric"] = "macro_f1"  # as if the sweep had ranked by macro-F1: compare in it
    exported.write_text(yaml.safe_dump(mapping))
    model = tmp_path / "topics.keras"
    assert main(["retrain", str(exported), "--out", str(model), "--tracking-uri", uri]) == 0
    out = capsys.readouterr().out
    assert "stopped early at epoch" in out and "registered model 'tiny-topics' version 1" in out
    origin = mapping["origin"]
    assert (f"the sweep's cv macro_f1 {origin['cv_macro_f1_mean']:.3f}, its refit's test macro_f1 "
            f"{origin['sweep_test_macro_f1']:.3f}") in out
    (run,) = trial_runs(uri, "retrain")
    assert run.data.metrics["sweep_cv_macro_f1_mean"] == pytest.approx(origin["cv_macro_f1_mean"])
    assert run.data.metrics["epochs_run"] < 200 and 0 <= run.data.metrics["test_macro_f1"] <= 1
    assert json.loads(run.data.params["early_stopping"]) == {"patience": 2, "validation_split": 0.2}
    assert main(["predict", str(model), "goal match team", "stocks bank rates", "--format", "json"]) == 0
    labels = [row["label"] for row in json.loads(capsys.readouterr().out)]
    assert labels == ["sport", "finance"]


KILLED_WHILE_LOGGING = """
import os, signal, sys
import mlflow
from sweeplab.cli import main

def killed(*args, **kwargs):  # the model is created (PENDING) and its files are about to be uploaded
    os.kill(os.getpid(), signal.SIGKILL)

mlflow.MlflowClient.log_model_artifacts = killed
sys.exit(main(sys.argv[1:]))
"""


def test_a_retrain_killed_while_logging_its_model_is_closed_by_the_next_one(retrained, tmp_path):
    """SIGKILL leaves the retrain run RUNNING and its logged model PENDING: the next retrain on the store closes
    the run as KILLED and fails the model (dataset runs had this; retrain runs stayed RUNNING for good)."""
    import signal
    import subprocess
    import sys

    args = ["retrain", str(retrained["experiment"]), "--no-register", "--tracking-uri", retrained["uri"]]
    done = subprocess.run([sys.executable, "-c", KILLED_WHILE_LOGGING, *args, "--out", str(tmp_path / "k.keras")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    client = MlflowClient(retrained["uri"])
    killed = max(trial_runs(retrained["uri"], "retrain"), key=lambda r: r.info.start_time)
    experiment = killed.info.experiment_id

    def models_of(run_id):
        return client.search_logged_models([experiment], filter_string=f"source_run_id = '{run_id}'")

    assert killed.info.status == "RUNNING" and [str(m.status) for m in models_of(killed.info.run_id)] == ["PENDING"]
    assert main([*args, "--out", str(tmp_path / "next.keras")]) == 0
    assert client.get_run(killed.info.run_id).info.status == "KILLED"
    assert [str(m.status) for m in models_of(killed.info.run_id)] == ["FAILED"]


def test_a_deleted_experiment_of_the_sweep_s_name_is_one_line_before_any_work(retrained, tmp_path, capsys):
    """MLflow keeps a deleted experiment's name: sweep and retrain crashed on it (retrain after writing its .keras)."""
    copy = tmp_path / "store"
    shutil.copytree(Path(retrained["uri"][len("sqlite:///"):]).parent, copy)
    uri = f"sqlite:///{copy / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("smoke").experiment_id
    client.delete_experiment(experiment)
    line = (f"sweeplab: error: MLflow experiment 'smoke' in {uri} is deleted (in the trash), and MLflow keeps its "
            f"name: restore it (mlflow experiments restore --experiment-id {experiment}) or delete it for good "
            f"(mlflow gc --backend-store-uri {uri})\n")
    assert main(["sweep", "smoke", "--tracking-uri", uri, "--storage", f"sqlite:///{tmp_path / 'o.db'}"]) == 2
    assert capsys.readouterr().err == line and not (tmp_path / "o.db").exists()
    model = tmp_path / "m.keras"
    assert main(["retrain", str(retrained["experiment"]), "--out", str(model), "--tracking-uri", uri]) == 2
    assert capsys.readouterr().err == line and not model.exists()


def test_a_registered_version_carries_its_model_card(retrained, serve, browser, tmp_path):
    """The registry answers "what is this model and how good is it": the version's description is the card (also
    the markdown file beside the .keras file), its tags the facts; the MLflow UI's page shows it (screenshot)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    client = MlflowClient(retrained["uri"])
    version = client.get_model_version("smoke-yelp", "1")
    card = retrained["model"].with_suffix(".md").read_text(encoding="utf-8")
    assert version.description == card and card.startswith("# smoke-yelp, version 1")
    exported = yaml.safe_load(retrained["experiment"].read_text())
    origin = exported["origin"]
    for fact in ("## How good", f"accuracy {origin['cv_accuracy_mean']:.3f} [{origin['cv_accuracy_ci_low']:.3f}, "
                 f"{origin['cv_accuracy_ci_high']:.3f}]", f"against the bag-of-words baseline's "
                 f"{origin['baseline_test_accuracy']:.3f}", f"data sha256 `{SOURCES['yelp'][1]}`",
                 f"trial run `{origin['run_id']}`", f"experiment file `{retrained['experiment']}`"):
        assert fact in card, fact
    tags = version.tags
    assert tags["sweeplab.data_sha256"] == SOURCES["yelp"][1] and tags["sweeplab.sweep"] == "smoke"
    assert tags["sweeplab.cv"] == f"{origin['cv_accuracy_mean']:.3f}" and tags["sweeplab.trial_run"] == origin["run_id"]
    assert tags["mlflow.source.git.commit"] and tags["sweeplab.git_dirty"] in ("true", "false")  # run in the checkout
    store, port = Path(retrained["uri"][len("sqlite:///"):]).parent, free_port()
    serve(["make", "-s", "-C", str(ROOT), "ui", f"PORT={port}", f"STORE={store}"], f"http://127.0.0.1:{port}/health")
    browser.get(f"http://127.0.0.1:{port}/#/models/smoke-yelp/versions/1")
    WebDriverWait(browser, 60).until(lambda b: "How good" in b.find_element(By.TAG_NAME, "body").text)
    page = browser.find_element(By.TAG_NAME, "body").text
    browser.save_screenshot(str(tmp_path / "registry.png"))
    print(f"screenshot: {tmp_path / 'registry.png'}")
    assert "Where it comes from" in page and f"{origin['cv_accuracy_mean']:.3f}" in page
