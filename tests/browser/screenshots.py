"""Screenshots of the example site, to look at: `python tests/browser/screenshots.py`.

Builds the example content in English and in Russian (a copy with
`language: ru`) as of 2026-11-26, serves each on 127.0.0.1 and writes, into
tests/artifacts/: every page at 1280 and 375 px wide (`en-1280-index.png`,
`ru-375-goals-grow-telegram.png`, ...) and the briefing printed to A4 PDF
(`en-briefing.pdf`). Pass page paths to limit the pages: `index.html goals/index.html`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.browser.sitetools import (  # noqa: E402 - after the path set-up above
    ARTIFACTS,
    EXAMPLE,
    SUB_PATH,
    build_site,
    html_pages,
    launch,
    page_url,
    russian_copy,
    serve,
)

WIDTHS = (1280, 375)


def shot_name(language: str, width: int, page: str) -> str:
    stem = page.removesuffix("index.html").removesuffix(".html").strip("/")
    stem = stem.replace("/", "-") or "index"
    return f"{language}-{width}-{stem}.png"


def main(argv: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as temporary, sync_playwright() as playwright:
        folder = Path(temporary)
        sites = {"en": build_site(EXAMPLE, folder / "en" / SUB_PATH),
                 "ru": build_site(russian_copy(folder / "content-ru"), folder / "ru" / SUB_PATH)}
        browser = launch(playwright)
        for language, site in sites.items():
            pages = argv or html_pages(site)
            with serve(site.parent) as base:
                for width in WIDTHS:
                    context = browser.new_context(viewport={"width": width, "height": 800})
                    page = context.new_page()
                    for relative in pages:
                        page.goto(f"{base}{SUB_PATH}/{page_url(relative)}")
                        page.screenshot(path=str(ARTIFACTS / shot_name(language, width, relative)),
                                        full_page=True)
                    context.close()
                context = browser.new_context()
                page = context.new_page()
                page.goto(f"{base}{SUB_PATH}/")
                page.pdf(path=str(ARTIFACTS / f"{language}-briefing.pdf"), format="A4",
                         prefer_css_page_size=True)
                context.close()
        browser.close()
    print(f"wrote screenshots and PDFs to {ARTIFACTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
