"""A dispute between people of different units awaits the executive's decision.

Fires for a cross-unit dispute (its parties belong to two or more units)
without `decision`. People of different units who cannot settle a matter need
a decision from the executive, not mediation (case 4). A dispute inside one
unit never reaches the agenda. Due on `decide_by`, else the dispute's date
plus `decision_days`.

Passes: parties from marketing only, or a `decision` block. Fires: an agency
person and a PR person, no `decision`, due on `decide_by` if given.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Dispute, Project, Subject
from .base import AgendaContext, Finding

CODE = "decide-dispute"
CASE = 4


def units_of(dispute: Dispute, project: Project) -> list[str]:
    """The distinct units of a dispute's parties, in the order the parties are listed."""
    units: list[str] = []
    for party in dispute.parties:
        unit = project.unit_of(party.person)
        if unit is not None and unit not in units:
            units.append(unit)
    return units


def find(context: AgendaContext) -> Iterator[Finding]:
    project = context.content.project
    for dispute in context.content.disputes.values():
        if dispute.decision is not None:  # most of a mature log's disputes
            continue
        units = units_of(dispute, project)
        if len(units) < 2:
            continue
        due = dispute.decide_by or dispute.date + context.decision_days
        names = [project.units[u].name if u in project.units else u for u in units]
        yield Finding(Subject("dispute", dispute.id), due,
                      {"dispute": dispute.title, "units": names})
