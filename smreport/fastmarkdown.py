"""An optional, faster Markdown backend: GitHub's cmark-gfm (`pip install 'smreport[fast]'`).

It renders CommonMark with tables and strikethrough in C, in cmark-gfm's safe
mode (`javascript:` and similar links are blanked), with raw HTML turned into
text before rendering, as the SPEC and the default backend show it; then
applies smreport's own rules to its output: only http(s), mailto, relative
and in-page links and images, `.md` links rewritten to note pages, headings
shifted one level down. Differences from the default markdown-it-py backend
are documented in the README.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from .markup import EXTERNAL, image_link, is_safe_url, rewrite_relative

try:
    import cmarkgfm
    from cmarkgfm.cmark import Options
except ImportError:  # the optional extra is not installed
    cmarkgfm = None

NAME = "cmark-gfm"
_EXTENSIONS = ["table", "strikethrough"]
_HEADING = re.compile(r"<(/?)h([1-6])\b")
# cmark-gfm always writes these attributes first and double-quoted, with entities escaped.
_LINK = re.compile(r'<(a|img) (href|src)="([^"]*)"')
# cmark-gfm writes an image as exactly this (its alt text and title escaped).
_IMAGE = re.compile(r'<img src="([^"]*)" alt="([^"]*)"(?: title="[^"]*")? />')


def available() -> bool:
    return cmarkgfm is not None


def _shift_heading(match: re.Match[str]) -> str:
    return f"<{match.group(1)}h{min(6, int(match.group(2)) + 1)}"


class _Native:
    """cmark-gfm's calls, made so that nothing is leaked.

    cmarkgfm's `markdown_to_html_with_extensions` frees neither the document
    tree nor the HTML string it renders: about 40 KB a note, so a worker that
    renders 25,000 notes (a 50,000-note build) would hold a gigabyte it can
    never use. Both are freed here with cmark-gfm's own `cmark_node_free` and
    its allocator's `free`, which its library exports but cmarkgfm does not
    wrap. The extensions are looked up once, not for every note.
    """

    def __init__(self, library: str | None = None) -> None:
        import cffi  # noqa: PLC0415 - cmarkgfm's own dependency
        from cmarkgfm import _cmark  # noqa: PLC0415

        self.lib, self.ffi = _cmark.lib, _cmark.ffi
        self.lib.cmark_gfm_core_extensions_ensure_registered()
        self.extensions = [self.lib.cmark_find_syntax_extension(name.encode())
                           for name in _EXTENSIONS]
        if self.ffi.NULL in self.extensions:  # attaching NULL would crash the process
            raise RuntimeError(f"this cmark-gfm lacks one of the extensions {_EXTENSIONS}")
        ffi = cffi.FFI()
        ffi.cdef("typedef struct { void *(*calloc)(size_t, size_t); "
                 "void *(*realloc)(void *, size_t); void (*free)(void *); } cmark_mem;"
                 "cmark_mem *cmark_get_default_mem_allocator(void);"
                 "void cmark_node_free(void *node);" + _TREE_CALLS)
        # The library Python loaded (the same functions and state), or `library` in tests.
        self.own = own = ffi.dlopen(library or _cmark.__file__)  # kept open while used
        self.node_free, self.free = own.cmark_node_free, own.cmark_get_default_mem_allocator().free
        self.address, self.pointer, self.own_ffi = ffi.cast, self.ffi.cast, ffi
        self.text_type = self.paragraph_type = 0
        self.shows_raw_html = True
        try:
            probe = self._parse(b"a")
            try:
                paragraph = own.cmark_node_first_child(self._own(probe))
                self.paragraph_type = own.cmark_node_get_type(paragraph)
                self.text_type = own.cmark_node_get_type(own.cmark_node_first_child(paragraph))
            finally:
                self.node_free(self._own(probe))
            # Checked once, as the library at hand renders it; else raw HTML is dropped.
            works = self.render(_RAW_HTML_PROBE) == _RAW_HTML_SHOWN
        except AttributeError:  # a library without the tree functions
            works = False
        self.shows_raw_html = works

    def _parse(self, data: bytes) -> object:
        """A document tree of `data` (the caller's to free), without extensions."""
        parser = self.lib.cmark_parser_new(_OPTIONS)
        try:
            self.lib.cmark_parser_feed(parser, data, len(data))
            return self.lib.cmark_parser_finish(parser)
        finally:
            self.lib.cmark_parser_free(parser)

    def render(self, text: str) -> str:
        lib, data = self.lib, text.encode("utf-8", "surrogatepass")
        parser = lib.cmark_parser_new(_OPTIONS)
        try:
            for extension in self.extensions:
                lib.cmark_parser_attach_syntax_extension(parser, extension)
            lib.cmark_parser_feed(parser, data, len(data))
            document = lib.cmark_parser_finish(parser)  # the caller's to free
            try:
                if "<" in text and self.shows_raw_html:
                    self._raw_html_as_text(self._own(document))
                html = lib.cmark_render_html(document, _OPTIONS,
                                             lib.cmark_parser_get_syntax_extensions(parser))
                try:
                    return str(self.ffi.string(html).decode("utf-8"))
                finally:
                    self.free(self._own(html))
            finally:
                self.node_free(self._own(document))
        finally:
            lib.cmark_parser_free(parser)

    def _raw_html_as_text(self, document: object) -> None:
        """Turn each raw HTML block into a paragraph of its text, and each raw HTML span
        into text: rendered, it is escaped, as markdown-it-py shows raw HTML with `html`
        off. (cmark-gfm's safe mode would omit it, and a note would silently lose
        words such as "a <b> tag".)"""
        own, ffi = self.own, self.own_ffi
        found = []
        walk = own.cmark_iter_new(document)
        try:
            while (event := own.cmark_iter_next(walk)) != _EVENT_DONE:
                if event == _EVENT_ENTER:
                    node = own.cmark_iter_get_node(walk)
                    kind = ffi.string(own.cmark_node_get_type_string(node))
                    if kind in (b"html_block", b"html_inline"):
                        found.append((node, kind == b"html_block"))
        finally:
            own.cmark_iter_free(walk)
        for node, block in found:
            text = own.cmark_node_new(self.text_type)
            own.cmark_node_set_literal(text, ffi.string(own.cmark_node_get_literal(node))
                                       .rstrip(b"\n"))
            if block:
                paragraph = own.cmark_node_new(self.paragraph_type)
                own.cmark_node_append_child(paragraph, text)
                text = paragraph
            own.cmark_node_replace(node, text)  # unlinks the old node, which is then freed
            own.cmark_node_free(node)

    def _own(self, pointer: object) -> object:
        """A pointer of cmarkgfm's as one of ours (two cffi modules, one address)."""
        return self.address("void *", int(self.pointer("uintptr_t", pointer)))


_OPTIONS = Options.CMARK_OPT_VALIDATE_UTF8 if cmarkgfm is not None else 0  # safe mode
_EVENT_DONE, _EVENT_ENTER = 1, 2  # cmark_event_type
_TREE_CALLS = """
void *cmark_iter_new(void *root);
void cmark_iter_free(void *iter);
int cmark_iter_next(void *iter);
void *cmark_iter_get_node(void *iter);
int cmark_node_get_type(void *node);
const char *cmark_node_get_type_string(void *node);
const char *cmark_node_get_literal(void *node);
int cmark_node_set_literal(void *node, const char *content);
void *cmark_node_new(int type);
void *cmark_node_first_child(void *node);
int cmark_node_append_child(void *node, void *child);
int cmark_node_replace(void *oldnode, void *newnode);
"""
_RAW_HTML_PROBE = "a <b>c</b>\n\n<div>d</div>\n"
_RAW_HTML_SHOWN = "<p>a &lt;b&gt;c&lt;/b&gt;</p>\n<p>&lt;div&gt;d&lt;/div&gt;</p>\n"


def _wrapped(text: str) -> str:
    """cmarkgfm's own wrapper: the same HTML, but it leaks what it renders."""
    return str(cmarkgfm.markdown_to_html_with_extensions(
        text, options=Options.CMARK_OPT_VALIDATE_UTF8, extensions=_EXTENSIONS))


def renderer(library: str | None = None) -> Callable[[str], str]:
    """`_Native`'s calls; cmarkgfm's wrapper where its build does not export what they
    need (another platform's or a later release's library)."""
    try:
        return _Native(library).render
    except (ImportError, AttributeError, OSError):
        return _wrapped


_render: Callable[[str], str] | None = None


def render_markdown_cmark(text: str, note_path: str = "") -> str:
    """Render a note's body with cmark-gfm, then apply smreport's link and heading rules."""
    if cmarkgfm is None:
        raise RuntimeError("the cmark-gfm backend needs: pip install 'smreport[fast]'")
    global _render
    if _render is None:
        _render = renderer()
    rendered = _render(text)

    def fix_link(match: re.Match[str]) -> str:
        tag, attribute, value = match.groups()
        url = html.unescape(value)
        if not url or not is_safe_url(url):
            return f"<{tag}"  # the attribute is dropped: a link to nowhere, an empty image
        if note_path:
            url = rewrite_relative(url, note_path)
        extra = ' rel="noopener noreferrer"' if tag == "a" and url.startswith(
            ("http://", "https://")) else ""
        return f'<{tag} {attribute}="{html.escape(url, quote=True)}"{extra}'

    page = _HEADING.sub(_shift_heading, _LINK.sub(fix_link, rendered))
    if '<img src="' not in page:
        return page

    def external_image(match: re.Match[str]) -> str:  # a picture on another host: a link
        if not EXTERNAL.match(html.unescape(match[1])):
            return match[0]
        in_link = page.count("<a ", 0, match.start()) > page.count("</a>", 0, match.start())
        return image_link(match[1], match[2], in_link)
    return _IMAGE.sub(external_image, page)
