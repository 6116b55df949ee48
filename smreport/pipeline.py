"""The whole build, top to bottom: load → validate → derive the agenda → render → publish.

Everything is gathered and checked before anything is written; a build with
errors writes nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import os
import traceback
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .engine import (
    Builder,
    Inputs,
    Stamp,
    collecting_garbage_later,
    note_hashes,
    record_pages,
    update_in_place,
)
from .load import Loaded, load_content, take_inventory
from .markup import use_backend
from .model import AgendaItem, Content, Problem
from .parse import parse_project
from .progress import show_progress
from .publish import (
    MARKER,
    PublishError,
    cache_key_kept,
    check_output,
    output_lock,
    page_digest,
    staged,
    write_tree,
)
from .theme import default_template_dir, static_files_of
from .validate import validate_content

# The renderer (Jinja2, the theme's views, Babel's data) and git's history are imported
# where they are first needed, not here: `check` needs neither (most projects do not verify
# approvals), and a build forks its parse workers about 0.1 s sooner without them; its
# main process imports them while the workers parse (see `prepare_rendering`).
if TYPE_CHECKING:
    import jinja2

    from .history import History


@dataclass(frozen=True)
class Options:
    """What a build or check was asked to do."""

    content: Path = Path("content")
    out: Path = Path("site")
    today: dt.date | None = None
    template_dirs: tuple[Path, ...] = ()
    jobs: int = 0  # worker processes for parsing and rendering; 0: one per core, at most 2
    cache: bool = True  # keep parsed and rendered notes in a cache folder between runs
    cache_dir: Path | None = None  # default: .smreport-cache beside the content root
    markdown: str = "markdown-it"  # or "cmark-gfm" (pip install 'smreport[fast]')
    since: str | None = None  # --since: "Since your last review" from a date or git revision

    def cache_folder(self) -> Path | None:
        if not self.cache:
            return None
        return self.cache_dir or self.content.absolute().parent / ".smreport-cache"


@dataclass
class Result:
    """What a check or build found and did."""

    problems: list[Problem]
    content: Content | None = None
    today: dt.date | None = None
    agenda: list[AgendaItem] = field(default_factory=list)
    files_written: int = 0
    unchanged: bool = False  # the inputs were those of the last build: nothing was written
    history: History | None = None  # what git knows (see `history`); its `notice` says if not
    notices: list[str] = field(default_factory=list)  # what else the user should know

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors


def today_in(timezone: str) -> dt.date:
    """The current date in the project's time zone."""
    try:
        zone: dt.tzinfo = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return dt.datetime.now(zone).date()


def project_today(content_root: Path) -> dt.date:
    """Today in the time zone project.yml names (UTC if it cannot be read)."""
    try:
        project, _problems = parse_project("project.yml",
                                           (content_root / "project.yml").read_bytes())
    except OSError:
        project = None
    return today_in(project.timezone if project else "UTC")


def check(options: Options, builder: Builder | None = None) -> Result:
    """Load and validate the content; every problem of every file at once.

    A `builder` with a cache folder takes the notes a build parsed from its shards,
    reading and hashing every note first to find them, and parses only the others; it
    writes nothing there.
    """
    with collecting_garbage_later():
        if builder is not None and builder.has_shards():
            inventory = take_inventory(options.content)
            hashes = note_hashes(inventory)
            if hashes is not None:
                builder.inventory, builder.known_hashes = inventory, hashes
        return _check(options, builder)


def _check(options: Options, builder: Builder | None, for_build: bool = False) -> Result:
    """`check`; `for_build`: git's history, when read for verify_approvals, is read whole
    (with "Since your last review"), as the build reads it, so the build reads it once."""
    loaded: Loaded = builder.load(options.content) if builder else load_content(options.content)
    problems = list(loaded.problems)
    content = loaded.content
    if content is not None:
        problems.extend(validate_content(content, loaded.present, loaded.unparsed,
                                         builder.validation if builder else None))
        problems.extend(theme_clashes(content.assets,
                                      (*template_dirs_for(options), default_template_dir())))
    today = options.today
    if today is None and content is not None:
        today = today_in(content.project.timezone)
    history = None
    if content is not None and today is not None and content.project.rules.verify_approvals:
        from .history import read_history  # noqa: PLC0415 - see the imports
        history = read_history(options.content, content, today, options.since,
                               want_since=for_build)
        problems.extend(history.problems)
    problems.sort(key=Problem.sort_key)
    return Result(problems, content, today, history=history)


def theme_clashes(assets: Iterable[str], template_dirs: Iterable[Path]) -> list[Problem]:
    """An asset with the name of a file the theme copies into assets/ (its stylesheet)
    would replace it on every page: an error, not a silent swap."""
    theme = static_files_of(template_dirs)
    return [Problem(asset, 1, 1, "error", "asset-clash",
                    f"{asset} has the name of a file of the site's theme, which it would "
                    "replace on every page; rename it (and the links to it)")
            for asset in assets if asset in theme]


def template_dirs_for(options: Options) -> tuple[Path, ...]:
    """The user's template folders: --templates, then `templates/` beside the content root."""
    beside = options.content.absolute().parent / "templates"
    dirs = list(options.template_dirs)
    if beside.is_dir() and beside.resolve() != default_template_dir().resolve():
        dirs.append(beside)
    return tuple(dirs)


def describe_template_error(error: jinja2.TemplateError) -> str:
    """A template mistake as `file:line: message` (the site was not written)."""
    from jinja2 import TemplateSyntaxError  # noqa: PLC0415 - see the imports

    where = ""
    if isinstance(error, TemplateSyntaxError):
        where = f"{error.filename or error.name}:{error.lineno}: "
    else:
        frame = next((f for f in reversed(traceback.extract_tb(error.__traceback__))
                      if f.filename.endswith((".html", ".xml", ".ics", ".txt"))), None)
        if frame is not None:
            where = f"{frame.filename}:{frame.lineno}: "
    message = str(error.message or error).rstrip(".")
    return f"{where}template error: {message}; the site was not written"


def prepare_rendering(template_dirs: tuple[Path, ...]) -> None:
    """Import the renderer and compile the page templates: what the main process does
    while its workers parse (see `Builder.meanwhile`)."""
    from .render import prepare_templates  # noqa: PLC0415 - see the imports

    prepare_templates(template_dirs)


def build(options: Options, builder: Builder | None = None) -> Result:
    """Check, derive the agenda, render and publish; with errors nothing is written.

    A `builder` kept between calls (as `--watch` does) re-parses and re-renders
    only notes whose content changed.
    """
    # Before anything is read: a refused output folder leaves everything as it was, the
    # cache folder included (a build's parse workers write their shards there).
    check_output(options.out, options.content, options.cache_folder())
    options, notice = usable_cache(options, builder)
    with collecting_garbage_later():
        result = _build(options, builder)
    if notice:
        result.notices.append(notice)
    return result


def usable_cache(options: Options, builder: Builder | None) -> tuple[Options, str | None]:
    """`options` as they are, unless something that is not a folder is where their cache
    folder goes: then without the cache (and the Builder's), with a notice why. The
    cache only ever saves time, so it costs that and no more. (The folder itself is
    made by the first build that succeeds, with its stamp; a cache that cannot be
    written then, on a read-only disk, is done without file by file.)"""
    folder = options.cache_folder()
    if folder is None:
        return options, None
    # The key its files are signed with, fixed before any worker forks (they share it).
    kept = cache_key_kept()
    if (folder.is_dir() or not os.path.lexists(folder)) and kept is None:
        return options, None
    if builder is not None:
        builder.cache_dir = None
    why = f"the key that signs the cache cannot be kept ({kept})" if kept is not None \
        else f"the cache folder {folder} cannot be made (a file is in the way)"
    return dataclasses.replace(options, cache=False), f"{why}; this build does without it"


def _build(options: Options, builder: Builder | None) -> Result:
    use_backend(options.markdown)
    if builder is None:
        builder = Builder(options.cache_folder(), options.jobs)
    stamp, digest, inputs = None, None, None
    user_templates = template_dirs_for(options)  # with the theme after them: all templates
    all_templates = (*user_templates, default_template_dir())
    # While watching, the Builder already knows what changed; the stamp serves separate
    # runs (and the on-disk cache is written once when watching stops).
    cache_folder = options.cache_folder() if not builder.in_place else None
    if cache_folder is not None:
        if options.today is None:  # fix "today" first: it is one of the build's inputs
            options = dataclasses.replace(options, today=project_today(options.content))
        inputs = Inputs(options.content, all_templates,
                        f"{options.out.absolute()}\0{options.today}\0{options.since}")
        builder.inventory = inputs.inventory  # for the load: not listed twice
        stamp = Stamp(cache_folder, options.out)
        # Compare before building, and take unchanged notes from the shards: every note is
        # read here first.
        if stamp.path.is_file() or builder.has_shards():
            digest = inputs.read_notes()
            builder.known_hashes = inputs.hashes
            unchanged = stamp.load(digest) if digest else None
            if isinstance(unchanged, Result):
                unchanged.unchanged = True
                return unchanged
    builder.meanwhile = functools.partial(prepare_rendering, user_templates)
    try:
        result = _check(options, builder, for_build=True)  # already collecting garbage later
    finally:
        builder.meanwhile = None
    if not result.ok or result.content is None or result.today is None:
        return result
    from jinja2 import TemplateError  # noqa: PLC0415 - see the imports

    from .agenda import derive_agenda  # noqa: PLC0415
    from .history import read_history, without_unverified  # noqa: PLC0415
    from .render import make_site, render_site, static_files  # noqa: PLC0415

    history = result.history  # read whole by the check when verify_approvals needed it
    if history is None:
        result.history = history = read_history(options.content, result.content,
                                                 result.today, options.since)
    # An approval or decision not committed by its approver does not count (verify_approvals).
    content = without_unverified(result.content, history.unverified_paths)
    result.agenda = derive_agenda(content, result.today, history.agenda_edits,
                                  history.unverified_paths)
    site = make_site(content, result.agenda, result.today, user_templates,
                     builder.body_html, history)
    # After a build into the same folder (a stamp), real page keys, so that the build after
    # next can take the pages that did not change from its spare (this build's site, see
    # Builder.reuse_pages). A first build does without: at 5,000 notes the keys cost
    # 40 ms, before the page workers start.
    builder.attach_page_cache(site, all_templates, f"{options.since}"
                              if stamp is not None and stamp.path.is_file() else None,
                              inputs.templates if inputs is not None else None)
    files = list(static_files(site))
    files.extend((asset, options.content / asset) for asset in result.content.assets)
    listing: dict[str, tuple[int, int]] | None = None  # the files a staged build wrote
    with output_lock(options.out):
        try:
            if builder.in_place and builder.manifest is not None \
                    and (options.out / MARKER).is_file():
                if builder.last_build_complete and site.kept_pages:
                    # The last build published every page: a kept page is on disk as is.
                    site.published_kept = site.kept_pages
                pages = show_progress(render_site(site), len(site.content.notes()))
                result.files_written = update_in_place(options.out, pages, files,
                                                       builder.manifest, builder.published,
                                                       site.unchanged_pages)
            else:
                manifest: dict[str, str] = {}
                listing = {}
                # With the cache, the site this build replaces is kept there, and the next
                # build writes into it only what changed (Spare).
                spare = stamp.spare() if stamp is not None else None
                with staged(options.out, listing, spare) as staging:
                    kept = spare.kept if spare is not None else None
                    if spare is not None:
                        builder.reuse_pages(site, spare)
                    with builder.prerendered_pages(site, staging, kept):
                        pages = show_progress(render_site(site), len(site.content.notes()))
                        result.files_written = write_tree(
                            staging, record_pages(pages, manifest), files, listing, kept)
                manifest.update((relative, page_digest(source.read_bytes()))
                                for relative, source in files)
                builder.manifest = manifest
                builder.published = {}
        except TemplateError as error:
            raise PublishError(describe_template_error(error)) from None
    builder.completed_generation = builder.generation  # every page published
    builder.forget_unused()
    if inputs is not None:  # with the stamp
        digest = inputs.digest(builder.content_hashes)  # the notes as the workers read them
    # Inside a repository whose history could not be read (git missing or refusing it, a
    # shallow clone), no stamp: what makes git readable again is not among the inputs.
    history_lost = inputs is not None and inputs.in_repository and \
        result.history is not None and not result.history.available
    if stamp is not None and digest is not None and options.today is not None \
            and not history_lost:
        # Keep the history only for its notice ("not in git"): the CLI prints it again.
        notice_only = result.history if result.history and result.history.notice else None
        with contextlib.suppress(OSError):  # the site is published; no stamp costs only time
            stamp.save(digest, Result(result.problems, None, result.today, result.agenda,
                                      result.files_written, history=notice_only), listing,
                       builder.manifest, site.key_record)
    return result
