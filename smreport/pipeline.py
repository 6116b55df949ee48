"""The whole build, top to bottom: load → validate → derive the agenda → render → publish.

Everything is gathered and checked before anything is written; a build with
errors writes nothing.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

from .agenda import derive_agenda
from .engine import Builder
from .load import Loaded, load_content
from .model import AgendaItem, Content, Problem
from .progress import show_progress
from .publish import check_output, output_lock, publish
from .render import make_site, render_site, static_files
from .validate import validate_content


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


def check(options: Options, builder: Builder | None = None) -> Result:
    """Load and validate the content; every problem of every file at once."""
    loaded: Loaded = load_content(options.content,
                                  builder.map_parse if builder else map)  # type: ignore[arg-type]
    problems = list(loaded.problems)
    content = loaded.content
    if content is not None:
        problems.extend(validate_content(content, loaded.present))
    problems.sort(key=Problem.sort_key)
    today = options.today
    if today is None and content is not None:
        today = today_in(content.project.timezone)
    return Result(problems, content, today)


def template_dirs_for(options: Options) -> tuple[Path, ...]:
    """The user's template folders: --templates, then `templates/` beside the content root."""
    beside = options.content.absolute().parent / "templates"
    dirs = list(options.template_dirs)
    from .render import default_template_dir
    if beside.is_dir() and beside.resolve() != default_template_dir().resolve():
        dirs.append(beside)
    return tuple(dirs)


def build(options: Options, builder: Builder | None = None) -> Result:
    """Check, derive the agenda, render and publish; with errors nothing is written.

    A `builder` kept between calls (as `--watch` does) re-parses and re-renders
    only notes whose content changed.
    """
    if builder is None:
        builder = Builder(options.cache_folder(), options.jobs)
    result = check(options, builder)
    if not result.ok or result.content is None or result.today is None:
        return result
    check_output(options.out, options.content)
    result.agenda = derive_agenda(result.content, result.today)
    site = make_site(result.content, result.agenda, result.today, template_dirs_for(options),
                     builder.body_html)
    files = list(static_files(site))
    files.extend((asset, options.content / asset) for asset in result.content.assets)
    with output_lock(options.out):
        pages = show_progress(render_site(site), len(site.content.notes()))
        result.files_written = publish(options.out, pages, files)
    builder.save_cache()
    builder.forget_unused()
    return result
