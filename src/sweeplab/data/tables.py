"""A user's CSV, TSV or JSONL file as a dataset: cells read as the text written, errors that name the line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sweeplab import files
from sweeplab.data.dataset import Dataset, encode, sha256_of
from sweeplab.errors import SweepLabError, first_line
from sweeplab.names import DATASET_NAME_LENGTH, safe_name

USER_FILE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def load_file(path: str | Path, text_col: str = "text", label_col: str = "label") -> Dataset:
    """A user's CSV, TSV or JSONL file with a text column and a label column.

    Cells are read as the text the user wrote: "NA", "None", "N/A" and "123" are texts and labels like any other;
    only an empty cell (or a JSON null) is empty. Labels lose surrounding whitespace ("pos " is "pos"), and the
    dataset's ``notes`` say how many did. See :func:`label_values` for how labels order.
    """
    path = Path(path)
    frame, line_of = read_table(path, {"text": text_col, "label": label_col})
    # pandas 3 keeps strings as Arrow arrays, which sklearn cannot index: take plain object arrays.
    texts = frame[text_col].to_numpy(dtype=object)
    written = frame[label_col].to_numpy(dtype=object)
    stripped = [label.strip() for label in written]
    _reject_empty(path, text_col, [i for i, t in enumerate(texts) if not t.strip()], line_of)
    _reject_empty(path, label_col, [i for i, v in enumerate(stripped) if not v], line_of)
    changed = sum(a != b for a, b in zip(written, stripped))
    notes = (f"{path}: column '{label_col}': surrounding whitespace removed from {changed} of {len(stripped)} "
             "labels",) if changed else ()
    reference = {"data": str(path.resolve()), "text_col": text_col, "label_col": label_col}
    return encode(safe_name(path.stem, DATASET_NAME_LENGTH, fallback="data"), texts, stripped, path=str(path),
                   sha256=sha256_of(path), reference=reference, notes=notes)


def read_column(path: str | Path, column: str) -> np.ndarray:
    """One column of a CSV, TSV or JSONL file, as a plain object array of strings."""
    frame, _ = read_table(Path(path), {"text": column})
    return frame[column].to_numpy(dtype=object)


def read_table(path: Path, columns: dict):
    """A CSV, TSV or JSONL file as a DataFrame of strings with at least one row and ``columns`` ({role: column
    name}), and a function from a row's index to its line in the file, for messages."""
    import pandas as pd

    kind = USER_FILE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise SweepLabError(f"{path}: unsupported file type '{path.suffix}', expected .csv, .tsv or .jsonl")
    files.regular_file(path, "file")
    if kind == "jsonl":
        frame, lines = _read_jsonl(path, list(columns.values()))
        line_of = lines.__getitem__
    else:
        try:
            # Strings as written: no type guessing (digit-only texts) and no missing-value guessing ("NA"). Python
            # strings (object), not pandas 3's Arrow strings: those are copied into Python strings anyway (sklearn
            # indexes object arrays), and the Arrow buffers' memory stays with the process after the frame is gone
            # (imdb_50k: +219 MB resident read as str, +77 MB as object, equally fast).
            frame = pd.read_csv(path, sep="\t" if kind == "tsv" else ",", encoding="utf-8", dtype=object,
                                keep_default_na=False, na_filter=False)
        except UnicodeDecodeError as exc:
            raise SweepLabError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
        except (ValueError, pd.errors.ParserError) as exc:
            raise SweepLabError(f"{path}: cannot parse as {kind}: {first_line(exc)}") from None
        line_of = (lambda row: row + 2)  # 1-based, after the header line
    for role, column in columns.items():
        if column not in frame.columns:
            found = ", ".join(map(str, frame.columns)) or "none"
            raise SweepLabError(f"{path}: {role} column '{column}' not found (columns: {found})")
    if frame.empty:
        raise SweepLabError(f"{path}: no rows")
    return frame, line_of


def _read_jsonl(path: Path, wanted: list[str]):
    """The ``wanted`` fields of a JSON-lines file (one object per line) as strings: a JSON string as it is, null or
    a missing field as empty, any other scalar as its JSON text (``1``, ``1.5``, ``true``)."""
    import pandas as pd

    rows, lines, seen = {column: [] for column in wanted}, [], {}
    for number, line in files.lines(path, "file"):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as exc:  # ValueError: bad JSON, or an integer of 5,000 digits
            where = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            reason = getattr(exc, "msg", None) or exc
            raise SweepLabError(f"{path}:{number}: not valid JSON ({reason}{where})") from None
        if not isinstance(record, dict):
            raise SweepLabError(f"{path}:{number}: expected a JSON object per line, got {_json_type(record)}")
        seen.update(dict.fromkeys(record))
        for column in wanted:
            value = record.get(column)
            if isinstance(value, (dict, list)):
                raise SweepLabError(f"{path}:{number}: field '{column}' is {_json_type(value)}, expected a string")
            rows[column].append(value if isinstance(value, str) else "" if value is None else json.dumps(value))
        lines.append(number)
    # Every column seen (for the "not found" message), the wanted ones filled in.
    frame = pd.DataFrame({column: pd.Series(rows[column] if column in rows else [""] * len(lines), dtype=object)
                          for column in seen})
    return frame, lines


def _json_type(value) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def _reject_empty(path: Path, column: str, bad_rows: list[int], line_of) -> None:
    if bad_rows:
        shown = ", ".join(str(line_of(i)) for i in bad_rows[:5])
        rows = f"1 row (line {shown})" if len(bad_rows) == 1 else \
            f"{len(bad_rows)} rows (lines {shown}{', ...' if len(bad_rows) > 5 else ''})"
        raise SweepLabError(f"{path}: column '{column}' is empty on {rows}")

