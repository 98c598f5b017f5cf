"""Sweep files: how ``sweeps/<name>.yaml`` becomes a validated :class:`~sweeplab.config.sweep.Sweep`.

A parameter under ``space:`` is a scalar (fixed), a non-empty list (a choice) or ``{low, high, log, step}`` (an int
or float range; int when the parameter's default is an int). Everything is checked on load, against the model
factory's signature, before any data is read or any run is logged; a problem is one line naming file and key."""

from __future__ import annotations

import math
from pathlib import Path

from sweeplab import data, engines, environment, names, statistics
from sweeplab.config.sweep import Param, Sweep
from sweeplab.errors import SweepLabError, brief
from sweeplab.files import describe, read_yaml
from sweeplab.modeling import registry
from sweeplab.modeling.defaults import BOUNDS, CV_DEFAULTS, EMBEDDING_DEFAULTS, FIT_DEFAULTS
from sweeplab.modeling.metrics import METRICS

TOP_LEVEL = {
    "name", "description", "model", "engine", "sources", "trials", "folds", "test_size", "seed", "fit", "space",
    "sampler", "pruner", "timeout", "metric", "embeddings", "compare", "select", "repeats",
    "nested", "fuse", "onednn",
}

FIT_KEYS = set(FIT_DEFAULTS) | set(CV_DEFAULTS)  # a fit setting is searched like a parameter, under space:
# Options of engine optuna that may also stand at the top of a sweep file, as they did before engines held
# their options (and as studies begun then still hold them); another engine leaves them unread.
TOP_LEVEL_ENGINE_OPTIONS = ("sampler", "pruner")
SELECT_RULES = ("best", "simplest")  # search.selection holds what each name picks

RANGE_KEYS = {"low", "high", "log", "step"}

# Beyond these a sweep is a typo, not a plan: 10**23 queued trials would never end.
MAX_TRIALS, MAX_FOLDS, MAX_REPEATS, MAX_FUSE = 1_000_000, 1_000, 100, 64
MAX_SEED = 2**31 - 1_000  # seed + worker index stays a 32-bit seed

DEFAULTS = {
    "engine": "random", "sources": ["yelp", "amazon", "imdb"], "trials": 10, "folds": 5, "test_size": 0.25,
    "seed": 0, "fit": {}, "timeout": None, "metric": "accuracy",
    "compare": {}, "select": "best", "repeats": 1, "nested": None, "fuse": 1,
    "onednn": False,
}


def sweeps_dir() -> Path:
    """The user's own sweep files: ``$SWEEPLAB_SWEEPS_DIR``, else ``sweeps/`` in the working directory."""
    return environment.read("SWEEPLAB_SWEEPS_DIR")


def built_in_dir() -> Path:
    """The sweep files shipped inside the package, found from any working directory."""
    return Path(__file__).resolve().parent.parent / "sweeps"


def sweep_files() -> dict[str, Path]:
    """Every sweep a name finds, name -> file: the built-in ones, then the user's (which win on a shared name)."""
    found = {}
    for directory in (built_in_dir(), sweeps_dir()):
        if directory.is_dir():
            found.update({path.stem: path for path in sorted(directory.glob("*.yaml")) if path.is_file()})
    return dict(sorted(found.items()))


def resolve_path(space: str) -> Path:
    """SPACE is a path to a YAML file, or the name of a sweep: the user's ``sweeps/`` first, then the built-in."""
    path = Path(space)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise SweepLabError(f"{path}: sweep file not found")
        return path
    known = sweep_files()
    if space not in known:
        raise SweepLabError(f"no sweep named '{space}' in {sweeps_dir()}/ or among the built-in ones "
                            f"(known: {', '.join(known) or 'none'})")
    return known[space]


def load_sweep(space: str) -> Sweep:
    path = resolve_path(space)
    raw = read_yaml(path, "sweep settings")
    raw.setdefault("name", path.stem)
    return parse_sweep(raw, str(path))


def parse_sweep(raw: dict, origin: str) -> Sweep:
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
    if "model" not in settings:
        fail("model", f"missing: name the model to train, one of {', '.join(sorted(registry.registry()))} (or a "
                      "list of them)")
    families_named = _parse_models(settings["model"], fail)
    if settings["metric"] not in METRICS:
        fail("metric", f"unknown metric {brief(settings['metric'])}, expected one of {', '.join(METRICS)}")
    engine, engine_options, engine_fail = _parse_engine(raw, settings["engine"], fail)
    sources = settings["sources"]
    if not isinstance(sources, list) or not sources:
        fail("sources", f"expected a non-empty list of source names, got {describe(sources)}")
    for source in sources:
        if source not in [*data.SOURCES, data.POOLED]:
            fail("sources", f"unknown source {brief(source)}, "
                            f"expected some of {', '.join([*data.SOURCES, data.POOLED])}")
    trials = _integer(settings["trials"], 1, MAX_TRIALS, lambda p: fail("trials", p))
    folds = _integer(settings["folds"], 2, MAX_FOLDS, lambda p: fail("folds", p))
    repeats = _integer(settings["repeats"], 1, MAX_REPEATS, lambda p: fail("repeats", p))
    fuse = _integer(settings["fuse"], 1, MAX_FUSE, lambda p: fail("fuse", p))
    seed = _integer(settings["seed"], 0, MAX_SEED, lambda p: fail("seed", p))
    test_size = settings["test_size"]
    if isinstance(test_size, bool) or not isinstance(test_size, (int, float)) or not 0 < test_size < 1:
        fail("test_size", f"expected a fraction between 0 and 1, got {brief(test_size)}")
    if not isinstance(settings.get("description", ""), str):
        fail("description", "expected a string")
    timeout = settings["timeout"]
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or
                                not math.isfinite(timeout) or timeout <= 0):
        fail("timeout", f"expected a number of seconds > 0, got {brief(timeout)}")
    if settings["select"] not in SELECT_RULES:
        fail("select", f"unknown rule {brief(settings['select'])}, expected one of {', '.join(SELECT_RULES)}")
    space, families = _parse_space(settings, families_named, fail)
    sweep = Sweep(
        name=settings["name"], path=origin, model=registry.joined(families_named), engine=engine.name,
        engine_options=engine_options, families=families,
        sources=tuple(dict.fromkeys(sources)), trials=trials, folds=folds, repeats=repeats, test_size=float(test_size),
        seed=seed, nested=_parse_nested(settings["nested"], fail), fuse=fuse,
        onednn=check_onednn(settings["onednn"], fail),
        space=space, description=settings.get("description") or "", timeout=timeout,
        metric=settings["metric"], compare=parse_compare(settings["compare"], fail), select=settings["select"],
    )
    engine.check_sweep(sweep, engine_fail)
    precision = sweep.space.get("precision")
    if precision is not None:
        where = "fit.precision" if isinstance(settings["fit"], dict) and "precision" in settings["fit"] \
            else "space.precision"
        check_precision(precision.values, sweep.onednn, lambda problem: fail(where, problem))
    return sweep


def check_onednn(value, fail) -> bool:
    """``onednn`` of a sweep file, and of the experiment files exported from its sweeps."""
    if not isinstance(value, bool):
        fail("onednn", f"expected true or false, got {brief(value)}")
    return value


def check_precision(values, onednn: bool, fail) -> None:
    """bfloat16 needs oneDNN's kernels: TensorFlow's own run it about 15x slower than float32 on a CPU."""
    if "mixed_bfloat16" in values and not onednn:
        fail("mixed_bfloat16 needs onednn: true (without oneDNN, TensorFlow's CPU kernels run bfloat16 about 15x "
             "slower than float32)")


def _parse_nested(spec, fail) -> int:
    """``nested: {outer_folds: K}``: nested CV around the whole search; absent or null: none."""
    if spec is None:
        return 0
    if not isinstance(spec, dict) or set(spec) != {"outer_folds"}:
        fail("nested", f"expected {{outer_folds: K}} (K from 2), got {describe(spec)}")
    return _integer(spec["outer_folds"], 2, MAX_FOLDS, lambda p: fail("nested.outer_folds", p))


def parse_compare(spec, fail) -> dict:
    """``compare: {test: t_test | bayesian, alpha: 0.05, rope: 0.01}``: how a trial is told apart from the best
    (:func:`sweeplab.search.selection.tie_group`); ``rope`` only for the Bayesian test."""
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        fail("compare", f"expected {{test: {' | '.join(statistics.TESTS)}, alpha: {statistics.ALPHA}}}, "
                        f"got {describe(spec)}")
    unknown = sorted(set(spec) - {"test", "alpha", "rope"}, key=str)
    if unknown:
        fail(f"compare.{unknown[0]}", "unknown key, expected test, alpha and (for the bayesian test) rope")
    test = spec.get("test", statistics.T_TEST)
    if test not in statistics.TESTS:
        fail("compare.test", f"unknown test {brief(test)}, expected one of {', '.join(statistics.TESTS)}")
    alpha = spec.get("alpha", statistics.ALPHA)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        fail("compare.alpha", f"expected a probability between 0 and 1 (such as 0.05), got {brief(alpha)}")
    settings = {"test": test, "alpha": float(alpha)}
    if test == statistics.BAYESIAN:
        rope = spec.get("rope", statistics.ROPE)
        if isinstance(rope, bool) or not isinstance(rope, (int, float)) or not 0 <= rope < 1:
            fail("compare.rope", f"expected a difference of score from 0 to 1 (such as 0.01), got {brief(rope)}")
        settings["rope"] = float(rope)
    elif "rope" in spec:
        fail("compare.rope", "a region of practical equivalence belongs to test: bayesian")
    return settings


def _parse_engine(raw: dict, spec, fail):
    """``engine: NAME`` or ``engine: {name: NAME, option: value, ...}``: the engine's class, its options as the
    engine validated them, and the ``fail`` that names an option where the file gave it."""
    given = dict(spec) if isinstance(spec, dict) else {"name": spec}
    name = given.pop("name", None)
    try:
        engine = engines.get(name) if isinstance(name, str) else None
    except SweepLabError:
        engine = None
    if engine is None:
        fail("engine", f"unknown engine {brief(name)}, expected one of {', '.join(engines.names())} "
                       "(or a mapping with name: and the engine's options)")
    # Given at the top, they are read by the engine that takes them: one file may run under --engine overrides.
    on_top = [key for key in TOP_LEVEL_ENGINE_OPTIONS if key in raw and engine.takes_top_level_options]
    for key in on_top:
        if key in given:
            fail(f"engine.{key}", f"also given as {key}: at the top: set it in one place")
        given[key] = raw[key]

    def engine_fail(key, problem):
        head = str(key).split(".", 1)[0]
        where = key if head in on_top or head == "space" else f"engine.{key}"
        fail(where, problem)

    return engine, engine.validate(given, engine_fail), engine_fail


def engine_spec(raw: dict, origin: str):
    """The engine of a sweep mapping as :meth:`Sweep.to_dict` writes it: ``NAME``, or ``{name: NAME, **options}``
    with the engine's defaults filled in, wherever the mapping gave the options."""
    def fail(key, problem):
        raise SweepLabError(f"{origin}: {key}: {problem}")

    engine, options, _ = _parse_engine(raw, raw.get("engine", DEFAULTS["engine"]), fail)
    return {"name": engine.name, **options} if options else engine.name


def normal_form(raw: dict, origin: str) -> dict:
    """A sweep mapping with its engine as :func:`engine_spec` gives it: two mappings of the same sweep, one
    written before engines held their options, compare equal."""
    rest = {key: value for key, value in raw.items() if key not in TOP_LEVEL_ENGINE_OPTIONS}
    return {**rest, "engine": engine_spec(raw, origin)}


def _parse_models(spec, fail) -> list[str]:
    """``model: cnn``, or ``model: [cnn, rnn, ...]`` to search across families."""
    chosen = spec if isinstance(spec, list) else [spec]
    if not chosen or not all(isinstance(name, str) and name for name in chosen):
        fail("model", f"expected a model name or a list of them, got {describe(spec)}")
    for name in chosen:
        if name not in registry.registry():
            fail("model", f"unknown model '{name}', expected one of {', '.join(sorted(registry.registry()))}")
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
    families_raw = {name: space_raw[name] for name in space_raw if name in registry.registry()}
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
    from sweeplab.modeling.pipeline import choices, tunable

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
    return {"embeddings": spec["path"], "embeddings_trainable": spec.get("trainable",
                                                                         EMBEDDING_DEFAULTS["embeddings_trainable"])}


def _check_embeddings_file(space: dict, fail) -> None:
    """The vectors' file exists and reads as GloVe, and no embedding_dim contradicts its width."""
    from sweeplab.data import embeddings

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
    if not percentiles:
        fail(f"{where}.maxlen", "empty list, expected a percentile in (0, 100] or a list of them")
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
    from sweeplab.modeling.pipeline import choices as pipeline_choices
    from sweeplab.modeling.pipeline import tunable

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
    from sweeplab.modeling.pipeline import tunable

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
    """``value`` inside the parameter's bounds (see :data:`sweeplab.modeling.defaults.BOUNDS`)."""

    low, high = BOUNDS.get(name, (None, None))
    if low is not None and not low <= value <= high:
        fail(f"{brief(value)} is out of range: expected {low:,} to {high:,}")
    return value

