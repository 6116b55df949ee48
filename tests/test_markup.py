"""Markdown bodies: CommonMark with tables and strikethrough, safe links, note links, assets."""

from __future__ import annotations

import itertools
import json
import logging
import posixpath
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from smreport.markup import _markdown, _relative, is_safe_url, render_markdown, rewrite_relative
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
