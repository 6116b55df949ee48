"""The content model: plain frozen dataclasses that every stage passes along.

Nothing here reads files or the clock; the model is built by `load`/`parse`
and consumed by `validate`, `agenda` and `render`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import ClassVar, Literal, NamedTuple

Severity = Literal["error", "warning"]
NoteType = Literal["goal", "change", "review", "dispute"]
Status = Literal["active", "achieved", "dropped"]

NOTE_TYPES: tuple[NoteType, ...] = ("goal", "change", "review", "dispute")
FOLDERS: Mapping[NoteType, str] = {
    "goal": "goals",
    "change": "changes",
    "review": "reviews",
    "dispute": "disputes",
}
STATUSES: tuple[Status, ...] = ("active", "achieved", "dropped")


@dataclass(frozen=True)
class Position:
    """A 1-based line and column in a file."""

    line: int
    column: int


START = Position(1, 1)


def digest_body(body: str) -> str:
    """The `body_digest` of a note's Markdown text."""
    return hashlib.blake2b(body.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()

def exactly(number: float) -> Fraction:
    """A number as the team wrote it: a float by its shortest decimal form (0.2 is 1/5,
    not the binary fraction nearest to it)."""
    return Fraction(repr(number)) if isinstance(number, float) else Fraction(number)


_POSITIONS: dict[tuple[int, int], Position] = {}


def position_at(line: int, column: int) -> Position:
    """The position at `line`, `column`, as one object shared by every note in the process.

    A note holds dozens of positions and thousands of notes repeat the same few
    hundred: sharing them is most of the memory a big project's notes take.
    """
    key = (line, column)
    found = _POSITIONS.get(key)
    if found is None:
        found = Position(line, column)
        if len(_POSITIONS) < 100_000:
            _POSITIONS[key] = found
    return found


@dataclass(frozen=True)
class Problem:
    """One validation finding, in the SPEC's `path:line:col: severity code: message` form."""

    path: str
    line: int
    column: int
    severity: Severity
    code: str
    message: str

    def format_text(self) -> str:
        """Render the problem as one line of `smreport check` output."""
        return f"{self.path}:{self.line}:{self.column}: {self.severity} {self.code}: {self.message}"

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.path, self.line, self.column, self.code, self.message)


class Reference(NamedTuple):
    """A reference from a note to something defined elsewhere, checked once all is loaded.

    `kind` is one of: person, executive, goal, kpi (target = "goal-id/kpi-id"),
    note (a relative .md link in a body; target = the note's content path).

    A named tuple, not a dataclass: a note holds about nine, made in the parse workers
    and sent to the main process, and a tuple is made and pickled without the
    per-field work of a frozen dataclass (its __init__, its state dict).
    """

    kind: str
    target: str
    position: Position
    role: str = ""


# --- project.yml -----------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    external: bool = False


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    unit: str
    executive: bool = False
    email: str = ""


@dataclass(frozen=True)
class Rules:
    decision_days: int = 7
    off_track_tolerance: float = 0.2
    verify_approvals: bool = False
    max_note_bytes: int = 1024 * 1024


@dataclass(frozen=True)
class Project:
    title: str
    start: dt.date
    units: Mapping[str, Unit]
    people: Mapping[str, Person]
    language: str = "en"
    timezone: str = "UTC"
    rules: Rules = field(default_factory=Rules)
    site_url: str = ""
    path: str = "project.yml"
    positions: Mapping[str, Position] = field(default_factory=dict, compare=False)

    def person_name(self, person_id: str) -> str:
        person = self.people.get(person_id)
        return person.name if person else person_id

    def unit_of(self, person_id: str) -> str | None:
        person = self.people.get(person_id)
        return person.unit if person else None


# --- notes ------------------------------------------------------------------


@dataclass(frozen=True)
class Kpi:
    id: str
    name: str
    baseline: float
    target: float
    unit: str = ""

    @property
    def direction(self) -> Literal["up", "down"]:
        return "up" if self.target > self.baseline else "down"

    def progress(self, value: float) -> float:
        """Share of the way from baseline to target (0 at baseline, 1 at target)."""
        return (value - self.baseline) / (self.target - self.baseline)


@dataclass(frozen=True)
class Reading:
    kpi: str
    date: dt.date
    value: float


@dataclass(frozen=True)
class Approval:
    by: str
    date: dt.date


@dataclass(frozen=True)
class Note:
    """What every note has: its id, its file, its Markdown body."""

    id: str
    path: str
    body: str
    body_line: int
    # A digest of the body: a build may drop the text once rendered (see engine), and
    # the body still counts in comparing versions and in the rendered body's cache key.
    body_digest: str
    references: tuple[Reference, ...]
    positions: Mapping[str, Position]

    def position(self, key: str) -> Position:
        """Where `key` (a dotted path such as `approved.by`) was written, else the file start."""
        while key:
            found = self.positions.get(key)
            if found:
                return found
            key = key.rpartition(".")[0]
        return START


@dataclass(frozen=True)
class Goal(Note):
    title: str
    owner: str
    start: dt.date
    due: dt.date
    status: Status
    kpis: tuple[Kpi, ...]
    readings: tuple[Reading, ...] = ()
    approved: Approval | None = None
    type: ClassVar[NoteType] = "goal"


@dataclass(frozen=True)
class GoalPatch:
    """The `set` of a change: only the keys given are replaced."""

    title: str | None = None
    due: dt.date | None = None
    status: Status | None = None
    kpis: tuple[Kpi, ...] | None = None

    def keys(self) -> tuple[str, ...]:
        return tuple(k for k in ("title", "due", "status", "kpis") if getattr(self, k) is not None)


@dataclass(frozen=True)
class ChangeDecision:
    outcome: Literal["approved", "rejected"]
    by: str
    date: dt.date
    note: str = ""


@dataclass(frozen=True)
class Change(Note):
    title: str
    goal: str
    proposed_by: str
    date: dt.date
    set: GoalPatch
    decision: ChangeDecision | None = None
    type: ClassVar[NoteType] = "change"

    @property
    def approved(self) -> bool:
        return self.decision is not None and self.decision.outcome == "approved"


@dataclass(frozen=True)
class Review(Note):
    month: str  # YYYY-MM
    reviewer: str
    date: dt.date
    feedback_to: tuple[str, ...]
    pages: tuple[str, ...] = ()
    likes: tuple[str, ...] = ()
    dislikes: tuple[str, ...] = ()
    type: ClassVar[NoteType] = "review"


@dataclass(frozen=True)
class Party:
    person: str
    position: str


@dataclass(frozen=True)
class DisputeDecision:
    by: str
    date: dt.date
    outcome: str


@dataclass(frozen=True)
class Dispute(Note):
    title: str
    raised_by: str
    date: dt.date
    parties: tuple[Party, ...]
    decide_by: dt.date | None = None
    decision: DisputeDecision | None = None
    type: ClassVar[NoteType] = "dispute"


AnyNote = Goal | Change | Review | Dispute


@dataclass(frozen=True)
class UnparsedNote:
    """A note that could not be read whole: only its references, so they are still checked.

    A broken note is left out of the content, but a wrong person or goal in it
    is reported in the same pass as its other problems.
    """

    path: str
    references: tuple[Reference, ...]


@dataclass(frozen=True)
class Content:
    """Everything read from one content root, already parsed."""

    project: Project
    goals: Mapping[str, Goal]
    changes: Mapping[str, Change]
    reviews: Mapping[str, Review]
    disputes: Mapping[str, Dispute]
    assets: tuple[str, ...] = ()

    def notes(self) -> list[AnyNote]:
        return [*self.goals.values(), *self.changes.values(), *self.reviews.values(),
                *self.disputes.values()]

    def note(self, note_type: NoteType, note_id: str) -> AnyNote | None:
        collections: dict[str, Mapping[str, AnyNote]] = {
            "goal": self.goals, "change": self.changes,
            "review": self.reviews, "dispute": self.disputes,
        }
        return collections[note_type].get(note_id)


# --- derived ----------------------------------------------------------------


@dataclass(frozen=True)
class CurrentGoal:
    """A goal with every approved change applied, in order of decision date, then change id."""

    goal: Goal
    title: str
    start: dt.date
    due: dt.date
    status: Status
    kpis: tuple[Kpi, ...]
    applied: tuple[Change, ...]

    @property
    def id(self) -> str:
        return self.goal.id

    def kpi(self, kpi_id: str) -> Kpi | None:
        return next((k for k in self.kpis if k.id == kpi_id), None)

    def latest_reading(self, kpi_id: str) -> Reading | None:
        """The reading of `kpi_id` with the latest date; on a tie, the later one in the list."""
        latest: Reading | None = None
        for reading in self.goal.readings:
            if reading.kpi == kpi_id and (latest is None or reading.date >= latest.date):
                latest = reading
        return latest

    def expected_progress(self, on: dt.date) -> float:
        """Where a KPI should be on a day if it moves evenly from start to due, 0..1."""
        return float(self._expected(on))

    def _expected(self, on: dt.date) -> Fraction:
        span = (self.due - self.start).days
        if span <= 0:
            return Fraction(1)
        return min(Fraction(1), max(Fraction(0), Fraction((on - self.start).days, span)))

    def on_track(self, kpi: Kpi, reading: Reading, tolerance: float) -> bool:
        """The SPEC's rule: off track when `progress < expected * (1 - tolerance)`, in
        exact arithmetic, so that a reading right on the line is on track (in floats,
        0.75 * (1 - 0.2) is 0.6000000000000001, above a progress of exactly 0.6)."""
        baseline = exactly(kpi.baseline)
        progress = (exactly(reading.value) - baseline) / (exactly(kpi.target) - baseline)
        return progress >= self._expected(reading.date) * (1 - exactly(tolerance))


@dataclass(frozen=True)
class Subject:
    type: NoteType
    id: str


@dataclass(frozen=True)
class AgendaItem:
    """One thing the executive must do."""

    code: str
    case: int
    subject: Subject | None
    due: dt.date
    overdue: bool
    title: str
    why: str
    url: str
    months: tuple[str, ...] | None = None
    kpis: tuple[str, ...] | None = None
    details: Mapping[str, object] = field(default_factory=dict, compare=False)
