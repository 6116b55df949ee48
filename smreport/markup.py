"""Markdown bodies to safe HTML: CommonMark with tables and strikethrough.

Raw HTML is shown as text, only http(s), mailto, relative and in-page links
are emitted, and a relative link to another note's `.md` file becomes a link
to that note's page. Rendering one body depends on nothing but the body and
the note's path, so results can be cached and computed in worker processes.
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_SAFE_SCHEMES = {"http", "https", "mailto"}
# What a browser skips in a URL's scheme: controls, spaces and DEL.
_IGNORED_IN_URL = re.compile("[\x00-\x20\x7f]")
NOTE_FOLDERS = ("goals", "changes", "reviews", "disputes")


def is_safe_url(url: str) -> bool:
    """Only http(s), mailto, relative and in-page links may reach a page."""
    cleaned = _IGNORED_IN_URL.sub("", url).strip()
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
    """Drops unsafe URLs, rewrites note links, and shifts headings one level down.

    Each fix is a render rule for the few token types that need one. The token
    stream itself is walked by `render`, a leaner copy of markdown-it-py's own
    loop: same output, about a third less time (see `render`).
    """

    def render(self, tokens: Sequence[Token], options: OptionsDict, env: EnvType) -> str:
        """markdown-it-py's `render` and `renderInline` in one loop, its `renderToken`
        a plain function, and text and soft breaks written in place.

        markdown-it-py calls a method for each of a body's 150-200 tokens, and its
        `renderToken` builds the tag's text in several steps: about 18 % of
        turning a body into HTML. This loop writes exactly the same text (a test
        compares the two on every branch, and they agreed on markdown-it-py's 959
        CommonMark, table and strikethrough fixtures). It covers what smreport
        uses: no XHTML tags, no `breaks`, no rule of a plugin for text.
        """
        if options["xhtmlOut"] or options["breaks"]:
            return str(super().render(tokens, options, env))
        out: list[str] = []
        append = out.append
        rules = self.rules
        for index, token in enumerate(tokens):
            kind = token.type
            if kind == "inline":
                children = token.children or ()
                for child_index, child in enumerate(children):
                    kind = child.type
                    if kind == "text":
                        append(escapeHtml(child.content))
                    elif kind == "softbreak":
                        append("\n")
                    elif (rule := rules.get(kind)) is None:
                        append(_tag(children, child_index, child))
                    else:
                        append(rule(children, child_index, options, env))
            elif (rule := rules.get(kind)) is None or (
                    kind == "list_item_open" and not token.meta):  # no task list box
                append(_tag(tokens, index, token))
            else:
                append(rule(tokens, index, options, env))
        return "".join(out)

    def renderToken(self, tokens: Sequence[Token], idx: int, options: OptionsDict,
                    env: EnvType) -> str:
        if options["xhtmlOut"]:
            return super().renderToken(tokens, idx, options, env)
        return _tag(tokens, idx, tokens[idx])

    def link_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict,
                  env: EnvType) -> str:
        token = tokens[idx]
        _fix_url(token, "href", env)
        if str(token.attrGet("href") or "").startswith(("http://", "https://")):
            token.attrSet("rel", "noopener noreferrer")
        env["links_open"] = env.get("links_open", 0) + 1
        return self.renderToken(tokens, idx, options, env)

    def link_close(self, tokens: Sequence[Token], idx: int, options: OptionsDict,
                   env: EnvType) -> str:
        env["links_open"] = env.get("links_open", 1) - 1
        return self.renderToken(tokens, idx, options, env)

    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict,
              env: EnvType) -> str:
        token = tokens[idx]
        _fix_url(token, "src", env)
        source = str(token.attrGet("src") or "")
        if EXTERNAL.match(source):
            alt = self.renderInlineAsText(token.children or [], options, env)
            return image_link(escapeHtml(source), escapeHtml(alt), env.get("links_open", 0) > 0)
        return super().image(tokens, idx, options, env)

    def heading_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict,
                     env: EnvType) -> str:
        _shift_heading(tokens[idx])
        return self.renderToken(tokens, idx, options, env)

    heading_close = heading_open

    def th_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict,
                env: EnvType) -> str:
        # Column alignment as a class: the pages' CSP blocks inline style attributes.
        token = tokens[idx]
        if token.attrs:
            style = str(token.attrs.pop("style", ""))
            if style.startswith("text-align:"):
                token.attrSet("class", "align-" + style.removeprefix("text-align:"))
        return self.renderToken(tokens, idx, options, env)

    td_open = th_open


def _tag(tokens: Sequence[Token], index: int, token: Token) -> str:
    """markdown-it-py's `RendererHTML.renderToken` for HTML (not XHTML) tags: the tag
    with its attributes, and a line break after a block tag unless inline content or
    its own closing tag follows."""
    if token.hidden:  # a tight list's paragraph
        return ""
    nesting = token.nesting
    lead, close = "", ">"
    if token.block:
        if nesting != -1 and index and tokens[index - 1].hidden:
            lead = "\n"
        if nesting != 1 or index + 1 >= len(tokens):
            close = ">\n"
        else:
            after = tokens[index + 1]
            if not (after.type == "inline" or after.hidden
                    or (after.nesting == -1 and after.tag == token.tag)):
                close = ">\n"
    attributes = "".join([f' {escapeHtml(name)}="{escapeHtml(str(value))}"'
                          for name, value in token.attrs.items()]) if token.attrs else ""
    return f"{lead}{'</' if nesting == -1 else '<'}{token.tag}{attributes}{close}"


def _shift_heading(token: Token) -> None:
    """The page's own title is the only h1: a body's headings go one level down."""
    token.tag = f"h{min(6, int(token.tag[1]) + 1)}"


# An address on another host, in any case (HTTPS:, and http:host without slashes, which
# browsers read as http://host).
EXTERNAL = re.compile(r"\s*https?:", re.IGNORECASE)


def image_link(source: str, alt: str, in_link: bool = False) -> str:
    """A picture on another host, as a link to it (both HTML-escaped already): the site
    loads nothing from another host, so that no one learns when an executive read it.
    Inside a link (a linked picture) only its text: a link cannot hold another."""
    if in_link:
        return alt
    return f'<a href="{source}" rel="noopener noreferrer">{alt or source}</a>'


def _fix_url(token: Token, attribute: str, env: EnvType) -> None:
    """Drop an unsafe URL; make a link relative to the note's file relative to its page."""
    value = token.attrGet(attribute)
    if value is None:
        return
    if not is_safe_url(str(value)):
        token.attrs.pop(attribute, None)
    elif note_path := env.get("note_path", ""):
        token.attrSet(attribute, rewrite_relative(str(value), note_path))


def _quiet_markdown_it_debug() -> None:
    """markdown-it-py's block rules log every call at DEBUG ("entering paragraph: ..."),
    some 250 calls a note that nothing here shows, each two Python calls (Logger.debug,
    then isEnabledFor): 2.7 % of rendering a body, counted in instructions. Their
    loggers' `debug` becomes a call into C that does nothing ("".format ignores its
    arguments). Warnings and errors still go through."""
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if name.startswith("markdown_it") and isinstance(logger, logging.Logger):
            logger.debug = "".format  # type: ignore[method-assign,assignment]


_quiet_markdown_it_debug()  # at import: worker processes inherit or import it too


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "xhtmlOut": False, "linkify": False},
                    renderer_cls=_SafeRenderer)
    md.enable(["table", "strikethrough"])
    # With "html" off these two rules only return False, at every block and at every '<':
    # not calling them gives the same tokens a few per cent sooner.
    md.disable(["html_block", "html_inline"])
    md.validateLink = is_safe_url  # type: ignore[method-assign]
    return md


BACKENDS = ("markdown-it", "cmark-gfm")
_backend = "markdown-it"


def backend_problem(name: str) -> str | None:
    """Why the Markdown renderer `name` cannot be used here, if it cannot."""
    if name not in BACKENDS:
        return f"unknown Markdown backend {name!r}; choose markdown-it or cmark-gfm"
    if name == "cmark-gfm":
        from .fastmarkdown import available  # noqa: PLC0415 - an optional extra
        if not available():
            return "the cmark-gfm backend needs cmarkgfm: pip install 'smreport[fast]'"
    return None


def use_backend(name: str) -> None:
    """Choose the Markdown renderer for this process (and the workers it forks)."""
    global _backend
    problem = backend_problem(name)
    if problem:
        raise ValueError(problem)
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
