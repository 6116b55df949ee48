"""The rendered site: what each page says, in which language, and that nothing in it runs.

Sites are built with the real CLI in a subprocess from small projects in tmp
folders (see conftest's `make_project`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
import pytest
from markupsafe import Markup

from smreport import render
from smreport.agenda import derive_agenda
from smreport.derive import current_goal
from smreport.i18n import translator
from smreport.model import Change, ChangeDecision, CurrentGoal, Goal, GoalPatch, Kpi
from smreport.pipeline import Options, check
from smreport.render import make_site, notes_in_order, render_note, render_site
from smreport.views import proposal_lines
from tests.browser import hostile
from tests.conftest import (
    EXAMPLE,
    GOAL,
    PROJECT_YML,
    REPO,
    ProjectFactory,
    run_cli,
    write_files,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def build(content: Path, out: Path, today: str = "2026-03-10", *extra: str) -> Path:
    result = run_cli("build", "--content", str(content), "--out", str(out), "--today", today,
                     "--no-cache", *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def text_of(html: str) -> str:
    """The page's text with tags removed and whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def page(site: Path, path: str) -> str:
    return (site / path).read_text(encoding="utf-8")


class Tags(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


RU_PROJECT = PROJECT_YML.replace("language: en", "language: ru")
PENDING_CHANGE = """\
---
title: Move the due date
goal: double-leads
proposed_by: smirnova
date: 2026-03-05
set: { due: 2026-09-30 }
---
We need more time.
"""
OPEN_DISPUTE = """\
---
title: Who answers comments
raised_by: ivanov
date: 2026-03-01
decide_by: 2026-03-08
parties:
  - { person: ivanov, position: "The agency answers within an hour" }
  - { person: kuznetsova, position: "PR approves every answer" }
---
"""


# --- the briefing ---------------------------------------------------------------------------


def test_the_briefing_lists_overdue_then_upcoming_with_due_dates_and_who_waits(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    content = make_project({"changes/move-due.md": PENDING_CHANGE,
                            "disputes/comments.md": OPEN_DISPUTE,
                            "reviews/review-2026-03.md": REVIEW_MARCH})
    site = build(content, tmp_path / "site")
    html = page(site, "index.html")
    text = text_of(html)
    # The dispute was due on 8 March: overdue by 2 days; the change is due on 12 March.
    assert text.index("Overdue") < text.index("Decide: Who answers comments") < text.index(
        "Coming up") < text.index("Decide on the change “Move the due date”")
    assert "due 8 March · 2 days overdue" in text
    assert "due 12 March · in 2 days" in text
    # Who is waiting: the parties with their units and positions; the proposer.
    assert "Pavel Ivanov , Growth Team (agency)" in text
    assert "“The agency answers within an hour”" in text
    assert "Proposed by Anna Smirnova , Marketing" in text
    # The proposal in words, with the value it replaces.
    assert "Due date: 1 July 2026 → 30 September 2026" in text
    assert "2 things need you, 1 of them overdue" in text
    assert 'href="disputes/comments/index.html"' in html
    assert 'href="changes/move-due/index.html"' in html
    assert 'href="team/index.html#person-ivanov"' in html


REVIEW_MARCH = """\
---
month: 2026-03
reviewer: petrov
date: 2026-03-09
likes: [ "Stories" ]
feedback_to: [ smirnova ]
---
Good month.
"""


def test_an_empty_agenda_says_nothing_needs_you(make_project: ProjectFactory,
                                               tmp_path: Path) -> None:
    content = make_project({"reviews/review-2026-03.md": REVIEW_MARCH})
    site = build(content, tmp_path / "site")
    assert json.loads(page(site, "agenda.json"))["items"] == []
    text = text_of(page(site, "index.html"))
    assert "Nothing needs you." in text
    assert "agenda-item" not in page(site, "index.html")


def test_the_glance_shows_goals_reviews_friction_and_what_was_handled_without_you(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    goal = GOAL.replace("approved:", "readings:\n  - { kpi: leads, date: 2026-03-01, value: 130 }"
                        "\napproved:")
    decided_within = """\
    ---
    title: Post time
    raised_by: smirnova
    date: 2026-02-01
    parties:
      - { person: smirnova, position: "Morning" }
      - { person: lebedev, position: "Evening" }
    decision: { by: smirnova, date: 2026-02-03, outcome: "Morning" }
    ---
    """
    content = make_project({"goals/double-leads.md": goal, "disputes/comments.md": OPEN_DISPUTE,
                            "disputes/post-time.md": decided_within,
                            "reviews/review-2026-02.md": REVIEW_MARCH.replace("2026-03", "2026-02")
                            .replace("date: 2026-02-09", "date: 2026-02-20")})
    site = build(content, tmp_path / "site")
    glance = text_of(page(site, "index.html").split('class="glance"', 1)[1])
    # 130 of 200 leads is 30% of the way; by 1 March 59 of 181 days had passed: 33%.
    assert "Double qualified leads" in glance
    assert "130 of 200 leads: 30% of the way, 33% expected by 1 March." in glance
    assert "on track" in glance
    assert "Last review: February 2026, by Oleg Petrov on 20 February" in glance
    assert "Next review due 31 March" in glance
    assert "Growth Team (agency) ↔ PR : 1 open dispute" in glance
    assert "Without you 1 dispute settled within a unit." in glance  # no "0 changes decided"


@pytest.mark.parametrize("language, no_review, nothing", [
    ("en", "No review yet.", "Without you Nothing yet."),
    ("ru", "Проверок ещё не было.", "Без вас Пока ничего.")])
def test_the_glance_of_a_new_project_reads_as_sentences(
        make_project: ProjectFactory, tmp_path: Path, language: str, no_review: str,
        nothing: str) -> None:
    content = make_project({"project.yml": RU_PROJECT} if language == "ru" else {})
    site = build(content, tmp_path / "site")
    glance = text_of(page(site, "index.html").split('class="glance"', 1)[1])
    assert no_review in glance and no_review + "." not in glance
    assert nothing in glance and " 0 " not in glance


def test_the_as_of_date_is_on_every_page_and_html_lang_matches(make_project: ProjectFactory,
                                                               tmp_path: Path) -> None:
    content = make_project({"project.yml": RU_PROJECT})
    site = build(content, tmp_path / "site")
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 7
    for path in pages:
        html = path.read_text(encoding="utf-8")
        if path.name == "briefing.html":
            continue  # the single-file briefing of feeds.py has its own frame
        assert html.startswith('<!DOCTYPE html>\n<html lang="ru">'), path
        assert 'на <time datetime="2026-03-10">' in html or "на 10 марта 2026" in html, path


# --- Russian ----------------------------------------------------------------------------------


def test_the_russian_site_uses_russian_dates_and_plurals(make_project: ProjectFactory,
                                                          tmp_path: Path) -> None:
    content = make_project({"project.yml": RU_PROJECT, "changes/move-due.md": PENDING_CHANGE,
                            "disputes/comments.md": OPEN_DISPUTE})
    site = build(content, tmp_path / "site", "2026-03-10")
    text = text_of(page(site, "index.html"))
    assert "3 вопроса ждут вашего решения, из них 2 просрочены" in text
    assert "срок 8 марта · просрочено на 2 дня" in text
    assert "срок 12 марта · через 2 дня" in text
    assert "Проверьте страницу в соцсетях за март 2026" in text
    assert "Срок: 1 июля 2026 → 30 сентября 2026" in text
    assert "на 10 марта 2026" in text
    assert "«The agency answers within an hour»" in text  # Russian quotation marks
    # No English word of the interface is left in the Russian pages.
    for path in site.rglob("*/index.html"):
        words = text_of(path.read_text(encoding="utf-8"))
        for english in ("Overdue", "Owner", "Decided", "Goals", "as of", "Proposed by", "None yet"):
            assert english not in words, (path, english)


# --- pages --------------------------------------------------------------------------------------


def test_the_goal_page_shows_the_current_definition_charts_and_history(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    approved_change = PENDING_CHANGE.replace(
        "set: { due: 2026-09-30 }",
        "set: { due: 2026-09-30 }\ndecision: { outcome: approved, by: petrov, date: 2026-03-07, "
        "note: \"Fine, once\" }")
    goal = GOAL.replace("approved:", "readings:\n  - { kpi: leads, date: 2026-02-01, value: 110 }"
                        "\n  - { kpi: leads, date: 2026-03-01, value: 125 }\napproved:")
    content = make_project({"goals/double-leads.md": goal, "changes/move-due.md": approved_change})
    site = build(content, tmp_path / "site")
    html = page(site, "goals/double-leads/index.html")
    text = text_of(html)
    assert "1 January 2026 – 30 September 2026" in text  # the current due, from the change
    assert "Approved by Oleg Petrov on 10 January 2026" in text
    assert "Since approval, approved changes set its due date." in text
    # History in date order, with the executive's note on the decision.
    history = text[text.index("History"):]
    assert history.index("Approved by Oleg Petrov") < history.index(
        "Anna Smirnova proposed Move the due date (due date)") < history.index(
        "Oleg Petrov approved Move the due date") < history.index("Fine, once")
    # The chart: inline SVG with a text alternative, the target labelled.
    svg = re.search(r"<svg class=\"kpi-chart\".*?</svg>", html, re.S)
    assert svg is not None
    chart = svg.group(0).replace("\xa0", " ")
    assert 'role="img"' in chart
    assert 'aria-label="Qualified leads per month: 125 of 200 leads: 25% of the way' in chart
    assert "target 200" in chart and "baseline 100" in chart
    assert chart.count("<circle") == 2 and 'class="expected"' in chart
    assert "Why this goal." in text


def test_the_reviews_page_shows_reviewed_missed_and_current_months(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    january = REVIEW_MARCH.replace("2026-03", "2026-01").replace("2026-01-09", "2026-01-20")
    content = make_project({"reviews/review-2026-01.md": january})
    site = build(content, tmp_path / "site", "2026-03-10")
    html = page(site, "reviews/index.html")
    months = re.findall(r'<li class="month ([^"]+)">\s*<span class="mark"[^>]*>(.)</span>\s*'
                        r'<span class="month-name">([^<]+)</span>', html)
    assert months == [("is-reviewed", "●", "January 2026"), ("is-missed", "○", "February 2026"),
                      ("is-missed is-current", "○", "March 2026")]
    assert "not reviewed yet · this month" in text_of(html)
    assert 'href="../reviews/review-2026-01/index.html"' in html


def test_the_disputes_page_puts_open_cross_unit_first_and_shows_the_decision(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    decided = OPEN_DISPUTE.replace("title: Who answers comments", "title: Old quarrel").replace(
        "decide_by: 2026-03-08",
        'decision: { by: petrov, date: 2026-03-02, outcome: "PR approves" }')
    within = """\
    ---
    title: Post time
    raised_by: smirnova
    date: 2026-02-01
    parties:
      - { person: smirnova, position: "Morning" }
      - { person: lebedev, position: "Evening" }
    ---
    """
    content = make_project({"disputes/comments.md": OPEN_DISPUTE, "disputes/old.md": decided,
                            "disputes/post-time.md": within})
    site = build(content, tmp_path / "site")
    text = text_of(page(site, "disputes/index.html"))
    assert text.index("Open between units: your decision") < text.index(
        "Who answers comments") < text.index("Open within one unit") < text.index(
        "Post time") < text.index("Decided") < text.index("Old quarrel")
    assert "Decided by Oleg Petrov on 2 March 2026" in text
    dispute = page(site, "disputes/comments/index.html")
    assert dispute.count('class="party"') == 2
    assert "Open: waiting for your decision, due 8 March 2026 (2 days overdue)" in text_of(
        dispute)


def test_the_team_page_marks_executives_and_external_units(make_project: ProjectFactory,
                                                           tmp_path: Path) -> None:
    site = build(make_project(), tmp_path / "site")
    html = page(site, "team/index.html")
    agency = html[html.index('id="unit-agency"'):html.index('id="unit-marketing"')]
    assert "external" in agency and "Pavel Ivanov" in agency
    board = html[html.index('id="unit-board"'):]
    assert re.search(r'id="person-petrov">.*?executive', board, re.S)
    assert "executive" not in html[html.index('id="person-smirnova"'):
                                   html.index('id="person-lebedev"')]


def test_every_subject_and_person_links_to_its_page(make_project: ProjectFactory,
                                                     tmp_path: Path) -> None:
    content = make_project({"changes/move-due.md": PENDING_CHANGE,
                            "disputes/comments.md": OPEN_DISPUTE,
                            "reviews/review-2026-03.md": REVIEW_MARCH})
    site = build(content, tmp_path / "site")
    change = page(site, "changes/move-due/index.html")
    assert 'href="../../goals/double-leads/index.html"' in change
    assert 'href="../../team/index.html#person-smirnova"' in change
    checked = 0
    for path in ("index.html", "goals/index.html", "changes/index.html", "disputes/index.html",
                 "reviews/index.html", "goals/double-leads/index.html"):
        for link in re.findall(r'<a [^>]*href="([^"]+)"', page(site, path)):
            if link.startswith(("http", "mailto:", "#")):
                continue
            target = (site / path).parent / link.split("#")[0]
            # Every page is linked by its index.html, so the site works opened from disk; the
            # footer also links the agenda's other forms.
            name = link.split("#")[0]
            assert name.endswith("index.html") or Path(name).name in (
                "agenda.ics", "feed.xml", "briefing.html"), (path, link)
            assert target.is_file(), (path, link)
            checked += 1
    assert checked > 30


# --- nothing from a note can run ----------------------------------------------------------------

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "srcset", "poster", "data"}
DANGEROUS_TAGS = {"script", "iframe", "object", "embed", "frame", "base", "form", "meta",
                  "link", "img"}


def test_hostile_notes_produce_no_executable_markup(tmp_path: Path) -> None:
    content = tmp_path / "content"
    write_files(content, hostile.FILES)
    site = build(content, tmp_path / "site", hostile.TODAY)
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 10
    for path in pages:
        html = path.read_text(encoding="utf-8")
        for tag, attributes in tags_of(html):
            where = f"{path.relative_to(site)}: <{tag} {attributes}>"
            if tag in DANGEROUS_TAGS:
                # The frame's own <meta>, <link rel=stylesheet|alternate> and content images.
                assert tag in ("meta", "link", "img"), where
                if tag == "link":
                    assert attributes.get("rel") in ("stylesheet", "icon", "alternate"), where
                if tag == "meta":
                    assert set(attributes) <= {"charset", "name", "content", "http-equiv"}, where
            for name, value in attributes.items():
                assert not name.startswith("on"), where
                assert name != "style", where
                if name in URL_ATTRIBUTES and value:
                    scheme = urlsplit(value.strip()).scheme.lower()
                    assert scheme in ("", "http", "https", "mailto"), where
                assert "javascript:" not in (value or "").lower().replace(" ", ""), where
    # The payloads are shown as text where they were written.
    goal = text_of(page(site, "goals/attack/index.html"))
    assert "&lt;script&gt;window.__pwned=1;alert(1)&lt;/script&gt;" in goal


# --- own templates ------------------------------------------------------------------------------


def test_a_templates_option_overrides_one_template(make_project: ProjectFactory,
                                                   tmp_path: Path) -> None:
    content = make_project()
    own = tmp_path / "own"
    write_files(own, {"team.html": '{% extends "base.html" %}{% block main %}<p>OWN TEAM '
                                   '{{ project.title }}</p>{% endblock %}'})
    site = build(content, tmp_path / "site", "2026-03-10", "--templates", str(own))
    assert "OWN TEAM Brand X in social media" in page(site, "team/index.html")
    assert "OWN TEAM" not in page(site, "index.html")
    assert "Needs" not in page(site, "team/index.html")
    assert (site / "assets" / "smreport.css").is_file()


def test_templates_beside_the_content_root_override_too(make_project: ProjectFactory,
                                                         tmp_path: Path) -> None:
    content = make_project()
    write_files(content.parent / "templates", {
        "partials/agenda_item.html": '<li class="agenda-item">BESIDE {{ view.item.title }}</li>',
        "static/smreport.css": "body { color: black; } /* BESIDE */\n"})
    site = build(content, tmp_path / "site")
    assert "BESIDE Review the social page for March 2026" in page(site, "index.html")
    assert "BESIDE" in page(site, "assets/smreport.css")
    assert 'class="glance"' in page(site, "index.html")  # the rest is the default theme


@pytest.mark.parametrize("escape", [
    'cycler.__init__.__globals__.os.system("touch {marker}")',
    # The sandbox alone lets these through: smreport's own objects lead to them.
    'site.environment.compile_templates("{marker}", zip=None)',
    'site.environment.loader.get_source(site.environment, "base.html")',
    'site.environment.from_string("x").render()',
])
def test_templates_from_the_project_cannot_reach_python(make_project: ProjectFactory,
                                                        tmp_path: Path, escape: str) -> None:
    """`templates/` beside the notes is anyone's who can commit: it may shape the pages,
    but not run a command or write a file (an unsandboxed Jinja2 reaches os through any
    function; the environment itself writes files)."""
    content = make_project()
    marker = tmp_path / "ran"
    write_files(content.parent / "templates", {"team.html": (
        '{% extends "base.html" %}{% block main %}'
        f'{{{{ {escape.format(marker=marker)} }}}}'
        '{% endblock %}')})
    result = run_cli("build", "--content", str(content), "--out", str(tmp_path / "site"))
    assert result.returncode == 1 and not marker.exists()
    assert "team.html" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "site").exists()


def test_the_default_theme_is_installed_with_the_package(make_project: ProjectFactory,
                                                          tmp_path: Path) -> None:
    """Build a wheel, run smreport from it (not from the checkout), and render a site."""
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                            str(wheels), str(REPO)], capture_output=True, text=True, timeout=300)
    if built.returncode != 0:
        pytest.skip(f"could not build a wheel here: {built.stderr[-500:]}")
    [wheel] = wheels.glob("smreport-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for template in ("base.html", "index.html", "goal.html", "partials/agenda_item.html",
                     "static/smreport.css"):
        assert f"smreport/templates/{template}" in names
    installed = tmp_path / "installed"
    zipfile.ZipFile(wheel).extractall(installed)
    content = make_project()
    environment = {**os.environ, "PYTHONPATH": str(installed)}
    result = subprocess.run(
        [sys.executable, "-c", "import smreport, sys; print(smreport.__file__); "
         "from smreport.cli import main; sys.exit(main())", "build", "--content", str(content),
         "--out", str(tmp_path / "site"), "--today", "2026-03-10", "--no-cache"],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(str(installed)), result.stdout
    assert 'class="agenda"' in page(tmp_path / "site", "index.html")
    assert (tmp_path / "site" / "assets" / "smreport.css").read_bytes() == (
        REPO / "templates" / "static" / "smreport.css").read_bytes()


@pytest.mark.parametrize("language", ["en", "ru"])
def test_no_page_of_the_example_shows_a_message_key(language: str, tmp_path: Path) -> None:
    """Every message the pages ask for exists: a missing one would show as its key."""
    content = tmp_path / "content"
    shutil.copytree(EXAMPLE, content)
    project = content / "project.yml"
    project.write_text(project.read_text(encoding="utf-8").replace(
        "language: en", f"language: {language}"), encoding="utf-8")
    site = build(content, tmp_path / "site", "2026-11-26")
    for path in sorted(site.rglob("*.html")):
        words = text_of(path.read_text(encoding="utf-8"))
        keys = re.findall(r"\b(?:site|agenda|field|label|history|since)\.[a-z_.-]+\b", words)
        assert keys == [], (path, keys)


def test_kpi_charts_use_only_greys_so_they_read_in_grey_scale_and_print(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    goal = GOAL.replace("approved:", "readings:\n  - { kpi: leads, date: 2026-02-01, value: 110 }"
                        "\napproved:")
    site = build(make_project({"goals/double-leads.md": goal}), tmp_path / "site")
    html = page(site, "goals/double-leads/index.html")
    charts = re.findall(r"<svg class=\"(?:kpi-chart|sparkline)\".*?</svg>", html, re.S)
    assert len(charts) == 1
    colours = set(re.findall(r'(?:fill|stroke)="(#[0-9a-f]{6})"', "".join(charts)))
    assert colours, "the charts set their colours"
    for colour in colours:
        red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
        assert max(red, green, blue) - min(red, green, blue) <= 20, colour  # near-grey
    # Styles differ by more than colour: dashes for the expected path, a solid line for readings.
    assert 'class="expected"' in charts[0] and "stroke-dasharray" in charts[0]


def test_each_note_page_renders_alone_as_in_the_whole_site(tmp_path: Path) -> None:
    """A note's page depends on the note and the shared site data only, not on render order
    (so pages can be rendered incrementally or in parallel)."""
    content = tmp_path / "content"
    shutil.copytree(EXAMPLE, content)
    today = dt.date(2026, 11, 26)
    result = check(Options(content=content, today=today, cache=False))
    assert result.ok and result.content is not None
    agenda = derive_agenda(result.content, today)
    whole = dict(render_site(make_site(result.content, agenda, today)))
    alone = make_site(result.content, agenda, today)
    notes = notes_in_order(alone.content)
    assert len(notes) >= 15
    for note in reversed(notes):
        path, html = render_note(alone, note)
        assert whole[path] == html, path


def test_the_header_and_footer_are_rendered_once_per_depth_and_section(tmp_path: Path) -> None:
    """`site.partial` caches what every page repeats: one entry per kind of page, not per
    page, and each page still marks its own section in the menu."""
    today = dt.date(2026, 11, 26)
    result = check(Options(content=EXAMPLE, today=today, cache=False))
    assert result.ok and result.content is not None
    site = make_site(result.content, derive_agenda(result.content, today), today)
    pages = dict(render_site(site))
    assert len(pages) > 25
    # briefing, team, 4 list pages, 4 kinds of note page (+ the footer at 3 depths)
    assert len(site.partials) <= 15
    current = re.compile(r'<a href="([^"]*)" aria-current="page">')
    assert current.findall(pages["goals/index.html"].decode()) == ["../goals/index.html"]
    assert current.findall(pages["index.html"].decode()) == ["index.html"]
    assert current.findall(pages["team/index.html"].decode()) == ["../team/index.html"]
    goal_page = next(p for p in pages if p.startswith("goals/") and p.count("/") == 2)
    assert current.findall(pages[goal_page].decode()) == []
    assert 'href="../../goals/index.html" class="is-section"' in pages[goal_page].decode()


def test_person_links_are_made_once_per_depth_and_read_as_made_afresh() -> None:
    """A site shares one Links per page depth for the whole build (`Site.links`), which
    keeps each person's link once made: a site's pages name the same few people tens
    of thousands of times. What it hands back is what a fresh Links makes."""
    from smreport.views import Links

    today = dt.date(2026, 11, 26)
    result = check(Options(content=EXAMPLE, today=today, cache=False))
    assert result.ok and result.content is not None
    site = make_site(result.content, derive_agenda(result.content, today), today)
    pages = dict(render_site(site))
    assert set(site.link_sets) == {"", "../", "../../"}
    assert site.links("../") is site.links("../") is not site.links("../../")
    people = [*site.content.project.people, "someone-unknown"]
    for root, shared in site.link_sets.items():
        fresh = Links(site.content, root, site.translate)
        for person in people:
            for with_unit in (False, True):
                assert shared.person(person, with_unit) == fresh.person(person, with_unit)
    made = site.links("../../").person_links
    assert len(made) <= 2 * len(people)  # one per person and form, not one per page
    goal = next(page for path, page in pages.items() if path.startswith("goals/")
                and path.count("/") == 2 and b'class="person-unit"' in page)
    assert b'href="../../team/index.html#person-' in goal


def test_the_briefing_summarises_a_long_list_of_goals(make_project: ProjectFactory,
                                                      tmp_path: Path) -> None:
    goals = {f"goals/goal-{number:02d}.md": GOAL.replace("Double qualified leads",
                                                          f"Goal number {number:02d}")
             for number in range(15)}
    site = build(make_project(goals), tmp_path / "site")
    index = page(site, "index.html")
    glance = index[index.index('id="glance-heading"'):]
    shown = re.findall(r"Goal number \d\d|Double qualified leads", glance)
    assert len(shown) == 12
    assert "4 more goals on the goals page" in glance  # 15 + the default goal, 12 shown
    assert len(re.findall(r"Goal number \d\d", page(site, "goals/index.html"))) == 15


def test_long_lists_are_paginated_and_every_note_is_listed_once(make_project: ProjectFactory,
                                                                 tmp_path: Path) -> None:
    goals = {f"goals/goal-{number:03d}.md": GOAL.replace("Double qualified leads",
                                                           f"Listed goal {number:03d}")
             for number in range(204)}  # with the default goal: 205, three pages
    site = build(make_project(goals), tmp_path / "site")
    pages = ["goals/index.html", "goals/index-2.html", "goals/index-3.html"]
    assert not (site / "goals" / "index-4.html").exists()
    listed: list[str] = []
    for number, path in enumerate(pages, 1):
        html = page(site, path)
        listed += re.findall(r"Listed goal \d{3}|Double qualified leads", html)
        assert '<nav class="pager"' in html
        assert f'<span aria-current="page">{number}</span>' in html
        for other in pages:
            if other != path:
                assert f'href="{other.rpartition("/")[2]}"' in html
    assert len(listed) == 205 and len(set(listed)) == 205
    first, last = page(site, pages[0]), page(site, pages[2])
    assert 'rel="next"' in first and 'rel="prev"' not in first
    assert 'rel="prev"' in last and 'rel="next"' not in last
    # A short list has one page and no pager.
    assert '<nav class="pager"' not in page(site, "disputes/index.html")


def test_a_kept_order_with_changed_items_put_in_place_equals_a_fresh_sort() -> None:
    """Site.reuse_order (--watch): a save changes a few items; when their sort keys did not
    change they are put in place in the last order, which must equal sorting again."""
    import dataclasses
    import random

    from smreport.render import REORDER_LIMIT, Site

    @dataclasses.dataclass(eq=False)
    class Item:
        key: int
        name: str

    site = Site.__new__(Site)
    site.page_store, site.view_memo = {}, {}
    generator = random.Random(7)
    items = [Item(generator.randrange(40), f"item {n}") for n in range(300)]
    for _round in range(200):
        edits = generator.choice([0, 1, 2, REORDER_LIMIT, REORDER_LIMIT + 1, 50])
        for index in generator.sample(range(len(items)), edits):
            same_key = generator.random() < 0.7
            items[index] = Item(items[index].key if same_key else generator.randrange(40),
                                f"edited {_round}")
        if generator.random() < 0.05:
            items.append(Item(generator.randrange(40), "new"))
        kept = site.reuse_order("order", items, lambda item: item.key)
        fresh = sorted(items, key=lambda item: item.key)
        assert len(kept) == len(fresh) and all(a is b for a, b in zip(kept, fresh, strict=True))
    # Without a page cache (one build) it is simply a sort.
    site.page_store = None
    assert site.reuse_order("order", items[:3], lambda item: -item.key) == sorted(
        items[:3], key=lambda item: -item.key)


def test_templates_call_smreport_helpers_directly_and_everything_else_as_jinja_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HelperContext calls the translator, links, site and history (and built-in methods)
    without Jinja2's look-up for pass_context marks; the pages are the bytes Jinja2's own
    context gives, and a user's template still gets the context where it asks for it (a
    macro with `caller`, a context function)."""
    import jinja2

    from smreport import render

    today = dt.date(2026, 11, 26)
    result = check(Options(content=EXAMPLE, today=today, cache=False))
    assert result.ok and result.content is not None
    agenda = derive_agenda(result.content, today)
    lookups: list[object] = []
    real_from_obj = jinja2.utils._PassArg.from_obj.__func__  # type: ignore[attr-defined]

    def from_obj(cls: type, obj: object) -> object:
        lookups.append(obj)
        return real_from_obj(cls, obj)
    monkeypatch.setattr(jinja2.utils._PassArg, "from_obj", classmethod(from_obj))
    fast = dict(render_site(make_site(result.content, agenda, today)))
    fast_lookups = len(lookups)
    monkeypatch.setattr(render.HelperContext, "call", jinja2.runtime.Context.call)
    lookups.clear()
    plain = dict(render_site(make_site(result.content, agenda, today)))
    assert fast == plain
    assert len(lookups) > 500 and fast_lookups * 20 < len(lookups), (fast_lookups, len(lookups))
    monkeypatch.undo()

    @jinja2.pass_context
    def depth_of(context: jinja2.runtime.Context, word: str) -> str:
        return f"{word} [{context['root']}]"
    own = tmp_path / "own"
    write_files(own, {"partials/site_footer.html":
                      '{% macro boxed() %}[{{ caller() }}]{% endmacro %}'
                      '<footer>{% call boxed() %}{{ t("site.goals") }}{% endcall %} '
                      '{{ depth("root") }} {{ today.isoformat() }}</footer>'})
    site = make_site(result.content, agenda, today, (own,))
    site.environment.globals["depth"] = depth_of
    pages = dict(render_site(site))
    assert "<footer>[Goals] root [] 2026-11-26</footer>" in pages["index.html"].decode()
    assert "<footer>[Goals] root [../] 2026-11-26</footer>" in pages["goals/index.html"].decode()


class _Html:
    """An object that renders itself as HTML (as Markup and Jinja2's helpers do)."""

    def __html__(self) -> str:
        return "<em>kept</em>"


PROBE = (
    "{{ text }}|{{ markup }}|{{ html }}|{{ number }}|{{ nothing }}|{{ sub }}|{{ text|e }}\n"
    "{% set block %}<i>{{ text }}</i>{% endset %}{{ block }}|{{ block|upper }}\n"
    "{% macro wrap(v) %}<b>{{ v }}</b>{% endmacro %}{{ wrap(text) }}|{{ wrap(markup) }}\n"
    "{% filter upper %}{{ text }}{% endfilter %}|{{ text ~ markup }}|{{ [text, 1] }}\n")


def test_templates_escape_their_output_as_markupsafe_does(tmp_path: Path) -> None:
    """The theme's templates escape what they write with `escape_to_text` (markupsafe's
    C escaping, without the Markup wrapper): the page is the same as stock Jinja2's, for
    text, Markup, HTML objects, numbers, blocks, macros and filters."""
    (tmp_path / "probe.html").write_text(PROBE, encoding="utf-8")
    values = {"text": "<script>alert('x') & \"y\"</script>", "markup": Markup("<br>"),
              "html": _Html(), "number": 2.5, "nothing": None,
              "sub": type("Sub", (str,), {})("<sub>")}
    ours = render.make_environment([tmp_path]).get_template("probe.html")
    stock = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True,
                               keep_trailing_newline=True).from_string(PROBE)
    page = ours.render(values)
    assert page == stock.render(values)
    assert "&lt;script&gt;alert(&#39;x&#39;) &amp; &#34;y&#34;&lt;/script&gt;" in page
    assert ours.root_render_func.__globals__["escape"] is render.escape_to_text


# --- what a proposed change changes ---------------------------------------------------

def _goal_with(kpis: list[Kpi], status: str = "active") -> CurrentGoal:
    goal = Goal(id="g", path="goals/g.md", body="", body_line=1, body_digest="",
                title="Grow", owner="smirnova", start=dt.date(2026, 1, 1),
                due=dt.date(2026, 12, 31), status=status, kpis=tuple(kpis),  # type: ignore[arg-type]
                references=(), positions={})
    return current_goal(goal, [])


def _change(patch: GoalPatch, decided: bool = False) -> Change:
    decision = ChangeDecision("approved", "petrov", dt.date(2026, 3, 2)) if decided else None
    return Change(id="c", path="changes/c.md", body="", body_line=1, body_digest="", title="t",
                  goal="g", proposed_by="smirnova", date=dt.date(2026, 3, 1), set=patch,
                  decision=decision, references=(), positions={})


SUBS = Kpi(id="subs", name="Subscribers", baseline=4000, target=12000, unit="subscribers")
POSTS_KPI = Kpi(id="posts", name="Posts", baseline=10, target=30)
REACH = Kpi(id="reach", name="Reach", baseline=1, target=2)


def test_a_pending_kpis_list_is_shown_as_what_it_changes() -> None:
    # set replaces the whole list: one new target repeated every KPI "from baseline to target".
    proposed = (dataclasses.replace(SUBS, target=15000), POSTS_KPI,
                Kpi(id="likes", name="Likes", baseline=0, target=500))
    lines = proposal_lines(_change(GoalPatch(kpis=proposed, status="active")),
                           _goal_with([SUBS, POSTS_KPI, REACH]), translator("en"))
    assert lines == ["Status: active (unchanged)",
                     "Subscribers: target 12,000\u00a0subscribers → 15,000\u00a0subscribers",
                     "New KPI. Likes: from 0 to 500",
                     "KPI dropped: Reach",
                     "1 other KPI unchanged"]
    renamed = (dataclasses.replace(POSTS_KPI, name="Posts a week", baseline=12),)
    assert proposal_lines(_change(GoalPatch(kpis=renamed)), _goal_with([POSTS_KPI]),
                          translator("ru")) == [
        "Posts a week: прежнее название «Posts», исходное значение 10 → 12"]


def test_a_decided_kpis_list_is_shown_as_it_was_decided() -> None:
    lines = proposal_lines(_change(GoalPatch(kpis=(SUBS,), status="active"), decided=True),
                           _goal_with([SUBS]), translator("en"))
    assert lines == ["Status: active",
                     "Subscribers: from 4,000\u00a0subscribers to 12,000\u00a0subscribers"]


def test_a_long_position_is_cut_on_the_briefing_and_whole_on_the_dispute_page(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    long = " ".join(["The agency answers every review within two hours, word"] * 12)
    dispute = f"""\
---
title: Who answers reviews
raised_by: ivanov
date: 2026-03-01
parties:
  - {{ person: ivanov, position: "{long}" }}
  - {{ person: kuznetsova, position: "PR approves every public answer" }}
---
"""
    site = build(make_project({"disputes/reviews.md": dispute}), tmp_path / "site")
    briefing = text_of(page(site, "index.html"))
    assert long not in briefing and "PR approves every public answer" in briefing
    shown = briefing[briefing.index("The agency answers"):].split("…", 1)[0]
    assert long.startswith(shown) and 200 < len(shown) <= 280
    assert long in text_of(page(site, "disputes/reviews/index.html"))
