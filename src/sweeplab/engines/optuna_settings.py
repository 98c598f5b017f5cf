"""The Optuna engine's options, in one table that its validation and its building both read: each sampler and
pruner a sweep file may name, the Optuna class it stands for, and the defaults sweeplab gives its options.

A default is a value or a function of (sweep, workers); an option the sweep file sets wins.
"""

from __future__ import annotations

import inspect

from sweeplab.errors import brief
from sweeplab.files import describe

# name -> (Optuna class, sweeplab's defaults for its options)
SAMPLERS = {
    # Parallel workers avoid each other's running trials.
    "tpe": ("TPESampler", {"constant_liar": lambda sweep, workers: workers > 1}),
    "random": ("RandomSampler", {}),
    "grid": (None, {}),  # grid points are queued with their values; a random sampler draws nothing then
}
PRUNERS = {
    # A trial's first epochs are noisy: no verdict before the third step.
    "median": ("MedianPruner", {"n_startup_trials": 5, "n_warmup_steps": lambda sweep, workers:
                                min(3, sweep.max_epochs())}),
    "hyperband": ("HyperbandPruner", {"max_resource": lambda sweep, workers: sweep.splits * (sweep.max_epochs() + 1)}),
    "successive_halving": ("SuccessiveHalvingPruner", {}),
    "none": ("NopPruner", {}),
}
SET_BY_SWEEPLAB = {"seed", "search_space"}  # options a sweep file may not set: sweeplab sets them
# Values Optuna's constructors take but its samplers fail on (or silently read otherwise) once trials run.
MINIMA = {("sampler", "tpe"): {"n_startup_trials": 0, "n_ei_candidates": 1}}


def parse_choice(key: str, spec, fail) -> dict:
    """``tpe`` or ``{name: tpe, n_startup_trials: 5}`` for ``key`` (sampler or pruner), options checked against
    the Optuna class's signature."""
    import optuna

    table = SAMPLERS if key == "sampler" else PRUNERS
    spec = {"name": spec} if isinstance(spec, str) else spec
    if not isinstance(spec, dict) or spec.get("name") not in table:
        fail(key, f"expected one of {', '.join(table)} (or a mapping with name: and options), got {brief(spec)}")
    class_name = table[spec["name"]][0]
    module = optuna.samplers if key == "sampler" else optuna.pruners
    parameters = dict(inspect.signature(getattr(module, class_name)).parameters) if class_name else {}
    accepted = set(parameters) - SET_BY_SWEEPLAB
    for option, value in spec.items():
        if option == "name":
            continue
        if option not in accepted:
            fail(f"{key}.{option}", f"{spec['name']} takes no such option"
                 + (f" (it takes {', '.join(sorted(accepted))})" if accepted else ""))
        if not (value is None or isinstance(value, (bool, int, float, str))):
            fail(f"{key}.{option}", f"expected a scalar, got {describe(value)}")
        expected = _kind(parameters[option].default)
        if expected is not None and value is not None and not _is(value, expected):
            fail(f"{key}.{option}", f"expected {expected} like {spec['name']}'s default "
                                    f"{parameters[option].default!r}, got {brief(value)}")
    return dict(spec)


def _kind(default) -> str | None:
    """What an option's values must be, going by its default in the Optuna class's signature (None: any)."""
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, float):
        return "a number"
    return None


def _is(value, kind: str) -> bool:
    if kind == "true or false":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    return isinstance(value, int) if kind == "an integer" else isinstance(value, (int, float))


def build(key: str, choice: dict, sweep, workers: int = 1, **fixed):
    """The Optuna sampler or pruner ``choice`` names, with sweeplab's defaults under the sweep file's options."""
    import optuna

    table = SAMPLERS if key == "sampler" else PRUNERS
    class_name, defaults = table[choice["name"]]
    options = {name: value(sweep, workers) if callable(value) else value for name, value in defaults.items()}
    options.update({k: v for k, v in choice.items() if k != "name"})
    for option, least in MINIMA.get((key, choice["name"]), {}).items():
        if isinstance(options.get(option), int) and options[option] < least:
            raise ValueError(f"{option} is {options[option]}, at least {least} is needed")
    if class_name == "HyperbandPruner":
        # Its brackets are successive halving pruners, built at the first report (a min_resource of 0 then divides
        # by zero in every trial): one is built now, so that Optuna's own checks run on these options.
        optuna.pruners.SuccessiveHalvingPruner(**{k: v for k, v in options.items()
                                                  if k in ("min_resource", "reduction_factor")})
    module = optuna.samplers if key == "sampler" else optuna.pruners
    return getattr(module, class_name or "RandomSampler")(**options, **fixed)


def compact(choice: dict):
    """A choice as a sweep file writes it: ``tpe``, or a mapping when it has options."""
    return choice["name"] if len(choice) == 1 else dict(choice)


def expanded(choice) -> dict:
    """A choice as :func:`build` takes it: always a mapping with ``name``."""
    return {"name": choice} if isinstance(choice, str) else dict(choice)
