"""derive: the content as of a day, and the current goal (approved changes applied in order)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from smreport.derive import as_of, current_goal, current_goals
from smreport.model import Content
from smreport.pipeline import Options, check
from tests.agenda.notes import (
    HOURS,
    POSTS,
    agenda_of,
    change_note,
    dispute_note,
    goal_note,
    of_code,
    reading,
    review_note,
)
from tests.conftest import ProjectFactory

D = dt.date.fromisoformat


def load(root: Path) -> Content:
    result = check(Options(content=root))
    assert result.content is not None and result.ok, [p.format_text() for p in result.problems]
    return result.content


def goal_with(make_project: ProjectFactory, changes: dict[str, str], **goal: Any) -> Content:
    files = {"goals/leads.md": goal_note(**goal)}
    files.update({f"changes/{name}.md": text for name, text in changes.items()})
    return load(make_project(files, goal=False))


# --- as_of ------------------------------------------------------------------


def test_as_of_drops_what_is_dated_after_today_and_keeps_what_is_dated_today(
        make_project: ProjectFactory) -> None:
    content = load(make_project({
        "goals/leads.md": goal_note(approved="2026-01-10", readings=[
            reading("2026-01-31", 110), reading("2026-02-28", 120)]),
        "goals/future.md": goal_note(start="2027-01-01", due="2027-06-01", approved="2026-02-01"),
        "changes/today.md": change_note(goal="leads", date="2026-01-31"),
        "changes/tomorrow.md": change_note(goal="leads", date="2026-02-01"),
        "changes/decided-later.md": change_note(goal="leads", date="2026-01-20",
                                                outcome="approved", decided="2026-02-01"),
        "changes/decided-today.md": change_note(goal="leads", date="2026-01-20",
                                                outcome="rejected", decided="2026-01-31"),
        "reviews/january.md": review_note("2026-01", "2026-01-31"),
        "reviews/january-late.md": review_note("2026-01", "2026-02-01"),
        "disputes/today.md": dispute_note(date="2026-01-31"),
        "disputes/tomorrow.md": dispute_note(date="2026-02-01"),
        "disputes/decided-later.md": dispute_note(date="2026-01-05", decided="2026-02-01"),
    }, goal=False))
    then = as_of(content, D("2026-01-31"))
    assert sorted(then.goals) == ["future", "leads"]  # goals are kept whatever their start
    assert [r.date for r in then.goals["leads"].readings] == [D("2026-01-31")]
    assert then.goals["leads"].approved is not None
    assert then.goals["future"].approved is None
    assert sorted(then.changes) == ["decided-later", "decided-today", "today"]
    assert then.changes["decided-later"].decision is None
    assert then.changes["decided-today"].decision is not None
    assert sorted(then.reviews) == ["january"]
    assert sorted(then.disputes) == ["decided-later", "today"]
    assert then.disputes["decided-later"].decision is None
    # The original is untouched: the whole log is still there.
    assert len(content.changes) == 4 and len(content.goals["leads"].readings) == 2
    assert as_of(content, D("2026-02-01")).changes["decided-later"].decision is not None


# --- current goal -------------------------------------------------------------


def test_without_changes_the_current_goal_is_the_file(make_project: ProjectFactory) -> None:
    content = goal_with(make_project, {})
    goal = content.goals["leads"]
    current = current_goals(content)["leads"]
    assert (current.title, current.start, current.due, current.status, current.kpis) == (
        goal.title, goal.start, goal.due, goal.status, goal.kpis)
    assert current.applied == ()


def test_only_approved_changes_apply(make_project: ProjectFactory) -> None:
    content = goal_with(make_project, {
        "approved": change_note(goal="leads", set_lines=["title: Approved title"],
                                outcome="approved", decided="2026-02-02"),
        "rejected": change_note(goal="leads", set_lines=["due: 2026-09-01"],
                                outcome="rejected", decided="2026-02-03"),
        "pending": change_note(goal="leads", set_lines=["status: dropped"]),
    })
    current = current_goals(content)["leads"]
    assert (current.title, current.due, current.status) == (
        "Approved title", D("2026-05-01"), "active")
    assert [c.id for c in current.applied] == ["approved"]


def test_changes_apply_by_decision_date_then_change_id(make_project: ProjectFactory) -> None:
    # Proposed in one order, decided in another: the decision date decides.
    content = goal_with(make_project, {
        "a-first-proposed": change_note(goal="leads", date="2026-02-01",
                                        set_lines=["due: 2026-08-01", "title: Title A"],
                                        outcome="approved", decided="2026-02-20"),
        "b-second-proposed": change_note(goal="leads", date="2026-02-05",
                                         set_lines=["due: 2026-07-01"],
                                         outcome="approved", decided="2026-02-10"),
        # Proposed first, decided the same day as a-first-proposed: the change id, not
        # the proposal date, breaks the tie.
        "c-same-day": change_note(goal="leads", date="2026-01-15",
                                  set_lines=["title: Title C"],
                                  outcome="approved", decided="2026-02-20"),
    })
    current = current_goals(content)["leads"]
    assert [c.id for c in current.applied] == ["b-second-proposed", "a-first-proposed",
                                               "c-same-day"]
    assert (current.title, current.due) == ("Title C", D("2026-08-01"))


def test_set_replaces_whole_keys(make_project: ProjectFactory) -> None:
    content = goal_with(make_project, {
        "new-kpis": change_note(goal="leads", set_lines=[f"kpis: [ {POSTS}, {HOURS} ]"],
                                outcome="approved", decided="2026-02-02"),
        "only-status": change_note(goal="leads", date="2026-02-03",
                                   set_lines=["status: achieved"],
                                   outcome="approved", decided="2026-02-04"),
    }, title="Keep me")
    current = current_goals(content)["leads"]
    # The KPI list is replaced, not merged: `leads` is gone.
    assert [k.id for k in current.kpis] == ["posts", "hours"]
    assert current.kpi("leads") is None
    assert (current.kpis[1].baseline, current.kpis[1].target) == (10, 5)
    # Keys a change does not set keep their value; the start never changes.
    assert (current.title, current.due, current.start, current.status) == (
        "Keep me", D("2026-05-01"), D("2026-01-01"), "achieved")


def test_changes_to_other_goals_do_not_apply(make_project: ProjectFactory) -> None:
    content = load(make_project({
        "goals/leads.md": goal_note(),
        "goals/other.md": goal_note(title="Other"),
        "changes/for-other.md": change_note(goal="other", set_lines=["title: Renamed"],
                                            outcome="approved", decided="2026-02-02"),
    }, goal=False))
    goals = current_goals(content)
    assert goals["leads"].title == "Double qualified leads"
    assert goals["other"].title == "Renamed"
    assert current_goal(content.goals["leads"], content.changes.values()).applied == ()


def test_a_decision_after_today_does_not_apply_yet(make_project: ProjectFactory) -> None:
    content = goal_with(make_project, {
        "extend": change_note(goal="leads", set_lines=["due: 2026-09-01"],
                              outcome="approved", decided="2026-02-10")})
    assert current_goals(as_of(content, D("2026-02-09")))["leads"].due == D("2026-05-01")
    assert current_goals(as_of(content, D("2026-02-10")))["leads"].due == D("2026-09-01")


def test_expected_progress_is_clamped_to_0_and_1(make_project: ProjectFactory) -> None:
    current = current_goals(goal_with(make_project, {}))["leads"]  # 2026-01-01 .. 2026-05-01
    assert current.expected_progress(D("2025-12-01")) == 0.0
    assert current.expected_progress(D("2026-01-01")) == 0.0
    assert current.expected_progress(D("2026-03-02")) == 0.5
    assert current.expected_progress(D("2026-05-01")) == 1.0
    assert current.expected_progress(D("2026-07-01")) == 1.0


# --- a change that moves the due date moves the expectation -------------------


def test_moving_the_due_date_earlier_puts_a_kpi_off_track(make_project: ProjectFactory) -> None:
    # On 2026-03-02, 145 is 0.45 of the way: on track against a 2026-05-01 due date
    # (expected 0.5, threshold 0.4); behind against 2026-04-01 (expected 60/90).
    behind = {"goals/leads.md": goal_note(readings=[reading("2026-03-02", 145)])}
    earlier = change_note(goal="leads", date="2026-02-01", set_lines=["due: 2026-04-01"],
                          outcome="approved", decided="2026-02-05")
    root = make_project(behind, goal=False, name="unchanged")
    assert of_code(agenda_of(root, "2026-03-05"), "kpi-off-track") == []
    root = make_project({**behind, "changes/earlier.md": earlier}, goal=False, name="earlier")
    assert [(i.kpis, i.due) for i in of_code(agenda_of(root, "2026-03-05"), "kpi-off-track")
            ] == [(("leads",), D("2026-03-09"))]
    rejected = earlier.replace("outcome: approved", "outcome: rejected")
    root = make_project({**behind, "changes/earlier.md": rejected}, goal=False, name="rejected")
    assert of_code(agenda_of(root, "2026-03-05"), "kpi-off-track") == []


def test_moving_the_due_date_later_brings_a_kpi_back_on_track(
        make_project: ProjectFactory) -> None:
    # 130 on 2026-03-02 is 0.3 of the way: behind against 2026-05-01, on track against
    # 2026-07-01 (expected 60/181, threshold about 0.265).
    behind = {"goals/leads.md": goal_note(readings=[reading("2026-03-02", 130)])}
    later = change_note(goal="leads", date="2026-02-01", set_lines=["due: 2026-07-01"],
                        outcome="approved", decided="2026-02-05")
    root = make_project({**behind, "changes/later.md": later}, goal=False)
    assert of_code(agenda_of(root, "2026-03-05"), "kpi-off-track") == []
    pending = later.replace("decision:", "#")
    root = make_project({**behind, "changes/later.md": pending}, goal=False, name="pending")
    # Pending, the change does not apply, and being dated before the reading it does not
    # excuse it either.
    items = agenda_of(root, "2026-03-05")
    assert [(i.kpis, i.due) for i in of_code(items, "kpi-off-track")] == [
        (("leads",), D("2026-03-09"))]
    assert [i.subject.id for i in of_code(items, "approve-change") if i.subject] == ["later"]


def test_the_dated_view_and_current_goals_are_computed_once_per_content() -> None:
    """The agenda and the site both ask for them; the second ask is the same answer."""
    from smreport.derive import as_of, current_goals
    from smreport.load import load_content
    from tests.conftest import EXAMPLE

    content = load_content(EXAMPLE).content
    assert content is not None
    day = dt.date(2026, 11, 26)
    dated = as_of(content, day)
    assert as_of(content, day) is dated
    assert as_of(content, day - dt.timedelta(days=1)) is not dated  # another day, another view
    first, second = current_goals(dated), current_goals(dated)
    assert first == second and first is not second  # callers may change their own copy


@pytest.mark.parametrize("kind", ["changes", "disputes"])
def test_a_note_decided_after_today_is_the_same_pending_view_from_build_to_build(
        kind: str) -> None:
    """As of a day before its decision a change or dispute is pending: a view without the
    decision, made once per note object, so the memos keyed by identity (and the lists'
    orders, see Site.reuse) hold across rebuilds."""
    import dataclasses

    from smreport.load import load_content
    from tests.conftest import EXAMPLE

    content = load_content(EXAMPLE).content
    assert content is not None
    notes = getattr(content, kind)
    note = next(n for n in notes.values() if n.decision is not None and n.decision.date > n.date)
    before = note.decision.date - dt.timedelta(days=1)
    # Another content object with the same notes, as a rebuild loads it.
    first = getattr(as_of(content, before), kind)[note.id]
    again = getattr(as_of(dataclasses.replace(content), before), kind)[note.id]
    assert first.decision is None and again is first
    edited = dataclasses.replace(note, title="Edited")
    later = dataclasses.replace(content, **{kind: {**notes, note.id: edited}})
    pending = getattr(as_of(later, before), kind)[note.id]
    assert pending is not first and pending.title == "Edited" and pending.decision is None
    assert getattr(as_of(later, note.decision.date), kind)[note.id] is edited  # decided


def test_as_of_patched_after_a_few_notes_changed_equals_one_made_from_every_note() -> None:
    """--watch: as_of patches its last view with the notes a save changed, unless one joins
    or leaves the view, and current_goals its last answer with the goals they touch.
    After random edits (dates moved past today and back, decisions dated later, readings,
    notes added, removed and renamed) both must equal answers made afresh, in order."""
    import dataclasses
    import random

    from smreport import derive
    from smreport.load import load_content
    from tests.conftest import EXAMPLE

    content = load_content(EXAMPLE).content
    assert content is not None
    today = dt.date(2026, 11, 26)
    generator = random.Random(11)
    patched = 0
    real_patch = derive._patched_as_of

    def counting(*args: Any) -> Any:
        nonlocal patched
        result = real_patch(*args)
        patched += result is not None
        return result
    derive._patched_as_of = counting  # type: ignore[assignment]
    try:
        for _round in range(300):
            name = generator.choice(["goals", "changes", "reviews", "disputes"])
            notes = dict(getattr(content, name))
            note_id = generator.choice(sorted(notes))
            note = notes[note_id]
            shift = dt.timedelta(days=generator.choice([-400, -3, 0, 3, 400]))
            edit = generator.random()
            if edit < 0.05:
                del notes[note_id]
            elif edit < 0.1:
                notes[f"{note_id}-copy"] = dataclasses.replace(note, id=f"{note_id}-copy")
            elif edit < 0.15:  # renamed: as many notes, not the same keys
                del notes[note_id]
                renamed = dataclasses.replace(note, id=f"{note_id}-renamed")
                if name != "goals":  # and written after today: not in the view either
                    renamed = dataclasses.replace(renamed, date=today + dt.timedelta(days=9))
                notes[renamed.id] = renamed
            elif name == "goals":
                notes[note_id] = dataclasses.replace(
                    note, title=f"Edited {_round}", readings=tuple(
                        dataclasses.replace(r, date=r.date + shift) for r in note.readings))
            elif name != "reviews" and note.decision is not None and edit < 0.5:
                notes[note_id] = dataclasses.replace(note, decision=dataclasses.replace(
                    note.decision, date=today + shift))
            else:
                notes[note_id] = dataclasses.replace(note, date=today + shift)
            content = dataclasses.replace(content, **{name: notes})
            kept = as_of(content, today)
            kept_current = current_goals(kept)
            derive._last_as_of = derive._last_current = None
            fresh = as_of(content, today)
            for collection in ("goals", "changes", "reviews", "disputes"):
                assert list(getattr(kept, collection).items()) == \
                    list(getattr(fresh, collection).items()), (_round, collection)
            assert list(kept_current.items()) == list(current_goals(fresh).items()), _round
            # The next round starts from kept answers.
            current_goals(as_of(content, today))
    finally:
        derive._patched_as_of = real_patch  # type: ignore[assignment]
    assert patched > 100  # most rounds were patched, not made afresh
