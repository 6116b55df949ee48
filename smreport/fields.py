"""Typed reading of front-matter fields, reporting every problem with its position.

A `Fields` wraps one YAML mapping. Each accessor returns the value or None and
records a problem that says what was expected, what was found and how to fix it.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from .model import START, Position, Problem, Severity
from .yamltree import Mapping, Node, Scalar, Sequence, describe

ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,79}")
MONTH_PATTERN = re.compile(r"(\d{4})-(\d{2})")
DATE_PATTERN = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
# Bounds that keep arithmetic on values finite (charts, progress, due dates).
MAX_NUMBER = 1e15
# A number as people write it: digits, a point, an exponent (YAML 1.1 needs its sign).
PLAIN_NUMBER = re.compile(r"[-+]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)"
                          r"(?:[eE][-+]?[0-9]+)?")
EXPONENT = re.compile(r"[-+]?\d+(\.\d*)?[eE][-+]?\d{1,3}")
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2999, 12, 31)

T = TypeVar("T")


def is_valid_id(text: str) -> bool:
    return ID_PATTERN.fullmatch(text) is not None


def suggest_id(text: str) -> str:
    """Turn any name into a valid id: ASCII, lowercase, hyphens; Cyrillic and other
    scripts transliterated as `smreport new` does ("Удвоить заявки" gives
    "udvoit-zaiavki"), so a note named in Russian is told a name it can take."""
    from slugify import slugify  # noqa: PLC0415 - only for a problem's message

    return slugify(text, max_length=80, word_boundary=True, save_order=True) or "note"


# Unicode's embedding, override and isolate controls (Trojan Source), as a regex range: an
# override left open in a title would reverse the words the site, the calendar and the feed
# write around it; in an id, an address or an e-mail they are refused.
BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")
_PDF, _PDI = "\u202c", "\u2069"
# Control characters a page or calendar cannot show (tab and line feed aside).
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def isolated(text: str) -> str:
    """`text` as written; one holding bidi controls has what it leaves open closed, its
    stray closers dropped, and is wrapped in an isolate (FSI ... PDI), so it cannot reach
    the words around it."""
    if _BIDI.search(text) is None:
        return text
    kept: list[str] = []
    open_: list[str] = []  # the closer each opened embedding, override or isolate awaits
    for character in text:
        if character in "\u202a\u202b\u202d\u202e":
            open_.append(_PDF)
        elif character in "\u2066\u2067\u2068":
            open_.append(_PDI)
        elif character == _PDI:
            if _PDI not in open_:
                continue  # a stray one would close the isolate around the text
            while open_.pop() != _PDI:  # it also ends what was opened inside the isolate
                pass
        elif character == _PDF:
            if not open_ or open_[-1] != _PDF:
                continue  # it cannot close across an isolate
            open_.pop()
        kept.append(character)
    return "\u2068" + "".join(kept) + "".join(reversed(open_)) + _PDI


@dataclass
class Report:
    """Collects the problems of one file."""

    path: str
    problems: list[Problem] = field(default_factory=list)

    def add(self, position: Position, severity: Severity, code: str, message: str) -> None:
        self.problems.append(
            Problem(self.path, position.line, position.column, severity, code, message))

    def error(self, position: Position, code: str, message: str) -> None:
        self.add(position, "error", code, message)

    def warning(self, position: Position, code: str, message: str) -> None:
        self.add(position, "warning", code, message)

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)


class Fields:
    """Reads the keys of one mapping; `prefix` names it in messages and positions."""

    def __init__(self, mapping: Mapping, report: Report, known: tuple[str, ...] | None,
                 prefix: str = "", anchor: Position = START,
                 positions: dict[str, Position] | None = None) -> None:
        self.mapping = mapping
        self.report = report
        self.prefix = prefix
        self.anchor = anchor
        self.positions: dict[str, Position] = {} if positions is None else positions
        for key, (position, _value) in mapping.entries.items():
            self.positions[self.name(key)] = position
            if known is not None and key not in known:
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else \
                    f"; known keys here: {', '.join(known)}"
                report.warning(position, "unknown-key",
                               f"unknown key {self.name(key)!r}{hint}")

    # -- helpers ----------------------------------------------------------

    def name(self, key: str) -> str:
        # Interned: every note repeats the same dotted names ("set.kpis[0].target").
        return sys.intern(f"{self.prefix}.{key}") if self.prefix else key

    def has(self, key: str) -> bool:
        """True when `key` is written, even if the YAML reader refused its value."""
        return key in self.mapping.entries or key in self.mapping.dropped

    def position(self, key: str) -> Position:
        """Where the value of `key` was written (or where it should be)."""
        node = self.mapping.get(key)
        return node.position if node else self.anchor

    def node(self, key: str, required: bool, what: str) -> Node | None:
        """The value of `key`, or None when it is absent, empty (`key:` or `~`) or refused.

        A required key that is absent or empty is reported; a value the YAML reader
        already refused (an alias, a tag) is not reported a second time.
        """
        if key in self.mapping.dropped:
            return None
        node = self.mapping.get(key)
        if node is None:
            if required:
                self.report.error(self.anchor, "missing-field",
                                  f"{self.name(key)!r} is required: {what}")
            return None
        if isinstance(node, Scalar) and node.value is None and not node.quoted:
            if required:
                self.report.error(node.position, "missing-field",
                                  f"{self.name(key)!r} is empty; it needs {what}")
            return None
        return node

    def is_empty(self, key: str) -> bool:
        """True when `key` is written with no value (`key:` or `key: ~`)."""
        node = self.mapping.get(key)
        return isinstance(node, Scalar) and node.value is None and not node.quoted

    def wrong(self, node: Node, key: str, expected: str, code: str = "wrong-type") -> None:
        self.report.error(node.position, code,
                          f"{self.name(key)!r} must be {expected}, found {describe(node)}")

    # -- scalars ----------------------------------------------------------

    def text(self, key: str, required: bool = True, what: str = "some text",
             allow_empty: bool = False, words: bool = True) -> str | None:
        node = self.node(key, required, what)
        return self.text_of(node, key, allow_empty, words) if node else None

    def text_of(self, node: Node, key: str, allow_empty: bool = False,
                words: bool = True) -> str | None:
        """A text value. `words` (titles, names, positions) have bidi controls isolated
        (see `isolated`); an id, an address or a choice is taken as written, and its own
        pattern refuses them."""
        if isinstance(node, Scalar) and isinstance(node.value, str):
            if not allow_empty and not node.value.strip():
                self.report.error(node.position, "missing-field",
                                  f"{self.name(key)!r} is empty; write some text")
                return None
            control = _CONTROL_CHARACTERS.search(node.value)
            if control is not None:  # only an escape ("\v", "\x1b") can write one
                self.report.error(node.position, "bad-value",
                                  f"{self.name(key)!r} holds the control character "
                                  f"U+{ord(control.group()):04X} (written as an escape); "
                                  "remove it")
                return None
            return isolated(node.value) if words else node.value
        if isinstance(node, Scalar) and not node.quoted:
            # A list item is written without a key: `[ belov, "no" ]`, `- "no"`.
            last = key.rpartition(".")[2]
            written = f'"{node.text}"' if last.endswith("]") else f'{last}: "{node.text}"'
            self.report.error(node.position, "quote-value",
                              f"{self.name(key)!r} is read as {describe(node)}, not as text; "
                              f"quote it: {written}")
            return None
        self.wrong(node, key, "text")
        return None

    def id(self, key: str, required: bool = True, what: str = "an id") -> str | None:
        node = self.node(key, required, what)
        return self.id_of(node, key) if node else None

    def id_of(self, node: Node, key: str) -> str | None:
        """Read an id: lowercase letters, digits and hyphens, written as text."""
        text = self.text_of(node, key, allow_empty=True, words=False)
        if text is None:
            return None
        if not text.strip():
            self.report.error(node.position, "missing-field",
                              f"{self.name(key)!r} is empty; write an id (lowercase letters, "
                              "digits and hyphens)")
            return None
        if not is_valid_id(text):
            self.report.error(node.position, "bad-id",
                              f"{self.name(key)!r} is {text!r}, not a valid id (lowercase "
                              f"letters, digits and hyphens); did you mean {suggest_id(text)!r}?")
            return None
        return text

    def date(self, key: str, required: bool = True) -> dt.date | None:
        """A date written YYYY-MM-DD, between MIN_DATE and MAX_DATE."""
        node = self.node(key, required, "a date written YYYY-MM-DD")
        if node is None:
            return None
        found: dt.date | None = None
        if isinstance(node, Scalar):
            value = node.value
            if isinstance(value, dt.date) and not isinstance(value, dt.datetime) \
                    and DATE_PATTERN.fullmatch(node.text):
                found = value
            elif isinstance(value, str) and DATE_PATTERN.fullmatch(value.strip()):
                try:
                    found = dt.date.fromisoformat(value.strip())
                except ValueError:
                    self.report.error(node.position, "bad-date",
                                      f"{self.name(key)!r} is {value!r}, which is not a real date")
                    return None
        if found is None:
            self.wrong(node, key, "a date written YYYY-MM-DD (for example 2026-03-31)",
                       "bad-date")
            return None
        if not MIN_DATE <= found <= MAX_DATE:
            # Far dates overflow date arithmetic (a due date plus decision days).
            self.report.error(node.position, "bad-date",
                              f"{self.name(key)!r} is {found}; dates must be between "
                              f"{MIN_DATE} and {MAX_DATE}")
            return None
        return found

    def month(self, key: str, required: bool = True) -> str | None:
        """A month written YYYY-MM, in the years dates may have."""
        node = self.node(key, required, "a month written YYYY-MM")
        if node is None:
            return None
        if isinstance(node, Scalar) and isinstance(node.value, str):
            match = MONTH_PATTERN.fullmatch(node.value.strip())
            if match and 1 <= int(match.group(2)) <= 12 \
                    and MIN_DATE.year <= int(match.group(1)) <= MAX_DATE.year:
                return node.value.strip()
        self.wrong(node, key, f"a month written YYYY-MM (for example 2026-03), between "
                   f"{MIN_DATE.year} and {MAX_DATE.year}", "bad-date")
        return None

    def number(self, key: str, required: bool = True) -> float | None:
        node = self.node(key, required, "a number")
        if node is None:
            return None
        if isinstance(node, Scalar) and isinstance(node.value, int | float) \
                and not isinstance(node.value, bool):
            try:
                value = float(node.value)
            except OverflowError:  # an integer of hundreds of digits
                value = float("inf")
            if not -MAX_NUMBER <= value <= MAX_NUMBER:  # also false for NaN
                self.wrong(node, key, f"a number between -{MAX_NUMBER:.0e} and {MAX_NUMBER:.0e}")
                return None
            if self.odd_number(node, key):
                return None
            return value
        if isinstance(node, Scalar) and not node.quoted and isinstance(node.value, str) \
                and EXPONENT.fullmatch(node.value) and abs(float(node.value)) <= MAX_NUMBER:
            # YAML 1.1 reads 1e6 and 1.0e6 as text: only 1.0e+6 is a number.
            in_full = f"{float(node.value):f}".rstrip("0").rstrip(".")
            self.report.error(node.position, "wrong-type",
                              f"{self.name(key)!r} is written {node.value!r}, which YAML reads "
                              f"as text; write the number in full ({in_full})")
            return None
        self.wrong(node, key, "a number")
        return None

    def odd_number(self, node: Scalar, key: str) -> bool:
        """Whether a number is written in a form YAML 1.1 reads otherwise than a reader
        would (and if so, a problem): octal 010 is 8, base-60 5:30 is 330, 0x12 is 18,
        1_000 drops its underscore. Only plain decimals are taken."""
        text = node.text.strip()
        if node.quoted or PLAIN_NUMBER.fullmatch(text):
            return False
        digits = text.lstrip("+-")
        if digits.startswith("0") and digits[1:2].isdigit() and digits.isdigit():
            reading = f"the octal number {node.value}; remove the leading zero"
        elif ":" in text:
            reading = (f"the base-60 number {node.value} (as in 1:30:00 seconds); write a "
                       "decimal number instead, such as 5.5 for five and a half")
        elif "_" in text:
            reading = f"{node.value}, dropping the underscores; write it without them"
        else:
            reading = f"the number {node.value}; write it as a plain decimal number"
        self.report.error(node.position, "quote-value",
                          f"{self.name(key)!r} is written {text!r}, which YAML reads as "
                          f"{reading}")
        return True

    def integer(self, key: str, required: bool = True, minimum: int = 0,
                maximum: int = 10 ** 9) -> int | None:
        """A whole number from `minimum` to `maximum`."""
        node = self.node(key, required, "a whole number")
        if node is None:
            return None
        if isinstance(node, Scalar) and isinstance(node.value, int) \
                and not isinstance(node.value, bool) and minimum <= node.value <= maximum:
            return None if self.odd_number(node, key) else node.value
        self.wrong(node, key, f"a whole number, at least {minimum} and at most {maximum:,}")
        return None

    def boolean(self, key: str, required: bool = False) -> bool | None:
        node = self.node(key, required, "true or false")
        if node is None:
            return None
        if isinstance(node, Scalar) and isinstance(node.value, bool):
            return node.value
        self.wrong(node, key, "true or false")
        return None

    def choice(self, key: str, options: tuple[str, ...], default: str | None) -> str | None:
        node = self.node(key, default is None, "one of " + ", ".join(options))
        if node is None:
            return default
        value = self.text_of(node, key, words=False)
        if value is None:
            return None
        if value not in options:
            self.report.error(node.position, "bad-value",
                              f"{self.name(key)!r} is {value!r}; it must be one of "
                              + ", ".join(options))
            return None
        return value

    # -- collections ------------------------------------------------------

    def mapping_of(self, key: str, known: tuple[str, ...] | None, required: bool = False,
                   what: str = "a mapping") -> Fields | None:
        node = self.node(key, required, what)
        if node is None:
            if not required and self.is_empty(key):
                # `approved:` left empty reads as "not approved": say so rather than guess.
                self.report.warning(self.position(key), "empty-field",
                                    f"{self.name(key)!r} is empty, so it counts as absent; "
                                    f"fill in {what} or remove the line")
            return None
        if not isinstance(node, Mapping):
            self.wrong(node, key, what)
            return None
        return Fields(node, self.report, known, self.name(key),
                      self.mapping.key_position(key), self.positions)

    def sequence(self, key: str, required: bool = False, what: str = "a list",
                 minimum: int = 0) -> tuple[Node, ...] | None:
        node = self.node(key, required, what)
        if node is None:
            return None
        if not isinstance(node, Sequence):
            self.wrong(node, key, what)
            return None
        if len(node.items) < minimum:
            self.report.error(node.position, "missing-field",
                              f"{self.name(key)!r} needs at least {minimum} item"
                              + ("s" if minimum > 1 else ""))
        return node.items

    def items(self, key: str, reader: Callable[[Node, str], T | None], required: bool = False,
              what: str = "a list", minimum: int = 0) -> tuple[T, ...] | None:
        """Read a list, each item with `reader(node, item_name)`; None if absent."""
        nodes = self.sequence(key, required, what, minimum)
        if nodes is None:
            return None
        values: list[T] = []
        for index, node in enumerate(nodes):
            item_name = f"{key}[{index}]"
            self.positions[self.name(item_name)] = node.position
            value = reader(node, item_name)
            if value is not None:
                values.append(value)
        return tuple(values)

    def mappings(self, key: str, known: tuple[str, ...], required: bool = False,
                 what: str = "a list of mappings", minimum: int = 0) -> Iterator[Fields]:
        """Yield a `Fields` for each mapping item of a list."""
        nodes = self.sequence(key, required, what, minimum)
        for index, node in enumerate(nodes or ()):
            item_name = f"{key}[{index}]"
            self.positions[self.name(item_name)] = node.position
            if isinstance(node, Mapping):
                yield Fields(node, self.report, known, self.name(item_name),
                             node.position, self.positions)
            else:
                self.wrong(node, item_name, "a mapping with the keys " + ", ".join(known))
