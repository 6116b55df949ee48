"""The Builder's caches and worker processes: always the same bytes as a plain build."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import functools
import hashlib
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest

from smreport import engine, publish
from smreport import load as load_module
from smreport import render as render_module
from smreport.engine import Builder, update_in_place
from smreport.model import AgendaItem, CurrentGoal
from smreport.pipeline import Options, PublishError, build, check
from smreport.render import default_template_dir, make_site

from .conftest import REPO, TODAY, copy_example, plain_build, record_calls, run_build_py, tree

sys.path.insert(0, str(REPO / "benchmarks"))
from generate import generate  # noqa: E402


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Above the threshold at which worker processes start.
    return generate(tmp_path_factory.mktemp("gen") / "content", engine.PARALLEL_THRESHOLD + 60)


def test_workers_and_cache_give_the_same_bytes_as_a_plain_build(generated: Path,
                                                                tmp_path: Path) -> None:
    reference = plain_build(generated, tmp_path / "plain")
    cache = tmp_path / "cache"
    cache.mkdir()  # as a build that succeeded leaves it: shards go only into it
    cold = build(Options(content=generated, out=tmp_path / "cold", today=TODAY, jobs=2,
                         cache_dir=cache))
    assert cold.ok and not cold.unchanged
    assert tree(tmp_path / "cold") == reference
    # A new process would start from the cache folder: so does a new Builder.
    builder = Builder(cache, jobs=2)
    warm = build(Options(content=generated, out=tmp_path / "warm", today=TODAY, jobs=2,
                         cache_dir=cache), builder)
    assert warm.ok
    # Notes and their bodies come from the shards the cold build's workers wrote.
    assert builder.stats == {"parsed": 0, "cached": len(list(generated.glob("*/*.md"))),
                             "bodies": 0}
    assert tree(tmp_path / "warm") == reference


def test_unchanged_inputs_skip_the_build(generated: Path, tmp_path: Path) -> None:
    options = Options(content=generated, out=tmp_path / "site", today=TODAY,
                      cache_dir=tmp_path / "cache")
    first = build(options)
    before = tree(tmp_path / "site")
    second = build(options)
    assert second.unchanged and second.files_written == first.files_written
    assert len(second.agenda) == len(first.agenda)
    assert tree(tmp_path / "site") == before
    # Another --today is another input.
    third = build(Options(content=generated, out=tmp_path / "site",
                          today=TODAY + dt.timedelta(days=1), cache_dir=tmp_path / "cache"))
    assert not third.unchanged


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_stamp_holds_the_site_as_written_without_listing_it_again(
        jobs: int, generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A staged build gives the stamp every file it wrote (page workers' pages, copied
    assets and the marker included) with its size and time stamp: exactly what listing
    the published site finds, so the next build with the same inputs is "Up to date"."""
    content = tmp_path / "content"
    shutil.copytree(generated, content)
    (content / "assets").mkdir()
    (content / "assets" / "chart.png").write_bytes(b"\x89PNG not really")
    listed: list[Path] = []
    original = engine._site_listing

    def spy(out: Path) -> dict[str, tuple[int, int]] | None:
        listed.append(out)
        return original(out)

    monkeypatch.setattr(engine, "_site_listing", spy)
    out = tmp_path / "site"
    options = Options(content=content, out=out, today=TODAY, jobs=jobs,
                      cache_dir=tmp_path / "cache")
    assert build(options).ok
    assert (out / "assets" / "chart.png").is_file() and (out / publish.MARKER).is_file()
    assert listed == []  # the build saved its stamp without listing the site
    stamp = engine.Stamp(tmp_path / "cache", out)
    saved = publish.read_pickle(stamp.path)
    assert isinstance(saved, dict) and saved["listing"] == original(out)
    assert build(options).unchanged


class ReadSpy:
    """Records, in this process, every note read and every inventory taken."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opened: list[Path] = []
        self.inventories: list[Path] = []
        real_read_bytes, real_read_limited = Path.read_bytes, load_module.read_limited
        real_read_briefly, real_inventory = load_module.read_briefly, engine.take_inventory

        def read_bytes(path: Path) -> bytes:
            self.opened.append(path)
            return real_read_bytes(path)

        def read_limited(path: Path | str, max_bytes: int | None = None) -> bytes:
            self.opened.append(Path(path))
            return real_read_limited(path, max_bytes)

        def read_briefly(path: str, max_bytes: int | None = None) -> bytes:
            self.opened.append(Path(path))
            return real_read_briefly(path, max_bytes)

        def take_inventory(*args: object, **kwargs: object) -> object:
            self.inventories.append(Path(str(args[0])))
            return real_inventory(*args, **kwargs)  # type: ignore[arg-type]
        monkeypatch.setattr(Path, "read_bytes", read_bytes)
        monkeypatch.setattr(engine, "read_limited", read_limited)
        monkeypatch.setattr(load_module, "read_limited", read_limited)
        monkeypatch.setattr(load_module, "read_briefly", read_briefly)
        monkeypatch.setattr(engine, "read_briefly", read_briefly)
        monkeypatch.setattr(engine, "take_inventory", take_inventory)
        monkeypatch.setattr(load_module, "take_inventory", take_inventory)

    def notes(self, notes: list[Path]) -> list[Path]:
        return sorted(path for path in self.opened if path in notes)


def test_a_build_with_a_stamp_digests_each_note_then_the_workers_read_it_to_parse(
        generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a stamp to compare with, this process reads and hashes every note once for the
    input digest and keeps none of them; when something changed, the notes the shards
    hold come from there, the others are read again where they are parsed (by the
    workers when there are many), and the stamp saved stands for what they read."""
    content = tmp_path / "content"
    shutil.copytree(generated, content)
    notes = sorted(content.glob("*/*.md"))
    options = Options(content=content, out=tmp_path / "site", today=TODAY, jobs=2,
                      cache_dir=tmp_path / "cache")
    (tmp_path / "cache").mkdir()  # shards go only into a cache folder made before
    assert build(options).ok  # the stamp
    edited = sorted((content / "goals").glob("*.md"))[0]

    def edit_and_build(shards: bool) -> tuple[ReadSpy, list[tuple[Any, ...]], Builder]:
        edited.write_text(edited.read_text(encoding="utf-8") + "\nOne more line.\n",
                          encoding="utf-8")
        if not shards:
            for folder in (tmp_path / "cache").glob("parsed-*"):
                shutil.rmtree(folder)
        spy = ReadSpy(monkeypatch)
        hashed = record_calls(monkeypatch, engine, "content_hash")
        builder = Builder(tmp_path / "cache", jobs=2)
        result = build(options, builder)
        assert result.ok and not result.unchanged
        monkeypatch.undo()
        assert spy.inventories == [content]
        return spy, hashed, builder

    # The edited note alone is parsed (here: too few for workers), so read and hashed twice.
    spy, hashed, builder = edit_and_build(shards=True)
    assert builder.stats["parsed"] == 1 and builder.stats["cached"] == len(notes) - 1
    assert spy.notes(notes) == sorted([*notes, edited])
    assert len(hashed) == len(notes) + 1
    assert tree(tmp_path / "site") == plain_build(content, tmp_path / "plain")
    # Without shards every note is parsed again, each read by the worker that parses it.
    spy, hashed, builder = edit_and_build(shards=False)
    assert builder.stats["parsed"] == len(notes)
    assert spy.notes(notes) == notes  # each once, here: the workers' reads are their own
    assert len(hashed) == len(notes)
    assert tree(tmp_path / "site") == plain_build(content, tmp_path / "plain")
    assert build(options).unchanged
    # A note saved between the digest and the parse: the site shows it, and so does the
    # stamp, so the next build is "Up to date" with the note as it is now.
    real_read_notes = engine.Inputs.read_notes

    def then_save(inputs: engine.Inputs) -> str | None:
        digest = real_read_notes(inputs)
        edited.write_text(edited.read_text(encoding="utf-8") + "\nSaved meanwhile.\n",
                          encoding="utf-8")
        return digest
    monkeypatch.setattr(engine.Inputs, "read_notes", then_save)
    edited.write_text(edited.read_text(encoding="utf-8") + "\nA second edit.\n",
                      encoding="utf-8")
    assert not build(options).unchanged
    monkeypatch.undo()
    assert "Saved meanwhile." in (tmp_path / "site" / "goals" / edited.stem /
                                  "index.html").read_text(encoding="utf-8")
    assert build(options).unchanged


def test_check_takes_jobs_as_build_does(generated: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """`check --jobs 1` parses in this process, with no worker; `--jobs 2` in two workers;
    both report the same problems."""
    from smreport.cli import main

    pools: list[tuple[object, ...]] = []
    real_pool = engine.worker_pool

    def counted_pool(*args: Any, **kwargs: Any) -> Any:
        pools.append(args)
        return real_pool(*args, **kwargs)

    monkeypatch.setattr(engine, "worker_pool", counted_pool)
    reports = {}
    for jobs in ("1", "2"):
        pools.clear()
        status = main(["check", "--content", str(generated), "--today", "2026-11-26",
                       "--format", "json", "--jobs", jobs])
        reports[jobs] = (status, capsys.readouterr().out)
        assert pools == ([] if jobs == "1" else [(2,)])
    assert reports["1"] == reports["2"]
    assert reports["1"][0] == 0 and reports["1"][1].strip() == "[]"


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_build_without_a_stamp_reads_each_note_where_it_parses_it(
        jobs: int, generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no stamp to compare with (a first build, or no cache), nothing reads the notes
    before the parse: each is read once where it is parsed, by a worker when there are
    two (not in this process), and the stamp's digest is made from the workers' hashes,
    so the next build with the same inputs is "Up to date", and one with a note changed
    is not."""
    notes = sorted(generated.glob("*/*.md"))
    reference = plain_build(generated, tmp_path / "plain")
    options = Options(content=generated, out=tmp_path / "site", today=TODAY, jobs=jobs,
                      cache_dir=tmp_path / "cache")
    spy = ReadSpy(monkeypatch)
    assert build(options).ok
    assert spy.notes(notes) == ([] if jobs == 2 else notes)
    assert spy.inventories == [generated]
    monkeypatch.undo()
    assert tree(tmp_path / "site") == reference
    assert build(options).unchanged
    # The same digest, made by reading every note first: a changed note is not up to date.
    content = tmp_path / "content"
    shutil.copytree(generated, content)
    changed = Options(content=content, out=tmp_path / "site2", today=TODAY, jobs=jobs,
                      cache_dir=tmp_path / "cache")
    assert not build(changed).unchanged
    assert build(changed).unchanged
    note = sorted((content / "goals").glob("*.md"))[0]
    note.write_text(note.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
    assert not build(changed).unchanged


@pytest.mark.parametrize("jobs", [1, 2])
def test_notes_read_by_the_workers_report_what_could_not_be_read(
        jobs: int, generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A note gone between the listing and its parse, and one over the size limit, are
    the same problems when a worker reads them as when this process does; the build
    fails and writes nothing."""
    content = tmp_path / "content"
    shutil.copytree(generated, content)
    goals = sorted((content / "goals").glob("*.md"))
    goals[1].write_text(goals[1].read_text(encoding="utf-8") + "x" * 1_100_000,
                        encoding="utf-8")
    real_inventory = load_module.take_inventory

    def then_delete(*args: Any, **kwargs: Any) -> Any:
        inventory = real_inventory(*args, **kwargs)
        goals[0].unlink()
        return inventory
    monkeypatch.setattr(load_module, "take_inventory", then_delete)
    monkeypatch.setattr(engine, "take_inventory", then_delete)
    result = build(Options(content=content, out=tmp_path / "site", today=TODAY, jobs=jobs,
                           cache_dir=tmp_path / "cache"))
    problems = {(p.path, p.code): p for p in result.errors}
    assert {"unreadable", "too-large"} <= {code for _path, code in problems}
    gone = problems[(f"goals/{goals[0].name}", "unreadable")]
    assert "No such file or directory" in gone.message
    over = problems[(f"goals/{goals[1].name}", "too-large")]
    assert f"{goals[1].stat().st_size:,} bytes" in over.message
    assert not (tmp_path / "site").exists()
    # As load_content reports them reading every note itself.
    goals[0].write_text("", encoding="utf-8")
    monkeypatch.undo()
    goals[0].unlink()
    for read_in_parse in (False, True):
        loaded = load_module.load_content(content, read_in_parse=read_in_parse)
        assert [(p.path, p.code) for p in loaded.problems if p.severity == "error"] == \
            [(f"goals/{goals[1].name}", "too-large")]


def watched(root: Path, out: Path) -> tuple[Builder, Options]:
    """A Builder as --watch keeps it, after its first build of `root` into `out`."""
    builder = Builder(None, jobs=1)
    builder.in_place = True
    options = Options(content=root, out=out, today=TODAY, cache=False)
    assert build(options, builder).ok
    return builder, options




@pytest.mark.parametrize("edit", ["edit", "delete", "rename", "project", "template", "asset"])
def test_cached_rebuild_after_each_kind_of_change_equals_a_plain_build(edit: str,
                                                                        tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    templates = tmp_path / "templates"  # beside the content root: the user's override folder
    templates.mkdir()
    builder = Builder(tmp_path / "cache", jobs=1)
    options = Options(content=root, out=tmp_path / "site", today=TODAY,
                      cache_dir=tmp_path / "cache")
    assert build(options, builder).ok
    goal = root / "goals" / "grow-telegram.md"
    if edit == "edit":
        goal.write_text(goal.read_text(encoding="utf-8").replace(
            "title:", 'title: "Edited title"\n# title:', 1), encoding="utf-8")
    elif edit == "delete":
        (root / "changes" / "telegram-extend-to-march.md").unlink()
    elif edit == "rename":
        goal.rename(root / "goals" / "telegram-growth.md")
        for change in (root / "changes").glob("*.md"):
            change.write_text(change.read_text(encoding="utf-8").replace(
                "goal: grow-telegram", "goal: telegram-growth"), encoding="utf-8")
    elif edit == "project":
        project = root / "project.yml"
        project.write_text(project.read_text(encoding="utf-8").replace(
            "Lena Frolova", "Elena Frolova"), encoding="utf-8")
    elif edit == "template":
        base = (REPO / "templates" / "base.html").read_text(encoding="utf-8")
        (templates / "base.html").write_text(base.replace("</main>", "</main><p>T</p>"),
                                             encoding="utf-8")
    elif edit == "asset":
        (root / "assets" / "extra.txt").write_text("new asset", encoding="utf-8")
    second = build(options, builder)
    assert second.ok and not second.unchanged
    assert tree(tmp_path / "site") == plain_build(root, tmp_path / "plain")
    if edit == "project":
        page = (tmp_path / "site" / "goals" / "winter-gift-boxes" / "index.html").read_text(
            encoding="utf-8")
        assert "Elena Frolova" in page


def test_a_new_smreport_version_never_trusts_the_old_cache(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_example(tmp_path)
    options = Options(content=root, out=tmp_path / "site", today=TODAY,
                      cache_dir=tmp_path / "cache")
    assert build(options).ok
    monkeypatch.setattr(engine, "code_fingerprint", lambda: "another-version")
    builder = Builder(tmp_path / "cache", jobs=1)
    result = build(options, builder)
    assert result.ok and not result.unchanged
    assert builder.stats["cached"] == 0 and builder.stats["bodies"] > 0


def test_a_damaged_cache_is_ignored(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    options = Options(content=root, out=tmp_path / "site", today=TODAY,
                      cache_dir=tmp_path / "cache")
    (tmp_path / "cache").mkdir()  # shards go only into a cache folder made before
    assert build(options).ok
    damaged = [path for path in (tmp_path / "cache").rglob("*.pickle")]
    assert any(path.parent.name.startswith("parsed-") for path in damaged)  # the shards too
    for path in damaged:
        path.write_bytes(b"not a pickle")
    (root / "goals" / "grow-telegram.md").touch()
    builder = Builder(tmp_path / "cache", jobs=1)
    assert build(options, builder).ok
    assert tree(tmp_path / "site") == plain_build(root, tmp_path / "plain")


class _Planted:
    """What a stranger commits into the cache folder: unpickling it makes a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return Path.touch, (self.marker,)


def test_a_cache_file_this_user_did_not_write_is_never_unpickled(generated: Path,
                                                                  tmp_path: Path) -> None:
    """The cache's pickles would run code when read: one committed to the notes repository
    (or restored from a CI cache) must not run, in `check` (the pre-commit hook) or in
    `build`, unsigned or signed with another key."""
    root = tmp_path / "content"
    shutil.copytree(generated, root)
    command = [sys.executable, "-m", "smreport", "--content", str(root), "--today",
               "2026-11-26"]
    site = ["--out", str(tmp_path / "site")]
    for _ in range(3):  # the second build keeps shards, the third a spare
        assert subprocess.run([*command[:3], "build", *command[3:], *site], cwd=REPO,
                              capture_output=True, timeout=120).returncode == 0
        touched = next((root / "goals").glob("*.md"))
        touched.write_text(touched.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
    cache = tmp_path / ".smreport-cache"
    planted = sorted(cache.rglob("*.pickle"))
    assert {p.name.split("-")[0] for p in planted} >= {"stamp", "spare"}
    assert any(p.parent.name.startswith("parsed-") for p in planted)
    marker = tmp_path / "ran"
    payload = pickle.dumps(_Planted(marker))
    other_key = hashlib.blake2b(payload, key=b"k" * 32, digest_size=32).digest()
    for signature in (b"", b"\0" * 32, other_key):
        for path in planted:
            path.write_bytes(signature + payload)
        touched.write_text(touched.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
        for verb, extra in (("check", []), ("build", site)):
            run = subprocess.run([*command[:3], verb, *command[3:], *extra], cwd=REPO,
                                 capture_output=True, text=True, timeout=120)
            assert run.returncode == 0, run.stderr
            assert not marker.exists(), (verb, signature)
    assert tree(tmp_path / "site") == plain_build(root, tmp_path / "plain")


def test_a_cache_key_that_cannot_be_kept_means_no_cache_and_says_so(tmp_path: Path) -> None:
    """A home folder that cannot be written (a container, some CI): a key of the process
    alone would sign files no later build can trust, so the build does without a cache."""
    root = copy_example(tmp_path)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("x", encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "smreport", "build", "--content", str(root),
                          "--out", str(tmp_path / "site"), "--today", "2026-11-26"],
                         capture_output=True, text=True, timeout=120, cwd=REPO,
                         env={**os.environ, "XDG_CACHE_HOME": str(blocked)})
    assert run.returncode == 0, run.stderr
    assert "the key that signs the cache cannot be kept" in run.stderr
    assert "this build does without it" in run.stderr
    assert not (tmp_path / ".smreport-cache").exists()
    assert tree(tmp_path / "site") == plain_build(root, tmp_path / "plain")


def test_no_cache_writes_no_cache_folder(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    run = subprocess.run([sys.executable, str(REPO / "build.py"), "--content", str(root),
                          "--out", str(tmp_path / "site"), "--today", "2026-11-26",
                          "--no-cache", "--jobs", "1"],
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert not (tmp_path / ".smreport-cache").exists()
    cached = subprocess.run([sys.executable, str(REPO / "build.py"), "--content", str(root),
                             "--out", str(tmp_path / "site"), "--today", "2026-11-26"],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert cached.returncode == 0, cached.stderr
    assert any((tmp_path / ".smreport-cache").glob("stamp-*.pickle"))


def test_update_in_place_writes_only_what_changed(tmp_path: Path) -> None:
    out = tmp_path / "site"
    manifest: dict[str, str] = {}
    source = tmp_path / "style.css"
    source.write_text("body {}", encoding="utf-8")
    pages = [("index.html", b"one"), ("goals/a/index.html", b"a"), ("goals/b/index.html", b"b")]
    assert update_in_place(out, pages, [("assets/style.css", source)], manifest) == 4
    assert update_in_place(out, pages, [("assets/style.css", source)], manifest) == 0
    changed = [("index.html", b"two"), ("goals/a/index.html", b"a")]
    assert update_in_place(out, changed, [("assets/style.css", source)], manifest) == 1
    assert (out / "index.html").read_bytes() == b"two"
    assert not (out / "goals" / "b").exists()
    assert sorted(manifest) == ["assets/style.css", "goals/a/index.html", "index.html"]
    with pytest.raises(ValueError):
        update_in_place(out, [("../escape.html", b"x")], [], manifest)
    assert not (tmp_path / "escape.html").exists()


def test_benchmark_runner_smoke(tmp_path: Path) -> None:
    """The benchmark must not rot: a tiny run of the real runner, figures printed."""
    run = subprocess.run([sys.executable, str(REPO / "benchmarks" / "run.py"), "--notes", "50",
                          "--edits", "2", "--repeat", "2", "--work", str(tmp_path / "bench")],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr + run.stdout
    assert "the fastest of 2 runs (the single-process floor: of 4)" in run.stdout
    assert "| measurement | seconds | × floor | CPU s | CPU × floor | peak MiB |" in run.stdout
    floor_row = re.search(r"\| floor, 1 process \| [\d.]+ \| 1\.00 \| ([\d.]+) \| 1\.00 \|",
                          run.stdout)
    assert floor_row is not None and float(floor_row.group(1)) > 0, run.stdout
    for row in ("floor, 1 process", "cold full build", "warm full build", "check alone",
                "check after builds, reading their shards",
                "--markdown cmark-gfm",  # cmarkgfm is a test dependency
                "one-note edit under --watch to the edited note's page, median",
                "one-note edit under --watch to the whole site, 95th percentile",
                "--watch, median to the whole site in each round: ",
                "one-note edit, then build without --watch, median of 10 |"):
        assert row in run.stdout
    # Every edit reached the edited note's page (a timeout would show as 30,000 ms).
    page = re.search(r"edited note's page, 95th percentile \| (\d+) ms", run.stdout)
    assert page is not None and int(page.group(1)) < 30_000, run.stdout
    if shutil.which("hugo"):
        assert "Hugo, one minimal template, same notes" in run.stdout
        assert "Hugo, the same, with its default feeds, sitemap and taxonomies" in run.stdout


@pytest.mark.skipif(shutil.which("hugo") is None, reason="Hugo is installed for benchmarks only")
def test_hugo_is_measured_stripped_and_with_its_defaults(tmp_path: Path) -> None:
    from generate import generate  # benchmarks/ is on the path
    from run import hugo_build
    content = generate(tmp_path / "content", 20)
    hugo = shutil.which("hugo")
    assert hugo is not None
    for stripped in (True, False):
        out = tmp_path / f"site-{stripped}"
        hugo_build(hugo, content, tmp_path, out, stripped=stripped)
        assert (out / "goals" / "goal-00000" / "index.html").is_file()
        # The feeds and the sitemap are what the stripped Hugo leaves out.
        assert (out / "sitemap.xml").is_file() is not stripped
        assert (out / "goals" / "index.xml").is_file() is not stripped


def test_instruction_counts_are_read_from_cachegrind() -> None:
    from instructions import instructions_in  # benchmarks/ is on the path (see generate)
    report = "==1== Collected : 12\n==1==\n==1== I   refs:      7,254,331,002\n"
    assert instructions_in(report) == 7_254_331_002
    with pytest.raises(ValueError, match="no 'I refs' line"):
        instructions_in("==1== valgrind: failed to start tool\n")


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="needs valgrind (.ci/run installs it)")
def test_instruction_counter_smoke(tmp_path: Path) -> None:
    """benchmarks/instructions.py must not rot: a tiny run under valgrind, both counts
    printed, smreport's above the floor's (it does all the floor does, and more)."""
    run = subprocess.run([sys.executable, str(REPO / "benchmarks" / "instructions.py"),
                          "--notes", "8", "--work", str(tmp_path / "count")],
                         capture_output=True, text=True, timeout=600, cwd=REPO)
    assert run.returncode == 0, run.stderr + run.stdout
    build = re.search(r"smreport build --jobs 1 --no-cache: ([\d,]+) M", run.stdout)
    floor = re.search(r"floor: +([\d,]+) M", run.stdout)
    ratio = re.search(r"ratio: +([\d.]+)", run.stdout)
    assert build and floor and ratio, run.stdout
    assert int(build.group(1).replace(",", "")) > int(floor.group(1).replace(",", "")) > 0
    assert float(ratio.group(1)) > 1
    assert (tmp_path / "count" / "site" / "index.html").is_file()
    assert len(list((tmp_path / "count" / "floor").rglob("index.html"))) == 8


def test_benchmark_runner_warns_when_its_floor_met_a_slower_machine() -> None:
    from run import floor_warning  # benchmarks/ is on the path (see generate)

    assert floor_warning(11.0, 6.2) is None  # 1.77 ×: what two cores give
    assert floor_warning(11.0, 5.5) is None  # exactly 2 ×
    warning = floor_warning(14.55, 6.62)  # run M of session 8
    assert warning is not None and "2.20 ×" in warning and "too favourable" in warning


def test_a_day_of_edits_in_place_matches_a_fresh_build_after_each(tmp_path: Path) -> None:
    """--watch keeps listings, parse results, reference checks, dated goals and page keys
    between rebuilds; after every kind of edit the result must be what a fresh build gives.
    A page key is reused while its note, its family and its agenda items are unchanged."""
    root = copy_example(tmp_path)
    builder, options = watched(root, tmp_path / "site")

    def rewrite(relative: str, old: str, new: str) -> None:
        path = root / relative
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    change = "changes/care-public-replies.md"
    steps: list[tuple[str, Callable[[], None]]] = [
        ("a goal's title, shown on its changes' pages and in the lists",
         lambda: rewrite("goals/grow-telegram.md", "title:", 'title: "Renamed"\n# was:')),
        # The goal file is untouched, but its readings of public-replies now name a KPI
        # that no approved change defines: the goal's own, remembered check must be redone.
        ("a change that defined a KPI rejected",
         lambda: rewrite(change, "outcome: approved", "outcome: rejected")),
        ("the change approved again", lambda: rewrite(change, "outcome: rejected",
                                                      "outcome: approved")),
        ("an approved change's new due date, which the goal's page shows",
         lambda: rewrite(change, "due: 2026-12-20", "due: 2026-12-27")),
        ("a new change, added to a listed folder",
         lambda: (root / "changes" / "telegram-new.md").write_text(
             "---\ntitle: Stop the Telegram goal\ngoal: grow-telegram\nproposed_by: belov\n"
             "date: 2026-11-20\nset:\n  status: dropped\n---\nWhy.\n", encoding="utf-8")),
        # Both goals' pages list the change: the one it left and the one it joined.
        ("the new change moved to another goal",
         lambda: rewrite("changes/telegram-new.md", "goal: grow-telegram",
                         "goal: winter-gift-boxes")),
        ("the new change deleted", lambda: (root / "changes" / "telegram-new.md").unlink()),
        ("a dispute deleted", lambda: (root / "disputes" / "maps-reviews.md").unlink()),
        ("a review's body", lambda: rewrite("reviews/review-2026-10.md", "\n---\n",
                                            "\n---\nA new first line.\n")),
        ("a person renamed in project.yml",
         lambda: rewrite("project.yml", "Lena Frolova", "Elena Frolova")),
    ]
    for what, edit in steps:
        time.sleep(0.05)  # a tick of the file system's clock, as between two saves
        edit()
        result = build(options, builder)
        # The reference runs in its own process: this one's memos must not help it.
        fresh = run_build_py("--content", str(root), "--out", str(tmp_path / "fresh"),
                             "--today", TODAY.isoformat(), "--no-cache", "--jobs", "1")
        if fresh.returncode == 0:
            assert result.ok and not result.problems, what
            assert tree(tmp_path / "site") == tree(tmp_path / "fresh"), what
        else:
            assert what == "a change that defined a KPI rejected"
            reported = [line for line in fresh.stderr.splitlines()
                        if ": error unknown-kpi: " in line]
            assert len(reported) == len(result.errors) == len(result.problems) > 0, \
                fresh.stderr
            assert {p.code for p in result.errors} == {"unknown-kpi"}


def test_stale_entries_are_dropped_once_they_are_a_quarter_of_what_is_used() -> None:
    builder = Builder(None, jobs=1)
    builder.parsed = {f"key{n}": (None, []) for n in range(400)}
    builder.used_parsed = {f"key{n}" for n in range(380)}
    builder.used_pages = {"page"}
    builder.forget_unused()
    assert len(builder.parsed) == 400  # 20 stale of 380 used: not worth a walk yet
    assert builder.used_pages == set()
    builder.used_parsed = {f"key{n}" for n in range(200)}
    builder.forget_unused()
    assert set(builder.parsed) == {f"key{n}" for n in range(200)}


def test_check_in_worker_processes_reports_what_a_plain_check_does(generated: Path,
                                                                   tmp_path: Path) -> None:
    root = tmp_path / "content"
    shutil.copytree(generated, root)
    changes = sorted((root / "changes").glob("*.md"))
    # A broken link in a body (its text is dropped by the workers, its links are not),
    # an unknown person, and a note that does not parse.
    changes[0].write_text(changes[0].read_text(encoding="utf-8") + "\n[x](../goals/none.md)\n",
                          encoding="utf-8")
    changes[1].write_text(changes[1].read_text(encoding="utf-8").replace(
        "proposed_by: ", "proposed_by: nobody\n# was: ", 1), encoding="utf-8")
    changes[2].write_text("---\ntitle: [\n---\n", encoding="utf-8")
    options = Options(content=root, today=TODAY)
    plain = check(options)
    builder = Builder(None, jobs=2, render_bodies=False)
    parallel = check(options, builder)
    assert builder.stats["parsed"] > engine.PARALLEL_THRESHOLD  # the workers did run
    assert [p.format_text() for p in parallel.problems] == \
        [p.format_text() for p in plain.problems]
    assert {"broken-link", "unknown-person", "yaml-syntax"} <= {p.code for p in plain.problems}


def test_read_note_trusts_the_watchers_report_and_stale_files_finds_the_rest(
        tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_bytes(b"one")
    builder = Builder(None, jobs=1)
    builder.in_place = True
    assert builder.read_note(note, 100) == b"one"
    note.write_bytes(b"two!")
    builder.changed_hint = frozenset()  # the watcher reported no change to it
    assert builder.read_note(note, 100) == b"one"  # trusted, without even a stat
    assert builder.stale_files() == {str(note)}  # what the idle check then finds
    builder.changed_hint = frozenset({str(note)})
    assert builder.read_note(note, 100) == b"two!"
    assert builder.stale_files() == set()
    builder.changed_hint = None  # no report (the first build, a restart): stat everything
    note.write_bytes(b"three")
    assert builder.read_note(note, 100) == b"three"
    note.unlink()
    assert builder.stale_files() == {str(note)}


def test_builds_pause_the_garbage_collector_and_restore_it(tmp_path: Path) -> None:
    import gc

    seen: list[bool] = []
    with engine.collecting_garbage_later():
        seen.append(gc.isenabled())
        with engine.collecting_garbage_later():  # nested (check within build) stays paused
            seen.append(gc.isenabled())
        seen.append(gc.isenabled())
    assert seen == [False, False, False] and gc.isenabled()
    gc.disable()  # as --watch runs: a build must not turn it back on
    try:
        assert build(Options(content=copy_example(tmp_path), out=tmp_path / "site",
                             today=TODAY, cache=False)).ok
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_page_workers_write_the_note_pages_and_the_manifest_holds_their_digests(
        generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a parallel build the workers write note pages themselves: the main process writes
    only the pages it rendered (briefing, feeds...), and records every page's digest."""
    written_here: list[str] = []
    original = engine.TreeWriter.write

    def spy(self: engine.TreeWriter, relative: str, data: bytes) -> None:
        written_here.append(relative)  # forked workers append to their own copy
        original(self, relative, data)

    monkeypatch.setattr(engine.TreeWriter, "write", spy)
    builder = Builder(None, jobs=2)
    out = tmp_path / "site"
    result = build(Options(content=generated, out=out, today=TODAY, jobs=2, cache=False),
                   builder)
    assert result.ok
    note_pages = [p for p in tree(out) if p.count("/") == 2 and p.endswith("/index.html")]
    assert len(note_pages) > engine.PARALLEL_THRESHOLD  # (notes dated after today have none)
    assert "index.html" in written_here
    assert not set(note_pages) & set(written_here)
    assert builder.manifest is not None
    assert {path: builder.manifest[path] for path in note_pages} == {
        path: engine.page_digest((out / path).read_bytes()) for path in note_pages}


def test_page_workers_draw_each_goals_kpi_charts_once(generated: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A list page goes to a worker with the pages of the notes it lists: a goal's KPI views
    (its charts) are drawn once for its card and its page, not once in each of two workers.
    (The main process draws those of the briefing's glance for itself.) The site is the
    same as a plain build's, and every note page comes from a worker."""
    reference = plain_build(generated, tmp_path / "plain")
    record = tmp_path / "drawn.txt"
    original = render_module.kpi_views

    def counted(goal: CurrentGoal, *args: Any) -> Any:
        with open(record, "a", encoding="utf-8") as handle:  # one short append per line
            handle.write(f"{os.getpid()} {goal.id}\n")
        return original(goal, *args)

    monkeypatch.setattr(render_module, "kpi_views", counted)
    out = tmp_path / "site"
    assert build(Options(content=generated, out=out, today=TODAY, jobs=2, cache=False)).ok
    assert tree(out) == reference
    drawn = [line.split() for line in record.read_text(encoding="utf-8").splitlines()]
    in_workers = collections.Counter(goal for pid, goal in drawn if int(pid) != os.getpid())
    goals = {path.stem for path in (generated / "goals").glob("*.md")
             if (out / "goals" / path.stem / "index.html").is_file()}
    assert len(goals) > 20
    assert in_workers == dict.fromkeys(goals, 1)


def test_prefetched_pages_are_handed_out_by_key_in_any_order() -> None:
    """The site asks for pages in its own order; chunks come in the order they were given
    to the workers. A page no worker rendered is None, once every chunk has come."""
    pulled: list[int] = []

    def chunks() -> Iterator[list[tuple[str, tuple[str, bytes]]]]:
        for number, keys in enumerate((["a", "b"], ["c"], ["d", "e"])):
            pulled.append(number)
            yield [(key, (f"{key}.html", key.encode())) for key in keys]
    prefetch = engine.Prefetch(chunks())
    assert pulled == []  # nothing is awaited before a page is asked for
    assert prefetch.take("c") == ("c.html", b"c")
    assert pulled == [0, 1]
    assert prefetch.take("a") == ("a.html", b"a")  # waiting since the first chunk
    assert pulled == [0, 1]
    assert prefetch.take("a") is None  # handed out once
    assert prefetch.take("e") == ("e.html", b"e")
    assert prefetch.take("b") == ("b.html", b"b")
    assert prefetch.take("d") == ("d.html", b"d")
    assert prefetch.waiting == {}


def test_the_site_listing_names_every_file_with_its_size_and_time_stamp(tmp_path: Path
                                                                        ) -> None:
    """What the stamp compares to tell the published site is as the last build left it:
    every file at every depth (hidden ones too), by its path from the site's root."""
    site = tmp_path / "site"
    files = {"index.html": b"<p>home</p>", ".smreport": b"marker", "assets/smreport.css": b"a{}",
             "goals/x/index.html": b"x" * 5000, "goals/index-2.html": b"", "a/b/c/d.txt": b"d"}
    for relative, data in files.items():
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_bytes(data)
    (site / "empty-folder").mkdir()
    expected = {}
    for folder, _subfolders, names in os.walk(site):
        for name in names:
            path = os.path.join(folder, name)
            expected[os.path.relpath(path, site)] = (os.stat(path).st_size,
                                                     os.stat(path).st_mtime_ns)
    assert engine._site_listing(site) == expected
    assert sorted(expected) == sorted(files)
    assert engine._site_listing(tmp_path / "missing") is None
    (tmp_path / "bare").mkdir()
    assert engine._site_listing(tmp_path / "bare") is None  # no site was published there


def test_a_page_written_ahead_never_reaches_an_in_place_update(tmp_path: Path) -> None:
    """`Written` stands in for bytes only in a staged build; an in-place update given one
    would publish an empty page, so it refuses."""
    out = tmp_path / "site"
    out.mkdir()
    with pytest.raises(RuntimeError, match="written by a worker"):
        update_in_place(out, [("index.html", engine.Written("0" * 32, (0, 0)))], [], {})
    assert not (out / "index.html").exists()


def test_one_build_keeps_no_page_it_wrote(tmp_path: Path) -> None:
    """Only --watch reuses pages: one build, in one process or with workers, holds none
    (at 50,000 notes with --jobs 1 that would be every page's bytes at once)."""
    root = copy_example(tmp_path)
    for jobs in (1, 2):
        builder = Builder(None, jobs=jobs)
        out = tmp_path / f"site-{jobs}"
        assert build(Options(content=root, out=out, today=TODAY, jobs=jobs, cache=False),
                     builder).ok
        assert builder.pages == {}
        assert len(list(out.rglob("index.html"))) > 20


def test_a_page_key_changes_when_only_its_agenda_items_change(tmp_path: Path) -> None:
    """The page-key memo compares each subject's agenda items: an item that changes while
    its note and family stay the same (as a git-only edit can) gives that note a new key,
    and no other note's."""
    root = copy_example(tmp_path)
    builder = Builder(None, jobs=1)
    builder.in_place = True
    options = Options(content=root, out=tmp_path / "site", today=TODAY, cache=False)
    result = build(options, builder)
    assert result.ok and result.content is not None

    def keys(agenda: list[AgendaItem]) -> dict[str, str]:
        assert result.content is not None
        site = make_site(result.content, agenda, TODAY)
        builder.attach_page_cache(site, (default_template_dir(),))
        assert site.page_key is not None
        return {note.path: site.page_key(note) for note in site.content.notes()}

    before = keys(result.agenda)
    assert keys(result.agenda) == before  # nothing changed: every key is reused
    item = next(i for i in result.agenda if i.subject is not None)
    later = dataclasses.replace(item, due=item.due + dt.timedelta(days=1))
    after = keys([later if i is item else i for i in result.agenda])
    assert item.subject is not None
    subject = next(n for n in result.content.notes()
                   if (n.type, n.id) == (item.subject.type, item.subject.id))
    assert {path for path in before if before[path] != after[path]} == {subject.path}


def test_the_feeds_newest_entries_after_each_edit_match_a_fresh_build(generated: Path,
                                                                      tmp_path: Path) -> None:
    """--watch keeps the feed's newest events between rebuilds and lists again only the
    changed notes while none of the newest changed; after each edit, feed.xml must be
    what a fresh build writes."""
    root = tmp_path / "content"
    shutil.copytree(generated, root)
    (tmp_path / "templates").mkdir()  # beside the content: a user's template, used by both
    (tmp_path / "templates" / "index.html").write_text(
        '{{ boom if site.content.changes.get("trigger") else "briefing" }}', encoding="utf-8")
    builder, options = watched(root, tmp_path / "site")

    def in_feed(relative: str) -> bool:
        folder, _slash, name = relative.partition("/")
        feed = (tmp_path / "site" / "feed.xml").read_text(encoding="utf-8")
        return f"/{folder}/{name.removesuffix('.md')}/" in feed

    changes = sorted(p.relative_to(root).as_posix() for p in (root / "changes").glob("*.md"))
    old = next(c for c in changes if not in_feed(c))
    shown = next(c for c in changes if in_feed(c))

    def redate(relative: str) -> None:  # proposed today, undecided: the newest event of all
        path = root / relative
        text = re.sub(r"^decision:\n(?:  .*\n)*", "", path.read_text(encoding="utf-8"),
                      flags=re.M)
        path.write_text(re.sub(r"^date: .*$", f"date: {TODAY}", text, count=1, flags=re.M)
                        .replace("title: ", 'title: "Brought forward"\n# was: ', 1),
                        encoding="utf-8")

    steps: list[tuple[str, Callable[[], None], bool]] = [
        ("an old change's title, not in the feed", lambda: (root / old).write_text(
            (root / old).read_text(encoding="utf-8").replace(
                "title: ", 'title: "Renamed"\n# was: ', 1), encoding="utf-8"), False),
        ("an old change proposed today instead", lambda: redate(old), True),
        ("a change in the feed deleted", lambda: (root / shown).unlink(), False),
        ("a new change", lambda: (root / "changes" / "brand-new.md").write_text(
            (root / old).read_text(encoding="utf-8"), encoding="utf-8"), True),
    ]
    for what, edit, shown_after in steps:
        time.sleep(0.05)  # a tick of the file system's clock, as between two saves
        edit()
        assert build(options, builder).ok, what
        fresh = build(Options(content=root, out=tmp_path / "fresh", today=TODAY, jobs=1,
                              cache=False))
        assert fresh.ok, what
        assert (tmp_path / "site" / "feed.xml").read_bytes() == \
            (tmp_path / "fresh" / "feed.xml").read_bytes(), what
        assert in_feed(old) == shown_after or what == "a change in the feed deleted", what
    assert not in_feed(shown)
    # A build that fails after the page keys and before the feed (the briefing's template
    # fails on a note named "trigger"): the next build must still see what changed in it.
    later = next(c for c in changes if not in_feed(c) and (root / c).exists())
    redate(later)
    trigger = root / "changes" / "trigger.md"
    trigger.write_text((root / old).read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(PublishError):
        build(options, builder)
    trigger.unlink()
    assert build(options, builder).ok
    assert in_feed(later)


def test_a_watched_save_patches_the_last_load_and_matches_a_fresh_build(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the watcher names only notes loaded last time, the last load is patched with
    them (no listing, no reading of the rest); a name it does not know, or a note that no
    longer parses, means a full load. Problems and pages always match a fresh build."""
    root = copy_example(tmp_path)
    builder, options = watched(root, tmp_path / "site")
    full_loads: list[Path] = []
    real_load = engine.load_content
    monkeypatch.setattr(engine, "load_content",
                        lambda root, *rest: full_loads.append(root) or real_load(root, *rest))

    def rewrite(relative: str, old: str, new: str) -> Callable[[], None]:
        def edit() -> None:
            path = root / relative
            text = path.read_text(encoding="utf-8")
            assert old in text, (relative, old)
            path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return edit

    goal, change = "goals/grow-telegram.md", "changes/care-public-replies.md"

    def link_outside() -> None:
        outside = tmp_path / "outside.md"
        outside.write_bytes((root / change).read_bytes())
        (root / change).unlink()
        (root / change).symlink_to(outside)
    steps = [
        ("a goal's title", goal, rewrite(goal, "title:", 'title: "Renamed"\n# was:'), True),
        ("an unknown key: a warning", goal, rewrite(goal, "\n---\n", "\ncolour: blue\n---\n"),
         True),
        ("the warning gone", goal, rewrite(goal, "\ncolour: blue\n", "\n"), True),
        ("a change's body", change, rewrite(change, "\n---\n", "\n---\nA new first line.\n"),
         True),
        ("the goal broken", goal, rewrite(goal, 'title: "Renamed"', "title: [Renamed"), False),
        ("the goal mended: it was not loaded last time", goal,
         rewrite(goal, "title: [Renamed", 'title: "Renamed"'), False),
        ("its title again", goal, rewrite(goal, 'title: "Renamed"', 'title: "Again"'), True),
        ("project.yml", "project.yml", rewrite("project.yml", "Lena Frolova", "Elena Frolova"),
         False),
        ("a note replaced by a link to a file outside the content", change, link_outside,
         False),
    ]
    for what, relative, edit, patched in steps:
        time.sleep(0.05)  # a tick of the file system's clock, as between two saves
        edit()
        builder.changed_hint = frozenset({str(root / relative)})
        loads = len(full_loads)
        result = build(options, builder)
        assert (len(full_loads) == loads) == patched, what
        fresh = build(Options(content=root, out=tmp_path / "fresh", today=TODAY, jobs=1,
                              cache=False))
        assert [p.format_text() for p in result.problems] == \
            [p.format_text() for p in fresh.problems], what
        assert result.ok == fresh.ok == \
            (what not in {"the goal broken", "a note replaced by a link to a file outside the "
                          "content"}), what
        assert ("unknown-key" in {p.code for p in result.problems}) == \
            what.startswith("an unknown key"), what
        if fresh.ok:
            assert tree(tmp_path / "site") == tree(tmp_path / "fresh"), what


def test_a_rebuild_renders_again_only_the_edited_goals_card(generated: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """A goals list page's rows are kept with each goal's page key between rebuilds."""
    root = tmp_path / "content"
    shutil.copytree(generated, root)
    builder = Builder(None, jobs=1)
    builder.in_place = True
    options = Options(content=root, out=tmp_path / "site", today=TODAY, cache=False)
    rendered: list[str] = []
    real_render = jinja2.Template.render

    def render(self: jinja2.Template, *args: object, **kwargs: object) -> str:
        if self.name == "partials/goal_card.html":
            rendered.append(str(kwargs["card"].goal.id))  # type: ignore[attr-defined]
        return real_render(self, *args, **kwargs)
    monkeypatch.setattr(jinja2.Template, "render", render)
    assert build(options, builder).ok
    goals = sorted((root / "goals").glob("*.md"))
    assert len(rendered) == len(goals) > 1  # the first build: every card
    rendered.clear()
    goal = goals[len(goals) // 2]
    goal.write_text(goal.read_text(encoding="utf-8").replace(
        "title: ", 'title: "A new title"\n# was: ', 1), encoding="utf-8")
    builder.changed_hint = frozenset({str(goal)})
    assert build(options, builder).ok
    assert rendered == [goal.stem]
    assert "A new title" in "".join(
        p.read_text(encoding="utf-8") for p in (tmp_path / "site" / "goals").glob("index*.html"))


def test_a_save_renders_only_changed_note_pages_and_never_trusts_a_failed_build(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--watch: after a build that published every page, a note whose page key was kept is
    not looked at again (its page is on disk as it was). After a build that failed midway,
    a page whose key it computed but never published must be rendered again."""
    from smreport import render

    root = copy_example(tmp_path)
    (tmp_path / "templates").mkdir()  # a user's goal page that fails on the title "boom"
    goal_page = (REPO / "templates" / "goal.html").read_text(encoding="utf-8")
    (tmp_path / "templates" / "goal.html").write_text(
        '{% if goal.title == "boom" %}{{ boom() }}{% endif %}' + goal_page, encoding="utf-8")
    briefing = (REPO / "templates" / "index.html").read_text(encoding="utf-8")
    (tmp_path / "templates" / "index.html").write_text(  # and a briefing that fails on a note
        '{% if site.content.disputes.get("trigger") %}{{ boom() }}{% endif %}' + briefing,
        encoding="utf-8")
    builder, options = watched(root, tmp_path / "site")
    rendered: list[str] = []  # the notes whose page was looked at (cached or rendered)
    real_note_page = render.Site.note_page

    def spy(site: render.Site, note: Any) -> tuple[str, bytes]:
        rendered.append(note.path)
        return real_note_page(site, note)
    monkeypatch.setattr(render.Site, "note_page", spy)

    def retitle(name: str, title: str) -> str:
        path = root / "goals" / f"{name}.md"
        path.write_text(re.sub(r"^title: .*$", f'title: "{title}"',
                               path.read_text(encoding="utf-8"), count=1, flags=re.M),
                        encoding="utf-8")
        return f"goals/{name}.md"

    def fresh() -> dict[str, str]:
        assert build(Options(content=root, out=tmp_path / "fresh", today=TODAY, jobs=1,
                             cache=False, template_dirs=(tmp_path / "templates",))).ok
        return tree(tmp_path / "fresh")

    saved = retitle("winter-gift-boxes", "Boxes for the New Year")
    assert build(options, builder).ok
    assert rendered == [saved]  # and its family's pages (it has no changes)
    assert tree(tmp_path / "site") == fresh()
    # One save: the first goal fails to render, so the build stops before the second.
    rendered.clear()
    first, second = retitle("care-response-time", "boom"), retitle("tasting-marathon", "New")
    before = tree(tmp_path / "site")
    with pytest.raises(PublishError):
        build(options, builder)
    assert rendered[-1] == first and second not in rendered  # after the first's changes
    assert tree(tmp_path / "site") == before  # a failed build leaves the site as it was
    retitle("care-response-time", "Mended")  # the second goal's key is kept from the failure
    assert build(options, builder).ok
    assert second in rendered
    assert tree(tmp_path / "site") == fresh()
    # A build that fails in the briefing, after the glance asked for the goals' page keys
    # and before the goals list was planned: the list's key from the build before is stale.
    retitle("repeat-orders", "Renamed before a failure")
    trigger = root / "disputes" / "trigger.md"
    trigger.write_text((root / "disputes" / "maps-reviews.md").read_text(encoding="utf-8"),
                       encoding="utf-8")
    with pytest.raises(PublishError):
        build(options, builder)
    trigger.unlink()
    assert build(options, builder).ok
    assert tree(tmp_path / "site") == fresh()


def test_the_glance_is_kept_between_saves_until_its_notes_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--watch keeps the glance's review summary, friction and decided count while the
    notes they read are the same objects; a save to a review, a dispute or a change
    brings its part up to date, as a fresh build shows it."""
    from smreport import views

    root = copy_example(tmp_path)
    builder, options = watched(root, tmp_path / "site")
    computed: list[str] = []
    for name in ("_review_summary", "_friction"):
        real = getattr(views, name)

        def spy(*args: Any, _real: Any = real, _name: str = name) -> Any:
            computed.append(_name)
            return _real(*args)
        monkeypatch.setattr(views, name, spy)

    def edit(relative: str, old: str, new: str) -> list[str]:
        """Save one note; what the glance computed again, checked against a fresh build."""
        path = root / relative
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        builder.changed_hint = frozenset({str(root / relative)})
        computed.clear()
        assert build(options, builder).ok
        again = list(computed)
        assert build(Options(content=root, out=tmp_path / "fresh", today=TODAY, jobs=1,
                             cache=False)).ok
        assert (tmp_path / "site" / "index.html").read_bytes() == \
            (tmp_path / "fresh" / "index.html").read_bytes(), relative
        return again

    assert edit("goals/grow-telegram.md", "title:", 'title: "Renamed"\n# title:') == []
    assert edit("reviews/review-2026-10.md", "reviewer: morozova", "reviewer: volkov") == \
        ["_review_summary"]
    assert edit("disputes/maps-reviews.md", "  - person: belov", "  - person: zaitsev") == \
        ["_friction"]


@pytest.mark.parametrize("count", [0, 1, 7, 200, 5000, 50_000])
def test_guided_chunks_cover_every_note_once_and_shrink_towards_the_end(count: int) -> None:
    """The parse chunks: every index once, in order, never larger than 256, each no larger
    than the one before, and small at the end (no worker is left with a long last chunk)."""
    chunks = engine.guided_chunks(count, 2)
    assert [index for chunk in chunks for index in chunk] == list(range(count))
    sizes = [len(chunk) for chunk in chunks]
    assert all(0 < size <= 256 for size in sizes)
    assert sizes == sorted(sizes, reverse=True)
    assert all(size <= 8 for size in sizes[-4:])


def test_a_batch_of_notes_is_parsed_whole_before_any_body_is_rendered(
        generated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """parse_and_render parses its whole batch, then renders the bodies (alternating YAML and
    Markdown note by note costs about 10% more CPU); one process works in batches of
    SINGLE_BATCH, and the results are those of each note alone."""
    events: list[str] = []
    real_render = engine.render_markdown

    def parse(source: load_module.SourceFile) -> Any:
        events.append("parse")
        return load_module.parse_source(source)

    def render(text: str, path: str) -> str:
        events.append("render")
        return real_render(text, path)
    monkeypatch.setattr(engine, "render_markdown", render)
    inventory = load_module.take_inventory(generated)
    sources = list(load_module.read_sources(inventory, [], read_in_parse=True))
    count = engine.SINGLE_BATCH + 5
    batch = engine.parse_and_render(parse, sources[:count])
    assert events == ["parse"] * count + ["render"] * count
    alone = [engine.parse_and_render(load_module.parse_source, [source])[0]
             for source in sources[:count]]
    assert [(result[0], html, data_hash) for result, html, data_hash in batch] == \
        [(result[0], html, data_hash) for result, html, data_hash in alone]
    events.clear()
    results = list(Builder(None, jobs=1)._run(functools.partial(engine.parse_and_render, parse),
                                               sources[:count]))
    assert len(results) == count
    assert events == (["parse"] * engine.SINGLE_BATCH + ["render"] * engine.SINGLE_BATCH
                      + ["parse"] * 5 + ["render"] * 5)


def test_parse_workers_send_their_results_pickled_and_the_main_thread_unpickles_them(
        generated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A forked parse worker returns each chunk's results as one bytes object (the main
    process's result thread then only copies it, and the worker is not held until its
    notes are unpickled); the main thread unpickles them into exactly what one process
    makes."""
    if not engine.CAN_FORK:
        pytest.skip("spawned workers receive and return their batches as they are")
    kinds: list[type] = []
    real_unpack = engine._unpack

    def unpack(batch: Any) -> Any:
        kinds.append(type(batch))
        return real_unpack(batch)
    monkeypatch.setattr(engine, "_unpack", unpack)
    inventory = load_module.take_inventory(generated)
    sources = list(load_module.read_sources(inventory, [], read_in_parse=True))
    work = functools.partial(engine.parse_and_render, load_module.parse_source)
    parallel = list(Builder(None, jobs=2)._run(work, sources))
    assert len(kinds) > 1 and set(kinds) == {bytes}
    assert parallel == list(Builder(None, jobs=1)._run(work, sources))


KILLER = """
import os, signal, sys
from smreport import cli, engine, render
# As in a terminal: a test runner started in the background may pass SIGINT on ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)
victim = sys.argv[1]
stage = sys.argv[2]
if stage == "interrupt":
    real = engine.render_markdown
    def render_markdown(text, path):
        if path == victim:
            os.killpg(os.getpgid(0), signal.SIGINT)  # Ctrl-C, as a terminal sends it
        return real(text, path)
    engine.render_markdown = render_markdown
elif stage == "parse":
    real = engine.render_markdown
    def render_markdown(text, path):
        if path == victim:
            os.kill(os.getpid(), signal.SIGKILL)  # in a parse worker
        return real(text, path)
    engine.render_markdown = render_markdown
else:
    real_note = render.render_note
    def render_note(site, note):
        if note.path == victim:
            os.kill(os.getpid(), signal.SIGKILL)  # in a page worker
        return real_note(site, note)
    render.render_note = render_note
sys.exit(cli.main(sys.argv[3:]))
"""


@pytest.mark.parametrize("stage", ["parse", "page"])
def test_a_worker_killed_mid_build_fails_the_build_clearly_instead_of_hanging(
        stage: str, generated: Path, tmp_path: Path) -> None:
    """A worker the kernel kills (out of memory) takes its chunk with it: the build stops
    with a message saying what happened and what to do, exit status 1, nothing written.
    (multiprocessing.Pool, used before, waited forever for the lost chunk.)"""
    victim = sorted((generated / "changes").glob("*.md"))[3]
    out = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-c", KILLER, f"changes/{victim.name}", stage, "build",
         "--content", str(generated), "--out", str(out), "--today", "2026-11-26",
         "--no-cache", "--jobs", "2"],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "smreport: a worker process stopped before finishing its work" in done.stderr
    assert "--jobs 1" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".smreport-")]


def test_ctrl_c_while_workers_parse_stops_the_build_at_once_and_quietly(
        generated: Path, tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group: the workers leave it to the main process,
    which cancels the chunks not started, says "Interrupted." (status 130), writes nothing
    and shows no worker's traceback."""
    victim = sorted((generated / "changes").glob("*.md"))[3]
    out = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-c", KILLER, f"changes/{victim.name}", "interrupt", "build",
         "--content", str(generated), "--out", str(out), "--today", "2026-11-26",
         "--no-cache", "--jobs", "2"],
        capture_output=True, text=True, timeout=120, cwd=REPO, start_new_session=True)
    assert done.returncode == 130, done.stdout + done.stderr
    assert done.stderr.strip() == "Interrupted.", done.stderr
    assert not out.exists()


def _interrupt_handler(_task: int) -> object:
    return signal.getsignal(signal.SIGINT)


def test_workers_leave_ctrl_c_to_the_main_process() -> None:
    """A terminal's Ctrl-C reaches every process of the group; forked workers ignore it, so
    an idle one does not die with a traceback while the main process stops the build."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    pool = engine.worker_pool(2)
    try:
        assert list(pool.map(_interrupt_handler, range(4))) == [signal.SIG_IGN] * 4
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # ours: as it was
    finally:
        pool.shutdown()
        signal.signal(signal.SIGINT, before)


def test_spawned_workers_where_the_system_cannot_fork_give_the_same_site(
        generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without fork (Windows), the parse workers are spawned and receive each batch of
    notes, unread, and the pages are rendered in this process: the same bytes and the
    same stamp as a plain build."""
    reference = plain_build(generated, tmp_path / "plain")
    spawned: list[bool] = []
    real_pool = engine.worker_pool

    def pool(jobs: int, fork: bool = True) -> Any:
        spawned.append(not fork)
        return real_pool(jobs, fork)
    monkeypatch.setattr(engine, "CAN_FORK", False)
    monkeypatch.setattr(engine, "worker_pool", pool)
    options = Options(content=generated, out=tmp_path / "site", today=TODAY, jobs=2,
                      cache_dir=tmp_path / "cache")
    assert build(options).ok
    assert spawned == [True]  # the parse; no page workers
    assert tree(tmp_path / "site") == reference
    monkeypatch.undo()
    assert build(options).unchanged


def test_page_templates_are_compiled_while_the_parse_workers_run_and_inherited(
        generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The main process compiles the theme while it waits for the parse workers, so the
    page workers it forks next compile nothing (each would otherwise compile it again)."""
    log = tmp_path / "compiled.log"
    events: list[str] = []  # this process's own
    compile_template = jinja2.Environment.compile
    real_pool = engine.worker_pool

    def spy(self: jinja2.Environment, *args: Any, **kwargs: Any) -> Any:
        with open(log, "a", encoding="utf-8") as handle:  # forked workers write here too
            handle.write(f"{os.getpid()}\n")
        events.append("compile")
        return compile_template(self, *args, **kwargs)

    def pool(jobs: int, fork: bool = True) -> Any:
        events.append("pool")
        return real_pool(jobs, fork)

    monkeypatch.setattr(jinja2.Environment, "compile", spy)
    monkeypatch.setattr(engine, "worker_pool", pool)
    render_module._ENVIRONMENTS.clear()  # nothing compiled by an earlier test
    out = tmp_path / "site"
    result = build(Options(content=generated, out=out, today=TODAY, jobs=2, cache=False))
    assert result.ok
    assert tree(out) == plain_build(generated, tmp_path / "plain")
    themes = [name for name in render_module.make_environment().list_templates()
              if name.endswith(".html")]
    # parse pool, then every template of the theme, then the page pool
    assert events[:len(themes) + 2] == ["pool", *["compile"] * len(themes), "pool"]
    assert set(log.read_text(encoding="utf-8").split()) == {str(os.getpid())}


def test_a_broken_template_is_reported_with_its_line_by_a_parallel_build_too(
        generated: Path, tmp_path: Path) -> None:
    """Compiling ahead reports nothing: the build reports a broken template as it always
    did, file and line, and leaves the previous site as it was."""
    own = tmp_path / "own"
    own.mkdir()
    (own / "goal.html").write_text('{% extends "base.html" %}\n{% block main %}\n'
                                   '{% for x in %}{% endblock %}\n', encoding="utf-8")
    (own / "unused.html").write_text("{% if %}\n", encoding="utf-8")  # never rendered
    out = tmp_path / "site"
    assert build(Options(content=generated, out=out, today=TODAY, jobs=2, cache=False)).ok
    previous = tree(out)
    for jobs in (2, 1):
        render_module._ENVIRONMENTS.clear()
        with pytest.raises(PublishError) as raised:
            build(Options(content=generated, out=out, today=TODAY, jobs=jobs, cache=False,
                          template_dirs=(own,)))
        assert str(raised.value).startswith(f"{own / 'goal.html'}:3: template error: ")
        assert str(raised.value).endswith("; the site was not written")
        assert tree(out) == previous


IMPORT_SPY = """
import sys
from smreport import cli, engine
seen = []
real_pool = engine.worker_pool
def pool(jobs, fork=True):
    seen.append(sorted(m for m in ("jinja2", "babel", "smreport.render") if m in sys.modules))
    return real_pool(jobs, fork)
engine.worker_pool = pool
status = cli.main(sys.argv[1:])
print(status, seen, sorted(m for m in ("jinja2", "babel", "smreport.render") if m in sys.modules))
"""


def test_check_never_imports_the_renderer_and_a_build_only_once_its_workers_parse(
        generated: Path, tmp_path: Path) -> None:
    """Jinja2, the theme's code and Babel's data take about 0.1 s to import: `check` never
    needs them, and a build forks its parse workers before importing them."""
    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, "-c", IMPORT_SPY, *args], cwd=REPO,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]  # after what the command printed

    today = TODAY.isoformat()
    assert run("check", "--content", str(generated), "--today", today) == "0 [[]] []"
    built = run("build", "--content", str(generated), "--out", str(tmp_path / "site"),
                "--today", today, "--no-cache")
    # the parse pool, forked with none of them; the page pool, once all are imported
    assert built == ("0 [[], ['babel', 'jinja2', 'smreport.render']] "
                     "['babel', 'jinja2', 'smreport.render']")


def test_a_template_that_is_not_utf8_is_a_clear_error_not_a_traceback(
        generated: Path, tmp_path: Path) -> None:
    own = tmp_path / "own"
    own.mkdir()
    (own / "team.html").write_bytes(b'{% extends "base.html" %}\n\xff\xfe')  # Latin-1 or UTF-16
    out = tmp_path / "site"
    for jobs in ("2", "1"):
        done = run_build_py("--content", str(generated), "--out", str(out), "--templates",
                            str(own), "--jobs", jobs, "--no-cache", "--today", "2026-11-26")
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        assert done.stderr.strip() == (
            f"smreport: {own / 'team.html'}:1: template error: the file is not UTF-8 text "
            "(byte 26 cannot be read); save it as UTF-8; the site was not written")
        assert not out.exists()


def test_a_template_that_cannot_be_read_is_a_clear_error_naming_it(generated: Path,
                                                                  tmp_path: Path) -> None:
    own = tmp_path / "own"
    own.mkdir()
    # Reading a process's memory from address 0 fails with EIO, even as root (which reads
    # any file whatever its mode).
    (own / "team.html").symlink_to("/proc/self/mem")
    out = tmp_path / "site"
    for jobs in ("2", "1"):
        done = run_build_py("--content", str(generated), "--out", str(out), "--templates",
                            str(own), "--jobs", jobs, "--no-cache", "--today", "2026-11-26")
        assert done.returncode == 1, done.stderr
        assert done.stderr.strip() == (
            f"smreport: {own / 'team.html'}:1: template error: the file cannot be read "
            "(Input/output error); make it a readable text file or remove it; the site was "
            "not written")
        assert not out.exists()


def test_the_notes_a_build_parsed_are_cached_even_when_a_template_then_fails(
        generated: Path, tmp_path: Path) -> None:
    """The parse workers keep their notes in shards as they parse: fixing a template, the
    next build parses no note and renders no Markdown body again."""
    own = tmp_path / "own"
    own.mkdir()
    (own / "team.html").write_text("{% for x in %}\n", encoding="utf-8")
    cache = tmp_path / "cache"
    cache.mkdir()  # as a build that succeeded leaves it: shards go only into it
    options = Options(content=generated, out=tmp_path / "site", today=TODAY, jobs=2,
                      cache_dir=cache, template_dirs=(own,))
    render_module._ENVIRONMENTS.clear()
    with pytest.raises(PublishError, match="team.html:1: template error"):
        build(options)
    (own / "team.html").unlink()
    builder = Builder(cache, jobs=2)
    assert build(options, builder).ok
    assert builder.stats["parsed"] == 0
    assert builder.stats["bodies"] == 0
