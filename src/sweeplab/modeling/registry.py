"""The model factory registry: the names a sweep file's ``model:`` may take, built in or declared by installed
packages under the ``sweeplab.models`` entry-point group.

A factory takes scikeras' ``meta`` (fitted facts: ``vocab_size_``, ``X_shape_``, ``n_classes_``) plus its own
keyword parameters and returns a compiled Keras model. Its signature *is* its schema: the sweep validator reads
parameter names and default types from it, and the allowed values of a ``Literal[...]`` annotation, so keep every
parameter keyword-only with a typed default. Its layers take the dtype policy the fit setting ``precision`` builds
them under; the output layer must say ``dtype="float32"`` (as the built-in ones do) to keep its probabilities and
the loss in float32 (the classifier refuses a bfloat16 output)."""

from __future__ import annotations

import importlib
import inspect
import typing
from typing import Callable, Literal

from sweeplab import plugins
from sweeplab.errors import SweepLabError

REGISTRY: dict[str, Callable] = {}

# Installed packages add factories by declaring entry points in this group (name = "package.module:function").
# A sweep file names a factory; it never names code to import.
ENTRY_POINTS = "sweeplab.models"

_plugins: dict[str, Callable] | None = None

# What a factory's model takes as input: padded token ids (an Embedding first), or bag-of-words vectors.
SEQUENCES, BAG_OF_WORDS = "sequences", "bag_of_words"


def register(factory: Callable | None = None, *, reads: str = SEQUENCES):
    """``@register`` or ``@register(reads=BAG_OF_WORDS)``: add a factory to the registry under its name."""
    def add(function: Callable) -> Callable:
        function.reads = reads
        REGISTRY[function.__name__] = function
        return function

    return add(factory) if factory is not None else add


def registry() -> dict[str, Callable]:
    """Every factory a sweep file may name: the built-in ones, then those installed packages declare under the
    ``sweeplab.models`` entry-point group (a built-in name cannot be taken over)."""
    global _plugins
    importlib.import_module("sweeplab.modeling.factories")  # the built-in factories register when imported

    if _plugins is None:
        _plugins = plugins.declared(ENTRY_POINTS, REGISTRY)
        for factory in _plugins.values():
            factory.reads = getattr(factory, "reads", SEQUENCES)
    return {**REGISTRY, **_plugins}


# How a sweep across families writes its families in one string (the sweep's, and its runs' `model`).
FAMILY_SEPARATOR = "|"


def families(model: str) -> tuple[str, ...]:
    """The families a sweep's (or its run's) ``model`` names: ``cnn``, or ``cnn|rnn|...`` across families."""
    return tuple(model.split(FAMILY_SEPARATOR))


def joined(names) -> str:
    """The ``model`` of a sweep over ``names``."""
    return FAMILY_SEPARATOR.join(names)


def family_of(configuration: dict, model: str) -> str:
    """The one rule for a trial's model family: its configuration's ``model`` when it names one (a sweep across
    families chose it), else its sweep's ``model``, which then names one family. The sweep, the trainer, the reuse
    lookup, export and the transfer matrix all read it here."""
    chosen = configuration.get("model")
    if chosen:
        return chosen
    if FAMILY_SEPARATOR in (model or ""):
        raise SweepLabError(f"a trial of a sweep across families ({model}) names no family of its own")
    return model


def reads(name: str) -> str:
    return get(name).reads


def get(name: str) -> Callable:
    factories = registry()
    if name not in factories:
        raise SweepLabError(f"unknown model '{name}': expected one of {', '.join(sorted(factories))}")
    return factories[name]


def defaults(name: str) -> dict:
    """The factory's tunable parameters and their defaults."""
    signature = inspect.signature(get(name))
    return {p.name: p.default for p in signature.parameters.values() if p.kind is p.KEYWORD_ONLY}


def choices(name: str) -> dict:
    """The allowed values of the factory's ``Literal[...]``-annotated parameters."""
    hints = typing.get_type_hints(get(name))
    return {param: typing.get_args(hint) for param, hint in hints.items() if typing.get_origin(hint) is Literal}

