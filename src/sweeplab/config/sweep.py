"""A sweep as data: its settings and its parameters (fixed, a choice, or a range), per model family. How an engine
samples them is the engine's (:mod:`sweeplab.engines`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sweeplab.statistics import ALPHA, T_TEST


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
    engine_options: dict = field(default_factory=dict)  # as the engine validated them (sweeplab.engines)
    timeout: float | None = None
    metric: str = "accuracy"  # what trials are ranked and pruned by, and the refit is tested with
    # A sweep across model families: family name -> its own parameters (``space`` holds the shared ones), and
    # ``model`` reads "cnn|rnn|..." (sweeplab.modeling.registry.families). A trial's configuration then names its
    # family under "model" (registry.family_of).
    families: dict = field(default_factory=dict)
    # How a trial is told apart from the best (sweeplab.search.selection.tie_group), and which trial of those tied
    # with it is refit: "best", or "simplest" (the fewest trainable parameters, then the shortest fit).
    compare: dict = field(default_factory=lambda: {"test": T_TEST, "alpha": ALPHA})
    select: str = "best"
    repeats: int = 1  # the k folds, this many times, each time shuffled anew (RepeatedStratifiedKFold)
    nested: int = 0  # outer folds of nested CV around the whole search (0: none)
    # Up to this many trials whose models share a batch stream train as one fused Keras model
    # (sweeplab.modeling.fused): the same scores, less time per trial. 1: each trains alone.
    fuse: int = 1
    # TensorFlow's oneDNN kernels for the sweep's processes (sweeplab.runtime.configure): faster on large
    # convolutions, while in a sweep of many small trials they only cost memory per tensor shape.
    onednn: bool = False

    @property
    def splits(self) -> int:
        """How many fits a trial's cross-validation makes: every fold of every repeat."""
        return self.folds * self.repeats

    def folds_text(self) -> str:
        """"4 folds", or "4 folds x 3 repeats"."""
        return f"{self.folds} folds" + (f" x {self.repeats} repeats" if self.repeats > 1 else "")

    @property
    def models(self) -> tuple:
        """The families this sweep searches (one, or several with ``model: [a, b, ...]``)."""
        from sweeplab.modeling.registry import families

        return families(self.model)

    def model_of(self, configuration: dict) -> str:
        """The model factory a configuration of this sweep is for."""
        from sweeplab.modeling.registry import family_of

        return family_of(configuration, self.model)

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

    def max_epochs(self) -> int:
        from sweeplab.modeling.defaults import FIT_DEFAULTS

        epochs = self.space.get("epochs")
        return int(epochs.largest()) if epochs else FIT_DEFAULTS["epochs"]

    def override(self, **changes) -> "Sweep":
        """Apply command-line overrides (None = keep), validated like the file itself."""
        from sweeplab.config import parse  # the parser builds Sweeps: imported here, not at the top

        raw = self.to_dict()
        for key, value in changes.items():
            if value is None:
                continue
            if key in parse.FIT_KEYS:
                raw["space"][key] = value
            elif key == "nested":
                raw[key] = {"outer_folds": value} if value else None
            else:
                raw[key] = list(value) if key == "sources" else value
        return parse.parse_sweep(raw, f"{self.path} (with command-line overrides)")

    def to_dict(self) -> dict:
        """The resolved sweep, as YAML-ready data: what ran, defaults filled in."""
        return {
            "name": self.name, "description": self.description,
            "engine": {"name": self.engine, **self.engine_options} if self.engine_options else self.engine,
            "sources": list(self.sources), "trials": self.trials, "folds": self.folds,
            "repeats": self.repeats, "nested": {"outer_folds": self.nested} if self.nested else None,
            "test_size": self.test_size, "seed": self.seed, "metric": self.metric, "timeout": self.timeout,
            "compare": dict(self.compare),
            "select": self.select, "fuse": self.fuse, "onednn": self.onednn,
            "model": list(self.families) if self.families else self.model,
            "space": {**{name: p.to_yaml() for name, p in self.space.items()},
                      **{family: {name: p.to_yaml() for name, p in params.items()}
                         for family, params in self.families.items()}},
        }

