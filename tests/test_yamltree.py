"""YAML to located values: positions, and everything YAML 1.1 would let pass silently refused."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from smreport import yamltree
from smreport.model import Position
from smreport.yamltree import Mapping, Scalar, Sequence, YamlError, describe, parse_yaml


def read(text: str, offset: int = 0) -> tuple[Mapping, list[YamlError]]:
    tree, errors = parse_yaml(text, offset)
    assert isinstance(tree, Mapping), (tree, errors)
    return tree, errors


def codes(errors: list[YamlError]) -> list[str]:
    return [e.code for e in errors]


def test_values_keep_their_line_and_column_shifted_by_the_offset() -> None:
    tree, errors = read("title: Leads\nkpis:\n  - { id: leads, target: 2.5 }\n", offset=1)
    assert errors == []
    assert tree.key_position("title") == Position(2, 1)
    title = tree.get("title")
    assert isinstance(title, Scalar) and title.value == "Leads" and title.position == Position(2, 8)
    kpis = tree.get("kpis")
    assert isinstance(kpis, Sequence) and kpis.position == Position(4, 3)
    kpi = kpis.items[0]
    assert isinstance(kpi, Mapping) and kpi.key_position("target") == Position(4, 18)
    target = kpi.get("target")
    assert isinstance(target, Scalar) and target.value == 2.5


def test_scalars_are_typed_as_yaml_11_types_them_and_remember_quoting() -> None:
    tree, _ = read('a: no\nb: "no"\nc: 0012\nd: 2026-03-01\ne: ~\nf: |\n  block\n')
    values = {key: tree.get(key) for key in "abcdef"}
    assert values["a"] == Scalar(False, "no", Position(1, 4), False)
    assert values["b"] == Scalar("no", "no", Position(2, 4), True)
    assert values["c"] == Scalar(10, "0012", Position(3, 4), False)  # octal, as YAML 1.1 reads it
    assert values["d"] == Scalar(dt.date(2026, 3, 1), "2026-03-01", Position(4, 4), False)
    assert values["e"] == Scalar(None, "~", Position(5, 4), False)
    assert values["f"] == Scalar("block\n", "block\n", Position(6, 4), True)


def test_a_scalar_read_again_is_read_as_the_first_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scalars seen before take a shorter path (the same values repeat in every note):
    it must give what the full path gave, quoting and position included, and still
    refuse an anchor on a value it knows."""
    monkeypatch.setattr("smreport.yamltree._PLAIN_SCALARS", {})
    text = ('a: no\nb: "no"\nc: \'no\'\nd: 0012\ne: 2026-03-01\nf: ~\ng: |\n  block\n'
            "h: [no, 2026-03-01, x]\n")
    first, first_errors = parse_yaml(text, 3)
    assert len(yamltree._PLAIN_SCALARS) >= 8  # the second read can take the shorter path
    second, second_errors = parse_yaml(text, 3)
    assert first_errors == second_errors == []
    assert second == first and second is not first
    assert isinstance(second, Mapping) and second.get("c") == Scalar("no", "no", Position(6, 4),
                                                                     True)
    _, errors = parse_yaml("a: &x no\n")
    assert [e.code for e in errors] == ["yaml-alias"]


@pytest.mark.parametrize(("text", "words"), [
    ("a: no", "the boolean false (written 'no')"),
    ("a: 0012", "the number 10 (written '0012')"),
    ("a: 2026-01-01", "a date ('2026-01-01')"),
    ("a: 2026-01-01 10:00:00", "a date and time ('2026-01-01 10:00:00')"),
    ("a: ~", "nothing (an empty value)"),
    ("a: [x]", "a list"),
    ("a: {x: 1}", "a mapping"),
    ("a: x", "the text 'x'"),
])
def test_describe_names_what_was_found(text: str, words: str) -> None:
    tree, _ = read(text)
    node = tree.get("a")
    assert node is not None and describe(node) == words


def test_duplicate_keys_are_refused_at_the_second() -> None:
    tree, errors = read("a: 1\nb: 2\na: 3\n")
    assert [(e.code, e.position) for e in errors] == [("duplicate-key", Position(3, 1))]
    assert "first on line 1" in errors[0].message
    first = tree.get("a")
    assert isinstance(first, Scalar) and first.value == 1  # the first one is kept, not the last


def test_non_string_keys_are_refused() -> None:
    _, errors = parse_yaml("1: a\ntrue: b\n? [x]\n: c\n2026-01-01: d\n\"ok\": e\n")
    assert [(e.code, e.position.line) for e in errors] == [
        ("yaml-key", 1), ("yaml-key", 2), ("yaml-key", 3), ("yaml-key", 5)]
    assert 'quote it: "true":' in errors[1].message
    assert "found a list" in errors[2].message


@pytest.mark.parametrize("key", ["content", "handler", "metadata", "__class__", "<<<", "items"])
def test_keys_some_libraries_treat_specially_are_plain_keys(key: str) -> None:
    tree, errors = read(f"{key}: value\n")
    assert errors == [] and list(tree.entries) == [key]


def test_anchors_and_aliases_are_refused_and_never_expanded() -> None:
    tree, errors = read("a: &x [1, 2]\nb: *x\n")
    assert [(e.code, e.position) for e in errors] == [("yaml-alias", Position(1, 4)),
                                                      ("yaml-alias", Position(2, 4))]
    # The aliased value is dropped, and remembered as refused so no one reports it missing.
    assert tree.get("b") is None and "b" in tree.dropped


def test_an_alias_bomb_is_refused_quickly_and_reported_briefly() -> None:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 10) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 12)]
    started = time.perf_counter()
    _, errors = parse_yaml("\n".join(lines))
    assert time.perf_counter() - started < 0.5
    assert set(codes(errors)) == {"yaml-alias"} and len(errors) == 10


def test_merge_keys_are_refused() -> None:
    _, errors = parse_yaml("base: &b {x: 1}\nother:\n  <<: *b\n")
    assert "merge keys (<<) are not supported" in " ".join(e.message for e in errors)


@pytest.mark.parametrize("text", ["a: !!python/object:os.system ls", "a: !custom x",
                                  "a: !!binary aGVsbG8=", "a: !!set {x}", "a: !!omap [x: 1]"])
def test_tags_are_refused(text: str) -> None:
    _, errors = parse_yaml(text)
    assert "yaml-tag" in codes(errors)


def test_only_the_str_tag_is_accepted() -> None:
    tree, errors = read("a: !!str 12\nb: ! 0012\n")
    assert errors == []
    for key, text in (("a", "12"), ("b", "0012")):
        value = tree.get(key)
        assert isinstance(value, Scalar) and value.value == text


TAGS = ("!!bool", "!!int", "!!float", "!!null", "!!timestamp", "!!str", "!!binary", "!x")
VALUES = ("", '""', "maybe", "+", "-", "0x", "1", "1.5", "~", "yes", "soon", "2026-02-30",
          "2026-01-01", "1e999999", "[1]", "{a: 1}", "'q'")


@pytest.mark.parametrize("tag", TAGS)
def test_any_tag_on_any_value_is_a_problem_or_text_never_a_crash(tag: str) -> None:
    """PyYAML's constructors raise KeyError, IndexError or AttributeError on values their
    resolver would never pass them (`!!bool maybe`, `!!int ""`, `!!timestamp soon`)."""
    for value in VALUES:
        tree, errors = parse_yaml(f"a: {tag} {value}\n")
        if tag == "!!str" and not value.startswith(("[", "{")):
            assert {e.code for e in errors} <= {"yaml-syntax"}, value  # `!!str -` is a list
        else:
            assert errors and {e.code for e in errors} <= {"yaml-tag", "yaml-syntax"}, value
            assert all(e.position.line == 1 for e in errors)


@pytest.mark.parametrize(("opening", "closing"), [("[", "]"), ("{a: ", "}"), ("- ", "")])
def test_deep_nesting_is_refused_without_recursion(opening: str, closing: str) -> None:
    # 100 000 levels used to overflow the C stack inside PyYAML's composer (a segfault).
    depth = 100_000
    text = "a: " + opening * depth + "x" + closing * depth if closing else \
        "a:\n  " + opening * depth + "x"
    started = time.perf_counter()
    tree, errors = parse_yaml(text)
    assert time.perf_counter() - started < 1
    assert tree is None and codes(errors) == ["yaml-too-deep"]
    assert "flatten" in errors[0].message


def test_forty_levels_are_fine() -> None:
    tree, errors = parse_yaml("a: " + "[" * 39 + "x" + "]" * 39)
    assert errors == [] and tree is not None


def test_too_many_values_are_refused() -> None:
    text = "a: [" + ", ".join(["1"] * 60_000) + "]"
    started = time.perf_counter()
    tree, errors = parse_yaml(text)
    assert time.perf_counter() - started < 3
    assert tree is None and codes(errors) == ["yaml-too-large"]


@pytest.mark.parametrize(("text", "position", "words"), [
    ("a: b\x01c", Position(1, 5), "U+0001"),
    ("a: b\nc: \x7f", Position(2, 4), "U+007F"),
    ("a: \ud800", Position(1, 4), "U+D800"),  # a lone surrogate
    ("a: \ufffe", Position(1, 4), "U+FFFE"),
    ("a: ok\nb: x\x1b[31m", Position(2, 5), "U+001B"),  # a terminal escape
])
def test_forbidden_characters_are_located(text: str, position: Position, words: str) -> None:
    tree, errors = parse_yaml(text)
    assert tree is None
    assert [(e.code, e.position) for e in errors] == [("yaml-syntax", position)]
    assert words in errors[0].message and "delete it" in errors[0].message


def test_tabs_and_unicode_text_are_fine_where_yaml_allows_them() -> None:
    tree, errors = read('a: "tab\there"\nb: Привет, мир 👋\n')
    assert errors == []
    b = tree.get("b")
    assert isinstance(b, Scalar) and b.value == "Привет, мир 👋"


@pytest.mark.parametrize(("text", "position", "hint"), [
    ("title: Leads: doubled", Position(1, 13), "put the whole value in quotes"),
    ("a:\n\t- b", Position(2, 1), "indent with spaces"),
    ("a: @home", Position(1, 4), "must be put in quotes"),
    ("a: 1\nb: \"open\nc: 2", Position(2, 4), "this quote is never closed"),
    ("a: [1, 2", Position(2, 1), ""),
])
def test_syntax_errors_have_a_position_and_a_hint(text: str, position: Position,
                                                  hint: str) -> None:
    tree, errors = parse_yaml(text)
    assert tree is None
    assert [(e.code, e.position) for e in errors] == [("yaml-syntax", position)]
    assert errors[0].message.startswith("YAML syntax error: ")
    assert hint in errors[0].message
    assert "\n" not in errors[0].message  # one problem, one line


def test_a_second_document_is_refused() -> None:
    tree, errors = parse_yaml("a: 1\n--- b\n")
    assert tree is None and codes(errors) == ["yaml-syntax"]
    assert "more than one YAML document" in errors[0].message


def test_an_impossible_date_is_a_value_error() -> None:
    tree, errors = read("due: 2026-02-30\n")
    assert [(e.code, e.position) for e in errors] == [("yaml-value", Position(1, 6))]
    assert "day is out of range" in errors[0].message and "YYYY-MM-DD" in errors[0].message
    assert "due" in tree.dropped


def test_an_empty_document_is_none_without_problems() -> None:
    assert parse_yaml("") == (None, [])
    assert parse_yaml("# only a comment\n") == (None, [])


def test_a_lone_equals_sign_is_text() -> None:
    tree, errors = read("a: =\n")
    value = tree.get("a")
    assert errors == [] and isinstance(value, Scalar) and value.value == "="


def test_top_level_lists_and_scalars_are_returned_as_they_are() -> None:
    listed, errors = parse_yaml("- a\n- b\n")
    assert errors == [] and isinstance(listed, Sequence) and len(listed.items) == 2
    single, errors = parse_yaml("just text")
    assert errors == [] and isinstance(single, Scalar) and single.value == "just text"


def test_a_thousands_comma_in_a_flow_mapping_is_named_as_such() -> None:
    """`{ value: 4,600 }` reads as value 4 and a key 600 with no value: the fix is the
    number, not quoting the key."""
    _tree, errors = parse_yaml("r: { kpi: a, value: 4,600 }\n")
    [error] = errors
    assert (error.code, error.position.column) == ("yaml-key", 23)
    assert "write the number without the comma (4600, not 4,600)" in error.message


@pytest.mark.parametrize(("text", "hint"), [
    ("a:\n  b: 1\n c: 2\n", "indent this line as the keys beside it"),
    ("a: b\nc\n", "a key needs ': ' after it"),
    ("a: 'x' y\n", "quote a value that starts with a quote but goes on after it"),
    ('a: "C:\\q"\n', "write \\\\ for one, or use single quotes"),
    ('a: "\\uZZZZ"\n', "\\u starts an escape of four hex digits"),
    ("a: [x, y\n", "separate the items of [ ] with commas"),
    ("a:\n  - x\n  y: 1\n", "every item of a list starts with '- '"),
    ("   target: 2\nb: 1\n", "look for a stray line or quote"),
])
def test_every_syntax_error_says_how_to_fix_it(text: str, hint: str) -> None:
    """PyYAML's words alone ("did not find expected key while parsing a block mapping")
    do not tell a note writer what to change."""
    _tree, errors = parse_yaml(text)
    [error] = errors
    assert error.code == "yaml-syntax"
    assert hint in error.message, error.message
