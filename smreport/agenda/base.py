"""What every agenda rule gets and gives: the context it reads, the findings it returns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ..model import Content, CurrentGoal, Subject


@dataclass(frozen=True, slots=True)
class FieldEdit:
    """One definition field of an approved goal that differs from the approved version."""

    field: str  # title | due | status | kpis
    approved: object
    now: object
    since: dt.date  # the date of the first commit that made the difference (or today)


@dataclass(frozen=True)
class AgendaContext:
    """What the rules read: the content as of today, and the current goals."""

    content: Content
    today: dt.date
    current: Mapping[str, CurrentGoal]
    # From git (see `history`): goal id -> edits made after approval; None without git.
    edits: Mapping[str, tuple[FieldEdit, ...]] | None = None
    # Goal and change ids whose approval was not committed by the approver.
    unverified: frozenset[str] = frozenset()

    @property
    def decision_days(self) -> dt.timedelta:
        return dt.timedelta(days=self.content.project.rules.decision_days)


@dataclass(frozen=True)
class Finding:
    """A rule's raw result; the runner stamps code, case, overdue, title and why on it."""

    subject: Subject | None
    due: dt.date
    params: Mapping[str, object] = field(default_factory=dict)
    months: tuple[str, ...] | None = None
    kpis: tuple[str, ...] | None = None
    details: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """An agenda rule: its SPEC code, the seed case it comes from, and its finder."""

    code: str
    case: int
    find: Callable[[AgendaContext], Iterable[Finding]]
    doc: str

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else self.code
