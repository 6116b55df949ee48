"""The optional cmark-gfm backend: as safe as the default, and equivalent on real notes."""

from __future__ import annotations

import html.parser
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from smreport import fastmarkdown, markup
from smreport.fastmarkdown import available, render_markdown_cmark
from smreport.markup import render_markdown
from smreport.notefile import split_front_matter

from .conftest import EXAMPLE, run_build_py

pytestmark = pytest.mark.skipif(not available(), reason="pip install 'smreport[fast]'")

HOSTILE = [
    "<script>alert(1)</script>",
    "text <script>alert(1)</script> text",
    '<img src=x onerror="alert(1)">',
    "para <b onclick=alert(1)>bold</b>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1)  )",
    "[click](java&#x09;script:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![img](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![img](javascript:alert(1))",
    "[ref]\n\n[ref]: javascript:alert(1)",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<iframe src=https://evil.example></iframe>",
    "[x](file:///etc/passwd)",
    "[x](//evil.example/path)",
    "<svg onload=alert(1)>",
    "`<script>` in code is fine",
    "```\n<script>alert(1)</script>\n```",
]


class Shape(html.parser.HTMLParser):
    """What a rendering amounts to: its tags' link targets and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.links: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("href", "src"):
                self.links.append((name, value or ""))
            if name.startswith("on"):
                self.tags.append(f"EVENT-HANDLER {name}")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def shape(rendered: str) -> Shape:
    parser = Shape()
    parser.feed(rendered)
    return parser


@pytest.mark.parametrize("render", [render_markdown, render_markdown_cmark],
                         ids=["markdown-it", "cmark-gfm"])
@pytest.mark.parametrize("source", HOSTILE)
def test_no_backend_emits_executable_markup(render, source: str) -> None:  # type: ignore[no-untyped-def]
    rendered = render(source, "goals/x.md")
    found = shape(rendered)
    assert "script" not in found.tags and "iframe" not in found.tags and "svg" not in found.tags
    assert not [t for t in found.tags if t.startswith("EVENT-HANDLER")]
    for _name, value in found.links:
        assert markup.is_safe_url(value), value
        assert not value.startswith("//")


def example_bodies() -> Iterator[tuple[str, str]]:
    for path in sorted(EXAMPLE.glob("*/*.md")):
        split, failure = split_front_matter(path.read_text(encoding="utf-8"))
        assert split is not None, failure
        yield path.relative_to(EXAMPLE).as_posix(), split.body


@pytest.mark.parametrize("note_path, body", list(example_bodies()))
def test_example_bodies_render_equivalently(note_path: str, body: str) -> None:
    default = shape(render_markdown(body, note_path))
    fast = shape(render_markdown_cmark(body, note_path))
    assert fast.links == default.links
    assert fast.tags == default.tags
    squash = lambda parts: re.sub(r"\s+", " ", "".join(parts)).strip()  # noqa: E731
    assert squash(fast.text) == squash(default.text)


def test_note_links_and_headings_follow_the_default_rules() -> None:
    source = "# Title\n\n[goal](../goals/a.md#kpi) ![logo](../assets/logo.png) [web](https://e.x)"
    rendered = render_markdown_cmark(source, "changes/c.md")
    assert "<h2>Title</h2>" in rendered
    assert 'href="../../goals/a/index.html#kpi"' in rendered
    assert 'src="../../assets/logo.png"' in rendered
    assert 'href="https://e.x" rel="noopener noreferrer"' in rendered


@pytest.mark.parametrize("source", [
    "before\n\n<div>inside</div>\n\nafter",
    "a <b>bold</b> word, a <3 heart and a <!-- comment --> here",
    "<script>alert(1)</script>",
    "| a | <i>b</i> |\n|---|---|\n| <u>1</u> | 2 |",
    "<details><summary>More</summary>\nHidden\n</details>",
    "`<b>` in code and <https://example.org>",
])
def test_raw_html_is_shown_as_text_as_the_default_backend_shows_it(source: str) -> None:
    # SPEC: "Raw HTML in a note is shown as text, never executed". cmark-gfm's safe mode
    # alone would omit it, and the note would silently lose its words.
    assert render_markdown_cmark(source, "goals/x.md") == render_markdown(source, "goals/x.md")


def test_markdown_inside_a_raw_html_block_stays_as_written() -> None:
    # The one difference left: markdown-it-py reads the block's lines as Markdown.
    assert render_markdown_cmark("<div>\n*emph*\n</div>") == \
        "<p>&lt;div&gt;\n*emph*\n&lt;/div&gt;</p>\n"


def test_a_build_with_the_fast_backend_has_the_same_pages_and_links(tmp_path: Path) -> None:
    fast = run_build_py("--content", str(EXAMPLE), "--out", str(tmp_path / "fast"),
                        "--today", "2026-11-26", "--no-cache", "--markdown", "cmark-gfm")
    assert fast.returncode == 0, fast.stderr
    default = run_build_py("--content", str(EXAMPLE), "--out", str(tmp_path / "default"),
                           "--today", "2026-11-26", "--no-cache")
    assert default.returncode == 0, default.stderr
    fast_pages = sorted(p.relative_to(tmp_path / "fast") for p in (tmp_path / "fast").rglob("*"))
    default_pages = sorted(p.relative_to(tmp_path / "default")
                           for p in (tmp_path / "default").rglob("*"))
    assert fast_pages == default_pages
    for page in (tmp_path / "default").rglob("*.html"):
        relative = page.relative_to(tmp_path / "default")
        assert shape(page.read_text(encoding="utf-8")).links == \
            shape((tmp_path / "fast" / relative).read_text(encoding="utf-8")).links, relative


@pytest.mark.parametrize("body", [
    body for body in [*HOSTILE, *(body for _path, body in example_bodies()),
                      "| a | b |\n|---|---|\n| 1 | ~~2~~ |\n"]
    if "<" not in body])  # raw HTML: shown as text here, omitted by the wrapper (above)
def test_the_leak_free_calls_render_as_cmarkgfms_own_wrapper(body: str) -> None:
    import cmarkgfm  # noqa: PLC0415 - the optional extra, present here (see pytestmark)
    from cmarkgfm.cmark import Options  # noqa: PLC0415

    native = fastmarkdown.renderer()
    assert native is not fastmarkdown._wrapped  # this machine's cmarkgfm exports the frees
    assert native(body) == cmarkgfm.markdown_to_html_with_extensions(
        body, options=Options.CMARK_OPT_VALIDATE_UTF8, extensions=["table", "strikethrough"])


def test_a_cmarkgfm_without_the_frees_falls_back_to_its_wrapper(tmp_path: Path) -> None:
    # A library that lacks the two exports (here: a missing file, then another library).
    assert fastmarkdown.renderer(str(tmp_path / "missing.so")) is fastmarkdown._wrapped
    import ctypes.util  # noqa: PLC0415

    other = ctypes.util.find_library("z") or ctypes.util.find_library("c")
    assert other is not None
    assert fastmarkdown.renderer(other) is fastmarkdown._wrapped
    assert fastmarkdown._wrapped("*a*") == "<p><em>a</em></p>\n"


def test_a_lone_surrogate_becomes_a_replacement_character() -> None:
    # cmarkgfm's wrapper raises UnicodeEncodeError; cmark-gfm validates the bytes it is fed.
    assert render_markdown_cmark("a \ud800 b") == "<p>a \ufffd b</p>\n"


def test_rendering_keeps_no_memory_per_note() -> None:
    """cmarkgfm's wrapper leaks each rendering's tree and HTML: 3,000 renderings of a
    4 KB body grew a process by 315 MiB. In a fresh process, as a build's worker."""
    script = textwrap.dedent("""
        import resource
        from smreport.fastmarkdown import render_markdown_cmark
        body = "\\n\\n".join(f"Paragraph {i} with [a link](../goals/g.md), *words* and "
                             "a <b>tag</b> " * 8 for i in range(10)) \\
            + "\\n\\n<div>a block</div>\\n\\n| a | b |\\n|---|---|\\n| 1 | <i>2</i> |\\n"
        assert len(body) > 4000
        for _ in range(100):
            render_markdown_cmark(body, "changes/c.md")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for _ in range(3000):
            render_markdown_cmark(body, "changes/c.md")
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 16, f"grew by {done.stdout.strip()} MiB"


@pytest.mark.parametrize("render", [render_markdown, render_markdown_cmark],
                         ids=["markdown-it", "cmark-gfm"])
def test_pictures_on_other_hosts_become_links_to_them(render) -> None:  # type: ignore[no-untyped-def]
    """The SPEC: no resource is loaded from another host (a picture would tell its host
    when an executive read the page). Pictures of the site stay pictures."""
    source = ('![pixel](https://tracker.example/p.png?who=exec&x=1 "T")\n\n'
              "![](http://a.example/b.png)\n\n![local](../assets/x.png)\n\n"
              "Inline ![a *b* \"c\"](https://x.example/i.png) too.\n")
    rendered = render(source, "goals/g.md")
    found = shape(rendered)
    assert found.tags.count("img") == 1 and ("src", "../../assets/x.png") in found.links
    assert not any(value.startswith("http") for name, value in found.links if name == "src")
    assert '<a href="https://tracker.example/p.png?who=exec&amp;x=1" ' \
           'rel="noopener noreferrer">pixel</a>' in rendered
    assert '>http://a.example/b.png</a>' in rendered  # no alt text: the address
    assert 'rel="noopener noreferrer">a b &quot;c&quot;</a> too.' in rendered


@pytest.mark.parametrize("render", [render_markdown, render_markdown_cmark],
                         ids=["markdown-it", "cmark-gfm"])
def test_pictures_on_other_hosts_in_any_case_and_inside_links(render) -> None:  # type: ignore[no-untyped-def]
    """HTTPS: and http:host (which browsers read as http://host) are other hosts too; a
    linked picture keeps its link and shows its text (a link cannot hold another)."""
    source = ("[![post pic](https://img.example/p.png)](https://post.example/1)\n\n"
              "![x](HTTPS://A.example/b.png) and ![y](http:evil.example/p.png)\n")
    rendered = render(source, "goals/g.md")
    found = shape(rendered)
    assert "img" not in found.tags
    assert '<p><a href="https://post.example/1" rel="noopener noreferrer">post pic</a></p>' \
        in rendered
    assert rendered.count("<a ") == rendered.count("</a>") == 3
