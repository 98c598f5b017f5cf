"""Names that become file and directory names: a sweep's (its artifacts directory), an experiment's (its file in
experiments/, its model in models/, its registered model), a dataset's (in both). One rule for all of them, so
that no name can lead a write outside the directory meant for it: no separators, no '..', no NUL or newline, no
leading dot or dash, and a length every file system takes.
"""

from __future__ import annotations

import re

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MAX_NAME_LENGTH = 100
# A data file's stem as a dataset name: short enough that "<sweep>-<dataset>-<family>-rankN" stays a file name.
DATASET_NAME_LENGTH = 40
# An experiment's name is built from a sweep's and a dataset's.
MAX_EXPERIMENT_NAME_LENGTH = 200
RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit"


def problem(name, max_length: int = MAX_NAME_LENGTH) -> str | None:
    """What is wrong with ``name`` as a file name, or None when it is a good one."""
    from sweeplab.files import describe

    if not isinstance(name, str) or not name:
        return f"expected a non-empty string, got {describe(name)}"
    if len(name) > max_length:
        return f"{len(name)} characters, at most {max_length} allowed (it names files and directories)"
    if not _NAME.fullmatch(name):
        return f"{describe(name)} is not a name: use {RULE} (it names files and directories)"
    return None


def safe_name(text: str, max_length: int, fallback: str) -> str:
    """``text`` made a good name: each run of other characters becomes '_', then cut to ``max_length``."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).lstrip("._-")[:max_length].rstrip("._-")
    return name or fallback
