"""An approved goal, or a decided change, was edited without the executive.

Only where the content root is in a git repository (see `history`). Fires for
an approved goal whose definition (`title`, `due`, `status`, `kpis`) in the
working tree differs from the version committed with its current `approved`
block, where no approved change sets that field to that value; and for a
decided change whose `set` differs from the version committed with its
`decision`. Readings and the body may change freely. Quietly editing what the
executive approved changes the goal behind their back (case 2). Due on the
date of the first later commit that made the difference (today for an
uncommitted edit) plus `decision_days`; the item says which fields changed,
from what to what.

Passes: a reading appended to an approved goal; a KPI target raised in the goal
file together with an approved change whose `set.kpis` holds the same list.
Fires: `target: 240` edited to `target: 300` after `approved:` was committed,
with no approved change that sets it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..i18n import Term, Translator, translator
from ..model import CurrentGoal, Kpi, Subject
from .base import AgendaContext, FieldEdit, Finding

CODE = "goal-edited"
CASE = 2
_KPI_ATTRIBUTES = ("name", "baseline", "target", "unit")


def find(context: AgendaContext) -> Iterator[Finding]:
    if context.edits is None:
        return
    translate = translator(context.content.project.language)
    for goal in sorted(context.current.values(), key=lambda g: g.id):
        if goal.goal.approved is None:
            continue
        edits = [edit for edit in context.edits.get(goal.goal.path, ())
                 if not _explained(edit, goal)]
        if edits:
            yield _finding(Subject("goal", goal.id), goal.title, edits, context, translate)
    for change in sorted(context.content.changes.values(), key=lambda c: c.id):
        edits = list(context.edits.get(change.path, ()))
        if change.decision is not None and edits:
            yield _finding(Subject("change", change.id), change.title, edits, context,
                           translate)


def _explained(edit: FieldEdit, goal: CurrentGoal) -> bool:
    """An approved change to the goal sets this field to the value now in the file."""
    return any(getattr(change.set, edit.field) == edit.now for change in goal.applied)


def _finding(subject: Subject, title: str, edits: Sequence[FieldEdit], context: AgendaContext,
             translate: Translator) -> Finding:
    since = min(edit.since or context.today for edit in edits)
    kind = subject.type
    return Finding(
        subject, since + context.decision_days,
        {"kind": Term(f"agenda.goal-edited.{kind}"), "name": title,
         "lead": Term(f"agenda.goal-edited.lead.{kind}"),
         "edits": describe_edits(edits, translate),
         "advice": Term(f"agenda.goal-edited.advice.{kind}"),
         "fields": [Term(f"field.{edit.field}") for edit in edits]},
        details={"edits": tuple(edits)})


def describe_edits(edits: Sequence[FieldEdit], translate: Translator) -> str:
    """Each edited field, from what to what, in the site's language."""
    parts: list[str] = []
    for edit in edits:
        name = Term(f"field.{edit.field}")
        if edit.field == "kpis" and edit.approved is not None and edit.now is not None:
            parts.extend(_kpi_parts(edit.approved, edit.now, translate))  # type: ignore[arg-type]
        elif edit.approved is None:
            parts.append(translate("agenda.goal-edited.edit_set", field=name,
                                   now=_shown(edit.field, edit.now, translate)))
        elif edit.now is None:
            parts.append(translate("agenda.goal-edited.edit_unset", field=name,
                                   was=_shown(edit.field, edit.approved, translate)))
        else:
            key = "edit_text" if edit.field == "title" else "edit_value"
            parts.append(translate(f"agenda.goal-edited.{key}", field=name,
                                   was=_shown(edit.field, edit.approved, translate),
                                   now=_shown(edit.field, edit.now, translate)))
    return "; ".join(parts)


def _shown(field: str, value: object, translate: Translator) -> object:
    if field == "status":
        return Term(f"site.status.{value}")
    if field == "kpis":
        return [kpi.name for kpi in value]  # type: ignore[attr-defined]
    return value


def _kpi_parts(old: Sequence[Kpi], new: Sequence[Kpi], translate: Translator) -> list[str]:
    """A KPI list's differences, KPI by KPI: removed, added, or which numbers moved."""
    old_by_id = {kpi.id: kpi for kpi in old}
    new_ids = {kpi.id for kpi in new}
    parts = [translate("agenda.goal-edited.kpi_removed", kpi=kpi.name)
             for kpi in old if kpi.id not in new_ids]
    for kpi in new:
        before = old_by_id.get(kpi.id)
        if before is None:
            parts.append(translate("agenda.goal-edited.kpi_added", kpi=kpi.name,
                                   baseline=kpi.baseline, target=kpi.target))
            continue
        for attribute in _KPI_ATTRIBUTES:
            was, now = getattr(before, attribute), getattr(kpi, attribute)
            if was != now:
                parts.append(translate("agenda.goal-edited.kpi_changed", kpi=before.name,
                                       attribute=Term(f"agenda.goal-edited.kpi.{attribute}"),
                                       was=was if was != "" else "—",
                                       now=now if now != "" else "—"))
    if not parts:  # the same KPIs, in another order
        parts.append(translate("agenda.goal-edited.kpi_order"))
    return parts
