"""YAML text to a tree of values that remember where they were written.

PyYAML's composer gives node marks; this module turns its nodes into small
located values and refuses what YAML 1.1 would otherwise pass on silently:
duplicate keys, aliases (and so alias bombs), non-string keys, unknown tags.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import yaml

from .model import Position, position_at

try:  # the C loader is ~8x faster; say so rather than fall back silently
    _Loader: type = yaml.CSafeLoader
    FAST_YAML = True
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader
    FAST_YAML = False

_TAG = "tag:yaml.org,2002:"
_PLAIN_TYPES = {_TAG + name for name in ("bool", "int", "float", "null", "timestamp", "str")}
_MAX_DEPTH = 40
_MAX_NODES = 50_000
_MAX_ALIAS_REPORTS = 10


@dataclass(frozen=True, slots=True)
class YamlError:
    """A problem found while reading YAML: position, code and message."""

    position: Position
    code: str
    message: str


# The nodes are not frozen: they live only while one note's fields are read, nothing
# changes them, and a frozen dataclass's __init__ (one object.__setattr__ a field) made
# building them a fifth of reading a note's YAML.
@dataclass(slots=True)
class Scalar:
    """A single value, with its text as written and whether it was quoted."""

    value: object  # str, int, float, bool, None, date or datetime
    text: str  # the scalar as written (without quotes)
    position: Position
    quoted: bool


@dataclass(slots=True)
class Sequence:
    """A YAML list."""

    items: tuple[Node, ...]
    position: Position


@dataclass(slots=True)
class Mapping:
    """A YAML mapping with text keys, each remembering where it was written."""

    entries: dict[str, tuple[Position, Node]]  # key -> (key position, value)
    position: Position
    # Keys whose value was refused (an alias, a tag): already reported, not "missing".
    dropped: frozenset[str] = frozenset()

    def get(self, key: str) -> Node | None:
        """The value of `key`, or None."""
        entry = self.entries.get(key)
        return entry[1] if entry else None

    def key_position(self, key: str) -> Position:
        """Where `key` was written; the mapping's own position if it is absent."""
        entry = self.entries.get(key)
        return entry[0] if entry else self.position


Node = Scalar | Sequence | Mapping


def describe(node: Node) -> str:
    """Name a node's kind for a message: 'a list', 'the number 12', ..."""
    if isinstance(node, Mapping):
        return "a mapping"
    if isinstance(node, Sequence):
        return "a list"
    value = node.value
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()} (written {node.text!r})"
    if isinstance(value, int | float):
        if len(node.text) > 24:  # do not print a number of hundreds of digits twice
            return f"a number written with {len(node.text)} characters"
        return f"the number {value} (written {node.text!r})"
    if isinstance(value, dt.datetime):
        return f"a date and time ({node.text!r})"
    if isinstance(value, dt.date):
        return f"a date ({node.text!r})"
    return f"the text {node.text!r}"


class _TooMuch(Exception):
    """Raised to stop reading: the YAML is too deep or too large to trust."""


@dataclass
class _Open:
    """A sequence or mapping whose items are still being read."""

    kind: str  # "seq" or "map"
    position: Position
    items: list[Node | None]
    refused: bool = False  # a tagged collection: read to its end, then dropped


# Characters YAML 1.1 forbids in a stream: C0/C1 controls (tab and newlines aside),
# lone surrogates and U+FFFE/U+FFFF.
_FORBIDDEN = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# Plain scalar (text, implicit flags, style) -> its value, for scalars read without a
# problem; values are immutable (str, int, float, bool, None, date, datetime).
_PLAIN_SCALARS: dict[tuple[str, object, object], object] = {}
_QUOTED_STYLES = frozenset(("'", '"', "|", ">"))


class _Composer:
    """Builds located nodes straight from the parser's events, without recursion.

    PyYAML's own composer recurses once per nesting level (100 000 nested
    brackets crash the C composer) and expands aliases; reading events keeps
    depth, size and aliases under control before any value is built.
    """

    def __init__(self, line_offset: int) -> None:
        self.line_offset = line_offset
        self.errors: list[YamlError] = []
        self.alias_errors = 0
        self.count = 0
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()

    def position(self, mark: Any) -> Position:
        if mark is None:  # PyYAML always sets marks; the stubs allow None
            return Position(1 + self.line_offset, 1)
        return position_at(mark.line + 1 + self.line_offset, mark.column + 1)

    def fail(self, mark: Any, code: str, message: str) -> None:
        self.errors.append(YamlError(self.position(mark), code, message))

    def compose(self, text: str) -> Node | None:
        stack: list[_Open] = []
        root: Node | None = None
        documents = 0
        loader = _Loader(text)
        next_event = loader.get_event  # None after the stream's end
        # The loop below runs for every value of every note: the common case (a plain
        # scalar seen before, nothing to refuse) is written out inline.
        known_scalars = _PLAIN_SCALARS
        line_offset = self.line_offset + 1
        scalar_event, quoted_styles = yaml.ScalarEvent, _QUOTED_STYLES
        try:
            while (event := next_event()) is not None:
                kind = type(event)  # scalars first: most events are scalars
                node: Node | None
                if kind is scalar_event:
                    known = None if event.tag is not None or event.anchor else \
                        known_scalars.get((event.value, event.implicit, event.style))
                    if known is not None and self.count < _MAX_NODES:
                        self.count += 1  # what count_node does, with nothing to refuse
                        mark = event.start_mark
                        node = Scalar(known, event.value,
                                      position_at(mark.line + line_offset, mark.column + 1),
                                      event.style in quoted_styles)
                    else:
                        self.count_node(event)
                        node = self.scalar(event)
                elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                    self.count_node(event)
                    if len(stack) >= _MAX_DEPTH:
                        self.fail(event.start_mark, "yaml-too-deep",
                                  f"values are nested deeper than {_MAX_DEPTH} levels; "
                                  "flatten the front matter")
                        raise _TooMuch
                    shape = "seq" if kind is yaml.SequenceStartEvent else "map"
                    refused = not self.check_collection_tag(event, shape)
                    stack.append(_Open(shape, self.position(event.start_mark), [], refused))
                    continue
                elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                    closed = stack.pop()
                    node = None if closed.refused else self.close(closed)
                elif kind is yaml.AliasEvent:
                    self.refuse_anchor(event.start_mark, f"YAML aliases (*{event.anchor}) are "
                                       "not allowed; write the value out in full")
                    node = None
                elif kind is yaml.DocumentStartEvent:
                    documents += 1
                    if documents > 1:
                        self.fail(event.start_mark, "yaml-syntax",
                                  "the front matter holds more than one YAML document; "
                                  "remove the extra '---' or '...' line")
                        raise _TooMuch
                    continue
                else:
                    continue  # stream and document boundaries
                if stack:
                    stack[-1].items.append(node)
                else:
                    root = node
        finally:
            loader.dispose()
        return root

    def count_node(self, event: yaml.NodeEvent) -> None:
        if event.anchor:
            self.refuse_anchor(event.start_mark, f"YAML anchors (&{event.anchor}) are not "
                               "allowed; remove it and write values out in full")
        self.count += 1
        if self.count > _MAX_NODES:
            self.fail(event.start_mark, "yaml-too-large",
                      f"the front matter has more than {_MAX_NODES:,} values; "
                      "split the note or move the detail into its text")
            raise _TooMuch

    def refuse_anchor(self, mark: Any, message: str) -> None:
        # One alias bomb holds thousands of aliases: report the first few only.
        self.alias_errors += 1
        if self.alias_errors <= _MAX_ALIAS_REPORTS:
            self.fail(mark, "yaml-alias", message)

    def check_collection_tag(self, event: yaml.CollectionStartEvent, kind: str) -> bool:
        """False (and a problem) for a tagged list or mapping, such as !!python/object."""
        if event.tag not in (None, "!", _TAG + kind):
            self.fail(event.start_mark, "yaml-tag",
                      f"the tag {event.tag!r} is not supported; remove it")
            return False
        return True

    def scalar(self, event: yaml.ScalarEvent) -> Scalar | None:
        """A scalar `compose` did not find among the known ones, resolved and constructed.
        Keys and values repeat across notes ("title", "kpi", dates): each plain scalar
        read without a problem is remembered for `compose`'s inline path."""
        tag = event.tag
        if tag == "!":  # the non-specific tag: text, whatever it looks like
            tag = _TAG + "str"
        elif tag is None:
            tag = self.resolver.resolve(  # type: ignore[no-untyped-call]
                yaml.ScalarNode, event.value, event.implicit)
        scalar = self.make_scalar(tag, event.tag is None, event)
        if scalar is not None and event.tag is None and len(_PLAIN_SCALARS) < 100_000 \
                and not isinstance(scalar.value, list | dict | set):
            _PLAIN_SCALARS[(event.value, event.implicit, event.style)] = scalar.value
        return scalar

    def make_scalar(self, tag: str, implicit: bool, event: Any) -> Scalar | None:
        """A scalar from an event: its tag resolved, its value constructed and checked."""
        if tag == _TAG + "merge":
            self.fail(event.start_mark, "yaml-tag",
                      "merge keys (<<) are not supported; write the keys out in full")
            return None
        if tag == _TAG + "value" and implicit:
            tag = _TAG + "str"  # a lone '=' is just text
        if tag not in _PLAIN_TYPES:
            self.fail(event.start_mark, "yaml-tag",
                      f"the tag {tag!r} is not supported; remove it")
            return None
        if not implicit and tag != _TAG + "str":
            # PyYAML's constructors trust their resolver: `!!bool maybe` or `!!int ""` would
            # fail inside them. Only !!str (text, as quotes make it) is taken.
            self.fail(event.start_mark, "yaml-tag",
                      f"the tag {event.tag!r} is not supported; remove it and write the "
                      "value plainly (put text in quotes)")
            return None
        value: object = event.value
        if tag != _TAG + "str":
            node = yaml.ScalarNode(tag, event.value, style=event.style)
            try:
                value = self.constructor.construct_object(node)
            except (ValueError, OverflowError, yaml.YAMLError) as error:
                reason = str(error).splitlines()[0] if str(error) else type(error).__name__
                hint = "; write a real date as YYYY-MM-DD" if tag == _TAG + "timestamp" else ""
                self.fail(event.start_mark, "yaml-value",
                          f"cannot read {event.value!r}: {reason}{hint}")
                return None
        quoted = event.style in _QUOTED_STYLES
        return Scalar(value, event.value, self.position(event.start_mark), quoted)

    def close(self, container: _Open) -> Node:
        if container.kind == "seq":
            return Sequence(tuple(i for i in container.items if i is not None),
                            container.position)
        items = container.items
        return self.mapping(list(zip(items[0::2], items[1::2], strict=False)),
                            container.position)

    def mapping(self, pairs: list[tuple[Node | None, Node | None]],
                position: Position) -> Mapping:
        entries: dict[str, tuple[Position, Node]] = {}
        dropped: set[str] = set()
        for key, value in pairs:
            if key is None:
                continue
            key_position = key.position
            if not isinstance(key, Scalar) or not isinstance(key.value, str):
                if isinstance(key, Scalar) and isinstance(key.value, int) and not key.quoted \
                        and isinstance(value, Scalar) and value.value is None \
                        and not value.text:
                    # `{ value: 4,600 }`: the comma split a number in two, and the second
                    # half became a key with no value.
                    self.errors.append(YamlError(
                        key_position, "yaml-key",
                        f"'{key.text}' stands alone between commas; if it is the end of a "
                        f"number written with a thousands comma, write the number without "
                        "the comma (4600, not 4,600)"))
                    continue
                if isinstance(key, Scalar) and not key.quoted:
                    self.errors.append(YamlError(
                        key_position, "yaml-key",
                        f"the key {key.text!r} is read as {describe(key)}, not as text; "
                        f"quote it: \"{key.text}\":"))
                else:
                    self.errors.append(YamlError(
                        key_position, "yaml-key",
                        f"a key must be plain text, found {describe(key)}; write 'name: value'"))
                continue
            if key.value in entries:
                first = entries[key.value][0]
                self.errors.append(YamlError(
                    key_position, "duplicate-key",
                    f"the key {key.value!r} is given twice (first on line {first.line}); "
                    "YAML would silently keep only the last one: remove one"))
                continue
            if value is not None:
                entries[key.value] = (key_position, value)
            else:
                dropped.add(key.value)
        return Mapping(entries, position, frozenset(dropped))


def _position_in(text: str, offset: int, line_offset: int) -> Position:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Position(line + line_offset, column)


def _syntax_hint(text: str, mark: Any, problem: str) -> str:
    """How to fix the most common syntax errors, in words a note writer knows."""
    if mark is not None and 0 <= mark.index < len(text) and text[mark.index] == "\t":
        return "; a tab is not allowed here: indent with spaces"
    if "end of stream" in problem and mark is not None and 0 <= mark.index < len(text) \
            and text[mark.index] in "'\"":
        return "; this quote is never closed"
    for words, hint in _SYNTAX_HINTS:
        if words in problem:
            return hint
    return "; check this line and the one before: the indentation, and quotes around " \
        "values that hold ': ' or start with a quote"


_BACKSLASH_HINT = ("; in double quotes a backslash starts an escape: write \\\\ for one, or "
                   "use single quotes")
# PyYAML's words for a syntax error, and how a note writer fixes it.
_SYNTAX_HINTS = (
    ("mapping values are not allowed",
     "; if a value contains ': ', put the whole value in quotes; else indent this line "
     "as the keys beside it"),
    ("found character that cannot start any token",
     "; a value starting with @, ` or % must be put in quotes"),
    ("found undefined alias", "; put the value in quotes if * or ! is meant as text"),
    ("found undefined tag", "; put the value in quotes if * or ! is meant as text"),
    ("did not find expected '-' indicator",
     "; every item of a list starts with '- ' at the same indentation"),
    ("did not find expected key",
     "; indent this line as the keys beside it, and quote a value that starts with a "
     "quote but goes on after it"),
    ("block sequence entries are not allowed",
     "; a key takes either a value on its line or a list on the lines below, not both"),
    ("could not find expected ':'",
     "; a key needs ': ' after it, and a value over several lines must be put in quotes"),
    ("invalid Unicode character escape", _BACKSLASH_HINT),
    ("expected hexdecimal number",
     "; in double quotes \\u starts an escape of four hex digits: write \\\\ for a "
     "backslash, or use single quotes"),
    ("found unknown escape character", _BACKSLASH_HINT),
    ("did not find expected <document start>",
     "; the front matter is one list of 'key: value' lines: look for a stray line or quote"),
    ("mapping keys are not allowed",
     "; indent this line as the keys beside it, or quote a value that holds ': '"),
    ("expected ',' or ']'", "; separate the items of [ ] with commas, and quote an item "
                            "that holds a comma or ': '"),
    ("expected ',' or '}'", "; separate the entries of { } with commas, and quote a value "
                            "that holds a comma or ': '"),
)


def parse_yaml(text: str, line_offset: int = 0) -> tuple[Node | None, list[YamlError]]:
    """Parse one YAML document into located nodes.

    `line_offset` is added to every line so positions refer to the whole file.
    Returns the root node (None for an empty document, a syntax error or a
    document too deep or too large to read) and the problems found.
    """
    forbidden = _FORBIDDEN.search(text)
    if forbidden:
        character = ord(forbidden.group())
        return None, [YamlError(_position_in(text, forbidden.start(), line_offset), "yaml-syntax",
                                f"the character U+{character:04X} (a control or non-character) "
                                "is not allowed in YAML; delete it")]
    composer = _Composer(line_offset)
    try:
        tree = composer.compose(text)
    except _TooMuch:
        return None, composer.errors
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        if error.context == "while scanning a quoted scalar" and error.context_mark:
            mark = error.context_mark  # where the unclosed quote opens, not the end of the text
        position = composer.position(mark) if mark else Position(1 + line_offset, 1)
        problem = error.problem or "invalid YAML"
        context = f" {error.context}" if error.context else ""
        hint = _syntax_hint(text, mark, problem)
        return None, [*composer.errors,
                      YamlError(position, "yaml-syntax",
                                f"YAML syntax error: {problem}{context}{hint}")]
    except yaml.YAMLError as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        return None, [*composer.errors, YamlError(Position(1 + line_offset, 1), "yaml-syntax",
                                                  f"YAML syntax error: {first_line}")]
    return tree, composer.errors
