"""Render the briefing site: every page as (relative path, bytes), computed in memory.

Pages are produced one at a time by a generator, so a large site is written
as it is rendered rather than held whole in memory. Nothing here touches the
output folder; `publish` does.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

from . import __version__
from .derive import as_of, current_goals
from .i18n import Translator, translator
from .markup import render_markdown
from .model import FOLDERS, AgendaItem, AnyNote, Content, CurrentGoal
from .views import (
    Links,
    agenda_views,
    changes_of,
    dispute_groups,
    glance,
    goal_history,
    is_cross_unit,
    kpi_views,
    month_strip,
)

PACKAGE_DIR = Path(__file__).resolve().parent
CSS_NAME = "smreport.css"


def default_template_dir() -> Path:
    """The packaged theme: `smreport/templates` when installed, `templates/` in a checkout."""
    installed = PACKAGE_DIR / "templates"
    return installed if installed.is_dir() else PACKAGE_DIR.parent / "templates"


def make_environment(template_dirs: Sequence[Path] = ()) -> jinja2.Environment:
    """A Jinja2 environment whose loader stacks the user's folders over the default theme.

    Overriding one template means dropping one file of the same name in a
    user folder. Autoescaping is on for every template.
    """
    loaders = [jinja2.FileSystemLoader(str(d)) for d in template_dirs if d.is_dir()]
    loaders.append(jinja2.FileSystemLoader(str(default_template_dir())))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


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

    def page(self, template: str, path: str, **context: object) -> tuple[str, bytes]:
        """Render one page; `path` is its file path relative to the site root."""
        depth = path.count("/")
        links = Links(self.content, "../" * depth)
        html = self.environment.get_template(template).render(
            site=self, project=self.content.project, t=self.translate, links=links,
            root=links.root, today=self.today, version=__version__, page_path=path,
            section=path.split("/")[0] if depth else "index", **context)
        return path, html.encode("utf-8")

    def body(self, note: AnyNote) -> str:
        """A note's body as HTML (see `markup`)."""
        if self.body_html is not None:
            return self.body_html(note)
        return render_markdown(note.body, note.path)


def make_site(content: Content, agenda: list[AgendaItem], today: dt.date,
              template_dirs: Sequence[Path] = (),
              body_html: Callable[[AnyNote], str] | None = None) -> Site:
    """Prepare what every page needs; the content is taken as of `today`."""
    content = as_of(content, today)
    return Site(content, today, agenda, current_goals(content),
                translator(content.project.language), make_environment(template_dirs),
                body_html)


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
    """Every page of the site, as (path relative to the site root, bytes)."""
    content, translate = site.content, site.translate
    links = Links(content, "")
    views = agenda_views(site.agenda, content, site.current, site.today, links, translate)
    yield site.page("index.html", "index.html", agenda=views,
                    overdue=[v for v in views if v.item.overdue],
                    upcoming=[v for v in views if not v.item.overdue],
                    glance=glance(content, site.current, site.today, translate))
    yield "agenda.json", agenda_json(site)
    yield from render_goals(site)
    yield from render_changes(site)
    yield from render_reviews(site)
    yield from render_disputes(site)
    yield site.page("team.html", "team/index.html")


def render_goals(site: Site) -> Iterator[tuple[str, bytes]]:
    grouped = changes_of(site.content)
    tolerance = site.content.project.rules.off_track_tolerance
    goals = sorted(site.current.values(), key=lambda g: (g.status != "active", g.due, g.id))
    with_kpis = [(g, kpi_views(g, site.today, tolerance, site.translate)) for g in goals]
    yield site.page("goals.html", "goals/index.html", goals=with_kpis)
    for goal, kpis in with_kpis:
        changes = grouped.get(goal.id, [])
        links = Links(site.content, "../../")
        yield site.page("goal.html", f"goals/{goal.id}/index.html", goal=goal, kpis=kpis,
                        changes=changes, body=site.body(goal.goal),
                        history=goal_history(goal, changes, links, site.translate))


def render_changes(site: Site) -> Iterator[tuple[str, bytes]]:
    changes = sorted(site.content.changes.values(), key=lambda c: (c.date, c.id), reverse=True)
    yield site.page("changes.html", "changes/index.html", changes=changes)
    for change in changes:
        yield site.page("change.html", f"changes/{change.id}/index.html", change=change,
                        goal=site.current.get(change.goal), body=site.body(change))


def render_reviews(site: Site) -> Iterator[tuple[str, bytes]]:
    reviews = sorted(site.content.reviews.values(), key=lambda r: (r.month, r.date, r.id),
                     reverse=True)
    yield site.page("reviews.html", "reviews/index.html", reviews=reviews,
                    months=month_strip(site.content, site.today, site.translate))
    for review in reviews:
        yield site.page("review.html", f"reviews/{review.id}/index.html", review=review,
                        body=site.body(review))


def render_disputes(site: Site) -> Iterator[tuple[str, bytes]]:
    yield site.page("disputes.html", "disputes/index.html", groups=dispute_groups(site.content))
    for dispute in sorted(site.content.disputes.values(), key=lambda d: d.id):
        yield site.page("dispute.html", f"disputes/{dispute.id}/index.html", dispute=dispute,
                        cross_unit=is_cross_unit(dispute, site.content), body=site.body(dispute))


def static_files(site: Site) -> Iterator[tuple[str, Path]]:
    """Files copied as they are: the theme's CSS and the content's assets."""
    css = None
    for loader in site.environment.loader.loaders:  # type: ignore[union-attr]
        for folder in loader.searchpath:
            candidate = Path(folder) / "static" / CSS_NAME
            if candidate.is_file():
                css = candidate
                break
        if css:
            break
    if css is not None:
        yield f"assets/{CSS_NAME}", css


__all__ = ["FOLDERS", "Site", "make_site", "render_site", "static_files", "agenda_json"]
