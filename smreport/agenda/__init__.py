"""The executive agenda: the four situations in which the executive must act.

Each rule is a module with its SPEC code, its seed case and a `find`
function; adding a rule is one module and one line in `RULES`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from types import ModuleType

from ..derive import as_of, current_goals
from ..i18n import translator
from ..model import FOLDERS, AgendaItem, Content
from . import (
    approve_change,
    approve_goal,
    close_goal,
    decide_dispute,
    goal_edited,
    kpi_off_track,
    review_page,
)
from .base import AgendaContext, FieldEdit, Finding, Rule


def _rule(module: ModuleType) -> Rule:
    return Rule(module.CODE, module.CASE, module.find, module.__doc__ or "")


# In the order of the SPEC's table, which is also the tie-break order of the agenda.
RULES: tuple[Rule, ...] = tuple(_rule(m) for m in (
    approve_goal, approve_change, close_goal, kpi_off_track, review_page, decide_dispute,
    goal_edited,
))
RULE_ORDER: Mapping[str, int] = {rule.code: index for index, rule in enumerate(RULES)}


def derive_agenda(content: Content, today: dt.date,
                  edits: Mapping[str, tuple[FieldEdit, ...]] | None = None,
                  unverified: frozenset[str] = frozenset(),
                  rules: tuple[Rule, ...] = RULES) -> list[AgendaItem]:
    """The agenda for `today`, in the SPEC's order.

    `content` is taken as of today (later-dated notes, approvals and readings
    are ignored). `edits` comes from git and feeds `goal-edited`.
    """
    content = as_of(content, today)
    context = AgendaContext(content, today, current_goals(content), edits, unverified)
    translate = translator(content.project.language)
    items: list[AgendaItem] = []
    for rule in rules:
        for finding in rule.find(context):
            items.append(_mark_unverified(_make_item(rule, finding, today, translate),
                                          unverified, translate))
    items.sort(key=lambda item: (not item.overdue, item.due, RULE_ORDER.get(item.code, 99),
                                 item.subject.id if item.subject else ""))
    return items


def _make_item(rule: Rule, finding: Finding, today: dt.date, translate) -> AgendaItem:  # type: ignore[no-untyped-def]
    subject = finding.subject
    url = f"{FOLDERS[subject.type]}/{subject.id}/" if subject else "reviews/"
    return AgendaItem(
        code=rule.code, case=rule.case, subject=subject, due=finding.due,
        overdue=today > finding.due,
        title=translate(f"agenda.{rule.code}.title", **finding.params),
        why=translate(f"agenda.{rule.code}.why", **finding.params),
        url=url, months=finding.months, kpis=finding.kpis, details=finding.details)


def _mark_unverified(item: AgendaItem, unverified: frozenset[str], translate) -> AgendaItem:  # type: ignore[no-untyped-def]
    """An item about a note whose approval or decision did not count says so first."""
    subject = item.subject
    if subject is None or f"{FOLDERS[subject.type]}/{subject.id}.md" not in unverified:
        return item
    return dataclasses.replace(item, why=f"{translate('agenda.unverified')} {item.why}",
                               details={**item.details, "unverified": True})


__all__ = ["RULES", "AgendaContext", "FieldEdit", "Finding", "Rule", "derive_agenda"]
