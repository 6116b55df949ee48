"""An optional, faster Markdown backend: GitHub's cmark-gfm (`pip install 'smreport[fast]'`).

It renders CommonMark with tables and strikethrough in C, in cmark-gfm's safe
mode (raw HTML is omitted, `javascript:` and similar links are blanked), then
applies smreport's own rules to its output: only http(s), mailto, relative
and in-page links and images, `.md` links rewritten to note pages, headings
shifted one level down. Differences from the default markdown-it-py backend
are documented in the README: raw HTML is dropped instead of shown as text.
"""

from __future__ import annotations

import html
import re

from .markup import is_safe_url, rewrite_relative

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


def available() -> bool:
    return cmarkgfm is not None


def _shift_heading(match: re.Match[str]) -> str:
    return f"<{match.group(1)}h{min(6, int(match.group(2)) + 1)}"


def render_markdown_cmark(text: str, note_path: str = "") -> str:
    """Render a note's body with cmark-gfm, then apply smreport's link and heading rules."""
    if cmarkgfm is None:
        raise RuntimeError("the cmark-gfm backend needs: pip install 'smreport[fast]'")
    options = Options.CMARK_OPT_VALIDATE_UTF8  # safe mode: CMARK_OPT_UNSAFE is not set
    rendered = cmarkgfm.markdown_to_html_with_extensions(text, options=options,
                                                         extensions=_EXTENSIONS)

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

    return _HEADING.sub(_shift_heading, _LINK.sub(fix_link, rendered))
