"""Every page passes the Nu HTML Checker (vnu.jar, from the npm package vnu-jar).

All pages of the English, Russian and hostile sites, and the site's CSS, are
checked in one Java run, which takes a few seconds instead of one JVM start
per page.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.browser.conftest import need
from tests.browser.sitetools import VNU_JAR, java_command


def test_every_page_is_valid_html(sites: dict[str, Path]) -> None:
    java = java_command()
    need(None if java else "no Java to run vnu.jar (apt-get install default-jre-headless)")
    need(None if VNU_JAR.is_file() else f"{VNU_JAR} is missing (cd tests/tools && npm ci)")
    files = [path for name, site in sites.items() if name != "en-plain"  # "en" less git
             for path in sorted(site.rglob("*.html"))]
    css = sorted(sites["en"].rglob("*.css"))
    assert len(files) > 40 and css
    result = subprocess.run(
        [str(java), "-jar", str(VNU_JAR), "--format", "json", "--also-check-css",
         "--exit-zero-always", *map(str, files), *map(str, css)],
        capture_output=True, text=True, timeout=300)
    report = json.loads(result.stderr or result.stdout)
    errors = [f"{message.get('url', '?').removeprefix('file:')}:{message.get('lastLine', '?')}: "
              f"{message.get('message')}"
              for message in report["messages"]
              if message.get("type") in ("error", "non-document-error")]
    assert errors == [], "\n".join(errors[:30])
