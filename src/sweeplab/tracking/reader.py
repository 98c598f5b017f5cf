"""Reading runs back fast: sweep experiments and their runs straight from a local SQLite store's tables."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from types import SimpleNamespace

from sweeplab.modeling.metrics import METRICS
from sweeplab.tags import KIND

_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")  # a float with an exponent and no point


class _Run:
    """The parts of an MLflow ``Run`` that reading back needs: ``info.run_id``, ``info.status``,
    ``info.start_time`` and ``data.tags``, ``data.metrics`` (latest values), ``data.params``."""

    def __init__(self, run_id: str, status: str, start_time: int):
        self.info = SimpleNamespace(run_id=run_id, status=status, start_time=start_time)
        self.data = SimpleNamespace(tags={}, metrics={}, params={})


class SqliteRuns:
    """Reads sweep experiments and their runs straight from a local SQLite store, read-only.

    Importing MLflow and opening its SQL store (which checks the schema's migrations) takes about 3 s, against a
    few tenths for the queries themselves: too slow for a leaderboard typed at a prompt. The tables read
    (experiments, experiment_tags, runs, tags, latest_metrics, params) are the ones MLflow's own search reads;
    a store whose schema does not match raises ``sqlite3.Error`` and the caller falls back to MLflow's client.
    """

    # The MLflow schema revisions (alembic heads) these queries were written against: MLflow 3.17's. Another
    # revision may rename a column or change what one means, so the fast path steps aside for MLflow's client
    # rather than trusting it; add a revision here once the queries are checked against it.
    SCHEMA_REVISIONS = frozenset({"dc11669786a5"})

    def __init__(self, database: Path):
        self.database = database

    def _connect(self):
        import sqlite3

        db = sqlite3.connect(f"{self.database.resolve().as_uri()}?mode=ro", uri=True)
        try:
            found = db.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error:
            db.close()
            raise
        if found is None or found[0] not in self.SCHEMA_REVISIONS:
            db.close()
            raise sqlite3.DatabaseError(f"MLflow schema revision {found and found[0]}, not one of "
                                        f"{sorted(self.SCHEMA_REVISIONS)} this reader was written for")
        return db

    def sweep_experiments(self) -> list[tuple[str, str]]:
        """(experiment id, name) of every active sweep experiment."""
        with contextlib.closing(self._connect()) as db:
            rows = db.execute(
                "SELECT e.experiment_id, e.name FROM experiments e JOIN experiment_tags t "
                "ON t.experiment_id = e.experiment_id WHERE e.lifecycle_stage = 'active' AND t.key = ? AND "
                "t.value = 'sweep' ORDER BY e.experiment_id", (KIND,)).fetchall()
        return [(str(experiment_id), name) for experiment_id, name in rows]

    def runs(self, experiment_ids: list[str], kind: str) -> list[_Run]:
        """Every active run of ``kind`` (the sweeplab.kind tag) in these experiments."""
        marks = ",".join("?" * len(experiment_ids))
        return self._read(f"SELECT r.run_uuid FROM runs r JOIN tags k ON k.run_uuid = r.run_uuid AND k.key = ? "
                          f"WHERE k.value = ? AND r.lifecycle_stage = 'active' AND r.experiment_id IN ({marks})",
                          (KIND, kind, *experiment_ids))

    def _read(self, selected: str, args: tuple) -> list[_Run]:
        """The runs whose ids the query ``selected`` gives, with their tags, params and latest metrics."""
        with contextlib.closing(self._connect()) as db:
            runs = {run_id: _Run(run_id, status, start_time) for run_id, status, start_time in db.execute(
                f"SELECT run_uuid, status, start_time FROM runs WHERE run_uuid IN ({selected})", args)}
            for table, field, value in (("tags", "tags", "value"), ("params", "params", "value"),
                                        ("latest_metrics", "metrics", "CASE WHEN is_nan THEN 'nan' ELSE value END")):
                for run_id, key, found in db.execute(
                        f"SELECT run_uuid, key, {value} FROM {table} WHERE run_uuid IN ({selected})", args):
                    getattr(runs[run_id].data, field)[key] = float(found) if field == "metrics" else found
        return list(runs.values())

    def histories(self, run_ids: list[str], prefix: str) -> dict:
        """run id -> metric key -> [(step, value), ...] in step order, for the keys starting with ``prefix``: the
        curves MLflow keeps beside each metric's latest value."""
        found = {}
        with contextlib.closing(self._connect()) as db:
            for start in range(0, len(run_ids), 500):  # SQLite takes so many parameters at a time
                chunk = run_ids[start:start + 500]
                rows = db.execute(
                    f"SELECT run_uuid, key, step, CASE WHEN is_nan THEN 'nan' ELSE value END FROM metrics WHERE "
                    f"run_uuid IN ({','.join('?' * len(chunk))}) AND substr(key, 1, ?) = ? ORDER BY step, timestamp",
                    (*chunk, len(prefix), prefix))
                for run_id, key, step, value in rows:
                    found.setdefault(run_id, {}).setdefault(key, []).append((int(step), float(value)))
        return found

    def tagged(self, key: str, value: str) -> list[_Run]:
        """Every active run, in any experiment, that has tag ``key`` = ``value``."""
        return self._read("SELECT r.run_uuid FROM runs r JOIN tags k ON k.run_uuid = r.run_uuid AND k.key = ? "
                          "WHERE k.value = ? AND r.lifecycle_stage = 'active'", (key, value))


def fold_measures(metrics: dict) -> tuple:
    """Per fold, what a trial run logged as ``fold_<k>_<name>`` (not the per-epoch ``fold_<k>_val_<metric>``);
    empty unless every fold has every metric."""
    import re

    folds = {}
    for name, value in metrics.items():
        matched = re.fullmatch(r"fold_(\d+)_(.+)", name)
        if matched and not matched[2].startswith("val_"):
            folds.setdefault(int(matched[1]), {})[matched[2]] = value
    measures = tuple(folds[k] for k in sorted(folds))
    complete = sorted(folds) == list(range(1, len(folds) + 1)) and all(set(METRICS) <= set(m) for m in measures)
    return measures if complete else ()


def param_values(params: dict) -> dict:
    """A run's params, which MLflow keeps as strings, as the values the sweep file had (numbers, booleans, lists):
    YAML, through libyaml where PyYAML has it (5x faster than the pure-Python loader; a leaderboard parses every
    param of every trial), with the same results since both resolve values in Python."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    values = {name: yaml.load(text, Loader=loader) for name, text in params.items()}  # noqa: S506 (a safe loader)
    # YAML 1.1 reads a float written without a point ("1e-07", as Python writes 0.0000001) as a string.
    return {name: float(value) if isinstance(value, str) and _FLOAT.fullmatch(value) else value
            for name, value in values.items()}

