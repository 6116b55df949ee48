"""What git knows about the content root: who changed each note and when, and what changed
behind an approval.

The only module that runs git, always with machine-readable output and a fixed
handful of processes whatever the number of notes: `rev-parse`, one `git log`
pass over the whole root (renames are followed here, not with `--follow`),
one `git status` and one `git cat-file --batch` for old versions. Old versions
are parsed by the same pure `parse.parse_note` as the working tree. Everything
returned is a plain frozen dataclass; without git, `History.available` is false
and `notice` says why.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import subprocess
import zoneinfo
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .agenda.base import FieldEdit
from .derive import as_of
from .i18n import Count, Term
from .model import (
    START,
    AnyNote,
    Approval,
    Change,
    ChangeDecision,
    Content,
    Dispute,
    DisputeDecision,
    Goal,
    NoteType,
    Problem,
    Review,
)
from .parse import parse_note

GIT_TIMEOUT = 60.0
# The fields of a goal's definition, which are also the keys a change's `set` may hold.
DEFINITION = ("title", "due", "status", "kpis")
_ZERO_OID = "0" * 40
_GONE = "\0gone"  # stands for "this name belonged to another, deleted file" while following renames
# Variables that would point git at another repository than the one holding the content
# (they are set, for example, while a git hook runs).
_REPOSITORY_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR",
                         "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                         "GIT_NAMESPACE", "GIT_PREFIX")
def _in_type_order(content: Content) -> list[AnyNote]:
    """Every note by type (goals, changes, disputes, reviews), then id: the ids are sorted
    as strings, which costs far less than a Python sort key for each of thousands of notes."""
    return [notes[note_id] for notes in (content.goals, content.changes, content.disputes,
                                         content.reviews) for note_id in sorted(notes)]

Block = Approval | ChangeDecision | DisputeDecision


class GitUnavailable(Exception):
    """Git cannot tell us anything about this content root; the message says why."""


class SinceError(ValueError):
    """`--since` names neither a date nor a revision of the repository."""


# --- what is returned ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Commit:
    """One commit as `git log` reports it; `date` is the author's date in the project's zone."""

    id: str
    author: str
    email: str
    date: dt.date
    subject: str
    person: str = ""  # the id of the project person with this e-mail, if any

    @property
    def short(self) -> str:
        return self.id[:7]


@dataclass(frozen=True, slots=True)
class Revision:
    """A commit that touched a note's file: the file's name and blob in that commit."""

    commit: Commit
    path: str
    status: str  # A added, M modified, R renamed from `old_path`, C copied, T type changed
    blob: str
    old_path: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    """One line of a note's file timeline."""

    commit: Commit
    kind: str  # created | renamed | changed | edited (the definition, after approval)
    approval: bool = False  # this commit added the note's current approved/decision block
    fields: tuple[str, ...] = ()  # for `edited`: the fields whose difference began here
    old_path: str = ""  # for `renamed`

    @property
    def field_terms(self) -> list[Term]:
        return [Term(f"field.{name}") for name in self.fields]


@dataclass(frozen=True)
class NoteHistory:
    """A note's file through git, following renames; oldest commit first."""

    path: str
    revisions: tuple[Revision, ...]
    uncommitted: bool  # the working tree differs from the last commit, or the file is new
    timeline: tuple[Event, ...]

    @property
    def created(self) -> Commit | None:
        return self.revisions[0].commit if self.revisions else None

    @property
    def changed(self) -> Commit | None:
        return self.revisions[-1].commit if len(self.revisions) > 1 else None

    @property
    def authors(self) -> tuple[Commit, ...]:
        """One commit per distinct author e-mail, in the order they first appear."""
        seen: dict[str, Commit] = {}
        for revision in self.revisions:
            seen.setdefault(revision.commit.email.casefold(), revision.commit)
        return tuple(seen.values())


@dataclass(frozen=True, slots=True)
class Unverified:
    """An `approved` or `decision` block that was not committed by its approver."""

    path: str
    note_type: NoteType
    note_id: str
    block: str  # approved | decision
    by: str
    expected: str  # the approver's e-mail in project.yml ("" when none is given)
    commit: Commit | None  # the commit that added the block; None when not committed


@dataclass(frozen=True)
class SinceEntry:
    """One note in "Since your last review"."""

    note_type: NoteType
    note_id: str
    date: dt.date | None  # the commit's date; None when not committed yet
    person: str = ""  # a project person to name beside it
    key: str = ""  # a catalog message that says what happened
    params: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class SinceReview:
    """What moved since the executive's latest review (or since `--since`)."""

    date: dt.date | None  # the day from which commits count, inclusive
    revision: str  # the revision given as --since REV ("" otherwise)
    review: str  # the id of the review the section starts from ("" with --since)
    month: str  # that review's month (YYYY-MM), "" with --since
    groups: tuple[tuple[str, tuple[SinceEntry, ...]], ...]  # (heading key, entries)


@dataclass(frozen=True)
class History:
    """Everything git adds to a build. Without git, `available` is false and all is empty."""

    available: bool
    notice: str = ""
    notes: Mapping[str, NoteHistory] = field(default_factory=dict)
    # note path -> the definition fields edited after its approval or decision
    edits: Mapping[str, tuple[FieldEdit, ...]] = field(default_factory=dict)
    unverified: Mapping[str, Unverified] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    since: SinceReview | None = None

    def of(self, path: str) -> NoteHistory | None:
        """The history of the note at `path`, or None."""
        return self.notes.get(path)

    @property
    def agenda_edits(self) -> Mapping[str, tuple[FieldEdit, ...]] | None:
        """What `goal-edited` reads: None without git, so the rule stays silent."""
        return self.edits if self.available else None

    @property
    def unverified_paths(self) -> frozenset[str]:
        return frozenset(self.unverified)


# --- reading the repository -----------------------------------------------------------


def read_history(root: Path, content: Content, today: dt.date, since: str | None = None,
                 want_since: bool = True) -> History:
    """Read the git history of the content root for `content` (the working tree, as loaded).

    `since` is `--since`: a date (YYYY-MM-DD) or a revision; without it, "Since
    your last review" starts from the latest review's date as of `today`.
    Raises `SinceError` for a `since` that is neither; never raises for git itself.
    """
    project = content.project
    try:
        _toplevel, prefix, head = _find_repository(root)
    except GitUnavailable as error:
        return _without_git(content, str(error))
    zone = _zone(project.timezone)
    people = {person.email.casefold(): person.id for person in project.people.values()
              if person.email}
    try:
        log = _read_log(root, zone, people, head) if head else []
        uncommitted, staged_renames = _read_status(root, prefix)
    except GitUnavailable as error:
        return _without_git(content, str(error))
    revisions = _LOG_MEMO.revisions(log, staged_renames)

    notes = _in_type_order(content)
    trusted_notes = [note for note in notes if _block(note) is not None]
    since_review = _since_start(root, as_of(content, today), since, bool(head)) \
        if want_since else None
    baselines = _baselines(revisions, since_review) if since_review is not None else {}
    # A note traced at the last read, and still the same object with the same revisions
    # and status, has the same history: it is not traced again (a --watch save).
    settings = (project, project.rules.max_note_bytes, project.rules.verify_approvals)
    remembered = _LOG_MEMO.traced if log is _LOG_MEMO.log and settings == _LOG_MEMO.settings \
        else {}
    known: dict[str, _Traced] = {}
    for note in notes:
        traced = remembered.get(note.path)
        if traced is not None and traced.note is note and \
                traced.revisions is revisions.get(note.path) and \
                traced.uncommitted == (note.path in uncommitted):
            known[note.path] = traced
    # A clean note's newest revision is its working tree, which is already loaded (see
    # _Trace.version): only older versions are read, which at thousands of notes with one
    # commit each is most of git's output spared.
    # (The baselines of "Since your last review" are read later, only for the notes whose
    # entries are not kept from the last read: see _since_groups.)
    wanted = [r.blob for n in trusted_notes if n.path not in known
              for r in _older_than_working_tree(revisions.get(n.path, []), n.path in uncommitted)]
    try:
        blobs = _read_blobs(root, wanted)
    except GitUnavailable as error:
        return _without_git(content, str(error))
    versions = _Versions(blobs, project.rules.max_note_bytes)

    histories: dict[str, NoteHistory] = {}
    edits: dict[str, tuple[FieldEdit, ...]] = {}
    unverified: dict[str, Unverified] = {}
    for note in notes:
        traced = known.get(note.path)
        if traced is None:
            traced = known[note.path] = _trace_note(
                note, revisions.get(note.path), note.path in uncommitted, versions, content)
        histories[note.path] = traced.history
        if traced.edits:
            edits[note.path] = traced.edits
        if traced.failed is not None:
            unverified[note.path] = traced.failed
    _LOG_MEMO.traced, _LOG_MEMO.settings = known, settings
    section = None
    if since_review is not None:
        starts_after, label_date, label_revision, review_id, month = since_review
        now = as_of(without_unverified(content, frozenset(unverified)), today)
        since_settings = (log, settings, label_date, label_revision, review_id)
        if since_settings != _LOG_MEMO.since_settings:
            _LOG_MEMO.since, _LOG_MEMO.since_settings = {}, since_settings
        try:
            groups = _since_groups(now, histories, baselines, versions, starts_after,
                                   review_id, _LOG_MEMO.since,
                                   lambda oids: _read_blobs(root, oids))
        except GitUnavailable as error:
            return _without_git(content, str(error))
        section = SinceReview(label_date, label_revision, review_id, month, groups)
    problems = tuple(_unverified_problem(item, content) for item in unverified.values())
    return History(True, "", histories, edits, unverified, problems, section)


def _baselines(revisions: Mapping[str, list[Revision]], since_review: _Start
               ) -> Mapping[str, Revision]:
    """Each path's newest revision before "Since your last review" starts, by path. Kept
    while the revisions are the very same (HEAD did not move) and the section starts from
    the same point: a --watch save finds them all again otherwise. Read-only."""
    starts_after, label_date, label_revision = since_review[:3]
    start = (label_date, label_revision)
    known = _LOG_MEMO.baselines
    if known is not None and known[0] is revisions and known[1] == start:
        return known[2]
    baselines: dict[str, Revision] = {}
    for path, path_revisions in revisions.items():
        before = [r for r in path_revisions if not starts_after(r.commit)]
        if before:
            baselines[path] = before[-1]
    _LOG_MEMO.baselines = (revisions, start, baselines)
    return baselines


@dataclass(frozen=True)
class _Traced:
    """What one note's revisions say: kept while the note, its revisions and its status
    are the same (see `_LogMemo`)."""

    note: AnyNote
    revisions: list[Revision] | None
    uncommitted: bool
    history: NoteHistory
    edits: tuple[FieldEdit, ...]
    failed: Unverified | None


def _trace_note(note: AnyNote, revisions: list[Revision] | None, uncommitted: bool,
                versions: _Versions, content: Content) -> _Traced:
    note_revisions = tuple(revisions or ())
    trace = _Trace(note, note_revisions, versions, uncommitted) \
        if _block(note) is not None else None
    note_edits = _edits(note, trace) if trace is not None else ()
    history = NoteHistory(note.path, note_revisions, uncommitted,
                          _timeline(note_revisions, trace, note_edits))
    failed = _verify(note, trace, content) \
        if trace is not None and content.project.rules.verify_approvals else None
    return _Traced(note, revisions, uncommitted, history, note_edits, failed)


def _without_git(content: Content, reason: str) -> History:
    """History skipped: one notice, or with verify_approvals a warning at that setting."""
    project = content.project
    if project.rules.verify_approvals:
        position = project.positions.get("rules.verify_approvals") or \
            project.positions.get("rules") or START
        return History(False, problems=(Problem(
            project.path, position.line, position.column, "warning", "no-git",
            f"rules.verify_approvals is on, but {reason}; approvals cannot be verified and "
            "count as written, and note history and the goal-edited check are skipped"),))
    return History(False, f"{reason[:1].upper()}{reason[1:]}, so note history, “Since your "
                          "last review” and the goal-edited check are skipped.")


def _environment() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_VARIABLES}
    environment.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    return environment


def _git(root: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    # Settings that would change the output we parse, or run programs, are pinned.
    command = ["git", "--no-optional-locks", "-C", str(root),
               "-c", "core.fsmonitor=false", "-c", "log.follow=false",
               "-c", "log.showSignature=false", "-c", "diff.renames=true",
               "-c", "status.renames=true", *args]
    try:
        return subprocess.run(command, input=stdin, capture_output=True, env=_environment(),
                              timeout=GIT_TIMEOUT, check=False)
    except FileNotFoundError:
        raise GitUnavailable("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise GitUnavailable(f"git {args[0]} took more than {GIT_TIMEOUT:g} seconds") from None
    except OSError as error:
        raise GitUnavailable(f"git could not be run ({error.strerror})") from None


def _git_output(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    done = _git(root, *args, stdin=stdin)
    if done.returncode != 0:
        raise GitUnavailable(f"git {args[0]} failed: {_first_line(done.stderr)}")
    return done.stdout


def _first_line(data: bytes) -> str:
    lines = data.decode("utf-8", "replace").strip().splitlines()
    return lines[0].removeprefix("fatal: ") if lines else "no message"


def _find_repository(root: Path) -> tuple[Path, str, str]:
    """(the work tree's top folder, the content root inside it, HEAD's commit id or "" when
    there is no commit yet)."""
    done = _git(root, "rev-parse", "--is-inside-work-tree", "--is-shallow-repository",
                "--show-toplevel", "--show-prefix")
    if done.returncode != 0:
        message = _first_line(done.stderr)
        if "not a git repository" in message:
            raise GitUnavailable("the content folder is not in a git repository")
        raise GitUnavailable(f"git cannot read the repository ({message})")
    lines = done.stdout.decode("utf-8", "surrogateescape").split("\n")
    if len(lines) < 4 or lines[0] != "true":
        raise GitUnavailable("the content folder is not in a git work tree")
    if lines[1] == "true":
        raise GitUnavailable("the repository is a shallow clone, whose history is cut short "
                             "(run `git fetch --unshallow` for the full history)")
    head = _git(root, "rev-parse", "-q", "--verify", "HEAD^{commit}")
    return Path(lines[2]), lines[3], _decode(head.stdout).strip() if head.returncode == 0 else ""


def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


LogEntry = tuple[str, tuple[str, ...], str]  # (status with score, paths, new blob id)
Log = list[tuple[Commit, list[LogEntry]]]

_LOG_FORMAT = "--format=%x01%H%x00%an%x00%ae%x00%aI%x00%s"


class _LogMemo:
    """The last log read and the revisions found in it, kept while HEAD is the same commit
    (what `git log` says of a commit never changes): a `--watch` save re-reads only
    `git status`, and unchanged notes keep the very same Revision objects, which makes
    comparing their pages' inputs cheap."""

    def __init__(self) -> None:
        self.key: tuple[object, ...] | None = None
        self.log: Log = []
        self.found: dict[tuple[tuple[str, str], ...], dict[str, list[Revision]]] = {}
        # Each note's history as last traced, and the project settings it was traced with.
        self.traced: dict[str, _Traced] = {}
        self.settings: object = None
        # Each note's "Since your last review" entries, with the note, history and baseline
        # they were found from, and what the section started from (see `_since_groups`).
        self.since: dict[str, tuple[AnyNote, NoteHistory, Revision | None, _Entries]] = {}
        self.since_settings: object = None
        # The baselines of the section, with the revisions and start they came from.
        self.baselines: tuple[object, object, dict[str, Revision]] | None = None

    def read(self, root: Path, zone: dt.tzinfo, people: Mapping[str, str], head: str) -> Log:
        key = (str(root.absolute()), head, str(zone), tuple(sorted(people.items())))
        if key != self.key:
            data = _git_output(root, "log", "-M", "--raw", "-z", "--no-abbrev", "--relative",
                               "--date-order", "--no-color", _LOG_FORMAT, "--", ".")
            self.key, self.log, self.found = key, parse_log(data, zone, people), {}
        return self.log

    def revisions(self, log: Log, staged_renames: Mapping[str, str]
                  ) -> dict[str, list[Revision]]:
        if log is not self.log:
            return follow_renames(log, staged_renames)
        renames = tuple(sorted(staged_renames.items()))
        found = self.found.get(renames)
        if found is None:
            found = self.found[renames] = follow_renames(log, staged_renames)
        return found


_LOG_MEMO = _LogMemo()


def _read_log(root: Path, zone: dt.tzinfo, people: Mapping[str, str], head: str) -> Log:
    """Every commit touching the root, newest first, with the files it changed (one process)."""
    return _LOG_MEMO.read(root, zone, people, head)


def parse_log(data: bytes, zone: dt.tzinfo, people: Mapping[str, str] | None = None) -> Log:
    """Parse `git log --raw -z` output in `_LOG_FORMAT`: fields and paths are NUL-separated.

    `people` maps a lower-cased e-mail to the project person who has it.
    """
    people = people or {}
    tokens = data.split(b"\0")
    log: Log = []
    index = 0
    while index < len(tokens):
        token = tokens[index].lstrip(b"\n")
        if not token.startswith(b"\x01") or index + 5 > len(tokens):
            index += 1
            continue
        commit_id, author, email, when, subject = (_decode(t) for t in tokens[index:index + 5])
        index += 5
        try:
            date = dt.datetime.fromisoformat(when).astimezone(zone).date()
        except (ValueError, OverflowError):  # a damaged or absurd date in an old commit
            date = dt.date(1970, 1, 1)
        commit = Commit(commit_id[1:], author, email, date, subject,
                        people.get(email.casefold(), ""))
        entries: list[LogEntry] = []
        while index < len(tokens):
            meta = tokens[index].lstrip(b"\n")
            if not meta.startswith(b":"):
                break
            parts = meta[1:].split(b" ")
            if len(parts) < 5:
                break
            status = _decode(parts[4])
            count = 2 if status[:1] in ("R", "C") else 1
            paths = tuple(_decode(p) for p in tokens[index + 1:index + 1 + count])
            index += 1 + count
            entries.append((status, paths, _decode(parts[3])))
        log.append((commit, entries))
    return log


def _read_status(root: Path, prefix: str) -> tuple[frozenset[str], dict[str, str]]:
    """Paths (relative to the root) with uncommitted changes, and staged renames old -> new."""
    data = _git_output(root, "status", "--porcelain", "-z", "--untracked-files=all", "--", ".")
    tokens = data.split(b"\0")
    changed: set[str] = set()
    renames: dict[str, str] = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if len(token) < 4:
            continue
        code, path = token[:2].decode("ascii", "replace"), _decode(token[3:])
        if "R" in code or "C" in code:
            old = _decode(tokens[index]) if index < len(tokens) else ""
            index += 1
            if "R" in code and old.startswith(prefix):
                renames[old[len(prefix):]] = path.removeprefix(prefix)
        if path.startswith(prefix):  # porcelain paths are relative to the repository's top
            changed.add(path[len(prefix):])
    return frozenset(changed), renames


def follow_renames(log: Log, staged_renames: Mapping[str, str] | None = None
                   ) -> dict[str, list[Revision]]:
    """Each current path's revisions, oldest first, following renames back through `log`.

    `log` is newest first. Walking back, a name's history moves to its old name
    at a rename, and ends where the file was added (an older file that had the
    same name is another file).
    """
    alias: dict[str, str] = dict(staged_renames or {})
    found: dict[str, list[Revision]] = {}
    for commit, entries in log:
        gone: list[str] = []
        renamed: list[tuple[str, str]] = []
        for status, paths, blob in entries:
            letter, path = status[:1], paths[-1]
            key = alias.get(path, path)
            if letter == "D":
                if path not in alias:
                    gone.append(path)
                continue
            if key != _GONE:
                old = paths[0] if letter in ("R", "C") else ""
                found.setdefault(key, []).append(Revision(commit, path, letter, blob, old))
            if letter in ("A", "C", "R"):
                gone.append(path)
            if letter == "R" and key != _GONE:
                renamed.append((paths[0], key))
        # All of a commit's entries are read against the names before it (a swap of two
        # names in one commit must not chain).
        for path in gone:
            alias[path] = _GONE
        for old, key in renamed:
            alias[old] = key
    return {key: revisions[::-1] for key, revisions in found.items()}


def _older_than_working_tree(revisions: Sequence[Revision], uncommitted: bool
                             ) -> Sequence[Revision]:
    """A note's revisions whose content differs from the working tree's (all of them when the
    note has uncommitted changes)."""
    return revisions if uncommitted else revisions[:-1]


def _read_blobs(root: Path, oids: Iterable[str]) -> dict[str, bytes]:
    """The contents of many blobs, in one `git cat-file --batch` process."""
    wanted = sorted({oid for oid in oids if oid and oid != _ZERO_OID})
    if not wanted:
        return {}
    data = _git_output(root, "cat-file", "--batch", stdin=("\n".join(wanted) + "\n").encode())
    blobs: dict[str, bytes] = {}
    position = 0
    for oid in wanted:
        end = data.find(b"\n", position)
        if end < 0:
            break
        header = data[position:end].split(b" ")
        position = end + 1
        if len(header) != 3:  # "<oid> missing"
            continue
        size = int(header[2])
        blobs[oid] = data[position:position + size]
        position += size + 1
    return blobs


class _Versions:
    """Old versions of notes, parsed once per blob."""

    def __init__(self, blobs: Mapping[str, bytes], max_bytes: int) -> None:
        self.blobs = dict(blobs)
        self.max_bytes = max_bytes
        self.parsed: dict[tuple[str, str, str], AnyNote | None] = {}

    def add(self, blobs: Mapping[str, bytes]) -> None:
        """More versions, read later."""
        self.blobs.update(blobs)

    def mentions(self, revision: Revision, key: bytes) -> bool:
        """Whether the version's bytes hold `key` at all: a cheap test before parsing."""
        return key in self.blobs.get(revision.blob, b"")

    def parse(self, note: AnyNote, revision: Revision) -> AnyNote | None:
        """The note as it was in `revision`, read under its current path; None if unreadable."""
        key = (note.type, note.path, revision.blob)
        if key not in self.parsed:
            data = self.blobs.get(revision.blob)
            self.parsed[key] = None if data is None else \
                parse_note(note.type, note.path, data, self.max_bytes)[0]
        return self.parsed[key]


# --- trust: what changed after an approval, and who committed it ----------------------


def _block(note: AnyNote) -> Block | None:
    """The note's approval (a goal) or decision (a change or dispute), if any."""
    if isinstance(note, Goal):
        return note.approved
    if isinstance(note, Change | Dispute):
        return note.decision
    return None


def _definition(note: AnyNote) -> dict[str, object]:
    """What an approval or a decision is about: a goal's definition, a change's `set`."""
    if isinstance(note, Goal):
        return {name: getattr(note, name) for name in DEFINITION}
    if isinstance(note, Change):
        return {name: getattr(note.set, name) for name in DEFINITION}
    return {}


class _Trace:
    """A note's versions through git, parsed only as far as a question needs.

    Parsing is what costs (a goal with years of readings has hundreds of
    versions), so the versions are read lazily: forward until the one that
    added the current block, backward from the newest while a field differs.
    """

    def __init__(self, note: AnyNote, revisions: Sequence[Revision], versions: _Versions,
                 uncommitted: bool) -> None:
        self.note = note
        self.revisions = revisions
        self.versions = versions
        self.uncommitted = uncommitted
        block = _block(note)
        key = b"approved" if isinstance(note, Goal) else b"decision"
        # The index of the first version whose block equals the current one. The working
        # tree's version (the newest, when clean) is the note itself, which has the block.
        self.base = self._first_holding(0, key, block)
        # A later version without the block at all (the approval withdrawn, then put back,
        # say by reverting the withdrawal): what counts is the commit that put it back,
        # not the first that ever held the same block. Found on the bytes (a top-level
        # key line), without parsing every version.
        if self.base is not None:
            gap = max((index for index in range(self.base + 1, len(revisions))
                       if not self.is_working_tree(index) and revisions[index].blob in
                       versions.blobs and not _holds_key(versions.blobs[revisions[index].blob],
                                                         key)), default=None)
            if gap is not None:
                self.base = self._first_holding(gap + 1, key, block)

    def _first_holding(self, start: int, key: bytes, block: Block | None) -> int | None:
        """The index of the first version from `start` whose block equals `block`."""
        return next((index for index in range(start, len(self.revisions))
                     if (self.is_working_tree(index)
                         or self.versions.mentions(self.revisions[index], key))
                     and _block_of(self.version(index)) == block), None)

    def is_working_tree(self, index: int) -> bool:
        return index == len(self.revisions) - 1 and not self.uncommitted

    def version(self, index: int) -> AnyNote | None:
        """The note in revision `index`; None if that version cannot be parsed."""
        if self.is_working_tree(index):
            return self.note  # the working tree is the last commit
        return self.versions.parse(self.note, self.revisions[index])


_FRONT_MATTER = re.compile(rb"(?:\xef\xbb\xbf)?---[ \t]*\r?\n(.*?)^---[ \t]*\r?$",
                           re.DOTALL | re.MULTILINE)
# What YAML reads as no value at all, written after a key on its line.
_EMPTY_VALUES = frozenset((b"", b"~", b"null", b"Null", b"NULL", b"{}"))


def _holds_key(data: bytes, key: bytes) -> bool:
    """Whether a note's front matter gives the top-level `key` (quoted or not) a value:
    `approved:` left empty, `~`, `null` or `{}` withdraws an approval as surely as
    deleting the block does."""
    front = _FRONT_MATTER.match(data)  # not a line of the text below it
    if front is not None:
        data = front.group(1)
    pattern = rb"^[\"']?" + re.escape(key) + rb"[\"']?[ \t]*:(?:[ \t]+|\r?$)(.*)$"
    for match in re.finditer(pattern, data, re.MULTILINE):
        value = match.group(1).strip()
        if value.startswith(b"#"):
            value = b""
        value = value.split(b" #", 1)[0].strip()  # a comment after the value
        if value.replace(b" ", b"").replace(b"\t", b"") not in _EMPTY_VALUES:  # `{ }` too
            return True
        if not value:  # the value may be on the lines below: indented, or a list
            for line in data[match.end():].splitlines()[1:]:
                if line.strip() and not line.lstrip().startswith(b"#"):
                    if line.startswith((b" ", b"\t", b"- ")):
                        return True
                    break
    return False


def _block_of(note: AnyNote | None) -> Block | None:
    return _block(note) if note is not None else None


def _edits(note: AnyNote, trace: _Trace) -> tuple[FieldEdit, ...]:
    """The definition fields that differ from the version committed with the approval.

    A difference dates from the first commit of the last run of versions that
    differ from the approved value (an edit later reverted is forgotten); it is
    uncommitted (no date) when the last commit still has the approved value.
    """
    if trace.base is None or isinstance(note, Dispute):
        return ()
    base_version = trace.version(trace.base)
    assert base_version is not None
    approved, now = _definition(base_version), _definition(note)
    open_fields = [name for name in DEFINITION if now[name] != approved[name]]
    starts: dict[str, Revision] = {}
    for index in range(len(trace.revisions) - 1, trace.base, -1):
        if not open_fields:
            break
        version = trace.version(index)
        if version is None:
            continue
        definition = _definition(version)
        for name in list(open_fields):
            if definition[name] != approved[name]:
                starts[name] = trace.revisions[index]
            else:
                open_fields.remove(name)
    edits = []
    for name in DEFINITION:
        if now[name] == approved[name]:
            continue
        since = starts.get(name)
        edits.append(FieldEdit(name, approved[name], now[name],
                               since.commit.date if since else None,
                               since.commit.id if since else "",
                               since.commit.author if since else ""))
    return tuple(edits)


def _verify(note: AnyNote, trace: _Trace, content: Content) -> Unverified | None:
    """None when the commit that added the note's block was authored by its approver."""
    block = _block(note)
    assert block is not None
    person = content.project.people.get(block.by)
    expected = person.email if person else ""
    commit = trace.revisions[trace.base].commit if trace.base is not None else None
    if commit is not None and expected and commit.email.casefold() == expected.casefold():
        return None
    return Unverified(note.path, note.type, note.id,
                      "approved" if isinstance(note, Goal) else "decision", block.by,
                      expected, commit)


def _unverified_problem(item: Unverified, content: Content) -> Problem:
    note = content.note(item.note_type, item.note_id)
    position = note.position(item.block) if note else START
    what = {"goal": "the goal counts as not approved",
            "change": "the change counts as undecided",
            "dispute": "the dispute counts as open"}[item.note_type]
    if not item.expected:
        reason = (f"{item.by} has no email in project.yml, so the commit that added this "
                  f"'{item.block}' block cannot be checked; add their email")
    elif item.commit is None:
        reason = f"this '{item.block}' block by {item.by} is not committed yet"
    else:
        reason = (f"this '{item.block}' block was added in commit {item.commit.short} by "
                  f"{item.commit.author} <{item.commit.email}>, not from {item.by}'s email "
                  f"{item.expected}")
    return Problem(item.path, position.line, position.column, "warning",
                   "approval-not-verified",
                   f"{reason}; {what} until {item.by} commits it (rules.verify_approvals)")


def without_unverified(content: Content, paths: frozenset[str]) -> Content:
    """The content with every approval or decision at `paths` removed: they do not count."""
    if not paths:
        return content

    goals = {key: dataclasses.replace(goal, approved=None) if goal.path in paths else goal
             for key, goal in content.goals.items()}
    changes = {key: dataclasses.replace(change, decision=None) if change.path in paths
               else change for key, change in content.changes.items()}
    disputes = {key: dataclasses.replace(dispute, decision=None) if dispute.path in paths
                else dispute for key, dispute in content.disputes.items()}
    return dataclasses.replace(content, goals=goals, changes=changes, disputes=disputes)


def _timeline(revisions: Sequence[Revision], trace: _Trace | None,
              edits: Sequence[FieldEdit]) -> tuple[Event, ...]:
    events = []
    for index, revision in enumerate(revisions):
        approval = trace is not None and trace.base == index
        changed = tuple(edit.field for edit in edits if edit.commit == revision.commit.id)
        kind = "created" if index == 0 else "edited" if changed else \
            "renamed" if revision.status == "R" else "changed"
        events.append(Event(revision.commit, kind, approval, changed, revision.old_path))
    return tuple(events)


# --- since your last review -------------------------------------------------------------


StartsAfter = Callable[[Commit], bool]
# (which commits count, from which day, from which revision, the review's id and month)
_Start = tuple[StartsAfter, dt.date | None, str, str, str]


def _since_start(root: Path, content: Content, since: str | None, has_commits: bool
                 ) -> _Start | None:
    """Which commits are "since", and from what; None when there is no section."""
    if since:
        try:
            day = dt.date.fromisoformat(since)
        except ValueError:
            pass
        else:
            return (lambda commit: commit.date >= day), day, "", "", ""
        return _since_revision(root, since, has_commits)
    reviews = sorted(content.reviews.values(), key=lambda r: (r.date, r.id))
    if not reviews:
        return None
    latest = reviews[-1]
    return (lambda commit: commit.date >= latest.date), latest.date, "", latest.id, latest.month


def check_since(root: Path, since: str) -> None:
    """Raise `SinceError` if `since` is neither a date nor a revision of the root's repository.

    Without git nothing is checked: the section is skipped with the other git features.
    """
    try:
        dt.date.fromisoformat(since)
    except ValueError:
        try:
            _toplevel, _prefix, head = _find_repository(root)
            has_commits = bool(head)
        except GitUnavailable:
            return
        _since_revision(root, since, has_commits)


def _since_revision(root: Path, revision: str, has_commits: bool
                    ) -> _Start:
    problem = f"--since {revision!r} is neither a date (YYYY-MM-DD) nor a revision of the " \
              "repository"
    if revision.startswith("-") or not has_commits:  # "-..." would be read as an option
        raise SinceError(problem)
    try:
        done = _git(root, "rev-parse", "-q", "--verify", f"{revision}^{{commit}}")
        if done.returncode != 0:
            raise SinceError(problem)
        base = done.stdout.decode().strip()
        newer = frozenset(_git_output(root, "rev-list", "HEAD", "--not", base).decode().split())
    except GitUnavailable as error:
        raise SinceError(f"{problem} ({error})") from None
    return (lambda commit: commit.id in newer), None, revision, "", ""


def _essence(note: AnyNote, **same: object) -> object:
    """The note without where things were written, to compare versions by what they say.

    The body is compared by its digest: a build may have dropped the text itself.
    """
    return dataclasses.replace(note, positions={}, references=(), body_line=0, body="",
                               **same)  # type: ignore[arg-type]


# One note's entries in "Since your last review": (group's heading key, entry).
_Entries = list[tuple[str, SinceEntry]]


def _since_groups(now: Content, histories: Mapping[str, NoteHistory],
                  baselines: Mapping[str, Revision], versions: _Versions,
                  starts_after: StartsAfter, review_id: str,
                  memo: dict[str, tuple[AnyNote, NoteHistory, Revision | None, _Entries]],
                  read_blobs: Callable[[Iterable[str]], Mapping[str, bytes]]
                  ) -> tuple[tuple[str, tuple[SinceEntry, ...]], ...]:
    """The section's groups. A note's entries are kept in `memo` (valid for one log and
    one start of the section) while the note, its history and its baseline are the very
    same objects: a --watch save finds again only the saved note's entries, and reads
    (`read_blobs`) only the baselines of the notes it finds again."""
    groups: dict[str, list[SinceEntry]] = {key: [] for key in (
        "since.new_goals", "since.new_changes", "since.new_disputes", "since.decisions",
        "since.readings", "since.new_reviews", "since.edited")}
    remembered = dict(memo)
    memo.clear()
    shown: list[tuple[AnyNote, NoteHistory, Revision | None, _Entries | None]] = []
    for note in _in_type_order(now):
        history = histories.get(note.path)
        if history is None or (note.type == "review" and note.id == review_id):
            continue
        baseline = baselines.get(note.path)
        known = remembered.get(note.path)
        kept = known is not None and known[0] is note and known[1] is history \
            and known[2] is baseline
        shown.append((note, history, baseline, known[3] if known and kept else None))
    versions.add(read_blobs(baseline.blob for _note, _history, baseline, entries in shown
                            if entries is None and baseline is not None))
    for note, history, baseline, entries in shown:
        if entries is None:
            entries = _since_entries(note, history, baseline, versions, starts_after)
        memo[note.path] = (note, history, baseline, entries)
        for key, entry in entries:
            groups[key].append(entry)
    return tuple((key, tuple(entries)) for key, entries in groups.items() if entries)


def _since_entries(note: AnyNote, history: NoteHistory, baseline: Revision | None,
                   versions: _Versions, starts_after: StartsAfter) -> _Entries:
    """What one note adds to "Since your last review"."""
    found: _Entries = []
    recent = [r for r in history.revisions if starts_after(r.commit)]
    if not recent and not history.uncommitted:
        return found
    latest = recent[-1].commit if recent else None
    before = versions.parse(note, baseline) if baseline else None
    if baseline is None:
        found.append((f"since.new_{note.type}s", SinceEntry(
            note.type, note.id, recent[0].commit.date if recent else None,
            _person_of(note))))
    block = _block(note)
    if block is not None and (before is None or _block(before) != block):
        found.append(("since.decisions", SinceEntry(
            note.type, note.id, block.date, block.by, *_decision_words(note))))
    if baseline is None:
        return found
    same: dict[str, object] = {}
    if isinstance(note, Goal):
        added = Counter(note.readings) - Counter(before.readings  # type: ignore[union-attr]
                                                 if before else ())
        if added:
            kpis = {kpi.id: kpi.name for kpi in note.kpis}
            names = list(dict.fromkeys(kpis.get(r.kpi, r.kpi) for r in added.elements()))
            found.append(("since.readings", SinceEntry(
                note.type, note.id, latest.date if latest else None, "",
                "since.readings_added",
                {"count": Count("readings", sum(added.values())), "kpis": names})))
        same = {"readings": note.readings, "approved": note.approved}
    elif isinstance(note, Change | Dispute):
        same = {"decision": note.decision}
    if before is None or _essence(before, **same) != _essence(note):
        found.append(("since.edited", SinceEntry(
            note.type, note.id, latest.date if latest else None, "",
            "since.edited_by" if latest else "since.uncommitted",
            {"author": latest.author} if latest else {})))
    return found


def _person_of(note: AnyNote) -> str:
    if isinstance(note, Goal):
        return note.owner
    if isinstance(note, Change):
        return note.proposed_by
    if isinstance(note, Dispute):
        return note.raised_by
    if isinstance(note, Review):
        return note.reviewer
    return ""


def _decision_words(note: AnyNote) -> tuple[str, dict[str, object]]:
    if isinstance(note, Goal):
        return "since.goal_approved", {}
    if isinstance(note, Change) and note.decision:
        return f"since.change_{note.decision.outcome}", {}
    if isinstance(note, Dispute) and note.decision:
        return "since.dispute_decided", {"outcome": note.decision.outcome}
    return "", {}


__all__ = ["Commit", "Event", "GitUnavailable", "History", "NoteHistory", "Revision",
           "SinceEntry", "SinceError", "SinceReview", "Unverified", "check_since",
           "follow_renames", "parse_log", "read_history", "without_unverified"]
