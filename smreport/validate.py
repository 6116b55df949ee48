"""Checks that need more than one file: references, executives, changes against goals."""

from __future__ import annotations

import difflib
import itertools
import operator
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from .derive import changes_by_goal, known_kpis, same_objects
from .model import (
    AnyNote,
    Change,
    Content,
    Dispute,
    Goal,
    Problem,
    Reference,
    Severity,
    UnparsedNote,
)


@dataclass
class ValidationMemo:
    """What the last validation found, kept between rebuilds (--watch).

    A note's reference problems are reused while the note is the same object
    (unchanged since it was parsed) and nothing its references could point at
    changed: the people (with their units), the goals and their KPIs, the note
    files and the assets. The notes and their problems are kept in the order
    they were checked, so a save that changed a few notes finds those by
    identity, in one pass at C speed, and checks only them.
    """

    targets: object = None
    notes: list[AnyNote | UnparsedNote] = field(default_factory=list)
    found: list[list[Problem]] = field(default_factory=list)  # each note's, in that order
    # Each goal's KPI ids with the goal and changes they were found from, and the last
    # goals, grouping of their changes and KPI ids, to tell when none of them changed.
    kpis: dict[str, tuple[Goal, tuple[Change, ...], tuple[str, ...]]] = field(
        default_factory=dict)
    last_kpis: tuple[list[Goal], object, dict[str, tuple[str, ...]]] | None = None


# More notes changed than this since the last validation: every note is checked again.
_PATCH_LIMIT = 64


class _Hints:
    """"Did you mean" suggestions, within a budget of comparisons for one validation: each
    compares the unknown id with every candidate (difflib), so thousands of unknown ids in
    a project of thousands of people would take hours. Past the budget, no suggestion."""

    BUDGET = 200_000  # candidate comparisons: about half a second

    def __init__(self) -> None:
        self.left = self.BUDGET

    def __call__(self, value: str, options: Collection[str]) -> str:
        if len(value) > 100 or len(options) > self.left:
            return ""
        self.left -= len(options)
        close = difflib.get_close_matches(value, list(options), n=1)
        return f"; did you mean {close[0]!r}?" if close else ""


def validate_content(content: Content, present: Collection[str],
                     unparsed: Iterable[UnparsedNote] = (),
                     memo: ValidationMemo | None = None) -> list[Problem]:
    """Every cross-file problem of `content`, sorted by file and line.

    `present` holds the paths of every note file found, including broken ones,
    so a link to a note that failed to parse is not reported as missing. With
    a `memo`, unchanged notes' references are not checked again (see `ValidationMemo`).
    """
    if memo is None:
        memo = ValidationMemo()
    kpis = _kpis_of_goals(content, memo)
    targets = (content.project, present if isinstance(present, frozenset)
               else frozenset(present), content.assets, kpis)
    if memo.targets != targets:
        memo.targets, memo.notes, memo.found = targets, [], []
    notes: list[AnyNote | UnparsedNote] = [*content.notes(), *unparsed]
    hints = _Hints()

    def check(note: AnyNote | UnparsedNote) -> list[Problem]:
        found = [problem for reference in note.references
                 if (problem := _check_reference(content, note, reference, kpis, present,
                                                 hints))]
        if isinstance(note, Dispute):  # who may decide depends on the people's units
            found.extend(_check_dispute_decider(content, note))
        return found
    found = memo.found
    changed = None
    if len(memo.notes) == len(notes):
        changed = list(itertools.compress(range(len(notes)),
                                          map(operator.is_not, memo.notes, notes)))
    if changed is not None and len(changed) <= _PATCH_LIMIT \
            and all(memo.notes[i].path == notes[i].path for i in changed):
        found = list(found)
        for index in changed:
            found[index] = check(notes[index])
    else:  # notes added, removed or reordered: each found again, unless the same object
        by_path = {note.path: (note, problems)
                   for note, problems in zip(memo.notes, memo.found, strict=True)}
        found = []
        for note in notes:
            known = by_path.get(note.path)
            found.append(known[1] if known is not None and known[0] is note else check(note))
    memo.notes, memo.found = notes, found
    problems = list(itertools.chain.from_iterable(found))
    for change in content.changes.values():
        target = content.goals.get(change.goal)
        if target and change.set.due is not None and change.set.due <= target.start:
            position = change.position("set.due")
            problems.append(Problem(
                change.path, position.line, position.column, "error", "due-before-start",
                f"this change would set the goal's due ({change.set.due}) on or before its "
                f"start ({target.start}); choose a due date after {target.start}"))
    return problems


def _kpis_of_goals(content: Content, memo: ValidationMemo) -> dict[str, tuple[str, ...]]:
    """Each goal's KPI ids, now or in an approved change: the very same dict as last time
    when no goal and no change is new, so comparing the validation's targets is cheap."""
    grouped = changes_by_goal(content.changes.values())
    goals = list(content.goals.values())
    last = memo.last_kpis
    if last is not None and last[1] is grouped and same_objects(last[0], goals):
        return last[2]
    kpis: dict[str, tuple[str, ...]] = {}
    remembered_kpis, memo.kpis = memo.kpis, {}
    for goal_id, goal in content.goals.items():
        changes = tuple(grouped.get(goal_id, ()))
        found_kpis = remembered_kpis.get(goal_id)
        if found_kpis is None or found_kpis[0] is not goal \
                or not same_objects(found_kpis[1], changes):
            found_kpis = (goal, changes, tuple(known_kpis(goal, changes)))
        memo.kpis[goal_id] = found_kpis
        kpis[goal_id] = found_kpis[2]
    if last is not None and last[2] == kpis:
        kpis = last[2]  # the same KPIs: keep the object the targets hold
    memo.last_kpis = (goals, grouped, kpis)
    return kpis


def _check_reference(content: Content, note: AnyNote | UnparsedNote, reference: Reference,
                     kpis_of: Mapping[str, tuple[str, ...]], present: Collection[str],
                     hint: Callable[[str, Collection[str]], str]) -> Problem | None:
    """The problem with one reference, if any (each has at most one). A plain function,
    not a generator: a build checks tens of thousands of references, nearly all fine."""
    kind, target = reference.kind, reference.target
    if kind == "person" or kind == "executive":
        people = content.project.people
        if not people:
            return None  # project.yml defines no one readable: reported there, not at every note
        person = people.get(target)
        if person is None:
            return _reference_problem(note, reference, "unknown-person",
                                      f"{target!r} is not a person defined in project.yml"
                                      + hint(target, people))
        if kind == "executive" and not person.executive:
            executives = ", ".join(p.id for p in people.values() if p.executive)
            return _reference_problem(note, reference, "not-executive",
                                      f"{reference.role!r} must be an executive, but "
                                      f"{person.name} ({target}) is not; executives: "
                                      f"{executives}")
    elif kind == "goal":
        if target not in content.goals and f"goals/{target}.md" not in present:
            return _reference_problem(note, reference, "unknown-goal",
                                      f"there is no goal {target!r} in goals/"
                                      + hint(target, content.goals))
    elif kind == "kpi":
        goal_id, _, kpi_id = target.partition("/")
        kpis = kpis_of.get(goal_id)
        if kpis is not None and kpi_id not in kpis:
            return _reference_problem(note, reference, "unknown-kpi",
                                      f"the goal has no KPI {kpi_id!r}, now or in an approved "
                                      "change" + hint(kpi_id, kpis))
    elif kind == "note" and target not in present and target not in content.assets:
        return _reference_problem(note, reference, "broken-link",
                                  f"the link points to {target}, which does not exist; "
                                  "fix the link or remove it", "warning")
    return None


def _reference_problem(note: AnyNote | UnparsedNote, reference: Reference, code: str,
                       message: str, severity: Severity = "error") -> Problem:
    position = reference.position
    return Problem(note.path, position.line, position.column, severity, code, message)


def _check_dispute_decider(content: Content, dispute: Dispute) -> Iterator[Problem]:
    if dispute.decision is None:
        return
    units = {content.project.unit_of(p.person) for p in dispute.parties}
    units.discard(None)
    decider = content.project.people.get(dispute.decision.by)
    if len(units) > 1 and decider is not None and not decider.executive:
        position = dispute.position("decision.by")
        yield Problem(dispute.path, position.line, position.column, "error", "not-executive",
                      f"the parties belong to different units, so only an executive may "
                      f"decide; {decider.name} ({decider.id}) is not one")
