"""What the templates show, computed in Python so templates stay loops and conditions.

Every function here reads the shared, read-only site data (the content as of
today, the current goals) and one subject, so any page can be computed on
its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar
from urllib.parse import quote

from markupsafe import Markup, escape

from .agenda.decide_dispute import units_of
from .agenda.review_page import last_day, month_of, previous_month
from .charts import kpi_chart, kpi_sparkline
from .derive import changes_by_goal
from .i18n import Translator
from .markup import is_safe_url
from .model import (
    FOLDERS,
    AgendaItem,
    AnyNote,
    Change,
    Content,
    CurrentGoal,
    Dispute,
    Goal,
    Kpi,
    NoteType,
    Reading,
    Review,
)


def with_index(path: str) -> str:
    """`goals/x/#k` -> `goals/x/index.html#k`; `` -> `index.html`; files unchanged."""
    location, hash_mark, fragment = path.partition("#")
    if location == "" or location.endswith("/"):
        location += "index.html"
    return location + hash_mark + fragment


class Links:
    """Relative links from one page: `root` leads from the page's folder to the site root.

    Pages are linked by folder (`goals/grow-telegram/`), the form agenda.json's
    `url` uses, so addresses stay clean on any static host.
    """

    def __init__(self, content: Content, root: str, translate: Translator | None = None) -> None:
        self.content = content
        self.root = root
        self.translate = translate
        # Each person's link, by (id, with_unit): a site shares one Links per page depth
        # (`Site.links`), and its pages name the same few people tens of thousands of times.
        self.person_links: dict[tuple[str, bool], Markup] = {}

    def url(self, path: str) -> str:
        """The link to `path` (relative to the site root, `goals/` or `team/#x`) from this page.

        A folder is linked by its `index.html`, so the site also works opened from disk,
        where a browser shows a folder's listing rather than its index page.
        """
        return self.root + with_index(path)

    def note_url(self, note_type: NoteType, note_id: str) -> str:
        return self.url(f"{FOLDERS[note_type]}/{note_id}/")

    def person(self, person_id: str, with_unit: bool = False) -> Markup:
        """A person's name linked to the team page (with the unit, when asked)."""
        link = self.person_links.get((person_id, with_unit))
        if link is None:
            link = self.person_links[person_id, with_unit] = self._person(person_id, with_unit)
        return link

    def _person(self, person_id: str, with_unit: bool) -> Markup:
        project = self.content.project
        person = project.people.get(person_id)
        if person is None:
            return Markup(escape(person_id))
        # f-strings of escaped parts: Markup.format does the same, far slower.
        url = self.url(f"team/#person-{person_id}")
        link = Markup(f'<a class="person" href="{escape(url)}">{escape(person.name)}</a>')
        if with_unit and person.unit in project.units:
            unit = escape(project.units[person.unit].name)
            return link + Markup(f'<span class="person-unit">, {unit}</span>')
        return link

    def people(self, person_ids: Iterable[str]) -> Markup:
        return Markup(", ").join(self.person(p) for p in person_ids)

    def note(self, note_type: NoteType, note_id: str, title: str | None = None) -> Markup:
        """A note's title linked to its page."""
        note = self.content.note(note_type, note_id)
        text = title or (note_title(note, self.translate) if note else note_id)
        return Markup(f'<a href="{escape(self.note_url(note_type, note_id))}">{escape(text)}</a>')


def note_title(note: AnyNote, translate: Translator | None = None) -> str:
    """What a note is called in lists and links: its title, or "Review of May 2026"."""
    if isinstance(note, Review):
        if translate is None:
            return note.month
        return translate("site.review_of", month=translate.month(note.month))
    return note.title


def safe_href(url: str) -> str | None:
    """`url`, well-formed, if a page may link to it (http(s), mailto, relative), else None.

    Characters a URL may not hold (spaces, quotes, angle brackets) are
    percent-encoded, so a hand-typed address still makes a valid link.
    """
    if not is_safe_url(url):
        return None
    return quote(url.strip(), safe=URL_SAFE)


URL_SAFE = "!#$%&'()*+,-./:;=?@[]_~"


# --- KPIs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiView:
    """One current KPI: its latest reading, progress in words, and its charts."""

    kpi: Kpi
    latest: Reading | None
    progress: float | None  # share of the way from baseline to target
    expected: float | None  # share expected by the latest reading's date
    on_track: bool | None
    summary: str
    chart: Markup
    sparkline: Markup
    readings: tuple[Reading, ...]
    baseline_text: str
    target_text: str
    rows: tuple[tuple[str, str], ...]  # each reading's date and value, in words


def kpi_summary(kpi: Kpi, latest: Reading | None, expected: float | None,
                translate: Translator) -> str:
    """Progress in one sentence: "9,400 of 12,000 subscribers: 68% of the way; 75% expected"."""
    target = translate.quantity(kpi.target, kpi.unit)
    baseline = translate.quantity(kpi.baseline, kpi.unit)
    if latest is None or expected is None:
        return translate("site.kpi_no_readings", baseline=baseline, target=target)
    key = "site.kpi_summary_up" if kpi.target > kpi.baseline else "site.kpi_summary_down"
    value = translate.number(latest.value) if key.endswith("_up") else translate.quantity(
        latest.value, kpi.unit)
    return translate(key, value=value, target=target,
                     baseline=baseline, progress=translate.percent(kpi.progress(latest.value)),
                     expected=translate.percent(expected),
                     date=translate.date(latest.date, "day_month"))


def kpi_views(goal: CurrentGoal, today: dt.date, tolerance: float,
              translate: Translator) -> list[KpiView]:
    """Each current KPI with its progress in words and its charts."""
    views = []
    for kpi in goal.kpis:
        latest = goal.latest_reading(kpi.id)
        progress = expected = on_track = None
        if latest is not None:
            progress = kpi.progress(latest.value)
            expected = goal.expected_progress(latest.date)
            on_track = goal.on_track(kpi, latest, tolerance)
        summary = kpi_summary(kpi, latest, expected, translate)
        readings = tuple(sorted((r for r in goal.goal.readings if r.kpi == kpi.id),
                                key=lambda r: r.date))
        chart = kpi_chart(kpi, readings, goal.start, goal.due, today, translate,
                          f"{kpi.name}: {summary}")
        views.append(KpiView(kpi, latest, progress, expected, on_track, summary, chart,
                             kpi_sparkline(kpi, readings, goal.start, goal.due), readings,
                             translate.quantity(kpi.baseline, kpi.unit),
                             translate.quantity(kpi.target, kpi.unit),
                             tuple((translate.date(r.date), translate.quantity(r.value, kpi.unit))
                                   for r in readings)))
    return views


# --- goals ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEvent:
    date: dt.date
    text: Markup
    note: str = ""  # the executive's words on a decision


def goal_history(goal: CurrentGoal, changes: Iterable[Change], links: Links,
                 translate: Translator) -> list[HistoryEvent]:
    """The goal's life: start, approval, each change proposed and decided, in date order."""
    events: list[tuple[dt.date, int, Markup, str]] = [
        (goal.start, 0, translate.html("site.history_start"), "")]
    approval = goal.goal.approved
    if approval:
        events.append((approval.date, 1, translate.html(
            "site.history_approval", person=links.person(approval.by)), ""))
    for change in changes:
        change_link = links.note("change", change.id)
        keys = change.set.keys()  # noqa: SIM118 - GoalPatch.keys(), not a dict's
        fields = translate.join(translate(f"field.{key}") for key in keys)
        events.append((change.date, 2, translate.html(
            "site.history_proposed", person=links.person(change.proposed_by),
            change=change_link, fields=fields), ""))
        if change.decision:
            events.append((change.decision.date, 3, translate.html(
                f"site.history_{change.decision.outcome}",
                person=links.person(change.decision.by), change=change_link),
                change.decision.note))
    events.sort(key=lambda e: (e[0], e[1]))
    return [HistoryEvent(date, text, note) for date, _order, text, note in events]


def changed_fields(goal: CurrentGoal, translate: Translator) -> str:
    """The definition fields that approved changes replaced, in words ("due date, KPIs")."""
    keys: list[str] = []
    for change in goal.applied:
        keys.extend(k for k in change.set.keys()  # noqa: SIM118
                    if k not in keys)
    return translate.join(translate(f"field.{key}") for key in keys)


@dataclass(frozen=True)
class GoalCard:
    """A goal as lists show it: current definition, approval, KPIs."""

    goal: CurrentGoal
    kpis: list[KpiView]
    owner: Markup
    period: str
    status: str
    approved: bool


KpiViews = Callable[[CurrentGoal], list[KpiView]]


def goal_order(goal: CurrentGoal) -> tuple[int, dt.date, str]:
    """Where a goal stands in the goals page and the glance: active first, then by due date."""
    return _STATUS_ORDER[goal.status], goal.due, goal.id


_STATUS_ORDER = {"active": 0, "achieved": 1, "dropped": 2}


def goal_cards(content: Content, goals: Sequence[CurrentGoal], today: dt.date,
               links: Links, translate: Translator, kpis: KpiViews | None = None,
               limit: int | None = None) -> list[GoalCard]:
    """A card for each of `goals` (in the order given), or for the first `limit`.

    `kpis` gives a goal's KPI views; a Site passes its memo, so each goal's
    charts are drawn once per build however many pages show them.
    """
    tolerance = content.project.rules.off_track_tolerance
    if kpis is None:
        def kpis(goal: CurrentGoal) -> list[KpiView]:
            return kpi_views(goal, today, tolerance, translate)
    cards = []
    for goal in goals[:limit]:
        cards.append(GoalCard(
            goal, kpis(goal),
            links.person(goal.goal.owner, with_unit=True),
            translate("site.period", start=translate.date(goal.start),
                      due=translate.date(goal.due)),
            translate(f"site.status.{goal.status}"), goal.goal.approved is not None))
    return cards


# --- the agenda -------------------------------------------------------------------------


@dataclass(frozen=True)
class AgendaView:
    """One agenda item as the briefing shows it."""

    item: AgendaItem
    subject_link: Markup | None
    due_text: str
    delta_text: str
    waiting: list[Markup] = field(default_factory=list)
    positions: list[tuple[Markup, str]] = field(default_factory=list)
    details: list[Markup] = field(default_factory=list)


def agenda_views(items: Iterable[AgendaItem], content: Content, current: Mapping[str, CurrentGoal],
                 today: dt.date, links: Links, translate: Translator) -> list[AgendaView]:
    """Each agenda item with its subject link, due date in words and who is waiting."""
    views = []
    for item in items:
        subject = item.subject
        waiting: list[Markup] = []
        positions: list[tuple[Markup, str]] = []
        details: list[Markup] = []
        subject_link = None
        if subject is not None:
            note = content.note(subject.type, subject.id)
            goal = current.get(subject.id) if subject.type == "goal" else None
            subject_link = links.note(subject.type, subject.id, goal.title if goal else None)
            if note is not None:
                waiting, positions = _waiting(note, links, translate)
                details = _details(item, note, current, today, translate)
        elif item.code == "review-page":
            waiting = _last_review_line(content, links, translate)
        views.append(AgendaView(item, subject_link,
                                translate("site.due", date=translate.near_date(item.due, today)),
                                translate.days_from(item.due, today), waiting, positions,
                                details))
    return views


def _waiting(note: AnyNote, links: Links, translate: Translator
             ) -> tuple[list[Markup], list[tuple[Markup, str]]]:
    """Who is waiting for the executive on this note, and the parties' positions."""
    def labelled(key: str, person_id: str) -> Markup:
        return translate.html(key, person=links.person(person_id, with_unit=True))
    if isinstance(note, Goal):
        return [labelled("site.waiting_owner", note.owner)], []
    if isinstance(note, Change):
        return [labelled("site.waiting_proposer", note.proposed_by)], []
    if isinstance(note, Dispute):
        return [], [(links.person(p.person, with_unit=True), brief(p.position))
                    for p in note.parties]
    return [], []


BRIEF_POSITION = 280  # characters of a party's position on the briefing; the page has all


def brief(text: str, limit: int = BRIEF_POSITION) -> str:
    """`text`, cut at a word before `limit` characters with an ellipsis when longer, so
    that five long positions do not make one agenda item two screens tall."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(None, 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,;:.—-") + "…"


def _details(item: AgendaItem, note: AnyNote, current: Mapping[str, CurrentGoal],
             today: dt.date, translate: Translator) -> list[Markup]:
    """What the executive needs to decide without opening the page: KPIs, the proposal."""
    if item.code == "goal-edited":
        return []  # its `why` already says what was edited, from what to what
    if isinstance(note, Change):
        goal = current.get(note.goal)
        return [escape(line) for line in proposal_lines(note, goal, translate)]
    if isinstance(note, Goal) and note.id in current:
        goal = current[note.id]
        if item.code == "approve-goal":
            return [Markup(escape(translate("site.kpi_plan", name=kpi.name,
                                            baseline=translate.quantity(kpi.baseline, kpi.unit),
                                            target=translate.quantity(kpi.target, kpi.unit))))
                    for kpi in goal.kpis]
        wanted = set(item.kpis or ()) if item.code == "kpi-off-track" else None
        lines = []
        for kpi in goal.kpis:
            if wanted is not None and kpi.id not in wanted:
                continue
            latest = goal.latest_reading(kpi.id)
            expected = goal.expected_progress(latest.date) if latest else None
            summary = kpi_summary(kpi, latest, expected, translate)
            lines.append(Markup(f"{escape(kpi.name)}: {escape(summary)}"))
        return lines
    return []


def _last_review_line(content: Content, links: Links, translate: Translator) -> list[Markup]:
    reviews = sorted(content.reviews.values(), key=lambda r: (r.month, r.date, r.id))
    if not reviews:
        return [Markup(escape(translate("site.no_review_yet")))]
    last = reviews[-1]
    return [translate.html("site.last_review", month=translate.month(last.month),
                           person=links.person(last.reviewer))]


def proposal_lines(change: Change, goal: CurrentGoal | None, translate: Translator) -> list[str]:
    """A change's `set` in words, each key with the value it replaces when still current."""
    patch = change.set
    lines: list[str] = []

    pending = goal is not None and change.decision is None  # what it replaces is current

    def line(key: str, new: str, old: str | None) -> None:
        label = translate(f"label.{key}")
        if pending and old == new:
            lines.append(translate("site.proposal_same", field=label, new=new))
        elif pending and old is not None:
            lines.append(translate("site.proposal_from_to", field=label, old=old, new=new))
        else:
            lines.append(translate("site.proposal_to", field=label, new=new))

    if patch.title is not None:
        line("title", translate("site.quoted", text=patch.title),
             translate("site.quoted", text=goal.title) if goal else None)
    if patch.due is not None:
        line("due", translate.date(patch.due), translate.date(goal.due) if goal else None)
    if patch.status is not None:
        line("status", translate(f"site.status.{patch.status}"),
             translate(f"site.status.{goal.status}") if goal else None)
    if patch.kpis is not None:
        if pending:
            assert goal is not None
            lines.extend(_kpi_changes(goal.kpis, patch.kpis, translate))
        else:
            lines.extend(_kpi_plan(kpi, translate) for kpi in patch.kpis)
    return lines


def _kpi_plan(kpi: Kpi, translate: Translator) -> str:
    return translate("site.kpi_plan", name=kpi.name,
                     baseline=translate.quantity(kpi.baseline, kpi.unit),
                     target=translate.quantity(kpi.target, kpi.unit))


def _kpi_changes(current: Sequence[Kpi], proposed: Sequence[Kpi],
                 translate: Translator) -> list[str]:
    """What a proposed `kpis` list changes in the current one, KPI by KPI (by id): `set`
    replaces the whole list, so a change of one target repeats every KPI."""
    now = {kpi.id: kpi for kpi in current}
    lines: list[str] = []
    unchanged = 0
    for kpi in proposed:
        old = now.get(kpi.id)
        if old is None:
            lines.append(translate("site.kpi_new", plan=_kpi_plan(kpi, translate)))
            continue
        parts = []
        if old.name != kpi.name:
            parts.append(translate("site.kpi_renamed", old=old.name))
        for attribute in ("baseline", "target"):
            before, after = getattr(old, attribute), getattr(kpi, attribute)
            if before != after or old.unit != kpi.unit:
                parts.append(translate("site.kpi_from_to", field=translate(f"label.{attribute}"),
                                       old=translate.quantity(before, old.unit),
                                       new=translate.quantity(after, kpi.unit)))
        if parts:
            lines.append(translate("site.kpi_changed", name=kpi.name, what=", ".join(parts)))
        else:
            unchanged += 1
    proposed_ids = {kpi.id for kpi in proposed}
    lines.extend(translate("site.kpi_dropped", name=kpi.name)
                 for kpi in current if kpi.id not in proposed_ids)
    if unchanged:
        lines.append(translate.plural("kpis_unchanged", unchanged))
    return lines


# --- reviews ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthCell:
    """One month of the review strip."""

    month: str
    label: str
    reviewed: bool
    current: bool
    reviews: tuple[Review, ...]
    state: str  # the state in words: reviewed / not reviewed / not yet reviewed


def month_strip(content: Content, today: dt.date, translate: Translator) -> list[MonthCell]:
    """Every month from the project's start to today's, reviewed or missed."""
    by_month: dict[str, list[Review]] = {}
    for review in sorted(content.reviews.values(), key=lambda r: (r.date, r.id)):
        by_month.setdefault(review.month, []).append(review)
    first, this_month = month_of(content.project.start), month_of(today)
    months = []
    month = this_month
    while month >= first:
        months.append(month)
        month = previous_month(month)
    months.reverse()
    cells = []
    for month in months:
        reviewed = month in by_month
        current = month == this_month
        state = ("site.reviewed" if reviewed else
                 "site.not_yet_reviewed" if current else "site.missed")
        name = translate.month(month)  # a label of its own: "Май 2026", not "май 2026"
        cells.append(MonthCell(month, name[:1].upper() + name[1:], reviewed, current,
                               tuple(by_month.get(month, ())), translate(state)))
    return cells


# --- the briefing's second half ---------------------------------------------------------


@dataclass(frozen=True)
class Friction:
    """Open cross-unit disputes between one set of units."""

    units: str
    count: str
    disputes: list[Markup]


@dataclass(frozen=True)
class Glance:
    """The project at a glance, below the agenda."""

    goals: list[GoalCard]
    more_goals: int  # goals not shown here, on the goals page
    last_review: Markup
    next_review: str
    missed_months: int
    friction: list[Friction]
    without_you: list[str]


# The briefing summarises: beyond this many goals, the rest are on the goals page.
GLANCE_GOALS = 12


T = TypeVar("T")


class Reuse(Protocol):
    """`Site.reuse`: `compute()`, or the answer kept under `name` from the very same inputs."""

    def __call__(self, name: str, inputs: tuple[object, ...], compute: Callable[[], T]) -> T:
        ...


def _compute(name: str, inputs: tuple[object, ...], compute: Callable[[], T]) -> T:
    return compute()


def glance(content: Content, goals: Sequence[CurrentGoal], today: dt.date,
           links: Links, translate: Translator, kpis: KpiViews | None = None,
           reuse: Reuse = _compute) -> Glance:
    """The briefing's second half: goals (every current goal, sorted by `goal_order`),
    reviews, friction, what was handled without you.

    Each part is computed through `reuse` from the notes it reads (a Site keeps
    them between --watch rebuilds: a save changes a note of thousands).
    """
    project = content.project
    last_review, next_review, missed = reuse(
        f"glance-reviews:{today}", (project, *content.reviews.values()),
        lambda: _review_summary(content, today, links, translate))
    friction, within = reuse(f"glance-friction:{today}", (project, *content.disputes.values()),
                             lambda: _friction(content, links, translate))
    decided = reuse("glance-decided", tuple(content.changes.values()),
                    lambda: sum(1 for c in content.changes.values() if c.decision is not None))
    # Counts of nothing are left out: "0 disputes settled within a unit" reads oddly.
    without_you = [translate.plural(key, count) for key, count in
                   (("settled_within", within), ("changes_decided", decided)) if count] \
        or [translate("site.nothing_without_you")]
    shown = goal_cards(content, goals, today, links, translate, kpis, GLANCE_GOALS)
    return Glance(shown, len(goals) - len(shown), last_review, next_review, missed, friction,
                  without_you)


def _review_summary(content: Content, today: dt.date, links: Links,
                    translate: Translator) -> tuple[Markup, str, int]:
    """The last review, when the next is due, and how many months went unreviewed."""
    reviews = sorted(content.reviews.values(), key=lambda r: (r.month, r.date, r.id))
    if reviews:
        last = reviews[-1]
        last_review = translate.html(
            "site.last_review_full", month=translate.month(last.month),
            person=links.person(last.reviewer), date=translate.near_date(last.date, today))
    else:
        last_review = Markup(escape(translate("site.no_review_yet")))
    this_month = month_of(today)
    reviewed_now = any(r.month == this_month for r in reviews)
    next_month = f"{today.year + (today.month == 12):04d}-{today.month % 12 + 1:02d}"
    next_due = last_day(next_month if reviewed_now else this_month)
    missed = sum(1 for cell in month_strip(content, today, translate)
                 if not cell.reviewed and not cell.current)
    return (last_review,
            translate("site.next_review_due", date=translate.near_date(next_due, today)),
            missed)


def _friction(content: Content, links: Links, translate: Translator
              ) -> tuple[list[Friction], int]:
    """Open cross-unit disputes by the units they are between, and how many disputes
    within one unit were settled there."""
    pairs: dict[tuple[str, ...], list[Dispute]] = {}
    within = 0
    for dispute in sorted(content.disputes.values(), key=lambda d: (d.date, d.id)):
        units = units_of(dispute, content.project)
        if len(units) < 2:
            within += dispute.decision is not None
        elif dispute.decision is None:
            pairs.setdefault(tuple(sorted(units)), []).append(dispute)
    friction = []
    for pair, disputes in sorted(pairs.items()):
        names = [content.project.units[u].name if u in content.project.units else u
                 for u in pair]
        # Two units face each other; more are a group, not a chain of pairs.
        friction.append(Friction(" ↔ ".join(names) if len(names) == 2 else translate.join(names),
                                 translate.plural("open_disputes", len(disputes)),
                                 [links.note("dispute", d.id) for d in disputes]))
    return friction, within


# --- disputes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PartyView:
    person: Markup
    position: str


@dataclass(frozen=True)
class DisputeView:
    """A dispute with its parties' positions side by side and its state in words."""

    dispute: Dispute
    cross_unit: bool
    parties: list[PartyView]
    raised: Markup
    state: Markup


def dispute_view(dispute: Dispute, content: Content, today: dt.date, links: Links,
                 translate: Translator) -> DisputeView:
    """One dispute as the disputes pages show it."""
    cross = is_cross_unit(dispute, content)
    parties = [PartyView(links.person(p.person, with_unit=True), p.position)
               for p in dispute.parties]
    raised = translate.html("site.raised_by_on", person=links.person(dispute.raised_by),
                            date=translate.date(dispute.date))
    if dispute.decision is not None:
        state = translate.html("site.decided_by", person=links.person(dispute.decision.by),
                               date=translate.date(dispute.decision.date))
    elif cross:
        due = dispute.decide_by or dispute.date + dt.timedelta(
            days=content.project.rules.decision_days)
        state = translate.html("site.dispute_waiting", date=translate.date(due),
                               delta=translate.days_from(due, today))
    else:
        state = translate.html("site.dispute_within")
    return DisputeView(dispute, cross, parties, raised, state)


def dispute_groups(content: Content, today: dt.date, links: Links, translate: Translator
                   ) -> list[tuple[str, str, list[DisputeView]]]:
    """The disputes page's groups: open cross-unit, open within-unit, decided (latest first)."""
    open_cross, open_within, decided = [], [], []
    for dispute in sorted(content.disputes.values(), key=lambda d: (d.date, d.id)):
        view = dispute_view(dispute, content, today, links, translate)
        if dispute.decision is not None:
            decided.append(view)
        elif view.cross_unit:
            open_cross.append(view)
        else:
            open_within.append(view)
    decided.sort(key=lambda v: (v.dispute.decision.date if v.dispute.decision else today,
                                v.dispute.id), reverse=True)
    return [("open-cross", translate("site.disputes_open_cross"), open_cross),
            ("open-within", translate("site.disputes_open_within"), open_within),
            ("decided", translate("site.disputes_decided"), decided)]


def is_cross_unit(dispute: Dispute, content: Content) -> bool:
    """Whether the dispute's parties belong to two or more units."""
    return len(units_of(dispute, content.project)) > 1


# --- changes and team -------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeView:
    """A change with its goal, proposal in words and decision state."""

    change: Change
    goal_link: Markup
    proposed: Markup
    proposal: list[str]
    state: Markup


def change_view(change: Change, content: Content, current: Mapping[str, CurrentGoal],
                today: dt.date, links: Links, translate: Translator) -> ChangeView:
    """One change as the changes pages show it."""
    goal = current.get(change.goal)
    proposed = translate.html("site.proposed_by_on", person=links.person(change.proposed_by),
                              date=translate.date(change.date))
    if change.decision is not None:
        state = translate.html(f"site.change_{change.decision.outcome}",
                               person=links.person(change.decision.by),
                               date=translate.date(change.decision.date))
    else:
        due = change.date + dt.timedelta(days=content.project.rules.decision_days)
        state = translate.html("site.change_pending", date=translate.date(due),
                               delta=translate.days_from(due, today))
    return ChangeView(change, links.note("goal", change.goal, goal.title if goal else None),
                      proposed, proposal_lines(change, goal, translate), state)


def change_views(content: Content, current: Mapping[str, CurrentGoal], today: dt.date,
                 links: Links, translate: Translator) -> list[tuple[str, list[ChangeView]]]:
    """Changes waiting for a decision (oldest first), then decided ones (latest first)."""
    changes = sorted(content.changes.values(), key=lambda c: (c.date, c.id))
    pending = [change_view(c, content, current, today, links, translate)
               for c in changes if c.decision is None]
    decided = [change_view(c, content, current, today, links, translate)
               for c in reversed(changes) if c.decision is not None]
    return [(translate("site.changes_pending"), pending),
            (translate("site.changes_decided"), decided)]


@dataclass(frozen=True)
class UnitView:
    id: str
    name: str
    external: bool
    people: list[tuple[str, str, bool, str, str | None]]  # id, name, executive, email, href


def team_units(content: Content) -> list[UnitView]:
    """Units in project.yml's order, each with its people; executives and outsiders marked."""
    project = content.project
    units = []
    for unit in project.units.values():
        people = [(p.id, p.name, p.executive, p.email,
                   safe_href(f"mailto:{p.email}") if p.email else None)
                  for p in project.people.values() if p.unit == unit.id]
        units.append(UnitView(unit.id, unit.name, unit.external, people))
    return units


def changes_of(content: Content) -> Mapping[str, Sequence[Change]]:
    """Every change grouped under its goal id, by date."""
    return changes_by_goal(content.changes.values())


def review_pages(review: Review) -> list[tuple[str, str | None]]:
    """The pages a review looked at: (text, link), the link None unless it is http(s)."""
    return [(url, safe_href(url) if url.startswith(("http://", "https://")) else None)
            for url in review.pages]


def sorted_reviews(reviews: Sequence[Review]) -> list[Review]:
    """Reviews latest month first."""
    return sorted(reviews, key=lambda r: (r.month, r.date, r.id), reverse=True)
