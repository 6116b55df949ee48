"""Builds that remember: parse results and rendered bodies cached by content, work in parallel.

A `Builder` is used once by `smreport build` and for a whole day by
`--watch`. Each note is parsed, and its Markdown body rendered, at most once
per distinct content: results are kept in memory between rebuilds and, when a
cache folder is given, on disk between runs. Cache keys include a fingerprint
of smreport's own code, so a new version never trusts an old entry.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import multiprocessing
import os
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from pathlib import Path

from .load import ParseResult, SourceFile
from .markup import render_markdown
from .model import AnyNote

PACKAGE_DIR = Path(__file__).resolve().parent
CACHE_FORMAT = 1
# Below this many notes to parse, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 200


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A digest of smreport's own source: any change to the code invalidates the cache."""
    digest = hashlib.sha256(f"format {CACHE_FORMAT}".encode())
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def source_key(source: SourceFile, settings: str) -> str:
    """The cache key of one note: its type, path, the parse settings and its exact bytes."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{source.note_type}\0{source.path}\0{settings}\0".encode())
    digest.update(source.data)
    return digest.hexdigest()


def body_key(note: AnyNote) -> str:
    digest = hashlib.blake2b(digest_size=20)
    digest.update(note.path.encode() + b"\0" + note.body.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


# What a worker returns for one note: the parse result and, if it parsed, its body's HTML.
WorkResult = tuple[ParseResult, str | None]
Parse = Callable[[SourceFile], ParseResult]


def parse_and_render(parse: Parse, source: SourceFile) -> WorkResult:
    """Parse one note and render its body (run in worker processes: module-level, picklable)."""
    note, problems = parse(source)
    html = render_markdown(note.body, note.path) if note is not None else None
    return (note, problems), html


def parse_only(parse: Parse, source: SourceFile) -> WorkResult:
    return parse(source), None


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
        self.stats = {"parsed": 0, "cached": 0}
        self._loaded_from_disk = False

    # -- the persistent cache ----------------------------------------------

    def _cache_file(self) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"notes-{code_fingerprint()}.pickle"

    def load_cache(self) -> None:
        """Read the on-disk cache once; a missing, stale or damaged file is simply ignored."""
        if self._loaded_from_disk:
            return
        self._loaded_from_disk = True
        path = self._cache_file()
        if path is None or not path.is_file():
            return
        try:
            with open(path, "rb") as handle:
                stored = pickle.load(handle)
            if stored.get("fingerprint") == code_fingerprint():
                self.parsed.update(stored["parsed"])
                self.bodies.update(stored["bodies"])
        except Exception:  # noqa: BLE001 - a damaged cache is never trusted, only rebuilt
            self.parsed.clear()
            self.bodies.clear()

    def save_cache(self) -> None:
        """Write what this build used (nothing stale) to the cache folder, atomically."""
        path = self._cache_file()
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob("notes-*.pickle"):
            if old != path:
                old.unlink(missing_ok=True)
        stored = {"fingerprint": code_fingerprint(),
                  "parsed": {k: self.parsed[k] for k in self.used_parsed if k in self.parsed},
                  "bodies": {k: self.bodies[k] for k in self.used_bodies if k in self.bodies}}
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".notes-")
        try:
            with os.fdopen(handle, "wb") as out:
                pickle.dump(stored, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def forget_unused(self) -> None:
        """Drop entries the last build did not use, so a day of watching stays small."""
        self.parsed = {k: v for k, v in self.parsed.items() if k in self.used_parsed}
        self.bodies = {k: v for k, v in self.bodies.items() if k in self.used_bodies}

    # -- parsing -------------------------------------------------------------

    def map_parse(self, parse: Parse, sources: Iterable[SourceFile]) -> Iterator[ParseResult]:
        """A `map` for `load_content`: cached results first, the rest parsed (in parallel)."""
        self.load_cache()
        self.used_parsed = set()
        self.used_bodies = set()
        sources = list(sources)
        settings = repr(getattr(parse, "keywords", ""))
        keys = [source_key(s, settings) for s in sources]
        missing = [(s, k) for s, k in zip(sources, keys, strict=True) if k not in self.parsed]
        self.stats = {"parsed": len(missing), "cached": len(sources) - len(missing)}
        work = parse_and_render if self.render_bodies else parse_only
        jobs = [s for s, _k in missing]
        results = self._run(functools.partial(work, parse), jobs)
        for (_source, key), (result, html) in zip(missing, results, strict=True):
            self.parsed[key] = result
            note = result[0]
            if note is not None and html is not None:
                self.bodies[body_key(note)] = html
        for key in keys:
            self.used_parsed.add(key)
            yield self.parsed[key]

    def _run(self, work: Callable[[SourceFile], WorkResult],
             jobs: list[SourceFile]) -> Iterable[WorkResult]:
        if self.jobs < 2 or len(jobs) < PARALLEL_THRESHOLD:
            return map(work, jobs)
        context = multiprocessing.get_context("fork") if hasattr(os, "fork") else None
        with concurrent.futures.ProcessPoolExecutor(self.jobs, mp_context=context) as pool:
            return list(pool.map(work, jobs, chunksize=max(8, len(jobs) // (self.jobs * 16))))

    # -- bodies ----------------------------------------------------------------

    def body_html(self, note: AnyNote) -> str:
        """A note's rendered body, from the cache when its text has not changed."""
        key = body_key(note)
        self.used_bodies.add(key)
        html = self.bodies.get(key)
        if html is None:
            html = render_markdown(note.body, note.path)
            self.bodies[key] = html
        return html
