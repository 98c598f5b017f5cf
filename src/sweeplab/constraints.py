"""What each keyword of the Python API accepts, declared beside the function and checked once where a call comes in
(:func:`validated`), as scikit-learn's estimators declare ``_parameter_constraints``. The command line calls the
same functions, so a flag gets the same check, and the message names it as the caller wrote it (``top`` from
Python, ``--top`` from the command line: :class:`~sweeplab.errors.OptionError`).

scikit-learn's own ``validate_params`` lives in a private module (``sklearn.utils._param_validation``) and words its
messages for estimators; these few constraints are written here instead.
"""

from __future__ import annotations

import functools
import inspect
import numbers
import os
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Constraint:
    """A set of values: ``holds(value)`` says whether a value belongs to it, ``description`` says which they are."""

    description: str
    holds: Callable[[object], bool]


def integer(low: int | None = None, high: int | None = None) -> Constraint:
    def holds(value) -> bool:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool) and \
            (low is None or value >= low) and (high is None or value <= high)

    bounds = f" from {low:,}" if low is not None else ""
    bounds += f" to {high:,}" if high is not None else ""
    return Constraint(f"an integer{bounds}", holds)


def between(low: float, high: float) -> Constraint:
    """A number strictly between ``low`` and ``high``."""
    def holds(value) -> bool:
        return isinstance(value, numbers.Real) and not isinstance(value, bool) and low < value < high

    return Constraint(f"a number between {low:g} and {high:g}", holds)


def one_of(*values: str) -> Constraint:
    return Constraint(f"one of {', '.join(map(repr, values))}", lambda value: isinstance(value, str) and
                      value in values)


def methods(*names: str) -> Constraint:
    return Constraint(f"an object with {' and '.join(names)} methods",
                      lambda value: all(callable(getattr(value, name, None)) for name in names))


def instance_of(kind: type, description: str) -> Constraint:
    return Constraint(description, lambda value: isinstance(value, kind))


NONE = Constraint("None", lambda value: value is None)
BOOLEAN = Constraint("True or False", lambda value: isinstance(value, bool))
TEXT = Constraint("a non-empty string", lambda value: isinstance(value, str) and bool(value.strip()))
TEXTS = Constraint("a list of non-empty strings", lambda value: isinstance(value, (list, tuple)) and bool(value)
                   and all(TEXT.holds(item) for item in value))
PATH = Constraint("a path (a string or os.PathLike)", lambda value: isinstance(value, os.PathLike) or
                  TEXT.holds(value))
FUNCTION = Constraint("a function", callable)


def _is_name(value) -> bool:
    from sweeplab import names

    return names.problem(value) is None


NAME = Constraint("a name (letters, digits, '.', '_' and '-', starting with a letter or digit)", _is_name)


def validated(**constraints: tuple[Constraint | None, ...]):
    """Check a function's arguments against ``constraints`` (parameter name -> the sets a value may belong to,
    ``None`` standing for :data:`NONE`) before it runs, and the environment variables sweeplab reads; a value in
    none of them is an :class:`~sweeplab.errors.OptionError` naming the parameter. Every parameter must have its
    constraints: a new keyword cannot go unchecked."""
    def decorate(function):
        signature = inspect.signature(function)
        missing = set(signature.parameters) - set(constraints)
        if missing or set(constraints) - set(signature.parameters):
            raise TypeError(f"{function.__name__}: constraints for {sorted(missing)} missing or for unknown "
                            f"{sorted(set(constraints) - set(signature.parameters))}")
        allowed = {name: tuple(NONE if c is None else c for c in options) for name, options in constraints.items()}

        @functools.wraps(function)
        def checked(*args, **kwargs):
            from sweeplab import environment
            from sweeplab.errors import OptionError
            from sweeplab.files import describe

            for name, value in signature.bind(*args, **kwargs).arguments.items():
                if not any(option.holds(value) for option in allowed[name]):
                    got = "None" if value is None else describe(value)
                    expected = [option.description for option in allowed[name]]
                    as_flag = [text for text in expected if text != NONE.description]  # a flag cannot be None
                    raise OptionError(f"{{}}: expected {' or '.join(expected)}, got {got}", name,
                                      flag_template=f"{{}}: expected {' or '.join(as_flag)}, got {got}")
            environment.check()
            return function(*args, **kwargs)

        checked.constraints = allowed
        return checked

    return decorate
