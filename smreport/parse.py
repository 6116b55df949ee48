"""Parse one file's bytes into a model object and its problems.

Each function here is pure (bytes in, values out) and looks at one file only,
so notes can be parsed in any order, in worker processes, or from a cache.
Checks that need other files (references, the current goal) are in `validate`.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import unicodedata
import urllib.parse
import zoneinfo
from collections.abc import Callable

from .fields import BIDI_CONTROLS, Fields, Report, is_valid_id, suggest_id
from .model import (
    FOLDERS,
    START,
    STATUSES,
    AnyNote,
    Approval,
    Change,
    ChangeDecision,
    Dispute,
    DisputeDecision,
    Goal,
    GoalPatch,
    Kpi,
    NoteType,
    Party,
    Person,
    Position,
    Problem,
    Project,
    Reading,
    Reference,
    Review,
    Rules,
    Unit,
    UnparsedNote,
    digest_body,
    position_at,
)
from .notefile import decode_text, split_front_matter
from .yamltree import Mapping, Node, Scalar, parse_yaml

LANGUAGES = ("en", "ru")
# A relative link to another note, as the team writes it: [text](../goals/x.md#part)
_NOTE_LINK = re.compile(r"\]\(\s*<?((?:\.\./|\./)?(?:[\w.-]+/)*[\w.-]+\.md)(?:#[^)\s>]*)?>?"
                        r"(?:\s+[\"'(][^)]*)?\)")

# --- project.yml -----------------------------------------------------------------

PROJECT_KEYS = ("title", "language", "timezone", "start", "units", "people", "rules", "site_url")
UNIT_KEYS = ("name", "external")
PERSON_KEYS = ("name", "unit", "executive", "email")
RULE_KEYS = ("decision_days", "off_track_tolerance", "verify_approvals", "max_note_bytes")


def parse_project(path: str, data: bytes) -> tuple[Project | None, list[Problem]]:
    """Read project.yml: the title, units, people and rules.

    With errors, the project is still returned as far as it could be read (an
    empty title, the earliest start), so that one mistake in project.yml does
    not hide the problems of every note; the errors stop any build anyway.
    It is None only when project.yml is not a readable YAML mapping.
    """
    report = Report(path)
    text, failure = decode_text(data)
    if failure or text is None:
        assert failure is not None
        report.error(failure.position, failure.code, failure.message)
        return None, report.problems
    root, errors = parse_yaml(text)
    for error in errors:
        report.error(error.position, error.code, error.message)
    if root is None and not errors:
        report.error(START, "missing-field", "project.yml is empty; it needs at least "
                     "title, start, units and people")
    if root is None:
        return None, report.problems
    if not isinstance(root, Mapping):
        report.error(root.position, "front-matter",
                     "project.yml must be a mapping of keys (title:, start:, units:, people:)")
        return None, report.problems
    fields = Fields(root, report, PROJECT_KEYS)
    title = fields.text("title", what="the site's title")
    language = fields.choice("language", LANGUAGES, "en")
    timezone = fields.text("timezone", required=False) or "UTC"
    if fields.has("timezone") and not _is_timezone(timezone):
        report.error(fields.position("timezone"), "bad-value",
                     f"'timezone' is {timezone!r}, not an IANA time zone name "
                     "(for example Europe/Moscow or UTC)")
    start = fields.date("start")
    site_url = (fields.text("site_url", required=False, words=False) or "").strip()
    url_problem = url_problem_of(site_url, "the site's address",
                                 "https://briefing.example.com/") if site_url else None
    if site_url and not url_problem:
        site_url = lower_scheme(site_url)
    if site_url and not url_problem and ("?" in site_url or "#" in site_url):
        url_problem = ("it is the address of the site's folder, so it cannot have a query (?) "
                       "or a fragment (#)")
    if url_problem:
        report.error(fields.position("site_url"), "bad-url",
                     f"'site_url' is {site_url!r}: {url_problem}")
        site_url = ""

    units: dict[str, Unit] = {}
    unit_map = fields.mapping_of("units", None, required=True,
                                 what="a mapping of unit ids to {name: ...}")
    for unit_id, unit_fields in _entries(unit_map, UNIT_KEYS, "unit"):
        name = unit_fields.text("name", what="the unit's name")
        external = unit_fields.boolean("external")
        units[unit_id] = Unit(unit_id, name or unit_id, bool(external))
    if unit_map is not None and not unit_map.mapping.entries:
        report.error(unit_map.anchor, "missing-field", "'units' needs at least one unit")

    people: dict[str, Person] = {}
    people_map = fields.mapping_of("people", None, required=True,
                                   what="a mapping of person ids to {name: ..., unit: ...}")
    for person_id, person_fields in _entries(people_map, PERSON_KEYS, "person"):
        name = person_fields.text("name", what="the person's full name")
        unit = person_fields.id("unit", what="the id of one of the units")
        if unit is not None and unit_map is not None and unit not in units \
                and unit_map.has(unit) is False:
            report.error(person_fields.position("unit"), "unknown-unit",
                         f"unit {unit!r} is not defined under 'units'"
                         + (_did_you_mean(unit, units) or "; define it there or fix the id"))
        executive = person_fields.boolean("executive")
        email = person_fields.text("email", required=False, words=False) or ""
        # At most 254 characters (RFC 5321), before a pattern that backtracks on long text.
        if email and (len(email) > 254 or not _EMAIL.fullmatch(email)):
            shown = repr(email) if len(email) <= 254 else f"{len(email):,} characters long"
            report.error(person_fields.position("email"), "bad-value",
                         f"'email' is {shown}, which is not an e-mail address; write it as "
                         "name@company.example")
        people[person_id] = Person(person_id, name or person_id, unit or "", bool(executive),
                                   email)
    if people_map is not None and people and not any(p.executive for p in people.values()):
        report.error(people_map.anchor, "no-executive",
                     "no person is an executive; mark at least one with 'executive: true'")

    rules = Rules()
    rule_fields = fields.mapping_of("rules", RULE_KEYS)
    if rule_fields is not None:
        decision_days = rule_fields.integer("decision_days", required=False, minimum=1,
                                            maximum=365)
        tolerance = rule_fields.number("off_track_tolerance", required=False)
        if tolerance is not None and not 0 <= tolerance < 1:
            report.error(rule_fields.position("off_track_tolerance"), "bad-value",
                         f"'rules.off_track_tolerance' is {tolerance}; it must be at least 0 "
                         "and below 1 (0.2 means 20% behind the expected path)")
            tolerance = None
        verify = rule_fields.boolean("verify_approvals")
        max_bytes = rule_fields.integer("max_note_bytes", required=False, minimum=1024,
                                        maximum=64 * 1024 * 1024)
        rules = Rules(
            decision_days=decision_days if decision_days is not None else rules.decision_days,
            off_track_tolerance=tolerance if tolerance is not None else rules.off_track_tolerance,
            verify_approvals=bool(verify),
            max_note_bytes=max_bytes if max_bytes is not None else rules.max_note_bytes,
        )
    project = Project(title=title or "", start=start or dt.date.min, units=units, people=people,
                      language=language or "en", timezone=timezone, rules=rules,
                      site_url=site_url, path=path, positions=dict(fields.positions))
    return project, report.problems


# Characters that never belong in an address as written: they end an HTML attribute or
# hide what the link really is. Percent-encode them (%22 for ").
_URL_FORBIDDEN = re.compile(rf'[\x00-\x20\x7f"<>\\^`{{|}}{BIDI_CONTROLS}]')
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_NOT_IN_EMAIL = rf'@\s"<>()\[\]\\,;:{BIDI_CONTROLS}'
_EMAIL = re.compile(rf"[^{_NOT_IN_EMAIL}]+@[^{_NOT_IN_EMAIL}]+\.[^{_NOT_IN_EMAIL}]+")


def lower_scheme(url: str) -> str:
    """HTTPS://x is https://x: a scheme's case means nothing, and the site's templates and
    links test for the lower-case one."""
    scheme, colon, rest = url.partition(":")
    return f"{scheme.lower()}{colon}{rest}"


def url_problem_of(url: str, what: str = "a page",
                   example: str = "https://vk.com/brand") -> str | None:
    """Why `url` is not an acceptable http(s) address for `what`, or None."""
    if not re.match(r"https?://", url, re.IGNORECASE):
        return f"{what} must be an http:// or https:// address (for example {example})"
    forbidden = _URL_FORBIDDEN.search(url)
    if forbidden:
        return (f"the character {forbidden.group()!r} is not allowed in an address; "
                "percent-encode it or remove it")
    if _BAD_ESCAPE.search(url):
        return "a % must start an escape of two hex digits (%20); write a % itself as %25"
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname if parts.port != 0 else None  # .port checks its range
    except ValueError:  # a malformed port or IPv6 address
        return "the address has no valid host name (or port) after http(s)://"
    if not host:
        return "the address has no host name after http(s)://"
    try:
        host.encode("idna")  # each part of the name 1 to 63 characters, as DNS allows
    except UnicodeError:
        return f"the host name {host!r} is not a valid domain name"
    if "@" in parts.netloc:
        return ("it holds a user name or password before the host, which every reader of the "
                "site would see; remove it")
    return None


def _entries(fields: Fields | None, known: tuple[str, ...], what: str
             ) -> list[tuple[str, Fields]]:
    """The (id, fields) pairs of a mapping of ids to mappings, checking each id."""
    if fields is None:
        return []
    result = []
    for key, (position, node) in fields.mapping.entries.items():
        if not is_valid_id(key):
            fields.report.error(position, "bad-id",
                                f"{what} id {key!r} is not a valid id (lowercase letters, digits "
                                f"and hyphens); did you mean {suggest_id(key)!r}?")
            continue
        if not isinstance(node, Mapping):
            fields.report.error(node.position, "wrong-type",
                                f"{what} {key!r} must be a mapping with the keys "
                                + ", ".join(known))
            continue
        result.append((key, Fields(node, fields.report, known, f"{fields.prefix}.{key}",
                                   position, fields.positions)))
    return result


def _did_you_mean(value: str, options: object) -> str:
    import difflib
    close = difflib.get_close_matches(value, list(options), n=1)  # type: ignore[call-overload]
    return f"; did you mean {close[0]!r}?" if close else ""


def _is_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


# --- notes ------------------------------------------------------------------------

class _NoteReader:
    """State shared while reading one note: its fields, references and problems."""

    def __init__(self, fields: Fields) -> None:
        self.fields = fields
        self.references: list[Reference] = []

    def refer(self, kind: str, target: str | None, key: str, role: str = "",
              position: Position | None = None) -> None:
        """Record a reference to check once every file is read; at the value if given."""
        if target is not None:
            where = position or self.fields.positions.get(key, START)
            self.references.append(Reference(kind, target, where, role))

    def person(self, fields: Fields, key: str, executive: bool = False,
               required: bool = True) -> str | None:
        value = fields.id(key, required, what="the id of a person from project.yml")
        full_key = fields.name(key)
        if value is not None:
            self.fields.positions[full_key] = fields.position(key)
        self.refer("executive" if executive else "person", value, full_key, full_key)
        return value

    def people(self, key: str, minimum: int) -> tuple[str, ...]:
        def read(node: Node, item: str) -> str | None:
            value = self.fields.id_of(node, item)
            self.refer("person", value, self.fields.name(item), key)
            return value
        return self.fields.items(key, read, required=minimum > 0, minimum=minimum,
                                 what="a list of person ids") or ()

    def texts(self, key: str) -> tuple[str, ...]:
        return self.fields.items(key, self.fields.text_of, what="a list of texts") or ()


KPI_KEYS = ("id", "name", "unit", "baseline", "target")
READING_KEYS = ("kpi", "date", "value")
GOAL_KEYS = ("type", "title", "owner", "start", "due", "status", "kpis", "readings", "approved")
CHANGE_KEYS = ("type", "title", "goal", "proposed_by", "date", "set", "decision")
SET_KEYS = ("title", "due", "status", "kpis")
REVIEW_KEYS = ("type", "month", "reviewer", "date", "pages", "likes", "dislikes", "feedback_to")
DISPUTE_KEYS = ("type", "title", "raised_by", "date", "decide_by", "parties", "decision")


def _read_kpis(fields: Fields, key: str, required: bool) -> tuple[Kpi, ...] | None:
    if not fields.has(key):
        if required:
            fields.report.error(fields.anchor, "missing-field",
                                f"{fields.name(key)!r} is required: a list of KPIs, each with "
                                "id, name, baseline and target")
        return None
    kpis: list[Kpi] = []
    seen: set[str] = set()
    for kpi in fields.mappings(key, KPI_KEYS, required=True, minimum=1,
                               what="a list of KPIs (id, name, baseline, target)"):
        kpi_id = kpi.id("id", what="the KPI's id, unique in the goal")
        name = kpi.text("name", what="the KPI's name")
        unit = kpi.text("unit", required=False) or ""
        baseline = kpi.number("baseline")
        target = kpi.number("target")
        if kpi_id is not None and kpi_id in seen:
            kpi.report.error(kpi.position("id"), "duplicate-kpi",
                             f"the KPI id {kpi_id!r} is used twice in this list; ids must be "
                             "unique: rename one")
            continue
        if baseline is not None and target is not None and baseline == target:
            kpi.report.error(kpi.position("target"), "target-equals-baseline",
                             f"the target equals the baseline ({target:g}); a KPI must aim "
                             "above or below where it starts")
            continue
        if kpi_id is None or name is None or baseline is None or target is None:
            continue
        seen.add(kpi_id)
        kpis.append(Kpi(kpi_id, name, baseline, target, unit))
    return tuple(kpis)


def _read_goal(reader: _NoteReader, note_id: str, fields: Fields) -> dict[str, object] | None:
    title = fields.text("title", what="what the goal achieves, in one line")
    owner = reader.person(fields, "owner")
    start = fields.date("start")
    due = fields.date("due")
    if start and due and due <= start:
        fields.report.error(fields.position("due"), "due-before-start",
                            f"'due' ({due}) must be after 'start' ({start})")
        due = None
    status = fields.choice("status", STATUSES, "active")
    kpis = _read_kpis(fields, "kpis", required=True)
    readings: list[Reading] = []
    for reading in fields.mappings("readings", READING_KEYS,
                                   what="a list of readings (kpi, date, value)"):
        kpi_id = reading.id("kpi", what="the id of one of the goal's KPIs")
        date = reading.date("date")
        value = reading.number("value")
        if kpi_id is not None:
            reader.refer("kpi", f"{note_id}/{kpi_id}", reading.name("kpi"),
                         position=reading.position("kpi"))
        if kpi_id is not None and date is not None and value is not None:
            readings.append(Reading(kpi_id, date, value))
    approved = None
    approval = fields.mapping_of("approved", ("by", "date"),
                                 what="a mapping with 'by' (an executive) and 'date'")
    if approval is not None:
        by = reader.person(approval, "by", executive=True)
        date = approval.date("date")
        if by is not None and date is not None:
            approved = Approval(by, date)
    if None in (title, owner, start, due, status, kpis) or not kpis:
        return None
    return dict(title=title, owner=owner, start=start, due=due, status=status, kpis=kpis,
                readings=tuple(readings), approved=approved)


def _read_change(reader: _NoteReader, note_id: str, fields: Fields) -> dict[str, object] | None:
    title = fields.text("title", what="what the change does, in one line")
    goal = fields.id("goal", what="the id of the goal it changes")
    reader.refer("goal", goal, "goal", position=fields.position("goal"))
    proposed_by = reader.person(fields, "proposed_by")
    date = fields.date("date")
    patch = None
    set_fields = fields.mapping_of("set", SET_KEYS, required=True,
                                   what="a mapping with at least one of title, due, status, kpis")
    if set_fields is not None:
        if not any(set_fields.has(k) for k in SET_KEYS):
            fields.report.error(fields.mapping.key_position("set"), "missing-field",
                                "'set' must give at least one of: " + ", ".join(SET_KEYS))
        for key in ("title", "due", "status"):  # would set nothing, silently (kpis: says)
            if set_fields.is_empty(key):
                fields.report.error(set_fields.position(key), "missing-field",
                                    f"{set_fields.name(key)!r} is empty; write its new value, "
                                    "or remove the key if the change does not set it")
        if set_fields.has("due"):
            # validate checks the new due against the goal's start: point at the value.
            fields.positions["set.due"] = set_fields.position("due")
        patch = GoalPatch(
            title=set_fields.text("title", required=False),
            due=set_fields.date("due", required=False),
            status=set_fields.choice("status", STATUSES, "") or None,  # type: ignore[arg-type]
            kpis=_read_kpis(set_fields, "kpis", required=False),
        )
    decision = None
    decision_fields = fields.mapping_of("decision", ("outcome", "by", "date", "note"),
                                        what="a mapping with outcome, by and date")
    if decision_fields is not None:
        outcome = decision_fields.choice("outcome", ("approved", "rejected"), None)
        by = reader.person(decision_fields, "by", executive=True)
        decided = decision_fields.date("date")
        note = decision_fields.text("note", required=False, allow_empty=True) or ""
        if decided and date and decided < date:
            fields.report.error(decision_fields.position("date"), "decision-before-date",
                                f"the decision ({decided}) is dated before the change was "
                                f"proposed ({date}); correct one of the two dates")
            decided = None
        if outcome and by and decided:
            decision = ChangeDecision(outcome, by, decided, note)  # type: ignore[arg-type]
    if None in (title, goal, proposed_by, date, patch):
        return None
    return dict(title=title, goal=goal, proposed_by=proposed_by, date=date, set=patch,
                decision=decision)


def _read_review(reader: _NoteReader, note_id: str, fields: Fields) -> dict[str, object] | None:
    month = fields.month("month")
    reviewer = reader.person(fields, "reviewer", executive=True)
    date = fields.date("date")
    if month and date and date < dt.date.fromisoformat(month + "-01"):
        fields.report.error(fields.position("date"), "review-before-month",
                            f"the review is dated {date}, before the month it reviews "
                            f"({month}) began; check the month or the date")
        date = None

    def read_page(node: Node, item: str) -> str | None:
        url = fields.text_of(node, item, words=False)
        problem = url_problem_of(url.strip()) if url is not None else None
        if url is not None and problem:
            fields.report.error(node.position, "bad-url", f"{item!r} is {url!r}: {problem}")
            return None
        return lower_scheme(url.strip()) if url else None
    pages = fields.items("pages", read_page, what="a list of https:// addresses") or ()
    errors_before = len(fields.report.problems)
    likes = reader.texts("likes")
    dislikes = reader.texts("dislikes")
    # A malformed list has its own problem already; do not add a second one for it.
    if not likes and not dislikes and len(fields.report.problems) == errors_before:
        fields.report.error(fields.anchor, "no-likes",
                            "a review needs at least one item under 'likes' or 'dislikes' "
                            "(what works on the page, what does not)")
    feedback_to = reader.people("feedback_to", minimum=1)
    if None in (month, reviewer, date) or not feedback_to:
        return None
    return dict(month=month, reviewer=reviewer, date=date, pages=pages, likes=likes,
                dislikes=dislikes, feedback_to=feedback_to)


def _read_dispute(reader: _NoteReader, note_id: str, fields: Fields) -> dict[str, object] | None:
    title = fields.text("title", what="the question to decide, in one line")
    raised_by = reader.person(fields, "raised_by")
    date = fields.date("date")
    decide_by = fields.date("decide_by", required=False)
    if decide_by and date and decide_by < date:
        fields.report.error(fields.position("decide_by"), "decide-by-before-date",
                            f"'decide_by' ({decide_by}) is before the dispute was raised "
                            f"({date}); give a deadline on or after {date}")
    parties: list[Party] = []
    for party in fields.mappings("parties", ("person", "position"), required=True, minimum=2,
                                 what="a list of parties (person, position)"):
        person = reader.person(party, "person")
        position = party.text("position", what="what this person proposes, in one sentence")
        if person is not None and position is not None:
            parties.append(Party(person, position))
    if fields.has("parties") and len(parties) >= 2 and len({p.person for p in parties}) < 2:
        fields.report.error(fields.position("parties"), "parties",
                            "a dispute needs at least two different people among its parties, "
                            f"found only {parties[0].person!r}; name the other side")
    decision = None
    decision_fields = fields.mapping_of("decision", ("by", "date", "outcome"),
                                        what="a mapping with by, date and outcome")
    if decision_fields is not None:
        by = reader.person(decision_fields, "by")
        decided = decision_fields.date("date")
        outcome = decision_fields.text("outcome", what="the decision, in one or two sentences")
        if decided and date and decided < date:
            fields.report.error(decision_fields.position("date"), "decision-before-date",
                                f"the decision ({decided}) is dated before the dispute was "
                                f"raised ({date}); correct one of the two dates")
            decided = None
        if by and decided and outcome:
            decision = DisputeDecision(by, decided, outcome)
    if None in (title, raised_by, date) or len({p.person for p in parties}) < 2:
        return None
    return dict(title=title, raised_by=raised_by, date=date, decide_by=decide_by,
                parties=tuple(parties), decision=decision)


_Reader = Callable[[_NoteReader, str, Fields], "dict[str, object] | None"]
_NOTE_KINDS: dict[NoteType, tuple[tuple[str, ...], _Reader, type, bool]] = {
    # type: (known keys, reader, class, body required)
    "goal": (GOAL_KEYS, _read_goal, Goal, False),
    "change": (CHANGE_KEYS, _read_change, Change, True),
    "review": (REVIEW_KEYS, _read_review, Review, True),
    "dispute": (DISPUTE_KEYS, _read_dispute, Dispute, False),
}

BODY_REQUIRED_REASON = {
    "change": "say why the change is needed",
    "review": "the feedback to the team is mandatory",
}


_RESERVED_NAMES = frozenset(
    ["con", "prn", "aux", "nul"] + [f"com{i}" for i in range(10)] + [f"lpt{i}" for i in range(10)])


def note_id_problem(path: str) -> str | None:
    """Why a note's file name is not a valid id, or None."""
    stem = path.rsplit("/", 1)[-1].removesuffix(".md")
    if stem in _RESERVED_NAMES:
        return (f"the file name {stem!r} is reserved on Windows and cannot be checked out "
                f"there; rename it, for example to {stem}-note.md")
    if is_valid_id(stem):
        return None
    return (f"the file name {stem!r} is not a valid note id (lowercase ASCII letters, digits "
            f"and hyphens, at most 80 characters); rename it to {suggest_id(stem)}.md")


def parse_note(note_type: NoteType, path: str, data: bytes,
               max_bytes: int = Rules.max_note_bytes) -> tuple[AnyNote | None, list[Problem]]:
    """Parse one note file; `path` is relative to the content root, with `/` separators."""
    note, problems = parse_note_or_references(note_type, path, data, max_bytes)
    return (None if isinstance(note, UnparsedNote) else note), problems


def parse_note_or_references(note_type: NoteType, path: str, data: bytes,
                             max_bytes: int = Rules.max_note_bytes
                             ) -> tuple[AnyNote | UnparsedNote | None, list[Problem]]:
    """Like `parse_note`, but a note that does not parse still yields its references."""
    report = Report(path)
    id_problem = note_id_problem(path)
    if id_problem:
        report.error(START, "bad-id", id_problem)
    if len(data) > max_bytes:
        report.error(START, "too-large",
                     f"the note is {len(data):,} bytes, over the limit of {max_bytes:,}; "
                     "split it, or raise rules.max_note_bytes in project.yml")
        return None, report.problems
    text, failure = decode_text(data)
    if failure or text is None:
        assert failure is not None
        report.error(failure.position, failure.code, failure.message)
        return None, report.problems
    split, failure = split_front_matter(text)
    if failure or split is None:
        assert failure is not None
        report.error(failure.position, failure.code, failure.message)
        return None, report.problems
    root, errors = parse_yaml(split.front_matter, split.front_matter_line)
    for error in errors:
        report.error(error.position, error.code, error.message)
    if root is None:
        if not errors:
            report.error(START, "front-matter", "the front matter is empty; write the note's "
                         "fields between the two --- lines")
        return None, report.problems
    if not isinstance(root, Mapping):
        report.error(root.position, "front-matter",
                     "the front matter must be a mapping of keys (title: ..., date: ...), "
                     f"not {'a list' if not isinstance(root, Scalar) else 'a single value'}")
        return None, report.problems
    known, read, cls, body_required = _NOTE_KINDS[note_type]
    fields = Fields(root, report, known)
    declared = fields.text("type", required=False)
    if declared is not None and declared != note_type:
        report.error(fields.position("type"), "type-mismatch",
                     f"'type' is {declared!r} but the file is in {FOLDERS[note_type]}/, which "
                     f"holds {note_type}s; move the file or remove the 'type' line")
    reader = _NoteReader(fields)
    values = read(reader, path.rsplit("/", 1)[-1].removesuffix(".md"), fields)
    if body_required and shows_nothing(split.body):
        report.error(Position(split.body_line - 1, 1), "empty-body",
                     f"the text after the front matter is empty: "
                     f"{BODY_REQUIRED_REASON[note_type]}")
        values = None
    base = path.rsplit("/", 1)[0]
    for match in _NOTE_LINK.finditer(split.body):
        line = split.body_line + split.body.count("\n", 0, match.start())
        column = match.start() - split.body.rfind("\n", 0, match.start())
        reader.references.append(Reference("note", _join(base, match.group(1)),
                                           position_at(line, column)))
    if values is None or report.has_errors or id_problem:
        unparsed = UnparsedNote(path, tuple(reader.references)) if reader.references else None
        return unparsed, report.problems
    note_id = path.rsplit("/", 1)[-1].removesuffix(".md")
    note = cls(id=note_id, path=path, body=split.body, body_line=split.body_line,
               body_digest=digest_body(split.body), references=tuple(reader.references),
               positions=dict(fields.positions), **values)
    return note, report.problems


_ENTITY = re.compile(r"&#?[0-9A-Za-z]+;")


def shows_nothing(text: str) -> bool:
    """Whether a body would show nothing: white space, invisible characters (a zero-width
    space) and HTML entities of them only. What feedback is mandatory must not be met
    by an invisible character."""
    words = _ENTITY.sub("", text) if "&" in text else text
    if any(character.isalnum() for character in words):
        return False  # nearly every body, at its first few characters
    visible = html.unescape(text)
    return all(character.isspace() or unicodedata.category(character) in ("Cf", "Cc", "Zs")
               for character in visible)


def _join(base: str, relative: str) -> str:
    """Resolve a relative link against a folder inside the content root."""
    parts = base.split("/") if base else []
    for part in relative.split("/"):
        if part == "..":
            if parts:
                parts.pop()
            else:
                return "../" + relative
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)
