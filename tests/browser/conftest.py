"""Fixtures of the browser tests: built sites (English, Russian, hostile) and Chromium.

Without Chromium, Playwright, Java or tests/tools/node_modules the tests skip
with the reason; with SMREPORT_REQUIRE_BROWSER=1 (as CI sets) they fail instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import hostile
from tests.browser.sitetools import (
    EXAMPLE,
    SUB_PATH,
    TODAY,
    build_site,
    launch,
    missing_browser,
    require_browser,
    russian_copy,
)
from tests.conftest import write_files


def need(reason: str | None) -> None:
    """Skip (or, when CI requires the browser tools, fail) when a tool is missing."""
    if reason is None:
        return
    if require_browser():
        pytest.fail(f"SMREPORT_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The example site in English (built in place, in git, and from a copy outside git)
    and in Russian (a copy), and the hostile project's site.

    Each is built into `<tmp>/<name>/briefing/`, so serving `<tmp>/<name>/`
    puts the site under a sub-path, as an intranet host would.
    """
    root = tmp_path_factory.mktemp("browser-sites")
    hostile_content = root / "content-hostile"
    write_files(hostile_content, hostile.FILES)
    plain = root / "content-plain"
    shutil.copytree(EXAMPLE, plain)  # outside git: no "Since your last review" section
    return {
        "en": build_site(EXAMPLE, root / "en" / SUB_PATH, TODAY),
        "en-plain": build_site(plain, root / "en-plain" / SUB_PATH, TODAY),
        "ru": build_site(russian_copy(root / "content-ru"), root / "ru" / SUB_PATH, TODAY),
        "hostile": build_site(hostile_content, root / "hostile" / SUB_PATH, hostile.TODAY),
    }


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright, shared by a module's tests.

    Module scope, not session: Playwright's sync API allows one instance per
    thread at a time, and other test modules start their own.
    """
    need(missing_browser())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()
