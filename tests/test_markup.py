"""Markdown bodies: CommonMark with tables and strikethrough, safe links, note links, assets."""

from __future__ import annotations

import itertools
import json
import logging
import posixpath
import random
from pathlib import Path
from typing import Any, Literal

import pytest
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token

from smreport.markup import (
    _markdown,
    _relative,
    _SafeRenderer,
    is_safe_url,
    render_markdown,
    rewrite_relative,
)
from tests.conftest import GOAL, ProjectFactory, run_cli


def test_commonmark_with_tables_and_strikethrough() -> None:
    html = render_markdown("Some *emphasis* and ~~old~~ text.\n\n| KPI | Value |\n|---|--:|\n"
                           "| leads | 120 |\n\n1. one\n2. two\n", "goals/g.md")
    assert "<em>emphasis</em>" in html
    assert "<s>old</s>" in html
    assert "<th>KPI</th>" in html
    assert '<td class="align-right">120</td>' in html
    assert "<ol>\n<li>one</li>" in html


def test_tables_align_without_inline_styles_the_csp_would_block() -> None:
    html = render_markdown("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |\n")
    assert "style=" not in html
    assert '<td class="align-left">1</td>' in html
    assert '<td class="align-center">2</td>' in html


def test_raw_html_is_shown_as_text() -> None:
    html = render_markdown('<script>alert(1)</script>\n\nText <b onclick="x()">bold</b>\n')
    assert "<script>" not in html and "<b " not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b onclick=&quot;x()&quot;&gt;bold&lt;/b&gt;" in html


RAW_HTML = [
    "<div>\n*a block*\n</div>\n", "<!-- a comment -->\n\ntext", "<?php echo 1; ?>\n",
    "<![CDATA[x]]>\n", "<!DOCTYPE html>\n", "<pre>\n<script>x()</script>\n</pre>\n",
    "a <span title='x'>b</span> <br/> c", "<http://example.org> <mail@example.org>",
    "1 < 2 and 3 > 2, <not a tag", "- item <b>\n\n  <i>nested</i>\n", "> <table><tr>\n",
    "| a | <b>b</b> |\n|---|---|\n| <i>1</i> | 2 |\n", "    <indented>code</indented>\n",
    "<textarea>\n\n*x*\n</textarea>\n", "`<code>` and <a href='javascript:x'>y</a>",
]


@pytest.mark.parametrize("text", RAW_HTML)
def test_raw_html_rules_left_out_change_nothing(text: str) -> None:
    """With "html" off, markdown-it-py's two HTML rules only decline: the renderer leaves
    them out, and renders exactly what it would with them."""
    md = _markdown()
    assert "html_block" not in md.get_active_rules()["block"]
    assert "html_inline" not in md.get_active_rules()["inline"]
    with_rules = MarkdownIt("commonmark", dict(md.options), renderer_cls=type(md.renderer))
    with_rules.enable(["table", "strikethrough"])
    with_rules.validateLink = md.validateLink  # type: ignore[method-assign]
    env = {"note_path": "goals/g.md"}
    assert render_markdown(text, "goals/g.md") == with_rules.render(text, dict(env))


def test_markdown_it_debug_logging_is_skipped_but_warnings_are_not(
        caplog: pytest.LogCaptureFixture) -> None:
    """markdown-it-py logs each block rule's call at DEBUG: smreport skips those calls (a
    few per cent of rendering) and renders the same; its loggers' warnings still pass."""
    text = "# Title\n\n> quote\n\n- a\n- b\n\n```\ncode\n```\n\n| a |\n|---|\n| 1 |\n"
    with caplog.at_level(logging.DEBUG, logger="markdown_it"):
        html = render_markdown(text, "goals/g.md")
        logging.getLogger("markdown_it.rules_block.paragraph").warning("still %s", "heard")
    assert [record.getMessage() for record in caplog.records] == ["still heard"]
    plain = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    assert html == plain.render(text).replace("<h1>", "<h2>").replace("</h1>", "</h2>")


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD4=", "vbscript:msgbox(1)", "file:///etc/passwd",
    "//evil.example/x", "ftp://host/file",
])
def test_unsafe_links_and_images_are_not_emitted(url: str) -> None:
    html = render_markdown(f"[link]({url}) ![image]({url}) <{url}>")
    assert "href=" not in html and "src=" not in html, html
    assert not is_safe_url(url)


@pytest.mark.parametrize("url", ["https://vk.com/brand", "http://intranet/x", "mailto:a@b.example",
                                 "#part", "../goals/x.md", "notes.html", "?q=1"])
def test_http_mailto_relative_and_in_page_links_are_kept(url: str) -> None:
    assert is_safe_url(url)
    html = render_markdown(f"[link]({url})", "changes/c.md")
    assert "href=" in html


def test_external_links_do_not_leak_the_reader() -> None:
    html = render_markdown("[vk](https://vk.com/brand)")
    assert 'rel="noopener noreferrer"' in html


@pytest.mark.parametrize(("url", "expected"), [
    ("../goals/double-leads.md", "../double-leads/index.html"),
    ("double-leads.md", "../double-leads/index.html"),
    ("./double-leads.md#kpis", "../double-leads/index.html#kpis"),
    ("../changes/move-due.md", "../../changes/move-due/index.html"),
    ("../assets/chart.png", "../../assets/chart.png"),
    ("../assets/sub/a%20b.png", "../../assets/sub/a b.png"),
    ("https://example.com/x.md", "https://example.com/x.md"),
    ("#part", "#part"),
])
def test_links_written_from_the_note_file_point_from_its_page(url: str, expected: str) -> None:
    assert rewrite_relative(url, "goals/grow.md") == expected


def test_headings_are_shifted_so_the_page_title_stays_the_only_h1() -> None:
    html = render_markdown("# Why\n\n## Detail\n\n###### Deepest\n")
    assert "<h2>Why</h2>" in html and "<h3>Detail</h3>" in html and "<h6>Deepest</h6>" in html
    assert "<h1>" not in html


def test_note_links_become_page_links_and_assets_are_copied(make_project: ProjectFactory,
                                                            tmp_path: Path) -> None:
    change = """\
    ---
    title: Move the due date
    goal: double-leads
    proposed_by: smirnova
    date: 2026-03-05
    set: { due: 2026-09-30 }
    ---
    See [the goal](../goals/double-leads.md) and ![the chart](../assets/chart.png).
    """
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
    content = make_project({"changes/move-due.md": change, "assets/chart.png": png})
    out = tmp_path / "site"
    result = run_cli("build", "--content", str(content), "--out", str(out), "--today",
                     "2026-03-10", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    page = (out / "changes" / "move-due" / "index.html").read_text(encoding="utf-8")
    assert '<a href="../../goals/double-leads/index.html">the goal</a>' in page
    assert '<img src="../../assets/chart.png" alt="the chart">' in page
    assert (out / "changes" / "move-due" / "../../goals/double-leads/index.html").is_file()
    assert (out / "assets" / "chart.png").read_bytes() == png


def test_a_link_to_a_missing_note_is_a_warning_with_its_line(make_project: ProjectFactory) -> None:
    goal = GOAL.replace("Why this goal.",
                        "Why this goal.\n\nIt follows [the old goal](../goals/old-goal.md).")
    content = make_project({"goals/double-leads.md": goal})
    result = run_cli("check", "--content", str(content), "--today", "2026-03-10",
                     "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr  # a warning, not an error
    problems = json.loads(result.stdout)
    [broken] = [p for p in problems if p["code"] == "broken-link"]
    assert broken["severity"] == "warning"
    assert broken["path"].endswith("goals/double-leads.md")
    lines = (content / "goals" / "double-leads.md").read_text().splitlines()
    assert "old-goal.md" in lines[broken["line"] - 1]
    assert "goals/old-goal.md" in broken["message"]


def test_relative_link_paths_match_posixpath_relpath() -> None:
    """`_relative` stands in for posixpath.relpath (which calls getcwd for every link)."""
    paths = ["goals/a", "goals/b", "changes/c", "assets/x.png", "assets/img/y.png",
             "assets/img", "goals", "assets", "a/b/c", "a/b"]
    for target, start in itertools.product(paths, [*paths, ""]):
        assert _relative(target, start) == posixpath.relpath(target, start or "."), \
            (target, start)


class _StockLoop(_SafeRenderer):
    """smreport's render rules, walked by markdown-it-py's own loop and `renderToken`."""

    render = RendererHTML.render
    renderToken = RendererHTML.renderToken


def _with_stock_loop(**options: object) -> MarkdownIt:
    md = _markdown()
    stock = MarkdownIt("commonmark", {**dict(md.options), **options}, renderer_cls=_StockLoop)
    stock.enable(["table", "strikethrough"])
    stock.disable(["html_block", "html_inline"])
    stock.validateLink = md.validateLink  # type: ignore[method-assign]
    return stock


# Each reaches a branch of the renderer's loop or of `_tag`: tight lists (hidden
# paragraphs), a block after a hidden paragraph, empty items, attributes (start, title,
# alignment), self-closing tags, breaks, code, rules, links, images, entities.
BRANCHES = [
    "- a\n- b\n", "- a\n\n- b\n", "- a\n  > quoted\n- b\n", "- a\n  ```\n  code\n  ```\n",
    "-\n- b\n-\n", "1.\n2. two\n", "3. three\n4. four\n", "1) a\n   - b\n     - c\n",
    "***\n---\n___\n", "a  \nb\\\nc\nd", "`code` and ``a ` b``", "    indented\n    code\n",
    "```python extra words\nprint('<x>')\n```\n", "```\n```\n", "~~~ \\*info\n~~~\n",
    "# one\n## two\n### three\n#### four\n##### five\n###### six\n", "Setext\n===\n\nB\n---\n",
    "[a](http://example.org \"a \\\"title\\\"\") [b](<../changes/c.md#x>) <https://example.org>",
    "[ref]\n\n[ref]: https://example.org/?a=1&b=2 'T'\n",
    "![alt *em* `c` ![in](x.png)](a.png \"t\")",
    "![](javascript:alert(1)) [x](javascript:alert(1)) [y](//evil.example)",
    "| a | b | c |\n|:--|:-:|--:|\n| 1 |  | 3 |\n| 4 |\n", "- | t |\n  |---|\n  | x |\n",
    "> > deep\n> - item\n>\n> para\n", "*em* **strong** ***both*** ~~gone~~ ~one~",
    "&amp; &copy; &#35; &#x41; &bogus; \\* \\<", "<b>raw</b> <!-- c --> <http://x>",
    "Привет, «мир» — *тест* <тег>\n\n- пункт\n- ещё", "- [ ] task\n- [x] done\n", "",
    "\n\n\n", "a\n\n\n\nb", "  - lazy\ncontinuation\n", "1. a\n\n   b\n2. c\n",
]


def _documents() -> list[str]:
    """BRANCHES, the example project's bodies, and BRANCHES nested in each other at random
    (inside list items and quotes, where hidden paragraphs meet other blocks)."""
    bodies = [path.read_text(encoding="utf-8").split("\n---\n", 1)[1]
              for path in sorted(Path("content").glob("*/*.md"))]
    rng = random.Random(20261127)
    nested = []
    for _ in range(300):
        parts = rng.sample(BRANCHES, 3)
        prefix = rng.choice(["- ", "1. ", "> ", "  - "])
        nested.append(parts[0] + "\n" + "\n".join(prefix + line if line else prefix.strip()
                                                 for line in parts[1].splitlines())
                      + rng.choice(["\n", "\n\n"]) + parts[2])
    return [*BRANCHES, *RAW_HTML, *bodies, *nested]


def test_the_render_loop_writes_what_markdown_it_pys_own_loop_writes() -> None:
    """`_SafeRenderer.render` is a leaner copy of markdown-it-py's loop and `renderToken`:
    on every document the two write the same text."""
    stock = _with_stock_loop()
    documents = _documents()
    assert len(documents) > 350 and any("<li></li>" in render_markdown(d) for d in documents)
    for text in documents:
        for note_path in ("", "goals/g.md"):
            assert render_markdown(text, note_path) == \
                stock.render(text, {"note_path": note_path}), (text, note_path)


def test_the_render_loop_keeps_markdown_it_pys_rules_it_does_not_use() -> None:
    """A list item marked as a task (a plugin's `meta`) goes to its rule, and XHTML or
    `breaks` options to markdown-it-py's own loop: still the same text."""
    md = _markdown()
    tokens = md.parse("- a\n- b\n", {})
    tokens[1].meta["checked"] = True
    stock = _with_stock_loop()
    rendered = md.renderer.render(tokens, md.options, {})
    assert 'type="checkbox" checked=""' in rendered
    assert rendered == stock.renderer.render(tokens, stock.options, {})
    # Streams no Markdown produces: an opening tag closed by another tag, attributes on
    # a closing tag, a block right after a hidden one, an opening tag at the end.
    def block(kind: str, tag: str, nesting: Literal[-1, 0, 1], **fields: Any) -> Token:
        return Token(kind, tag, nesting, block=True, **fields)
    made = [block("x_open", "div", 1), block("y_close", "p", -1),
            block("x_open", "div", 1), block("x_close", "div", -1, attrs={"a": '"<&>'}),
            block("paragraph_open", "p", 1, hidden=True), block("hr", "hr", 0),
            block("x_open", "div", 1)]
    assert md.renderer.render(made, md.options, {}) == \
        stock.renderer.render(made, stock.options, {}) == \
        '<div>\n</p>\n<div></div a="&quot;&lt;&amp;&gt;">\n\n<hr>\n<div>\n'
    for options in ({"xhtmlOut": True}, {"breaks": True}):
        other = MarkdownIt("commonmark", {**dict(md.options), **options},
                           renderer_cls=_SafeRenderer)
        other.enable(["table", "strikethrough"])
        expected = _with_stock_loop(**options)
        for text in ("a\nb  \nc\n\n***\n\n![i](x.png)", "- a\n  > b\n"):
            assert other.render(text, {}) == expected.render(text, {})
        shown = other.render("a\nb\n\n***", {})  # the option took effect
        assert ("<br>" in shown) if "breaks" in options else ("<hr />" in shown)
