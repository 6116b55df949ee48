"""`smreport new` and `smreport init`: start a note, or a whole project, from nothing.

A new note holds every required field. What the tool knows (the title, today,
the month, the goal) is filled in; what only the team knows is left empty,
so `smreport check` names exactly the fields still to fill. Comments, in the
project's language, explain each field. Nothing is ever overwritten.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from slugify import slugify

from .derive import as_of, current_goals
from .fields import MONTH_PATTERN, is_valid_id
from .i18n import Translator, translator
from .load import load_content
from .model import FOLDERS, CurrentGoal, Kpi, NoteType, Project
from .parse import LANGUAGES, parse_project

# Comments start in this column when the YAML before them is short enough.
COMMENT_COLUMN = 28


class ScaffoldError(Exception):
    """A note or project that cannot be written; the message says why and what to do."""


class UsageError(ScaffoldError):
    """The command line asks for something impossible (exit 2), not the project."""


@dataclass(frozen=True)
class Line:
    """One line of front matter: YAML text and an optional comment after it."""

    yaml: str
    comment: str = ""


# What JSON leaves as it is but YAML reads otherwise: DEL and the C1 controls (refused in a
# YAML stream), the line breaks U+0085, U+2028 and U+2029 (which would end a comment line
# and start a live key), the byte-order mark and the non-characters U+FFFE and U+FFFF.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def _yaml_text(text: str) -> str:
    """A double-quoted YAML scalar (JSON strings are valid YAML), keeping non-ASCII letters,
    with every character YAML would not read back as written escaped (`\\uXXXX`)."""
    quoted: str = json.dumps(text, ensure_ascii=False)
    return _YAML_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", quoted)


_CONTROLS = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")  # not white space


def _title(text: str | None, what: str) -> str | None:
    """A title from the command line with its white space collapsed; a usage error for one
    that is not text (bytes that were not UTF-8)."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        raise UsageError(f"the {what} {shown!r} holds bytes that are not UTF-8 text; type it "
                         "again, or set the terminal to UTF-8") from None
    return " ".join(_CONTROLS.sub("", text).split())  # a control character is an accident


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _render(header: Sequence[str], lines: Sequence[Line], footer: Sequence[str]) -> str:
    """The front matter, comments aligned; the body after the closing line is left empty."""
    out = ["---", *(f"# {text}" for text in header)]
    for line in lines:
        if not line.comment:
            out.append(line.yaml)
            continue
        pad = max(COMMENT_COLUMN - len(line.yaml), 1)
        out.append(f"{line.yaml}{' ' * pad}# {line.comment}")
    out += [f"# {text}" for text in footer]
    out.append("---")
    return "\n".join(out) + "\n"


def make_id(title: str) -> str:
    """A note id from a title: ASCII, lowercase, hyphens; Cyrillic is transliterated.

    "Рост продаж" gives "rost-prodazh". Returns '' when nothing usable is left.
    """
    return slugify(title, max_length=80, word_boundary=True, save_order=True)


# --- what the project tells about itself ----------------------------------------------


@dataclass(frozen=True)
class ProjectInfo:
    """What `new` needs from project.yml: language, today, decision days, who is who."""

    language: str
    today: dt.date
    decision_days: int
    people: tuple[str, ...]
    executives: tuple[str, ...]


def read_project(content: Path, today: dt.date | None) -> ProjectInfo:
    """Read project.yml for `new`; a broken one still gives the defaults."""
    from .pipeline import today_in

    path = content / "project.yml"
    if not path.is_file():
        raise ScaffoldError(f"there is no project.yml in {_shown(content)}; start a project with "
                            "`smreport init`, or point at one with --content DIR")
    try:
        project, _problems = parse_project("project.yml", path.read_bytes())
    except OSError as error:
        raise ScaffoldError(f"cannot read {_shown(path)}: {error.strerror}") from None
    if project is None:
        # The note can still be written; `check` will report project.yml's problems.
        return ProjectInfo("en", today or today_in("UTC"), 7, (), ())
    return ProjectInfo(project.language, today or today_in(project.timezone),
                       project.rules.decision_days, tuple(project.people),
                       _executives(project))


def _executives(project: Project) -> tuple[str, ...]:
    return tuple(p.id for p in project.people.values() if p.executive)


def _who(t: Translator, key: str, ids: Sequence[str]) -> str:
    """A field's comment, with the ids that may go there when the project defines them."""
    text = t(key)
    return f"{text}; {t('new.one_of', ids=', '.join(ids))}" if ids else text


# --- the four note types -------------------------------------------------------------


def goal_note(t: Translator, info: ProjectInfo, title: str) -> str:
    """A new goal: title and start filled in, owner, due and one KPI to fill."""
    lines = [
        Line(f"title: {_yaml_text(title)}", t("new.goal.title")),
        Line("owner:", _who(t, "new.goal.owner", info.people)),
        Line(f"start: {info.today.isoformat()}", t("new.goal.start")),
        Line("due:", t("new.goal.due")),
        Line("status: active", t("new.goal.status")),
        Line("kpis:", t("new.goal.kpis")),
        Line("  - id:", t("new.kpi.id")),
        Line("    name:", t("new.kpi.name")),
        Line("    unit:", t("new.kpi.unit")),
        Line("    baseline:", t("new.kpi.baseline")),
        Line("    target:", t("new.kpi.target")),
    ]
    footer = [
        t("new.goal.readings"),
        f"  - {{ kpi: leads, date: {info.today.isoformat()}, value: 131 }}",
        t("new.goal.approved"),
        f"  {{ by: {(info.executives or ('petrov',))[0]}, date: {info.today.isoformat()} }}",
        t("new.goal.body"),
    ]
    return _render([t("new.header.goal"), t("new.fill")], lines, footer)


def _commented_set(t: Translator, goal: CurrentGoal | None, today: dt.date) -> list[Line]:
    """The keys a change may set, commented out: the goal's current values when known."""
    if goal is not None:
        title, due, status, kpis = goal.title, goal.due, goal.status, goal.kpis
    else:
        title, due, status = t("new.change.example_title"), today + dt.timedelta(days=90), "active"
        kpis = (Kpi("leads", t("new.change.example_kpi"), 120, 240, "leads"),)
    lines = [
        Line(f"#   title: {_yaml_text(title)}"),
        Line(f"#   due: {due.isoformat()}"),
        Line(f"#   status: {status}", t("new.goal.status")),
        Line("#   kpis:", t("new.change.set_kpis")),
    ]
    for kpi in kpis:
        unit = f", unit: {_yaml_text(kpi.unit)}" if kpi.unit else ""
        lines.append(Line(f"#     - {{ id: {kpi.id}, name: {_yaml_text(kpi.name)}{unit}, "
                          f"baseline: {_number(kpi.baseline)}, "
                          f"target: {_number(kpi.target)} }}"))
    return lines


def change_note(t: Translator, info: ProjectInfo, title: str, goal_id: str | None,
                goal: CurrentGoal | None) -> str:
    """A new change: title, date and (with --goal) the goal filled in; `set` to choose."""
    lines = [
        Line(f"title: {_yaml_text(title)}", t("new.change.title")),
        Line(f"goal: {goal_id}" if goal_id else "goal:", t("new.change.goal")),
        Line("proposed_by:", _who(t, "new.change.proposed_by", info.people)),
        Line(f"date: {info.today.isoformat()}", t("new.change.date")),
        Line("set:", t("new.change.set")),
        *_commented_set(t, goal, info.today),
    ]
    executive = (info.executives or ("petrov",))[0]
    footer = [
        t("new.change.decision"),
        f"  {{ outcome: approved, by: {executive}, date: {info.today.isoformat()} }}",
        t("new.change.body"),
    ]
    return _render([t("new.header.change"), t("new.fill")], lines, footer)


def review_note(t: Translator, info: ProjectInfo, month: str) -> str:
    """A new review: month and date filled in; reviewer, likes, feedback to fill."""
    lines = [
        Line(f"month: {month}", t("new.review.month")),
        Line("reviewer:", _who(t, "new.review.reviewer", info.executives)),
        Line(f"date: {info.today.isoformat()}", t("new.review.date")),
        Line("pages:", t("new.review.pages")),
        Line("likes:", t("new.review.likes")),
        Line('  - ""'),
        Line("dislikes:", t("new.review.dislikes")),
        Line('  - ""'),
        Line("feedback_to:", _who(t, "new.review.feedback_to", info.people)),
    ]
    return _render([t("new.header.review"), t("new.fill")], lines, [t("new.review.body")])


def dispute_note(t: Translator, info: ProjectInfo, title: str) -> str:
    """A new dispute: title and date filled in; who raised it and two parties to fill."""
    party = [
        Line("  - person:", _who(t, "new.dispute.person", info.people)),
        Line("    position:", t("new.dispute.position")),
    ]
    executive = (info.executives or ("petrov",))[0]
    deadline = info.today + dt.timedelta(days=info.decision_days)
    lines = [
        Line(f"title: {_yaml_text(title)}", t("new.dispute.title")),
        Line("raised_by:", _who(t, "new.dispute.raised_by", info.people)),
        Line(f"date: {info.today.isoformat()}", t("new.dispute.date")),
        Line(f"# decide_by: {deadline.isoformat()}",
             t("new.dispute.decide_by", days=info.decision_days)),
        Line("parties:", t("new.dispute.parties")),
        *party,
        *party,
    ]
    footer = [
        t("new.dispute.decision"),
        f"  {{ by: {executive}, date: {info.today.isoformat()}, outcome: \"...\" }}",
        t("new.dispute.body"),
    ]
    return _render([t("new.header.dispute"), t("new.fill")], lines, footer)


# --- writing ------------------------------------------------------------------------


def _shown(path: Path) -> str:
    """A path as the user should see it: relative to the current folder when shorter."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return relative if len(relative) <= len(str(path)) else str(path)


def _write_new(path: Path, text: str, inside: Path | None = None) -> None:
    """Create `path` with `text`; never replace an existing file. With `inside`, refuse a
    `path` whose folder leads outside it through a link (as `check` refuses it)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ScaffoldError(f"cannot make the folder {_shown(path.parent)}: "
                            f"{error.strerror}; is there a file of that name?") from None
    if inside is not None and not path.parent.resolve().is_relative_to(inside.resolve()):
        raise ScaffoldError(f"{_shown(path.parent)} leads outside {_shown(inside)} through a "
                            "link; smreport writes notes only inside the content folder")
    try:
        with path.open("x", encoding="utf-8", newline="\n") as file:
            file.write(text)
    except FileExistsError:
        other = "open it to add to it, or give another review its own id with --id" \
            if path.parent.name == FOLDERS["review"] else \
            "choose another title, or give the new note its own id with --id"
        raise ScaffoldError(f"{_shown(path)} already exists and is never overwritten; "
                            f"{other}") from None
    except OSError as error:
        raise ScaffoldError(f"cannot write {_shown(path)}: {error.strerror}") from None


def _month_of(text: str | None, today: dt.date) -> str:
    if text is None:
        return f"{today.year:04d}-{today.month:02d}"
    match = MONTH_PATTERN.fullmatch(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise UsageError(f"{text!r} is not a month; write it YYYY-MM, for example "
                            f"{today.year:04d}-{today.month:02d}")
    month = text.strip()
    if dt.date(int(match.group(1)), int(match.group(2)), 1) > today:
        raise ScaffoldError(f"the month {month} has not begun yet (today is {today}); a review "
                            "is written after looking at the page")
    return month


def _current_goal(content: Path, goal_id: str, today: dt.date) -> CurrentGoal | None:
    """The goal's current definition for pre-filling a change; None if it cannot be read."""
    if not is_valid_id(goal_id):
        raise UsageError(f"--goal {goal_id!r} is not a goal id (lowercase letters, digits and "
                            "hyphens: the goal's file name without .md)")
    if not (content / FOLDERS["goal"] / f"{goal_id}.md").is_file():
        goals_dir = content / FOLDERS["goal"]
        known = sorted(p.stem for p in goals_dir.glob("*.md")) if goals_dir.is_dir() else []
        listed = f"; the goals are: {', '.join(known)}" if known else ""
        raise ScaffoldError(f"there is no goal {goal_id!r} in {_shown(goals_dir)}{listed}")
    loaded = load_content(content)
    if loaded.content is None:
        return None
    return current_goals(as_of(loaded.content, today)).get(goal_id)


def new_note(content: Path, note_type: NoteType, title: str | None, *,
             today: dt.date | None = None, goal: str | None = None,
             note_id: str | None = None) -> Path:
    """Write a new note of `note_type` into `content`; returns its path.

    `title` is the note's title, or for a review the month (default: this
    month). `goal` pre-fills a change; `note_id` replaces the id made from the
    title. Raises ScaffoldError with a message for the user.
    """
    title = _title(title, "month" if note_type == "review" else "title")
    info = read_project(content, today)
    t = translator(info.language)
    if goal is not None and note_type != "change":
        raise UsageError("--goal is only for a change: smreport new change TITLE --goal ID")
    if note_type == "review":
        month = _month_of(title, info.today)
        text = review_note(t, info, month)
        default_id = f"review-{month}"
    else:
        if not title:
            raise UsageError(f"a {note_type} needs a title: smreport new {note_type} \"Title\"")
        default_id = make_id(title)
        if note_type == "goal":
            text = goal_note(t, info, title)
        elif note_type == "change":
            current = _current_goal(content, goal, info.today) if goal else None
            text = change_note(t, info, title, goal, current)
        else:
            text = dispute_note(t, info, title)
    chosen = note_id if note_id is not None else default_id
    if not chosen:
        raise UsageError(f"cannot make an id from the title {title!r}; give one with --id, "
                            "for example --id my-note")
    if not is_valid_id(chosen):
        raise UsageError(f"{chosen!r} is not a valid note id (lowercase ASCII letters, "
                            f"digits and hyphens, at most 80 characters); try {make_id(chosen)!r}")
    path = content / FOLDERS[note_type] / f"{chosen}.md"
    _write_new(path, text, inside=content)
    return path


# --- smreport init -------------------------------------------------------------------


def project_yml(t: Translator, language: str, title: str, today: dt.date) -> str:
    """A small, valid project.yml with comments, in `language`."""
    timezone = "Europe/Moscow" if language == "ru" else "UTC"
    rows = [
        Line(f"title: {_yaml_text(title)}", t("init.comment.title")),
        Line(f"language: {language}", t("init.comment.language")),
        Line(f"timezone: {timezone}", t("init.comment.timezone")),
        Line(f"start: {today.isoformat()}", t("init.comment.start")),
        Line("# site_url: https://briefing.example.com/", t("init.comment.site_url")),
        Line("units:", t("init.comment.units")),
        Line(f"  agency:    {{ name: {_yaml_text(t('init.unit.agency'))}, external: true }}"),
        Line(f"  marketing: {{ name: {_yaml_text(t('init.unit.marketing'))} }}"),
        Line(f"  board:     {{ name: {_yaml_text(t('init.unit.board'))} }}"),
        Line("people:", t("init.comment.people")),
        Line(f"  director:  {{ name: {_yaml_text(t('init.person.director'))}, unit: board, "
             "executive: true }"),
        Line(f"  lead:      {{ name: {_yaml_text(t('init.person.lead'))}, unit: marketing }}"),
        Line("rules:", t("init.comment.rules")),
        Line("  decision_days: 7"),
        Line("  off_track_tolerance: 0.2"),
    ]
    lines = [f"# {t('init.comment.header')}"]
    for row in rows:
        pad = max(COMMENT_COLUMN + 8 - len(row.yaml), 1)
        lines.append(f"{row.yaml}{' ' * pad}# {row.comment}" if row.comment else row.yaml)
    return "\n".join(lines) + "\n"


def first_goal(t: Translator, today: dt.date) -> str:
    """A valid goal awaiting approval, so the first build shows one agenda item."""
    due = today + dt.timedelta(days=182)
    return (
        "---\n"
        f"title: {_yaml_text(t('init.goal.title'))}\n"
        "owner: lead\n"
        f"start: {today.isoformat()}\n"
        f"due: {due.isoformat()}\n"
        "kpis:\n"
        f"  - {{ id: followers, name: {_yaml_text(t('init.goal.kpi'))}, "
        "baseline: 1000, target: 2000 }\n"
        "---\n"
        f"{t('init.goal.body')}\n"
    )


def init_project(folder: Path, language: str = "en", title: str | None = None,
                 today: dt.date | None = None) -> list[Path]:
    """Write a minimal working project into `folder`: content/project.yml and one goal.

    Also writes a .gitignore for the site, the cache and the build's lock, or adds the
    lines an existing one lacks.
    Refuses a folder whose content/ already holds anything.
    """
    from .pipeline import today_in

    if language not in LANGUAGES:
        raise UsageError(f"--language must be one of {', '.join(LANGUAGES)}")
    title = _title(title, "title")
    if title == "":
        raise UsageError("--title is empty; give the project a name, or leave --title out")
    if folder.exists() and not folder.is_dir():
        raise ScaffoldError(f"{_shown(folder)} is a file, not a folder")
    content = folder / "content"
    if content.exists() and (not content.is_dir() or any(content.iterdir())):
        raise ScaffoldError(f"{_shown(content)} already exists and is not empty; smreport init "
                            "never overwrites a project")
    t = translator(language)
    day = today or today_in("Europe/Moscow" if language == "ru" else "UTC")
    files = {
        content / "project.yml": project_yml(t, language, title or t("init.title"), day),
        content / FOLDERS["goal"] / f"{make_id(t('init.goal.title'))}.md": first_goal(t, day),
    }
    ignore = folder / ".gitignore"
    if not ignore.exists():
        files[ignore] = IGNORE_HEADER + "".join(f"{line}\n" for line in IGNORED)
        addition = ""
    else:  # read before anything is written: an unreadable one leaves the folder as it was
        addition = _ignored_addition(ignore)
    for path, text in files.items():
        _write_new(path, text)
    written = list(files)
    if addition:
        _append(ignore, addition)
        written.append(ignore)
    return written


# What a project's git repository should not hold: the built site, the build cache (pickles
# that smreport trusts: never from someone else) and the lock beside the site.
IGNORE_HEADER = "# smreport: the built site, the build cache and the build's lock\n"
IGNORED = ("site/", ".smreport-cache/", ".*.smreport-lock")


def _ignored_addition(ignore: Path) -> str:
    """What to append to an existing .gitignore for the lines of IGNORED it lacks (in its
    own line endings); "" if it lacks none."""
    try:
        with ignore.open(encoding="utf-8", newline="") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "it is not UTF-8 text"
        raise ScaffoldError(f"cannot read {_shown(ignore)}: {reason}") from None
    present = {line.strip() for line in text.splitlines()}
    missing = [line for line in IGNORED if line not in present]
    if not missing:
        return ""
    newline = "\r\n" if "\r\n" in text else "\n"
    return ("" if not text or text.endswith("\n") else newline) + \
        "".join(f"{line}{newline}" for line in (IGNORE_HEADER.rstrip("\n"), *missing))


def _append(path: Path, addition: str) -> None:
    try:
        with path.open("a", encoding="utf-8", newline="") as file:
            file.write(addition)
    except OSError as error:
        raise ScaffoldError(f"cannot write {_shown(path)}: {error.strerror}") from None
