"""The built site in a real browser: Debian's headless Chromium, driven by Playwright.

Every page of the example site, in English and in Russian, is loaded from a
local HTTP server under a sub-path (as an intranet host would serve it) and
from disk; any console error or failed request fails the test. The agenda
must be visible on a desktop and a phone, no page may scroll sideways at
360 px, axe-core must find no serious or critical accessibility problem, the
print version must keep the agenda and drop the navigation, and the hostile
project's pages must run no script even with the Content-Security-Policy
bypassed. Screenshots and the printed briefing go to tests/artifacts/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import need
from tests.browser.sitetools import ARTIFACTS, AXE_JS, SUB_PATH, html_pages, page_url, serve

LANGUAGES = ("en", "ru")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
NARROWEST = {"width": 360, "height": 740}


class Watch:
    """Collects everything that went wrong while a page loaded."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", lambda request: self.problems.append(
            f"request failed: {request.url} ({request.failure})"))
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning") and not is_favicon(message.location.get("url")):
            self.problems.append(f"console {message.type}: {message.text} "
                                 f"({message.location.get('url')})")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and not is_favicon(response.url):
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def take(self) -> list[str]:
        problems, self.problems = self.problems, []
        return problems


def is_favicon(url: str | None) -> bool:
    """The browser's own request for /favicon.ico at the host's root, outside the site."""
    return bool(url) and urlsplit(url).path == "/favicon.ico"


@pytest.fixture
def served(sites: dict[str, Path], request: pytest.FixtureRequest) -> Iterator[tuple[Path, str]]:
    """The site of the test's language, served; yields (site folder, its base URL)."""
    site = sites[request.param]
    with serve(site.parent) as base:
        yield site, f"{base}{SUB_PATH}/"


STYLED = ("() => getComputedStyle(document.querySelector('.site-header') || document.body)"
          ".borderBottomStyle")
BROKEN_IMAGES = ("() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0)"
                 ".map(i => i.src)")


@pytest.mark.parametrize("served", LANGUAGES, indirect=True)
def test_every_page_loads_without_errors_from_a_sub_path(browser: Any,
                                                         served: tuple[Path, str]) -> None:
    site, base = served
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    watch = Watch(page)
    problems: list[str] = []
    links: set[str] = set()
    pages = html_pages(site)
    assert len(pages) >= 20
    for relative in pages:
        page.goto(base + page_url(relative), wait_until="load")
        problems.extend(f"{relative}: {p}" for p in watch.take())
        if relative != "briefing.html":  # the single-file briefing carries its own style
            assert page.evaluate(STYLED) == "solid", f"{relative}: the stylesheet did not apply"
        problems.extend(f"{relative}: image not shown: {src}"
                        for src in page.evaluate(BROKEN_IMAGES))
        links.update(page.evaluate("() => [...document.querySelectorAll('a[href]')]"
                                   ".map(a => a.href.split('#')[0])"))
    internal = sorted(link for link in links if link.startswith(base.split(SUB_PATH)[0]))
    assert len(internal) > 20
    for link in internal:
        assert link.startswith(base), f"{link} leaves the site's folder"
        response = context.request.get(link)
        if response.status != 200:
            problems.append(f"link {link}: HTTP {response.status}")
    context.close()
    assert problems == []


def agenda_of(site: Path) -> list[dict[str, Any]]:
    items = json.loads((site / "agenda.json").read_text(encoding="utf-8"))["items"]
    assert isinstance(items, list)
    return items


@pytest.mark.parametrize("served", LANGUAGES, indirect=True)
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "375"])
def test_the_agenda_items_are_visible_on_a_desktop_and_a_phone(
        browser: Any, served: tuple[Path, str], viewport: dict[str, int],
        request: pytest.FixtureRequest) -> None:
    site, base = served
    language = request.node.callspec.params["served"]
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    watch = Watch(page)
    page.goto(base, wait_until="load")
    items = agenda_of(site)
    assert items, "the example has an agenda"
    shown = page.locator("li.agenda-item")
    assert shown.count() == len(items)
    for index, item in enumerate(items):
        entry = shown.nth(index)
        assert entry.is_visible()
        title = entry.locator(".agenda-title a")
        assert " ".join(title.inner_text().split()) == " ".join(item["title"].split())
        box = entry.bounding_box()
        assert box is not None and box["x"] >= 0
        assert box["x"] + box["width"] <= viewport["width"], f"item {index} sticks out"
    assert page.locator(".as-of").is_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"test-{language}-{viewport['width']}-index.png"),
                    full_page=True)
    page.goto(base + "goals/grow-telegram/", wait_until="load")
    page.screenshot(path=str(ARTIFACTS / f"test-{language}-{viewport['width']}-goal.png"),
                    full_page=True)
    assert watch.take() == []
    context.close()


WIDEST = """() => {
  const limit = document.documentElement.clientWidth;
  return [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > limit + 0.5)
    .slice(0, 5)
    .map(e => e.tagName.toLowerCase() + (e.className ? '.' + String(e.className) : ''));
}"""


@pytest.mark.parametrize("served", LANGUAGES, indirect=True)
def test_no_page_scrolls_sideways_at_360_px(browser: Any, served: tuple[Path, str]) -> None:
    site, base = served
    context = browser.new_context(viewport=NARROWEST)
    page = context.new_page()
    wide: list[str] = []
    for relative in html_pages(site):
        page.goto(base + page_url(relative), wait_until="load")
        scroll = page.evaluate("() => [document.documentElement.scrollWidth, "
                               "document.documentElement.clientWidth]")
        if scroll[0] > scroll[1]:
            wide.append(f"{relative}: {scroll[0]} px wide in {scroll[1]} px: "
                        f"{page.evaluate(WIDEST)}")
    context.close()
    assert wide == []


AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""


def one_per_template(pages: list[str]) -> list[str]:
    """The top-level pages, and the first page of each note folder."""
    chosen: list[str] = []
    folders: set[str] = set()
    for relative in pages:
        parts = relative.split("/")
        if len(parts) < 3:
            chosen.append(relative)
        elif parts[0] not in folders:
            folders.add(parts[0])
            chosen.append(relative)
    return chosen


@pytest.mark.parametrize("served", LANGUAGES, indirect=True)
def test_axe_finds_no_serious_accessibility_problem(browser: Any, served: tuple[Path, str],
                                                    request: pytest.FixtureRequest) -> None:
    """Every English page; in Russian, which shares the templates, one page of each kind.

    Injecting axe costs about a second a page, so this keeps the test under a minute.
    """
    need(None if AXE_JS.is_file() else
         f"{AXE_JS} is missing (cd tests/tools && npm ci)")
    site, base = served
    pages = html_pages(site)
    if request.node.callspec.params["served"] != "en":
        pages = one_per_template(pages)
    # The pages' CSP forbids every script; axe is the test's own, so the test lets it in.
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    found: list[str] = []
    for relative in pages:
        page.goto(base + page_url(relative), wait_until="load")
        page.add_script_tag(path=str(AXE_JS))
        for violation in page.evaluate(AXE_RUN):
            if violation["impact"] in ("serious", "critical"):
                found.append(f"{relative}: {violation['impact']} {violation['id']}: "
                             f"{violation['help']} at {violation['nodes']}")
    context.close()
    assert found == []


def test_pages_work_opened_from_disk(browser: Any, sites: dict[str, Path]) -> None:
    """file:// pages load their stylesheet and images under the CSP, and links find files."""
    site = sites["en"]
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    watch = Watch(page)
    problems: list[str] = []
    image_pages = [p for p in html_pages(site) if "<img" in (site / p).read_text("utf-8")]
    assert image_pages, "the example shows an image from content/assets/"
    for relative in ["index.html", "goals/grow-telegram/index.html", *image_pages]:
        page.goto((site / relative).as_uri(), wait_until="load")
        problems.extend(f"{relative}: {p}" for p in watch.take())
        assert page.evaluate(STYLED) == "solid", f"{relative}: no stylesheet from disk"
        problems.extend(f"{relative}: image not shown: {src}"
                        for src in page.evaluate(BROKEN_IMAGES))
        for link in page.evaluate("() => [...document.querySelectorAll('a[href]')]"
                                  ".map(a => a.href.split('#')[0])"):
            if link.startswith("file://"):
                target = Path(link.removeprefix("file://"))
                if not (target.is_file() or (target / "index.html").is_file()):
                    problems.append(f"{relative}: link to a missing file {link}")
    context.close()
    assert problems == []


HOLES = """() => ({
  pwned: window.__pwned !== undefined,
  scripts: document.scripts.length,
  handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes]
    .filter(a => a.name.startsWith('on')).map(a => e.tagName + ' ' + a.name)).slice(0, 5),
  schemes: [...document.querySelectorAll('[href], [src]')]
    .map(e => e.getAttribute('href') || e.getAttribute('src'))
    .filter(u => /^\\s*(javascript|data|vbscript):/i.test(u)),
})"""


def test_hostile_notes_run_no_script_even_without_the_csp(browser: Any,
                                                          sites: dict[str, Path]) -> None:
    site = sites["hostile"]
    # With the CSP bypassed, only the escaping stands between a note and the reader.
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    holes: list[str] = []
    with serve(site.parent) as base:
        for relative in html_pages(site):
            page.goto(f"{base}{SUB_PATH}/{page_url(relative)}", wait_until="load")
            page.mouse.move(10, 10)
            page.mouse.move(400, 300)
            found = page.evaluate(HOLES)
            if found["pwned"] or found["scripts"] or found["handlers"] or found["schemes"]:
                holes.append(f"{relative}: {found}")
    context.close()
    assert dialogs == []
    assert holes == []


def test_the_briefing_prints_on_two_a4_pages_without_navigation(
        browser: Any, sites: dict[str, Path]) -> None:
    site = sites["en-plain"]
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    with serve(site.parent) as base:
        page.goto(f"{base}{SUB_PATH}/", wait_until="load")
        page.emulate_media(media="print")
        assert page.locator(".site-nav").is_hidden()
        assert page.locator(".site-footer").is_hidden()
        assert page.locator(".as-of").is_visible()
        items = page.locator("li.agenda-item")
        assert items.count() == len(agenda_of(site))
        for index in range(items.count()):
            assert items.nth(index).is_visible()
            assert items.nth(index).evaluate("e => getComputedStyle(e).breakInside") == "avoid"
        assert page.locator("svg.sparkline").count() > 0  # the numbers stay on paper
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pdf = page.pdf(path=str(ARTIFACTS / "test-en-briefing.pdf"),
                       prefer_css_page_size=True)
    context.close()
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert 1 <= pages <= 2, f"the briefing prints on {pages} A4 pages"


STRESS_GOAL = """\
---
title: Revenue and reach, measured in long units
owner: frolova
start: 2026-01-01
due: 2026-12-31
kpis:
  - { id: revenue, name: Revenue, unit: "roubles (incl. VAT)",
      baseline: 1000000, target: 12345678.9 }
  - { id: views, name: Views, unit: "просмотров на публикацию", baseline: 1500, target: 9000 }
  - { id: leads, name: Leads, unit: "qualified leads from social networks per month",
      baseline: 1, target: 20 }
readings:
  - { kpi: revenue, date: 2026-11-20, value: 9934722.1 }
  - { kpi: views, date: 2026-11-20, value: 7406.3 }
  - { kpi: leads, date: 2026-11-20, value: 12.5 }
approved: { by: volkov, date: 2026-01-05 }
---
Why.
"""

CHART_TEXT_OUTSIDE = """() => [...document.querySelectorAll('svg.kpi-chart')].flatMap(svg => {
  const box = svg.viewBox.baseVal;
  return [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBBox()])
    .filter(([_, b]) => b.x < box.x - 0.5 || b.x + b.width > box.x + box.width + 0.5)
    .map(([text, b]) => `${text}: ${b.x.toFixed(1)} to ${(b.x + b.width).toFixed(1)}`);
})"""


def test_every_chart_label_is_drawn_inside_its_chart(browser: Any, sites: dict[str, Path],
                                                     tmp_path: Path) -> None:
    """Measured by Chromium (getBBox), on every goal page of the example in both languages
    and of goals with large values and long units read near the due date, whose label
    once ran off the chart's left edge."""
    from tests.browser.sitetools import EXAMPLE, build_site  # noqa: PLC0415
    from tests.conftest import write_files  # noqa: PLC0415

    content = tmp_path / "content"
    write_files(content, {"project.yml": (EXAMPLE / "project.yml").read_text("utf-8"),
                          "goals/long-units.md": STRESS_GOAL})
    stress = build_site(content, tmp_path / "site")
    page = browser.new_context(viewport=DESKTOP).new_page()
    outside: list[str] = []
    checked = 0
    for site in (sites["en"], sites["ru"], stress):
        for goal_page in sorted(site.glob("goals/*/index.html")):
            page.goto(goal_page.as_uri(), wait_until="load")
            checked += page.evaluate("() => document.querySelectorAll('svg.kpi-chart').length")
            outside.extend(f"{goal_page.relative_to(site.parent)}: {label}"
                           for label in page.evaluate(CHART_TEXT_OUTSIDE))
    page.context.close()
    assert checked >= 10
    assert outside == []


WIDE_NOTE = """---
title: Repeat orders by channel
owner: morozova
start: 2026-01-01
due: 2026-06-30
kpis:
  - { id: repeat, name: Repeat orders, unit: "%", baseline: 2, target: 4 }
---
| Quarter | Repeat within 60 days | Channel of the first order | Channel of the repeat |
|---|---|---|---|
| Q1 | 2.8 % | Telegram channel | Website |

```
a code line far wider than a phone's screen, so that it has to scroll sideways = 1
```
"""
# The brightness of a pixel column near each edge of the element's screenshot: the median
# of its middle rows, mostly background between the letters. Decoded by the browser
# itself, so no image library is needed.
EDGE_BRIGHTNESS = """async ([png, inset]) => {
  const image = await (await fetch(`data:image/png;base64,${png}`)).blob();
  const bitmap = await createImageBitmap(image);
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d');
  context.drawImage(bitmap, 0, 0);
  const top = Math.floor(bitmap.height * 0.2), rows = Math.ceil(bitmap.height * 0.6);
  const column = x => {
    const data = context.getImageData(x, top, 1, rows).data, values = [];
    for (let i = 0; i < data.length; i += 4) values.push((data[i] + data[i + 1] + data[i + 2]) / 3);
    return values.sort((a, b) => a - b)[values.length >> 1];
  };
  return [column(inset), column(bitmap.width - 1 - inset)];
}"""


def test_a_table_or_code_wider_than_a_phone_shows_which_side_scrolls(
        browser: Any, tmp_path: Path) -> None:
    """A shadow on the side with more to see: on the right before scrolling, on the left
    at the end, and none where nothing overflows (the same note on a desktop)."""
    import base64  # noqa: PLC0415

    from tests.browser.sitetools import EXAMPLE, build_site  # noqa: PLC0415
    from tests.conftest import write_files  # noqa: PLC0415

    content = tmp_path / "content"
    write_files(content, {"project.yml": (EXAMPLE / "project.yml").read_text("utf-8"),
                          "goals/repeat-orders.md": WIDE_NOTE})
    site = build_site(content, tmp_path / "site")

    def edges(page: Any, selector: str, scroll: str) -> tuple[float, float]:
        element = page.locator(selector)
        element.evaluate(f"e => {{ e.scrollLeft = {scroll}; }}")
        png = base64.b64encode(element.screenshot()).decode()
        left, right = blank.evaluate(EDGE_BRIGHTNESS, [png, 2])  # the site's CSP forbids data:
        return left, right

    blank = browser.new_context().new_page()
    for viewport in (NARROWEST, DESKTOP):
        page = browser.new_context(viewport=viewport).new_page()
        page.goto((site / "goals" / "repeat-orders" / "index.html").as_uri(), wait_until="load")
        for selector in (".note-body table", ".note-body pre"):
            overflows = page.locator(selector).evaluate("e => e.scrollWidth > e.clientWidth")
            assert overflows is (viewport is NARROWEST), (selector, viewport)
            start_left, start_right = edges(page, selector, "0")
            end_left, end_right = edges(page, selector, "e.scrollWidth")
            if overflows:
                assert start_right < start_left - 8, (selector, start_left, start_right)
                assert end_left < end_right - 8, (selector, end_left, end_right)
            else:
                assert abs(start_left - start_right) < 2, (selector, start_left, start_right)
        page.context.close()
    blank.context.close()
