"""How a message tells the user to run something: the Makefile's target inside the project's checkout, the
``sweeplab`` command anywhere else (after ``pip install``)."""

from __future__ import annotations

from pathlib import Path


def command(make: str, cli: str) -> str:
    """``make`` (say ``make sweep SPACE=smoke``) where the working directory is the checkout, else ``cli``."""
    here = Path.cwd()
    return make if (here / "Makefile").is_file() and (here / "src" / "sweeplab").is_dir() else cli
