"""The example site, end to end, compared byte for byte with a committed expected site.

The example content (content/) is copied to a folder outside git, so that the
site does not depend on the repository's commits, and built with the real CLI
as of 2026-11-26. tests/golden/site/ holds the expected result.

When a change to the site is intended, regenerate the expected site and
review the difference before committing it:

    SMREPORT_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py
    git diff --stat tests/golden/
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, REPO, run_cli

GOLDEN = REPO / "tests" / "golden" / "site"
TODAY = "2026-11-26"
UPDATE = os.environ.get("SMREPORT_UPDATE_GOLDEN") == "1"


def build_example(tmp: Path, name: str, *extra: str) -> Path:
    content = tmp / f"content-{name}"
    shutil.copytree(EXAMPLE, content)
    out = tmp / f"site-{name}"
    result = run_cli("build", "--content", str(content), "--out", str(out), "--today", TODAY,
                     "--no-cache", *extra, cwd=tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def files_of(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes()
            for p in sorted(site.rglob("*")) if p.is_file()}


def difference(name: str, expected: bytes, actual: bytes, limit: int = 40) -> str:
    """The first lines of a unified diff between two versions of a file."""
    try:
        lines = difflib.unified_diff(expected.decode().splitlines(), actual.decode().splitlines(),
                                     f"golden/{name}", f"built/{name}", lineterm="", n=1)
        return "\n".join(list(lines)[:limit])
    except UnicodeDecodeError:
        return f"{name}: binary files differ ({len(expected)} and {len(actual)} bytes)"


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_example(tmp_path_factory.mktemp("golden"), "one")


def test_the_example_site_matches_the_committed_golden_site(example_site: Path) -> None:
    built = files_of(example_site)
    if UPDATE:
        shutil.rmtree(GOLDEN, ignore_errors=True)
        shutil.copytree(example_site, GOLDEN)
        pytest.skip(f"rewrote {GOLDEN.relative_to(REPO)} ({len(built)} files); review and commit")
    assert GOLDEN.is_dir(), "no golden site: run SMREPORT_UPDATE_GOLDEN=1 python -m pytest " \
                            "tests/test_golden.py"
    golden = files_of(GOLDEN)
    how = ("\nIf the change is intended: SMREPORT_UPDATE_GOLDEN=1 python -m pytest "
           "tests/test_golden.py, then review `git diff tests/golden/`.")
    assert sorted(built) == sorted(golden), "the site's files differ from the golden site" + how
    changed = [name for name in golden if golden[name] != built[name]]
    report = "\n\n".join(difference(n, golden[n], built[n]) for n in changed[:3])
    assert not changed, f"{len(changed)} files differ: {changed}\n{report}{how}"


def test_two_builds_are_byte_identical_whatever_the_workers(example_site: Path,
                                                            tmp_path: Path) -> None:
    """The same content and --today give the same bytes, built in one process or several."""
    again = build_example(tmp_path, "two", "--jobs", "1")
    assert files_of(again) == files_of(example_site)
