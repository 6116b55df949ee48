"""What every agenda rule gets and gives: the context it reads, the findings it returns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ..model import Content, CurrentGoal, Subject


@dataclass(frozen=True, slots=True)
class FieldEdit:
    """One definition field that differs from the version committed with the approval.

    For a goal the field is its own; for a decided change, a key of its `set`
    (None when the key is absent on one side).
    """

    field: str  # title | due | status | kpis
    approved: object
    now: object
    since: dt.date | None  # the first commit that made the difference; None: uncommitted
    commit: str = ""  # that commit's id ("" when uncommitted)
    author: str = ""  # that commit's author


@dataclass(frozen=True)
class AgendaContext:
    """What the rules read: the content as of today, and the current goals."""

    content: Content
    today: dt.date
    current: Mapping[str, CurrentGoal]
    # From git (see `history`): note path -> the definition fields edited after its
    # approval (a goal) or decision (a change); None without git.
    edits: Mapping[str, tuple[FieldEdit, ...]] | None = None
    # Paths of notes whose approval or decision was not committed by the approver
    # (rules.verify_approvals); the content has them already removed.
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
