"""The browser tests' own rules: a missing tool skips locally and fails where CI requires it."""

from __future__ import annotations

import pytest

from tests.browser.conftest import need
from tests.browser.sitetools import page_url


def test_a_missing_tool_skips_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMREPORT_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium is missing"):
        need("chromium is missing")


def test_a_missing_tool_fails_when_the_browser_is_required(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMREPORT_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="SMREPORT_REQUIRE_BROWSER=1 but java"):
        need("java is missing")


def test_nothing_missing_is_no_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMREPORT_REQUIRE_BROWSER", "1")
    need(None)


def test_pages_are_visited_by_their_folder_address() -> None:
    assert page_url("index.html") == ""
    assert page_url("goals/grow/index.html") == "goals/grow/"
    assert page_url("briefing.html") == "briefing.html"
