"""Derived views of the content: the project as it stood on a day, and current goals."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from .model import Change, Content, CurrentGoal, Dispute, Goal, Kpi, Review

# The last view `as_of` made, keyed by the content object itself (which it keeps alive,
# so identity is safe): a build asks for the same view twice, for the agenda and the site.
_last_as_of: tuple[Content, dt.date, Content] | None = None
N = TypeVar("N", Change, Dispute)


def as_of(content: Content, today: dt.date) -> Content:
    """The content as it stood on `today`: anything dated later was not yet written.

    Changes, reviews and disputes dated after today are dropped; approvals and
    decisions dated after today are removed (the note is pending again);
    readings dated after today are dropped. Goals are kept whatever their start.

    The last answer is kept: asked again for the same content, it is returned;
    asked for content that differs from it in a few notes (a --watch save), it
    is patched with those notes' views instead of made again from every note.
    """
    global _last_as_of
    last = _last_as_of
    if last is not None and last[1] == today and last[0] is content:
        return last[2]
    dated = _patched_as_of(last[0], last[2], content, today) \
        if last is not None and last[1] == today else None
    if dated is None:
        dated = _as_of(content, today)
    _last_as_of = (content, today, dated)
    return dated


def _dated_goal(goal: Goal, today: dt.date) -> Goal:
    known = _dated_goals.get(goal.id)
    if known is not None and known[0] is goal and known[1] == today:
        return known[2]  # the same goal object as last time (--watch): the same view
    readings = tuple(r for r in goal.readings if r.date <= today)
    approved = goal.approved if goal.approved and goal.approved.date <= today else None
    dated = goal
    if readings != goal.readings or approved is not goal.approved:
        dated = dataclasses.replace(goal, readings=readings, approved=approved)
    _dated_goals[goal.id] = (goal, today, dated)
    return dated


def _decided_later(note: N, today: dt.date) -> N | None:
    """A change or dispute as it stood today: None if written later, pending if decided later."""
    if note.date > today:
        return None
    if note.decision is None or note.decision.date <= today:
        return note
    known = _pending.get((note.type, note.id))
    if known is not None and known[0] is note:
        view = known[1]  # the same view as last time, as for goals
    else:
        view = dataclasses.replace(note, decision=None)
    _pending[(note.type, note.id)] = (note, view)
    return view  # type: ignore[return-value]


def _dated_review(review: Review, today: dt.date) -> Review | None:
    return review if review.date <= today else None


# The view of one note as of a day (None: not yet written), by Content collection.
_VIEWS: tuple[tuple[str, Callable[[Any, dt.date], Any]], ...] = (
    ("goals", _dated_goal), ("changes", _decided_later), ("reviews", _dated_review),
    ("disputes", _decided_later))

# More notes changed than this since the last view: it is made again from every note.
_PATCH_LIMIT = 64


def _as_of(content: Content, today: dt.date) -> Content:
    collections = {name: {note_id: dated for note_id, note in getattr(content, name).items()
                          if (dated := view(note, today)) is not None}
                   for name, view in _VIEWS}
    # The views of notes no longer there are forgotten.
    global _dated_goals, _pending
    _dated_goals = {k: v for k, v in _dated_goals.items() if content.goals.get(k) is v[0]}
    decided: dict[str, Mapping[str, Change | Dispute]] = {
        "change": content.changes, "dispute": content.disputes}
    _pending = {k: v for k, v in _pending.items() if decided[k[0]].get(k[1]) is v[0]}
    return _with(content, collections)


def _with(content: Content, collections: dict[str, dict[str, Any]]) -> Content:
    return dataclasses.replace(content, goals=collections["goals"],
                               changes=collections["changes"],
                               reviews=collections["reviews"],
                               disputes=collections["disputes"])


def _patched_as_of(before: Content, shown_before: Content, content: Content,
                   today: dt.date) -> Content | None:
    """`as_of(content, today)` from the view of `before`, when they differ in a few notes
    that neither join nor leave the view (else None: the order of the view would differ)."""
    collections: dict[str, dict[str, Any]] = {}
    for name, view in _VIEWS:
        notes, last, shown = getattr(content, name), getattr(before, name), \
            getattr(shown_before, name)
        changed = changed_keys(notes, last)
        if changed is None or len(changed) > _PATCH_LIMIT:
            return None
        patched = dict(shown)
        for note_id in changed:
            dated = view(notes[note_id], today)
            if (dated is None) != (note_id not in shown):
                return None
            if dated is not None:
                patched[note_id] = dated
        collections[name] = patched
    return _with(content, collections)


def changed_keys(after: Mapping[str, object], before: Mapping[str, object]) -> list[str] | None:
    """The keys whose values are not the very same objects in `after` as in `before`, or None
    when the two do not hold the same keys in the same order. In C loops: a save changes
    a note or two of thousands."""
    if len(after) != len(before):
        return None
    differs = list(map(operator.is_not, after.values(), before.values()))
    changed = list(itertools.compress(after, differs))
    if changed != list(itertools.compress(before, differs)):
        return None
    return changed


def same_objects(first: Sequence[object], second: Sequence[object]) -> bool:
    """True if both hold the very same objects in the same order (memos keyed by identity:
    an unchanged note is the same object from one rebuild to the next)."""
    return len(first) == len(second) and all(map(operator.is_, first, second))


def changes_by_goal(changes: Iterable[Change]) -> Mapping[str, Sequence[Change]]:
    """Every change grouped under its goal id, each list by date, then id.

    The last two answers are kept with the very changes they were made from:
    validation asks for the changes as written, the agenda and the site for
    them as of today (where a decision dated later is not yet taken). Read-only.
    """
    changes = tuple(changes)
    for known, grouped in _last_grouped:
        if len(known) == len(changes) and all(map(operator.is_, known, changes)):
            return grouped
    grouped = {}
    for change in sorted(changes, key=operator.attrgetter("date", "id")):
        grouped.setdefault(change.goal, []).append(change)
    _last_grouped[:] = [(changes, grouped), *_last_grouped[:1]]
    return grouped


_last_grouped: list[tuple[tuple[Change, ...], dict[str, list[Change]]]] = []


def approved_in_order(changes: Iterable[Change]) -> list[Change]:
    """Approved changes in the order they apply: by decision date, then change id."""
    approved = [c for c in changes if c.approved]
    return sorted(approved, key=lambda c: (c.decision.date if c.decision else dt.date.min, c.id))


def current_goal(goal: Goal, changes: Iterable[Change]) -> CurrentGoal:
    """The goal file with every approved change to it applied in order.

    `set` replaces whole keys; rejected and pending changes do not apply.
    """
    title, due, status, kpis = goal.title, goal.due, goal.status, goal.kpis
    applied = approved_in_order(c for c in changes if c.goal == goal.id)
    for change in applied:
        patch = change.set
        title = patch.title if patch.title is not None else title
        due = patch.due if patch.due is not None else due
        status = patch.status if patch.status is not None else status
        kpis = patch.kpis if patch.kpis is not None else kpis
    return CurrentGoal(goal, title, goal.start, due, status, kpis, tuple(applied))


def current_goals(content: Content) -> dict[str, CurrentGoal]:
    """The current goal for every goal, by id (the last answer is kept, as for `as_of`, and
    patched when only a few goals or changes differ from the content it was made from)."""
    global _last_current
    last = _last_current
    if last is not None and last[0] is content:
        return dict(last[1])
    grouped = changes_by_goal(content.changes.values())
    goal_ids = _affected_goals(last[0], content) if last is not None else None
    if goal_ids is None:
        goal_ids = list(content.goals)
        current: dict[str, CurrentGoal] = {}
        global _current_by_goal
        _current_by_goal = {k: v for k, v in _current_by_goal.items()
                            if content.goals.get(k) is v[0]}
    else:
        current = dict(last[1])  # type: ignore[index]
    for goal_id in goal_ids:
        goal = content.goals[goal_id]
        changes = tuple(grouped.get(goal_id, ()))
        known = _current_by_goal.get(goal_id)
        if known is not None and known[0] is goal and same_objects(known[1], changes):
            current[goal_id] = known[2]  # the same goal and changes as last time: the same
        else:
            current[goal_id] = current_goal(goal, changes)
        _current_by_goal[goal_id] = (goal, changes, current[goal_id])
    _last_current = (content, current)
    return dict(current)


def _affected_goals(before: Content, content: Content) -> list[str] | None:
    """The goals whose current goal may differ between `before` and `content`: the goals
    that changed and those of the changes that did; None when too many, or goals came or
    went (every current goal is made again)."""
    goals = changed_keys(content.goals, before.goals)
    changes = changed_keys(content.changes, before.changes) \
        if content.changes is not before.changes else []
    if goals is None or changes is None or len(goals) + len(changes) > _PATCH_LIMIT:
        return None
    affected = set(goals)
    for change_id in changes:
        affected.update((before.changes[change_id].goal, content.changes[change_id].goal))
    return sorted(goal_id for goal_id in affected if goal_id in content.goals)


_last_current: tuple[Content, dict[str, CurrentGoal]] | None = None
# Each goal's dated view and current goal from the last call, with the objects they were
# made from: a --watch rebuild changes one note, and the other goals are not redone.
_dated_goals: dict[str, tuple[Goal, dt.date, Goal]] = {}
_current_by_goal: dict[str, tuple[Goal, tuple[Change, ...], CurrentGoal]] = {}
# Changes and disputes decided after today, as pending views, likewise, by (type, id): so
# the notes as of today are the very same objects from one rebuild to the next, which the
# memos above and the lists' orders (Site.reuse) rely on.
_pending: dict[tuple[str, str], tuple[Change | Dispute, Change | Dispute]] = {}


def known_kpis(goal: Goal, changes: Iterable[Change]) -> Mapping[str, Kpi]:
    """Every KPI the goal has defined: the file's own and those of its approved changes."""
    kpis = {kpi.id: kpi for kpi in goal.kpis}
    for change in approved_in_order(c for c in changes if c.goal == goal.id):
        for kpi in change.set.kpis or ():
            kpis.setdefault(kpi.id, kpi)
    return kpis
