"""The content root: what is read, what is ignored, and what is refused, with the file named."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import time
import unicodedata
from pathlib import Path

import pytest

from smreport import load
from smreport.load import FolderListing, load_content, read_briefly, read_limited, take_inventory
from smreport.model import Problem
from tests.conftest import GOAL, ProjectFactory


def problems_at(root: Path) -> list[tuple[str, str, str]]:
    return sorted((p.path, p.severity, p.code) for p in load_content(root).problems)


def the(problems: tuple[Problem, ...] | list[Problem], code: str) -> Problem:
    found = [p for p in problems if p.code == code]
    assert len(found) == 1, [p.format_text() for p in problems]
    return found[0]


def test_a_valid_project_loads(make_project: ProjectFactory) -> None:
    loaded = load_content(make_project())
    assert loaded.problems == ()
    assert loaded.content is not None and list(loaded.content.goals) == ["double-leads"]
    assert loaded.present == frozenset({"goals/double-leads.md"})


def test_a_missing_content_root(tmp_path: Path) -> None:
    loaded = load_content(tmp_path / "nowhere")
    assert loaded.content is None
    problem = the(loaded.problems, "no-content")
    assert (problem.path, problem.line, problem.column) == (".", 1, 1)
    assert "does not exist" in problem.message and "--content" in problem.message
    assert len(loaded.problems) == 1  # not also "no project.yml"


def test_a_content_root_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("x", encoding="utf-8")
    problem = the(load_content(tmp_path / "notes.md").problems, "no-content")
    assert problem.path == "." and "is a file, not a folder" in problem.message


def test_unknown_files_are_warnings_and_hidden_ones_are_ignored(
        make_project: ProjectFactory) -> None:
    root = make_project({"notes.txt": "x", "drafts/idea.md": "x", "goals/readme.txt": "x",
                         "goals/sub/deep.md": GOAL, "goals/double-leads.md~": "backup",
                         ".git/config": "x", "_drafts/x.md": "x", "goals/.hidden.md": "x",
                         "goals/_draft.md": "x", "project.yaml": "x"})
    assert problems_at(root) == [
        ("drafts", "warning", "unknown-file"),
        ("goals/readme.txt", "warning", "unknown-file"),
        ("goals/sub", "warning", "unknown-file"),
        ("notes.txt", "warning", "unknown-file"),
        ("project.yaml", "warning", "unknown-file"),
    ]


def test_assets_are_listed_with_their_paths(make_project: ProjectFactory) -> None:
    root = make_project({"assets/img/chart.png": b"\x89PNG", "assets/_raw/x.psd": b"x",
                         "assets/.DS_Store": b"x"})
    loaded = load_content(root)
    assert loaded.problems == ()
    assert loaded.content is not None and loaded.content.assets == ("assets/img/chart.png",)


def test_symlinks_leading_outside_are_refused_not_followed(make_project: ProjectFactory,
                                                           tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text(GOAL, encoding="utf-8")
    (tmp_path / "outside").mkdir()
    root = make_project()
    os.symlink(secret, root / "goals" / "stolen.md")
    (root / "assets").mkdir()
    os.symlink("/etc/passwd", root / "assets" / "passwd.txt")
    os.symlink(tmp_path / "outside", root / "disputes")
    loaded = load_content(root)
    assert sorted((p.path, p.code) for p in loaded.problems) == [
        ("assets/passwd.txt", "symlink-outside"), ("disputes", "symlink-outside"),
        ("goals/stolen.md", "symlink-outside")]
    assert all("outside the content root" in p.message for p in loaded.problems)
    assert loaded.content is not None
    assert "stolen" not in loaded.content.goals and loaded.content.assets == ()


def test_a_linked_folder_under_assets_is_refused_or_named_never_dropped_silently(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "team.png").write_bytes(b"\x89PNG")
    root = make_project({"assets/own/logo.png": b"\x89PNG"})
    os.symlink(tmp_path / "photos", root / "assets" / "photos")  # leads outside
    os.symlink(root / "assets" / "own", root / "assets" / "again")  # stays inside
    loaded = load_content(root)
    assert sorted((p.path, p.severity, p.code) for p in loaded.problems) == [
        ("assets/again", "warning", "unknown-file"),
        ("assets/photos", "error", "symlink-outside")]
    assert loaded.content is not None and loaded.content.assets == ("assets/own/logo.png",)


SCRIPTED_SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.mark.parametrize(("name", "data"), [
    ("report.html", b"<script>alert(document.domain)</script>"),
    ("page.HTM", b"<p>hi</p>"),
    ("tool.js", b"alert(1)"),
    ("feed.xml", b"<x/>"),
    ("chart.svg", SCRIPTED_SVG),
    ("logo.svg", b'<svg><rect onload="alert(1)"/></svg>'),
    ("link.svg", b'<svg><a href="javascript:alert(1)"><text>x</text></a></svg>'),
    ("data.svg", b'<svg><image href="data:text/html,&lt;script&gt;"/></svg>'),
    ("inner.svg", b"<svg><foreignObject><iframe src=x></iframe></foreignObject></svg>"),
    ("entity.svg", b'<!DOCTYPE svg [<!ENTITY s "<script>alert(1)</script>">]><svg>&s;</svg>'),
    ("system.svg", b'<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg>&x;</svg>'),
])
def test_assets_a_browser_would_run_as_pages_are_refused(make_project: ProjectFactory,
                                                         name: str, data: bytes) -> None:
    """Opened from a note's link, they would run on the briefing's own site."""
    root = make_project({f"assets/{name}": data})
    loaded = load_content(root)
    [problem] = loaded.problems
    assert (problem.path, problem.severity, problem.code) == (
        f"assets/{name}", "error", "active-asset")
    assert "export it as PDF or PNG" in problem.message
    if name.endswith(".svg"):
        assert "it holds '" in problem.message  # says what it found
    assert loaded.content is not None and loaded.content.assets == ()


ILLUSTRATOR_SVG = b"""<?xml version="1.0" encoding="utf-8"?>
<!-- Generator: Adobe Illustrator 27.0.0, SVG Export Plug-In . SVG Version: 6.00 Build 0)  -->
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd" [
\t<!ENTITY ns_extend "http://ns.adobe.com/Extensibility/1.0/">
\t<!ENTITY ns_ai "http://ns.adobe.com/AdobeIllustrator/10.0/">
]>
<svg version="1.1" xmlns:x="&ns_extend;" xmlns:i="&ns_ai;">
<text>metadata: a javascript course</text></svg>
"""
DRAWIO_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg"><g><foreignObject><div '
              b'xmlns="http://www.w3.org/1999/xhtml">Approve the plan</div></foreignObject>'
              b'<text>Approve the plan</text></g><switch><g requiredFeatures="http://www.w3.org/'
              b'TR/SVG11/feature#Extensibility"/><a transform="translate(0,-5)" xlink:href='
              b'"https://www.drawio.com/doc/faq/svg-export-text-problems" target="_blank">'
              b"<text>Text is not SVG - cannot display</text></a></switch></svg>")


def test_plain_svg_images_and_other_files_are_assets(make_project: ProjectFactory) -> None:
    """Including what drawing tools export: Illustrator's entities for its namespaces,
    draw.io's foreignObject text and its link to a help page."""
    files = {"assets/chart.svg": b'<svg xmlns="http://www.w3.org/2000/svg" '
                                 b'xmlns:xlink="http://www.w3.org/1999/xlink"><defs><g id="a"/>'
                                 b'</defs><use xlink:href="#a"/><image href="data:image/png;'
                                 b'base64,iVBO"/><text>on time = 5</text></svg>',
             "assets/illustrator.svg": ILLUSTRATOR_SVG, "assets/drawio.svg": DRAWIO_SVG,
             "assets/report.pdf": b"%PDF-1.7", "assets/data.csv": b"a,b\n"}
    loaded = load_content(make_project(files))
    assert loaded.problems == ()
    assert loaded.content is not None and sorted(loaded.content.assets) == sorted(files)


def test_symlinks_inside_the_root_are_followed(make_project: ProjectFactory) -> None:
    root = make_project({"_shared/goal.md": GOAL})
    os.symlink(root / "_shared" / "goal.md", root / "goals" / "linked.md")
    loaded = load_content(root)
    assert loaded.problems == ()
    assert loaded.content is not None and "linked" in loaded.content.goals


def test_a_symlink_loop_and_a_dangling_link(make_project: ProjectFactory) -> None:
    root = make_project()
    os.symlink("loop.md", root / "goals" / "loop.md")
    os.symlink("missing.md", root / "goals" / "dangling.md")
    problems = load_content(root).problems
    assert sorted((p.path, p.code) for p in problems) == [
        ("goals/dangling.md", "unreadable"), ("goals/loop.md", "symlink-outside")]


def test_names_that_differ_only_by_case_clash(make_project: ProjectFactory) -> None:
    root = make_project({"goals/Leads.md": GOAL, "goals/leads.md": GOAL}, goal=False)
    problems = load_content(root).problems
    clash = the(problems, "name-clash")
    assert clash.path == "goals/leads.md"
    assert "'Leads.md'" in clash.message and "'leads.md'" in clash.message
    assert ("goals/Leads.md", "bad-id") in [(p.path, p.code) for p in problems]


def test_names_that_differ_only_by_unicode_normalisation_clash(
        make_project: ProjectFactory) -> None:
    composed = unicodedata.normalize("NFC", "café.md")
    decomposed = unicodedata.normalize("NFD", "café.md")
    assert composed != decomposed
    root = make_project({f"goals/{composed}": GOAL, f"goals/{decomposed}": GOAL}, goal=False)
    clash = the(load_content(root).problems, "name-clash")
    assert repr(composed) in clash.message and repr(decomposed) in clash.message


def test_a_named_pipe_is_refused_without_hanging(make_project: ProjectFactory) -> None:
    root = make_project({"assets/logo.png": b"png"})
    os.mkfifo(root / "goals" / "pipe.md")
    os.mkfifo(root / "assets" / "pipe.png")
    started = time.perf_counter()
    loaded = load_content(root)
    assert time.perf_counter() - started < 5
    assert sorted((p.path, p.severity, p.code) for p in loaded.problems) == [
        ("assets/pipe.png", "warning", "unknown-file"), ("goals/pipe.md", "error", "unreadable")]
    assert loaded.content is not None and loaded.content.assets == ("assets/logo.png",)


def test_file_names_that_are_not_utf8_are_reported_printably(make_project: ProjectFactory) -> None:
    root = make_project()
    with open(os.fsencode(root / "goals") + b"/caf\xe9.md", "wb") as handle:
        handle.write(GOAL.encode())
    (root / "goals" / "two\nlines.md").write_text(GOAL, encoding="utf-8")
    problems = load_content(root).problems
    assert sorted(p.path for p in problems) == ["goals/caf\\xe9.md", "goals/two\\nlines.md"]
    assert {p.code for p in problems} == {"bad-file-name"}
    for problem in problems:
        problem.format_text().encode("utf-8")  # printable: no lone surrogates, one line
        assert "\n" not in problem.format_text()


def test_a_huge_file_is_refused_without_being_read(make_project: ProjectFactory) -> None:
    root = make_project()
    huge = root / "goals" / "video.md"
    with open(huge, "wb") as handle:  # a sparse 4 GiB file: reading it would take long
        handle.truncate(4 * 1024 ** 3)
    started = time.perf_counter()
    problem = the(load_content(root).problems, "too-large")
    assert time.perf_counter() - started < 2
    assert problem.path == "goals/video.md" and "4,294,967,296 bytes" in problem.message


def test_a_huge_project_yml_is_refused(make_project: ProjectFactory) -> None:
    root = make_project()
    with open(root / "project.yml", "ab") as handle:
        handle.truncate(2 * 1024 ** 3)
    loaded = load_content(root)
    assert the(loaded.problems, "too-large").path == "project.yml"
    assert loaded.content is None


def test_the_inventory_lists_notes_by_type_in_name_order(make_project: ProjectFactory) -> None:
    root = make_project({"goals/b.md": GOAL, "goals/a.md": GOAL, "disputes/x.md": "x"})
    inventory = take_inventory(root)
    assert [(t, relative) for t, relative, _ in inventory.notes] == [
        ("dispute", "disputes/x.md"), ("goal", "goals/a.md"), ("goal", "goals/b.md"),
        ("goal", "goals/double-leads.md")]
    assert inventory.project == root / "project.yml"


def test_a_broken_note_is_present_though_not_parsed(make_project: ProjectFactory) -> None:
    loaded = load_content(make_project({"goals/broken.md": "---\ntitle: [\n---\n"}))
    assert "goals/broken.md" in loaded.present
    assert loaded.content is not None and "broken" not in loaded.content.goals


def test_assets_whose_names_clash_are_errors_naming_both(make_project: ProjectFactory) -> None:
    root = make_project({"assets/Logo.png": b"a", "assets/logo.png": b"b",
                         "assets/img/x.png": b"c", "assets/IMG/y.png": b"d"})
    loaded = load_content(root)
    clashes = sorted((p.path, p.message) for p in loaded.problems)
    assert [(path, code) for path, code in
            sorted((p.path, p.code) for p in loaded.problems)] == [
        ("assets/img", "name-clash"), ("assets/logo.png", "name-clash")]
    assert "'Logo.png' and 'logo.png'" in clashes[1][1]
    assert loaded.content is not None
    assert sorted(loaded.content.assets) == ["assets/IMG/y.png", "assets/Logo.png"]


def trust_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust a folder's listing however recently it changed (a folder's change time cannot
    be dated back); each test then waits longer than a tick of the file system's clock."""
    monkeypatch.setattr(load, "SETTLED_NS", 0)


TICK = 0.05  # seconds: longer than a tick of the kernel's file time clock (1-10 ms)


def test_an_unchanged_note_folder_is_not_listed_again(make_project: ProjectFactory,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project({"goals/second.md": GOAL})
    trust_at_once(monkeypatch)
    time.sleep(TICK)
    listings: dict[str, FolderListing] = {}
    scans: list[str] = []
    real_scan = load._scan
    monkeypatch.setattr(load, "_scan", lambda folder, relative, problems:
                        scans.append(relative) or real_scan(folder, relative, problems))
    first = take_inventory(root, listings)
    assert scans == ["goals"] and str(root / "goals") in listings
    again = take_inventory(root, listings)
    assert scans == ["goals"]  # the folder's time stamps did not change: its listing is reused
    assert again.notes == first.notes
    # Editing a note in place rewrites the file, not the folder: still the same listing,
    # and the new text is read all the same (load_content reads every listed note).
    (root / "goals" / "second.md").write_text(GOAL.replace("Double", "Triple"),
                                              encoding="utf-8")
    loaded = load_content(root, listings=listings)
    assert scans == ["goals"]
    assert loaded.content is not None
    assert loaded.content.goals["second"].title == "Triple qualified leads"
    # Adding a note changes the folder: it is listed again and the note is found.
    time.sleep(TICK)
    (root / "goals" / "third.md").write_text(GOAL, encoding="utf-8")
    third = take_inventory(root, listings)
    assert scans == ["goals", "goals"]
    assert [relative for _type, relative, _path in third.notes] == [
        "goals/double-leads.md", "goals/second.md", "goals/third.md"]
    # Deleting one is seen the same way.
    time.sleep(TICK)
    (root / "goals" / "second.md").unlink()
    fourth = take_inventory(root, listings)
    assert [relative for _type, relative, _path in fourth.notes] == [
        "goals/double-leads.md", "goals/third.md"]


def test_a_folder_changed_moments_ago_is_never_trusted(make_project: ProjectFactory,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A file added within the same tick of the file system's clock would leave the folder's
    time unchanged, so a listing made just after a change is not kept (as git does)."""
    root = make_project()
    listings: dict[str, FolderListing] = {}
    take_inventory(root, listings)
    assert str(root / "goals") not in listings  # written a moment ago by the fixture
    trust_at_once(monkeypatch)
    take_inventory(root, listings)
    assert str(root / "goals") in listings
    # A folder holding a symbolic link is always listed again: its target may change.
    time.sleep(TICK)
    (root / "goals" / "link.md").symlink_to(root / "goals" / "double-leads.md")
    listings.clear()
    take_inventory(root, listings)
    assert str(root / "goals") not in listings


@pytest.mark.parametrize("size", [0, 1, 5, 65_535, 65_536, 65_537, 300_000])
def test_read_limited_reads_all_or_one_byte_over_the_limit(tmp_path: Path, size: int) -> None:
    path = tmp_path / "note.md"
    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    path.write_bytes(data)
    assert read_limited(path) == data
    for limit in (0, 4, 5, 6, 65_536, 400_000):
        assert read_limited(path, limit) == data[:limit + 1]


def test_a_regular_file_is_told_from_the_listing_as_a_stat_call_would(tmp_path: Path) -> None:
    """`_is_regular` takes the file type from the folder listing (no stat for each note):
    the same answer as a stat for a file, folder, pipe, socket, and links to each or to
    nothing."""
    (tmp_path / "file.md").write_text("x", encoding="utf-8")
    (tmp_path / "folder.md").mkdir()
    os.mkfifo(tmp_path / "pipe.md")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "socket.md"))
        for target in ("file.md", "folder.md", "pipe.md", "socket.md", "nowhere.md"):
            os.symlink(tmp_path / target, tmp_path / f"link-to-{target}")
        answers = {}
        for entry in os.scandir(tmp_path):
            try:
                regular = stat.S_ISREG(os.stat(entry.path).st_mode)
            except OSError:
                regular = False
            answers[entry.name] = (load._is_regular(entry), regular)
    assert len(answers) == 9
    assert all(ours == by_stat for ours, by_stat in answers.values()), answers
    assert {name for name, (ours, _) in answers.items() if ours} == {"file.md",
                                                                     "link-to-file.md"}


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 70_000, 1024 * 1024, 1024 * 1024 + 5])
def test_reading_a_note_for_its_parse_gives_its_bytes_up_to_one_over_the_limit(
        size: int, tmp_path: Path) -> None:
    """read_briefly, as the parse reads a note listed unread: the file's exact bytes (line
    ends untouched), never more than one byte over the limit, like read_limited."""
    path = tmp_path / "note.md"
    data = (b"line\r\n\x00\xff" * (size // 8 + 1))[:size]
    path.write_bytes(data)
    limit = 1024 * 1024
    assert read_briefly(str(path), limit) == data[:limit + 1] == read_limited(path, limit)
    assert read_briefly(str(path), 10) == data[:11]


def test_an_asset_named_like_the_themes_stylesheet_is_an_error(make_project: ProjectFactory,
                                                               tmp_path: Path) -> None:
    """It would replace the theme's CSS on every page (a rule could hide the agenda)."""
    from tests.conftest import run_cli  # noqa: PLC0415

    root = make_project({"assets/smreport.css": ".agenda { display: none }\n",
                         "assets/own.css": "p {}\n"})
    result = run_cli("check", "--content", str(root), "--format", "json")
    assert result.returncode == 1
    assert '"code": "asset-clash"' in result.stdout and "assets/smreport.css" in result.stdout
    assert "own.css" not in result.stdout
    build = run_cli("build", "--content", str(root), "--out", str(tmp_path / "site"))
    assert build.returncode == 1 and not (tmp_path / "site").exists()


def without_root_powers() -> list[str]:
    """A command prefix that runs as a user without the power to read any file: as root,
    `setpriv` dropping the capabilities that bypass file modes; nothing otherwise."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root without setpriv reads every file whatever its mode")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


def test_unreadable_notes_and_assets_are_errors_in_check_as_in_build(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    """Before, `check` passed unreadable assets; `build` then failed blaming --out, or left
    a folder's pictures out without a word."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from tests.conftest import REPO  # noqa: PLC0415

    prefix = without_root_powers()
    root = make_project({"assets/new.png": b"png", "assets/sub/a.png": b"png",
                         "goals/locked.md": GOAL})
    (root / "assets" / "new.png").chmod(0)
    (root / "assets" / "sub").chmod(0)
    (root / "goals" / "locked.md").chmod(0)
    try:
        for verb, extra in (("check", []), ("build", ["--out", str(tmp_path / "site")])):
            result = subprocess.run(
                [*prefix, sys.executable, "-m", "smreport", verb, "--content", str(root),
                 *extra], cwd=REPO, capture_output=True, text=True, timeout=120)
            assert result.returncode == 1, (verb, result.stdout, result.stderr)
            shown = result.stdout + result.stderr
            assert "assets/new.png:1:1: error unreadable: cannot read the file" in shown
            assert "assets/sub:1:1: error unreadable: cannot read the folder" in shown
            assert "goals/locked.md:1:1: error unreadable: cannot read the file" in shown
        assert not (tmp_path / "site").exists()
    finally:
        (root / "assets" / "sub").chmod(0o755)
        (root / "assets" / "new.png").chmod(0o644)
