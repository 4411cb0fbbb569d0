"""Reading the files a user hands us (scenarios, cassettes, profiles), bounded and without surprises.

One place decides what a readable input file is: a regular file under a size limit, UTF-8 text without
NUL bytes, YAML with plain tags only and bounded nesting and alias expansion, JSON with bounded nesting.
Every problem becomes a `FileProblem` with a 1-based line and column and one plain sentence; callers turn
it into their own error type (ScenarioError, ProfileError). Nothing here can hang on a FIFO, read a
device without end, or build an exponential tree from a few lines of aliases.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any, cast

import yaml
from yaml.constructor import SafeConstructor

__all__ = [
    "CASSETTE_MAX_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_YAML_DEPTH",
    "MAX_YAML_VALUES",
    "PROFILES_MAX_BYTES",
    "SCENARIO_MAX_BYTES",
    "TEMPLATE_MAX_BYTES",
    "FileProblem",
    "compose_yaml",
    "parse_json",
    "read_text",
    "yaml_scalar",
]

MiB = 1024 * 1024
SCENARIO_MAX_BYTES = 1 * MiB
CASSETTE_MAX_BYTES = 64 * MiB
PROFILES_MAX_BYTES = 1 * MiB
TEMPLATE_MAX_BYTES = 1 * MiB  # a chat template file
MAX_YAML_DEPTH = 64  # nested mappings and lists; a real scenario needs under 15
MAX_YAML_VALUES = 100_000  # values after expanding aliases; a real scenario has a few hundred
MAX_JSON_DEPTH = 100  # a cassette nests about 10 deep, plus whatever tool arguments hold


class FileProblem(Exception):
    """Why an input file cannot be read; `line` and `column` are 1-based, as editors show them."""

    def __init__(self, path: Path | str, line: int, column: int, message: str) -> None:
        self.path, self.line, self.column, self.message = path, line, column, message
        super().__init__(f"{path}:{line}:{column}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.path, self.line, self.column, self.message)


# --------------------------------------------------------------------------- bytes → text


def _size(n: int) -> str:
    return f"{n // MiB} MiB" if n >= MiB and n % MiB == 0 else f"{n:,} bytes"


def read_text(path: Path | str, *, limit: int, what: str = "file") -> str:
    """The text of a regular file of at most `limit` bytes, decoded as UTF-8 (a BOM is allowed).

    A FIFO, a device, a folder or a larger file is refused before anything is read (a FIFO is opened
    non-blocking, so no writer is waited for).
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as e:
        raise FileProblem(path, 1, 1, f"cannot read the {what}: {e.strerror or e}") from None
    _check_regular(path, st, limit, what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise FileProblem(path, 1, 1, f"cannot read the {what}: {e.strerror or e}") from None
    try:
        _check_regular(path, os.fstat(fd), limit, what)  # it may have been swapped since the stat
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    except OSError as e:
        raise FileProblem(path, 1, 1, f"cannot read the {what}: {e.strerror or e}") from None
    finally:
        os.close(fd)
    if len(data) > limit:  # a file that grew, or one that reports no size (/proc)
        raise FileProblem(path, 1, 1, f"the {what} is larger than {_size(limit)}; that is not a {what}")
    return _decode(path, data, what)


def _check_regular(path: Path, st: os.stat_result, limit: int, what: str) -> None:
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise FileProblem(path, 1, 1, f"is a folder, not a {what}")
    if not stat.S_ISREG(mode):
        kind = (
            "a named pipe (FIFO)"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "not a regular file"
        )
        raise FileProblem(path, 1, 1, f"is {kind}, not a {what} file; give a regular file")
    if st.st_size > limit:
        raise FileProblem(
            path,
            1,
            1,
            f"the {what} is {_size(st.st_size)}, larger than the limit of {_size(limit)}; "
            f"that is not a {what}",
        )


def _where(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of a byte offset."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def _decode(path: Path, data: bytes, what: str) -> str:
    nul = data.find(b"\0")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if 0 <= nul < e.start:
            raise _nul(path, data, nul, what) from None
        line, col = _where(data, e.start)
        byte = data[e.start]
        raise FileProblem(
            path,
            line,
            col,
            f"the {what} is not UTF-8 text: byte 0x{byte:02X} here cannot be decoded "
            + (
                "(a binary file?)"
                if e.start == 0 or byte < 0xA0
                else "(saved as Latin-1 or another code page? save it as UTF-8)"
            ),
        ) from None
    if nul >= 0:
        raise _nul(path, data, nul, what)
    return text


def _nul(path: Path, data: bytes, offset: int, what: str) -> FileProblem:
    line, col = _where(data, offset)
    return FileProblem(path, line, col, f"the {what} holds a NUL byte here: it is a binary file, not text")


# --------------------------------------------------------------------------- YAML

_T = "tag:yaml.org,2002:"
_MERGE, _VALUE = _T + "merge", _T + "value"
_SCALAR_TAGS = {_T + t for t in ("null", "bool", "int", "float", "str", "timestamp")} | {_MERGE, _VALUE}
_COLLECTION_TAGS: dict[type[yaml.Node], str] = {yaml.MappingNode: _T + "map", yaml.SequenceNode: _T + "seq"}


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_T) if tag.startswith(_T) else tag


class _BoundedComposer(yaml.SafeLoader):
    """PyYAML's safe composer that bounds nesting depth and alias expansion, refuses tags beyond plain
    data, refuses recursive aliases, and applies merge keys (`<<: *defaults`) on the node tree, so that
    every reader of the tree sees plain, finite mappings with their marks."""

    def __init__(self, text: str, path: Path | str) -> None:
        super().__init__(text)
        self.path = path
        self.depth = 0
        self.values = 0  # values in the expanded tree so far
        self.aliased = False
        self.sizes: dict[int, int] = {}  # id(node) → values in its expanded subtree (once complete)

    def problem(self, mark: yaml.Mark | None, message: str) -> FileProblem:
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return FileProblem(self.path, line, col, message)

    def count(self, n: int, mark: yaml.Mark) -> None:
        self.values += n
        if self.values > MAX_YAML_VALUES:
            raise self.problem(
                mark,
                f"the file expands to more than {MAX_YAML_VALUES:,} values (aliases repeating aliases, "
                "a 'billion laughs' pattern?); write the values out or reuse fewer"
                if self.aliased
                else f"the file holds more than {MAX_YAML_VALUES:,} values; no scenario or profile file "
                "needs that many",
            )

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None:
                size = self.sizes.get(id(target))
                if size is None:
                    raise self.problem(
                        event.start_mark,
                        f"the alias *{event.anchor} points at the collection it is inside "
                        "(a recursive alias never ends)",
                    )
                self.aliased = True
                self.count(size, event.start_mark)
            return super().compose_node(parent, index)
        mark = self.peek_event().start_mark
        if self.depth >= MAX_YAML_DEPTH:
            raise self.problem(mark, f"lists and mappings nest more than {MAX_YAML_DEPTH} levels deep here")
        self.depth += 1
        try:
            # types-PyYAML says `Node | None`, but PyYAML's compose_node always returns a node
            node = cast(yaml.Node, super().compose_node(parent, index))
        finally:
            self.depth -= 1
        if isinstance(node, yaml.ScalarNode):
            if node.tag not in _SCALAR_TAGS:
                raise self._bad_tag(node)
            size = 1
        else:
            if node.tag != _COLLECTION_TAGS[type(node)]:
                raise self._bad_tag(node)
            if isinstance(node, yaml.MappingNode):
                self._merge(node)
                size = 1 + sum(self.sizes[id(k)] + self.sizes[id(v)] for k, v in node.value)
            else:
                size = 1 + sum(self.sizes[id(v)] for v in node.value)
        self.sizes[id(node)] = size
        self.count(1, mark)
        return node

    def _bad_tag(self, node: yaml.Node) -> FileProblem:
        return self.problem(
            node.start_mark,
            f"the tag {_short_tag(node.tag)} is not allowed: the file is plain data (text, numbers, "
            "true/false, lists, mappings); remove the tag, or quote the value if it is text",
        )

    def _merge(self, node: yaml.MappingNode) -> None:
        """Apply `<<` merge keys (YAML 1.1): keys written in the mapping win over merged ones, and of
        several merged mappings the first that has a key wins."""
        if not any(k.tag == _MERGE for k, _ in node.value):
            return
        explicit = [(k, v) for k, v in node.value if k.tag != _MERGE]
        seen = {_key_id(k) for k, _ in explicit}
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        for k, v in node.value:
            if k.tag != _MERGE:
                continue
            sources = v.value if isinstance(v, yaml.SequenceNode) else [v]
            for src in sources:
                if not isinstance(src, yaml.MappingNode):
                    raise self.problem(
                        src.start_mark,
                        "a merge key (<<) takes a mapping or a list of mappings, e.g. <<: *defaults",
                    )
                for mk, mv in src.value:
                    if _key_id(mk) not in seen:
                        seen.add(_key_id(mk))
                        merged.append((mk, mv))
        node.value = merged + explicit


def _key_id(node: yaml.Node) -> Any:
    return (node.tag, node.value) if isinstance(node, yaml.ScalarNode) else id(node)


def compose_yaml(text: str, path: Path | str) -> yaml.Node | None:
    """The node tree of one YAML document (None if empty), bounded; every error a located FileProblem."""
    loader: _BoundedComposer | None = None
    try:
        loader = _BoundedComposer(text, path)  # checks every character first
        return loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise FileProblem(path, line, col, f"YAML syntax error: {_plain(e)}") from None
    except yaml.reader.ReaderError as e:
        line, col = _text_where(text, e.position)
        char = f"U+{e.character:04X}" if isinstance(e.character, int) else repr(e.character)
        raise FileProblem(
            path, line, col, f"the character {char} here is not allowed in YAML (a control character)"
        ) from None
    except RecursionError:  # only if the caller's own stack was already deep
        raise FileProblem(path, 1, 1, "the YAML nests too deeply to read") from None
    finally:
        if loader is not None:
            loader.dispose()


def _text_where(text: str, position: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, position) + 1
    return text.count("\n", 0, position) + 1, position - line_start + 1


def yaml_scalar(node: yaml.ScalarNode, path: Path | str) -> Any:
    """The Python value of a scalar node from `compose_yaml` (plain tags only).

    `<<` outside a key and `=` are text. A value that looks like a number or date but is not one (a
    month 13, an integer of 5000 digits) is a located FileProblem, never a traceback.
    """
    if node.tag in (_MERGE, _VALUE):
        return node.value
    try:
        return SafeConstructor.yaml_constructors[node.tag](_CONSTRUCTOR, node)
    except (ValueError, OverflowError) as e:
        kind = _KINDS.get(node.tag, node.tag)
        mark = node.start_mark
        raise FileProblem(
            path,
            mark.line + 1,
            mark.column + 1,
            f"{node.value[:40]!r} looks like {kind} but is not a valid one ({e}); quote it to use it as text",
        ) from None


_KINDS = {
    _T + "int": "an integer",
    _T + "float": "a number",
    _T + "timestamp": "a date",
    _T + "bool": "true/false",
}


_CONSTRUCTOR = SafeConstructor()  # the scalar constructors keep no state between calls

# PyYAML's problems in plain words; `{start}` becomes where the unclosed thing began. The parser's own
# wording follows as a detail.
_PLAIN: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), s)
    for p, s in (
        (
            r"mapping values are not allowed here",
            "a ':' here cannot start a value; quote the text if it holds ': ', or check the indentation "
            "of this line",
        ),
        (
            r"could not find expected ':'",
            "a key{start} is missing its ':' (or a line is not indented like the lines around it)",
        ),
        (r"expected ',' or '\]'", "the '[' list opened{start} is not closed: a ']' (or a ',') is missing"),
        (r"expected ',' or '\}'", "the '{' mapping opened{start} is not closed: a '}' (or a ',') is missing"),
        (
            r"block collection.*expected <block end>",
            "this line sits in the '- ' list that starts{start} but is not a list item: start it with '- ' "
            "or indent it under its item",
        ),
        (
            r"expected <block end>",
            "this line is indented differently from the block it belongs to (the block that starts{start})",
        ),
        (
            r"did not find expected key",
            "another 'key: value' line was expected at this indentation; check this line's indentation",
        ),
        (r"did not find expected '-' indicator", "another '- ' list item was expected at this indentation"),
        (r"found character '\\t'|tab character", "a tab is used for indentation; YAML needs spaces"),
        (r"found undefined alias", "an alias (*name) refers to an anchor (&name) not defined above it"),
        (r"found duplicate anchor", "the same anchor (&name) is defined twice"),
        (r"found unexpected end of stream", "the quoted text opened{start} is never closed"),
        (
            r"found unknown escape character",
            "a double-quoted text has an unknown backslash escape; use single quotes, or write \\\\ for "
            "a backslash",
        ),
        (
            r"expected a single document",
            "the file holds more than one YAML document (a second '---'); it must be one document",
        ),
        (
            r"expected alphabetic or numeric character",
            "a value starting with '&' or '*' is read as an anchor or alias; quote it",
        ),
        (r"that cannot start any token", "this character cannot start a value; quote the value"),
        (
            r"expected <document start>",
            "unexpected text at the top level; the file should be 'key: value' lines",
        ),
        (r"expected the node content", "a value was expected here"),
    )
)


def _plain(e: yaml.MarkedYAMLError) -> str:
    detail = ", ".join(x for x in (e.context, e.problem) if x) or "invalid YAML"
    start = ""
    if e.context_mark is not None and e.problem_mark is not None and e.context_mark != e.problem_mark:
        start = f" at line {e.context_mark.line + 1}, column {e.context_mark.column + 1}"
    for pattern, plain in _PLAIN:
        if pattern.search(detail):
            return f"{plain.replace('{start}', start)}. Parser: {detail}"
    return f"the YAML is not well formed. Parser: {detail}"


# --------------------------------------------------------------------------- JSON

_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def parse_json(text: str, path: Path | str, *, what: str = "file") -> Any:
    """JSON data of at most MAX_JSON_DEPTH levels; every error a located FileProblem."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise FileProblem(path, e.lineno, e.colno, f"the {what} is not valid JSON: {e.msg}") from None
    except RecursionError:
        raise _too_deep(text, path, what) from None
    except ValueError as e:  # e.g. an integer of thousands of digits
        raise FileProblem(path, 1, 1, f"the {what} is not valid JSON: {e}") from None
    stack = [(data, 1)] if isinstance(data, dict | list) else []
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise _too_deep(text, path, what)
        children = value.values() if isinstance(value, dict) else value
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return data


def _too_deep(text: str, path: Path | str, what: str) -> FileProblem:
    depth = 0
    for m in _JSON_TOKEN.finditer(text):
        tok = m.group()
        if tok in ("[", "{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                line, col = _text_where(text, m.start())
                return FileProblem(
                    path, line, col, f"the {what} nests more than {MAX_JSON_DEPTH} levels deep here"
                )
        elif tok in ("]", "}"):
            depth -= 1
    return FileProblem(path, 1, 1, f"the {what} nests more than {MAX_JSON_DEPTH} levels deep")
