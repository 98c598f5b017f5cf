"""SQLite URLs, as both stores use them (MLflow's tracking store and Optuna's study storage)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///relative`` or ``sqlite:////absolute`` URL; None for other URLs."""
    if urlparse(url).scheme != "sqlite":
        return None
    return Path(unquote(url[len("sqlite:///"):]))


def ensure_sqlite_dir(url: str) -> None:
    """SQLite creates a missing database file, but not a missing directory."""
    database = sqlite_path(url)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
