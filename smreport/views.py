"""What the templates show, computed in Python so templates stay loops and conditions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from .agenda.decide_dispute import units_of
from .agenda.review_page import last_day, month_of, previous_month
from .charts import kpi_chart
from .derive import changes_by_goal
from .i18n import Translator
from .model import (
    FOLDERS, AgendaItem, AnyNote, Change, Content, CurrentGoal, Dispute, Kpi, NoteType, Reading,
    Review,
)


class Links:
    """Relative links from one page: `root` leads from the page's folder to the site root."""

    def __init__(self, content: Content, root: str) -> None:
        self.content = content
        self.root = root

    def url(self, path: str) -> str:
        return self.root + path if self.root or path else "./"

    def note_url(self, note_type: NoteType, note_id: str) -> str:
        return self.url(f"{FOLDERS[note_type]}/{note_id}/")

    def person(self, person_id: str, with_unit: bool = False) -> Markup:
        """A person's name linked to the team page (with the unit, when asked)."""
        project = self.content.project
        person = project.people.get(person_id)
        if person is None:
            return Markup(escape(person_id))
        link = Markup('<a class="person" href="{}">{}</a>').format(
            self.url(f"team/#person-{person_id}"), person.name)
        if with_unit and person.unit in project.units:
            return link + Markup(" ({})").format(project.units[person.unit].name)
        return link

    def people(self, person_ids: Iterable[str]) -> Markup:
        return Markup(", ").join(self.person(p) for p in person_ids)

    def note(self, note_type: NoteType, note_id: str, title: str | None = None) -> Markup:
        """A note's title linked to its page."""
        note = self.content.note(note_type, note_id)
        text = title or (_note_title(note) if note else note_id)
        return Markup('<a href="{}">{}</a>').format(self.note_url(note_type, note_id), text)


def _note_title(note: AnyNote) -> str:
    if isinstance(note, Review):
        return note.month
    return note.title


@dataclass(frozen=True)
class KpiView:
    kpi: Kpi
    latest: Reading | None
    progress: float | None  # share of the way from baseline to target
    expected: float | None  # share expected by the latest reading's date
    on_track: bool | None
    summary: str
    chart: Markup


def kpi_views(goal: CurrentGoal, today: dt.date, tolerance: float,
              translate: Translator) -> list[KpiView]:
    """Each current KPI with its progress in words and its chart."""
    views = []
    for kpi in goal.kpis:
        latest = goal.latest_reading(kpi.id)
        unit = f" {kpi.unit}" if kpi.unit else ""
        if latest is None:
            progress = expected = on_track = None
            summary = translate("site.kpi_no_readings", baseline=kpi.baseline,
                                target=kpi.target, unit=unit)
        else:
            progress = kpi.progress(latest.value)
            expected = goal.expected_progress(latest.date)
            on_track = progress >= expected * (1 - tolerance)
            summary = translate("site.kpi_summary", value=latest.value, target=kpi.target,
                                unit=unit, progress=translate.percent(progress),
                                expected=translate.percent(expected))
        readings = [r for r in goal.goal.readings if r.kpi == kpi.id]
        label = f"{kpi.name}: {summary}"
        chart = kpi_chart(kpi, readings, goal.start, goal.due, translate, label)
        views.append(KpiView(kpi, latest, progress, expected, on_track, summary, chart))
    return views


@dataclass(frozen=True)
class HistoryEvent:
    date: dt.date
    text: Markup


def goal_history(goal: CurrentGoal, changes: Iterable[Change], links: Links,
                 translate: Translator) -> list[HistoryEvent]:
    """The goal's life: approval, each change proposed and decided, in date order."""
    events: list[tuple[dt.date, int, Markup]] = []
    approval = goal.goal.approved
    if approval:
        events.append((approval.date, 0, translate.html(
            "site.history_approval", person=links.person(approval.by))))
    for change in changes:
        change_link = links.note("change", change.id)
        events.append((change.date, 1, translate.html(
            "site.history_proposed", person=links.person(change.proposed_by),
            change=change_link)))
        if change.decision:
            events.append((change.decision.date, 2, translate.html(
                f"site.history_{change.decision.outcome}",
                person=links.person(change.decision.by), change=change_link)))
    events.sort(key=lambda e: (e[0], e[1]))
    return [HistoryEvent(date, text) for date, _order, text in events]


@dataclass(frozen=True)
class AgendaView:
    item: AgendaItem
    subject_link: Markup | None
    due_text: str
    delta_text: str
    waiting: list[Markup] = field(default_factory=list)
    positions: list[tuple[Markup, str]] = field(default_factory=list)


def agenda_views(items: Iterable[AgendaItem], content: Content, current: Mapping[str, CurrentGoal],
                 today: dt.date, links: Links, translate: Translator) -> list[AgendaView]:
    """Each agenda item with its subject link, due date in words and who is waiting."""
    views = []
    for item in items:
        subject = item.subject
        delta = (today - item.due).days
        if delta > 0:
            delta_text = translate.plural("days_overdue", delta)
        elif delta == 0:
            delta_text = translate("site.due_today")
        else:
            delta_text = translate.plural("days_left", -delta)
        waiting: list[Markup] = []
        positions: list[tuple[Markup, str]] = []
        subject_link = None
        if subject is not None:
            note = content.note(subject.type, subject.id)
            title = current[subject.id].title if subject.type == "goal" and \
                subject.id in current else None
            subject_link = links.note(subject.type, subject.id, title)
            if note is not None:
                waiting, positions = _waiting(note, links, translate)
        views.append(AgendaView(item, subject_link, translate.date(item.due),
                                delta_text, waiting, positions))
    return views


def _waiting(note: AnyNote, links: Links, translate: Translator
             ) -> tuple[list[Markup], list[tuple[Markup, str]]]:
    """Who is waiting for the executive on this note, and the parties' positions."""
    def labelled(key: str, person_id: str) -> Markup:
        return Markup("{}: {}").format(translate(key), links.person(person_id, with_unit=True))
    if note.type == "goal":
        return [labelled("site.owner", note.owner)], []  # type: ignore[union-attr]
    if note.type == "change":
        return [labelled("site.proposed_by", note.proposed_by)], []  # type: ignore[union-attr]
    if note.type == "dispute":
        parties = [(links.person(p.person, with_unit=True), p.position)
                   for p in note.parties]  # type: ignore[union-attr]
        return [], parties
    return [], []


@dataclass(frozen=True)
class MonthCell:
    month: str
    label: str
    reviewed: bool
    current: bool
    reviews: tuple[Review, ...]


def month_strip(content: Content, today: dt.date, translate: Translator) -> list[MonthCell]:
    """Every month from the project's start to today's, reviewed or missed."""
    by_month: dict[str, list[Review]] = {}
    for review in sorted(content.reviews.values(), key=lambda r: (r.date, r.id)):
        by_month.setdefault(review.month, []).append(review)
    first, month = month_of(content.project.start), month_of(today)
    months = []
    while month >= first:
        months.append(month)
        month = previous_month(month)
    months.reverse()
    return [MonthCell(m, translate.month(m), m in by_month, m == month_of(today),
                      tuple(by_month.get(m, ()))) for m in months]


@dataclass(frozen=True)
class Glance:
    """The project at a glance, below the agenda."""

    goals: list[tuple[CurrentGoal, list[KpiView]]]
    last_review: Review | None
    next_review_due: dt.date
    friction: list[tuple[str, int]]
    within_unit_decided: int
    changes_decided: int


def glance(content: Content, current: Mapping[str, CurrentGoal], today: dt.date,
           translate: Translator) -> Glance:
    """The briefing's second half: goals, reviews, friction, what was handled without you."""
    tolerance = content.project.rules.off_track_tolerance
    order = {"active": 0, "achieved": 1, "dropped": 2}
    goals = [(goal, kpi_views(goal, today, tolerance, translate))
             for goal in sorted(current.values(), key=lambda g: (order[g.status], g.due, g.id))]
    reviews = sorted(content.reviews.values(), key=lambda r: (r.month, r.date, r.id))
    last_review = reviews[-1] if reviews else None
    this_month = month_of(today)
    reviewed_now = any(r.month == this_month for r in reviews)
    next_month = f"{today.year + (today.month == 12):04d}-{today.month % 12 + 1:02d}"
    next_review_due = last_day(next_month if reviewed_now else this_month)
    friction: dict[str, int] = {}
    within = 0
    for dispute in content.disputes.values():
        units = units_of(dispute, content.project)
        if len(units) < 2:
            within += dispute.decision is not None
            continue
        if dispute.decision is None:
            names = [content.project.units[u].name if u in content.project.units else u
                     for u in units]
            pair = " ↔ ".join(names)
            friction[pair] = friction.get(pair, 0) + 1
    decided = sum(1 for c in content.changes.values() if c.decision is not None)
    return Glance(goals, last_review, next_review_due, sorted(friction.items()), within, decided)


def dispute_groups(content: Content) -> list[tuple[str, list[Dispute]]]:
    """Disputes as the disputes page lists them: open cross-unit, open within-unit, decided."""
    open_cross, open_within, decided = [], [], []
    for dispute in sorted(content.disputes.values(), key=lambda d: (d.date, d.id)):
        if dispute.decision is not None:
            decided.append(dispute)
        elif len(units_of(dispute, content.project)) > 1:
            open_cross.append(dispute)
        else:
            open_within.append(dispute)
    return [("site.disputes_open_cross", open_cross), ("site.disputes_open_within", open_within),
            ("site.disputes_decided", decided)]


def is_cross_unit(dispute: Dispute, content: Content) -> bool:
    return len(units_of(dispute, content.project)) > 1


def changes_of(content: Content) -> dict[str, list[Change]]:
    return changes_by_goal(content.changes.values())
