"""The spare: the site a build replaced, kept in the cache and brought up to date by the
next build instead of writing every page anew (publish.Spare)."""

from __future__ import annotations

import datetime as dt
import errno
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from smreport import engine
from smreport import publish as publishing
from smreport.pipeline import Options, build
from smreport.publish import PublishError

from .conftest import REPO, TODAY, append, copy_example, plain_build, record_calls, tree

sys.path.insert(0, str(REPO / "benchmarks"))
from generate import generate  # noqa: E402

LOCK = ".site.smreport-lock"  # beside the output folder, see publish.output_lock




def folders(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_dir()}




def cached_build(content: Path, out: Path, cache: Path, jobs: int = 1) -> None:
    result = build(Options(content=content, out=out, today=TODAY, jobs=jobs, cache_dir=cache))
    assert result.ok, result.problems
    assert not result.unchanged


def spare_of(cache: Path) -> Path:
    [spare] = [p for p in cache.glob("spare-*") if p.is_dir()]
    assert (cache / f"{spare.name}.pickle").is_file()  # with its record
    return spare






def built_with_a_spare(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The example project built twice with the cache, a note edited between: its content,
    site and cache, the cache holding the first build's site as the spare."""
    content = copy_example(tmp_path)
    out, cache = tmp_path / "site", tmp_path / "cache"
    cached_build(content, out, cache)
    append(content / "goals" / "grow-telegram.md", "\nAn edit.\n")
    cached_build(content, out, cache)
    spare_of(cache)
    return content, out, cache


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Above the threshold at which page workers start: they write into the spare too.
    content: Path = generate(tmp_path_factory.mktemp("gen") / "content",
                             engine.PARALLEL_THRESHOLD + 60)
    return content


def test_a_rebuild_writes_into_the_spare_only_the_pages_that_changed(
        generated: Path, tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(generated, content)
    out, cache = tmp_path / "site", tmp_path / "cache"
    cached_build(content, out, cache, jobs=2)
    assert not list(cache.glob("spare-*"))  # nothing was replaced yet
    first = tree(out)
    [first_note, second_note] = sorted((content / "changes").glob("*.md"))[:2]
    append(first_note, "\nA first edit.\n")
    cached_build(content, out, cache, jobs=2)
    spare = spare_of(cache)
    assert tree(spare) == first
    before = {path: (digest, (spare / path).stat().st_mtime_ns)
              for path, digest in tree(spare).items()}

    # An edit that keeps the page's size: only its digest tells the page changed.
    text = second_note.read_text(encoding="utf-8")
    last = text.rstrip()[-1]
    second_note.write_text(text.rstrip()[:-1] + ("x" if last != "x" else "y") + "\n",
                           encoding="utf-8")
    cached_build(content, out, cache, jobs=2)
    assert tree(out) == plain_build(content, tmp_path / "plain")
    after = {path: (out / path).stat().st_mtime_ns for path in tree(out)}
    same = [path for path, (digest, _) in before.items() if tree(out).get(path) == digest]
    changed = {f"changes/{first_note.stem}/index.html", f"changes/{second_note.stem}/index.html"}
    assert changed <= before.keys() - set(same)  # both edits show (the spare had neither)
    assert len(same) > engine.PARALLEL_THRESHOLD
    # Pages equal to the spare's were not written again, by the workers or this process;
    # the rest were. (The stylesheet is copied every time, the marker written.)
    rewritten = [p for p in same if after[p] != before[p][1]]
    assert [p for p in rewritten if not p.startswith("assets/") and p != publishing.MARKER] == []
    assert all(after[p] != before[p][1] for p in changed)
    # And the spare is now the second build's site.
    assert tree(spare_of(cache)).keys() == before.keys()


def test_what_is_not_as_recorded_in_the_spare_is_removed_not_trusted(tmp_path: Path) -> None:
    content = copy_example(tmp_path)
    out, cache = tmp_path / "site", tmp_path / "cache"
    goal = content / "goals" / "grow-telegram.md"
    original = goal.read_text(encoding="utf-8")
    cached_build(content, out, cache)
    append(goal, "\nAn edit.\n")
    cached_build(content, out, cache)
    spare = spare_of(cache)  # the first build's site
    outside = tmp_path / "outside"
    outside.mkdir()
    # A page overwritten with bytes of the same size; a stray file and folder; a page
    # replaced by a link to a file outside; a page hard-linked from a file outside.
    briefing = spare / "index.html"
    briefing.write_bytes(b"x" * briefing.stat().st_size)
    (spare / "stray.html").write_text("stray", encoding="utf-8")
    (spare / "goals" / "stray").mkdir()
    (spare / "goals" / "stray" / "index.html").write_text("stray", encoding="utf-8")
    (outside / "target.html").write_text("outside, linked to", encoding="utf-8")
    team = spare / "team" / "index.html"
    team.unlink()
    team.symlink_to(outside / "target.html")
    agenda = spare / "agenda.json"
    hard = outside / "hard.json"
    os.link(agenda, hard)
    hard_bytes = hard.read_bytes()

    # The goal's text as in the spare, but for one letter: its page keeps the size it has
    # there, only its digest tells it changed (rendered in this process: one job).
    goal.write_text(original.replace("Telegram", "Telegran", 1), encoding="utf-8")
    assert goal.read_text(encoding="utf-8") != original
    cached_build(content, out, cache)
    assert tree(out) == plain_build(content, tmp_path / "plain")
    assert "goals/stray" not in folders(out)
    assert not (out / "team" / "index.html").is_symlink()
    assert (outside / "target.html").read_text(encoding="utf-8") == "outside, linked to"
    assert hard.read_bytes() == hard_bytes  # not written through the link
    assert (out / "agenda.json").stat().st_ino != hard.stat().st_ino  # nor kept linked


def test_a_deleted_note_and_an_asset_that_became_a_folder(tmp_path: Path) -> None:
    content = copy_example(tmp_path)
    out, cache = tmp_path / "site", tmp_path / "cache"
    (content / "assets" / "brand").write_bytes(b"a file first")
    cached_build(content, out, cache)
    append(content / "goals" / "grow-telegram.md", "\nAn edit.\n")
    cached_build(content, out, cache)
    assert (spare_of(cache) / "assets" / "brand").is_file()
    assert (spare_of(cache) / "disputes" / "maps-reviews" / "index.html").is_file()

    (content / "disputes" / "maps-reviews.md").unlink()
    (content / "assets" / "brand").unlink()
    (content / "assets" / "brand").mkdir()
    (content / "assets" / "brand" / "logo.txt").write_bytes(b"then a folder")
    cached_build(content, out, cache)
    reference = plain_build(content, tmp_path / "plain")
    assert tree(out) == reference
    assert folders(out) == folders(tmp_path / "plain")  # no empty folder left behind
    # The other way round: the folder becomes a file again, and the build after next
    # writes it into the spare that has the folder.
    shutil.rmtree(content / "assets" / "brand")
    (content / "assets" / "brand").write_bytes(b"a file again")
    cached_build(content, out, cache)
    assert tree(out) == plain_build(content, tmp_path / "plain-2")
    assert (spare_of(cache) / "assets" / "brand").is_dir()
    append(content / "goals" / "grow-telegram.md", "\nAnd another.\n")
    cached_build(content, out, cache)
    assert tree(out) == plain_build(content, tmp_path / "plain-3")


def test_a_failed_build_removes_the_spare_and_leaves_the_site(tmp_path: Path) -> None:
    content, out, cache = built_with_a_spare(tmp_path)
    published = tree(out)
    templates = tmp_path / "theme"  # not "templates", which a build beside content uses
    templates.mkdir()
    (templates / "team.html").write_text("{% if %}broken", encoding="utf-8")
    with pytest.raises(PublishError, match="team.html:1: template error"):
        build(Options(content=content, out=out, today=TODAY, jobs=1, cache_dir=cache,
                      template_dirs=(templates,)))
    assert tree(out) == published
    assert not list(cache.glob("spare-*"))  # written into, then dropped with the failure
    assert sorted(os.listdir(tmp_path)) == [LOCK, "cache", "content", "site", "theme"]
    append(content / "goals" / "grow-telegram.md", "\nOne more.\n")
    cached_build(content, out, cache)
    assert tree(out) == plain_build(content, tmp_path / "plain")
    assert tree(spare_of(cache)) == published  # the next build's spare: the site it replaced


def test_without_the_cache_or_across_file_systems_the_old_site_is_deleted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = copy_example(tmp_path)
    out = tmp_path / "site"
    for _ in range(2):
        assert build(Options(content=content, out=out, today=TODAY, cache=False)).ok
    assert sorted(os.listdir(tmp_path)) == [LOCK, "content", "site"]

    cache = tmp_path / "cache"
    rename = os.rename

    def other_device(source: object, target: object) -> None:
        if str(cache) in (str(source) + str(target)):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        rename(source, target)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "rename", other_device)  # as publish calls it
    for edit in ("\nAn edit.\n", "\nAnother.\n", "\nA third.\n"):
        append(content / "goals" / "grow-telegram.md", edit)
        cached_build(content, out, cache)
        assert not list(cache.glob("spare-*"))
        assert sorted(os.listdir(tmp_path)) == [LOCK, "cache", "content", "site"]
    assert tree(out) == plain_build(content, tmp_path / "plain")


def test_a_spare_that_cannot_be_checked_or_recorded_costs_only_itself(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The new site is published whatever happens to the spare: one that cannot be read is
    dropped before the build writes, and one whose record cannot be written after."""
    content, out, cache = built_with_a_spare(tmp_path)

    def unreadable(folder: Path, record: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(folder))

    with monkeypatch.context() as patch:
        patch.setattr(publishing, "_verify", unreadable)
        append(content / "goals" / "grow-telegram.md", "\nAnother.\n")
        cached_build(content, out, cache)
    assert tree(out) == plain_build(content, tmp_path / "reference" / "1")
    assert sorted(os.listdir(tmp_path)) == [LOCK, "cache", "content", "reference", "site"]
    spare_of(cache)  # the site it replaced is kept as usual

    def disk_full(path: Path, record: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    with monkeypatch.context() as patch:
        patch.setattr(publishing, "write_pickle", disk_full)  # for the spare's record
        append(content / "goals" / "grow-telegram.md", "\nA third.\n")
        cached_build(content, out, cache)
    assert tree(out) == plain_build(content, tmp_path / "reference" / "2")
    assert not list(cache.glob("spare-*"))
    assert sorted(os.listdir(tmp_path)) == [LOCK, "cache", "content", "reference", "site"]
    append(content / "goals" / "grow-telegram.md", "\nA fourth.\n")
    cached_build(content, out, cache)
    spare_of(cache)  # and the next build keeps one again


def test_a_build_reads_its_stamp_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stamp says both whether the build can be skipped and what the site it replaces
    holds (the spare's record): one read of its file serves both."""
    content, out, cache = built_with_a_spare(tmp_path)
    [stamp] = cache.glob("stamp-*.pickle")
    opened: list[str] = []
    read = engine.read_pickle

    def spy(file: Path) -> object:
        opened.append(str(file))
        return read(file)

    monkeypatch.setattr(engine, "read_pickle", spy)
    append(content / "goals" / "grow-telegram.md", "\nAnother.\n")
    cached_build(content, out, cache)
    assert opened.count(str(stamp)) == 1
    assert tree(out) == plain_build(content, tmp_path / "plain")


class Rendered:
    """Counts, in this process, the pages rendered (not taken from a spare), and the pages
    the page workers were given to render."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from smreport import render as rendering  # noqa: PLC0415

        self.pages: list[str] = []
        self.planned: list[int] = []
        real_page, real_groups = rendering.Site.page, engine._page_groups

        def page(site: Any, template: str, path: str, **context: object) -> tuple[str, bytes]:
            self.pages.append(path)
            return real_page(site, template, path, **context)

        def page_groups(*args: Any) -> Any:
            missing, groups = real_groups(*args)
            self.planned.append(len(missing))
            return missing, groups
        monkeypatch.setattr(rendering.Site, "page", page)
        monkeypatch.setattr(engine, "_page_groups", page_groups)


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_build_after_next_takes_the_unchanged_pages_from_its_spare(
        jobs: int, generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build after one into the same folder records its pages' keys with the stamp; when
    its site comes back as a spare, the pages whose keys are the same are taken as they
    are: only what an edit changed is rendered (and the briefing, feeds and team page,
    which have no key)."""
    content = tmp_path / "content"
    shutil.copytree(generated, content)
    out, cache = tmp_path / "site", tmp_path / "cache"
    # Enough notes for the page workers (with two jobs).
    assert len(list(content.glob("*/*.md"))) >= engine.PARALLEL_THRESHOLD
    reviews = sorted((content / "reviews").glob("*.md"))
    for number in range(3):  # the first build, the first with keys, the first spare
        append(reviews[number], f"\nEdit {number}.\n")
        cached_build(content, out, cache, jobs)
    rendered = Rendered(monkeypatch)
    append(reviews[3], "\nThe edit that counts.\n")
    cached_build(content, out, cache, jobs)
    monkeypatch.undo()
    unkeyed = {"index.html", "briefing.html", "team/index.html"}
    if jobs == 1:
        # The reviews edited since the spare's site was built (the last build's and this
        # one's) and the review list pages that show them; every other page is the spare's.
        assert set(rendered.pages) - unkeyed == {
            f"reviews/{path.stem}/index.html" for path in reviews[2:4]} | {
            path for path in rendered.pages if path.startswith("reviews/index")}
        assert len(rendered.pages) < 12
    else:
        # The page workers are given only those pages to render.
        assert rendered.planned and max(rendered.planned) < 10
    assert tree(out) == plain_build(content, tmp_path / "plain")


@pytest.mark.parametrize("change", ["template", "today", "since", "project", "version",
                                    "markdown"])
def test_a_spare_page_is_taken_only_under_the_same_build_inputs(
        change: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = copy_example(tmp_path)
    out, cache = tmp_path / "site", tmp_path / "cache"
    templates = tmp_path / "templates"  # beside the content: the user's overrides
    templates.mkdir()
    goal = content / "goals" / "grow-telegram.md"
    options = Options(content=content, out=out, today=TODAY, jobs=1, cache_dir=cache)
    for number in range(3):
        append(goal, f"\nEdit {number}.\n")
        assert build(options).ok
    if change == "template":
        base = (REPO / "templates" / "base.html").read_text(encoding="utf-8")
        (templates / "base.html").write_text(base.replace("</main>", "</main><p>T</p>"),
                                             encoding="utf-8")
    elif change == "today":
        options = Options(content=content, out=out, today=TODAY + dt.timedelta(days=1),
                          jobs=1, cache_dir=cache)
    elif change == "since":
        options = Options(content=content, out=out, today=TODAY, jobs=1, cache_dir=cache,
                          since="2026-10-01")
    elif change == "project":
        project = content / "project.yml"
        project.write_text(project.read_text(encoding="utf-8").replace(
            "Lena Frolova", "Elena Frolova"), encoding="utf-8")
    elif change == "markdown":  # the other backend (cmarkgfm is a test dependency)
        options = Options(content=content, out=out, today=TODAY, jobs=1, cache_dir=cache,
                          markdown="cmark-gfm")
    rendered = Rendered(monkeypatch)
    if change == "version":  # another smreport: its code's fingerprint differs
        monkeypatch.setattr(engine, "code_fingerprint", lambda: "another-version")
    assert build(options).ok
    monkeypatch.undo()
    pages = len([p for p in out.rglob("index.html") if p.parent != out])
    assert len(rendered.pages) >= pages  # nothing was taken from the spare
    reference = build(Options(content=content, out=tmp_path / "plain", today=options.today,
                              jobs=1, cache=False, since=options.since,
                              markdown=options.markdown))
    assert reference.ok
    assert tree(out) == tree(tmp_path / "plain")


def test_a_spare_page_changed_on_disk_is_rendered_again(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    content = copy_example(tmp_path)
    out, cache = tmp_path / "site", tmp_path / "cache"
    goal = content / "goals" / "grow-telegram.md"
    for number in range(3):
        append(goal, f"\nEdit {number}.\n")
        cached_build(content, out, cache)
    spare = spare_of(cache)
    page = spare / "disputes" / "maps-reviews" / "index.html"
    page.write_bytes(page.read_bytes().replace(b"</main>", b"</main><p>tampered</p>"))
    rendered = Rendered(monkeypatch)
    append(goal, "\nOne more.\n")
    cached_build(content, out, cache)
    monkeypatch.undo()
    assert "disputes/maps-reviews/index.html" in rendered.pages
    assert "changes/close-tasting-marathon/index.html" not in rendered.pages  # taken
    assert tree(out) == plain_build(content, tmp_path / "plain")


@pytest.mark.parametrize("watching", [False, True])
def test_every_reviews_page_shows_every_month_after_a_review_is_added_far_back(
        watching: bool, generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> None:
    """The months strip on each reviews page lists every month's reviews, so a review added
    on the last page changes the first page too, though the first page lists the same
    reviews: its key must say so, for the spare's pages and --watch's page cache alike."""
    from smreport import render as rendering  # noqa: PLC0415

    monkeypatch.setattr(rendering, "LIST_PAGE_SIZE", 10)
    content = tmp_path / "content"
    shutil.copytree(generated, content)
    out, cache = tmp_path / "site", tmp_path / "cache"
    oldest = sorted((content / "reviews").glob("*.md"))[0]
    assert len(list((content / "reviews").glob("*.md"))) % 10 != 0  # the same page count
    builder = engine.Builder(None, jobs=1)
    builder.in_place = watching
    options = Options(content=content, out=out, today=TODAY, jobs=1,
                      cache=not watching, cache_dir=None if watching else cache)
    for number in range(3):
        append(sorted((content / "goals").glob("*.md"))[number], f"\nEdit {number}.\n")
        assert build(options, builder if watching else None).ok
    text = oldest.read_text(encoding="utf-8")
    date = text.split("\ndate: ", 1)[1].split("\n", 1)[0]
    added = oldest.with_name("review-added.md")
    added.write_text(text.replace(f"\ndate: {date}", f"\ndate: {date[:8]}26"),
                     encoding="utf-8")
    assert build(options, builder if watching else None).ok
    first_page = (out / "reviews" / "index.html").read_text(encoding="utf-8")
    assert "review-added" in first_page
    plain = build(Options(content=content, out=tmp_path / "plain", today=TODAY, jobs=1,
                          cache=False))
    assert plain.ok and tree(out) == tree(tmp_path / "plain")


def test_a_rebuild_digests_the_templates_once(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The build's inputs and its page keys both cover the templates: one digest of them
    serves both."""
    content = copy_example(tmp_path)
    out, cache = tmp_path / "site", tmp_path / "cache"
    cached_build(content, out, cache)
    append(content / "goals" / "grow-telegram.md", "\nAn edit.\n")
    calls = record_calls(monkeypatch, engine, "templates_digest")
    cached_build(content, out, cache)  # with a stamp: page keys are computed
    assert len(calls) == 1
