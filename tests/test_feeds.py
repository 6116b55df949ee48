"""agenda.ics, feed.xml and briefing.html from real builds, read by real parsers and Chromium.

icalendar and feedparser read the files as calendar apps and feed readers
would; headless Chromium opens briefing.html from disk with nothing beside it.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import icalendar
import pytest

from smreport.feeds import fold, ics_text, xml_attribute, xml_text
from smreport.progress import MIN_NOTES, show_progress
from tests.conftest import GOAL, PROJECT_YML, REPO, ProjectFactory, run_cli, write_files

SITE_URL = "https://intranet.example.com/brandx/"
# A long Cyrillic title with every character iCalendar TEXT must escape: ; , and \
DISPUTE_TITLE = ("Кто отвечает на негативные комментарии; агентство, PR или поддержка "
                 "\\ решение нужно до запуска весенней кампании")
FILES = {
    "goals/new-goal.md": """\
        ---
        title: "Grow the Telegram channel, fast"
        owner: lebedev
        start: 2026-03-15
        due: 2026-09-30
        kpis:
          - { id: subscribers, name: Subscribers, baseline: 1000, target: 5000 }
        ---
        """,
    "changes/pending.md": """\
        ---
        title: Move the due date
        goal: double-leads
        proposed_by: smirnova
        date: 2026-02-20
        set: { due: 2026-09-30 }
        ---
        The launch slipped.
        """,
    "disputes/cross.md": f"""\
        ---
        title: "{DISPUTE_TITLE.replace(chr(92), chr(92) * 2)}"
        raised_by: ivanov
        date: 2026-03-05
        decide_by: 2026-03-20
        parties:
          - {{ person: ivanov, position: "The agency answers within an hour" }}
          - {{ person: kuznetsova, position: "PR approves every answer" }}
        ---
        """,
}
FIRST, SECOND = "2026-03-10", "2026-03-12"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def build(root: Path, out: Path, today: str) -> Path:
    result = run_cli("build", "--content", str(root), "--out", str(out), "--today", today)
    assert result.returncode == 0, result.stderr + result.stdout
    return out


@pytest.fixture
def project(make_project: ProjectFactory) -> Path:
    return make_project(FILES, project=PROJECT_YML + f"site_url: {SITE_URL}\n")


def agenda_of(site: Path) -> list[dict[str, Any]]:
    return json.loads((site / "agenda.json").read_text(encoding="utf-8"))["items"]


def events_of(site: Path) -> list[Any]:
    calendar = icalendar.Calendar.from_ical((site / "agenda.ics").read_bytes())
    return list(calendar.walk("VEVENT"))


# --- agenda.ics -------------------------------------------------------------------------


def test_calendar_has_one_all_day_event_per_item_on_its_day(project: Path,
                                                             tmp_path: Path) -> None:
    site = build(project, tmp_path / "site", FIRST)
    items = agenda_of(site)
    assert {i["code"] for i in items} == {"approve-goal", "approve-change", "decide-dispute",
                                          "review-page"}
    events = events_of(site)
    assert len(events) == len(items)
    today = dt.date.fromisoformat(FIRST)
    for item, event in zip(items, events, strict=True):
        day = today if item["overdue"] else dt.date.fromisoformat(item["due"])
        start, end = event["DTSTART"].dt, event["DTEND"].dt
        assert not isinstance(start, dt.datetime), "an all-day event has a DATE start"
        assert (start, end) == (day, day + dt.timedelta(days=1)), item["code"]
        assert str(event["SUMMARY"]) == item["title"]
        description = str(event["DESCRIPTION"])
        assert item["why"] in description
        assert SITE_URL + item["url"] in description
        assert str(event["URL"]) == SITE_URL + item["url"]
        assert event["DTSTAMP"].dt == dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    overdue = [i for i in items if i["overdue"]]
    assert {i["code"] for i in overdue} == {"approve-change", "review-page"}
    # The escaped title came back whole: ; , and \ survived.
    summaries = [str(e["SUMMARY"]) for e in events]
    assert any(DISPUTE_TITLE in s for s in summaries)


def test_calendar_uids_stay_while_dates_move(project: Path, tmp_path: Path) -> None:
    first = build(project, tmp_path / "first", FIRST)
    second = build(project, tmp_path / "second", SECOND)
    uids = [str(e["UID"]) for e in events_of(first)]
    assert len(set(uids)) == len(uids)
    assert sorted(uids) == sorted(str(e["UID"]) for e in events_of(second))
    # ...although the overdue items moved to the new today.
    days = {str(e["UID"]): e["DTSTART"].dt for e in events_of(second)}
    change_uid = next(u for u in uids if u.startswith("approve-change."))
    assert days[change_uid] == dt.date.fromisoformat(SECOND)
    # Each day's move is a revision, so an application that imported the file takes the
    # new date: SEQUENCE grows with the days and never goes down, whatever an item does.
    revisions = [{str(e["UID"]): int(e["SEQUENCE"]) for e in events_of(site)}
                 for site in (first, second)]
    assert all(revisions[1][uid] == revisions[0][uid] + 2 for uid in uids)
    assert set(revisions[0].values()) == {(dt.date.fromisoformat(FIRST)
                                           - dt.date(2026, 1, 1)).days}  # since the start
    # Deciding the change removes exactly its event; the others keep their UIDs.
    pending = project / "changes" / "pending.md"
    pending.write_text(pending.read_text().replace(
        "set: { due: 2026-09-30 }",
        "set: { due: 2026-09-30 }\ndecision: { outcome: approved, by: petrov, date: 2026-03-11 }"))
    third = build(project, tmp_path / "third", SECOND)
    assert sorted(str(e["UID"]) for e in events_of(third)) == sorted(
        u for u in uids if u != change_uid)


def test_calendar_is_rfc_5545_on_the_wire(project: Path, tmp_path: Path) -> None:
    site = build(project, tmp_path / "site", FIRST)
    data = (site / "agenda.ics").read_bytes()
    assert data.endswith(b"\r\n")
    lines = data[:-2].split(b"\r\n")
    assert all(b"\n" not in line and b"\r" not in line for line in lines)
    assert all(len(line) <= 75 for line in lines)
    assert any(line.startswith(b" ") for line in lines), "the long title was folded"
    for line in lines:
        line.decode("utf-8")  # each physical line is whole UTF-8: no sequence split by a fold
    assert lines[0] == b"BEGIN:VCALENDAR" and lines[-1] == b"END:VCALENDAR"
    assert b"VERSION:2.0" in lines and any(line.startswith(b"PRODID:") for line in lines)
    unfolded = data.replace(b"\r\n ", b"").decode("utf-8")
    assert ics_text(DISPUTE_TITLE) in unfolded
    assert "\\;" in unfolded and "\\," in unfolded and "\\\\" in unfolded
    # The same content and today give the same bytes.
    again = build(project, tmp_path / "again", FIRST)
    assert (again / "agenda.ics").read_bytes() == data


def test_a_calendar_with_nothing_to_decide_is_still_valid(make_project: ProjectFactory,
                                                           tmp_path: Path) -> None:
    """RFC 5545 wants at least one component; one applications must ignore (an X- one)
    keeps the calendar valid and empty. Not an iTIP message (no METHOD), so no ORGANIZER
    is owed."""
    review = ("---\nmonth: 2026-03\nreviewer: petrov\ndate: 2026-03-10\nlikes: [ Stories ]\n"
              "feedback_to: [ smirnova ]\n---\nThank you.\n")
    site = build(make_project({"reviews/review-2026-03.md": review}), tmp_path / "site",
                 FIRST)
    assert agenda_of(site) == []
    data = (site / "agenda.ics").read_bytes()
    lines = data.decode("utf-8").split("\r\n")
    components = [line for line in lines if line.startswith("BEGIN:")]
    assert components == ["BEGIN:VCALENDAR", "BEGIN:X-SMREPORT-NOTHING-TO-DECIDE"]
    assert not any(line.startswith("METHOD:") for line in lines)
    calendar = icalendar.Calendar.from_ical(data)
    assert list(calendar.walk("VEVENT")) == []


def test_calendar_urls_are_ascii_uris(make_project: ProjectFactory, tmp_path: Path) -> None:
    site_url = "https://Брифинг.example:8443/бренд%20x/"  # a capital, a port
    site = build(make_project(FILES, project=PROJECT_YML + f"site_url: {site_url}\n"),
                 tmp_path / "site", FIRST)
    urls = [str(event["URL"]) for event in events_of(site)]
    assert urls and all(url.startswith("https://xn--") and url.isascii() for url in urls)
    assert all(".example:8443/" in url for url in urls)
    assert all("/%D0%B1%D1%80%D0%B5%D0%BD%D0%B4%20x/" in url for url in urls)
    # The feed may hold the IRI as written (Atom allows it).
    assert site_url in (site / "feed.xml").read_text(encoding="utf-8")


def test_folding_never_splits_a_character() -> None:
    line = "DESCRIPTION:" + "ё" * 100 + "€𝄞" * 20
    folded = fold(line).encode("utf-8")
    parts = folded.split(b"\r\n")
    assert all(len(part) <= 75 for part in parts)
    assert all(part.startswith(b" ") for part in parts[1:])
    assert [part.decode("utf-8") for part in parts]  # no part ends mid-character
    assert folded.replace(b"\r\n ", b"").decode("utf-8") == line
    assert fold("SUMMARY:short") == "SUMMARY:short"


def test_calendar_links_are_relative_without_site_url(make_project: ProjectFactory,
                                                      tmp_path: Path) -> None:
    site = build(make_project(FILES), tmp_path / "site", FIRST)
    for event in events_of(site):
        assert "URL" not in event
        assert "Open: " in str(event["DESCRIPTION"])
        assert "https://" not in str(event["DESCRIPTION"])


# --- feed.xml ---------------------------------------------------------------------------


def test_feed_is_valid_atom_newest_first_with_stable_ids(project: Path,
                                                         tmp_path: Path) -> None:
    first = build(project, tmp_path / "first", FIRST)
    second = build(project, tmp_path / "second", SECOND)
    feeds = []
    for site in (first, second):
        data = (site / "feed.xml").read_bytes()
        ElementTree.fromstring(data)  # well-formed XML
        feed = feedparser.parse(data)
        assert feed.bozo == 0, feed.get("bozo_exception")
        assert feed.version == "atom10"
        feeds.append(feed)
    feed = feeds[0]
    items = agenda_of(first)
    # The agenda, and the notes added or decided: 2 goals added, 1 approved, 1 change
    # proposed, 1 dispute raised.
    assert len(feed.entries) == len(items) + 5
    ids = [entry.id for entry in feed.entries]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"tag:smreport,2026-01-01:[a-z0-9-]+/[a-z0-9/-]+", i) for i in ids)
    updated = [entry.updated_parsed for entry in feed.entries]
    assert updated == sorted(updated, reverse=True)
    assert all(entry.link.startswith(SITE_URL) for entry in feed.entries)
    titles = [entry.title for entry in feed.entries]
    for item in items:
        assert item["title"] in titles
    assert "Change proposed: Move the due date" in titles
    assert feed.feed.updated == "2026-03-10T00:00:00Z"
    # Ids do not depend on today: the same entries have the same ids two days later.
    assert sorted(ids) == sorted(entry.id for entry in feeds[1].entries)
    # Byte-identical for the same today.
    again = build(project, tmp_path / "again", FIRST)
    assert (again / "feed.xml").read_bytes() == (first / "feed.xml").read_bytes()


def test_feed_in_russian_parses(make_project: ProjectFactory, tmp_path: Path) -> None:
    root = make_project(FILES, project=PROJECT_YML.replace("language: en", "language: ru"))
    feed = feedparser.parse((build(root, tmp_path / "site", FIRST) / "feed.xml").read_bytes())
    assert feed.bozo == 0
    assert feed.feed.language == "ru"
    assert any(entry.title.startswith("Предложено изменение") for entry in feed.entries)


# --- briefing.html ----------------------------------------------------------------------


def chromium_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    reason = chromium_reason()
    if reason:
        if os.environ.get("SMREPORT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"SMREPORT_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                             headless=True)
        yield browser
        browser.close()


def open_page(browser: Any, url: str) -> tuple[Any, Any, list[str], list[str], list[str]]:
    """Open `url` in a fresh context; returns context, page, requests, failures, errors."""
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    requests: list[str] = []
    failures: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("requestfailed", lambda request: failures.append(request.url))
    page.on("console", lambda message: errors.append(message.text)
            if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url, wait_until="load")
    return context, page, requests, failures, errors


STYLE_PROBE = """() => Array.from(document.querySelectorAll('body, body *')).map(element => {
  const style = getComputedStyle(element);
  return [element.tagName, style.color, style.fontSize, style.fontFamily, style.display,
          style.marginTop, style.paddingLeft, style.backgroundColor, style.borderTopWidth]
    .join('|');
})"""


def test_briefing_file_renders_alone_from_disk_like_the_site(project: Path, tmp_path: Path,
                                                             chromium: Any) -> None:
    site = build(project, tmp_path / "site", FIRST)
    html = (site / "briefing.html").read_text(encoding="utf-8")
    assert '<link rel="stylesheet"' not in html and "<style>" in html
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and all(h.startswith((SITE_URL, "#", "data:")) for h in hrefs)
    assert f'href="{SITE_URL}changes/pending/index.html"' in html
    alone = tmp_path / "mail" / "briefing.html"
    alone.parent.mkdir()
    shutil.copy(site / "briefing.html", alone)  # nothing else beside it

    context, page, requests, failures, errors = open_page(chromium, alone.as_uri())
    try:
        assert requests == [alone.as_uri()], "the file must load nothing else"
        assert failures == [] and errors == []
        single_styles = page.evaluate(STYLE_PROBE)
        single_text = page.inner_text("main")
    finally:
        context.close()
    # The hosted briefing, with its stylesheet beside it, looks the same.
    context, page, requests, failures, errors = open_page(chromium, (site / "index.html").as_uri())
    try:
        assert failures == []
        assert page.evaluate(STYLE_PROBE) == single_styles
        assert page.inner_text("main") == single_text
    finally:
        context.close()
    assert DISPUTE_TITLE in single_text


def test_briefing_file_keeps_relative_links_without_site_url(make_project: ProjectFactory,
                                                             tmp_path: Path) -> None:
    site = build(make_project(FILES), tmp_path / "site", FIRST)
    html = (site / "briefing.html").read_text(encoding="utf-8")
    index = (site / "index.html").read_text(encoding="utf-8")
    # The same links, less the stylesheet, which is inlined.
    assert re.findall(r'href="([^"]*)"', html) == [
        href for href in re.findall(r'href="([^"]*)"', index) if not href.endswith(".css")]
    assert "<style>" in html and "default-src 'none'" in html


# --- progress ---------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal_and_only_for_large_builds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("smreport.progress.REDRAW_SECONDS", 0.0)
    terminal = Terminal()
    assert list(show_progress(range(MIN_NOTES + 5), MIN_NOTES, terminal)) == list(
        range(MIN_NOTES + 5))
    drawn = terminal.getvalue()
    assert f"\rWriting the site: 1 of {MIN_NOTES + 12} pages (0%)" in drawn
    assert drawn.endswith("\r\x1b[2K")  # the line is erased at the end
    small = Terminal()
    assert list(show_progress(range(10), MIN_NOTES - 1, small)) == list(range(10))
    assert small.getvalue() == ""
    pipe = io.StringIO()
    assert list(show_progress(range(10), MIN_NOTES + 100, pipe)) == list(range(10))
    assert pipe.getvalue() == ""


def many_goals(count: int) -> dict[str, str]:
    return {f"goals/goal-{n:04d}.md": GOAL.replace("Double qualified leads", f"Goal {n}")
            for n in range(count)}


def test_a_large_build_shows_progress_on_a_terminal_and_not_in_a_pipe(
        tmp_path: Path) -> None:
    root = tmp_path / "content"
    write_files(root, {"project.yml": PROJECT_YML, **many_goals(MIN_NOTES + 10)})
    args = [sys.executable, "-m", "smreport", "build", "--content", str(root), "--today", FIRST,
            "--no-cache"]
    piped = subprocess.run([*args, "--out", str(tmp_path / "piped")], cwd=REPO,
                           capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0, piped.stderr
    assert "Writing the site" not in piped.stderr + piped.stdout
    assert "\r" not in piped.stderr + piped.stdout

    # A pseudo-terminal: the build sees a real terminal on its standard error.
    controller, terminal = pty.openpty()
    process = subprocess.Popen([*args, "--out", str(tmp_path / "tty")], cwd=REPO,
                               stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal)
    os.close(terminal)
    output = b""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    os.close(controller)
    assert process.wait(timeout=60) == 0, output.decode(errors="replace")
    text = output.decode("utf-8", errors="replace")
    assert "\rWriting the site: " in text
    assert f"of {MIN_NOTES + 10 + 12} pages" in text
    assert "Built" in text


@pytest.mark.parametrize("text", [
    "", "plain", "a & b < c > d", "\"quoted\"", "it's", "both \" and '", "tab\tline\nreturn\r",
    "&amp; already", "control\x01\x0b char\ufffe", "Привет, <мир> & \"всё\"",
])
def test_xml_escaping_is_what_the_standard_library_writes(text: str) -> None:
    """feeds escapes XML itself (xml.sax.saxutils costs every command 30 ms of imports):
    the same text and attribute values, with the characters XML cannot hold removed."""
    from xml.sax.saxutils import escape, quoteattr  # noqa: PLC0415 - the reference

    holdable = "".join(ch for ch in text if ch not in "\x01\x0b\ufffe")
    assert xml_text(text) == escape(holdable)
    assert xml_attribute(text) == quoteattr(holdable)


def test_a_goal_that_starts_later_keeps_its_feed_date_from_day_to_day(project: Path,
                                                                      tmp_path: Path) -> None:
    # It has no date of its own before its start: "today" moved its entry every day. In
    # git it counts from its first commit.
    from tests.gitrepo import git_environment  # noqa: PLC0415

    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "The log"]):
        subprocess.run(["git", "-c", "user.name=A", "-c", "user.email=a@x.example", *args],
                       cwd=project, env=git_environment(date="2026-03-02T10:00:00+03:00"),
                       check=True, capture_output=True, timeout=60)
    dates = []
    for today in (FIRST, SECOND):
        feed = feedparser.parse((build(project, tmp_path / today, today) / "feed.xml")
                                .read_bytes())
        # Its "new goal" entry, and its agenda item awaiting approval.
        entries = [e for e in feed.entries if e.id.endswith(("/goals/new-goal/added",
                                                             "/approve-goal/goal/new-goal"))]
        assert len(entries) == 2, "\n".join(e.id for e in feed.entries)
        dates.append([entry.updated for entry in entries])
    assert dates == [["2026-03-02T00:00:00Z"] * 2] * 2


def test_bidi_controls_in_a_title_cannot_reverse_the_words_around_it(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    """An override left open (and a stray isolate closer, which would end an isolate early)
    is closed where the title ends, everywhere the title is written."""
    title = "Grow \u2069\u202egnihtyreve evorppa"
    goal = GOAL.replace("title: Double qualified leads", f'title: "{title}"') \
        .replace("approved: { by: petrov, date: 2026-01-10 }\n", "")
    site = build(make_project({"goals/double-leads.md": goal}), tmp_path / "site", FIRST)
    contained = "\u2068Grow \u202egnihtyreve evorppa\u202c\u2069"
    [item] = [i for i in agenda_of(site) if i["code"] == "approve-goal"]
    assert contained in item["title"] and title not in item["title"]
    assert item["title"].endswith("\u2069” and its KPIs")
    assert contained in str(events_of(site)[0]["SUMMARY"])
    assert contained in (site / "feed.xml").read_text(encoding="utf-8")
    page = (site / "goals" / "double-leads" / "index.html").read_text(encoding="utf-8")
    assert contained in page and title not in page
