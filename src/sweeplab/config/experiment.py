"""Experiment files: one configuration, ready to retrain, as plain YAML (``experiments/<sweep>-<source>.yaml``).

:func:`read` reads such a file back, hand-edited or not, and checks it as strictly as a sweep file: a problem is one
line naming the file and key. :mod:`sweeplab.results.export` writes them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sweeplab import config, data, files, names
from sweeplab.errors import SweepLabError, brief
from sweeplab.files import describe
from sweeplab.modeling import registry

REQUIRED = ("model", "params", "fit", "data", "split")

OPTIONAL = ("name", "sweep", "description", "early_stopping", "onednn", "origin", "versions")

EARLY_STOPPING = {"patience": 3, "validation_split": 0.1}

SHA256 = re.compile(r"[0-9a-f]{64}")

HEADER = """\
# A sweeplab experiment: one configuration and the data it was chosen on.
# Retrain it with `sweeplab retrain {path}` (add --all-data to train on train+test).
# early_stopping: null trains for fit.epochs; {{patience: 3, validation_split: 0.1}} stops when the loss on a
# stratified slice of the training split stops improving, and keeps the best weights.
"""


@dataclass(frozen=True)
class Experiment:
    name: str
    path: str
    model: str
    params: dict
    fit: dict
    data: dict  # source or file (+ text_col, label_col), sha256, rows, class_counts
    test_size: float
    seed: int
    sweep: str = ""
    early_stopping: dict | None = None
    onednn: bool = False  # the sweep's setting, which its retrain runs with too (sweeplab.runtime.configure)
    origin: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)

    def configuration(self) -> dict:
        """Every parameter by its sweep name, as :func:`sweeplab.modeling.pipeline.build` takes them."""
        return {**self.params, **self.fit}

    def reference(self) -> dict:
        """How to load the dataset (see :func:`sweeplab.data.load_reference`)."""
        if "source" in self.data:
            return {"source": self.data["source"]}
        return {"data": self.data["file"], "text_col": self.data["text_col"], "label_col": self.data["label_col"]}

    def load_dataset(self) -> data.Dataset:
        """The dataset, refused unless it is byte for byte the one the experiment was chosen on."""
        return data.load_reference(self.reference(), self.data["sha256"], f"{self.path}: data.sha256")


def default_path(mapping: dict) -> Path:
    wrong = names.problem(mapping["name"], names.MAX_EXPERIMENT_NAME_LENGTH)
    if wrong:  # a name from a store written before names were checked
        raise SweepLabError(f"experiment name: {wrong}; give the file's path with --out")
    return Path("experiments") / f"{mapping['name']}.yaml"


def check_destination(path: str | Path) -> Path:
    return files.check_destination(path, "experiment file", (".yaml", ".yml"))


def write(mapping: dict, path: str | Path) -> Path:
    path = check_destination(path)
    body = yaml.safe_dump(mapping, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)
    return files.write_atomically(path, (HEADER.format(path=path) + body).encode("utf-8"), "experiment file")


def load_experiment(path: str | Path) -> Experiment:
    path = Path(path)
    raw = files.read_yaml(path, "experiment settings")

    def fail(key, problem):
        raise SweepLabError(f"{path}: {key}: {problem}")

    unknown = sorted(set(raw) - {*REQUIRED, *OPTIONAL}, key=str)
    if unknown:
        fail(unknown[0], f"unknown key, expected some of {', '.join(REQUIRED + OPTIONAL)}")
    for key in REQUIRED:
        if key not in raw:
            fail(key, "missing")
    model = raw["model"]
    if not isinstance(model, str) or model not in registry.registry():
        fail("model", f"unknown model {brief(model)}, expected one of {', '.join(sorted(registry.registry()))}")
    params, fit = _mapping(raw, "params", fail), _mapping(raw, "fit", fail)
    from sweeplab.modeling.defaults import FIT_DEFAULTS

    for name in params:
        if name in FIT_DEFAULTS:
            fail(f"params.{name}", "a fit setting: put it under fit")
    for name in fit:
        if name not in FIT_DEFAULTS:
            fail(f"fit.{name}", f"unknown fit setting, expected {', '.join(FIT_DEFAULTS)}")
    params = config.check_configuration(model, params, lambda name, problem: fail(f"params.{name}", problem))
    fit = {**FIT_DEFAULTS, **config.check_configuration(model, fit, lambda name, problem: fail(f"fit.{name}", problem))}
    onednn = config.parse.check_onednn(raw.get("onednn", False), fail)
    config.parse.check_precision([fit["precision"]], onednn, lambda problem: fail("fit.precision", problem))
    split = _mapping(raw, "split", fail)
    test_size, seed = split.get("test_size"), split.get("seed")
    if isinstance(test_size, bool) or not isinstance(test_size, (int, float)) or not 0 < test_size < 1:
        fail("split.test_size", f"expected a fraction between 0 and 1, got {brief(test_size)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        fail("split.seed", f"expected an integer >= 0, got {brief(seed)}")
    return Experiment(
        name=_name(raw.get("name", path.stem), fail), path=str(path), model=model,
        params=params, fit=fit, data=_data(raw, fail), test_size=float(test_size), seed=seed,
        sweep=_sweep(raw.get("sweep", ""), fail),
        early_stopping=_early_stopping(raw.get("early_stopping"), fail),
        onednn=onednn, origin=_mapping(raw, "origin", fail, required=False), versions=_mapping(raw, "versions", fail, required=False),
    )


def _mapping(raw: dict, key: str, fail, required: bool = True) -> dict:
    value = raw.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        fail(key, f"expected a mapping, got {describe(value)}")
    return value


def _name(value, fail) -> str:
    """The experiment's name names its model file and its registered model."""
    wrong = names.problem(value, names.MAX_EXPERIMENT_NAME_LENGTH)
    if wrong:
        fail("name", wrong)
    return value


def _sweep(value, fail) -> str:
    """The sweep it came from names the MLflow experiment its retrain runs in, and that experiment's artifacts
    directory: the one name rule, like every name read from a file. Empty for a hand-written experiment."""
    if value == "":
        return value
    wrong = names.problem(value)
    if wrong:
        fail("sweep", wrong)
    return value


def _string(value, key: str, fail, empty: bool = False) -> str:
    if not isinstance(value, str) or (not value and not empty):
        fail(key, f"expected a non-empty string, got {describe(value)}")
    return value


def _data(raw: dict, fail) -> dict:
    section = _mapping(raw, "data", fail)
    where = [key for key in ("source", "file") if key in section]
    if len(where) != 1:
        fail("data", "expected exactly one of source (a UCI source name) or file (a CSV, TSV or JSONL path)")
    known = {"source", "file", "text_col", "label_col", "sha256", "rows", "class_counts"}
    unknown = sorted(set(section) - known, key=str)
    if unknown:
        fail(f"data.{unknown[0]}", f"unknown key, expected some of {', '.join(sorted(known))}")
    if "source" in section and section["source"] not in [*data.SOURCES, data.POOLED]:
        fail("data.source", f"unknown source {brief(section['source'])}, expected one of "
                            f"{', '.join([*data.SOURCES, data.POOLED])}")
    sha = section.get("sha256")
    if not isinstance(sha, str) or not SHA256.fullmatch(sha):
        fail("data.sha256", f"expected 64 lowercase hex digits, got {describe(sha)}")
    checked = dict(section)
    if "file" in section:
        _string(section["file"], "data.file", fail)
        for column in ("text_col", "label_col"):
            checked[column] = _string(section.get(column, column[:-4]), f"data.{column}", fail)
    return checked


def _early_stopping(value, fail) -> dict | None:
    if value is None or value is False:
        return None
    if value is True:
        value = {}
    if not isinstance(value, dict):
        fail("early_stopping", f"expected null or a mapping with patience and validation_split, got "
                               f"{describe(value)}")
    unknown = sorted(set(value) - set(EARLY_STOPPING), key=str)
    if unknown:
        fail(f"early_stopping.{unknown[0]}", f"unknown key, expected {', '.join(EARLY_STOPPING)}")
    settings = {**EARLY_STOPPING, **value}
    patience, fraction = settings["patience"], settings["validation_split"]
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
        fail("early_stopping.patience", f"expected an integer >= 1, got {brief(patience)}")
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 0.5:
        fail("early_stopping.validation_split", f"expected a fraction between 0 and 0.5, got {brief(fraction)}")
    return settings

