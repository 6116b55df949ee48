"""The interface's words in English and Russian, with Babel's dates, lists and plurals."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from babel import Locale
from babel.dates import format_date
from babel.lists import format_list
from babel.numbers import format_decimal, format_percent
from markupsafe import Markup, escape

from .catalog import MESSAGES, PLURALS

ListStyle = Literal["standard", "standard-short", "or", "or-short", "unit", "unit-short",
                    "unit-narrow"]


class Month(str):
    """A `YYYY-MM` string that formats as a month name."""

    @property
    def first_day(self) -> dt.date:
        return dt.date(int(self[:4]), int(self[5:7]), 1)


class Term(str):
    """A message key to be looked up, used as a parameter of another message."""


@dataclass(frozen=True)
class Count:
    """A number with a noun, formatted with the language's plural rules."""

    key: str
    count: int


class Translator:
    """Formats the interface's words, dates, numbers and plurals for one language."""

    def __init__(self, language: str) -> None:
        self.language = language if language in MESSAGES else "en"
        self.locale = Locale.parse(self.language)
        self.messages = MESSAGES[self.language]
        self.plurals = PLURALS[self.language]

    def __call__(self, key: str, **params: object) -> str:
        """The message `key`, with `params` formatted for this language."""
        template = self.messages.get(key) or MESSAGES["en"].get(key) or key
        if not params:
            return template
        return template.format(**{name: self.value(v) for name, v in params.items()})

    def html(self, key: str, **params: object) -> Markup:
        """The message `key` as HTML: the text is escaped, Markup parameters are kept."""
        template = self.messages.get(key) or MESSAGES["en"].get(key) or key
        # str.format on escaped parts, as Markup.format would do, but in C: it is called
        # thousands of times per build. Messages hold plain {name} fields only.
        return Markup(str(escape(template)).format(**{
            name: v if isinstance(v, Markup) else escape(self.value(v))
            for name, v in params.items()}))

    def value(self, value: object) -> str:
        if isinstance(value, Term):
            return self(value)
        if isinstance(value, Count):
            return self.plural(value.key, value.count)
        if isinstance(value, Month):
            return self.month(value)
        if isinstance(value, dt.date):
            return self.date(value)
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, int | float):
            return self.number(value)
        if isinstance(value, list | tuple):
            return self.join(self.value(v) for v in value)
        return str(value)

    def plural(self, key: str, count: int) -> str:
        """`count` with the right form of the word: "1 day", "2 дня", "5 дней"."""
        forms = self.plurals.get(key) or PLURALS["en"][key]
        form = self.locale.plural_form(abs(count))
        template = forms.get(form) or forms["other"]
        return template.format(n=self.number(count))

    def date(self, day: dt.date, style: str = "long") -> str:
        """A day: "long" (26 November 2026), "day_month" (26 November), "short" (26 Nov)."""
        return _format_day(self.language, day, style)

    def _date(self, day: dt.date, style: str) -> str:
        if style == "short":
            return format_date(day, "d MMM", locale=self.locale).rstrip(".")
        if style == "day_month":
            return format_date(day, "d MMMM", locale=self.locale)
        if style == "iso":
            return day.isoformat()
        return format_date(day, "d MMMM y", locale=self.locale)

    def near_date(self, day: dt.date, today: dt.date) -> str:
        """A day as a reader near `today` says it: without the year when it is this year's."""
        return self.date(day, "day_month" if day.year == today.year else "long")

    def days_from(self, day: dt.date, today: dt.date) -> str:
        """How far `day` is from `today`: "3 days overdue", "due today", "in 5 days"."""
        delta = (today - day).days
        if delta > 0:
            return self.plural("days_overdue", delta)
        if delta == 0:
            return self("site.due_today")
        return self.plural("days_left", -delta)

    def month(self, month: str, style: str = "long") -> str:
        """A `YYYY-MM` month: "November 2026" / "ноябрь 2026"."""
        first = Month(month).first_day
        pattern = "LLLL y" if style == "long" else "LLL"
        text = format_date(first, pattern, locale=self.locale)
        return text.removesuffix(" г.")

    def number(self, value: float, digits: int = 2) -> str:
        """A number with this language's separators and no needless decimals."""
        return _format_number(self.language, value, digits)

    def _number(self, value: float, digits: int) -> str:
        if float(value).is_integer():
            return format_decimal(int(value), locale=self.locale)
        return format_decimal(round(value, digits), format="#,##0.##", locale=self.locale)

    def quantity(self, value: float, unit: str = "") -> str:
        """A number with its unit, kept on one line: "12,000 subscribers", "79%", "79 %"."""
        number = self.number(value)
        if not unit:
            return number
        if unit == "%" and self.language == "en":
            return number + unit
        return f"{number}\u00a0{unit}"

    def percent(self, share: float) -> str:
        """A share of 1 as a percentage: "68%" / "68 %".

        Babel's `format_percent` takes about 25 µs, and a KPI's progress needs two;
        the shares themselves rarely recur, but the whole percentages they round to
        do. So the share is rounded here as Babel rounds it (its text as a Decimal,
        times 100, to a whole number, half to even), and each rounded percentage is
        formatted once per language."""
        try:
            rounded = decimal.Decimal(str(share)).scaleb(2).quantize(_ONE)
        except decimal.InvalidOperation:  # infinite, or too large to round: as Babel does
            return format_percent(share, locale=self.locale)
        return _format_percent(self.language, f"{rounded:f}")

    def join(self, items: Iterable[str], style: ListStyle = "standard") -> str:
        """Items as this language lists them: "a, b and c" / "a, b и c"."""
        values = list(items)
        return format_list(values, style=style, locale=self.locale) if values else ""


# Babel's formatting is the slowest part of drawing a page; the same dates and numbers recur
# on every page (today, due dates, KPI values), so each is formatted once per language.
@lru_cache(maxsize=65536)
def _format_day(language: str, day: dt.date, style: str) -> str:
    return translator(language)._date(day, style)


@lru_cache(maxsize=65536)
def _format_number(language: str, value: float, digits: int) -> str:
    return translator(language)._number(value, digits)


_ONE = decimal.Decimal(1)


@lru_cache(maxsize=65536)
def _format_percent(language: str, rounded: str) -> str:
    # By its text, not the Decimal: "-0" (a share just below zero) equals 0 as a number.
    return format_percent(decimal.Decimal(rounded).scaleb(-2),
                          locale=translator(language).locale)


@lru_cache(maxsize=4)
def translator(language: str) -> Translator:
    """A shared translator per language."""
    return Translator(language)
