"""The ``sweeplab`` command: one module per command group over :mod:`sweeplab.api`."""

from sweeplab.cli.main import main

__all__ = ["main"]
