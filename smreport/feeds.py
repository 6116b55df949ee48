"""The agenda outside the site: agenda.ics, feed.xml and a single-file briefing.html.

All three are written by hand with the standard library (the formats are
small and fixed) and are deterministic: every date in them comes from the
content or from "today", so the same content and --today give the same bytes.
Links are absolute when project.yml gives `site_url`, else relative to the
site root, where these files live.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from . import __version__
from .i18n import Month
from .model import FOLDERS, AgendaItem, AnyNote, Change, Content, Dispute, Goal, NoteType, Review
from .scaffold import make_id

if TYPE_CHECKING:
    from .render import Site

CSS_TEMPLATE = "static/smreport.css"
# How many of the newest "added or decided" entries feed.xml keeps besides the agenda.
FEED_NOTE_ENTRIES = 100


def site_root(site: Site) -> str:
    """The hosted site's address ending in '/', or '' when project.yml gives none."""
    url = site.content.project.site_url
    return url if not url or url.endswith("/") else url + "/"


def page_link(site: Site, path: str) -> str:
    """A link to a page of the site: absolute with site_url, else relative to the site root."""
    root = site_root(site)
    return urljoin(root, path) if root else (path or "./")


def project_key(content: Content) -> str:
    """A short, stable name for the project inside calendar UIDs and feed ids."""
    return make_id(content.project.title) or "project"


# --- agenda.ics (RFC 5545) -----------------------------------------------------------

# Characters iCalendar TEXT may not hold (every control character but tab).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def ics_text(text: str) -> str:
    """Escape a TEXT value: backslash, semicolon, comma and newlines (RFC 5545 3.3.11)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\n", "\\n"))


def fold(line: str, limit: int = 75) -> str:
    """Fold a content line at `limit` octets (RFC 5545 3.1), never inside a UTF-8 sequence.

    Continuation lines start with one space, which counts towards their limit.
    """
    data = line.encode("utf-8")
    if len(data) <= limit:
        return line
    parts: list[str] = []
    start, room = 0, limit
    while start < len(data):
        end = min(start + room, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start, room = end, limit - 1
    return "\r\n ".join(parts)


def ascii_uri(url: str) -> str:
    """An absolute http(s) URL as the ASCII URI iCalendar's URI values require (RFC 3986):
    its host in punycode, any other non-ASCII character percent-encoded as UTF-8."""
    if url.isascii():
        return url
    parts = urlsplit(url)  # site_url is checked: no user name, a valid host (see parse)
    host = (parts.hostname or "").encode("idna").decode("ascii")
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    keep = "!#$%&'()*+,/:;=?@[]~"  # reserved characters, and % of escapes already there
    return urlunsplit((parts.scheme, netloc, quote(parts.path, safe=keep),
                       quote(parts.query, safe=keep), quote(parts.fragment, safe=keep)))


def ics_date(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def item_uid(item: AgendaItem, content: Content) -> str:
    """A UID that stays the same while the item exists, so calendars update it in place.

    It names the rule and the note (not dates, which move), and the project, so
    two projects in one calendar never share a UID.
    """
    subject = f".{item.subject.type}.{item.subject.id}" if item.subject else ""
    return f"{item.code}{subject}.{project_key(content)}@smreport"


def item_day(item: AgendaItem, today: dt.date) -> dt.date:
    """The day the item stands on in a calendar: its due date, or today once overdue."""
    return today if item.overdue else item.due


def item_description(site: Site, item: AgendaItem) -> str:
    t = site.translate
    when = t("feed.overdue_since", date=t.date(item.due)) if item.overdue \
        else t("feed.due_on", date=t.date(item.due))
    return f"{item.why}\n{when}\n\n{t('feed.open', url=page_link(site, item.url))}"


def agenda_ics(site: Site) -> bytes:
    """agenda.ics: one all-day event per agenda item, for executives to subscribe to."""
    content, today = site.content, site.today
    # DTSTAMP must be a UTC date-time; deriving it from today keeps builds byte-identical.
    stamp = f"{ics_date(today)}T000000Z"
    name = site.translate("feed.calendar_name", project=content.project.title)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:-//smreport//smreport {__version__}//EN",
        "CALSCALE:GREGORIAN",
        f"X-WR-CALNAME:{ics_text(name)}",
        # Calendar apps that honour these refresh a subscription twice a day.
        "REFRESH-INTERVAL;VALUE=DURATION:PT12H",
        "X-PUBLISHED-TTL:PT12H",
    ]
    revision = max(0, (today - content.project.start).days) if content.project.start else 0
    for item in site.agenda:
        day = item_day(item, today)
        link = page_link(site, item.url)
        lines += [
            "BEGIN:VEVENT",
            f"UID:{ics_text(item_uid(item, content))}",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{ics_date(day)}",
            # An overdue item moves to today every day, and a due date can move later: a
            # revision number that never goes down (days since the project began), so an
            # application importing the file (not subscribed) takes each day's dates.
            f"SEQUENCE:{revision}",
            f"DTEND;VALUE=DATE:{ics_date(day + dt.timedelta(days=1))}",
            f"SUMMARY:{ics_text(item.title)}",
            f"DESCRIPTION:{ics_text(item_description(site, item))}",
            f"CATEGORIES:{ics_text(item.code)}",
            "TRANSP:TRANSPARENT",
        ]
        if link.startswith(("https://", "http://")):
            lines.append(f"URL;VALUE=URI:{ascii_uri(link)}")
        lines.append("END:VEVENT")
    if not site.agenda:
        # RFC 5545 wants at least one component, and applications must ignore one they do
        # not know: a calendar with nothing on it stays valid and shows nothing.
        lines += ["BEGIN:X-SMREPORT-NOTHING-TO-DECIDE", "END:X-SMREPORT-NOTHING-TO-DECIDE"]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(fold(line) for line in lines) + "\r\n").encode("utf-8")


# --- feed.xml (Atom, RFC 4287) --------------------------------------------------------

# Characters XML 1.0 cannot hold at all.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(text: str) -> str:
    """Text as XML character data (what xml.sax.saxutils.escape does; that module imports
    urllib.request and with it http and email, 30 ms of every command's start)."""
    return _NOT_XML.sub("", text).replace("&", "&amp;").replace("<", "&lt;") \
        .replace(">", "&gt;")


def xml_attribute(text: str) -> str:
    """Text as a quoted XML attribute value, as xml.sax.saxutils.quoteattr writes it."""
    value = xml_text(text).replace("\n", "&#10;").replace("\r", "&#13;") \
        .replace("\t", "&#9;")
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    return '"{}"'.format(value.replace('"', "&quot;"))


def atom_time(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


@dataclass(frozen=True)
class Entry:
    """One Atom entry: a stable id, when it happened, what to show, where it links."""

    key: str  # the part of the tag: URI after the feed's own id
    updated: dt.date
    title: str
    summary: str
    url: str
    category: str


def goal_added_day(site: Site, goal: Goal) -> dt.date:
    """When a goal came to be, for the feed: it has no date of its own, so its start. One
    that starts later counts from the day its file was first committed, else from its
    approval: "today" would move its entries every day until it starts."""
    today = site.today
    if goal.start <= today:
        return goal.start
    history = site.history.of(goal.path) if site.history else None
    known = [day for day in (history.created.date if history and history.created else None,
                             goal.approved.date if goal.approved else None)
             if day is not None and day <= today]
    return min(known) if known else today


def agenda_day(item: AgendaItem, site: Site) -> dt.date:
    """When the situation behind an agenda item arose, as far as the notes tell (≤ today)."""
    content, today = site.content, site.today
    days = dt.timedelta(days=content.project.rules.decision_days)
    note = content.note(item.subject.type, item.subject.id) if item.subject else None
    arose: dt.date
    if item.code == "review-page" and item.months:
        arose = Month(item.months[-1]).first_day
    elif item.code == "close-goal":
        arose = item.due
    elif item.code in ("approve-change", "decide-dispute") and isinstance(note, Change | Dispute):
        arose = note.date
    elif item.code == "approve-goal" and isinstance(note, Goal):
        arose = goal_added_day(site, note)
    else:  # due = the reading's or edit's date + decision_days
        arose = item.due - days
    return min(arose, today)


def agenda_entries(site: Site) -> list[Entry]:
    """An entry per agenda item; its id stays while the item exists, like the calendar's UID."""
    entries = []
    for item in site.agenda:
        subject = f"/{item.subject.type}/{item.subject.id}" if item.subject else ""
        entries.append(Entry(f"agenda/{item.code}{subject}",
                             agenda_day(item, site), item.title,
                             item_description(site, item), item.url, item.code))
    return entries


def _note_url(note_type: NoteType, note_id: str) -> str:
    return f"{FOLDERS[note_type]}/{note_id}/"


# One note's part of the feed, before it is worded: (day, entry key, note type, note id,
# message key, who, extra text, message parameters).
NoteEvent = tuple[dt.date, str, NoteType, str, str, str, str, dict[str, object]]


def note_events(site: Site, note: Goal | Change | Review | Dispute) -> list[NoteEvent]:
    """What one note adds to the feed: its adding, and its approval or decision if any."""
    today = site.today
    events: list[NoteEvent] = []

    def add(kind: str, day: dt.date, key: str, by: str, extra: str = "",
            **params: object) -> None:
        entry_key = f"{FOLDERS[note.type]}/{note.id}/{kind}"
        events.append((min(day, today), entry_key, note.type, note.id, key, by, extra, params))

    if isinstance(note, Goal):
        title = site.current[note.id].title if note.id in site.current else note.title
        add("added", goal_added_day(site, note), "feed.goal_added", "", "", title=title)
        if note.approved:
            add("approved", note.approved.date, "feed.goal_approved", note.approved.by,
                title=title)
    elif isinstance(note, Change):
        add("proposed", note.date, "feed.change_proposed", note.proposed_by, title=note.title)
        if note.decision:
            add("decided", note.decision.date, f"feed.change_{note.decision.outcome}",
                note.decision.by, note.decision.note, title=note.title)
    elif isinstance(note, Review):
        add("added", note.date, "feed.review_added", note.reviewer, month=Month(note.month))
    else:
        add("raised", note.date, "feed.dispute_raised", note.raised_by, title=note.title)
        if note.decision:
            add("decided", note.decision.date, "feed.dispute_decided", note.decision.by,
                note.decision.outcome, title=note.title)
    return events


def note_entries(site: Site) -> list[Entry]:
    """An entry per note added and per decision taken, as of today: the newest ones.

    Every event is listed cheaply first (and, with a Builder's page cache, kept
    per note between rebuilds; see `newest_events`); only the newest are worded,
    as a big log has thousands.
    """
    t, content = site.translate, site.content
    person = content.project.person_name
    newest = newest_events(site)
    entries = []
    for day, entry_key, note_type, note_id, key, by, extra, params in newest:
        if note_type == "goal" and key == "feed.goal_added":
            goal = content.goals[note_id]
            extra = t("feed.goal_summary", person=person(goal.owner), start=t.date(goal.start))
        summary = t("feed.by", person=person(by), date=t.date(day)) if by else ""
        entries.append(Entry(entry_key, day, t(key, **params), f"{summary}\n{extra}".strip(),
                             _note_url(note_type, note_id), entry_key.rsplit("/", 1)[1]))
    return entries


# Where a rebuild finds the last build's newest events (see `newest_events`).
NEWEST_MEMO = "feed-newest"


def newest_events(site: Site) -> list[NoteEvent]:
    """The FEED_NOTE_ENTRIES newest events of all notes, newest first.

    Events compare as tuples: by day, then by entry key, which no two events
    share. With a Builder's page cache, each note's events are kept under its
    page key, and the newest from one build to the next: when the last build
    chose them and none of the notes that gave them changed or went away since,
    the newest are the newest of those and of the changed notes' events alone.
    """
    if site.page_key is None:
        return heapq.nlargest(FEED_NOTE_ENTRIES, itertools.chain.from_iterable(
            note_events(site, note) for note in site.content.notes()))
    page_key = site.page_key

    def events_of(note: AnyNote) -> list[NoteEvent]:
        memo = f"{page_key(note)}:feed"
        events: list[NoteEvent] | None = site.view_memo.get(memo)
        if events is None:
            events = site.view_memo[memo] = note_events(site, note)
        return events

    kept = site.kept_pages
    last: tuple[int, list[NoteEvent], set[str]] | None = site.view_memo.get(NEWEST_MEMO)
    if last is not None and kept is not None and last[0] == site.generation - 1 \
            and last[2] <= kept:
        changed = site.changed_notes(kept) if site.note_paths is not None else \
            [note for note in site.content.notes() if note.path not in kept]
        newest = heapq.nlargest(FEED_NOTE_ENTRIES, itertools.chain(
            last[1], *map(events_of, changed)))
    else:
        newest = heapq.nlargest(FEED_NOTE_ENTRIES, itertools.chain.from_iterable(
            map(events_of, site.content.notes())))
    note = site.content.note
    paths = set()
    for _day, _key, note_type, note_id, *_rest in newest:
        shown = note(note_type, note_id)
        if shown is not None:
            paths.add(shown.path)
    site.view_memo[NEWEST_MEMO] = (site.generation, newest, paths)
    return newest


def atom_feed(site: Site) -> bytes:
    """feed.xml: the agenda and the notes added or decided, newest first."""
    content, t = site.content, site.translate
    base_id = f"tag:smreport,{content.project.start.isoformat()}:{project_key(content)}"
    entries = sorted(agenda_entries(site) + note_entries(site),
                     key=lambda e: (e.updated, e.key), reverse=True)
    updated = max((e.updated for e in entries), default=content.project.start)
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang={xml_attribute(t.language)}>',
        f"  <id>{xml_text(base_id)}</id>",
        f"  <title>{xml_text(content.project.title)}</title>",
        f"  <subtitle>{xml_text(t('feed.subtitle'))}</subtitle>",
        f"  <updated>{atom_time(updated)}</updated>",
        f"  <author><name>{xml_text(content.project.title)}</name></author>",
        f'  <generator version="{xml_text(__version__)}">smreport</generator>',
        f'  <link rel="alternate" type="text/html" href={xml_attribute(page_link(site, ""))}/>',
    ]
    if site_root(site):
        lines.append(f'  <link rel="self" type="application/atom+xml" '
                     f'href={xml_attribute(page_link(site, "feed.xml"))}/>')
    for entry in entries:
        label = f" label={xml_attribute(t('feed.agenda'))}" if entry.key.startswith("agenda/") \
            else ""
        lines += [
            "  <entry>",
            f"    <id>{xml_text(base_id)}/{xml_text(entry.key)}</id>",
            f"    <title>{xml_text(entry.title)}</title>",
            f"    <updated>{atom_time(entry.updated)}</updated>",
            f'    <link rel="alternate" type="text/html" '
            f"href={xml_attribute(page_link(site, entry.url))}/>",
            f"    <category term={xml_attribute(entry.category)}{label}/>",
            f"    <summary>{xml_text(entry.summary)}</summary>",
            "  </entry>",
        ]
    lines.append("</feed>")
    return ("\n".join(lines) + "\n").encode("utf-8")


# --- briefing.html: one file, to attach or forward -----------------------------------

_STYLESHEET = re.compile(r'<link\b[^>]*\brel="stylesheet"[^>]*>')
_CSP = re.compile(r'<meta\b[^>]*\bhttp-equiv="Content-Security-Policy"[^>]*>', re.IGNORECASE)
_LINK_ATTRIBUTE = re.compile(r'\b(href)="([^"]*)"')
# Nothing may be fetched: the file must look the same with no network and no other files.
SINGLE_FILE_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                      "script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'")


def theme_css(site: Site) -> str:
    """The site's stylesheet, from the first template folder that has one."""
    loader = site.environment.loader
    if loader is None:
        return ""
    try:
        source, _filename, _uptodate = loader.get_source(site.environment, CSS_TEMPLATE)
    except Exception:  # jinja2.TemplateNotFound: a theme without CSS
        return ""
    return source


def single_file(site: Site, index_html: bytes) -> bytes:
    """briefing.html: the briefing page with its CSS inlined and links to the hosted pages.

    It is the rendered index.html itself, so it always shows what the site's
    briefing shows: the stylesheet link becomes a <style> element, the page's
    security policy forbids fetching anything, and every relative link is
    made absolute against site_url (kept relative without one, which works
    inside the site's folder).
    """
    html = index_html.decode("utf-8")
    css = theme_css(site).replace("</", "<\\/")
    html = _STYLESHEET.sub(lambda _m: f"<style>\n{css}</style>", html, count=1)
    html = _CSP.sub(lambda _m: f'<meta http-equiv="Content-Security-Policy" '
                               f'content="{SINGLE_FILE_POLICY}">', html, count=1)
    root = site_root(site)
    if root:
        def absolute(match: re.Match[str]) -> str:
            value = match.group(2)
            if value.startswith("#") or re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", value):
                return match.group(0)
            return f'{match.group(1)}="{urljoin(root, value.replace("&amp;", "&"))}"'.replace(
                "&", "&amp;")
        html = _LINK_ATTRIBUTE.sub(absolute, html)
    return html.encode("utf-8")


def render_feeds(site: Site, index_html: bytes) -> Iterator[tuple[str, bytes]]:
    """agenda.ics, feed.xml and briefing.html (from the rendered index.html), as (path, bytes)."""
    yield "agenda.ics", agenda_ics(site)
    yield "feed.xml", atom_feed(site)
    yield "briefing.html", single_file(site, index_html)
