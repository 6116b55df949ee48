"""The interface's words: complete catalogs, Babel's plurals and dates, numbers with units."""

from __future__ import annotations

import datetime as dt
import re
import string

import pytest
from babel import Locale
from markupsafe import Markup

from smreport.catalog import MESSAGES, PLURALS
from smreport.i18n import Count, Month, Term, Translator, translator


def fields_of(template: str) -> set[str]:
    return {name for _text, name, _spec, _conv in string.Formatter().parse(template) if name}


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    assert set(MESSAGES["en"]) == set(MESSAGES["ru"])
    for key, english in MESSAGES["en"].items():
        assert fields_of(english) == fields_of(MESSAGES["ru"][key]), key
    assert set(PLURALS["en"]) == set(PLURALS["ru"])


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_plural_has_every_form_the_language_needs(language: str) -> None:
    categories = set(Locale.parse(language).plural_form.tags) | {"other"}
    for key, forms in PLURALS[language].items():
        assert categories <= set(forms), (language, key)
        # The count is shown, except where "one" reads better without it ("and it is overdue").
        assert all("{n}" in form for category, form in forms.items() if category != "one"), (
            language, key)


@pytest.mark.parametrize(("count", "expected"), [
    (0, "0 дней"), (1, "1 день"), (2, "2 дня"), (4, "4 дня"), (5, "5 дней"), (11, "11 дней"),
    (12, "12 дней"), (14, "14 дней"), (21, "21 день"), (22, "22 дня"), (25, "25 дней"),
    (101, "101 день"), (111, "111 дней"),
])
def test_russian_plurals_follow_babel(count: int, expected: str) -> None:
    assert translator("ru").plural("days", count).replace("\xa0", " ") == expected


def test_the_agenda_heading_counts_what_needs_you() -> None:
    english, russian = translator("en"), translator("ru")
    assert english.plural("needs_you", 1) == "1 thing needs you"
    assert english.plural("needs_you", 7) == "7 things need you"
    assert russian.plural("needs_you", 3) == "3 вопроса ждут вашего решения"
    assert russian.plural("needs_you", 5) == "5 вопросов ждут вашего решения"
    assert russian.plural("overdue_of_them", 4) == "из них 4 просрочены"
    assert russian.plural("all_overdue", 1) == "и он просрочен"
    assert english.plural("all_overdue", 2) == "all 2 overdue"


def test_agenda_distances_in_both_languages() -> None:
    today = dt.date(2026, 11, 26)
    english, russian = translator("en"), translator("ru")
    assert english.days_from(dt.date(2026, 11, 25), today) == "1 day overdue"
    assert english.days_from(dt.date(2026, 8, 31), today) == "87 days overdue"
    assert english.days_from(today, today) == "due today"
    assert english.days_from(dt.date(2026, 12, 1), today) == "in 5 days"
    assert russian.days_from(dt.date(2026, 11, 24), today) == "просрочено на 2 дня"
    assert russian.days_from(dt.date(2026, 11, 5), today) == "просрочено на 21 день"
    assert russian.days_from(dt.date(2026, 12, 1), today) == "через 5 дней"
    assert russian.days_from(dt.date(2026, 11, 27), today) == "через 1 день"


def test_dates_and_months_come_from_babel() -> None:
    english, russian = translator("en"), translator("ru")
    day = dt.date(2026, 3, 8)
    assert english.date(day) == "8 March 2026"
    assert russian.date(day) == "8 марта 2026"  # genitive inside a date
    assert russian.month("2026-03") == "март 2026"  # nominative for a month alone
    assert english.month("2026-11") == "November 2026"
    assert russian.date(day, "short") == "8 мар"
    assert russian.near_date(day, dt.date(2026, 1, 1)) == "8 марта"
    assert russian.near_date(day, dt.date(2027, 1, 1)) == "8 марта 2026"


def test_numbers_percentages_and_quantities_follow_the_language() -> None:
    english, russian = translator("en"), translator("ru")
    assert english.number(12000) == "12,000"
    assert russian.number(12000).replace("\xa0", " ") == "12 000"
    assert russian.number(5.5) == "5,5"
    assert english.percent(0.68) == "68%"
    assert russian.percent(0.68).replace("\xa0", " ") == "68 %"
    assert english.quantity(79, "%") == "79%"
    assert english.quantity(9400, "subscribers") == "9,400\xa0subscribers"
    assert english.quantity(3) == "3"


# Shares whose rounding is decided by their decimal text, not their binary value (0.685 is
# 0.68499999... as a float, but Babel rounds "0.685" half to even), a share just below
# zero ("-0%"), large and non-finite ones.
TRICKY_SHARES = [0.685, 0.675, 0.005, -0.005, 0.015, 0.125, 2.675, 0.285, 0.995, -0.995, 0.994999,
                 1 / 3, 2 / 3, -0.001, 0.0, -0.0, 12.345, 1e6, 1e-30, 1e30,
                 float("inf"), float("-inf"), float("nan")]


@pytest.mark.parametrize("language", ["en", "ru"])
def test_percentages_are_babels_own_each_whole_percentage_formatted_once(language: str) -> None:
    from babel.numbers import format_percent

    from smreport.i18n import _format_percent

    translate = translator(language)
    shares = TRICKY_SHARES + [step / 400 for step in range(-800, 800)]
    for share in shares:
        try:
            expected: object = format_percent(share, locale=translate.locale)
        except ArithmeticError as error:  # 1e30: too many digits to round, for Babel too
            expected = type(error)
        try:
            got: object = translate.percent(share)
        except ArithmeticError as error:
            got = type(error)
        assert got == expected, share
    assert translate.percent(-0.001) == format_percent(-0.001, locale=translate.locale)
    assert translate.percent(-0.001).startswith("-0")  # not the cached "0%"
    before = _format_percent.cache_info()
    assert translate.percent(0.68) == translate.percent(0.6801)  # one formatting for both
    after = _format_percent.cache_info()
    assert after.hits >= before.hits + 1


def test_parameters_are_formatted_for_the_language() -> None:
    russian = translator("ru")
    text = russian("agenda.review-page.why", months=[Month("2026-10"), Month("2026-11")])
    assert text.endswith("Ещё не проверено: октябрь 2026 и ноябрь 2026.")
    assert russian("agenda.approve-change.why", proposer="Анна",
                   fields=[Term("field.due"), Term("field.kpis")]).startswith(
        "Анна предлагает изменить срок и KPI цели.")
    assert "(2 KPI)" in russian("agenda.approve-goal.why", owner="Анна", kpis=Count("kpis", 2))
    assert translator("en")("agenda.approve-goal.why", owner="Ann", kpis=Count("kpis", 1)) \
        .startswith("Ann proposes a new goal with 1 KPI.")


def test_html_messages_escape_text_and_keep_markup() -> None:
    english = translator("en")
    html = english.html("site.approved_by", person=Markup('<a href="x">A&amp;B</a>'),
                        date="<b>today</b>")
    assert html == 'Approved by <a href="x">A&amp;B</a> on &lt;b&gt;today&lt;/b&gt;'


def test_an_unknown_language_falls_back_to_english() -> None:
    assert Translator("de").language == "en"
    assert Translator("de")("site.goals") == "Goals"


def test_russian_messages_read_as_russian() -> None:
    """No Latin word is left in the site's and the agenda's Russian words (KPI aside).

    Other messages (file scaffolds, git history) name fields and commands, which stay Latin.
    """
    allowed = {"KPI", "smreport", "ics", "Atom"}  # names, not words
    for key, text in MESSAGES["ru"].items():
        if not key.startswith(("site.", "agenda.", "field.", "label.")):
            continue
        without_fields = re.sub(r"\{[^}]*\}", "", text)
        words = set(re.findall(r"[A-Za-z]+", without_fields)) - allowed
        assert not words, (key, words)


def test_messages_hold_plain_named_fields_only() -> None:
    """Translator.html formats escaped parts with str.format, which is only the same as
    Markup.format for plain {name} fields: no format specs, conversions or attributes."""
    for language, messages in MESSAGES.items():
        for key, text in messages.items():
            for _literal, name, spec, conversion in string.Formatter().parse(text):
                if name is None:
                    continue
                assert name.isidentifier() and not spec and conversion is None, \
                    (language, key, text)
