"""A build keeps its parsed notes in shards; the next one parses only what changed."""

from __future__ import annotations

import dataclasses
import pickle
import shutil
import sys
from pathlib import Path

import pytest

from smreport import engine
from smreport.engine import Builder, code_fingerprint, read_shard
from smreport.load import take_inventory
from smreport.pipeline import Options, build, check

from .conftest import REPO, TODAY, append, plain_build, tree

sys.path.insert(0, str(REPO / "benchmarks"))
from generate import generate  # noqa: E402


@pytest.fixture(scope="module")
def notes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Enough for the parse workers, and for three shards of SINGLE_BATCH with --jobs 1.
    return generate(tmp_path_factory.mktemp("gen") / "content", engine.PARALLEL_THRESHOLD + 60)


@pytest.fixture
def content(notes: Path, tmp_path: Path) -> Path:
    """A copy of the notes, and `tmp_path / "cache"` as a build that succeeded leaves it
    (shards go only into a cache folder that exists)."""
    root = tmp_path / "content"
    shutil.copytree(notes, root)
    (tmp_path / "cache").mkdir()
    return root


def shards(cache: Path) -> dict[str, list[str | None]]:
    """Each shard file of this version of smreport with its source keys."""
    folder = cache / f"parsed-{code_fingerprint()}"
    return {path.name: read_shard(path)[0] for path in sorted(folder.glob("*.pickle"))}


def rebuild(options: Options, jobs: int = 2) -> Builder:
    """A build as a new run makes it (a new Builder reading the cache folder)."""
    builder = Builder(options.cache_dir, jobs=jobs)
    result = build(dataclasses.replace(options, jobs=jobs), builder)
    assert result.ok, result.problems
    return builder




@pytest.mark.parametrize("jobs", [1, 2])
def test_a_rebuild_parses_only_new_and_changed_notes(jobs: int, content: Path,
                                                     tmp_path: Path) -> None:
    options = Options(content=content, out=tmp_path / "site", today=TODAY, jobs=jobs,
                      cache_dir=tmp_path / "cache")
    first = rebuild(options, jobs)
    count = len(list(content.glob("*/*.md")))
    assert first.stats["parsed"] == count
    held = shards(tmp_path / "cache")
    assert sorted(key for keys in held.values() for key in keys if key) == sorted(first.parsed)
    if jobs == 1:  # one shard a batch of the single process
        assert [len(keys) for keys in held.values()].count(engine.SINGLE_BATCH) \
            == count // engine.SINGLE_BATCH
    goals = sorted((content / "goals").glob("*.md"))
    append(goals[0], "\nEdited.\n")  # edited
    dispute = sorted((content / "disputes").glob("*.md"))[0]
    dispute.rename(dispute.with_name("renamed-dispute.md"))  # renamed: a new path
    (content / "reviews" / "review-extra.md").write_text(
        next((content / "reviews").glob("*.md")).read_text(encoding="utf-8").replace(
            "title:", "title: Another\n# title:", 1), encoding="utf-8")  # added
    sorted((content / "changes").glob("*.md"))[0].unlink()  # deleted
    second = rebuild(options, jobs)
    # A body is keyed by its note's path too: the renamed and added notes' are rendered.
    assert second.stats == {"parsed": 3, "cached": count - 3, "bodies": 3}
    assert tree(tmp_path / "site") == plain_build(content, tmp_path / "plain")
    # The three are in a shard of their own now, read by the next build.
    append(goals[2], "\nEdited too.\n")
    third = rebuild(options, jobs)
    assert third.stats["parsed"] == 1
    assert tree(tmp_path / "site") == plain_build(content, tmp_path / "plain2")


def test_a_shard_whose_notes_mostly_changed_is_dropped_and_its_other_notes_parsed_again(
        content: Path, tmp_path: Path) -> None:
    options = Options(content=content, out=tmp_path / "site", today=TODAY, jobs=1,
                      cache_dir=tmp_path / "cache")
    first = rebuild(options, jobs=1)
    before = shards(tmp_path / "cache")
    # The single process parses the notes in inventory order, a batch a shard: the first
    # shard holds the first SINGLE_BATCH notes.
    first_batch = [(relative, path) for _type, relative, path in take_inventory(content).notes
                   ][:engine.SINGLE_BATCH]
    first_keys = [first.source_keys[relative] for relative, _path in first_batch]
    first_shard = next(name for name, keys in before.items() if keys == first_keys)
    for _relative, path in first_batch[:engine.SINGLE_BATCH // 2 + 1]:
        append(path, "\nEdited.\n")
    builder = rebuild(options, jobs=1)
    after = shards(tmp_path / "cache")
    # That shard is gone; its unchanged notes were parsed again with the changed ones.
    assert builder.stats["parsed"] == engine.SINGLE_BATCH
    assert set(before) - set(after) == {first_shard}
    assert sorted(key for keys in after.values() for key in keys if key) \
        == sorted(builder.source_keys.values())  # nothing stale is kept
    assert tree(tmp_path / "site") == plain_build(content, tmp_path / "plain")
    # Changes to fewer than half a shard's notes keep it: only those notes are parsed.
    for _relative, path in first_batch[-3:]:
        append(path, "\nEdited again.\n")
    assert rebuild(options, jobs=1).stats["parsed"] == 3


def test_shards_stay_at_most_about_twice_the_notes_over_many_rebuilds(
        content: Path, tmp_path: Path) -> None:
    options = Options(content=content, out=tmp_path / "site", today=TODAY, jobs=1,
                      cache_dir=tmp_path / "cache")
    rebuild(options, jobs=1)
    paths = sorted(content.glob("*/*.md"))
    count = len(paths)
    for round_ in range(12):  # edit a tenth of the notes, spread over every shard
        for path in paths[round_ % 10::10]:
            append(path, f"\nRound {round_}.\n")
        rebuild(options, jobs=1)
        held = sum(len(keys) for keys in shards(tmp_path / "cache").values())
        assert count <= held <= 2 * count
    assert tree(tmp_path / "site") == plain_build(content, tmp_path / "plain")


def test_damaged_shards_and_other_versions_shards_are_deleted_never_trusted(
        content: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    options = Options(content=content, out=tmp_path / "site", today=TODAY, jobs=1,
                      cache_dir=cache)
    first = rebuild(options, jobs=1)
    folder = cache / f"parsed-{code_fingerprint()}"
    truncated, mismatched = sorted(folder.glob("*.pickle"))[:2]
    lost = {key for path in (truncated, mismatched) for key in read_shard(path)[0]}
    truncated.write_bytes(truncated.read_bytes()[:1000])
    keys, backend, results = read_shard(mismatched)
    mismatched.write_bytes(pickle.dumps((keys[:-1], backend, pickle.dumps(results))))
    old = cache / "parsed-0123456789abcdef"  # another version's
    shutil.copytree(folder, old)
    edited = next(content.glob("goals/*.md"))
    append(edited, "\nEdited.\n")
    builder = rebuild(options, jobs=1)
    assert not old.exists()
    for path in folder.glob("*.pickle"):  # the damaged ones deleted, or written anew
        read_shard(path)
    edited_key = first.source_keys[edited.relative_to(content).as_posix()]
    assert builder.stats["parsed"] == len(lost | {edited_key})
    assert tree(tmp_path / "site") == plain_build(content, tmp_path / "plain")
    # A new version of smreport starts from nothing and deletes the old shards.
    monkeypatch.setattr(engine, "code_fingerprint", lambda: "fedcba9876543210")
    append(edited, "\nEdited again.\n")
    builder = rebuild(options, jobs=1)
    assert builder.stats["parsed"] == len(list(content.glob("*/*.md")))
    assert not folder.exists() and (cache / "parsed-fedcba9876543210").is_dir()


def test_a_shard_that_cannot_be_written_only_costs_its_parse_next_time(
        content: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    options = Options(content=content, out=tmp_path / "site", today=TODAY, jobs=2,
                      cache_dir=cache)

    real_write = engine.write_pickle

    def full(path: Path, value: object) -> None:
        if path.parent.name.startswith("parsed-"):
            raise OSError(28, "No space left on device")
        real_write(path, value)
    monkeypatch.setattr(engine, "write_pickle", full)
    rebuild(options)  # the workers inherit the failing writer
    assert shards(cache) == {}
    monkeypatch.undo()
    assert tree(tmp_path / "site") == plain_build(content, tmp_path / "plain")
    # The shard folder's name taken by a file: no shards, the build goes on.
    shutil.rmtree(cache / f"parsed-{code_fingerprint()}")
    (cache / f"parsed-{code_fingerprint()}").write_text("in the way", encoding="utf-8")
    append(next(content.glob("goals/*.md")), "\nEdited.\n")
    assert rebuild(options).stats["parsed"] == len(list(content.glob("*/*.md")))
    assert tree(tmp_path / "site") == plain_build(content, tmp_path / "plain2")


def test_another_parse_setting_parses_every_note_again(content: Path, tmp_path: Path
                                                       ) -> None:
    options = Options(content=content, out=tmp_path / "site", today=TODAY, jobs=1,
                      cache_dir=tmp_path / "cache")
    rebuild(options, jobs=1)
    project = content / "project.yml"
    text = project.read_text(encoding="utf-8")
    assert "max_note_bytes" not in text
    project.write_text(text.replace("rules:", "rules:\n  max_note_bytes: 400000", 1)
                       if "rules:" in text else text + "rules:\n  max_note_bytes: 400000\n",
                       encoding="utf-8")
    builder = rebuild(options, jobs=1)
    assert builder.stats["parsed"] == len(list(content.glob("*/*.md")))
    assert tree(tmp_path / "site") == plain_build(content, tmp_path / "plain")


def test_watch_takes_the_bodies_of_the_shards_and_parses_the_notes_itself(
        content: Path, tmp_path: Path) -> None:
    """A build's notes are kept without their Markdown text, which --watch needs to render
    a body again; their HTML it can use."""
    cache = tmp_path / "cache"
    rebuild(Options(content=content, out=tmp_path / "site", today=TODAY, cache_dir=cache))
    watcher = Builder(cache, jobs=1)
    watcher.in_place = True
    assert build(Options(content=content, out=tmp_path / "watched", today=TODAY,
                         cache_dir=cache, jobs=1), watcher).ok
    count = len(list(content.glob("*/*.md")))
    assert watcher.stats == {"parsed": count, "cached": 0, "bodies": 0}
    assert all(result[0] is None or getattr(result[0], "body", "") != ""
               for result in watcher.parsed.values())  # every note with its text
    assert tree(tmp_path / "watched") == tree(tmp_path / "site")


def test_check_takes_the_notes_a_build_parsed_from_its_shards_and_writes_nothing(
        content: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    rebuild(Options(content=content, out=tmp_path / "site", today=TODAY, cache_dir=cache))
    goals = sorted((content / "goals").glob("*.md"))
    text = goals[0].read_text(encoding="utf-8")
    owner = text.split("\nowner: ", 1)[1].split("\n", 1)[0]
    goals[0].write_text(text.replace(f"\nowner: {owner}", "\nowner: nobody-known"),
                        encoding="utf-8")  # an error: an unknown person
    append(goals[1], "\nA [link](../goals/missing.md).\n")  # a warning: a broken link
    folder = cache / f"parsed-{code_fingerprint()}"
    damaged = sorted(folder.glob("*.pickle"))[-1]
    lost = len(read_shard(damaged)[0])
    damaged.write_bytes(b"not a shard")
    before = tree(cache)
    count = len(list(content.glob("*/*.md")))
    for jobs in (1, 2):
        options = Options(content=content, today=TODAY, jobs=jobs, cache_dir=cache)
        builder = Builder(cache, jobs=jobs, render_bodies=False)
        result = check(options, builder)
        plain_result = check(dataclasses.replace(options, cache=False))
        assert result.problems == plain_result.problems
        assert {p.code for p in result.errors} == {"unknown-person"}
        assert "broken-link" in {p.code for p in result.problems}
        # The two edited notes and the damaged shard's are parsed; the rest come from shards.
        assert builder.stats["parsed"] == 2 + lost, builder.stats
        assert builder.stats["cached"] == count - 2 - lost
        assert builder.bodies == {}  # check keeps no HTML
    assert tree(cache) == before  # nothing written, nothing deleted, the damaged shard kept


def test_check_on_the_command_line_reads_the_cache_unless_told_not_to(
        content: Path, tmp_path: Path) -> None:
    import subprocess  # noqa: PLC0415

    cache = content.parent / ".smreport-cache"  # the default: beside the content root
    cache.mkdir()
    rebuild(Options(content=content, out=tmp_path / "site", today=TODAY, cache_dir=cache))
    append(sorted((content / "goals").glob("*.md"))[0], "\n[x](missing.md)\n")
    before = tree(cache)
    outputs = []
    for extra in ([], ["--no-cache"]):
        run = subprocess.run([sys.executable, "-m", "smreport", "check", "--content",
                              str(content), "--today", "2026-11-26", "--format", "json",
                              *extra], capture_output=True, text=True, timeout=120, cwd=REPO)
        assert run.returncode == 0, run.stderr  # a warning only
        outputs.append(run.stdout)
    assert outputs[0] == outputs[1] and "broken-link" in outputs[0]
    assert tree(cache) == before


def test_a_refused_output_folder_writes_no_shard(content: Path, tmp_path: Path) -> None:
    from smreport.publish import PublishError  # noqa: PLC0415

    cache = tmp_path / "cache"
    with pytest.raises(PublishError, match="inside the content root"):
        build(Options(content=content, out=content / "site", today=TODAY, cache_dir=cache))
    assert tree(cache) == {}


def test_a_first_build_whose_notes_fail_leaves_nothing_beside_the_content(
        notes: Path, tmp_path: Path) -> None:
    """The cache folder is made by the first build that succeeds, with its stamp; shards go
    only into a cache folder made before, so a project's first build writes none."""
    content = tmp_path / "content"
    shutil.copytree(notes, content)
    goal = sorted((content / "goals").glob("*.md"))[0]
    text = goal.read_text(encoding="utf-8")
    goal.write_text(text.replace("\nowner:", "\nowner: [\n", 1), encoding="utf-8")
    before = sorted(path.name for path in tmp_path.iterdir())
    options = Options(content=content, out=tmp_path / "site", today=TODAY, jobs=2)
    assert not build(options).ok
    assert sorted(path.name for path in tmp_path.iterdir()) == before
    goal.write_text(text, encoding="utf-8")
    first = Builder(options.cache_folder(), jobs=2)
    assert build(options, first).ok
    cache = tmp_path / ".smreport-cache"
    assert list(cache.glob("stamp-*.pickle")) and shards(cache) == {}
    append(goal, "\nEdited.\n")
    second = Builder(options.cache_folder(), jobs=2)
    assert build(options, second).ok  # parses every note, into shards
    assert second.stats["parsed"] == len(list(content.glob("*/*.md"))) and shards(cache)


# --- a cache that cannot be used costs only time --------------------------------------


def test_a_cache_folder_that_cannot_be_made_is_done_without_with_a_notice(
        tmp_path: Path) -> None:
    import subprocess  # noqa: PLC0415

    content = tmp_path / "content"
    shutil.copytree(REPO / "content", content)
    (tmp_path / ".smreport-cache").write_text("not a folder", encoding="utf-8")
    command = [sys.executable, "-m", "smreport", "build", "--content", str(content),
               "--out", str(tmp_path / "site"), "--today", "2026-11-26"]
    for _ in range(2):  # a first build, then one into the site it built
        run = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO)
        assert run.returncode == 0, run.stderr
        assert f"notice: the cache folder {tmp_path / '.smreport-cache'} cannot be made " \
               "(a file is in the way); this build does without it" in run.stderr
    assert (tmp_path / ".smreport-cache").read_text(encoding="utf-8") == "not a folder"
    assert tree(tmp_path / "site") == plain_build(content, tmp_path / "plain")


def test_a_stamp_or_bodies_file_that_cannot_be_written_costs_only_time(
        content: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    real_write = engine.write_pickle

    def full(path: Path, value: object) -> None:
        if path.name.startswith(("stamp-", "notes-")):
            raise OSError(28, "No space left on device")
        real_write(path, value)
    monkeypatch.setattr(engine, "write_pickle", full)
    options = Options(content=content, out=tmp_path / "site", today=TODAY, jobs=1,
                      cache_dir=cache)
    assert build(options).ok
    assert not list(cache.glob("stamp-*"))
    assert not build(options).unchanged  # no stamp: built again, and fine
    watcher = Builder(cache, jobs=1)  # --watch writes the bodies when it stops
    watcher.in_place = True
    assert build(Options(content=content, out=tmp_path / "watched", today=TODAY, jobs=1,
                         cache_dir=cache), watcher).ok
    watcher.save_cache()
    assert not list(cache.glob("notes-*"))
    assert tree(tmp_path / "site") == plain_build(content, tmp_path / "plain")


def test_shards_that_cannot_be_listed_or_removed_cost_only_time(
        content: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A shard folder that cannot be listed, or shards that cannot be removed (a
    read-only disk, another user's folder: root can do both here, so both are made to
    fail), never fail a build or a check."""
    cache = tmp_path / "cache"
    options = Options(content=content, out=tmp_path / "site", today=TODAY, jobs=1,
                      cache_dir=cache)
    rebuild(options, jobs=1)
    folder = cache / f"parsed-{code_fingerprint()}"
    real_glob, real_unlink = Path.glob, Path.unlink

    def glob(path: Path, pattern: str) -> object:
        if path == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return real_glob(path, pattern)
    monkeypatch.setattr(Path, "glob", glob)
    append(next(content.glob("goals/*.md")), "\nEdited.\n")
    builder = rebuild(options, jobs=1)
    assert builder.stats["parsed"] == len(list(content.glob("*/*.md")))  # none taken
    assert check(dataclasses.replace(options, out=Path("unused"))).ok
    monkeypatch.undo()

    def unlink(path: Path, missing_ok: bool = False) -> None:
        if path.parent == folder:
            raise PermissionError(13, "Permission denied", str(path))
        real_unlink(path, missing_ok)
    monkeypatch.setattr(Path, "unlink", unlink)
    for path in list(content.glob("*/*.md"))[::2]:  # most shards go stale: dropped
        append(path, "\nEdited again.\n")
    next(folder.glob("*.pickle")).write_bytes(b"damaged")
    rebuild(options, jobs=1)
    monkeypatch.undo()
    assert tree(tmp_path / "site") == plain_build(content, tmp_path / "plain")


def test_another_markdown_backend_parses_every_note_again_and_renders_its_bodies(
        content: Path, tmp_path: Path) -> None:
    """A shard's bodies were rendered by one backend, and its notes come without their
    Markdown text: a build with the other backend takes neither, and drops the shard."""
    cache = tmp_path / "cache"
    options = Options(content=content, out=tmp_path / "site", today=TODAY, jobs=1,
                      cache_dir=cache)
    rebuild(options, jobs=1)
    count = len(list(content.glob("*/*.md")))
    other = rebuild(dataclasses.replace(options, markdown="cmark-gfm"), jobs=1)
    assert other.stats == {"parsed": count, "cached": 0, "bodies": count}  # rendered anew
    assert {read_shard(path)[1] for path in
            (cache / f"parsed-{code_fingerprint()}").glob("*.pickle")} == {"cmark-gfm"}
    plain = build(Options(content=content, out=tmp_path / "plain", today=TODAY, jobs=1,
                          cache=False, markdown="cmark-gfm"))
    assert plain.ok and tree(tmp_path / "site") == tree(tmp_path / "plain")
    # And check takes the notes whatever rendered their bodies.
    checker = Builder(cache, jobs=1, render_bodies=False)
    assert check(options, checker).ok and checker.stats["cached"] == count
