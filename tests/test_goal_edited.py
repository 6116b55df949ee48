"""goal-edited with real git: an approved goal (or a decided change) edited after its approval."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from smreport.agenda.base import FieldEdit
from smreport.model import Kpi
from tests.agenda.notes import LEADS, change_note, goal_note, project_yml, reading
from tests.gitrepo import PETROV, GitRepo, agenda_json, build_at, of_code, start_project

GOAL = "goals/double-leads.md"
LEADS_300 = "{ id: leads, name: Qualified leads, baseline: 100, target: 300 }"


def approved_goal(tmp_path: Path, **goal: object) -> GitRepo:
    """The goal proposed on 5 Jan by the team, approved in the executive's commit on 10 Jan."""
    repo = start_project(tmp_path / "repo", files={GOAL: goal_note(approved=None, **goal)})  # type: ignore[arg-type]
    repo.commit({GOAL: goal_note(**goal)}, "2026-01-10", author=PETROV,  # type: ignore[arg-type]
                message="Approve the leads goal")
    return repo


def test_a_kpi_target_edited_after_approval_is_on_the_agenda(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path)
    repo.commit({GOAL: goal_note(kpis=[LEADS_300])}, "2026-02-03", message="Raise the target")
    out = tmp_path / "site"
    result = build_at(repo.content, out, "2026-02-05")
    [item] = of_code(result.agenda, "goal-edited")
    assert item.subject is not None and (item.subject.type, item.subject.id) == \
        ("goal", "double-leads")
    assert item.due == dt.date(2026, 2, 10)  # the edit's commit + decision_days (7)
    assert not item.overdue
    [edit] = item.details["edits"]  # type: ignore[misc]
    assert edit == FieldEdit(
        "kpis", (Kpi("leads", "Qualified leads", 100, 200),),
        (Kpi("leads", "Qualified leads", 100, 300),), dt.date(2026, 2, 3),
        edit.commit, "Anna Smirnova")
    assert "target of the KPI “Qualified leads” from 200 to 300" in item.why
    [entry] = [e for e in agenda_json(out) if e["code"] == "goal-edited"]
    assert entry["subject"] == {"type": "goal", "id": "double-leads"}
    assert entry["due"] == "2026-02-10" and entry["case"] == 2
    assert entry["url"] == "goals/double-leads/"


def test_the_same_edit_explained_by_an_approved_change_is_not(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path)
    change = change_note(date="2026-01-25", set_lines=("kpis:", f"  - {LEADS_300}"),
                         outcome="approved", decided="2026-02-01", title="Raise the target")
    repo.commit({"changes/raise-target.md": change}, "2026-02-01", author=PETROV)
    repo.commit({GOAL: goal_note(kpis=[LEADS_300])}, "2026-02-03",
                message="Write the approved target into the goal")
    result = build_at(repo.content, tmp_path / "site", "2026-02-05")
    assert of_code(result.agenda, "goal-edited") == []
    assert of_code(result.agenda, "approve-change") == []


def test_only_the_fields_no_approved_change_explains_are_listed(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path)
    change = change_note(date="2026-01-25", set_lines=("kpis:", f"  - {LEADS_300}"),
                         outcome="approved", decided="2026-02-01")
    repo.commit({"changes/raise-target.md": change}, "2026-02-01", author=PETROV)
    repo.commit({GOAL: goal_note(kpis=[LEADS_300], due="2026-09-01")}, "2026-02-03")
    [item] = of_code(build_at(repo.content, tmp_path / "site", "2026-02-05").agenda,
                     "goal-edited")
    assert [edit.field for edit in item.details["edits"]] == ["due"]  # type: ignore[attr-defined]
    assert "due date from 1 May 2026 to 1 September 2026" in item.why


def test_an_approved_change_to_another_value_does_not_explain_the_edit(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path)
    change = change_note(date="2026-01-25", set_lines=("due: 2026-06-01",),
                         outcome="approved", decided="2026-02-01")
    repo.commit({"changes/move-due.md": change}, "2026-02-01", author=PETROV)
    repo.commit({GOAL: goal_note(due="2026-07-01")}, "2026-02-03")
    [item] = of_code(build_at(repo.content, tmp_path / "site", "2026-02-05").agenda,
                     "goal-edited")
    assert [(e.field, e.approved, e.now) for e in item.details["edits"]] == [  # type: ignore[attr-defined]
        ("due", dt.date(2026, 5, 1), dt.date(2026, 7, 1))]


def test_readings_and_the_body_may_change_freely(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path)
    repo.commit({GOAL: goal_note(readings=[reading("2026-01-31", 130)])}, "2026-02-01",
                message="January's reading")
    text = goal_note(readings=[reading("2026-01-31", 130), reading("2026-02-28", 150)])
    repo.commit({GOAL: text.replace("Why this goal.", "Why this goal, explained at length.")},
                "2026-03-01", message="February's reading, and a clearer why")
    # An uncommitted reading too.
    repo.write({GOAL: goal_note(readings=[reading("2026-01-31", 130), reading("2026-02-28", 150),
                                          reading("2026-03-02", 160)])})
    result = build_at(repo.content, tmp_path / "site", "2026-03-05")
    assert of_code(result.agenda, "goal-edited") == []
    assert result.history is not None and result.history.available


def test_an_uncommitted_edit_is_due_today_plus_decision_days(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path)
    repo.write({GOAL: goal_note(title="Triple qualified leads")})
    [item] = of_code(build_at(repo.content, tmp_path / "site", "2026-03-01").agenda,
                     "goal-edited")
    assert item.due == dt.date(2026, 3, 8)
    [edit] = item.details["edits"]  # type: ignore[misc]
    assert (edit.field, edit.approved, edit.now, edit.since) == \
        ("title", "Double qualified leads", "Triple qualified leads", None)
    assert "title from “Double qualified leads” to “Triple qualified leads”" in item.why


def test_a_committed_then_further_uncommitted_edit_dates_from_the_commit(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path)
    repo.commit({GOAL: goal_note(kpis=[LEADS_300])}, "2026-02-03")
    repo.write({GOAL: goal_note(kpis=["{ id: leads, name: Qualified leads, baseline: 100, "
                                      "target: 350 }"])})
    [item] = of_code(build_at(repo.content, tmp_path / "site", "2026-03-01").agenda,
                     "goal-edited")
    assert item.due == dt.date(2026, 2, 10)
    assert item.overdue
    assert "from 200 to 350" in item.why


def test_an_edit_reverted_is_gone_and_a_second_edit_counts_from_itself(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path)
    repo.commit({GOAL: goal_note(due="2026-07-01")}, "2026-02-03", message="Move the due date")
    repo.commit({GOAL: goal_note()}, "2026-02-04", message="Revert: ask first")
    assert of_code(build_at(repo.content, tmp_path / "a", "2026-02-05").agenda,
                   "goal-edited") == []
    repo.commit({GOAL: goal_note(due="2026-07-01")}, "2026-02-20", message="Move it anyway")
    [item] = of_code(build_at(repo.content, tmp_path / "b", "2026-02-21").agenda,
                     "goal-edited")
    assert item.due == dt.date(2026, 2, 27)


def test_the_commit_date_is_read_in_the_project_time_zone(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path)
    repo.write({GOAL: goal_note(status="dropped")})
    repo.git("add", "-A")
    # 23:30 in London is 02:30 the next day in Moscow, the project's zone.
    repo.git("commit", "-q", "-m", "Drop it", date="2026-02-03T23:30:00+00:00")
    [item] = of_code(build_at(repo.content, tmp_path / "site", "2026-02-05").agenda,
                     "goal-edited")
    assert item.due == dt.date(2026, 2, 11)
    assert "status from active to dropped" in item.why


def test_an_approval_that_was_never_committed_has_nothing_to_compare(tmp_path: Path) -> None:
    repo = start_project(tmp_path / "repo", files={GOAL: goal_note(approved=None)})
    repo.write({GOAL: goal_note(title="Another title")})  # approved in the working tree only
    result = build_at(repo.content, tmp_path / "site", "2026-02-05")
    assert of_code(result.agenda, "goal-edited") == []


def test_an_approval_dated_after_today_is_not_yet_there(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path)
    repo.commit({GOAL: goal_note(kpis=[LEADS_300])}, "2026-02-03")
    result = build_at(repo.content, tmp_path / "site", "2026-01-08")
    assert of_code(result.agenda, "goal-edited") == []
    assert [i.code for i in result.agenda if i.subject and i.subject.id == "double-leads"] == \
        ["approve-goal"]


def test_a_decided_change_whose_set_was_edited_after_the_decision(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path)
    decided = change_note(date="2026-01-25", set_lines=("due: 2026-06-01",),
                          outcome="approved", decided="2026-02-01")
    repo.commit({"changes/move-due.md": decided}, "2026-02-01", author=PETROV)
    repo.commit({"changes/move-due.md": decided.replace("due: 2026-06-01",
                                                        "due: 2026-08-01\n  title: Bigger")},
                "2026-02-04", message="Fix the change")
    result = build_at(repo.content, tmp_path / "site", "2026-02-05")
    [item] = of_code(result.agenda, "goal-edited")
    assert item.subject is not None and (item.subject.type, item.subject.id) == \
        ("change", "move-due")
    assert item.due == dt.date(2026, 2, 11)
    assert [(e.field, e.approved, e.now) for e in item.details["edits"]] == [  # type: ignore[attr-defined]
        ("title", None, "Bigger"), ("due", dt.date(2026, 6, 1), dt.date(2026, 8, 1))]
    assert item.title == "The decided change “Move the due date” was edited without you"
    # The goal file itself was not edited: the goal is not on the agenda.
    assert not [i for i in result.agenda if i.subject and i.subject.type == "goal"]


def test_the_item_speaks_russian(tmp_path: Path) -> None:
    repo = start_project(tmp_path / "repo", files={GOAL: goal_note(approved=None)})
    repo.commit({"project.yml": project_yml(language="ru"), GOAL: goal_note()}, "2026-01-10",
                author=PETROV)
    repo.commit({GOAL: goal_note(kpis=[LEADS_300])}, "2026-02-03")
    [item] = of_code(build_at(repo.content, tmp_path / "site", "2026-02-05").agenda,
                     "goal-edited")
    assert item.title == "Утверждённую цель «Double qualified leads» изменили без вас"
    assert "KPI «Qualified leads», цель — было 200, стало 300" in item.why


def test_kpis_added_removed_and_renamed_are_each_named(tmp_path: Path) -> None:
    posts = "{ id: posts, name: Customer posts, baseline: 0, target: 300 }"
    repo = approved_goal(tmp_path, kpis=[LEADS, posts])
    renamed = "{ id: leads, name: Good leads, baseline: 100, target: 200 }"
    hours = "{ id: hours, name: Hours to answer, baseline: 10, target: 5 }"
    repo.commit({GOAL: goal_note(kpis=[renamed, hours])}, "2026-02-03")
    [item] = of_code(build_at(repo.content, tmp_path / "site", "2026-02-05").agenda,
                     "goal-edited")
    assert "the KPI “Customer posts” removed" in item.why
    assert "the name of the KPI “Qualified leads” from Good leads" not in item.why
    assert "the name of the KPI “Qualified leads” from Qualified leads to Good leads" in item.why
    assert "the KPI “Hours to answer” added (from 10 to 5)" in item.why
