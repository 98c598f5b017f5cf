"""`sweeplab compare`: a sweep's configurations across three datasets, and the transfer matrix, end to end."""

import json
import textwrap

import numpy as np
import pytest
from mlflow import MlflowClient

from sweeplab import statistics
from sweeplab.cli import main
from sweeplab.tags import KIND

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def three_datasets(tmp_path_factory):
    """One grid sweep (three configurations) run on three small files whose label is one word."""
    root = tmp_path_factory.mktemp("compare")
    rng = np.random.default_rng(1)
    filler = ["the", "a", "film", "food", "phone", "was", "really", "quite", "and", "it", "so", "very"]
    files = []
    for name, (good, bad) in {"films": ("great", "awful"), "phones": ("superb", "broken"),
                              "meals": ("tasty", "bland")}.items():
        rows = []
        for i in range(60):
            words = list(rng.choice(filler, size=5)) + [good if i % 2 else bad]
            rng.shuffle(words)
            rows.append(f"{' '.join(words)},{i % 2}")
        path = root / f"{name}.csv"
        path.write_text("text,label\n" + "\n".join(rows) + "\n")
        files.append(path)
    sweep = root / "across.yaml"
    sweep.write_text(textwrap.dedent("""
        model: embedding_pool
        engine: grid
        folds: 2
        seed: 4
        fit: {epochs: 3, batch_size: 8}
        space: {embedding_dim: [2, 4, 8], maxlen: 8, max_words: 40, learning_rate: 0.03}
    """))
    uri = f"sqlite:///{root / 'mlflow.db'}"
    for path in files:
        assert main(["sweep", str(sweep), "--data", str(path), "--tracking-uri", uri]) == 0
    return uri


def test_compare_ranks_tests_and_transfers_across_three_datasets(three_datasets, capsys):
    uri = three_datasets
    capsys.readouterr()
    assert main(["compare", "across", "--format", "json", "--tracking-uri", uri]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["datasets"] == ["films", "meals", "phones"] and len(found["configurations"]) == 3
    # The ranks and the test, recomputed from the leaderboard's numbers.
    assert main(["leaderboard", "--sweep", "across", "--format", "json", "--tracking-uri", uri]) == 0
    board = json.loads(capsys.readouterr().out)
    table = {}
    for row in board:
        table.setdefault(row["params"]["embedding_dim"], {})[row["source"]] = row["cv_mean"]
    dims = sorted(table)
    scores = [[table[d][source] for d in dims] for source in found["datasets"]]
    ranks = dict(zip(dims, statistics.average_ranks(scores)))
    for configuration in found["configurations"]:
        dim = int(configuration["params"].split("embedding_dim=")[1].split()[0])
        assert configuration["average_rank"] == pytest.approx(ranks[dim])
        assert configuration["cv"] == {s: pytest.approx(table[dim][s]) for s in found["datasets"]}
    assert [c["average_rank"] for c in found["configurations"]] == sorted(ranks.values())
    assert found["friedman"] == pytest.approx(statistics.friedman(scores))
    assert found["critical_difference"] == pytest.approx(statistics.nemenyi_cd(3, 3))
    assert "Friedman test is weak" in found["weak"]
    # The transfer matrix: its diagonal is each sweep's own refit test score again.
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("across").experiment_id
    parents = client.search_runs([experiment], f"tags.`{KIND}` = 'dataset'")
    for parent in parents:
        source = parent.data.tags["sweeplab.source"]
        assert found["transfer"][source][source] == pytest.approx(parent.data.metrics["test_accuracy"])
        assert all(0 <= v <= 1 for v in found["transfer"][source].values())
    (run,) = client.search_runs([experiment], f"tags.`{KIND}` = 'comparison'")
    assert run.info.status == "FINISHED" and run.data.metrics["datasets"] == 3
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {
        "ranks.csv", "nemenyi_p.csv", "critical_difference.png", "transfer.csv", "transfer.png"}


def test_compare_says_what_it_needs(three_datasets, tmp_path, capsys):
    assert main(["compare", "across", "--no-transfer", "--tracking-uri", three_datasets]) == 0
    out = capsys.readouterr().out
    assert "avg rank" in out and "Friedman: chi2" in out and "Nemenyi critical difference" in out
    assert "transfer" not in out
    # The pivot leaderboard: each configuration's mean rank over the datasets, and where the test is.
    assert main(["leaderboard", "--pivot", "--sweep", "across", "--format", "json", "--tracking-uri",
                 three_datasets]) == 0
    rows = json.loads(capsys.readouterr().out)
    for row in rows:
        assert row["avg_rank"] == pytest.approx(np.mean([row[f"{s}.rank"] for s in ("films", "meals", "phones")]))
    assert main(["leaderboard", "--pivot", "--sweep", "across", "--tracking-uri", three_datasets]) == 0
    assert "avg rank" in (out := capsys.readouterr().out) and "'sweeplab compare across' tests them" in out
    assert main(["compare", "nothing-here", "--tracking-uri", three_datasets]) == 2
    assert "no sweep named 'nothing-here'" in capsys.readouterr().err
    assert main(["compare", "across", "--alpha", "2", "--tracking-uri", three_datasets]) == 2
    assert "--alpha: expected a number between 0 and 1, got float 2.0" in capsys.readouterr().err


def test_compare_refuses_to_train_on_a_file_changed_since_the_sweep(three_datasets, capsys):
    """The transfer matrix retrains each winner on its dataset: one whose bytes changed is refused (retrain was)."""
    import hashlib
    from pathlib import Path

    client = MlflowClient(three_datasets)
    experiment = client.get_experiment_by_name("across").experiment_id
    (films,) = [p for p in client.search_runs([experiment], f"tags.`{KIND}` = 'dataset'")
                if p.data.tags["sweeplab.source"] == "films"]
    path = Path(json.loads(films.data.params["data.reference"])["data"])
    before = path.read_bytes()
    try:
        path.write_bytes(before + b"one more great film,1\n")
        assert main(["compare", "across", "--tracking-uri", three_datasets]) == 2
        err = capsys.readouterr().err
        assert err == (f"sweeplab: error: sweep 'across' on films: {path} has sha256 "
                       f"{hashlib.sha256(path.read_bytes()).hexdigest()}, {hashlib.sha256(before).hexdigest()} when "
                       "it was chosen on: its contents changed since\n")
    finally:
        path.write_bytes(before)


def test_compare_needs_three_datasets(smoke_store, capsys):
    assert main(["compare", "smoke", "--tracking-uri", smoke_store]) == 2
    err = capsys.readouterr().err
    assert "sweep 'smoke' has finished runs on 1 dataset(s) (yelp)" in err and "needs 3 or more" in err
