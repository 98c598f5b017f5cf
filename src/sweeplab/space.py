"""Sweep files: how ``sweeps/<name>.yaml`` becomes a validated :class:`Sweep` and its parameters distributions.

A parameter under ``space:`` is a scalar (fixed), a non-empty list (a choice) or ``{low, high, log, step}`` (an int
or float range; int when the parameter's default is an int). Everything is checked on load, against the model
factory's signature, before any data is read or any run is logged; a problem is one line naming file and key.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from sweeplab import data, engines, models, names
from sweeplab.engines import ENGINES, optuna_settings
from sweeplab.errors import SweepLabError, brief
from sweeplab.files import describe, read_yaml
from sweeplab.metrics import METRICS

TOP_LEVEL = {
    "name", "description", "model", "engine", "sources", "trials", "folds", "test_size", "seed", "fit", "space",
    "sampler", "pruner", "timeout", "metric", "embeddings",
}
FIT_KEYS = {"epochs", "batch_size"}
RANGE_KEYS = {"low", "high", "log", "step"}
# Beyond these a sweep is a typo, not a plan: 10**23 queued trials would never end.
MAX_TRIALS, MAX_FOLDS, MAX_SEED = 1_000_000, 1_000, 2**31 - 1_000  # seed + worker index stays a 32-bit seed
DEFAULTS = {
    "engine": "random", "sources": ["yelp", "amazon", "imdb"], "trials": 10, "folds": 5, "test_size": 0.25,
    "seed": 0, "fit": {}, "sampler": "tpe", "pruner": "median", "timeout": None, "metric": "accuracy",
}


@dataclass(frozen=True)
class Param:
    """One searchable parameter: a choice among ``values``, or a ``low``..``high`` range."""

    name: str
    values: tuple = ()
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    integer: bool = False

    @property
    def is_fixed(self) -> bool:
        return len(self.values) == 1

    def grid_values(self) -> list | None:
        """Every value, when there are finitely many; None for a continuous range."""
        if self.values:
            return list(self.values)
        if self.integer:
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.step:
            count = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
            return [round(self.low + i * self.step, 12) for i in range(count)]
        return None

    def distribution(self):
        """What RandomizedSearchCV samples from: a list, or a scipy-style distribution with ``rvs``."""
        from scipy import stats

        if self.values or (self.step and not self.log):
            return self.grid_values()
        if self.integer:
            return _LogInt(self.low, self.high) if self.log else stats.randint(int(self.low), int(self.high) + 1)
        if self.log:
            return stats.loguniform(self.low, self.high)
        return stats.uniform(self.low, self.high - self.low)

    def suggest(self, trial, key: str | None = None):
        """Ask an Optuna trial for this parameter's value, under ``key`` (default: its name) in the study."""
        key = key or self.name
        if self.values:
            return trial.suggest_categorical(key, list(self.values))
        if self.integer:
            return trial.suggest_int(key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(key, self.low, self.high, step=self.step, log=self.log)

    def largest(self):
        return max(self.values) if self.values else self.high

    def to_yaml(self):
        if self.values:
            return self.values[0] if self.is_fixed else list(self.values)
        spec = {"low": self.low, "high": self.high}
        if self.step:
            spec["step"] = self.step
        if self.log:
            spec["log"] = True
        return spec


class _LogInt:
    """Integers drawn log-uniformly from [low, high] (scipy has no such discrete distribution)."""

    def __init__(self, low, high):
        self.low, self.high = int(low), int(high)

    def rvs(self, random_state=None):
        from scipy import stats

        value = stats.loguniform(self.low, self.high + 1).rvs(random_state=random_state)
        return min(int(value), self.high)


@dataclass(frozen=True)
class Sweep:
    name: str
    path: str
    model: str
    engine: str
    sources: tuple
    trials: int
    folds: int
    test_size: float
    seed: int
    space: dict = field(default_factory=dict)
    description: str = ""
    sampler: dict = field(default_factory=lambda: {"name": "tpe"})
    pruner: dict = field(default_factory=lambda: {"name": "median"})
    timeout: float | None = None
    metric: str = "accuracy"  # what trials are ranked and pruned by, and the refit is tested with
    # A sweep across model families: family name -> its own parameters (``space`` holds the shared ones), and
    # ``model`` reads "cnn|rnn|...". A trial's configuration then names its family under "model".
    families: dict = field(default_factory=dict)

    @property
    def models(self) -> tuple:
        return tuple(self.families) or (self.model,)

    def model_of(self, configuration: dict) -> str:
        """The model factory a configuration of this sweep is for."""
        return configuration["model"] if self.families else self.model

    def fixed(self, model: str | None = None) -> dict:
        """The fixed parameters every trial shares, plus those of ``model``'s family."""
        params = {**self.space, **self.families.get(model, {})}
        return {name: p.values[0] for name, p in params.items() if p.is_fixed}

    def searched(self, model: str | None = None) -> dict:
        """The searched parameters every trial shares, plus those of ``model``'s family."""
        params = {**self.space, **self.families.get(model, {})}
        return {name: p for name, p in params.items() if not p.is_fixed}

    def configuration(self, chosen: dict) -> dict:
        """A whole configuration: the fixed values plus those an engine chose (the family under "model")."""
        return {**self.fixed(chosen.get("model")), **chosen}

    def suggest(self, trial) -> dict:
        """An Optuna trial's choices: the family first, then the parameters that exist for it.

        A family's own parameters are named ``<family>.<name>`` in the study, so that two families may give the
        same parameter different ranges; :meth:`chosen_from` reads them back.
        """
        chosen = {}
        if self.families:
            chosen["model"] = trial.suggest_categorical("model", list(self.families))
        family = self.families.get(chosen.get("model"), {})
        for name, param in self.searched(chosen.get("model")).items():
            chosen[name] = param.suggest(trial, f"{chosen['model']}.{name}" if name in family else name)
        return chosen

    @staticmethod
    def chosen_from(study_params: dict) -> dict:
        """The sweep's names for what :meth:`suggest` chose."""
        return {key.split(".", 1)[-1]: value for key, value in study_params.items()}

    def max_epochs(self) -> int:
        from sweeplab.pipeline import FIT_DEFAULTS

        epochs = self.space.get("epochs")
        return int(epochs.largest()) if epochs else FIT_DEFAULTS["epochs"]

    def override(self, **changes) -> "Sweep":
        """Apply command-line overrides (None = keep), validated like the file itself."""
        raw = self.to_dict()
        for key, value in changes.items():
            if value is None:
                continue
            if key in FIT_KEYS:
                raw["space"][key] = value
            else:
                raw[key] = list(value) if key == "sources" else value
        return parse(raw, f"{self.path} (with command-line overrides)")

    def to_dict(self) -> dict:
        """The resolved sweep, as YAML-ready data: what ran, defaults filled in."""
        return {
            "name": self.name, "description": self.description, "engine": self.engine,
            "sources": list(self.sources), "trials": self.trials, "folds": self.folds,
            "test_size": self.test_size, "seed": self.seed, "metric": self.metric, "sampler": _compact(self.sampler),
            "pruner": _compact(self.pruner), "timeout": self.timeout,
            "model": list(self.families) if self.families else self.model,
            "space": {**{name: p.to_yaml() for name, p in self.space.items()},
                      **{family: {name: p.to_yaml() for name, p in params.items()}
                         for family, params in self.families.items()}},
        }


# --- loading ------------------------------------------------------------------------------------------------------


def sweeps_dir() -> Path:
    return Path(os.environ.get("SWEEPLAB_SWEEPS_DIR", "sweeps"))


def resolve_path(space: str) -> Path:
    """SPACE is a path to a YAML file, or the name of one in sweeps/."""
    path = Path(space)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise SweepLabError(f"{path}: sweep file not found")
        return path
    named = sweeps_dir() / f"{space}.yaml"
    if not named.is_file():
        known = ", ".join(sorted(p.stem for p in sweeps_dir().glob("*.yaml"))) or "none"
        raise SweepLabError(f"no sweep named '{space}' in {sweeps_dir()}/ (known: {known})")
    return named


def load(space: str) -> Sweep:
    path = resolve_path(space)
    raw = read_yaml(path, "sweep settings")
    raw.setdefault("name", path.stem)
    return parse(raw, str(path))


def parse(raw: dict, origin: str) -> Sweep:
    """Validate a sweep mapping; ``origin`` names the file in error messages."""
    def fail(key, problem):
        raise SweepLabError(f"{origin}: {key}: {problem}")

    unknown = sorted(set(raw) - TOP_LEVEL, key=str)
    if unknown:
        fail(unknown[0], f"unknown key, expected one of {', '.join(sorted(TOP_LEVEL))}")
    settings = {**DEFAULTS, **raw}
    wrong = names.problem(settings.get("name"))
    if wrong:
        fail("name", wrong)
    families_named = _parse_models(settings["model"], fail)
    if settings["metric"] not in METRICS:
        fail("metric", f"unknown metric {brief(settings['metric'])}, expected one of {', '.join(METRICS)}")
    if settings["engine"] not in ENGINES:
        fail("engine", f"unknown engine {brief(settings['engine'])}, expected one of {', '.join(ENGINES)}")
    sources = settings["sources"]
    if not isinstance(sources, list) or not sources:
        fail("sources", f"expected a non-empty list of source names, got {describe(sources)}")
    for source in sources:
        if source not in [*data.SOURCES, data.POOLED]:
            fail("sources", f"unknown source {brief(source)}, "
                            f"expected some of {', '.join([*data.SOURCES, data.POOLED])}")
    trials = _integer(settings["trials"], 1, MAX_TRIALS, lambda p: fail("trials", p))
    folds = _integer(settings["folds"], 2, MAX_FOLDS, lambda p: fail("folds", p))
    seed = _integer(settings["seed"], 0, MAX_SEED, lambda p: fail("seed", p))
    test_size = settings["test_size"]
    if isinstance(test_size, bool) or not isinstance(test_size, (int, float)) or not 0 < test_size < 1:
        fail("test_size", f"expected a fraction between 0 and 1, got {brief(test_size)}")
    if not isinstance(settings.get("description", ""), str):
        fail("description", "expected a string")
    timeout = settings["timeout"]
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        fail("timeout", f"expected a number of seconds > 0, got {brief(timeout)}")
    space, families = _parse_space(settings, families_named, fail)
    sweep = Sweep(
        name=settings["name"], path=origin, model="|".join(families_named), engine=settings["engine"], families=families,
        sources=tuple(dict.fromkeys(sources)), trials=trials, folds=folds, test_size=float(test_size), seed=seed,
        space=space, description=settings.get("description") or "",
        sampler=optuna_settings.parse_choice("sampler", settings["sampler"], fail),
        pruner=optuna_settings.parse_choice("pruner", settings["pruner"], fail), timeout=timeout,
        metric=settings["metric"],
    )
    engines.engine_class(sweep.engine).validate(sweep, fail)  # what only this engine cannot search
    return sweep


def _compact(choice: dict):
    return choice["name"] if len(choice) == 1 else dict(choice)


def _parse_models(spec, fail) -> list[str]:
    """``model: cnn``, or ``model: [cnn, rnn, ...]`` to search across families."""
    chosen = spec if isinstance(spec, list) else [spec]
    if not chosen or not all(isinstance(name, str) and name for name in chosen):
        fail("model", f"expected a model name or a list of them, got {describe(spec)}")
    for name in chosen:
        if name not in models.registry():
            fail("model", f"unknown model '{name}', expected one of {', '.join(sorted(models.registry()))}")
    if len(set(chosen)) != len(chosen):
        fail("model", f"a family is listed twice in {chosen}")
    return chosen


def _parse_space(settings: dict, names: list[str], fail) -> tuple[dict, dict]:
    """The shared parameters, and with several model families each one's own: ``space.<family>: {...}``."""
    space_raw, fit_raw = settings.get("space"), settings["fit"]
    if not isinstance(space_raw, dict) or not space_raw:
        fail("space", f"expected a mapping of parameters to values, got {describe(space_raw)}")
    if not isinstance(fit_raw, dict):
        fail("fit", f"expected a mapping with {', '.join(sorted(FIT_KEYS))}, got {describe(fit_raw)}")
    for key in fit_raw:
        if key not in FIT_KEYS:
            fail(f"fit.{key}", f"unknown key, expected one of {', '.join(sorted(FIT_KEYS))}")
        if key in space_raw:
            fail(f"fit.{key}", "also given under space: set it in one place")
    families_raw = {name: space_raw[name] for name in space_raw if name in models.registry()}
    shared_raw = {name: spec for name, spec in space_raw.items() if name not in families_raw}
    shared_raw = {**_percentile_maxlen(shared_raw, "space", fail),
                  **_pretrained_embeddings(settings.get("embeddings"), fail)}
    shared = {}
    for name, spec in {**shared_raw, **fit_raw}.items():
        key = f"fit.{name}" if name in fit_raw else f"space.{name}"
        for model in names:
            _check_known(name, model, names, lambda problem, key=key: fail(key, problem), shared=len(names) > 1)
        shared[name] = _parameter(name, spec, names[0], lambda problem, key=key: fail(key, problem))
    _check_embeddings_file(shared, fail)
    if len(names) == 1:
        if families_raw:
            fail(f"space.{next(iter(families_raw))}", f"a family's own parameters need model: [a list of families]; "
                                                     f"this sweep's model is {names[0]}")
        return shared, {}
    families = {}
    for model in names:
        own_raw = families_raw.get(model) or {}
        if not isinstance(own_raw, dict):
            fail(f"space.{model}", f"expected a mapping of {model}'s own parameters, got {describe(own_raw)}")
        own_raw = _percentile_maxlen(own_raw, f"space.{model}", fail)
        own = {}
        for name, spec in own_raw.items():
            key = f"space.{model}.{name}"
            if name in shared or name in FIT_KEYS:
                fail(key, "shared by every family already (under space or fit): set it in one place")
            _check_known(name, model, names, lambda problem, key=key: fail(key, problem))
            own[name] = _parameter(name, spec, model, lambda problem, key=key: fail(key, problem))
        families[model] = own
    for name in families_raw:
        if name not in names:
            fail(f"space.{name}", f"{name} is not one of this sweep's models ({', '.join(names)})")
    return shared, families


def _parameter(name: str, spec, model: str, fail) -> Param:
    from sweeplab.pipeline import choices, tunable

    return _parse_param(name, spec, tunable(model)[name], fail, choices(model).get(name))


def _pretrained_embeddings(spec, fail) -> dict:
    """``embeddings: {path: FILE, trainable: true | false | [true, false]}`` stands for the ``embeddings`` and
    ``embeddings_trainable`` parameters."""
    if spec is None:
        return {}
    if isinstance(spec, str):
        spec = {"path": spec}
    if not isinstance(spec, dict):
        fail("embeddings", f"expected {{path: FILE, trainable: true|false|[true, false]}}, got {describe(spec)}")
    unknown = sorted(set(spec) - {"path", "trainable"}, key=str)
    if unknown:
        fail(f"embeddings.{unknown[0]}", "unknown key, expected path and trainable")
    if not isinstance(spec.get("path"), str) or not spec["path"]:
        fail("embeddings.path", f"expected the path of a GloVe-format text file, got {describe(spec.get('path'))}")
    return {"embeddings": spec["path"], "embeddings_trainable": spec.get("trainable", True)}


def _check_embeddings_file(space: dict, fail) -> None:
    """The vectors' file exists and reads as GloVe, and no embedding_dim contradicts its width."""
    from sweeplab import embeddings

    path = space.get("embeddings")
    if path is None or not path.values[0]:
        return
    if not path.is_fixed:
        fail("embeddings.path", "one file per sweep: search trainable, not the path")
    try:
        width = embeddings.width(path.values[0])
    except SweepLabError as exc:
        fail("embeddings.path", str(exc))
    if "embedding_dim" in space:
        fail("space.embedding_dim", f"the embedding width is the vectors' ({width} in {path.values[0]}): "
                                    "leave embedding_dim out")


def _percentile_maxlen(space_raw: dict, where: str, fail) -> dict:
    """``maxlen: {percentile: 95}`` (or ``[90, 95, 99]``) stands for ``maxlen_percentile``: the sequence length is
    that percentile of the token counts of each fold's training texts."""
    spec = space_raw.get("maxlen")
    if not (isinstance(spec, dict) and "percentile" in spec):
        return space_raw
    if set(spec) != {"percentile"}:
        fail(f"{where}.maxlen", "a data-derived length takes only 'percentile: N' or 'percentile: [N, ...]'")
    if "maxlen_percentile" in space_raw:
        fail(f"{where}.maxlen", "maxlen_percentile is also given: set the percentile in one place")
    percentiles = spec["percentile"] if isinstance(spec["percentile"], list) else [spec["percentile"]]
    for value in percentiles:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 100:
            fail(f"{where}.maxlen", f"a percentile must be a number in (0, 100], got {brief(value)}")
    rewritten = {k: v for k, v in space_raw.items() if k != "maxlen"}
    rewritten["maxlen_percentile"] = [float(p) for p in percentiles] if len(percentiles) > 1 else float(percentiles[0])
    return rewritten


def check_configuration(model: str, values: dict, fail) -> dict:
    """One value per parameter (an exported experiment's), typed like a sweep's fixed values.

    ``fail(name, problem)`` reports the first problem.
    """
    from sweeplab.pipeline import choices as pipeline_choices
    from sweeplab.pipeline import tunable

    accepted, allowed = tunable(model), pipeline_choices(model)
    checked = {}
    for name, value in values.items():
        _check_known(name, model, [model], lambda problem, name=name: fail(name, problem))
        if isinstance(value, (list, dict)):
            fail(name, f"expected a single value, got {describe(value)}")
        report = lambda problem, name=name: fail(name, problem)  # noqa: E731
        checked[name] = _within(name, _typed(value, accepted[name], report, allowed.get(name)), report)
    return checked


def _check_known(name: str, model: str, family: list[str], fail, shared: bool = False) -> None:
    """``model`` takes a parameter ``name``; if not, say which of the sweep's ``family`` of models would."""
    from sweeplab.pipeline import tunable

    accepted = tunable(model)
    if name in accepted:
        return
    takers = [other for other in family if other != model and name in tunable(other)]
    if shared:
        fail(f"shared by every family, but {model} takes no such parameter: put it under "
             + (" and ".join(f"space.{t}" for t in takers) if takers else "the families that take it"))
    if takers:
        fail(f"{model} takes no such parameter ({' and '.join(takers)} does: put it under space.{takers[0]})")
    fail(f"model '{model}' takes no such parameter (it takes {', '.join(sorted(accepted))})")


def _parse_param(name: str, spec, default, fail, allowed: tuple | None = None) -> Param:
    if isinstance(spec, dict):
        return _parse_range(name, spec, default, fail)
    values = spec if isinstance(spec, list) else [spec]
    if not values:
        fail("empty list, expected at least one value")
    checked = [_within(name, _typed(value, default, fail, allowed), fail) for value in values]
    if len(set(map(repr, checked))) != len(checked):
        fail(f"repeated value in {values}")
    return Param(name, values=tuple(checked))


def _parse_range(name: str, spec: dict, default, fail) -> Param:
    unknown = sorted(set(spec) - RANGE_KEYS, key=str)
    if unknown:
        fail(f"unknown key '{unknown[0]}' in range, expected low, high and optionally log, step")
    if "low" not in spec or "high" not in spec:
        fail("a range needs both low and high")
    integer = isinstance(default, int) and not isinstance(default, bool)
    if not integer and not isinstance(default, float):
        fail(f"a range needs a numeric parameter, this one is {type(default).__name__}")
    low, high = (_within(name, _typed(spec[k], default, fail), fail) for k in ("low", "high"))
    step = _typed(spec["step"], default, fail) if spec.get("step") is not None else None
    log = spec.get("log", False)
    if not isinstance(log, bool):
        fail(f"log must be true or false, got {brief(log)}")
    if low > high:
        fail(f"low {low} is greater than high {high}")
    if step is not None and step <= 0:
        fail(f"step must be positive, got {step}")
    if log and (low <= 0 or step is not None):
        fail("a log range needs low > 0 and no step")
    return Param(name, low=low, high=high, step=step, log=log, integer=integer)


def _typed(value, default, fail, allowed: tuple | None = None):
    """``value`` checked against the type of the parameter's default (and YAML 1.1's '1e-3'-is-a-string quirk),
    and against the ``allowed`` values when the parameter has a fixed set."""
    if allowed is not None:
        if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
            fail(f"expected one of {', '.join(map(str, allowed))}, got {brief(value)}")
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif value is None or isinstance(value, (int, float, str, bool)):
        return value
    fail(f"expected {type(default).__name__} values, got {brief(value)}")


def _integer(value, minimum: int, maximum: int, fail) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        fail(f"expected an integer from {minimum} to {maximum:,}, got {brief(value)}")
    return value


def _within(name: str, value, fail):
    """``value`` inside the parameter's bounds (see :data:`sweeplab.pipeline.BOUNDS`)."""
    from sweeplab.pipeline import BOUNDS

    low, high = BOUNDS.get(name, (None, None))
    if low is not None and not low <= value <= high:
        fail(f"{brief(value)} is out of range: expected {low:,} to {high:,}")
    return value
