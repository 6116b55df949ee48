"""This month's social page has not been reviewed yet.

Fires when today's month has no review. The executive reviews the page at
least once a month, with mandatory feedback to the team (case 3). The item
lists the unreviewed months in the unbroken run that ends with today's month
(months missed before the last review are history, never back-filled), and
is due on the last day of the first month of that run.

Passes: on 2026-03-10, a review with `month: 2026-03` dated by today. Fires: on
2026-04-10 with the last review for 2026-01: months 2026-02..2026-04, due
2026-02-28.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator

from ..i18n import Month
from .base import AgendaContext, Finding

CODE = "review-page"
CASE = 3


def month_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def previous_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year - 1:04d}-12" if number == 1 else f"{year:04d}-{number - 1:02d}"


def last_day(month: str) -> dt.date:
    year, number = int(month[:4]), int(month[5:7])
    return dt.date(year, number, calendar.monthrange(year, number)[1])


def find(context: AgendaContext) -> Iterator[Finding]:
    reviewed = {review.month for review in context.content.reviews.values()}
    first = month_of(context.content.project.start)
    month = month_of(context.today)
    if month in reviewed or month < first:
        return
    run = []
    while month >= first and month not in reviewed:
        run.append(month)
        month = previous_month(month)
    run.reverse()
    yield Finding(None, last_day(run[0]),
                  {"month": Month(run[-1]), "months": [Month(m) for m in run]},
                  months=tuple(run))
