"""Bytes to front matter and body: encodings, line endings and delimiters, each with its line."""

from __future__ import annotations

import pytest

from smreport.model import Position
from smreport.notefile import decode_text, split_front_matter


def test_utf8_passes_through() -> None:
    assert decode_text("---\ntitle: Привет\n---\n".encode()) == ("---\ntitle: Привет\n---\n", None)


def test_a_bom_is_stripped() -> None:
    assert decode_text(b"\xef\xbb\xbf---\n") == ("---\n", None)


def test_crlf_becomes_lf() -> None:
    assert decode_text(b"---\r\na: 1\r\n---\r\nBody\r\n") == ("---\na: 1\n---\nBody\n", None)


@pytest.mark.parametrize(("data", "position"), [
    (b"---\ra: 1\r---\r", Position(1, 4)),  # classic Mac line endings
    (b"---\na: 1\n---\nBody\rmore\n", Position(4, 5)),  # one stray CR in the body
])
def test_a_lone_cr_is_an_error_with_its_position(data: bytes, position: Position) -> None:
    text, error = decode_text(data)
    assert text is None and error is not None
    assert (error.code, error.position) == ("line-endings", position)
    assert "LF or CRLF" in error.message


@pytest.mark.parametrize(("data", "position", "byte"), [
    (b"---\ntitle: caf\xe9\n---\n", Position(2, 11), "0xe9"),
    ("---\ntitle: ё".encode() + b"\xff\n", Position(2, 9), "0xff"),  # column counts characters
    (b"\x80", Position(1, 1), "0x80"),
    (b"---\n" + "\udc80".encode("utf-8", "surrogatepass"), Position(2, 1), "0xed"),
])
def test_invalid_utf8_names_the_byte_line_and_column(data: bytes, position: Position,
                                                    byte: str) -> None:
    text, error = decode_text(data)
    assert text is None and error is not None
    assert (error.code, error.position) == ("encoding", position)
    assert byte in error.message and "save it as UTF-8" in error.message


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_are_named(encoding: str) -> None:
    text, error = decode_text("---\ntitle: x\n---\nBody\n".encode(encoding))
    assert text is None and error is not None and error.code == "encoding"
    assert "UTF-16" in error.message or "NUL" in error.message


def test_a_nul_byte_is_a_binary_file() -> None:
    text, error = decode_text(b"---\ntitle: x\n---\nsome\x00binary data with many words\n")
    assert text is None and error is not None
    assert (error.code, error.position) == ("encoding", Position(4, 5))
    assert "binary" in error.message


def test_a_note_is_split_with_the_lines_where_each_part_starts() -> None:
    split, error = split_front_matter("---\ntitle: x\nowner: y\n---\nBody line\n")
    assert error is None and split is not None
    assert split.front_matter == "title: x\nowner: y"
    assert split.front_matter_line == 1  # the YAML's line 1 is the file's line 2
    assert split.body == "Body line\n"
    assert split.body_line == 5


def test_delimiters_may_have_trailing_spaces() -> None:
    split, error = split_front_matter("--- \ntitle: x\n---  \nBody\n")
    assert error is None and split is not None and split.body == "Body\n"


def test_an_empty_body_is_allowed_here() -> None:
    split, error = split_front_matter("---\ntitle: x\n---")
    assert error is None and split is not None and split.body == ""


def test_a_block_scalar_cannot_hide_the_closing_line() -> None:
    # YAML would read `---` inside a block scalar as text; the note format does not.
    split, _ = split_front_matter("---\nbody: |\n  a\n---\n  b\n---\nreal body\n")
    assert split is not None
    assert split.front_matter == "body: |\n  a"
    assert split.body == "  b\n---\nreal body\n"


@pytest.mark.parametrize(("text", "position", "words"), [
    ("---\ntitle: x\n", Position(1, 1), "never closed"),
    ("---", Position(1, 1), "never closed"),
    ("---\ntitle: x\n...\nBody\n", Position(3, 1), "must end with '---', not '...'"),
    ("+++\ntitle = 'x'\n+++\n", Position(1, 1), "TOML front matter (+++) is not supported"),
    ('{"title": "x"}\nBody\n', Position(1, 1), "JSON front matter is not supported"),
    ("", Position(1, 1), "the file is empty"),
    ("   \n\n", Position(1, 1), "the file is empty"),
    ("# A heading\n---\ntitle: x\n---\n", Position(1, 1), "must start with a line '---'"),
    (" ---\ntitle: x\n---\n", Position(1, 1), "must start with a line '---'"),
    ("----\ntitle: x\n----\n", Position(1, 1), "must start with a line '---'"),
])
def test_front_matter_delimiter_problems(text: str, position: Position, words: str) -> None:
    split, error = split_front_matter(text)
    assert split is None and error is not None
    assert (error.code, error.position) == ("front-matter", position)
    assert words in error.message


CONFLICT = "<<<<<<< HEAD\ndue: 2026-06-30\n=======\ndue: 2026-09-30\n>>>>>>> extend-the-goal\n"


@pytest.mark.parametrize("text, line", [
    (f"---\ntitle: Grow\n{CONFLICT}---\nWhy.\n", 3),  # in the front matter
    (f"---\ntitle: Grow\n---\nWhy.\n\n{CONFLICT}", 6),  # in the body, which would be published
    (f"---\ntitle: Grow\n---\n{CONFLICT.replace(' HEAD', '')}".replace(">>>>>>> extend-the-goal",
                                                                      ">>>>>>>"), 4),
])
def test_a_merge_conflict_left_in_a_file_is_named_at_its_first_marker(text: str,
                                                                      line: int) -> None:
    decoded, failure = decode_text(text.encode())
    assert decoded is None and failure is not None
    assert (failure.code, failure.position) == ("merge-conflict", Position(line, 1))
    assert "merge conflict" in failure.message and "delete the markers" in failure.message


@pytest.mark.parametrize("text", [
    "---\ntitle: Grow\n---\nA heading\n=======\n\nand text\n",  # a setext heading's underline
    "---\ntitle: Grow\n---\nQuoting git: <<<<<<< HEAD, then ======= and >>>>>>> x.\n",
    "---\ntitle: Grow\n---\n<<<<<<< an opening alone\n\n>>>>>>> and a closing\n",
    "---\ntitle: Grow\n---\n" + "<<<<<<< x\n" * 20_000,  # one pass, however many markers
])
def test_what_only_looks_like_a_conflict_is_not_one(text: str) -> None:
    assert decode_text(text.encode()) == (text, None)
