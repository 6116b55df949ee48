"""Helpers shared by the browser tests and the screenshot script.

They build real sites with the real CLI, serve them on 127.0.0.1 from a
sub-path, and start Debian's Chromium through Playwright (never a browser
downloaded by `playwright install`).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "content"
TOOLS = REPO / "tests" / "tools"
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
AXE_JS = TOOLS / "node_modules" / "axe-core" / "axe.min.js"
VNU_JAR = TOOLS / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
TODAY = "2026-11-26"
SUB_PATH = "briefing"  # the site is served from http://127.0.0.1:PORT/briefing/
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def build_site(content: Path, out: Path, today: str = TODAY) -> Path:
    """Build `content` into `out` with the real CLI; fail loudly if the build fails."""
    result = subprocess.run(
        [sys.executable, "-m", "smreport", "build", "--content", str(content), "--out", str(out),
         "--today", today, "--no-cache"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"build of {content} failed:\n{result.stdout}\n{result.stderr}")
    return out


def russian_copy(target: Path) -> Path:
    """A copy of the example content with `language: ru`, in `target`."""
    shutil.copytree(EXAMPLE, target)
    project = target / "project.yml"
    text = project.read_text(encoding="utf-8")
    if "language: en" not in text:
        raise RuntimeError("the example project.yml no longer says 'language: en'")
    project.write_text(text.replace("language: en", "language: ru", 1), encoding="utf-8")
    return target


def html_pages(site: Path) -> list[str]:
    """Every HTML page of a built site, as paths relative to its root, sorted."""
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))


def page_url(relative: str) -> str:
    """The address of a page relative to the served site, as a reader would follow it."""
    return relative.removesuffix("index.html")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base signature
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 in a thread; yields the base URL ending with '/'."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is missing (pip install -e '.[test]')"
    return None


def java_command() -> str | None:
    """The Java that runs vnu.jar: the system's, or the one vnu-jar's installer fetched."""
    found = shutil.which("java")
    if found:
        return found
    cached = list((TOOLS / "node_modules" / ".cache" / "vnu-jar").rglob("bin/java"))
    return str(cached[0]) if cached else None


def launch(playwright: Any) -> Any:
    """Debian's Chromium, headless, with nothing that talks to the network by itself."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                      headless=True)


def require_browser() -> bool:
    """CI sets SMREPORT_REQUIRE_BROWSER=1: a missing tool is then a failure, not a skip."""
    return os.environ.get("SMREPORT_REQUIRE_BROWSER") == "1"
