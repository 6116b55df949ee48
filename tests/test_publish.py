"""Publishing: a whole new site or the old one, never a folder smreport did not make."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from smreport import publish as publishing
from smreport.publish import (
    MARKER,
    PublishError,
    TreeWriter,
    Written,
    check_output,
    clean_leftovers,
    output_lock,
    publish,
    write_tree,
)

from .conftest import EXAMPLE, tree


def beside(out: Path) -> list[str]:
    return sorted(name for name in os.listdir(out.parent) if name != out.name)


PAGES = [("index.html", b"<h1>home</h1>"), ("goals/a/index.html", b"a"),
         ("agenda.json", b"{}")]


def test_a_first_publish_creates_the_folder_with_its_marker(tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert publish(out, PAGES) == 3
    assert set(tree(out)) == {"index.html", "goals/a/index.html", "agenda.json", MARKER}
    assert beside(out) == []
    assert oct(out.stat().st_mode & 0o777) == "0o755"  # readable by a web server


def test_a_publish_replaces_the_whole_folder(tmp_path: Path) -> None:
    out = tmp_path / "site"
    publish(out, PAGES + [("goals/gone/index.html", b"old")])
    publish(out, [("index.html", b"new"), ("team/index.html", b"team")])
    assert set(tree(out)) == {"index.html", "team/index.html", MARKER}
    assert (out / "index.html").read_bytes() == b"new"
    assert beside(out) == []


def test_assets_are_copied(tmp_path: Path) -> None:
    source = tmp_path / "logo.png"
    source.write_bytes(b"\x89PNG")
    out = tmp_path / "site"
    publish(out, PAGES, [("assets/img/logo.png", source)])
    assert (out / "assets" / "img" / "logo.png").read_bytes() == b"\x89PNG"


def failing_pages() -> Iterator[tuple[str, bytes]]:
    yield "index.html", b"half"
    raise RuntimeError("a template failed half way")


def test_a_failure_half_way_leaves_the_old_site_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "site"
    publish(out, PAGES)
    before = tree(out)
    with pytest.raises(RuntimeError):
        publish(out, failing_pages())
    assert tree(out) == before
    assert beside(out) == []  # the half-written staging folder is gone


@pytest.mark.parametrize("relative", ["../escape.html", "/etc/passwd-copy", "a/../../b.html",
                                      "goals/../../../x", ".", ""])
def test_no_page_is_written_outside_the_folder(tmp_path: Path, relative: str) -> None:
    out = tmp_path / "public" / "site"
    publish(out, PAGES)
    before = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")}
    with pytest.raises(PublishError, match="outside the output folder"):
        publish(out, [("index.html", b"x"), (relative, b"evil")])
    after = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")}
    assert after == before
    assert not Path("/etc/passwd-copy").exists()


def test_a_symlink_inside_the_staging_tree_cannot_redirect_a_write(tmp_path: Path) -> None:
    target = tmp_path / "victim"
    target.mkdir()
    folder = tmp_path / "folder"
    folder.mkdir()
    os.symlink(target, folder / "goals")
    with pytest.raises(PublishError):
        write_tree(folder, [("goals/x/index.html", b"x")], [])
    assert list(target.iterdir()) == []


def test_a_file_or_a_linked_page_in_the_way_is_refused_not_followed(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    (folder / "goals").mkdir(parents=True)
    (folder / "changes").write_bytes(b"a file where a folder should be")
    victim = tmp_path / "victim.html"
    victim.write_bytes(b"untouched")
    os.symlink(victim, folder / "goals" / "index.html")
    writer = TreeWriter(folder)
    with pytest.raises(PublishError, match="a link or a file"):
        writer.write("changes/x/index.html", b"x")
    with pytest.raises(OSError):  # the page's own name is a link: O_NOFOLLOW refuses it
        writer.write("goals/index.html", b"evil")
    assert victim.read_bytes() == b"untouched"
    writer.write("goals/x/index.html", b"fine")  # and two writers share folders
    TreeWriter(folder).write("goals/y/index.html", b"fine too")
    assert (folder / "goals" / "y" / "index.html").read_bytes() == b"fine too"


def test_leftovers_of_an_interrupted_build_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "site"
    publish(out, PAGES)
    before = tree(out)
    for name in (".smreport-new-site-0123456789abcdef", ".smreport-old-site-fedcba9876543210"):
        (tmp_path / name / "goals").mkdir(parents=True)
        (tmp_path / name / "goals" / "x.html").write_bytes(b"partial")
    keep = [tmp_path / ".smreport-new-other-0123456789abcdef", tmp_path / "notes",
            tmp_path / ".site-backup",
            # Another output folder's staging, "site-en" beside "site": not this one's to remove.
            tmp_path / ".smreport-new-site-en-0123456789abcdef"]
    for folder in keep:
        folder.mkdir()
    clean_leftovers(out)
    assert tree(out) == before
    assert beside(out) == sorted(p.name for p in keep)  # only this folder's leftovers go


def test_a_site_moved_aside_when_the_build_died_is_put_back(tmp_path: Path) -> None:
    # Without an atomic exchange, the swap is two renames; killed between them, the old site
    # is beside the output folder under an "old" name and the folder itself is missing.
    out = tmp_path / "site"
    publish(out, PAGES)
    before = tree(out)
    os.rename(out, tmp_path / ".smreport-old-site-00000000000000a1")
    (tmp_path / ".smreport-new-site-00000000000000a2").mkdir()
    (tmp_path / ".smreport-new-site-00000000000000a2" / "index.html").write_bytes(b"half")
    clean_leftovers(out)
    assert tree(out) == before and beside(out) == []


def test_the_two_rename_swap_works_where_the_exchange_is_missing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publishing, "_exchange", lambda first, second: False)
    out = tmp_path / "site"
    publish(out, PAGES)
    publish(out, [("index.html", b"second")])
    assert set(tree(out)) == {"index.html", MARKER} and beside(out) == []


def test_the_lock_refuses_a_second_holder_with_a_clear_message(tmp_path: Path) -> None:
    out = tmp_path / "site"
    with output_lock(out):
        with pytest.raises(PublishError, match="another smreport build is writing") as error, \
                output_lock(out):
            pass
        assert str(out) in str(error.value) and "wait for it" in str(error.value)
    with output_lock(out):  # released: free again
        pass
    assert beside(out) == [".site.smreport-lock"]


def test_check_output_refuses_what_is_not_ours(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    (tmp_path / "file").write_text("x", encoding="utf-8")
    os.symlink(tmp_path / "elsewhere", tmp_path / "link")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.tex").write_text("x", encoding="utf-8")
    for out, words in [(tmp_path / "file", "is not a folder"),
                       (tmp_path / "link", "is not a folder"),
                       (tmp_path / "docs", "was not made by smreport"),
                       (content / "site", "inside the content root"),
                       (tmp_path, "contains the content root"),
                       (content, "inside the content root")]:
        with pytest.raises(PublishError, match=words):
            check_output(out, content)
    check_output(tmp_path / "new-site", content)  # absent: fine
    (tmp_path / "empty").mkdir()
    check_output(tmp_path / "empty", content)  # empty: fine


def test_the_site_and_the_build_cache_never_overlap(tmp_path: Path) -> None:
    """The cache (pickles, a copy of the last site) would be published inside the site,
    or the site would be written over the cache."""
    from tests.conftest import run_cli  # noqa: PLC0415

    content = tmp_path / "content"
    content.mkdir()
    cache = tmp_path / ".smreport-cache"
    for out in (cache, cache / "site"):
        with pytest.raises(PublishError, match="overlaps the build cache"):
            check_output(out, content, cache)
    check_output(tmp_path / "site", content, cache)
    shutil.copytree(EXAMPLE, content, dirs_exist_ok=True)
    result = run_cli("build", "--content", str(content), "--out", str(cache))
    assert result.returncode == 1 and "overlaps the build cache" in result.stderr
    assert not cache.exists()
    # Without the cache there is nothing to overlap.
    result = run_cli("build", "--content", str(content), "--out", str(cache), "--no-cache")
    assert result.returncode == 0, result.stderr


def test_two_output_folders_side_by_side_do_not_clean_each_other(tmp_path: Path) -> None:
    site, site_en = tmp_path / "site", tmp_path / "site-en"
    publish(site_en, PAGES)
    # site-en's build is in progress: its staging folder must survive a build of site.
    in_progress = tmp_path / ".smreport-new-site-en-00112233445566ff"
    in_progress.mkdir()
    (in_progress / "index.html").write_bytes(b"being written")
    publish(site, PAGES)
    assert (in_progress / "index.html").read_bytes() == b"being written"
    assert sorted(os.listdir(tmp_path)) == [in_progress.name, "site", "site-en"]


@pytest.mark.parametrize("size", [0, 1, 70_000, 3_000_000])
def test_tree_writer_writes_every_byte_of_a_page(tmp_path: Path, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    TreeWriter(tmp_path).write("goals/big/index.html", data)
    assert (tmp_path / "goals" / "big" / "index.html").read_bytes() == data


def test_a_written_page_crosses_between_processes_with_its_digest_and_stat() -> None:
    """A page worker hands back `Written` pages through a pipe: pickled and unpickled, each
    keeps its digest and stat and stays empty. (Unpickled as bytes are, it would call
    `Written(b"")`; in the pool's result thread that error hung the build.)"""
    page = Written("0f" * 16, (1234, 1_790_000_000_123_456_789))
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        again = pickle.loads(pickle.dumps([("goals/x/index.html", page)], protocol=protocol))
        assert again == [("goals/x/index.html", b"")]
        assert isinstance(again[0][1], Written)
        assert (again[0][1].digest, again[0][1].stat) == (page.digest, page.stat)


def _as_a_user() -> list[str]:
    """A command prefix under which file permissions bind, as for a user: root ignores
    them unless its capabilities to do so are dropped (setpriv, util-linux)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root ignores file permissions, and setpriv is not installed")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def test_a_read_only_site_is_replaced_without_leaving_a_copy_beside_it(tmp_path: Path) -> None:
    # The previous site, swapped out, could not be emptied: a whole copy stayed beside
    # the output folder, silently, after every build.
    content = tmp_path / "content"
    shutil.copytree(EXAMPLE, content)
    out = tmp_path / "public" / "site"
    command = [*_as_a_user(), sys.executable, "-m", "smreport", "build", "--content",
               str(content), "--out", str(out), "--no-cache"]
    try:
        for day in ("2026-11-20", "2026-11-21", "2026-11-22"):
            done = subprocess.run([*command, "--today", day], capture_output=True, text=True,
                                  timeout=120, check=False)
            assert done.returncode == 0, done.stderr
            assert f"as of {day}" in done.stdout
            subprocess.run(["chmod", "-R", "a-w", str(out)], check=True, timeout=60)
            assert beside(out) == [".site.smreport-lock"], day
        assert "22 November 2026" in (out / "index.html").read_text(encoding="utf-8")
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(tmp_path)], check=False, timeout=60)
