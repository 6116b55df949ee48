"""One file's bytes to a model object: the values read, their positions and the references kept."""

from __future__ import annotations

import datetime as dt
import pickle

import pytest

from smreport.model import (
    Approval,
    Change,
    ChangeDecision,
    Dispute,
    Goal,
    Kpi,
    Party,
    Position,
    Reading,
    Reference,
    Review,
)
from smreport.parse import note_id_problem, parse_note, parse_project
from tests.conftest import GOAL, PROJECT_YML


def test_a_goal_is_read_whole() -> None:
    text = GOAL.replace("approved:", "readings:\n  - { kpi: leads, date: 2026-01-31, value: 131 }"
                                     "\nstatus: active\napproved:")
    goal, problems = parse_note("goal", "goals/double-leads.md", text.encode())
    assert problems == []
    assert isinstance(goal, Goal)
    assert (goal.id, goal.path, goal.title, goal.owner) == (
        "double-leads", "goals/double-leads.md", "Double qualified leads", "smirnova")
    assert (goal.start, goal.due, goal.status) == (dt.date(2026, 1, 1), dt.date(2026, 7, 1),
                                                   "active")
    assert goal.kpis == (Kpi("leads", "Qualified leads per month", 100.0, 200.0, "leads"),)
    assert goal.readings == (Reading("leads", dt.date(2026, 1, 31), 131.0),)
    assert goal.approved == Approval("petrov", dt.date(2026, 1, 10))
    assert goal.body == "Why this goal.\n" and goal.body_line == 13


def test_references_are_kept_for_the_cross_file_checks() -> None:
    text = GOAL.replace("approved:", "readings:\n  - { kpi: leads, date: 2026-01-31, value: 131 }"
                                     "\napproved:")
    goal, _ = parse_note("goal", "goals/double-leads.md", text.encode())
    assert goal is not None
    assert goal.references == (
        Reference("person", "smirnova", Position(3, 8), "owner"),
        Reference("kpi", "double-leads/leads", Position(9, 12)),
        Reference("executive", "petrov", Position(10, 17), "approved.by"),
    )


def test_references_are_immutable_and_cross_processes_whole() -> None:
    """A note's references are made in a parse worker and pickled to the main process
    (named tuples, for speed): they cannot be changed, and arrive equal, with their
    names and their shared positions."""
    goal, _ = parse_note("goal", "goals/double-leads.md", GOAL.encode())
    assert goal is not None and goal.references
    reference = goal.references[0]
    with pytest.raises(AttributeError):
        reference.target = "someone-else"  # type: ignore[misc]
    again = pickle.loads(pickle.dumps(goal, pickle.HIGHEST_PROTOCOL))
    assert again == goal and again.references == goal.references
    assert type(again.references[0]) is Reference
    assert again.references[0].role == "owner" and again.references[0].kind == "person"
    assert {reference: 1}[again.references[0]] == 1  # hashable, as frozen dataclasses were


def test_positions_let_later_stages_point_at_a_key() -> None:
    goal, _ = parse_note("goal", "goals/double-leads.md", GOAL.encode())
    assert goal is not None
    assert goal.position("due") == Position(5, 1)
    assert goal.position("approved.by") == Position(8, 17)
    assert goal.position("kpis[0]") == Position(7, 5)
    assert goal.position("nothing.here") == Position(1, 1)


def test_a_change_is_read_whole() -> None:
    text = """\
---
title: Keep customers
goal: double-leads
proposed_by: smirnova
date: 2026-02-15
set:
  title: Keep customers from social networks
  due: 2026-09-30
  status: achieved
  kpis:
    - { id: retention, name: Customers kept, baseline: 20, target: 40 }
decision: { outcome: approved, by: petrov, date: 2026-02-20, note: Agreed }
---
Retention matters more than raw leads.
"""
    change, problems = parse_note("change", "changes/keep.md", text.encode())
    assert problems == []
    assert isinstance(change, Change)
    assert (change.goal, change.proposed_by, change.date) == ("double-leads", "smirnova",
                                                              dt.date(2026, 2, 15))
    assert change.set.keys() == ("title", "due", "status", "kpis")
    assert change.set.kpis == (Kpi("retention", "Customers kept", 20.0, 40.0),)
    assert change.decision == ChangeDecision("approved", "petrov", dt.date(2026, 2, 20), "Agreed")
    assert change.position("set.due") == Position(8, 8)  # the value, for validate's message
    assert Reference("goal", "double-leads", Position(3, 7)) in change.references


def test_a_set_with_only_some_keys_replaces_only_those() -> None:
    text = ("---\ntitle: t\ngoal: g\nproposed_by: p\ndate: 2026-02-15\nset: { status: dropped }\n"
            "---\nWhy.\n")
    change, problems = parse_note("change", "changes/drop.md", text.encode())
    assert problems == [] and isinstance(change, Change)
    assert change.set.keys() == ("status",) and change.set.status == "dropped"


@pytest.mark.parametrize("set_block, line", [
    ("set:\n  due:\n", 7), ("set:\n  status: ~\n", 7),
    ("set:\n  title:\n  due: 2026-09-01\n", 7), ("set: { kpis: }\n", 6)])
def test_a_set_key_left_empty_is_an_error_not_a_change_that_sets_nothing(
        set_block: str, line: int) -> None:
    # SPEC: set is "required, at least one of these keys"; an empty one gives no value.
    text = f"---\ntitle: t\ngoal: g\nproposed_by: p\ndate: 2026-02-15\n{set_block}---\nWhy.\n"
    change, problems = parse_note("change", "changes/c.md", text.encode())
    assert change is None
    empty = [p for p in problems if p.code == "missing-field"]
    assert len(empty) == 1 and empty[0].line == line and "is empty" in empty[0].message, problems
    assert empty[0].severity == "error"


def test_a_review_is_read_whole() -> None:
    text = """\
---
month: 2026-03
reviewer: petrov
date: 2026-03-28
pages: [ "https://vk.com/brandx", " http://t.me/brandx " ]
likes: [ "Stories" ]
dislikes: [ "Contests", "Late replies" ]
feedback_to: [ smirnova, ivanov ]
---
Feedback.
"""
    review, problems = parse_note("review", "reviews/2026-03.md", text.encode())
    assert problems == []
    assert isinstance(review, Review)
    assert review.month == "2026-03" and review.date == dt.date(2026, 3, 28)
    assert review.pages == ("https://vk.com/brandx", "http://t.me/brandx")
    assert review.likes == ("Stories",) and review.dislikes == ("Contests", "Late replies")
    assert review.feedback_to == ("smirnova", "ivanov")
    assert [r.kind for r in review.references] == ["executive", "person", "person"]


def test_a_dispute_is_read_whole() -> None:
    text = """\
---
title: Who answers comments
raised_by: ivanov
date: 2026-02-10
decide_by: 2026-02-20
parties:
  - person: ivanov
    position: "The agency answers within an hour"
  - person: kuznetsova
    position: "PR approves every answer"
decision:
  by: petrov
  date: 2026-02-18
  outcome: "The agency answers routine comments"
---
"""
    dispute, problems = parse_note("dispute", "disputes/comments.md", text.encode())
    assert problems == []  # a dispute's context is optional
    assert isinstance(dispute, Dispute)
    assert dispute.parties == (Party("ivanov", "The agency answers within an hour"),
                               Party("kuznetsova", "PR approves every answer"))
    assert dispute.decide_by == dt.date(2026, 2, 20)
    assert dispute.decision is not None and dispute.decision.by == "petrov"
    assert dispute.position("decision.by") == Position(12, 7)


def test_links_to_other_notes_become_references_at_their_place() -> None:
    body = "See [the goal](../goals/double-leads.md#kpis) and\n[a review](../reviews/x.md \"t\").\n"
    text = GOAL.replace("Why this goal.\n", body)
    goal, _ = parse_note("goal", "goals/double-leads.md", text.encode())
    assert goal is not None
    notes = [r for r in goal.references if r.kind == "note"]
    assert notes == [Reference("note", "goals/double-leads.md", Position(10, 14)),
                     Reference("note", "reviews/x.md", Position(11, 10))]


def test_a_note_with_problems_is_not_returned() -> None:
    goal, problems = parse_note("goal", "goals/g.md", GOAL.replace("owner: smirnova\n", "")
                                .encode())
    assert goal is None and [p.code for p in problems] == ["missing-field"]


def test_a_bad_file_name_is_reported_and_the_rest_still_checked() -> None:
    goal, problems = parse_note("goal", "goals/My Goal.md",
                                GOAL.replace("owner: smirnova", "owner: no").encode())
    assert goal is None
    assert [p.code for p in problems] == ["bad-id", "quote-value"]


@pytest.mark.parametrize(("name", "problem"), [
    ("goals/double-leads.md", None),
    ("goals/2026-03.md", None),
    ("goals/" + "a" * 80 + ".md", None),
    ("goals/con.md", "reserved on Windows"),
    ("goals/lpt1.md", "reserved on Windows"),
    ("goals/Con.md", "rename it to con.md"),  # not an id either; the suggestion is then checked
    ("goals/a.b.md", "rename it to a-b.md"),
])
def test_note_id_problems(name: str, problem: str | None) -> None:
    found = note_id_problem(name)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_the_size_limit_is_checked_before_anything_is_decoded() -> None:
    data = b"---\n" + b"\xff" * 5000 + b"\n---\n"
    goal, problems = parse_note("goal", "goals/big.md", data, max_bytes=4096)
    assert goal is None
    assert [(p.code, p.line) for p in problems] == [("too-large", 1)]
    assert "5,009 bytes" in problems[0].message


def test_the_project_is_read_whole() -> None:
    project, problems = parse_project("project.yml", (PROJECT_YML + "rules:\n  decision_days: 5\n"
                                                      "  max_note_bytes: 4096\n").encode())
    assert problems == [] and project is not None
    assert project.title == "Brand X in social media" and project.timezone == "Europe/Moscow"
    assert project.units["agency"].external and not project.units["pr"].external
    assert project.people["petrov"].executive and project.unit_of("ivanov") == "agency"
    assert project.rules.decision_days == 5 and project.rules.max_note_bytes == 4096
    assert project.rules.off_track_tolerance == 0.2  # the default stays


def test_a_project_with_errors_is_still_returned_for_the_notes_checks() -> None:
    project, problems = parse_project("project.yml",
                                      PROJECT_YML.replace("unit: pr,", "unit: p,").encode())
    assert [p.code for p in problems] == ["unknown-unit"]
    assert project is not None and "kuznetsova" in project.people


@pytest.mark.parametrize("data", [b"", b"- a\n- b\n", b"title: [unclosed\n", b"\xff\xfe\x00"])
def test_an_unreadable_project_is_none_with_a_problem(data: bytes) -> None:
    project, problems = parse_project("project.yml", data)
    assert project is None and problems and all(p.path == "project.yml" for p in problems)
