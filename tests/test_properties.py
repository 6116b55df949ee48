"""Property-based tests: any bytes, any YAML-like text, any Markdown give values or problems.

Never an exception, never a hang: each example must finish within a time bound.
Example counts are kept modest so the whole suite stays fast.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import string
import tempfile
import time
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smreport.fastmarkdown import available
from smreport.markup import render_markdown, use_backend
from smreport.model import FOLDERS, NOTE_TYPES, Goal, NoteType, Problem
from smreport.notefile import decode_text, split_front_matter
from smreport.parse import parse_note, parse_project
from smreport.pipeline import Options, check
from smreport.yamltree import parse_yaml
from tests.conftest import GOAL, PROJECT_YML, write_files

SECONDS = 2.0  # per example; the real cost is milliseconds


def examples(count: int) -> settings:
    """Hypothesis settings: `count` examples, our own time bound instead of its deadline,
    and no example database written into the working tree."""
    return settings(max_examples=count, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


FAST, MEDIUM, SLOW = examples(150), examples(60), examples(25)


def well_formed(problems: list[Problem], path: str) -> None:
    for problem in problems:
        assert problem.path == path
        assert problem.severity in ("error", "warning")
        assert problem.line >= 1 and problem.column >= 1
        assert problem.code and problem.message
        text = problem.format_text()
        assert "\n" not in text and "\r" not in text
        text.encode("utf-8")  # printable: no lone surrogates


def timed_parse(note_type: NoteType, data: bytes) -> tuple[object, list[Problem]]:
    path = f"{FOLDERS[note_type]}/note.md"
    started = time.perf_counter()
    note, problems = parse_note(note_type, path, data)
    assert time.perf_counter() - started < SECONDS
    well_formed(problems, path)
    assert (note is None) == any(p.severity == "error" for p in problems)
    return note, problems


# --- arbitrary bytes -----------------------------------------------------------------------------


@FAST
@given(st.sampled_from(NOTE_TYPES), st.binary(max_size=3000))
def test_arbitrary_bytes_give_a_note_or_problems(note_type: NoteType, data: bytes) -> None:
    timed_parse(note_type, data)


@FAST
@given(st.sampled_from(NOTE_TYPES), st.binary(max_size=2000))
def test_arbitrary_bytes_after_a_valid_opening(note_type: NoteType, data: bytes) -> None:
    timed_parse(note_type, b"---\n" + data + b"\n---\nBody.\n")


@FAST
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_as_project_yml(data: bytes) -> None:
    started = time.perf_counter()
    project, problems = parse_project("project.yml", data)
    assert time.perf_counter() - started < SECONDS
    well_formed(problems, "project.yml")
    assert project is not None or any(p.severity == "error" for p in problems)


@FAST
@given(st.binary(max_size=2000))
def test_decoding_and_splitting_never_raise(data: bytes) -> None:
    text, failure = decode_text(data)
    assert (text is None) != (failure is None)
    if text is not None:
        assert "\r" not in text and "\x00" not in text
        split, failure = split_front_matter(text)
        assert (split is None) != (failure is None)


# --- arbitrary YAML-like text ---------------------------------------------------------------------

KEYS = ["title", "owner", "start", "due", "status", "kpis", "readings", "approved", "by", "date",
        "id", "name", "baseline", "target", "goal", "set", "decision", "outcome", "month",
        "reviewer", "pages", "likes", "dislikes", "feedback_to", "parties", "person",
        "position", "type", "on", "no", "content", "handler", "<<", "? ", "1", "true"]
SCALARS = ["no", "yes", "on", "off", "0012", "012", "1e999", ".nan", "-.inf", "~", "null", "",
           "2026-02-30", "2026-01-01", "2026-13", "2026-01-01T10:00:00", "petrov", "smirnova",
           "double-leads", "leads", "approved", "active", "'quoted'", '"dq\\x01"', "&a x", "*a",
           "!!str 1", "!!python/object:os.system", "!tag x", "[", "]", "{", "}", "[a, b]",
           "{a: 1}", "|", ">", "- x", "---", "...", "#", ": x", "%YAML 1.1", "@x", "`x",
           "javascript:alert(1)", "https://vk.com/x", "<script>x</script>", "Привет", "\t",
           "a: b: c", "=", "'", '"', "\\", "1" * 400, "[" * 60, "{" * 60]
TOKENS = st.one_of(
    st.sampled_from(KEYS).map(lambda k: k + ": "),
    st.sampled_from(SCALARS),
    st.sampled_from(["\n", "\n  ", "\n    ", "\n- ", "\n  - ", ", ", " ", ": ", "- "]),
    st.text(alphabet=string.printable + "ёжЯ€\u00a0\u2028\ufeff", max_size=12),
)
YAML_LIKE = st.lists(TOKENS, max_size=60).map("".join)


@FAST
@given(st.sampled_from(NOTE_TYPES), YAML_LIKE, st.text(max_size=200))
def test_yaml_like_front_matter_gives_a_note_or_problems(note_type: NoteType, front: str,
                                                         body: str) -> None:
    data = f"---\n{front}\n---\n{body}".encode("utf-8", "surrogatepass")
    timed_parse(note_type, data)


@FAST
@given(YAML_LIKE)
def test_yaml_like_text_never_raises(text: str) -> None:
    started = time.perf_counter()
    tree, errors = parse_yaml(text, 3)
    assert time.perf_counter() - started < SECONDS
    for error in errors:
        assert error.position.line >= 4 and error.position.column >= 1
        assert "\n" not in error.message


@FAST
@given(st.text(max_size=1500))
def test_any_unicode_text_never_raises(text: str) -> None:
    parse_yaml(text)
    timed_parse("goal", text.encode("utf-8", "surrogatepass"))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.dates(),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=6),
    max_leaves=40)


@MEDIUM
@given(st.sampled_from(NOTE_TYPES), st.dictionaries(st.sampled_from(KEYS), JSON_VALUES,
                                                     max_size=10))
def test_any_well_formed_yaml_of_any_shape(note_type: NoteType,
                                           front: dict[str, object]) -> None:
    # Valid YAML of every shape: wrong types, nesting and values are problems, not crashes.
    text = yaml.safe_dump(front, allow_unicode=True, default_flow_style=None)
    timed_parse(note_type, f"---\n{text}---\nBody.\n".encode("utf-8", "surrogatepass"))


# --- round trips ---------------------------------------------------------------------------------

SAFE_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x85"),
    min_size=1, max_size=60).filter(lambda s: s.strip() != "")


@FAST
@given(SAFE_TEXT, SAFE_TEXT)
def test_any_title_and_kpi_name_written_quoted_read_back_exactly(title: str, name: str) -> None:
    # JSON strings are YAML double-quoted scalars: what the writer means is what is read.
    def quoted(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)
    text = GOAL.replace("title: Double qualified leads", f"title: {quoted(title)}") \
        .replace("name: Qualified leads per month", f"name: {quoted(name)}")
    goal, problems = parse_note("goal", "goals/double-leads.md", text.encode())
    assert problems == [] and isinstance(goal, Goal)
    assert goal.title == title and goal.kpis[0].name == name


# --- whole projects ------------------------------------------------------------------------------


@SLOW
@given(st.dictionaries(
    st.tuples(st.sampled_from(list(FOLDERS.values())),
              st.sampled_from(["a", "b", "double-leads", "Bad Name", "con", "x.y"])),
    st.one_of(st.binary(max_size=500), YAML_LIKE.map(lambda t: f"---\n{t}\n---\nBody\n")),
    max_size=6))
def test_a_project_of_random_notes_checks_without_exceptions(
        notes: dict[tuple[str, str], bytes | str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "content"
        files: dict[str, str | bytes] = {"project.yml": PROJECT_YML}
        for (type_folder, name), data in notes.items():
            files[f"{type_folder}/{name}.md"] = data if isinstance(data, bytes) else \
                data.encode("utf-8", "surrogatepass")
        write_files(root, files)
        started = time.perf_counter()
        result = check(Options(content=root, today=dt.date(2026, 3, 10)))
        assert time.perf_counter() - started < 5
        for problem in result.problems:
            assert problem.line >= 1 and "\n" not in problem.format_text()


# --- Markdown ------------------------------------------------------------------------------------

BACKENDS = ["markdown-it", "cmark-gfm"] if available() else ["markdown-it"]
MARKDOWN = st.lists(st.one_of(
    st.sampled_from(["[", "]", "(", ")", "*", "_", "`", "~", ">", "<", "!", "#", "-", "|", "\n",
                     "\n\n", "  ", "javascript:alert(1)", "JaVaScRiPt:", "data:text/html,",
                     "vbscript:", "<script>", "</script>", "<img src=x onerror=alert(1)>",
                     "&#106;", "&colon;", "\t", "](", "](javascript:x)", "![", "<http://x>",
                     "<javascript:x>", "[r]: javascript:x\n", "../goals/a.md", "\\"]),
    st.text(max_size=8)), max_size=120).map("".join)


@FAST
@given(st.sampled_from(BACKENDS), MARKDOWN)
def test_any_markdown_renders_to_safe_html(backend: str, text: str) -> None:
    use_backend(backend)
    try:
        started = time.perf_counter()
        rendered = render_markdown(text, "goals/x.md")
    finally:
        use_backend("markdown-it")
    assert time.perf_counter() - started < SECONDS
    lowered = rendered.lower()
    assert "<script" not in lowered and "<img src=x onerror" not in lowered
    for value in re.findall(r'(?:href|src)="([^"]*)"', lowered):
        cleaned = html.unescape(value).replace("\t", "").strip()
        assert not cleaned.startswith(("javascript:", "vbscript:", "data:")), value
