"""Small notes for agenda tests: each helper returns the text of one file.

Defaults describe one plain situation (a project from 2026-01-01, a goal
from 2026-01-01 to 2026-05-01, 120 days, with one KPI from 100 to 200);
tests change only what they are about.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from smreport.agenda import derive_agenda
from smreport.model import AgendaItem
from smreport.pipeline import Options, check
from tests.conftest import PROJECT_YML

LEADS = "{ id: leads, name: Qualified leads, baseline: 100, target: 200 }"
POSTS = "{ id: posts, name: Customer posts, baseline: 0, target: 300 }"
HOURS = "{ id: hours, name: Hours to answer, baseline: 10, target: 5 }"


def project_yml(*, start: str = "2026-01-01", language: str = "en", rules: str = "") -> str:
    """project.yml with the shared units and people, another start, language or rules."""
    text = PROJECT_YML.replace("start: 2026-01-01", f"start: {start}")
    text = text.replace("language: en", f"language: {language}")
    return text + (f"rules: {{ {rules} }}\n" if rules else "")


def goal_note(*, title: str = "Double qualified leads", start: str = "2026-01-01",
              due: str = "2026-05-01", status: str | None = None,
              kpis: Sequence[str] = (LEADS,), readings: Sequence[str] = (),
              approved: str | None = "2026-01-10") -> str:
    """A goal file; `readings` are flow mappings such as `{ kpi: leads, date: …, value: 1 }`."""
    lines = ["---", f"title: {title}", "owner: smirnova", f"start: {start}", f"due: {due}"]
    if status:
        lines.append(f"status: {status}")
    lines.append("kpis:")
    lines.extend(f"  - {kpi}" for kpi in kpis)
    if readings:
        lines.append("readings:")
        lines.extend(f"  - {reading}" for reading in readings)
    if approved:
        lines.append(f"approved: {{ by: petrov, date: {approved} }}")
    lines += ["---", "Why this goal.", ""]
    return "\n".join(lines)


def reading(date: str, value: float, kpi: str = "leads") -> str:
    return f"{{ kpi: {kpi}, date: {date}, value: {value} }}"


def change_note(*, goal: str = "double-leads", date: str = "2026-02-01",
                set_lines: Sequence[str] = ("due: 2026-06-01",),
                outcome: str | None = None, decided: str | None = None,
                title: str = "Move the due date") -> str:
    """A change; `outcome` (approved | rejected) with `decided` (its date) decides it."""
    lines = ["---", f"title: {title}", f"goal: {goal}", "proposed_by: smirnova",
             f"date: {date}", "set:"]
    lines.extend(f"  {line}" for line in set_lines)
    if outcome:
        lines.append(f"decision: {{ outcome: {outcome}, by: petrov, date: {decided or date} }}")
    lines += ["---", "Why the change is needed.", ""]
    return "\n".join(lines)


def review_note(month: str, date: str) -> str:
    return (f"---\nmonth: {month}\nreviewer: petrov\ndate: {date}\n"
            "likes: [ \"Customer stories\" ]\nfeedback_to: [ smirnova ]\n---\nThank you.\n")


def dispute_note(*, parties: Sequence[str] = ("ivanov", "kuznetsova"), date: str = "2026-02-10",
                 decide_by: str | None = None, decided: str | None = None,
                 title: str = "Who answers negative comments") -> str:
    lines = ["---", f"title: {title}", f"raised_by: {parties[0]}", f"date: {date}"]
    if decide_by:
        lines.append(f"decide_by: {decide_by}")
    lines.append("parties:")
    lines.extend(f"  - {{ person: {person}, position: \"My way\" }}" for person in parties)
    if decided:
        lines.append(f"decision: {{ by: petrov, date: {decided}, outcome: \"Do it this way\" }}")
    lines += ["---", "Context.", ""]
    return "\n".join(lines)


def agenda_of(root: Path, today: str) -> list[AgendaItem]:
    """The agenda of the project at `root` for `today`; the project must be valid."""
    result = check(Options(content=root))
    assert result.content is not None and result.ok, [p.format_text() for p in result.problems]
    return derive_agenda(result.content, dt.date.fromisoformat(today))


def of_code(items: Sequence[AgendaItem], code: str) -> list[AgendaItem]:
    """The items of one rule."""
    return [item for item in items if item.code == code]
