"""What installed packages add to sweeplab: the objects they declare under an entry-point group (model factories
under ``sweeplab.models``, engines under ``sweeplab.engines``), loaded by the one rule both registries share."""

from __future__ import annotations

from typing import Callable

from sweeplab.errors import SweepLabError


def declared(group: str, taken, check: Callable[[object], str | None] = lambda found: None) -> dict:
    """Name -> object of every entry point in ``group``, but for names in ``taken`` (a built-in name cannot be taken
    over) and repeats (the first wins). A point that cannot be loaded, or whose object ``check`` finds a problem
    with (it returns what is wrong), is one line naming it, not a sweeplab crash."""
    from importlib.metadata import entry_points

    found = {}
    for point in entry_points(group=group):
        if point.name in taken or point.name in found:
            continue
        try:
            loaded = point.load()
        except Exception as exc:
            raise SweepLabError(f"entry point {group}: {point.name} = {point.value} cannot be loaded "
                                f"({type(exc).__name__}: {exc})") from None
        problem = check(loaded)
        if problem:
            raise SweepLabError(f"entry point {group}: {point.name} = {point.value} {problem}")
        found[point.name] = loaded
    return found
