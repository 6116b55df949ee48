"""The agenda as a whole: one item per situation, the SPEC's order, localized words."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from smreport.agenda import RULES, Finding, Rule, derive_agenda
from smreport.model import Subject
from smreport.pipeline import Options, check
from tests.agenda.notes import (
    agenda_of,
    change_note,
    dispute_note,
    goal_note,
    project_yml,
    reading,
)
from tests.conftest import ProjectFactory

SPEC_CODES = ["approve-goal", "approve-change", "close-goal", "kpi-off-track", "review-page",
              "decide-dispute", "goal-edited"]
CASES = {"approve-goal": 1, "approve-change": 2, "close-goal": 2, "kpi-off-track": 2,
         "review-page": 3, "decide-dispute": 4, "goal-edited": 2}


def test_the_rules_are_the_spec_table_in_its_order() -> None:
    assert [rule.code for rule in RULES] == SPEC_CODES
    assert {rule.code: rule.case for rule in RULES} == CASES
    for rule in RULES:
        assert rule.doc.strip(), f"{rule.code} has no docstring"


def every_situation(make_project: ProjectFactory, language: str = "en") -> Path:
    """A project where, on 2026-03-10, each of the six rules fires at least once."""
    return make_project({
        "goals/a-goal.md": goal_note(title="Open a shop page", start="2026-03-01",
                                     due="2026-09-01", approved=None),
        "goals/b-goal.md": goal_note(title="Win a prize", start="2026-03-01", due="2026-09-01",
                                     approved=None),
        "goals/later-goal.md": goal_note(title="Launch the blog", start="2026-03-20",
                                         due="2026-09-01", approved=None),
        "goals/c-late.md": goal_note(title="Winter sale", due="2026-03-01"),
        # Day 52 of 120, 0.1 progress: behind; due 2026-02-22 + 7 = 2026-03-01.
        "goals/d-behind.md": goal_note(title="Double qualified leads",
                                       readings=[reading("2026-02-22", 110)]),
        "changes/z-change.md": change_note(goal="b-goal", date="2026-02-22",
                                           title="Move the prize"),
        "changes/y-change.md": change_note(goal="b-goal", date="2026-03-05",
                                           title="Move the prize again"),
        "disputes/m-dispute.md": dispute_note(date="2026-02-20", decide_by="2026-03-01",
                                              title="Who answers comments"),
        "disputes/a-dispute.md": dispute_note(date="2026-03-05", title="Who posts on Fridays"),
    }, project=project_yml(language=language), goal=False, name=f"content-{language}")


def test_order_overdue_then_due_then_code_then_subject_id(make_project: ProjectFactory) -> None:
    items = agenda_of(every_situation(make_project), "2026-03-10")
    assert [(i.code, i.subject.id if i.subject else None, i.due.isoformat(), i.overdue)
            for i in items] == [
        ("review-page", None, "2026-01-31", True),
        ("approve-goal", "a-goal", "2026-03-01", True),
        ("approve-goal", "b-goal", "2026-03-01", True),
        ("approve-change", "z-change", "2026-03-01", True),
        ("close-goal", "c-late", "2026-03-01", True),
        ("kpi-off-track", "d-behind", "2026-03-01", True),
        ("decide-dispute", "m-dispute", "2026-03-01", True),
        ("approve-change", "y-change", "2026-03-12", False),
        ("decide-dispute", "a-dispute", "2026-03-12", False),
        ("approve-goal", "later-goal", "2026-03-20", False),
    ]


def test_equal_items_are_ordered_by_subject_id_whatever_the_rules_yield(
        make_project: ProjectFactory) -> None:
    # Real rules yield notes in file order, which is id order already: a rule that
    # yields them backwards shows that the runner, not the rule, sorts.
    due = dt.date(2026, 3, 1)
    backwards = Rule("approve-change", 2, lambda context: [
        Finding(Subject("change", note_id), due, {"change": note_id, "goal": "g",
                                                  "proposer": "p", "fields": "f"})
        for note_id in ("c-change", "b-change", "a-change")], "Backwards.")
    content = check(Options(content=make_project())).content
    assert content is not None
    items = derive_agenda(content, dt.date(2026, 2, 1), rules=(backwards,))
    assert [i.subject.id for i in items if i.subject] == ["a-change", "b-change", "c-change"]


def test_overdue_means_today_is_after_due(make_project: ProjectFactory) -> None:
    root = every_situation(make_project)
    for today in ("2026-03-01", "2026-03-02", "2026-03-12", "2026-03-13"):
        for item in agenda_of(root, today):
            assert item.overdue == (today > item.due.isoformat()), (today, item)


CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)
LATIN_WORD = re.compile(r"\b[a-z]{4,}\b")  # an English word left untranslated


def test_titles_and_whys_in_english(make_project: ProjectFactory) -> None:
    items = agenda_of(every_situation(make_project), "2026-03-10")
    by_subject = {(i.code, i.subject.id if i.subject else None): i for i in items}
    assert "Open a shop page" in by_subject["approve-goal", "a-goal"].title
    assert "Move the prize" in by_subject["approve-change", "z-change"].title
    assert "Win a prize" in by_subject["approve-change", "z-change"].title
    assert "Winter sale" in by_subject["close-goal", "c-late"].title
    assert "1 March 2026" in by_subject["close-goal", "c-late"].why
    assert "Double qualified leads" in by_subject["kpi-off-track", "d-behind"].title
    assert "Qualified leads" in by_subject["kpi-off-track", "d-behind"].title
    assert "March 2026" in by_subject["review-page", None].title
    assert "January 2026" in by_subject["review-page", None].why
    assert "Who answers comments" in by_subject["decide-dispute", "m-dispute"].title
    for item in items:
        assert item.title and item.why and not CYRILLIC.search(item.title + item.why), item
        assert "{" not in item.title + item.why, item


def test_titles_and_whys_in_russian(make_project: ProjectFactory) -> None:
    root = every_situation(make_project, "ru")
    items = agenda_of(root, "2026-03-10")
    # Only the notes' own words (titles, names) may be English.
    own_words = {word for path in root.rglob("*") if path.is_file()
                 for word in LATIN_WORD.findall(path.read_text(encoding="utf-8").lower())}
    english = agenda_of(every_situation(make_project, "en"), "2026-03-10")
    assert [i.code for i in items] == [i.code for i in english]
    by_subject = {(i.code, i.subject.id if i.subject else None): i for i in items}
    assert "Open a shop page" in by_subject["approve-goal", "a-goal"].title
    assert "марта 2026" in by_subject["close-goal", "c-late"].why  # 1 марта 2026
    assert "март" in by_subject["review-page", None].title.lower()
    assert "январь" in by_subject["review-page", None].why.lower()
    for item, in_english in zip(items, english, strict=True):
        assert item.title != in_english.title and item.why != in_english.why
        assert CYRILLIC.search(item.title) and CYRILLIC.search(item.why), item
        assert "{" not in item.title + item.why, item
        leftovers = set(LATIN_WORD.findall(f"{item.title} {item.why}".lower())) - own_words
        assert not leftovers, (item.code, item.title, item.why)
