"""Markdown bodies to safe HTML: CommonMark with tables and strikethrough.

Raw HTML is shown as text, only http(s), mailto, relative and in-page links
are emitted, and a relative link to another note's `.md` file becomes a link
to that note's page. Rendering one body depends on nothing but the body and
the note's path, so results can be cached and computed in worker processes.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_SAFE_SCHEMES = {"http", "https", "mailto"}
NOTE_FOLDERS = ("goals", "changes", "reviews", "disputes")


def is_safe_url(url: str) -> bool:
    """Only http(s), mailto, relative and in-page links may reach a page."""
    cleaned = "".join(ch for ch in url if ch > " " and ch != "\x7f").strip()
    match = _SCHEME.match(cleaned)
    if match is None:
        return not cleaned.startswith("//")  # protocol-relative would load another host
    return match.group(1).lower() in _SAFE_SCHEMES


def site_path(content_path: str) -> str | None:
    """Where a content file ends up in the site: a note's page folder, or an asset."""
    parts = content_path.split("/")
    if len(parts) == 2 and parts[0] in NOTE_FOLDERS and parts[1].endswith(".md"):
        return f"{parts[0]}/{parts[1][:-3]}/"
    if parts[0] == "assets" and len(parts) > 1:
        return content_path
    return None


def rewrite_relative(url: str, note_path: str) -> str:
    """Map a link written relative to the note's file to one relative to its page."""
    if not url or url.startswith(("#", "/")) or _SCHEME.match(url):
        return url
    path, hash_mark, fragment = url.partition("#")
    path, query_mark, query = path.partition("?")
    note_folder = posixpath.dirname(note_path)
    target = posixpath.normpath(posixpath.join(note_folder, unquote(path)))
    if target.startswith("../") or target == "..":
        return url  # outside the content root: leave it, validation warns
    mapped = site_path(target)
    if mapped is None:
        return url
    # The note's own page is one folder deeper than its file: goals/x.md -> goals/x/
    page_folder = note_path[:-3] + "/" if note_path.endswith(".md") else note_folder
    relative = _relative(mapped.rstrip("/"), page_folder.rstrip("/"))
    if mapped.endswith("/"):  # a note's page: name its index.html, so disk reading works
        relative += "/index.html"
    return relative + (query_mark + query) + (hash_mark + fragment)


_HEADINGS = frozenset({"heading_open", "heading_close"})


def _relative(target: str, start: str) -> str:
    """posixpath.relpath for two normalised paths inside the site, without its getcwd()."""
    to, start_parts = target.split("/"), start.split("/") if start else []
    common = 0
    for a, b in zip(to, start_parts, strict=False):  # the shorter one ends the prefix
        if a != b:
            break
        common += 1
    return "/".join([".."] * (len(start_parts) - common) + to[common:]) or "."


class _SafeRenderer(RendererHTML):
    """Drops unsafe URLs, rewrites note links, and shifts headings one level down."""

    def render(self, tokens: Sequence[Token], options: OptionsDict, env: EnvType) -> str:
        note_path = env.get("note_path", "")
        fix = self._fix
        for token in tokens:  # only headings and tokens with attributes need a look
            if token.attrs or token.type in _HEADINGS:
                fix(token, note_path)
            for child in token.children or ():
                if child.attrs:
                    fix(child, note_path)
        return super().render(tokens, options, env)

    @staticmethod
    def _fix(token: Token, note_path: str) -> None:
        if token.type in _HEADINGS:
            level = min(6, int(token.tag[1]) + 1)  # the page's own title is the only h1
            token.tag = f"h{level}"
        if token.type in ("th_open", "td_open"):
            # Column alignment as a class: the pages' CSP blocks inline style attributes.
            style = str(token.attrs.pop("style", ""))
            if style.startswith("text-align:"):
                token.attrSet("class", "align-" + style.removeprefix("text-align:"))
        for attribute in ("href", "src"):
            value = token.attrGet(attribute)
            if value is None:
                continue
            if not is_safe_url(str(value)):
                token.attrs.pop(attribute, None)
            elif note_path:
                token.attrSet(attribute, rewrite_relative(str(value), note_path))
        if token.type == "link_open" and str(token.attrGet("href") or "").startswith(
                ("http://", "https://")):
            token.attrSet("rel", "noopener noreferrer")


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "xhtmlOut": False, "linkify": False},
                    renderer_cls=_SafeRenderer)
    md.enable(["table", "strikethrough"])
    md.validateLink = is_safe_url  # type: ignore[method-assign]
    return md


BACKENDS = ("markdown-it", "cmark-gfm")
_backend = "markdown-it"


def use_backend(name: str) -> None:
    """Choose the Markdown renderer for this process (and the workers it forks)."""
    global _backend
    if name not in BACKENDS:
        raise ValueError(f"unknown Markdown backend {name!r}; choose one of {BACKENDS}")
    if name == "cmark-gfm":
        from .fastmarkdown import available  # noqa: PLC0415 - an optional extra
        if not available():
            raise ValueError("the cmark-gfm backend needs: pip install 'smreport[fast]'")
    _backend = name


def current_backend() -> str:
    return _backend


def render_markdown(text: str, note_path: str = "") -> str:
    """Render a note's Markdown body to HTML that is safe to put in a page."""
    if _backend == "cmark-gfm":
        from .fastmarkdown import render_markdown_cmark  # noqa: PLC0415
        return render_markdown_cmark(text, note_path)
    env: dict[str, Any] = {"note_path": note_path}
    return str(_markdown().render(text, env))
