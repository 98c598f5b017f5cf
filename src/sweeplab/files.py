"""Reading the files a user points sweeplab at, with bounds.

Only regular files are read: a FIFO blocks forever on open, ``/dev/zero`` never ends, a directory is a typo. Files
read whole (sweep and experiment YAML) have a size cap, files read line by line (GloVe vectors, texts to label,
the UCI sources) a line-length cap, and YAML aliases a budget on what they expand to. Each limit ends in one line
naming the file, before memory or time run away.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import yaml

from sweeplab.errors import SweepLabError, brief, first_line

# A sweep file is a few hundred bytes; a megabyte of YAML is a mistake (or an attack), not a plan.
MAX_YAML_BYTES = 1 << 20
# What a YAML document may expand to through its aliases, in nodes (a scalar counts one per 80 characters). An
# anchor reused for shared settings costs tens; a "billion laughs" of nested aliases would cost 10**9.
YAML_BUDGET = 10_000
# A sweep file nests four or five levels; PyYAML's recursion would take seconds to fail on 100,000.
MAX_YAML_DEPTH = 50
# A GloVe line of 300 dimensions is about 3 KB and a review rarely 100 KB: a longer line is not a line.
MAX_LINE_CHARS = 1 << 20


def regular_file(path: str | Path, what: str = "file") -> Path:
    """``path``, checked to be a regular file: not missing, not a directory, not a device, FIFO or socket."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode  # stat, unlike open, does not block on a FIFO
    except FileNotFoundError:
        raise SweepLabError(f"{path}: {what} not found") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise SweepLabError(f"{path}: cannot read the {what} ({getattr(exc, 'strerror', None) or exc})") from None
    if stat.S_ISDIR(mode):
        raise SweepLabError(f"{path}: a directory, cannot read it as the {what}")
    if not stat.S_ISREG(mode):
        raise SweepLabError(f"{path}: not a regular file (a device, FIFO or socket), cannot read it as the {what}")
    return path


def read_text(path: str | Path, what: str, max_bytes: int) -> str:
    """The whole of a small UTF-8 file; refused beyond ``max_bytes``."""
    path = regular_file(path, f"{what} file")
    with open(path, "rb") as handle:
        blob = handle.read(max_bytes + 1)
    if len(blob) > max_bytes:
        raise SweepLabError(f"{path}: larger than {max_bytes:,} bytes, too large for the {what} file")
    try:
        return blob.decode("utf-8")
    except UnicodeDecodeError:
        raise SweepLabError(f"{path}: not valid UTF-8") from None


def lines(path: str | Path, what: str, max_chars: int = MAX_LINE_CHARS):
    """(line number, line without its newline) of a UTF-8 file, split on '\\n' only (U+0085 and the like are text,
    not line breaks); a line longer than ``max_chars`` is refused instead of filling memory."""
    path = regular_file(path, what)
    with open(path, "rb") as handle:
        yield from stream_lines(handle, str(path), max_chars)


def stream_lines(handle, name: str, max_chars: int = MAX_LINE_CHARS):
    """:func:`lines` of an open binary stream (a file, standard input's buffer), ``name`` standing for it in
    messages. Each line is decoded on its own, so that a byte that is not UTF-8 is reported on its own line (a text
    stream decodes a buffer ahead of the line it hands out, and the error named a line hundreds before)."""
    number = 0
    while raw := handle.readline(4 * max_chars + 1):  # UTF-8 takes at most 4 bytes a character
        number += 1
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if len(raw) > 4 * max_chars and exc.reason == "unexpected end of data":  # cut inside a character
                raise SweepLabError(f"{name}:{number}: a line longer than {max_chars:,} characters") from None
            raise SweepLabError(f"{name}:{number}: not valid UTF-8 (byte {exc.start + 1} of the line)") from None
        if len(line.removesuffix("\n")) > max_chars or (len(raw) > 4 * max_chars and not raw.endswith(b"\n")):
            raise SweepLabError(f"{name}:{number}: a line longer than {max_chars:,} characters")
        yield number, line.removesuffix("\n")


def check_destination(path: str | Path, what: str, suffixes: tuple = ()) -> Path:
    """``path`` can take a new ``what``: not a directory or a device, named with one of ``suffixes`` (when given),
    in a directory this process may write (made when missing). Checked before any work, so that a wrong ``--out``
    costs nothing."""
    path = Path(path)
    if path.is_dir():
        raise SweepLabError(f"{path}: a directory; give the path of the {what} to write")
    if suffixes and path.suffix not in suffixes:
        raise SweepLabError(f"{path}: the {what} must end in {' or '.join(suffixes)}")
    if path.exists() and not path.is_file():
        raise SweepLabError(f"{path}: not a regular file, cannot write the {what} there")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SweepLabError(f"{path.parent}: cannot make the directory for the {what} ({exc.strerror})") from None
    if not os.access(path.parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise SweepLabError(f"{path}: not writable, cannot write the {what} there")
    return path


def write_atomically(path: str | Path, payload: bytes, what: str = "file") -> Path:
    """Write ``payload`` to a temporary file beside ``path``, then rename it over ``path``: a reader never sees a
    half-written file, and a failed write leaves the old one."""
    import tempfile

    path, tmp = check_destination(path, what), None
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name[:40]}.", delete=False) as tmp:
            tmp.write(payload)
        Path(tmp.name).replace(path)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp.name)
        raise SweepLabError(f"{path}: cannot write the {what} ({exc.strerror or exc})") from None
    return path


# --- YAML ---------------------------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """The safe loader (no tags that construct Python objects), with duplicate keys refused: YAML says a key is
    unique in its mapping, and PyYAML's silent last-one-wins hides a pasted setting the user thinks is in force."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first_line = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                    continue  # merged keys may be overridden; a non-scalar key is refused by the base class
                key = self.construct_object(key_node)
                if key in first_line:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {brief(key)} (first at line {first_line[key] + 1})",
                        key_node.start_mark)
                first_line[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)

    def compose_node(self, parent, index):
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _expanded_size(root) -> int:
    """What the node graph weighs with every alias expanded, counted without expanding it; refuses a structure that
    contains itself and stops counting at the budget."""
    sizes, open_nodes = {}, set()

    def size(node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.ScalarNode):
            return 1 + len(node.value) // 80
        if id(node) in open_nodes:
            raise _Recursive(node.start_mark)
        open_nodes.add(id(node))
        total = 1
        for child in node.value:
            for part in (child if isinstance(child, tuple) else (child,)):  # a mapping's children: (key, value)
                total += size(part)
            if total > YAML_BUDGET:
                break  # over the budget already: the rest need not be counted
        open_nodes.discard(id(node))
        sizes[id(node)] = total
        return total

    return size(root)


class _Recursive(Exception):
    def __init__(self, mark):
        self.mark = mark


def read_yaml(path: str | Path, what: str) -> dict:
    """A YAML mapping of ``what`` from ``path``: bounded in size and alias expansion, without duplicate keys."""
    text = read_text(path, what, MAX_YAML_BYTES)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node) > YAML_BUDGET:
            raise SweepLabError(f"{path}: its aliases expand to more than {YAML_BUDGET:,} values; the {what} "
                                "never need that many")
        raw = None if node is None else loader.construct_document(node)
    except _Recursive as exc:
        raise SweepLabError(f"{path}: invalid YAML at line {exc.mark.line + 1}: an alias inside the node it "
                            "names (a structure that contains itself)") from None
    except RecursionError:
        raise SweepLabError(f"{path}: invalid YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        problem = getattr(exc, "problem", None) or first_line(exc)
        raise SweepLabError(f"{path}: invalid YAML{line}: {problem}") from None
    finally:
        loader.dispose()
    if not isinstance(raw, dict):
        raise SweepLabError(f"{path}: expected a mapping of {what}, got {describe(raw)}")
    return raw


def describe(value) -> str:
    """A value's type and a bounded glimpse of it, for messages."""
    return "nothing" if value is None else f"{type(value).__name__} {brief(value)}"
