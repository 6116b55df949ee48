"""End to end: the example project in content/, built for 2026-11-26, checked page by page."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import EXAMPLE, run_build_py, run_cli

TODAY = "2026-11-26"

# (code, subject id, due, overdue, extra keys) as the SPEC's table gives them on 2026-11-26.
EXPECTED_AGENDA = [
    ("close-goal", "tasting-marathon", "2026-08-31", True, {}),
    ("kpi-off-track", "repeat-orders", "2026-11-07", True, {"kpis": ["repeat-rate"]}),
    ("decide-dispute", "maps-reviews", "2026-11-24", True, {}),
    ("approve-change", "close-tasting-marathon", "2026-11-25", True, {}),
    ("approve-change", "telegram-extend-to-march", "2026-11-27", False, {}),
    ("review-page", None, "2026-11-30", False, {"months": ["2026-11"]}),
    ("approve-goal", "winter-gift-boxes", "2026-12-01", False, {}),
]
SUBJECT_TYPES = {"approve-goal": "goal", "approve-change": "change", "close-goal": "goal",
                 "kpi-off-track": "goal", "decide-dispute": "dispute"}
CASES = {"approve-goal": 1, "approve-change": 2, "close-goal": 2, "kpi-off-track": 2,
         "review-page": 3, "decide-dispute": 4}
FOLDERS = {"goal": "goals", "change": "changes", "review": "reviews", "dispute": "disputes"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example built once for this module, from a copy (a build leaves a cache beside it)."""
    work = tmp_path_factory.mktemp("example")
    shutil.copytree(EXAMPLE, work / "content")
    result = run_build_py("--content", "content", "--out", "site", "--today", TODAY, cwd=work)
    assert result.returncode == 0, result.stdout + result.stderr
    return work / "site"


@pytest.fixture(scope="module")
def agenda(site: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((site / "agenda.json").read_text(encoding="utf-8"))
    return document


def test_the_example_checks_clean() -> None:
    result = run_cli("check", "--content", str(EXAMPLE))
    assert result.returncode == 0
    assert result.stdout.strip() == "" and "warning" not in result.stderr, (
        result.stdout + result.stderr)


def test_agenda_json_holds_exactly_the_expected_items(agenda: dict[str, Any]) -> None:
    assert set(agenda) == {"project", "today", "items"}
    assert agenda["project"] == "Northwind Tea in social media"
    assert agenda["today"] == TODAY
    items = agenda["items"]
    assert isinstance(items, list)
    assert [(i["code"], i["subject"]["id"] if i["subject"] else None, i["due"], i["overdue"])
            for i in items] == [expected[:4] for expected in EXPECTED_AGENDA]
    base_keys = {"code", "case", "subject", "due", "overdue", "title", "why", "url"}
    for item, (code, subject_id, _due, _overdue, extra) in zip(items, EXPECTED_AGENDA,
                                                               strict=True):
        assert set(item) == base_keys | set(extra), code
        for key, value in extra.items():
            assert item[key] == value
        assert item["case"] == CASES[code] and type(item["case"]) is int
        assert type(item["overdue"]) is bool
        assert isinstance(item["title"], str) and item["title"].strip()
        assert isinstance(item["why"], str) and item["why"].strip()
        if subject_id is None:
            assert item["subject"] is None and item["url"] == "reviews/"
        else:
            subject_type = SUBJECT_TYPES[code]
            assert item["subject"] == {"type": subject_type, "id": subject_id}
            assert item["url"] == f"{FOLDERS[subject_type]}/{subject_id}/"


def test_agenda_json_is_the_same_agenda_for_any_entry_point(tmp_path: Path,
                                                            agenda: dict[str, Any]) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "content")
    result = run_cli("build", "--content", "content", "--out", "out", "--today", TODAY,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "out" / "agenda.json").read_text(encoding="utf-8")) == agenda


def test_built_in_place_the_agenda_is_the_same(tmp_path: Path, agenda: dict[str, Any]) -> None:
    # In place, content/ is in the project's git repository: as committed, no approved
    # goal was edited behind the executive's back, so git adds nothing to the agenda.
    result = run_build_py("--out", str(tmp_path / "site"), "--today", TODAY)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "site" / "agenda.json").read_text(encoding="utf-8")) == agenda


def test_two_builds_of_the_example_are_byte_identical(tmp_path: Path) -> None:
    digests = []
    for name in ("first", "second"):
        shutil.copytree(EXAMPLE, tmp_path / name / "content")
        result = run_cli("build", "--content", "content", "--out", "site", "--today", TODAY,
                         cwd=tmp_path / name)
        assert result.returncode == 0, result.stderr
        site = tmp_path / name / "site"
        digests.append({path.relative_to(site).as_posix(): path.read_bytes()
                        for path in sorted(site.rglob("*")) if path.is_file()})
    assert digests[0].keys() == digests[1].keys()
    assert [name for name in digests[0] if digests[0][name] != digests[1][name]] == []


def note_ids(folder: str) -> list[str]:
    return sorted(path.stem for path in (EXAMPLE / folder).glob("*.md"))


def test_every_page_of_the_site_layout_exists(site: Path) -> None:
    for folder in FOLDERS.values():
        assert note_ids(folder), folder
    expected = [*layout_pages(), "agenda.json"]
    missing = [page for page in expected if not (site / page).is_file()]
    assert missing == []
    assert list((site / "assets").glob("*.css")), "no stylesheet in assets/"
    for asset in (EXAMPLE / "assets").rglob("*"):
        if asset.is_file():
            copied = site / "assets" / asset.relative_to(EXAMPLE / "assets")
            assert copied.read_bytes() == asset.read_bytes()


class Links(HTMLParser):
    """Every href and src of a page, and every id it defines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (tag, url)
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.links.append((tag, value))
            if name in ("id", "name") and value:
                self.ids.add(value)


def parse(page: Path) -> Links:
    parser = Links()
    parser.feed(page.read_text(encoding="utf-8"))
    parser.close()
    return parser


def pages(site: Path) -> Iterator[Path]:
    yield from sorted(site.rglob("*.html"))


def resolve(site: Path, page: Path, url: str) -> tuple[Path, str] | None:
    """The file a relative link points to and its fragment; None for other hosts."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None
    assert not parts.path.startswith("/"), f"{page}: {url} is not relative"
    if not parts.path:
        return page, parts.fragment
    target = PurePosixPath(page.relative_to(site).parent.as_posix()) / unquote(parts.path)
    resolved = (site / target).resolve()
    assert resolved == site.resolve() or site.resolve() in resolved.parents, (
        f"{page}: {url} leaves the site")
    if resolved.is_dir():
        resolved = resolved / "index.html"
    return resolved, parts.fragment


def test_every_relative_link_resolves_to_a_file_of_the_site(site: Path) -> None:
    broken: list[str] = []
    checked = 0
    for page in pages(site):
        parsed = parse(page)
        for tag, url in parsed.links:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https", "mailto", "tel"):
                # Only links may go to another host; nothing is loaded from one.
                assert tag == "a", f"{page}: <{tag}> loads {url} from another host"
                continue
            assert parts.scheme == "", f"{page}: <{tag}> has a {parts.scheme}: link"
            target = resolve(site, page, url)
            assert target is not None, f"{page}: {url}"
            path, fragment = target
            checked += 1
            if not path.is_file():
                broken.append(f"{page.relative_to(site)}: {url}")
            elif fragment and path.suffix == ".html" and fragment not in parse(path).ids:
                broken.append(f"{page.relative_to(site)}: {url} (no #{fragment})")
    assert checked > 100  # the pages really link to each other
    assert broken == []


def test_every_page_points_to_the_agenda_elsewhere(site: Path) -> None:
    """The calendar, the feed (also for a reader's autodiscovery) and the one-file briefing
    are linked from every page, so an executive can find them."""
    elsewhere = {"agenda.ics", "feed.xml", "briefing.html"}
    for page in pages(site):
        links = parse(page).links
        targets = {resolve(site, page, url)[0].relative_to(site.resolve()).as_posix()  # type: ignore[index]
                   for tag, url in links if tag in ("a", "link") and not urlsplit(url).scheme}
        assert elsewhere <= targets, page
        assert ("link", "../" * page.relative_to(site).as_posix().count("/") + "feed.xml") \
            in links, page


def test_every_page_is_reachable_from_the_index(site: Path) -> None:
    seen: set[Path] = set()
    queue = [(site / "index.html").resolve()]
    while queue:
        page = queue.pop()
        if page in seen or page.suffix != ".html" or not page.is_file():
            continue
        seen.add(page)
        for _tag, url in parse(page).links:
            target = resolve(site, page, url)
            if target is not None:
                queue.append(target[0].resolve())
    reached = {p.relative_to(site.resolve()).as_posix() for p in seen}
    assert sorted(set(layout_pages()) - reached) == []


def layout_pages() -> list[str]:
    """Every HTML page of the SPEC's site layout for the example."""
    expected = ["index.html", "team/index.html"]
    for folder in FOLDERS.values():
        expected.append(f"{folder}/index.html")
        expected.extend(f"{folder}/{note_id}/index.html" for note_id in note_ids(folder))
    return expected


class Section(HTMLParser):
    """The text and links inside the first element with class `agenda` (the agenda section)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0  # > 0 while inside the section
        self.links: list[str] = []
        self.items: list[list[str]] = []  # the text of each <li class="agenda-item">
        self.item_depth = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if self.depth == 0 and "agenda" in classes and not self.items and not self.links:
            self.depth = 1
            return
        if self.depth == 0:
            return
        if tag not in ("br", "img", "hr", "input", "meta", "link", "wbr"):
            self.depth += 1
        if "agenda-item" in classes:
            self.items.append([])
            self.item_depth = self.depth
        href = dict(attrs).get("href")
        if href is not None:
            self.links.append(href)

    def handle_endtag(self, tag: str) -> None:
        if self.depth == 0:
            return
        if self.item_depth and self.depth == self.item_depth:
            self.item_depth = 0
        self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)
            if self.item_depth:
                self.items[-1].append(data)


def test_the_index_agenda_section_holds_exactly_the_agenda_items(
        site: Path, agenda: dict[str, Any]) -> None:
    section = Section()
    section.feed((site / "index.html").read_text(encoding="utf-8"))
    items = agenda["items"]
    assert isinstance(items, list)
    assert len(section.items) == len(items)
    for shown, item in zip(section.items, items, strict=True):
        text = " ".join(" ".join(shown).split())
        assert " ".join(item["title"].split()) in text
        assert " ".join(item["why"].split()) in text
    # Each item links to its subject; nothing else in the section links to a note.
    note_links = [href for href in section.links
                  if href.rstrip("/").split("/")[0] in FOLDERS.values()]
    # Pages are linked by their index.html, so the site also works opened from disk.
    assert sorted(set(note_links)) == sorted({i["url"] + "index.html" for i in items})
    for item in items:
        assert item["url"] + "index.html" in section.links


def test_the_example_shows_each_of_the_four_cases(agenda: dict[str, Any]) -> None:
    assert {item["case"] for item in agenda["items"]} == {1, 2, 3, 4}
