"""YAML text to a tree of values that remember where they were written.

PyYAML's composer gives node marks; this module turns its nodes into small
located values and refuses what YAML 1.1 would otherwise pass on silently:
duplicate keys, aliases (and so alias bombs), non-string keys, unknown tags.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import yaml

from .model import Position

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


@dataclass(frozen=True, slots=True)
class YamlError:
    """A problem found while reading YAML: position, code and message."""

    position: Position
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Scalar:
    value: object  # str, int, float, bool, None, date or datetime
    text: str  # the scalar as written (without quotes)
    position: Position
    quoted: bool


@dataclass(frozen=True, slots=True)
class Sequence:
    items: tuple[Node, ...]
    position: Position


@dataclass(frozen=True, slots=True)
class Mapping:
    entries: dict[str, tuple[Position, Node]]  # key -> (key position, value)
    position: Position

    def get(self, key: str) -> Node | None:
        entry = self.entries.get(key)
        return entry[1] if entry else None

    def key_position(self, key: str) -> Position:
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
        return f"the number {value} (written {node.text!r})"
    if isinstance(value, dt.datetime):
        return f"a date and time ({node.text!r})"
    if isinstance(value, dt.date):
        return f"a date ({node.text!r})"
    return f"the text {node.text!r}"


class _Converter:
    """Walks composed nodes once, converting and checking as it goes."""

    def __init__(self, line_offset: int) -> None:
        self.line_offset = line_offset
        self.errors: list[YamlError] = []
        self.seen: set[int] = set()
        self.count = 0
        self.constructor = yaml.constructor.SafeConstructor()

    def position(self, node: yaml.Node) -> Position:
        mark = node.start_mark
        return Position(mark.line + 1 + self.line_offset, mark.column + 1)

    def fail(self, node: yaml.Node, code: str, message: str) -> None:
        self.errors.append(YamlError(self.position(node), code, message))

    def convert(self, node: yaml.Node, depth: int = 0) -> Node | None:
        self.count += 1
        if self.count > _MAX_NODES:
            if self.count == _MAX_NODES + 1:
                self.fail(node, "yaml-too-large",
                          f"front matter has more than {_MAX_NODES} values; split the note")
            return None
        if depth > _MAX_DEPTH:
            self.fail(node, "yaml-too-deep", f"values nested deeper than {_MAX_DEPTH} levels")
            return None
        if id(node) in self.seen:
            # The composer returns the anchored node again for each alias; the
            # alias itself was reported by _find_anchors, so just never expand it.
            return None
        self.seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            return self.convert_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            self.check_collection_tag(node, "seq")
            items = [self.convert(item, depth + 1) for item in node.value]
            return Sequence(tuple(i for i in items if i is not None), self.position(node))
        if isinstance(node, yaml.MappingNode):
            self.check_collection_tag(node, "map")
            return self.convert_mapping(node, depth)
        return None  # pragma: no cover - PyYAML has no other node kinds

    def check_collection_tag(self, node: yaml.Node, kind: str) -> None:
        if node.tag != _TAG + kind:
            self.fail(node, "yaml-tag", f"the tag {node.tag!r} is not supported; remove it")

    def convert_scalar(self, node: yaml.ScalarNode) -> Scalar | None:
        quoted = node.style in ("'", '"', "|", ">")
        if node.tag not in _PLAIN_TYPES:
            self.fail(node, "yaml-tag", f"the tag {node.tag!r} is not supported; remove it")
            return None
        try:
            value = node.value if node.tag == _TAG + "str" else \
                self.constructor.construct_object(node)
        except (ValueError, OverflowError, yaml.YAMLError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            self.fail(node, "yaml-value", f"cannot read {node.value!r}: {reason}")
            return None
        return Scalar(value, node.value, self.position(node), quoted)

    def convert_mapping(self, node: yaml.MappingNode, depth: int) -> Mapping:
        entries: dict[str, tuple[Position, Node]] = {}
        for key_node, value_node in node.value:
            key = self.convert(key_node, depth + 1)
            value = self.convert(value_node, depth + 1)
            if key is None:
                continue
            key_position = key.position
            if not isinstance(key, Scalar) or not isinstance(key.value, str):
                if isinstance(key, Scalar) and not key.quoted:
                    self.errors.append(YamlError(
                        key_position, "yaml-key",
                        f"the key {key.text!r} is read as {describe(key)}, not as text; "
                        f"quote it: \"{key.text}\":"))
                else:
                    self.errors.append(YamlError(
                        key_position, "yaml-key", "keys must be plain text, not lists or mappings"))
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
        return Mapping(entries, self.position(node))


def _find_anchors(text: str, line_offset: int) -> list[YamlError]:
    """Report every anchor and alias: they make alias bombs and hide values."""
    errors: list[YamlError] = []
    for event in yaml.parse(text, Loader=_Loader):
        mark = event.start_mark
        position = Position(mark.line + 1 + line_offset, mark.column + 1)
        if isinstance(event, yaml.AliasEvent):
            errors.append(YamlError(position, "yaml-alias",
                                    f"YAML aliases (*{event.anchor}) are not allowed; "
                                    "write the value out in full"))
        elif getattr(event, "anchor", None):
            errors.append(YamlError(position, "yaml-alias",
                                    f"YAML anchors (&{event.anchor}) are not allowed; "
                                    "remove it and write values out in full"))
        if len(errors) >= 10:
            break
    return errors


def parse_yaml(text: str, line_offset: int = 0) -> tuple[Node | None, list[YamlError]]:
    """Parse one YAML document into located nodes.

    `line_offset` is added to every line so positions refer to the whole file.
    Returns the root node (None for an empty document or a syntax error) and
    the problems found.
    """
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        position = Position(mark.line + 1 + line_offset, mark.column + 1) if mark \
            else Position(1 + line_offset, 1)
        problem = error.problem or "invalid YAML"
        context = f" {error.context}" if error.context else ""
        return None, [YamlError(position, "yaml-syntax",
                                f"YAML syntax error: {problem}{context}")]
    except yaml.YAMLError as error:
        return None, [YamlError(Position(1 + line_offset, 1), "yaml-syntax",
                                f"YAML syntax error: {error}")]
    except RecursionError:
        return None, [YamlError(Position(1 + line_offset, 1), "yaml-too-deep",
                                "the YAML is nested too deeply to read")]
    if root is None:
        return None, []
    converter = _Converter(line_offset)
    if "&" in text or "*" in text:
        converter.errors.extend(_find_anchors(text, line_offset))
    try:
        tree = converter.convert(root)
    except RecursionError:  # pragma: no cover - guarded by _MAX_DEPTH
        return None, [YamlError(Position(1 + line_offset, 1), "yaml-too-deep",
                                "the YAML is nested too deeply to read")]
    return tree, converter.errors
