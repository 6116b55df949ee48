"""Split a note file's bytes into YAML front matter and a Markdown body.

Written by hand rather than with python-frontmatter because that library
gives no line numbers and silently returns empty metadata for a BOM, a
missing closing `---` or CR-only line endings; here each of those is a
problem with its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import Position


@dataclass(frozen=True, slots=True)
class FileError:
    """A problem with the file as a whole: its encoding, line endings or delimiters."""

    position: Position
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class SplitNote:
    """A note's front matter and body, with the lines where each starts."""

    front_matter: str  # the YAML text between the delimiters
    front_matter_line: int  # file line of the first YAML line, minus one (an offset)
    body: str
    body_line: int  # file line where the body starts


def decode_text(data: bytes) -> tuple[str | None, FileError | None]:
    """Decode UTF-8 (a BOM is tolerated) and normalise CRLF to LF."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, FileError(Position(1, 1), "encoding",
                               "the file is UTF-16; save it as UTF-8")
    if b"\x00" in data:
        # Checked before decoding: a NUL marks a binary file or UTF-16, whatever else is wrong.
        offset = data.index(b"\x00")
        line = data.count(b"\n", 0, offset) + 1
        line_start = data.rfind(b"\n", 0, offset) + 1
        column = len(data[line_start:offset].decode("utf-8", "replace")) + 1
        if _looks_like_utf16(data):
            message = "the file seems to be UTF-16 (it has a NUL byte every other byte); " \
                      "save it as UTF-8"
        else:
            message = "the file contains a NUL byte, so it is not a text note; " \
                      "is it a binary file? Save it as UTF-8 text or move it out of the folder"
        return None, FileError(Position(line, column), "encoding", message)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        line_start = data.rfind(b"\n", 0, error.start) + 1
        column = len(data[line_start:error.start].decode("utf-8", "replace")) + 1
        return None, FileError(Position(line, column), "encoding",
                               f"byte 0x{data[error.start]:02x} is not valid UTF-8: the file "
                               "was saved in another encoding (such as Windows-1251 or "
                               "Latin-1); save it as UTF-8")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            offset = text.index("\r")
            line = text.count("\n", 0, offset) + 1
            return None, FileError(Position(line, offset - text.rfind("\n", 0, offset)),
                                   "line-endings",
                                   "a lone carriage return (CR) ends a line; "
                                   "save the file with LF or CRLF line endings")
    if "<<<<<<<" in text:  # cheap: the full look only for files that hold the marker
        line = _conflict_line(text)
        if line:
            return None, FileError(Position(line, 1), "merge-conflict",
                                   "the file holds an unresolved git merge conflict (the "
                                   "<<<<<<<, ======= and >>>>>>> lines); keep the right "
                                   "version of the lines between them and delete the markers")
    return text, None


_MARKER = re.compile(r"^(<{7}|={7}|>{7})(?: .*)?$", re.MULTILINE)


def _conflict_line(text: str) -> int:
    """The line of a merge conflict's "<<<<<<<" when "=======" and ">>>>>>>" lines follow it
    (a lone "=======" is a Markdown heading's underline), else 0. One pass over the
    markers, however many there are."""
    opened, divided = -1, False
    for marker in _MARKER.finditer(text):
        kind = marker.group(1)[0]
        if kind == "<":
            opened, divided = marker.start(), False
        elif kind == "=" and opened >= 0:
            divided = True
        elif kind == ">" and divided:
            return text.count("\n", 0, opened) + 1
    return 0


def _looks_like_utf16(data: bytes) -> bool:
    """UTF-16 text without a BOM: about every other byte is NUL."""
    return len(data) >= 4 and data.count(b"\x00") * 5 >= len(data) * 2


def split_front_matter(text: str) -> tuple[SplitNote | None, FileError | None]:
    """Find the front matter between a first line `---` and the next `---` line."""
    first_line, newline, rest = text.partition("\n")
    if first_line.rstrip() != "---":
        stripped = first_line.strip()
        if stripped == "+++":
            hint = "TOML front matter (+++) is not supported; write YAML between --- lines"
        elif stripped.startswith("{"):
            hint = "JSON front matter is not supported; write YAML between --- lines"
        elif not text.strip():
            hint = "the file is empty; it needs front matter between --- lines"
        else:
            hint = "a note must start with a line '---', then YAML front matter, then '---'"
        return None, FileError(Position(1, 1), "front-matter", hint)
    if not newline:
        return None, FileError(Position(1, 1), "front-matter",
                               "the front matter opened on line 1 is never closed; "
                               "add a line '---' after it")
    lines = rest.split("\n")
    for index, line in enumerate(lines):
        if line.rstrip() == "---":
            front = "\n".join(lines[:index])
            body = "\n".join(lines[index + 1:])
            return SplitNote(front, 1, body, index + 3), None
        if line.rstrip() == "...":  # YAML's own end-of-document marker
            return None, FileError(Position(index + 2, 1), "front-matter",
                                   "the front matter must end with '---', not '...'")
    return None, FileError(Position(1, 1), "front-matter",
                           "the front matter opened on line 1 is never closed; "
                           "add a line '---' after it")
