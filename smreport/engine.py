"""Builds that remember: parse results and rendered bodies cached by content, work in parallel.

A `Builder` is used once by `smreport build` and for a whole day by
`--watch`. Each note is parsed, and its Markdown body rendered, at most once
per distinct content. Both are kept in memory between rebuilds, and on disk
between runs when a cache folder is given:
- a build keeps its parsed notes with their HTML in *shards*, one per batch of
  notes its workers parsed, written by the worker itself from the bytes it
  sends back anyway (see `write_shard`): keeping them costs the build no
  pickling. The next build reads them all back (0.13 s at 5,000 notes, against
  1.2 s of parsing again) and parses only notes whose bytes changed. A shard
  most of whose notes changed is dropped, and its other notes parsed into a
  new one, so the shards stay at most about twice the notes;
- `--watch` keeps the rendered bodies in one file when it stops, and reads the
  bodies of the shards when it starts (not their notes: a build's notes are
  kept without their Markdown text, which `--watch` needs).
Cache keys include a fingerprint of smreport's own code, so a new version never
trusts an old entry.

For `--watch` it also keeps what makes a rebuild cost little more than the
changed note: each note's bytes (re-read only when the watcher names it or its
time stamps change), folder listings, source, body and page keys, and the
validation memo. A single build keeps none of that, nor the Markdown texts
once rendered: its memory is the parsed notes and their HTML.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import functools
import gc
import hashlib
import multiprocessing
import os
import pickle
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .load import (
    FolderListing,
    Inventory,
    Loaded,
    ParseResult,
    SourceFile,
    load_content,
    parse_source,
    read_briefly,
    read_limited,
    read_source,
    take_inventory,
)
from .markup import current_backend, render_markdown
from .model import AnyNote, Problem, UnparsedNote, digest_body
from .publish import KeptFile, Spare, TreeWriter, Written, page_digest, read_pickle, write_pickle
from .validate import ValidationMemo

if TYPE_CHECKING:
    from .render import Site

PACKAGE_DIR = Path(__file__).resolve().parent
CACHE_FORMAT = 1
# Below this many notes to parse, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 200
# Worker processes are forked where the system can (they inherit what this one prepared);
# elsewhere (Windows) they are spawned and receive their work.
CAN_FORK = hasattr(os, "fork")
# One process parses this many notes before rendering their bodies (see parse_and_render).
SINGLE_BATCH = 64
# Note pages rendered ahead go to workers this many at a time, and each worker is given at
# most this many chunks ahead of the pages being written.
PAGE_CHUNK = 64
PAGE_CHUNKS_AHEAD = 4


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A digest of smreport's own source: any change to the code invalidates the cache."""
    digest = hashlib.sha256(f"format {CACHE_FORMAT}".encode())
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def content_hash(data: bytes) -> bytes:
    """A note's bytes, digested: what the input digest and its source key are made of."""
    return hashlib.blake2b(data, digest_size=20).digest()


def source_key(note_type: str, path: str, settings: str, data_hash: bytes) -> str:
    """The cache key of one note: its type, path, the parse settings and its exact bytes
    (`data_hash`, their `content_hash`)."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{note_type}\0{path}\0{settings}\0".encode())
    digest.update(data_hash)
    return digest.hexdigest()


def body_key(note: AnyNote, backend: str | None = None) -> str:
    """The cache key of a note's rendered body: the Markdown backend (the current one
    unless given), its path and its text's digest (already a digest: hashing them again
    would only cost time, 5,000 times a rebuild)."""
    return f"{backend or current_backend()}\0{note.path}\0{note.body_digest}"


# What a worker returns for one note: the parse result; if it parsed, its body's HTML (None
# if the Builder holds it already); and for a note it read itself (listed unread, see
# SourceFile), the `content_hash` of its bytes, else None.
WorkResult = tuple[ParseResult, str | None, bytes | None]
Parse = Callable[[SourceFile], ParseResult]
# Parses (and renders) a batch of notes: parse_and_render or parse_only, its settings bound.
Work = Callable[[Sequence[SourceFile]], list[WorkResult]]


EMPTY_BODY = digest_body("")

# The bodies the Builder already holds by body key, set before workers fork, so they skip
# rendering those bodies (a worker writing shards returns their HTML, see write_shard).
_KNOWN_BODIES: Mapping[str, str] = {}
# While a build keeps shards: their folder and the parse settings (for the notes' source
# keys), set before workers fork.
_SHARDS: tuple[Path, str] | None = None


def _parse(parse: Parse, source: SourceFile) -> tuple[ParseResult, bytes | None]:
    """One source parsed, read first if it was listed unread; with the `content_hash` of
    what was read here (None for bytes read before). A file that cannot be read has its
    problem for parse result."""
    data_hash = None
    if source.data is None:
        read = read_source(source)
        if isinstance(read, Problem):
            return (None, [read]), None
        assert read.data is not None  # read_source reads it
        source, data_hash = read, content_hash(read.data)
    return parse(source), data_hash


def parse_and_render(parse: Parse, sources: Sequence[SourceFile], strip: bool = False
                     ) -> list[WorkResult]:
    """Parse a batch of notes, then render their bodies (run in worker processes:
    module-level, picklable).

    The whole batch is parsed before any body is rendered: YAML and Markdown
    one note after the other cost about 10% more CPU (in twelve alternating
    runs, eleven were slower), each evicting the other's code and data from
    the processor's caches.

    With `strip`, the notes come back without their Markdown text: the HTML
    and the key of the text are all a build needs, and at 50,000 notes the
    texts are hundreds of megabytes.
    """
    parsed = [_parse(parse, source) for source in sources]
    results: list[WorkResult] = []
    for (note, problems), data_hash in parsed:
        if note is None or isinstance(note, UnparsedNote):
            results.append(((note, problems), None, data_hash))
            continue
        html = _KNOWN_BODIES.get(body_key(note))
        if html is None:
            html = render_markdown(note.body, note.path)
        elif _SHARDS is None:
            html = None  # the Builder holds it; a shard must hold it too
        results.append(((_without_body(note) if strip else note, problems), html, data_hash))
    return results


def parse_only(parse: Parse, sources: Sequence[SourceFile]) -> list[WorkResult]:
    """Parse a batch of notes for `check`, which reads no bodies: each body is dropped (its
    links were noted while parsing), which halves what crosses between processes."""
    results: list[WorkResult] = []
    for (note, problems), data_hash in (_parse(parse, source) for source in sources):
        results.append(((_without_body(note), problems), None, data_hash))
    return results


def _without_body(note: AnyNote | UnparsedNote | None) -> AnyNote | UnparsedNote | None:
    """The note without its Markdown text (its `body_digest` still stands for it)."""
    if note is None or isinstance(note, UnparsedNote):
        return note
    return dataclasses.replace(note, body="")


def _signature(stat: os.stat_result) -> tuple[int, int, int, int]:
    """What tells a file's content changed without reading it: size, times, inode."""
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def guided_chunks(count: int, workers: int, largest: int = 256, smallest: int = 8
                  ) -> list[range]:
    """`range(count)` in chunks for `workers` processes, each a share of what is left:
    large while much is left (few round trips), small at the end, so no worker is left
    with a large chunk while the others have finished (with equal chunks of 150 notes,
    one core idled for up to 0.4 s at the end of a 5,000-note parse)."""
    chunks, start = [], 0
    while start < count:
        size = min(largest, max(smallest, (count - start) // (workers * 8)))
        chunks.append(range(start, min(start + size, count)))
        start += size
    return chunks


# The work and the notes a forked parse worker runs (set just before the fork).
_FORKED_WORK: tuple[Work, list[SourceFile]] | None = None


class WorkerError(RuntimeError):
    """A worker process stopped before handing back its work (killed, or out of memory)."""


def _ignore_interrupts() -> None:
    """In a worker: Ctrl-C is the main process's to handle (it stops the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def worker_pool(jobs: int, fork: bool = True) -> concurrent.futures.ProcessPoolExecutor:
    """`jobs` worker processes, forked from this one (so they inherit what it prepared)
    unless `fork` is false.

    A pool from `concurrent.futures`, not `multiprocessing.Pool`: when a worker
    dies (the kernel's out-of-memory killer, a signal) or hands back what cannot
    be unpickled, it fails every pending task (`worker_errors`) where
    `multiprocessing.Pool` would wait forever for the lost one.
    """
    return concurrent.futures.ProcessPoolExecutor(
        jobs, mp_context=multiprocessing.get_context("fork" if fork else "spawn"),
        initializer=_ignore_interrupts)


@contextlib.contextmanager
def worker_errors() -> Iterator[None]:
    """A worker pool that broke, as a WorkerError that says what to do."""
    try:
        yield
    except concurrent.futures.process.BrokenProcessPool:
        raise WorkerError(
            "a worker process stopped before finishing its work (killed, or out of "
            "memory?), so nothing was written; run the command again, or build with "
            "--jobs 1, which needs no worker") from None


def _work_chunk(indices: range) -> bytes:
    """In a forked worker: parse (and render) the notes at `indices`, as one batch; the
    results come back pickled already (see `_unpack`).

    A worker's result is written into a pipe that holds 64 KiB, and a chunk's
    results are megabytes: the worker could start its next chunk only once the
    main process's result thread had read and unpickled them all, which it does
    one worker at a time (a sixth of a second per worker at 5,000 notes). As
    bytes, the result thread only copies them; the main thread unpickles each
    chunk when it takes it, while the workers go on.
    """
    assert _FORKED_WORK is not None
    work, jobs = _FORKED_WORK
    sources = jobs[indices.start:indices.stop]
    results = work(sources)
    batch = pickle.dumps(results, pickle.HIGHEST_PROTOCOL)
    write_shard(sources, results, batch)
    return batch


def write_shard(sources: Sequence[SourceFile], results: Sequence[WorkResult],
                batch: bytes | None = None) -> None:
    """While a build keeps shards (`_SHARDS`): keep a batch of parse results (`batch`,
    pickled already by a worker) with the source key of each and the Markdown backend
    that rendered their bodies, in a file named by those keys. A shard that cannot be
    written is only parsed again next time."""
    if _SHARDS is None:
        return
    folder, settings = _SHARDS
    keys = [None if data_hash is None else  # a note read before its parse is not kept
            source_key(source.note_type, source.path, settings, data_hash)
            for source, (_result, _html, data_hash) in zip(sources, results, strict=True)]
    if not any(keys):
        return
    name = hashlib.blake2b("\0".join(key or "" for key in keys).encode(),
                           digest_size=16).hexdigest()
    if batch is None:
        batch = pickle.dumps(results, pickle.HIGHEST_PROTOCOL)
    with contextlib.suppress(OSError):
        write_pickle(folder / f"{name}.pickle", (keys, current_backend(), batch))


def read_shard(path: Path) -> tuple[list[str | None], str, list[WorkResult]]:
    """A shard's source keys, Markdown backend and parse results (see `write_shard`);
    any error if it is damaged."""
    stored = read_pickle(path)
    if not isinstance(stored, tuple) or len(stored) != 3:
        raise ValueError(f"{path} is not a shard")
    keys, backend, batch = stored
    results = pickle.loads(batch)  # noqa: S301 - inside the signed shard
    if not isinstance(keys, list) or not isinstance(backend, str) \
            or not isinstance(results, list) or len(keys) != len(results):
        raise ValueError(f"{path} is not a shard")
    return keys, backend, results


def _unpack(batch: bytes | list[WorkResult]) -> list[WorkResult]:
    """A batch of results, as `_work_chunk` (pickled) or a spawned worker returns it."""
    if isinstance(batch, bytes):
        results: list[WorkResult] = pickle.loads(batch)  # noqa: S301 - our own worker's bytes
        return results
    return batch


@contextlib.contextmanager
def collecting_garbage_later() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the length of a build or check.

    A build creates hundreds of thousands of objects (notes, positions, pages)
    that live until it ends, and the collector would walk all of them again
    each time a few thousand more were made: a third of `check`'s time at
    5,000 notes, half of a `--watch` rebuild. Reference counting still frees
    almost everything at once; the few cycles wait for the next collection
    after the build.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclasses.dataclass(frozen=True)
class PageInputs:
    """What the last build's page keys were computed from (see `attach_page_cache`).

    The mappings are the very objects the build used, not copies: a load makes a
    new `source_keys` and git a new history rather than changing the old ones.
    """

    sources: dict[str, str] = dataclasses.field(default_factory=dict)  # path -> source key
    histories: Mapping[str, object] = dataclasses.field(default_factory=dict)  # path -> git
    unverified: dict[str, object] = dataclasses.field(default_factory=dict)
    agenda: dict[tuple[str, str], list[str]] = dataclasses.field(default_factory=dict)
    goals: dict[str, str | None] = dataclasses.field(default_factory=dict)  # path -> family


def _goal_of(note: AnyNote) -> str | None:
    """The goal whose family a note's page shows: a goal's own, a change's goal."""
    return note.id if note.type == "goal" else getattr(note, "goal", None)


class Builder:
    """Parses and renders notes once per content, across rebuilds and (with a cache) runs."""

    def __init__(self, cache_dir: Path | None = None, jobs: int = 0,
                 render_bodies: bool = True) -> None:
        self.cache_dir = cache_dir
        self.jobs = jobs if jobs > 0 else min(2, os.cpu_count() or 1)
        self.render_bodies = render_bodies
        self.parsed: dict[str, ParseResult] = {}
        self.bodies: dict[str, str] = {}
        self.used_parsed: set[str] = set()
        self.used_bodies: set[str] = set()
        self.stats = {"parsed": 0, "cached": 0, "bodies": 0}
        self._loaded_from_disk = False
        self.source_keys: dict[str, str] = {}  # note path -> its source key
        self.pages: dict[str, tuple[str, bytes]] = {}  # page key -> (path, bytes)
        self.views: dict[str, object] = {}  # page key + ":kind" -> view models (KPI charts)
        self.used_pages: set[str] = set()
        # Each note's page key as last computed, the keys' common part (code, templates,
        # project, today), and what the last build's keys were computed from, to tell what
        # changed since (see `attach_page_cache`).
        self.page_keys: dict[str, str] = {}
        self.page_keys_base = ""
        self.generation = 0  # builds with a page cache so far
        self.completed_generation = 0  # the last of them that published every page
        self.last_build_complete = False  # as the build under way found it
        self.page_paths: dict[str, str] = {}  # see Site.page_path_of
        self.last_inputs = PageInputs()
        # What the last build published, page path -> digest; None until one did.
        self.manifest: dict[str, str] | None = None
        self.in_place = False  # update the published site file by file (--watch)
        self.published: dict[str, bytes] = {}  # page path -> the bytes object last published
        self.files: dict[str, tuple[tuple[int, int, int, int], bytes]] = {}  # path -> stat, bytes
        self.listings: dict[str, FolderListing] = {}  # note folders as last listed
        # While watching, the last load, and its notes by file name as read_note names them
        # (see `load`).
        self.last_loaded: Loaded | None = None
        self.note_names: dict[str, AnyNote] = {}
        # The notes (as read_note names them) that may have changed since the last build,
        # as the file watcher reported them; None: any may have.
        self.changed_hint: frozenset[str] | None = None
        self.read_names: set[str] = set()  # the notes read by the build under way
        self.inventory: Inventory | None = None  # just taken by the build's Inputs, for its load
        self.validation = ValidationMemo()  # each note's reference problems, last time
        # Keys computed for the bytes object `read_note` returned, by note path: while a
        # file is unchanged the very same object comes back, and is not hashed again.
        self.known_keys: dict[str, tuple[bytes, str, str]] = {}  # path -> data, settings, key
        # Each note's content_hash, by path, as the last load's parse read it: with the
        # inventory, the input digest the build's stamp is saved with (see `Inputs`).
        self.content_hashes: dict[str, bytes] = {}
        # Each note's content_hash as the build's Inputs read it, by path, before the load:
        # its source key, to take it from a shard without reading it again.
        self.known_hashes: Mapping[str, bytes] = {}
        self.shards: dict[str, list[str | None]] = {}  # shard file name -> its source keys
        # Work for this process while its workers parse (see `_run`): the pipeline has it
        # import the renderer and compile the page templates, which the page workers
        # forked later inherit.
        self.meanwhile: Callable[[], None] | None = None

    # -- the persistent cache ----------------------------------------------

    def _in_cache(self, name: str) -> Path | None:
        """`name` (with `{}` for it) for this version of smreport in the cache folder."""
        return None if self.cache_dir is None else \
            self.cache_dir / name.format(code_fingerprint())

    def _cache_file(self) -> Path | None:
        return self._in_cache("notes-{}.pickle")

    def shard_folder(self) -> Path | None:
        """The shards' folder for this version of smreport."""
        return self._in_cache("parsed-{}")

    @property
    def reads_shards(self) -> bool:
        """Whether this Builder takes parsed notes from the shards: a build's that keeps
        them, and `check`'s (which only reads them: its notes have no HTML to keep)."""
        return self.cache_dir is not None and not self.in_place

    @property
    def keeps_shards(self) -> bool:
        """Whether builds keep their parsed notes in shards: one build (not --watch)
        with a cache folder, rendering bodies."""
        return self.reads_shards and self.render_bodies

    def has_shards(self) -> bool:
        """Whether there are shards to read (then every note is read first, to find its
        source key)."""
        folder = self.shard_folder()
        return self.reads_shards and folder is not None and folder.is_dir()

    def _load_shards(self) -> None:
        """Read every shard: the parsed notes (a build's or `check`'s, see `reads_shards`)
        and the rendered bodies (a build's or --watch's). A build deletes a damaged shard,
        one of another Markdown backend (its notes have no text to render with this
        one), and the shards of other versions of smreport; `check` writes nothing."""
        folder = self.shard_folder()
        if folder is None or not folder.parent.is_dir():
            return
        if self.keeps_shards:
            for other in folder.parent.glob("parsed-*"):
                if other != folder:
                    shutil.rmtree(other, ignore_errors=True)
        try:
            paths = sorted(folder.glob("*.pickle")) if folder.is_dir() else []
        except OSError:  # an unreadable folder: no shards
            return
        for path in paths:
            try:
                keys, backend, results = read_shard(path)
                # A build's notes come without their Markdown text: their bodies must be
                # in the shard as rendered by this build's backend.
                if self.keeps_shards and backend != current_backend():
                    raise ValueError("another Markdown backend's shard")
            except Exception:  # noqa: BLE001 - a damaged shard is never trusted, only dropped
                if self.keeps_shards:
                    with contextlib.suppress(OSError):
                        path.unlink(missing_ok=True)
                continue
            if self.keeps_shards:
                self.shards[path.name] = keys
            for key, (result, html, _data_hash) in zip(keys, results, strict=True):
                note = result[0]
                if key is None or note is None or isinstance(note, UnparsedNote):
                    continue
                if self.reads_shards:
                    self.parsed[key] = result
                if html is not None and self.render_bodies:  # under the backend it was
                    self.bodies[body_key(note, backend)] = html

    def _drop_stale_shards(self, current: set[str]) -> None:
        """Delete the shards most of whose notes are not among the `current` source keys;
        their current notes are parsed again, into a new shard."""
        folder = self.shard_folder()
        assert folder is not None
        kept: dict[str, list[str | None]] = {}
        dropped: list[tuple[str, list[str | None]]] = []
        for name, keys in self.shards.items():
            live = sum(1 for key in keys if key in current)
            if live and live * 2 >= len(keys):
                kept[name] = keys
            else:
                dropped.append((name, keys))
        held = {key for keys in kept.values() for key in keys}
        for name, keys in dropped:
            for key in keys:
                if key is not None and key not in held:
                    self.parsed.pop(key, None)
            with contextlib.suppress(OSError):  # a shard left behind is only dropped later
                (folder / name).unlink(missing_ok=True)
        self.shards = kept

    def load_cache(self) -> None:
        """Read the on-disk cache once; a missing, stale or damaged file is simply ignored."""
        if self._loaded_from_disk:
            return
        self._loaded_from_disk = True
        if self.cache_dir is not None:
            self._load_shards()
        path = self._cache_file()
        if not self.in_place or path is None or not path.is_file():
            return  # a build has every body it can use in the shards; `check` needs none
        try:
            stored = read_pickle(path)
            if isinstance(stored, dict) and stored.get("fingerprint") == code_fingerprint():
                self.bodies.update(stored["bodies"])
        except Exception:  # noqa: BLE001 - a damaged cache is never trusted, only rebuilt
            self.parsed.clear()
            self.bodies.clear()

    def save_cache(self) -> None:
        """Write the bodies this build used (nothing stale) to the cache folder,
        atomically: when --watch stops (a build keeps them in its shards)."""
        path = self._cache_file()
        if path is None or not self.in_place:
            return
        stored = {"fingerprint": code_fingerprint(),
                  "bodies": {k: self.bodies[k] for k in self.used_bodies if k in self.bodies}}
        with contextlib.suppress(OSError):  # a cache not written costs only time next run
            path.parent.mkdir(parents=True, exist_ok=True)
            for old in path.parent.glob("notes-*.pickle"):
                if old != path:
                    old.unlink(missing_ok=True)
            write_pickle(path, stored)

    def forget_unused(self) -> None:
        """Drop entries the last build did not use, so a day of watching stays small.

        Pruning walks every entry, so it waits until the stale ones are a quarter of
        what was used: a day of saves costs a few of these walks, not one per save.
        """
        used = len(self.used_parsed) + len(self.used_bodies) + len(self.used_pages)
        held = len(self.parsed) + len(self.bodies) + len(self.pages)
        if held <= used + used // 4 + 64:
            self.used_pages = set()
            return
        self.parsed = {k: v for k, v in self.parsed.items() if k in self.used_parsed}
        self.known_keys = {path: known for path, known in self.known_keys.items()
                           if known[2] in self.used_parsed}
        self.bodies = {k: v for k, v in self.bodies.items() if k in self.used_bodies}
        self.pages = {k: v for k, v in self.pages.items() if k in self.used_pages}
        self.views = {k: v for k, v in self.views.items()
                      if k.partition(":")[0] in self.used_pages}
        self.used_pages = set()

    # -- pages -----------------------------------------------------------------

    def attach_page_cache(self, site: Site, template_dirs: Iterable[Path],
                          settings: str | None = None, templates: str | None = None) -> None:
        """Let `site` reuse a note's page while nothing the page shows has changed.

        A note's page shows the note and its family (a goal and its changes),
        people from project.yml, today's date, the note's agenda items and its
        git history; the key covers exactly those, plus the templates, the code
        and the build's `settings`. That is for `--watch` (`in_place`), and for a
        build given `settings`, whose keys let the build after next take the
        pages that did not change from its spare (see `reuse_pages`); without,
        one build renders each page once. `templates` is the folders' digest
        (`templates_digest`), when the build's Inputs made it already.
        """
        if not self.in_place and settings is None:
            # One build renders each page once and keeps none (no page cache: at 50,000
            # notes with --jobs 1 that would be every page's bytes at once); a key need only
            # tell this build's pages apart, for the workers' pages and the KPI views.
            self.pages, self.views, self.page_keys = {}, {}, {}
            self.last_inputs = PageInputs()
            site.page_key = lambda note: f"note:{note.path}"
            site.page_store, site.view_memo, site.used_keys = None, self.views, None
            return
        base = hashlib.blake2b(digest_size=20)
        base.update(f"{code_fingerprint()}\0{site.today}\0{current_backend()}\0".encode())
        base.update(f"{settings}\0".encode())
        base.update((templates or templates_digest(template_dirs)).encode())
        base.update(repr(site.content.project).encode())
        agenda: dict[tuple[str, str], list[str]] = {}
        for item in site.agenda:
            if item.subject is not None:
                agenda.setdefault((item.subject.type, item.subject.id), []).append(repr(item))
        history = site.history
        notes = history.notes if history is not None else {}
        unverified = history.unverified if history is not None else {}
        source_keys = self.source_keys

        def shown(path: str) -> tuple[object, ...]:
            """What a page shows of one note: its exact source, its git history."""
            if history is None:
                return (path, source_keys.get(path))
            return (path, source_keys.get(path), notes.get(path), unverified.get(path))

        # What changed since the last build, found by comparing cheap things once: a page
        # whose note, family and agenda items are all unchanged keeps its key untouched.
        last = self.last_inputs
        changed = {path for path, source in source_keys.items()
                   if last.sources.get(path) != source}
        changed.update(path for path in last.sources if path not in source_keys)
        if last.histories is not notes:
            changed.update(path for path in {*notes, *last.histories}
                           if notes.get(path) != last.histories.get(path))
        if last.unverified != unverified:
            changed.update(path for path in {*unverified, *last.unverified}
                           if unverified.get(path) != last.unverified.get(path))
        # A changed note changes its family's pages: the family it was in and the one it is in.
        content = site.content
        goals: dict[str, str | None] = {goal.path: goal.id for goal in content.goals.values()}
        goals.update((change.path, change.goal) for change in content.changes.values())
        changed_goals = {last.goals.get(path) for path in changed}
        changed_goals.update(goals.get(path) for path in changed)
        changed_goals.discard(None)
        for subject in {*agenda, *last.agenda}:
            if agenda.get(subject) != last.agenda.get(subject):
                note = content.note(*subject)  # type: ignore[arg-type]
                if note is not None:
                    changed.add(note.path)
        self.last_inputs = PageInputs(source_keys, notes, dict(unverified), agenda, goals)

        families: dict[str, tuple[object, ...]] = {}

        def family(goal_id: str) -> tuple[object, ...]:
            """A goal and its changes, as a goal's or a change's page shows them."""
            known = families.get(goal_id)
            if known is None:
                goal = site.content.goals.get(goal_id)
                members = [*([goal] if goal else []), *site.changes_by_goal.get(goal_id, [])]
                known = families[goal_id] = tuple(shown(m.path) for m in members)
            return known

        # This build's keys by note path: first every key kept from the last build whose
        # page shows nothing that changed, then each of the others when first asked for.
        base_key = base.hexdigest()
        keys: dict[str, str] = {}
        if base_key == self.page_keys_base:
            keys = {path: page_key for path, page_key in self.page_keys.items()
                    if path not in changed and goals.get(path) not in changed_goals}
            self.used_pages.update(keys.values())
        self.page_keys, self.page_keys_base = keys, base_key
        self.last_build_complete = self.completed_generation == self.generation
        self.generation += 1
        site.kept_pages, site.generation = frozenset(keys), self.generation
        site.note_paths = source_keys.keys()
        if len(self.page_paths) > 2 * len(source_keys) + 64:  # notes renamed over a day
            self.page_paths = {}
        site.page_paths = self.page_paths

        def key(note: AnyNote) -> str:
            known = keys.get(note.path)
            if known is not None:
                return known
            goal_id = _goal_of(note)
            inputs = (family(goal_id) if goal_id is not None else (), shown(note.path),
                      agenda.get((note.type, note.id)))
            digest = base.copy()
            digest.update(repr(inputs).encode())
            page_key = keys[note.path] = digest.hexdigest()
            self.used_pages.add(page_key)
            return page_key

        site.page_key = key
        site.view_memo = self.views
        if self.in_place:
            site.page_store, site.used_keys = self.pages, self.used_pages
        else:  # one build keeps no page, and records each page's key for the stamp
            site.page_store, site.used_keys, site.key_record = None, None, {}

    @staticmethod
    def reuse_pages(site: Site, spare: Spare) -> None:
        """Let `site` take, instead of rendering them, the pages of the spare in use that
        have this build's page keys: their files are in the folder as recorded."""
        if spare.kept is None or site.key_record is None:
            return
        kept = spare.kept
        site.reused_pages = {key: (path, Written(kept[path].digest, kept[path].stat))
                             for path, key in spare.page_keys.items() if path in kept}

    @contextlib.contextmanager
    def prerendered_pages(self, site: Site, folder: Path | None = None,
                          kept: Mapping[str, KeptFile] | None = None) -> Iterator[None]:
        """While open, the list and note pages the cache lacks are rendered ahead in workers.

        Workers are forked once the site is prepared, so they share it without
        copying; the site takes their pages as it renders (`Prefetch`). Given the
        `folder` the site is being written into, the workers write the pages
        there themselves and hand back only their digests (`Written`): creating
        thousands of files is then shared by both cores, and no page's bytes
        cross between processes. A list page goes to a worker with the pages of
        the notes it lists (`PagePlan.shown`), so what both show is worked out
        once (a goal's KPI charts). Not used while watching (a forked process must
        not inherit the watcher's threads) or for a handful of pages, where
        starting workers costs more. `kept` names the files already in `folder` (a
        reused `Spare`): a page equal to its kept file is not written again.
        """
        if site.page_key is None or self.in_place or self.jobs < 2 or not CAN_FORK:
            yield
            return
        from .render import notes_in_order, render_note  # noqa: PLC0415

        missing, groups = _page_groups(site, notes_in_order(site.content), render_note)
        if len(missing) < PARALLEL_THRESHOLD:
            yield
            return
        global _FORKED, _KEPT
        _FORKED = [render for _key, render in missing]
        _KEPT = kept or {}
        chunks = iter(groups)
        pool = worker_pool(self.jobs)
        try:
            # A few chunks at a time: pages wait in memory only until the site takes them.
            pending: collections.deque[tuple[list[int], Future[list[tuple[str, bytes]]]]] \
                = collections.deque()

            def submit() -> None:
                chunk = next(chunks, None)
                if chunk is not None:
                    pending.append((chunk, pool.submit(_render_chunk, chunk, folder)))

            for _ in range(self.jobs * PAGE_CHUNKS_AHEAD):
                submit()

            def rendered() -> Iterator[list[tuple[str, tuple[str, bytes]]]]:
                while pending:
                    chunk, pages = pending.popleft()
                    with worker_errors():  # a broken pool fails both
                        submit()
                        done = pages.result()
                    yield [(missing[index][0], page)
                           for index, page in zip(chunk, done, strict=True)]
            site.prefetched = Prefetch(rendered())
            yield
        finally:
            site.prefetched = None
            pool.shutdown(wait=True, cancel_futures=True)  # at most a chunk each is running
            _FORKED = None
            _KEPT = {}

    # -- reading and parsing -------------------------------------------------

    def read_note(self, path: Path, max_bytes: int) -> bytes:
        """A note's bytes as --watch reads them (one build reads each note where it parses
        it, see `load`): kept, and read again only when its size or time stamps changed.

        While `changed_hint` holds what the file watcher reported, a note it does
        not name is taken as unchanged without even a stat (see `stale_files`).
        """
        name = str(path)
        self.read_names.add(name)
        known = self.files.get(name)
        if known is not None and self.changed_hint is not None \
                and name not in self.changed_hint and len(known[1]) <= max_bytes:
            return known[1]
        signature = _signature(os.stat(name))
        if known is not None and known[0] == signature and len(known[1]) <= max_bytes:
            return known[1]
        data = read_limited(path, max_bytes)
        self.files[name] = (signature, data)
        return data

    def stale_files(self) -> set[str]:
        """The notes read so far whose size or time stamps changed since: what a file
        watcher missed (a full inotify queue), checked when it has been quiet a moment."""
        stale = set()
        for name, (signature, _data) in list(self.files.items()):
            try:
                if signature != _signature(os.stat(name)):
                    stale.add(name)
            except OSError:
                stale.add(name)
        return stale

    def map_parse(self, parse: Parse, sources: Iterable[SourceFile]) -> Iterator[ParseResult]:
        """A `map` for `load_content`: cached results first, the rest parsed (in parallel)."""
        self.used_parsed = set()
        self.used_bodies = set()
        self.content_hashes = {}
        sources = list(sources)
        parsed = self._parse_sources(parse, sources)
        self.source_keys = {source.path: key for source, (key, _result)
                            in zip(sources, parsed, strict=True) if key is not None}
        if len(self.files) > len(self.read_names):  # notes deleted: forget their bytes
            self.files = {n: v for n, v in self.files.items() if n in self.read_names}
        self.read_names = set()
        for key, result in parsed:
            if key is not None:
                self.used_parsed.add(key)
            note = result[0]
            if self.render_bodies and note is not None and not isinstance(note, UnparsedNote):
                # Its page will show the body, perhaps rendered in a forked worker that
                # cannot tell this process: count it as used here, so the cache keeps it.
                self.used_bodies.add(body_key(note))
            yield result

    def _parse_sources(self, parse: Parse, sources: list[SourceFile]
                       ) -> list[tuple[str | None, ParseResult]]:
        """Each source's key and parse result, parsing (in parallel) those the cache lacks.

        A source listed unread (see `SourceFile`) is read and hashed where it is
        parsed; one that could not be read has no key, and its problem for result.
        """
        self.load_cache()
        settings = repr(getattr(parse, "keywords", ""))
        keys: list[str | None] = [self._source_key(source, settings) for source in sources]
        if self.shards:
            self._drop_stale_shards({key for key in keys if key is not None})
        missing = [index for index, key in enumerate(keys) if key is None or key not in self.parsed]
        self.stats = {"parsed": len(missing), "cached": len(sources) - len(missing),
                      "bodies": 0}
        for index, key in enumerate(keys):  # taken from a shard: hashed by the Inputs
            source = sources[index]
            if source.data is None and key is not None and key in self.parsed:
                self.content_hashes[source.path] = self.known_hashes[source.path]
        global _KNOWN_BODIES, _SHARDS
        _KNOWN_BODIES = self.bodies
        # Shards go only into a cache folder a build made before (with its stamp, once it
        # succeeded): a first build whose notes fail leaves nothing beside the content.
        folder = self.shard_folder() if self.keeps_shards and missing else None
        if folder is not None and folder.parent.is_dir():
            with contextlib.suppress(OSError):
                folder.mkdir(exist_ok=True)
                _SHARDS = (folder, settings)
        # One build keeps no Markdown text (see parse_and_render); --watch keeps it, so a
        # page can always be rendered again from the note alone.
        work = functools.partial(parse_and_render, parse, strip=not self.in_place) \
            if self.render_bodies else functools.partial(parse_only, parse)
        try:
            results = self._run(work, [sources[index] for index in missing])
        finally:
            _KNOWN_BODIES, _SHARDS = {}, None
        unread: dict[int, ParseResult] = {}  # the problems of files that could not be read
        for index, (result, html, data_hash) in zip(missing, results, strict=True):
            source = sources[index]
            if data_hash is not None:  # read by the parse
                self.content_hashes[source.path] = data_hash
                keys[index] = source_key(source.note_type, source.path, settings, data_hash)
            key = keys[index]
            if key is None:
                unread[index] = result
                continue
            self.parsed[key] = result
            note = result[0]
            if note is not None and not isinstance(note, UnparsedNote) and html is not None:
                self.bodies[body_key(note)] = html
                self.stats["bodies"] += 1
        return [(key, self.parsed[key]) if key is not None else (None, unread[index])
                for index, key in enumerate(keys)]

    def load(self, root: Path) -> Loaded:
        """Everything under `root`, loaded (see `load_content`) or patched.

        While watching, when the file watcher names only notes that were loaded
        last time and still parse as the same notes, the last load is patched
        with them instead: nothing else is listed, read or looked up. A name it
        does not know (a new, deleted or renamed file, project.yml, an asset, a
        template) or a note that now fails to parse means a full load.
        """
        patched = self._patched_load(root) if self.changed_hint is not None else None
        if patched is not None:
            return patched
        self.last_loaded = None
        inventory, self.inventory = self.inventory, None
        # One build reads each note where it parses it, in the workers; --watch reads them
        # here, to keep them.
        loaded = load_content(root, self.map_parse, self.read_note, self.listings,
                              inventory if inventory and inventory.root == root else None,
                              not self.in_place)  # read_in_parse
        if self.in_place and loaded.content is not None:
            self.last_loaded = loaded
            self.note_names = {str(root / note.path): note for note in loaded.content.notes()}
        return loaded

    def _patched_load(self, root: Path) -> Loaded | None:
        last, hint = self.last_loaded, self.changed_hint
        if last is None or last.content is None or hint is None or not self.in_place \
                or not all(name in self.note_names for name in hint):
            return None
        max_bytes = last.content.project.rules.max_note_bytes
        sources = []
        for name in sorted(hint):
            old = self.note_names[name]
            if os.path.islink(name):  # the inventory decides whether a link may be followed
                return None
            try:
                data = self.read_note(Path(name), max_bytes)
            except OSError:
                return None
            if len(data) > max_bytes:
                return None
            sources.append(SourceFile(old.type, old.path, data))
        self.read_names = set()
        keyed = self._parse_sources(functools.partial(parse_source, max_bytes=max_bytes),
                                    sources)
        names = sorted(hint)
        keys = [key for key, _result in keyed if key is not None]  # each was read here
        parsed = [result for _key, result in keyed]
        if any(note is None or isinstance(note, UnparsedNote)
               or (note.type, note.id) != (self.note_names[name].type, self.note_names[name].id)
               for name, (note, _problems) in zip(names, parsed, strict=True)):
            return None  # now broken: a full load reports it as a first load would
        # The problems their last parse found give way to what this one finds.
        last_results = [self.parsed.get(self.source_keys.get(source.path, ""))
                        for source in sources]
        if any(result is None for result in last_results):
            return None
        replaced = {id(problem) for result in last_results if result for problem in result[1]}
        problems = [problem for problem in last.problems if id(problem) not in replaced]
        # Every saved note is known good: only now do the Builder's records of the load
        # change (a refusal above leaves them for the full load that follows).
        previous = last.content
        notes: dict[str, dict[str, AnyNote]] = {
            "goal": dict(previous.goals), "change": dict(previous.changes),
            "review": dict(previous.reviews), "dispute": dict(previous.disputes)}
        source_keys = dict(self.source_keys)
        for name, source, key, (note, note_problems) in zip(names, sources, keys, parsed,
                                                             strict=True):
            assert note is not None and not isinstance(note, UnparsedNote)  # checked above
            notes[note.type][note.id] = self.note_names[name] = note
            problems.extend(note_problems)
            self.used_parsed.discard(source_keys.get(source.path, ""))
            self.used_parsed.add(key)
            if self.render_bodies:
                self.used_bodies.add(body_key(note))
            source_keys[source.path] = key
        self.source_keys = source_keys
        content = dataclasses.replace(
            previous, goals=notes["goal"], changes=notes["change"],  # type: ignore[arg-type]
            reviews=notes["review"], disputes=notes["dispute"])  # type: ignore[arg-type]
        self.last_loaded = dataclasses.replace(last, content=content, problems=tuple(problems))
        return self.last_loaded

    def _source_key(self, source: SourceFile, settings: str) -> str | None:
        """The key of a source read before its parse (as --watch reads notes), or listed
        unread but hashed by the build's Inputs; None for one not read yet."""
        if source.data is None:
            data_hash = self.known_hashes.get(source.path)
            if data_hash is None:
                return None
            return source_key(source.note_type, source.path, settings, data_hash)
        known = self.known_keys.get(source.path)
        if known is not None and known[0] is source.data and known[1] == settings:
            return known[2]
        key = source_key(source.note_type, source.path, settings, content_hash(source.data))
        if self.in_place:  # kept for the next rebuild; a single build would only hold the bytes
            self.known_keys[source.path] = (source.data, settings, key)
        return key

    def _run(self, work: Work, jobs: list[SourceFile]) -> Iterable[WorkResult]:
        """`work` on every job, in batches (see `parse_and_render`), in worker processes
        when there are enough jobs."""
        if self.jobs < 2 or len(jobs) < PARALLEL_THRESHOLD:
            def batch(sources: Sequence[SourceFile]) -> list[WorkResult]:
                results = work(sources)
                write_shard(sources, results)
                return results
            return [result for start in range(0, len(jobs), SINGLE_BATCH)
                    for result in batch(jobs[start:start + SINGLE_BATCH])]
        global _FORKED_WORK
        chunks = guided_chunks(len(jobs), self.jobs)
        task: Callable[[Any], bytes | list[WorkResult]]
        batches: list[Any]
        if CAN_FORK:  # forked workers inherit the jobs: only ranges are sent
            _FORKED_WORK = (work, jobs)
            pool, task, batches = worker_pool(self.jobs), _work_chunk, chunks
        else:  # spawned workers receive each batch
            pool, task = worker_pool(self.jobs, fork=False), work
            batches = [jobs[chunk.start:chunk.stop] for chunk in chunks]
        try:
            with worker_errors():
                results: Iterator[bytes | list[WorkResult]] = pool.map(task, batches)  # all sent
                if self.meanwhile is not None:
                    self.meanwhile()
                return [result for batch in results for result in _unpack(batch)]
        finally:
            # Leaving early (Ctrl-C, a dead worker) cancels the chunks not started yet.
            pool.shutdown(wait=True, cancel_futures=True)
            _FORKED_WORK = None

    # -- bodies ----------------------------------------------------------------

    def body_html(self, note: AnyNote) -> str:
        """A note's rendered body, from the cache when its text has not changed."""
        key = body_key(note)
        self.used_bodies.add(key)
        html = self.bodies.get(key)
        if html is None:
            if not note.body and note.body_digest != EMPTY_BODY:
                raise RuntimeError(f"the rendered body of {note.path} was lost")  # a bug
            html = render_markdown(note.body, note.path)
            self.bodies[key] = html
            self.stats["bodies"] += 1
        return html


class Prefetch:
    """Pages rendered ahead, in chunks, handed out by key in whatever order they are asked
    for. A chunk is awaited only when a page is asked for that has not come yet: meanwhile
    the site renders its own pages. Pages of a chunk not asked for yet wait here (written
    by the worker, they are only their digests)."""

    def __init__(self, chunks: Iterator[list[tuple[str, tuple[str, bytes]]]]) -> None:
        self.chunks = chunks
        self.waiting: dict[str, tuple[str, bytes]] = {}

    def take(self, key: str) -> tuple[str, bytes] | None:
        """The page with `key`, once its chunk is done; None if no worker renders it."""
        page = self.waiting.pop(key, None)
        while page is None:
            chunk = next(self.chunks, None)
            if chunk is None:
                return None
            self.waiting.update(chunk)
            page = self.waiting.pop(key, None)
        return page


def _page_groups(site: Site, notes: Iterable[AnyNote],
                 render_note: Callable[[Site, AnyNote], tuple[str, bytes]]
                 ) -> tuple[list[tuple[str, Callable[[], tuple[str, bytes]]]], list[list[int]]]:
    """The pages the page cache lacks (key, render), and their indices in chunks for the
    workers: each list page with the pages of the notes it shows, then the notes no list
    page took, PAGE_CHUNK at a time."""
    store = site.page_store or {}
    assert site.page_key is not None
    page_key = site.page_key
    missing: list[tuple[str, Callable[[], tuple[str, bytes]]]] = []
    planned: set[str] = set()
    groups: list[list[int]] = []

    def plan(key: str, render: Callable[[], tuple[str, bytes]], group: list[int]) -> None:
        if key not in store and key not in planned and key not in site.reused_pages:
            planned.add(key)
            group.append(len(missing))
            missing.append((key, render))

    for page in site.list_pages:
        if page.key is None:
            continue
        group: list[int] = []
        plan(page.key, page.render, group)
        for note in page.shown:
            plan(page_key(note), functools.partial(render_note, site, note), group)
        if group:
            groups.append(group)
    rest: list[int] = []
    for note in notes:
        plan(page_key(note), functools.partial(render_note, site, note), rest)
    groups.extend(rest[i:i + PAGE_CHUNK] for i in range(0, len(rest), PAGE_CHUNK))
    return missing, groups


# The pages a forked page worker renders (set just before the fork): it inherits them.
_FORKED: list[Callable[[], tuple[str, bytes]]] | None = None
_WRITERS: dict[Path, TreeWriter] = {}  # a page worker's writer for each folder
_KEPT: Mapping[str, KeptFile] = {}  # the files already in the folder, as `write_tree` takes


def _render_chunk(indices: list[int], folder: Path | None) -> list[tuple[str, bytes]]:
    """In a forked worker: render the pages at `indices`; with a `folder`, write them
    there (unless one is there already, `_KEPT`) and return them as `Written`."""
    assert _FORKED is not None
    pages = [_FORKED[index]() for index in indices]
    if folder is None:
        return pages
    writer = _WRITERS.get(folder) or _WRITERS.setdefault(folder, TreeWriter(folder))
    written: list[tuple[str, bytes]] = []
    for relative, data in pages:
        digest = page_digest(data)
        old = _KEPT.get(relative)
        if old is not None and old.holds(data, digest):
            written.append((relative, Written(digest, old.stat)))
        else:
            writer.write(relative, data)
            written.append((relative, Written(digest, writer.written.pop(relative))))
    return written


def templates_digest(template_dirs: Iterable[Path]) -> str:
    """A digest of every file in the template folders."""
    digest = hashlib.blake2b(digest_size=20)
    for folder in template_dirs:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
            if path.is_file():
                digest.update(f"\0{path}\0".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


# -- publishing file by file, for --watch ------------------------------------


def record_pages(pages: Iterable[tuple[str, bytes]], manifest: dict[str, str]
                 ) -> Iterator[tuple[str, bytes]]:
    """Pass pages through, noting each one's digest in `manifest`."""
    for path, data in pages:
        manifest[path] = data.digest if isinstance(data, Written) else page_digest(data)
        yield path, data


def update_in_place(out: Path, pages: Iterable[tuple[str, bytes]],
                    files: Iterable[tuple[str, Path]], manifest: dict[str, str],
                    published: dict[str, bytes] | None = None,
                    unchanged: Iterable[str] = ()) -> int:
    """Bring a published site up to date by replacing only the files that changed.

    Each file is replaced atomically (write beside, then rename), and files of
    pages that no longer exist are removed; nothing is written until every page
    is rendered. Used by --watch, where rewriting
    thousands of unchanged pages on every save would cost more than the build.
    `unchanged` names pages not among `pages` that stay exactly as published
    (read once `pages` is exhausted: `render_site` fills `Site.unchanged_pages`).
    Returns the number of files written.
    """
    real = out.resolve()
    written = 0
    seen: set[str] = set()
    # Every page is rendered before any is written: a template that fails on one page
    # leaves the published site as it was. (While watching, the page cache holds the
    # pages anyway; this list only refers to them.)
    pages = list(pages)

    def replace(relative: str, data: bytes) -> None:
        target = (real / relative).resolve()
        if real not in target.parents:
            raise ValueError(f"refusing to write {relative!r} outside the output folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".smreport-")
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)

    for relative, data in pages:
        if isinstance(data, Written):  # a bug: only a staged build has pages written ahead
            raise RuntimeError(f"{relative} was written by a worker, not given to update")
        seen.add(relative)
        if published is not None and published.get(relative) is data:
            continue  # the very page object published last time, from the page cache
        digest = page_digest(data)
        if manifest.get(relative) != digest or not (real / relative).is_file():
            replace(relative, data)
            manifest[relative] = digest
            written += 1
        if published is not None:
            published[relative] = data
    for relative, source in files:
        seen.add(relative)
        data = source.read_bytes()
        digest = page_digest(data)
        if manifest.get(relative) != digest or not (real / relative).is_file():
            replace(relative, data)
            manifest[relative] = digest
            written += 1
    seen.update(unchanged)
    for relative in sorted(set(manifest) - seen):
        del manifest[relative]
        if published is not None:
            published.pop(relative, None)
        target = real / relative
        target.unlink(missing_ok=True)
        folder = target.parent
        while folder != real and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
    return written


# -- the stamp: skip a build whose inputs have not changed -----------------------


def git_state(root: Path) -> bytes:
    """What git would tell the history features, read cheaply: HEAD, its ref, the index,
    the packed refs and a shallow clone's boundary; b"" outside any repository.

    A worktree's or submodule's `.git` is a file pointing at its git folder (and a
    worktree's refs are in the main repository's, named by `commondir`): both are
    followed, so that a commit there changes the state too. Whether git can be run
    is part of it (a build without git makes no history).
    """
    for folder in [root.absolute(), *root.absolute().parents]:
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return _git_folder_state(dot_git)
        if dot_git.is_file():
            pointer = dot_git.read_bytes()
            text = pointer.decode(errors="replace").strip()
            if not text.startswith("gitdir: "):
                return pointer  # not a pointer git reads either: git will say so
            return pointer + b"\0" + _git_folder_state(folder / text[8:].strip())
    return b""


def _git_folder_state(git: Path) -> bytes:
    common = git
    if (git / "commondir").is_file():
        common = git / (git / "commondir").read_text(errors="replace").strip()
    head = (git / "HEAD").read_bytes() if (git / "HEAD").is_file() else b""
    state = [str(shutil.which("git")).encode(), head]
    text = head.decode(errors="replace").strip()
    if text.startswith("ref: "):
        for base in (git, common):
            ref = base / text[5:]
            if ref.is_file():
                state.append(ref.read_bytes())
                break
    for path in (git / "index", common / "packed-refs", common / "shallow"):
        state.append(str(path.stat().st_mtime_ns if path.exists() else 0).encode())
    return b"\0".join(state)


class Inputs:
    """Everything a build reads, digested: the "Up to date" check's key (see `Stamp`).

    Made before the load: it takes the inventory (which the load then uses)
    and digests all but the notes: smreport's code, the settings, project.yml,
    the assets' sizes and times, the templates and git's state. The notes'
    part is each note's `content_hash` in the inventory's order, so it can come
    from either side:
    - `read_notes` reads and hashes every note, when there is a stamp to
      compare with before building or shards to take notes from, and keeps
      only their hashes (the notes' source keys, see `Builder.known_hashes`):
      the load's workers read again the notes they parse;
    - `digest` is made from the hashes of what the load's workers read
      (`Builder.content_hashes`): the stamp a build saves stands for exactly
      the bytes it was made from.
    """

    def __init__(self, content_root: Path, template_dirs: Iterable[Path], settings: str
                 ) -> None:
        self.inventory: Inventory = take_inventory(content_root)
        self.hashes: dict[str, bytes] = {}  # each note's content_hash, once read_notes ran
        self.templates = ""  # the template folders' digest (the page keys use it too)
        self.in_repository = False  # the content root is in a git work tree (see git_state)
        self.base: hashlib.blake2b | None = hashlib.blake2b(digest_size=20)
        self.base.update(f"{code_fingerprint()}\0{settings}\0{current_backend()}\0".encode())
        try:
            if self.inventory.project is not None:
                self.base.update(read_limited(self.inventory.project))
            for asset in self.inventory.assets:
                stat = (content_root / asset).stat()
                self.base.update(f"\0{asset}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
            for problem in self.inventory.problems:
                self.base.update(problem.format_text().encode())
            self.templates = templates_digest(template_dirs)
            self.base.update(self.templates.encode())
            git = git_state(content_root)
            self.in_repository = bool(git)
            self.base.update(git)
        except OSError:
            self.base = None  # something could not be read: no digest, so no stamp

    def read_notes(self) -> str | None:
        """Read every note and digest them all, keeping each note's hash (`hashes`);
        None if one could not be read."""
        hashes = note_hashes(self.inventory)
        if hashes is None:
            return None
        self.hashes = hashes
        return self.digest(hashes)

    def digest(self, hashes: Mapping[str, bytes]) -> str | None:
        """The digest, with each note's content hash from `hashes` (by path); None if a note
        has none (it could not be read) or something else could not be."""
        if self.base is None:
            return None
        digest = self.base.copy()
        for note_type, relative, _path in self.inventory.notes:
            data_hash = hashes.get(relative)
            if data_hash is None:
                return None
            digest.update(f"\0{note_type}\0{relative}\0".encode())
            digest.update(data_hash)
        return digest.hexdigest()


def note_hashes(inventory: Inventory) -> dict[str, bytes] | None:
    """Every note of `inventory` read and hashed (`content_hash`), by path; None if one
    could not be read (its parse will say why)."""
    try:
        return {relative: content_hash(read_briefly(str(path)))
                for _type, relative, path in inventory.notes}
    except OSError:
        return None


def _site_listing(out: Path) -> dict[str, tuple[int, int]] | None:
    """Every file of a published site with its size and time stamp; None if unreadable.

    Folders are read with `os.scandir` and paths joined as text: `os.walk` with
    `relpath` for each file took twice as long (0.3 s for 5,000 pages)."""
    listing: dict[str, tuple[int, int]] = {}
    folders = [""]
    try:
        while folders:
            relative = folders.pop()
            prefix = relative + "/" if relative else ""
            with os.scandir(os.path.join(out, relative)) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(prefix + entry.name)
                    else:
                        stat = entry.stat(follow_symlinks=False)
                        listing[prefix + entry.name] = (stat.st_size, stat.st_mtime_ns)
    except OSError:
        return None
    return listing if listing else None


class Stamp:
    """Remembers the inputs of the last successful build into one output folder."""

    def __init__(self, cache_dir: Path, out: Path) -> None:
        name = hashlib.blake2b(str(out.absolute()).encode(), digest_size=8).hexdigest()
        self.path = cache_dir / f"stamp-{name}.pickle"
        self.out = out
        self._stored: dict[str, Any] | None = None

    def _read(self) -> dict[str, Any]:
        """What the last build stored, read once for `load` and `site_record`; empty if
        there is no stamp or it is damaged."""
        if self._stored is None:
            try:
                stored = read_pickle(self.path)
            except Exception:  # noqa: BLE001 - a missing or damaged stamp means: build
                stored = None
            self._stored = stored if isinstance(stored, dict) else {}
        return self._stored

    def load(self, digest: str) -> object | None:
        """What the last build stored, if its inputs were `digest` and its site is intact."""
        stored = self._read()
        if stored.get("digest") != digest:
            return None
        # The site must still be exactly as that build left it (nobody deleted or edited pages).
        if stored.get("listing") is None or stored.get("listing") != _site_listing(self.out):
            return None
        result: object = stored.get("result")
        return result

    def save(self, digest: str, result: object,
             listing: dict[str, tuple[int, int]] | None = None,
             manifest: Mapping[str, str] | None = None,
             page_keys: Mapping[str, str] | None = None) -> None:
        """Remember `result` for inputs `digest`, with the site as it is now: `listing`,
        the files just written with their sizes and time stamps (else the site is listed),
        `manifest`, each file's digest (for `site_record`), and `page_keys`, the pages'
        keys by path (for the spare this site becomes)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._stored = {"digest": digest, "listing": listing or _site_listing(self.out),
                        "manifest": dict(manifest or {}), "result": result,
                        "page_keys": dict(page_keys or {})}
        write_pickle(self.path, self._stored)

    def site_record(self) -> dict[str, tuple[str, int, int]] | None:
        """Each file of the site the last build published here: digest, size, time stamp
        (for its `Spare`); None without a stamp."""
        stored = self._read()
        listing, manifest = stored.get("listing"), stored.get("manifest")
        if not isinstance(listing, dict) or not isinstance(manifest, dict):  # none, or older
            return None
        return {path: (manifest[path], *listing[path]) for path in manifest.keys() & listing.keys()}

    def spare(self) -> Spare:
        """Where the site this build replaces is kept for the next one, with its record."""
        keys = self._read().get("page_keys")
        return Spare(self.path.parent, self.path.stem.removeprefix("stamp-"), self.site_record(),
                     keys if isinstance(keys, dict) else None)
