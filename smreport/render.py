"""Render the briefing site: every page as (relative path, bytes), computed in memory.

Pages are produced one at a time by a generator, so a large site is written
as it is rendered rather than held whole in memory. Nothing here touches the
output folder; `publish` does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import operator
import os
import types
from collections.abc import Callable, Hashable, Iterator, Mapping, MutableMapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import BuiltinMethodType, MethodType
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import jinja2
import jinja2.sandbox
import markupsafe
from jinja2.loaders import split_template_path
from markupsafe import Markup

from . import __version__
from .derive import as_of, current_goals
from .feeds import render_feeds
from .history import History
from .i18n import Translator, translator
from .load import TYPE_OF_FOLDER
from .markup import render_markdown
from .model import (
    FOLDERS,
    AgendaItem,
    AnyNote,
    Change,
    Content,
    CurrentGoal,
    Dispute,
    Goal,
    Review,
)
from .theme import default_template_dir, static_files_of
from .views import (
    GLANCE_GOALS,
    KpiView,
    Links,
    agenda_views,
    change_view,
    change_views,
    changed_fields,
    changes_of,
    dispute_groups,
    dispute_view,
    glance,
    goal_cards,
    goal_history,
    goal_order,
    is_cross_unit,
    kpi_views,
    month_strip,
    review_pages,
    sorted_reviews,
    team_units,
)

if TYPE_CHECKING:
    from .engine import Prefetch

CSS_NAME = "smreport.css"

T = TypeVar("T")
# markupsafe 3's C escaping, under its `escape` (Python that wraps the text in Markup);
# markupsafe 2 has none, and its `escape` is all C already.
_escape_inner: Callable[[str], str] | None = getattr(markupsafe, "_escape_inner", None)


def make_environment(template_dirs: Sequence[Path] = ()) -> jinja2.Environment:
    """A Jinja2 environment whose loader stacks the user's folders over the default theme.

    Overriding one template means dropping one file of the same name in a
    user folder. Autoescaping is on for every template. While no template
    file is added, removed or changed, the same environment (with its
    compiled templates) is reused, which keeps --watch rebuilds fast.
    """
    folders = [d for d in template_dirs if d.is_dir()] + [default_template_dir()]
    signature = tuple(_template_files(folders))
    cached = _ENVIRONMENTS.get(signature)
    if cached is not None:
        return cached
    loaders = [_TextLoader(str(d)) for d in folders]
    # A template from the project's folders is anyone's who can commit there: sandboxed,
    # it can shape the pages but not reach Python (no `__globals__`, no `os.system`).
    kind = _Sandbox if len(folders) > 1 else jinja2.Environment
    environment = kind(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # The signature above already notices an edited template; without this, Jinja2
        # would stat every template file each time a page includes it.
        auto_reload=False,
    )
    environment.context_class = HelperContext
    environment.template_class = _Template
    _ENVIRONMENTS.clear()  # one at a time: an edited theme replaces the old one
    _ENVIRONMENTS[signature] = environment
    return environment


class _Sandbox(jinja2.sandbox.ImmutableSandboxedEnvironment):
    """Jinja2's sandbox, also closed to what the objects smreport hands templates lead
    to: the environment itself (`site.environment.compile_templates(...)` writes files),
    its loaders and templates, modules, and the methods of paths (`write_text`)."""

    def is_safe_attribute(self, obj: object, attr: str, value: object) -> bool:
        if isinstance(obj, _CLOSED) or isinstance(value, _CLOSED) \
                or (isinstance(obj, os.PathLike) and callable(value)):
            return False
        return bool(super().is_safe_attribute(obj, attr, value))


_CLOSED = (jinja2.Environment, jinja2.Template, jinja2.BaseLoader, types.ModuleType)
_ENVIRONMENTS: dict[tuple[object, ...], jinja2.Environment] = {}


class _TextLoader(jinja2.FileSystemLoader):
    """Jinja2's file loader, reporting a template that is not UTF-8 text or cannot be
    read as a template error with its file (Jinja2 lets Python's errors through, and
    a read error names no file)."""

    def get_source(self, environment: jinja2.Environment, template: str
                   ) -> tuple[str, str, Callable[[], bool]]:
        try:
            return super().get_source(environment, template)
        except jinja2.TemplateNotFound:  # an OSError too: the next folder is looked in
            raise
        except (UnicodeDecodeError, OSError) as error:
            parts = split_template_path(template)  # as the loader looked for it
            paths = (os.path.join(folder, *parts) for folder in self.searchpath)
            path = next((path for path in paths if os.path.isfile(path)), template)
            reason = (f"the file is not UTF-8 text (byte {error.start} cannot be read); "
                      "save it as UTF-8" if isinstance(error, UnicodeDecodeError) else
                      f"the file cannot be read ({error.strerror or error}); make it a "
                      "readable text file or remove it")
            raise jinja2.TemplateSyntaxError(reason, 1, template, path) from None


def prepare_templates(template_dirs: Sequence[Path] = ()) -> None:
    """Compile every page template of `make_environment(template_dirs)` now.

    The main process does this while its workers parse the notes, so the page
    workers it forks next inherit the compiled templates instead of each
    compiling them again (about 0.2 s apiece for the default theme). Nothing is
    reported here: a template that fails to load fails again where a page uses
    it, and is reported there with its file and line.
    """
    environment = make_environment(template_dirs)
    for name in environment.list_templates(extensions=["html"]):
        try:
            environment.get_template(name)
        except (jinja2.TemplateError, OSError):
            continue


def escape_to_text(value: object) -> str:
    """markupsafe's `escape`, returning text instead of Markup: the same characters."""
    assert _escape_inner is not None
    if value.__class__ is str:
        return _escape_inner(value)
    html = getattr(value, "__html__", None)
    if html is not None:
        return str(html())
    return _escape_inner(str(value))


class _Template(jinja2.Template):
    """Jinja2's template, its output escaped straight to text.

    A compiled template escapes each `{{ value }}` it writes with markupsafe's
    `escape`, whose Markup the template only joins into the page's text. In
    markupsafe 3 that is two Python calls around its C core, made about 100
    times a goal's page: 8 % of rendering the note pages, counted in
    instructions. Each compiled template's module gets `escape_to_text`
    instead, which escapes the same characters and returns text. Filters (`|e`)
    and Python code keep markupsafe's own `escape`.
    """

    @classmethod
    def from_code(cls, environment: jinja2.Environment, code: Any,
                  globals: MutableMapping[str, Any],  # noqa: A002 - Jinja2's name
                  uptodate: Callable[[], bool] | None = None) -> jinja2.Template:
        template = super().from_code(environment, code, globals, uptodate)
        if _escape_inner is not None:  # where `escape` is Python around C (markupsafe 3)
            template.root_render_func.__globals__["escape"] = escape_to_text
        return template


class HelperContext(jinja2.runtime.Context):
    """Jinja2's template context, calling smreport's own helpers directly.

    Every call in a template goes through `Context.call`, which first looks on
    the callable for Jinja2's `pass_context` marks: about 4 µs a call, and a
    5,000-note site makes 125,000 calls (`t(...)`, `links.url(...)`). The
    translator, the links, the site and its history never take Jinja2's
    context, nor can a built-in method (`date.isoformat`) be marked to, so calls
    to those skip that look-up; anything else (a macro, a method of another
    object) goes the usual way.
    """

    def call(__self, __obj: Callable[..., Any], *args: Any,  # noqa: N805 - Jinja2's names
             **kwargs: Any) -> Any:
        kind = type(__obj)
        if kind in _HELPERS or kind is BuiltinMethodType or (
                kind is MethodType and type(__obj.__self__) in _HELPERS):  # type: ignore[attr-defined]
            kwargs.pop("_block_vars", None)  # Jinja2's own arguments, for context calls
            kwargs.pop("_loop_vars", None)
            return __obj(*args, **kwargs)
        return super().call(__obj, *args, **kwargs)


def _template_files(folders: Sequence[Path]) -> Iterator[object]:
    """Every file of the template folders with its size and time stamp."""
    for folder in folders:
        yield str(folder)
        for path in sorted(folder.rglob("*")):
            try:
                stat = path.stat()
            except OSError:
                continue
            yield (str(path), stat.st_size, stat.st_mtime_ns)


@dataclass
class Site:
    """Everything the pages share: the content as of today, derived views, translations."""

    content: Content
    today: dt.date
    agenda: list[AgendaItem]
    current: Mapping[str, CurrentGoal]
    translate: Translator
    environment: jinja2.Environment
    # Renders a note's Markdown body; a Builder passes its cached version.
    body_html: Callable[[AnyNote], str] | None = None
    # What git knows (note history, "Since your last review"); None without it.
    history: History | None = None
    # A Builder's page cache: a key of everything a note's page shows, and pages by key.
    page_key: Callable[[AnyNote], str] | None = None
    page_store: MutableMapping[str, tuple[str, bytes]] | None = None
    used_keys: set[str] | None = None  # the Builder's record of the cache keys a build used
    # With a page cache: the paths of the notes whose page key was kept from the last
    # build (nothing their pages show changed), and which build this is (see newest_events).
    kept_pages: frozenset[str] | None = None
    generation: int = 0
    # Of those, the notes whose pages the last build published whole (it ran to the end):
    # their pages are the very bytes on disk, so `render_site` skips them and lists their
    # paths in `unchanged_pages`, for the in-place update to keep.
    published_kept: frozenset[str] = frozenset()
    note_paths: AbstractSet[str] | None = None  # every note loaded (a Builder's source keys)
    # A note's page path by its file's path (a Builder keeps them between rebuilds).
    page_paths: dict[str, str] = field(default_factory=dict)
    unchanged_pages: list[str] = field(default_factory=list)
    prefetched: Prefetch | None = None  # note pages rendered ahead by worker processes
    # A build without --watch: the pages of the last build's site that are in the folder
    # being written exactly as that build wrote them, by page key (see `Spare.page_keys`),
    # taken as they are instead of rendered; and this build's page key of each page path,
    # as the pages are taken (kept with the stamp for the build after next).
    reused_pages: Mapping[str, tuple[str, bytes]] = field(default_factory=dict)
    key_record: dict[str, str] | None = None
    view_memo: MutableMapping[str, Any] = field(default_factory=dict)
    partials: dict[tuple[object, ...], Markup] = field(default_factory=dict)  # see `partial`
    link_sets: dict[str, Links] = field(default_factory=dict)  # see `links`

    def links(self, root: str) -> Links:
        """The links from a page `root` ("../../") below the site root: one Links per
        depth for the whole build, so what it makes once (each person's link) serves
        every page at that depth."""
        links = self.link_sets.get(root)
        if links is None:
            links = self.link_sets[root] = Links(self.content, root, self.translate)
        return links

    def page_path_of(self, note_path: str) -> str:
        """The page of the note at `note_path`: its file's folder and name (goals/x.md is
        goals/x/index.html), made once per note path."""
        page = self.page_paths.get(note_path)
        if page is None:
            page = self.page_paths[note_path] = note_path[:-3] + "/index.html"
        return page

    def goal_kpis(self, goal: CurrentGoal) -> list[KpiView]:
        """A goal's KPI views (charts, progress in words), computed once per goal.

        With a Builder's page cache the views also outlive the build: they are
        kept under the goal page's key, which covers all they depend on.
        """
        key = (self.page_key(goal.goal) if self.page_key else goal.id) + ":kpis"
        views = self.view_memo.get(key)
        if views is None:
            tolerance = self.content.project.rules.off_track_tolerance
            views = kpi_views(goal, self.today, tolerance, self.translate)
            self.view_memo[key] = views
        return views

    def note_page(self, note: AnyNote) -> tuple[str, bytes]:
        """A note's page, from the page cache when nothing it shows has changed."""
        if self.page_key is None:
            return render_note(self, note)
        key = self.page_key(note)
        page = self.page_store.get(key) if self.page_store is not None else None
        if page is not None:  # most pages on a rebuild: straight from the page cache
            if self.used_keys is not None:
                self.used_keys.add(key)
            return page
        return self.cached_page(key, functools.partial(render_note, self, note))

    def cached_page(self, key: str | None,
                    render: Callable[[], tuple[str, bytes]]) -> tuple[str, bytes]:
        """The page with key `key`: from the page cache, else rendered ahead by a worker
        (`prefetched`), else rendered here (and kept, when there is a page cache)."""
        if key is None:
            return render()
        if self.used_keys is not None:
            self.used_keys.add(key)
        page = self.page_store.get(key) if self.page_store is not None else None
        if page is None:
            page = self.reused_pages.get(key)  # in the folder as is (a Written)
        if page is None and self.prefetched is not None:
            page = self.prefetched.take(key)  # rendered ahead by a worker; not kept
        if page is None:
            page = render()
            if self.page_store is not None:
                self.page_store[key] = page
        if self.key_record is not None:
            self.key_record[page[0]] = key
        return page

    def page(self, template: str, path: str, **context: object) -> tuple[str, bytes]:
        """Render one page; `path` is its file path relative to the site root."""
        depth = path.count("/")
        html = self.environment.get_template(template).render(
            self._globals("../" * depth), page_path=path,
            section=path.split("/")[0] if depth else "index", **context)
        return path, html.encode("utf-8")

    def _globals(self, root: str) -> dict[str, object]:
        """What every template gets, for a page `root` (its "../" prefix) below the site."""
        return {"site": self, "project": self.content.project, "t": self.translate,
                "links": self.links(root), "root": root,
                "today": self.today, "version": __version__}

    def partial(self, name: str, root: str, **values: Hashable) -> Markup:
        """The template `name` rendered once per distinct arguments, like Hugo's
        partialCached: for what thousands of pages repeat (the header, the menu and
        the footer differ only by the page's depth and section). The template sees
        only the globals and `values`, so nothing else can vary it."""
        key = (name, root, *sorted(values.items()))
        html = self.partials.get(key)
        if html is None:
            html = self.partials[key] = Markup(  # noqa: S704 - an autoescaped template's output
                self.environment.get_template(name).render(self._globals(root), **values))
        return html

    def note_partial(self, name: str, note: AnyNote, root: str, **values: object) -> Markup:
        """The template `name` showing one note in a list (a goal's card), kept with the
        note's page key between rebuilds: a list page with a hundred notes renders again
        only the rows of notes whose page changed.

        The key covers everything the note's own page shows, so `values` must be
        made from that alone (the note, its family, its agenda items, the project
        and today). The template sees only the globals and `values`.
        """
        def render() -> Markup:
            return Markup(  # noqa: S704 - an autoescaped template's output
                self.environment.get_template(name).render(self._globals(root), **values))
        if self.page_key is None or self.page_store is None:  # one build: each row once
            return render()
        key = f"{self.page_key(note)}:{name}:{root}"
        html: Markup | None = self.view_memo.get(key)
        if html is None:
            html = self.view_memo[key] = render()
        return html

    def reuse(self, name: str, inputs: tuple[object, ...], compute: Callable[[], T]) -> T:
        """`compute()`, or with a Builder's page cache (--watch) the last build's answer
        under `name` when it was computed from the very same `inputs` objects: what a
        rebuild recomputes for every note (a list's order) mostly meets the same notes."""
        if self.page_store is None:
            return compute()
        known = self.view_memo.get(name)
        if known is not None and len(known[0]) == len(inputs) \
                and all(map(operator.is_, known[0], inputs)):
            return known[1]  # type: ignore[no-any-return]
        result = compute()
        self.view_memo[name] = (inputs, result)
        return result

    def reuse_order(self, name: str, items: Sequence[T], key: Callable[[T], Any]) -> list[T]:
        """`sorted(items, key=key)`; with a Builder's page cache (--watch), the last build's
        order under `name` with the items that changed put in place, when they are few
        and their sort keys did not change. A sort is stable, so that is the same list.
        Callers must not change the list."""
        if self.page_store is None:
            return sorted(items, key=key)
        known = self.view_memo.get(name)
        if known is not None and len(known[0]) == len(items):
            before, order = known
            changed = [i for i, same in enumerate(map(operator.is_, before, items)) if not same]
            if len(changed) <= REORDER_LIMIT \
                    and all(key(before[i]) == key(items[i]) for i in changed):
                if changed:
                    swap = {id(before[i]): items[i] for i in changed}
                    order = [swap.get(id(item), item) for item in order]
                self.view_memo[name] = (tuple(items), order)
                return order  # type: ignore[no-any-return]
        order = sorted(items, key=key)
        self.view_memo[name] = (tuple(items), order)
        return order

    def list_key(self, folder: str, number: int, count: int, chunk: Sequence[AnyNote],
                 also: str = "") -> str:
        """The cache key of one list page: its notes' page keys, its number and the count,
        and `also`, the key of what every page of the list shows (see `paginate`).

        While watching, the last build's key stands when the page lists the same notes
        and each kept its page key (`kept_pages`): found with set operations, without
        asking for a hundred page keys per page on every save.
        """
        assert self.page_key is not None
        paths = tuple(map(_PATH_OF, chunk))
        name = f"list-key:{folder}:{number}:{count}"
        known = self.view_memo.get(name)
        if known is not None and known[0] == self.generation - 1 and known[1] == paths \
                and known[3] == also \
                and self.kept_pages is not None and self.kept_pages.issuperset(paths):
            key: str = known[2]
        else:
            digest = hashlib.blake2b(f"{folder}\0{number}\0{count}\0{also}".encode(),
                                     digest_size=20)
            for note in chunk:
                digest.update(self.page_key(note).encode())
            key = "list:" + digest.hexdigest()
        self.view_memo[name] = (self.generation, paths, key, also)
        return key

    def notes_key(self, notes: Sequence[AnyNote]) -> str:
        """One key for the page keys of `notes`."""
        assert self.page_key is not None
        digest = hashlib.blake2b(digest_size=20)
        for note in notes:
            digest.update(self.page_key(note).encode())
        return digest.hexdigest()

    def changed_notes(self, kept: AbstractSet[str]) -> list[AnyNote]:
        """The notes of the site whose paths are not in `kept` (by path), found from the
        loaded paths alone (`note_paths`): on a save that is a note or two, and a walk
        over thousands of note objects would cost more than finding them."""
        assert self.note_paths is not None
        known = self.view_memo.get("changed-notes")
        if known is not None and known[0] is kept and known[1] is self:
            return known[2]  # type: ignore[no-any-return]
        notes = []
        for path in sorted(self.note_paths - kept):
            folder, _, name = path.partition("/")
            note = self.content.note(TYPE_OF_FOLDER[folder], name.removesuffix(".md"))
            if note is not None:  # dated after today, it is not in the site yet
                notes.append(note)
        self.view_memo["changed-notes"] = (kept, self, notes)  # the feed asks again
        return notes

    @cached_property
    def goals_in_order(self) -> list[CurrentGoal]:
        """Every current goal as the glance and the goals page list them, sorted once."""
        return self.reuse_order("goals-in-order", list(self.current.values()), goal_order)

    @cached_property
    def list_pages(self) -> list[PagePlan]:
        """The list pages (see `list_plans`), planned once: the page workers and
        `render_lists` both need them."""
        return list_plans(self)

    @cached_property
    def changes_by_goal(self) -> Mapping[str, Sequence[Change]]:
        """Every change under its goal id, by date; computed once, read by every goal page."""
        return changes_of(self.content)

    def body(self, note: AnyNote) -> str:
        """A note's body as HTML (see `markup`)."""
        if self.body_html is not None:
            return self.body_html(note)
        return render_markdown(note.body, note.path)


# The types whose calls HelperContext makes directly: none of their methods takes a context.
_HELPERS: frozenset[type] = frozenset({Translator, Links, Site, History})


def make_site(content: Content, agenda: list[AgendaItem], today: dt.date,
              template_dirs: Sequence[Path] = (),
              body_html: Callable[[AnyNote], str] | None = None,
              history: History | None = None) -> Site:
    """Prepare what every page needs; the content is taken as of `today`."""
    content = as_of(content, today)
    return Site(content, today, agenda, current_goals(content),
                translator(content.project.language), make_environment(template_dirs),
                body_html, history)


def agenda_json(site: Site) -> bytes:
    """agenda.json exactly as the SPEC shows it."""
    items = []
    for item in site.agenda:
        entry: dict[str, object] = {
            "code": item.code,
            "case": item.case,
            "subject": {"type": item.subject.type, "id": item.subject.id} if item.subject
            else None,
            "due": item.due.isoformat(),
            "overdue": item.overdue,
            "title": item.title,
            "why": item.why,
            "url": item.url,
        }
        if item.months is not None:
            entry["months"] = list(item.months)
        if item.kpis is not None:
            entry["kpis"] = list(item.kpis)
        items.append(entry)
    document = {"project": site.content.project.title, "today": site.today.isoformat(),
                "items": items}
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def render_site(site: Site) -> Iterator[tuple[str, bytes]]:
    """Every page of the site, as (path relative to the site root, bytes).

    The briefing and the five list pages come first, then one page per note;
    `render_note` renders a note's page from the note and the shared `site`
    alone, so pages can be rendered in any order or in parallel.
    """
    briefing = render_briefing(site)
    yield briefing
    yield "agenda.json", agenda_json(site)
    yield from render_feeds(site, briefing[1])  # agenda.ics, feed.xml, briefing.html
    yield from render_lists(site)
    if site.published_kept:
        # A note's page is its file's folder and name (see `changed_notes`).
        site.unchanged_pages[:] = map(site.page_path_of, site.published_kept)
        for note in site.changed_notes(site.published_kept):
            yield site.note_page(note)
        return
    for note in notes_in_order(site.content):
        yield site.note_page(note)


def notes_in_order(content: Content) -> list[AnyNote]:
    """Every note, by type (goals, changes, reviews, disputes), then id."""
    notes: list[AnyNote] = []
    for by_id in (content.goals, content.changes, content.reviews, content.disputes):
        notes.extend(by_id[note_id] for note_id in sorted(by_id))
    return notes



def render_briefing(site: Site) -> tuple[str, bytes]:
    """index.html: the agenda first, then the project at a glance."""
    content, translate = site.content, site.translate
    links = site.links("")
    views = agenda_views(site.agenda, content, site.current, site.today, links, translate)
    overdue = [v for v in views if v.item.overdue]
    heading = translate.plural("needs_you", len(views))
    if overdue:
        key = "all_overdue" if len(overdue) == len(views) else "overdue_of_them"
        heading += ", " + translate.plural(key, len(overdue))
    return site.page("index.html", "index.html", agenda=views, heading=heading,
                     overdue=overdue, upcoming=[v for v in views if not v.item.overdue],
                     summary_limit=GLANCE_GOALS,
                     glance=glance(content, site.goals_in_order, site.today, links, translate,
                                   site.goal_kpis, site.reuse))


_PATH_OF = operator.attrgetter("path")

# At most this many changed items are put in place in a kept order (Site.reuse_order);
# more, and the list is sorted again.
REORDER_LIMIT = 16

# A list page shows at most this many notes; the rest follow on index-2.html, index-3.html...
LIST_PAGE_SIZE = 100


@dataclass(frozen=True)
class Pager:
    """Where one page of a list stands among the others."""

    number: int
    pages: list[tuple[int, str]]  # (number, link from this page)

    @property
    def previous(self) -> str | None:
        return self.pages[self.number - 2][1] if self.number > 1 else None

    @property
    def next(self) -> str | None:
        return self.pages[self.number][1] if self.number < len(self.pages) else None


def list_page_path(folder: str, number: int) -> str:
    return f"{folder}/index.html" if number == 1 else f"{folder}/index-{number}.html"


class PagePlan(NamedTuple):
    """A page to render: its cache key (None: not cached), how to render it, and for a
    list page the notes it shows (their pages are best rendered beside it, in the same
    worker process: what both show, a goal's KPI charts, is then worked out once)."""

    key: str | None
    render: Callable[[], tuple[str, bytes]]
    shown: Sequence[AnyNote] = ()


def paginate(site: Site, folder: str, notes: Sequence[AnyNote],
             render: Callable[[Sequence[AnyNote], Pager | None], tuple[str, bytes]],
             every_page_shows_all: bool = False) -> Iterator[PagePlan]:
    """A list in pages of LIST_PAGE_SIZE notes, each rendered only when what it shows changed.

    A page's cache key is made of its notes' page keys (which cover each note,
    its family, today, the project and the templates), its number and the page
    count; with `every_page_shows_all` (the reviews' months strip), of every
    note's page key too.
    """
    count = max(1, -(-len(notes) // LIST_PAGE_SIZE))
    names = [list_page_path(folder, n).rpartition("/")[2] for n in range(1, count + 1)]
    also = site.notes_key(notes) if every_page_shows_all and site.page_key is not None else ""
    for number in range(1, count + 1):
        chunk = notes[(number - 1) * LIST_PAGE_SIZE:number * LIST_PAGE_SIZE]
        pager = Pager(number, list(enumerate(names, 1))) if count > 1 else None
        key = None if site.page_key is None else site.list_key(folder, number, count, chunk,
                                                                 also)
        yield PagePlan(key, functools.partial(render, chunk, pager), chunk)


def render_lists(site: Site) -> Iterator[tuple[str, bytes]]:
    """The list page(s) of each note type, and the team page."""
    for plan in site.list_pages:
        yield site.cached_page(plan.key, plan.render)


def list_plans(site: Site) -> list[PagePlan]:
    """The list page(s) of each note type, and the team page, ready to render in any order
    (worker processes render them while this one writes)."""
    content, today, translate = site.content, site.today, site.translate
    links = site.links("../")
    plans: list[PagePlan] = []

    def goals_page(chunk: Sequence[AnyNote], pager: Pager | None) -> tuple[str, bytes]:
        shown = [site.current[goal.id] for goal in chunk]
        return site.page("goals.html", list_page_path("goals", pager.number if pager else 1),
                         goals=goal_cards(content, shown, today, links, translate,
                                          site.goal_kpis), pager=pager)
    plans.extend(paginate(site, "goals", [goal.goal for goal in site.goals_in_order],
                          goals_page))

    changes = site.reuse(f"changes-in-order:{today}", tuple(content.changes.values()),
                         lambda: changes_in_order(content))

    def changes_page(chunk: Sequence[AnyNote], pager: Pager | None) -> tuple[str, bytes]:
        shown = dataclasses.replace(content, changes={c.id: c for c in chunk
                                                      if isinstance(c, Change)})
        groups = change_views(shown, site.current, today, links, translate)
        if pager is not None:  # headings only where the page has notes of that group
            groups = [group for group in groups if group[1]]
        return site.page("changes.html", list_page_path("changes", pager.number if pager else 1),
                         groups=groups, pager=pager)
    plans.extend(paginate(site, "changes", changes, changes_page))

    reviews = sorted_reviews(list(content.reviews.values()))
    months = month_strip(content, today, translate)

    def reviews_page(chunk: Sequence[AnyNote], pager: Pager | None) -> tuple[str, bytes]:
        return site.page("reviews.html", list_page_path("reviews", pager.number if pager else 1),
                         reviews=list(chunk), months=months, pager=pager)
    # Every page shows the months strip, made of every review.
    plans.extend(paginate(site, "reviews", reviews, reviews_page, every_page_shows_all=True))

    disputes = site.reuse(f"disputes-in-order:{today}",
                          (content.project, *content.disputes.values()),
                          lambda: disputes_in_order(content, today))

    def disputes_page(chunk: Sequence[AnyNote], pager: Pager | None) -> tuple[str, bytes]:
        shown = dataclasses.replace(content, disputes={d.id: d for d in chunk
                                                       if isinstance(d, Dispute)})
        groups = dispute_groups(shown, today, links, translate)
        if pager is not None:
            groups = [group for group in groups if group[2]]
        return site.page("disputes.html",
                         list_page_path("disputes", pager.number if pager else 1),
                         groups=groups, pager=pager)
    plans.extend(paginate(site, "disputes", disputes, disputes_page))
    plans.append(PagePlan(None, lambda: site.page("team.html", "team/index.html",
                                                  units=team_units(content))))
    return plans


def changes_in_order(content: Content) -> list[Change]:
    """Changes waiting for a decision (oldest first), then decided ones (latest first)."""
    changes = sorted(content.changes.values(), key=operator.attrgetter("date", "id"))
    return [c for c in changes if c.decision is None] + \
        [c for c in reversed(changes) if c.decision is not None]


def disputes_in_order(content: Content, today: dt.date) -> list[Dispute]:
    """Open cross-unit disputes, open within-unit ones, then decided ones (latest first)."""
    disputes = sorted(content.disputes.values(), key=operator.attrgetter("date", "id"))
    open_cross: list[Dispute] = []
    open_within: list[Dispute] = []
    for dispute in disputes:
        if dispute.decision is None:
            (open_cross if is_cross_unit(dispute, content) else open_within).append(dispute)
    decided = sorted((d for d in disputes if d.decision is not None),
                     key=lambda d: (d.decision.date if d.decision else today, d.id),
                     reverse=True)
    return open_cross + open_within + decided


def render_note(site: Site, note: AnyNote) -> tuple[str, bytes]:
    """One note's page, from the note and the shared site data."""
    path = site.page_path_of(note.path)
    links = site.links("../../")
    content, today, translate = site.content, site.today, site.translate
    body = site.body(note)
    if isinstance(note, Goal):
        goal = site.current[note.id]
        changes = site.changes_by_goal.get(note.id, [])
        return site.page("goal.html", path, goal=goal, body=body,
                         kpis=site.goal_kpis(goal),
                         changed=changed_fields(goal, translate),
                         history=goal_history(goal, changes, links, translate))
    if isinstance(note, Change):
        return site.page("change.html", path, body=body,
                         view=change_view(note, content, site.current, today, links, translate))
    if isinstance(note, Review):
        return site.page("review.html", path, review=note, body=body,
                         pages=review_pages(note))
    return site.page("dispute.html", path, body=body,
                     view=dispute_view(note, content, today, links, translate))


def static_files(site: Site) -> Iterator[tuple[str, Path]]:
    """The theme's files copied as they are into assets/: its CSS and icon.

    Every file under a template folder's `static/` is copied; a user's folder
    overrides the default theme file by file, like templates.
    """
    loaders = site.environment.loader.loaders  # type: ignore[union-attr]
    chosen = static_files_of(Path(folder) for loader in loaders for folder in loader.searchpath)
    for name in sorted(chosen):
        yield name, chosen[name]


__all__ = ["FOLDERS", "Site", "agenda_json", "make_site", "render_note", "render_site",
           "static_files"]
