"""`build --watch --serve`: the preview server over real HTTP, and live reload in Chromium."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import EXAMPLE
from .test_watch import WatchProcess, edit_title, rebuilt

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fetch(url: str, timeout: float = 10) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback only
        return response.status, response.read().decode("utf-8")


class Served:
    def __init__(self, watcher: WatchProcess, url: str, content: Path, out: Path) -> None:
        self.watcher, self.url, self.content, self.out = watcher, url, content, out


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    content = tmp_path / "content"
    shutil.copytree(EXAMPLE, content)
    port = free_port()
    watcher = WatchProcess(content, tmp_path / "site", "--serve", "--port", str(port))
    watcher.wait_for(lambda line: line.startswith("Watching"))
    yield Served(watcher, f"http://127.0.0.1:{port}/", content, tmp_path / "site")
    assert watcher.stop() == 0


def test_served_pages_get_the_reload_script_but_the_built_site_does_not(served: Served) -> None:
    status, html = fetch(served.url)
    assert status == 200
    assert '<script src="/__smreport__/reload.js"></script>' in html
    assert "script-src 'self'" in html
    built = (served.out / "index.html").read_text(encoding="utf-8")
    assert "reload.js" not in built and "<script" not in built
    assert "script-src 'none'" in built
    status, script = fetch(served.url + "__smreport__/reload.js")
    assert "EventSource" in script
    status, css = fetch(served.url + "assets/smreport.css")
    assert status == 200 and "font-family" in css
    with pytest.raises(urllib.error.HTTPError) as missing:
        fetch(served.url + "no/such/page.html")
    assert missing.value.code == 404


def test_events_report_rebuilds_and_problems(served: Served) -> None:
    request = urllib.request.urlopen(served.url + "__smreport__/events", timeout=20)  # noqa: S310

    def next_state() -> str:
        while True:
            line = request.readline().decode()
            if line.startswith("data: "):
                return line[6:]

    first = next_state()
    assert '"problems": []' in first
    goal = served.content / "goals" / "grow-telegram.md"
    good = goal.read_text(encoding="utf-8")
    goal.write_text(good.replace("owner:", "owner: nobody\nx_owner:", 1), encoding="utf-8")
    broken = next_state()
    assert "goals/grow-telegram.md" in broken and "unknown-person" in broken
    goal.write_text(good, encoding="utf-8")
    fixed = next_state()
    assert '"problems": []' in fixed
    assert '"version": 2' in fixed
    request.close()


def test_port_in_use_is_a_clear_message(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(EXAMPLE, content)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        watcher = WatchProcess(content, tmp_path / "site", "--serve", "--port", str(port))
        line = watcher.wait_for(lambda text: "already in use" in text)
        assert watcher.process.wait(timeout=10) == 1
        assert f"port {port}" in line and "--port" in line


def _browser_or_skip():  # type: ignore[no-untyped-def]
    required = os.environ.get("SMREPORT_REQUIRE_BROWSER") == "1"
    if not Path(CHROMIUM).exists():
        if required:
            pytest.fail(f"{CHROMIUM} is required (SMREPORT_REQUIRE_BROWSER=1)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    return sync_playwright


def test_an_open_page_reloads_itself_and_shows_problems(served: Served) -> None:
    sync_playwright = _browser_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            # The event stream is cut by each reload: that is how it should end.
            page.on("requestfailed", lambda r: None if r.url.endswith("/__smreport__/events")
                    else errors.append(f"failed: {r.url}"))
            page.on("response", lambda r: errors.append(f"{r.status}: {r.url}")
                    if r.status >= 400 else None)
            page.goto(served.url + "goals/grow-telegram/")
            page.wait_for_function("document.readyState === 'complete'")
            time.sleep(0.3)  # let the EventSource connect before the save below
            goal = served.content / "goals" / "grow-telegram.md"
            good = goal.read_text(encoding="utf-8")
            goal.write_text(edit_title(goal, "Reloaded by itself"), encoding="utf-8")
            page.wait_for_selector("text=Reloaded by itself", timeout=15000)
            goal.write_text(good.replace("owner:", "owner: nobody\nx_owner:", 1),
                            encoding="utf-8")
            overlay = page.wait_for_selector("#smreport-problems", timeout=15000)
            assert overlay is not None and "unknown-person" in overlay.inner_text()
            goal.write_text(good, encoding="utf-8")
            page.wait_for_selector("#smreport-problems", state="detached", timeout=15000)
            assert errors == []
        finally:
            browser.close()
    served.watcher.wait_for(rebuilt)


def request(url: str, path: str, host: str | None = None, method: str = "GET"
            ) -> tuple[int, bytes]:
    """A raw request with the Host header given (urllib always sends the URL's)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=host is not None)
        if host is not None:
            connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_the_preview_answers_only_to_its_own_host_names(served: Served) -> None:
    # A page on evil.example whose name is made to resolve to 127.0.0.1 (DNS rebinding)
    # sends its own name as Host: it must not read the briefing.
    port = urllib.parse.urlsplit(served.url).port
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example",
                 f"localhost.evil.example:{port}"):
        for method in ("GET", "HEAD"):
            status, body = request(served.url, "/index.html", host, method)
            assert status == 403, (host, method)
            assert b"agenda" not in body.lower()
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST", f"[::1]:{port}"):
        status, body = request(served.url, "/index.html", host)
        assert status == 200 and b"</html>" in body, host


def test_a_nul_in_the_path_is_a_bad_request_not_a_traceback(served: Served) -> None:
    for path in ("/%00.html", "/%00", "/goals/%00/index.html"):
        for method in ("GET", "HEAD"):
            status, _body = request(served.url, path, method=method)
            assert status == 400, (path, method)
    assert fetch(served.url + "index.html")[0] == 200  # still serving
    assert not [line for line in served.watcher.drain() if "Traceback" in line]
