"""One test per validation rule: a small project with one defect, and the exact problem it gives.

Each test writes a valid project (tests/conftest.py's `make_project`) plus one
broken note, runs the real check (load → parse → validate) and asserts the
problem's path, line, column, code and the words that tell the writer how to
fix it. A few tests run the real command line for the formats and exit codes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from smreport.model import Problem
from smreport.pipeline import Options, check
from tests.conftest import GOAL, PROJECT_YML, ProjectFactory, run_cli

TODAY = dt.date(2026, 3, 10)


def problems_of(root: Path) -> list[Problem]:
    return check(Options(content=root, today=TODAY)).problems


def the(problems: list[Problem], code: str) -> Problem:
    """The one problem with `code`; fails, showing all problems, if there is not exactly one."""
    found = [p for p in problems if p.code == code]
    assert len(found) == 1, f"expected one {code!r}, got:\n" + "\n".join(
        p.format_text() for p in problems)
    return found[0]


def where(problem: Problem) -> tuple[str, int, int, str]:
    return problem.path, problem.line, problem.column, problem.severity


def codes(problems: list[Problem]) -> list[str]:
    return sorted(p.code for p in problems)


def note(front_matter: str, body: str = "Body text.\n") -> str:
    return f"---\n{front_matter}---\n{body}"


GOAL_FM = """\
title: Double qualified leads
owner: smirnova
start: 2026-01-01
due: 2026-07-01
kpis:
  - { id: leads, name: Qualified leads per month, unit: leads, baseline: 100, target: 200 }
approved: { by: petrov, date: 2026-01-10 }
"""

CHANGE_FM = """\
title: Move the due date
goal: double-leads
proposed_by: smirnova
date: 2026-02-15
set: { due: 2026-09-30 }
"""

REVIEW_FM = """\
month: 2026-03
reviewer: petrov
date: 2026-03-05
likes: [ "Customer stories" ]
feedback_to: [ smirnova ]
"""

DISPUTE_FM = """\
title: Who answers comments
raised_by: ivanov
date: 2026-02-10
parties:
  - { person: ivanov, position: "The agency answers" }
  - { person: kuznetsova, position: "PR approves" }
"""


def test_the_base_project_and_each_base_note_are_valid(make_project: ProjectFactory) -> None:
    # Every test below breaks one thing in these; they must be clean to start with.
    root = make_project({"changes/move-due.md": note(CHANGE_FM),
                         "reviews/2026-03.md": note(REVIEW_FM),
                         "disputes/comments.md": note(DISPUTE_FM)})
    assert problems_of(root) == []


# --- project.yml ---------------------------------------------------------------------------------


def test_missing_project_yml(make_project: ProjectFactory) -> None:
    problem = the(problems_of(make_project(project=None)), "missing-project")
    assert where(problem) == ("project.yml", 1, 1, "error")
    assert "create one" in problem.message


def test_project_without_a_title(make_project: ProjectFactory) -> None:
    root = make_project(project=PROJECT_YML.replace('title: "Brand X in social media"\n', ""))
    problem = the(problems_of(root), "missing-field")
    assert where(problem) == ("project.yml", 1, 1, "error")
    assert "'title' is required" in problem.message


def test_project_language_must_be_en_or_ru(make_project: ProjectFactory) -> None:
    root = make_project(project=PROJECT_YML.replace("language: en", "language: fr"))
    problem = the(problems_of(root), "bad-value")
    assert where(problem) == ("project.yml", 2, 11, "error")
    assert "'fr'" in problem.message and "en, ru" in problem.message


def test_project_timezone_must_be_an_iana_name(make_project: ProjectFactory) -> None:
    root = make_project(project=PROJECT_YML.replace("Europe/Moscow", "Moscow/Europe"))
    problem = the(problems_of(root), "bad-value")
    assert where(problem) == ("project.yml", 3, 11, "error")
    assert "Europe/Moscow or UTC" in problem.message


def test_a_persons_unit_must_be_defined(make_project: ProjectFactory) -> None:
    root = make_project(project=PROJECT_YML.replace("unit: marketing, email: smirnova",
                                                    "unit: marketin, email: smirnova"))
    problem = the(problems_of(root), "unknown-unit")
    assert where(problem)[:3] == ("project.yml", 12, 46)
    assert "did you mean 'marketing'" in problem.message


def test_a_project_needs_an_executive(make_project: ProjectFactory) -> None:
    root = make_project(project=PROJECT_YML.replace("executive: true", "executive: false"))
    problem = the(problems_of(root), "no-executive")
    assert where(problem) == ("project.yml", 10, 1, "error")
    assert "executive: true" in problem.message


def test_a_unit_id_must_be_a_valid_id(make_project: ProjectFactory) -> None:
    root = make_project(project=PROJECT_YML.replace("  pr:        {", "  P R:       {")
                        .replace("unit: pr,", "unit: p-r,"))
    problems = problems_of(root)
    bad = the(problems, "bad-id")
    assert where(bad) == ("project.yml", 8, 3, "error")
    assert "did you mean 'p-r'" in bad.message


@pytest.mark.parametrize(("rules", "code", "column", "words"), [
    ("decision_days: 0", "wrong-type", 18, "a whole number, at least 1"),
    ("decision_days: soon", "wrong-type", 18, "found the text 'soon'"),
    ("off_track_tolerance: 1.5", "bad-value", 24, "below 1"),
    ("verify_approvals: maybe", "wrong-type", 21, "true or false"),
    ("max_note_bytes: 10", "wrong-type", 19, "at least 1024"),
    # YAML 1.1 would read these as 8 and 90: every due date would move.
    ("decision_days: 010", "quote-value", 18, "the octal number 8; remove the leading zero"),
    ("decision_days: 1:30", "quote-value", 18, "base-60 number 90"),
    ("off_track_tolerance: 0x0", "quote-value", 24, "write it as a plain decimal number"),
])
def test_project_rules_are_checked(make_project: ProjectFactory, rules: str, code: str,
                                   column: int, words: str) -> None:
    root = make_project(project=PROJECT_YML + f"rules:\n  {rules}\n")
    problem = the(problems_of(root), code)
    assert where(problem) == ("project.yml", 17, column, "error")
    assert words in problem.message


def test_project_email_and_site_url(make_project: ProjectFactory) -> None:
    root = make_project(project=PROJECT_YML.replace("email: petrov@brandx.example",
                                                    "email: petrov")
                        + "site_url: javascript:alert(1)\n")
    problems = problems_of(root)
    assert where(the(problems, "bad-value")) == ("project.yml", 11, 75, "error")
    url = the(problems, "bad-url")
    assert where(url) == ("project.yml", 16, 11, "error")
    assert "https://" in url.message


def test_units_must_be_a_mapping(make_project: ProjectFactory) -> None:
    project = re.sub(r"units:\n(  .*\n)+", "units: [agency, marketing]\n", PROJECT_YML)
    problems = problems_of(make_project(project=project))
    wrong = [p for p in problems if p.code == "wrong-type"]
    assert [where(p) for p in wrong] == [("project.yml", 5, 8, "error")]
    assert "a mapping of unit ids" in wrong[0].message


# --- YAML traps ----------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["no", "yes", "on", "off", "No", "TRUE"])
def test_a_yaml_boolean_where_an_id_is_expected_says_quote_it(
        make_project: ProjectFactory, word: str) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("owner: smirnova",
                                                                       f"owner: {word}"))})
    problem = the(problems_of(root), "quote-value")
    assert where(problem) == ("goals/double-leads.md", 3, 8, "error")
    assert f'quote it: owner: "{word}"' in problem.message
    assert "boolean" in problem.message


def test_a_number_with_a_leading_zero_where_an_id_is_expected_says_quote_it(
        make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace(
        "{ id: leads,", "{ id: 0012,"))})
    problem = the(problems_of(root), "quote-value")
    assert where(problem) == ("goals/double-leads.md", 7, 11, "error")
    assert "'0012'" in problem.message and 'quote it: id: "0012"' in problem.message


def test_a_yaml_boolean_in_a_list_of_people_says_quote_it(make_project: ProjectFactory) -> None:
    root = make_project({"reviews/2026-03.md": note(REVIEW_FM.replace(
        "feedback_to: [ smirnova ]", "feedback_to: [ smirnova, no ]"))})
    problem = the(problems_of(root), "quote-value")
    assert where(problem) == ("reviews/2026-03.md", 6, 26, "error")
    assert 'quote it' in problem.message


def test_a_quoted_yes_is_text(make_project: ProjectFactory) -> None:
    # The quoted word is text, and so an ordinary (unknown) person id.
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("owner: smirnova",
                                                                       'owner: "yes"'))})
    problem = the(problems_of(root), "unknown-person")
    assert where(problem) == ("goals/double-leads.md", 3, 8, "error")


def test_a_number_with_a_leading_zero_where_a_number_is_expected(
        make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("target: 200",
                                                                       "target: 0200"))})
    problem = the(problems_of(root), "quote-value")
    assert where(problem) == ("goals/double-leads.md", 7, 87, "error")
    assert "remove the leading zero" in problem.message


@pytest.mark.parametrize(("written", "words"), [
    ("5:30", "the base-60 number 330"),  # five and a half hours, read as 330
    ("0x12", "the number 18; write it as a plain decimal number"),
    ("1_2000", "12000, dropping the underscores"),
    ("0b101", "the number 5"),
    ("+0o17", "the number"),
])
def test_numbers_yaml_reads_otherwise_than_people_are_refused(
        make_project: ProjectFactory, written: str, words: str) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("target: 200",
                                                                       f"target: {written}"))})
    problems = [p for p in problems_of(root) if p.code in ("quote-value", "wrong-type")]
    assert len(problems) == 1, problems
    assert where(problems[0])[:3] == ("goals/double-leads.md", 7, 87)
    assert words in problems[0].message or written == "+0o17", problems[0].message


def test_plain_decimal_numbers_pass(make_project: ProjectFactory) -> None:
    for written in ("200", "+200", "200.5", "0.5", ".5", "2.0e+2", "-0"):
        root = make_project({"goals/double-leads.md": note(GOAL_FM.replace(
            "target: 200", f"target: {written}").replace("baseline: 100", "baseline: -1"))},
            name=f"content-{written}")
        assert [p for p in problems_of(root) if p.code == "quote-value"] == [], written


def test_a_duplicate_key_is_an_error_at_the_second_one(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM + "title: Another title\n")})
    problem = the(problems_of(root), "duplicate-key")
    assert where(problem) == ("goals/double-leads.md", 9, 1, "error")
    assert "first on line 2" in problem.message


def test_a_duplicate_key_inside_a_nested_mapping(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace(
        "approved: { by: petrov, date: 2026-01-10 }",
        "approved:\n  by: petrov\n  by: smirnova\n  date: 2026-01-10"))})
    problem = the(problems_of(root), "duplicate-key")
    assert where(problem) == ("goals/double-leads.md", 10, 3, "error")


def test_anchors_and_aliases_are_refused(make_project: ProjectFactory) -> None:
    fm = GOAL_FM.replace("owner: smirnova", "owner: &who smirnova") + "extra: *who\n"
    problems = problems_of(make_project({"goals/double-leads.md": note(fm)}))
    aliases = [p for p in problems if p.code == "yaml-alias"]
    assert [where(p)[:3] for p in aliases] == [("goals/double-leads.md", 3, 8),
                                                ("goals/double-leads.md", 9, 8)]
    assert "&who" in aliases[0].message and "*who" in aliases[1].message


def test_an_alias_bomb_fails_fast(make_project: ProjectFactory) -> None:
    # A billion laughs: 9 levels of 9 aliases each would expand to 9**9 values.
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    fm = GOAL_FM + "\n".join(lines) + "\n"
    root = make_project({"goals/double-leads.md": note(fm)})
    started = time.perf_counter()
    problems = problems_of(root)
    assert time.perf_counter() - started < 0.5
    aliases = [p for p in problems if p.code == "yaml-alias"]
    assert aliases and all(p.path == "goals/double-leads.md" for p in aliases)
    assert len(aliases) <= 10  # the first few, not 81 lines of the same thing
    assert where(aliases[0]) == ("goals/double-leads.md", 9, 5, "error")


def test_on_as_a_key_is_a_boolean_key(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM + "on: 2026-02-01\n")})
    problem = the(problems_of(root), "yaml-key")
    assert where(problem) == ("goals/double-leads.md", 9, 1, "error")
    assert 'quote it: "on":' in problem.message


@pytest.mark.parametrize(("front_matter", "words"), [
    ("- title: a list\n- owner: smirnova\n", "not a list"),
    ("just a sentence\n", "not a single value"),
])
def test_front_matter_that_is_not_a_mapping(make_project: ProjectFactory, front_matter: str,
                                            words: str) -> None:
    root = make_project({"goals/listed.md": note(front_matter)})
    problem = the(problems_of(root), "front-matter")
    assert where(problem) == ("goals/listed.md", 2, 1, "error")
    assert words in problem.message


def test_an_unsupported_tag(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace(
        "title: Double qualified leads", "title: !!python/object:os.system ls"))})
    problem = the(problems_of(root), "yaml-tag")
    assert where(problem) == ("goals/double-leads.md", 2, 8, "error")
    # The refused value is reported once, not again as a missing title.
    assert "missing-field" not in codes(problems_of(root))


def test_an_impossible_date_is_one_problem(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("due: 2026-07-01",
                                                                       "due: 2026-02-30"))})
    problems = problems_of(root)
    assert [p.code for p in problems] == ["yaml-value"]
    assert where(problems[0]) == ("goals/double-leads.md", 5, 6, "error")
    assert "YYYY-MM-DD" in problems[0].message


def test_a_yaml_syntax_error_has_its_line_and_a_hint(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace(
        "title: Double qualified leads", "title: Leads: doubled"))})
    problem = the(problems_of(root), "yaml-syntax")
    assert where(problem) == ("goals/double-leads.md", 2, 13, "error")
    assert "put the whole value in quotes" in problem.message


def test_a_tab_in_the_indentation(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("  - { id: leads",
                                                                       "\t- { id: leads"))})
    problem = the(problems_of(root), "yaml-syntax")
    assert where(problem)[:2] == ("goals/double-leads.md", 7)
    assert "indent with spaces" in problem.message


# --- file level: encodings, line endings, delimiters ---------------------------------------------


def test_a_bom_is_tolerated(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": b"\xef\xbb\xbf" + GOAL.encode()})
    assert problems_of(root) == []


def test_crlf_is_accepted_and_lines_still_count(make_project: ProjectFactory) -> None:
    text = note(GOAL_FM.replace("owner: smirnova", "owner: nobody")).replace("\n", "\r\n")
    problems = problems_of(make_project({"goals/double-leads.md": text.encode()}))
    assert [(p.code, *where(p)) for p in problems] == [
        ("unknown-person", "goals/double-leads.md", 3, 8, "error")]


def test_cr_only_line_endings_are_an_error(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": GOAL.replace("\n", "\r").encode()})
    problem = the(problems_of(root), "line-endings")
    assert where(problem) == ("goals/double-leads.md", 1, 4, "error")
    assert "LF or CRLF" in problem.message


def test_non_utf8_bytes_are_reported_with_their_line_and_column(
        make_project: ProjectFactory) -> None:
    data = note(GOAL_FM).encode().replace(b"Double qualified", b"D\xe9j\xe0 vu")
    problem = the(problems_of(make_project({"goals/double-leads.md": data})), "encoding")
    assert where(problem) == ("goals/double-leads.md", 2, 9, "error")
    assert "0xe9" in problem.message and "save it as UTF-8" in problem.message


def test_windows_1251_russian_text_is_reported_not_guessed(make_project: ProjectFactory) -> None:
    data = note(GOAL_FM.replace("Double qualified leads", "Удвоить заявки")).encode("cp1251")
    problem = the(problems_of(make_project({"goals/double-leads.md": data})), "encoding")
    assert where(problem) == ("goals/double-leads.md", 2, 8, "error")
    assert "Windows-1251" in problem.message


def test_utf16_is_reported(make_project: ProjectFactory) -> None:
    for data in (GOAL.encode("utf-16"), GOAL.encode("utf-16-le")):  # with and without a BOM
        problem = the(problems_of(make_project({"goals/double-leads.md": data})), "encoding")
        assert problem.path == "goals/double-leads.md"
        assert "UTF-16" in problem.message


def test_a_missing_closing_delimiter(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": "---\n" + GOAL_FM + "Body without end.\n"})
    problem = the(problems_of(root), "front-matter")
    assert where(problem) == ("goals/double-leads.md", 1, 1, "error")
    assert "never closed" in problem.message and "'---'" in problem.message


def test_a_note_without_front_matter(make_project: ProjectFactory) -> None:
    root = make_project({"goals/plain.md": "# Just Markdown\n\nNo front matter.\n"})
    problem = the(problems_of(root), "front-matter")
    assert where(problem) == ("goals/plain.md", 1, 1, "error")
    assert "must start with a line '---'" in problem.message


def test_a_block_scalar_holding_three_dashes_ends_the_front_matter(
        make_project: ProjectFactory) -> None:
    # The first `---` line closes the front matter, even inside a block scalar: what
    # follows is the body, and the cut-off YAML is reported instead of passing silently.
    fm = GOAL_FM.replace("title: Double qualified leads",
                         "title: |\n  Leads\n---\n  doubled")
    problems = problems_of(make_project({"goals/double-leads.md": note(fm)}))
    assert problems and all(p.path == "goals/double-leads.md" for p in problems)
    assert "missing-field" in codes(problems)


# --- fields --------------------------------------------------------------------------------------


def test_an_unknown_key_suggests_the_nearest(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM + "onwer: smirnova\n")})
    problem = the(problems_of(root), "unknown-key")
    assert where(problem) == ("goals/double-leads.md", 9, 1, "warning")
    assert "did you mean 'owner'?" in problem.message


def test_an_unknown_nested_key_names_its_path(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace(
        "{ by: petrov, date: 2026-01-10 }", "{ by: petrov, dat: 2026-01-10 }"))})
    problems = problems_of(root)
    unknown = the(problems, "unknown-key")
    assert where(unknown) == ("goals/double-leads.md", 8, 25, "warning")
    assert "'approved.dat'" in unknown.message and "did you mean 'date'?" in unknown.message
    missing = the(problems, "missing-field")
    assert "'approved.date' is required" in missing.message
    assert where(missing)[:3] == ("goals/double-leads.md", 8, 1)


def test_a_required_field_that_is_absent(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("owner: smirnova\n", ""))})
    problem = the(problems_of(root), "missing-field")
    assert where(problem) == ("goals/double-leads.md", 1, 1, "error")
    assert "'owner' is required" in problem.message


def test_a_required_field_that_is_empty(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace(
        "title: Double qualified leads", "title:"))})
    problem = the(problems_of(root), "missing-field")
    assert where(problem)[:2] == ("goals/double-leads.md", 2)
    assert "'title' is empty" in problem.message


def test_an_empty_optional_mapping_is_a_warning(make_project: ProjectFactory) -> None:
    # `approved:` left empty reads as "not approved"; the writer is told so.
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace(
        "approved: { by: petrov, date: 2026-01-10 }", "approved:"))})
    problem = the(problems_of(root), "empty-field")
    assert where(problem)[:2] == ("goals/double-leads.md", 8)
    assert problem.severity == "warning" and "counts as absent" in problem.message


def test_a_quoted_empty_id(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("owner: smirnova",
                                                                       'owner: ""'))})
    problem = the(problems_of(root), "missing-field")
    assert where(problem) == ("goals/double-leads.md", 3, 8, "error")
    assert "write an id" in problem.message


def test_a_list_where_text_is_expected(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace(
        "title: Double qualified leads", "title: [Double, leads]"))})
    problem = the(problems_of(root), "wrong-type")
    assert where(problem) == ("goals/double-leads.md", 2, 8, "error")
    assert "'title' must be text, found a list" in problem.message


@pytest.mark.parametrize(("value", "words"), [
    ("2026/07/01", "found the text '2026/07/01'"),
    ("July 1st", "found the text 'July 1st'"),
    ("2026-07-01 10:00:00", "a date and time"),
    ('"2026-13-01"', "not a real date"),
])
def test_a_date_that_is_not_yyyy_mm_dd(make_project: ProjectFactory, value: str,
                                       words: str) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("due: 2026-07-01",
                                                                       f"due: {value}"))})
    problem = the(problems_of(root), "bad-date")
    assert where(problem) == ("goals/double-leads.md", 5, 6, "error")
    assert words in problem.message


def test_a_quoted_number(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("baseline: 100",
                                                                       'baseline: "100"'))})
    problem = the(problems_of(root), "wrong-type")
    assert where(problem) == ("goals/double-leads.md", 7, 74, "error")
    assert "must be a number, found the text '100'" in problem.message


def test_a_status_that_is_not_a_choice(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM + "status: done\n")})
    problem = the(problems_of(root), "bad-value")
    assert where(problem) == ("goals/double-leads.md", 9, 9, "error")
    assert "active, achieved, dropped" in problem.message


def test_type_must_agree_with_the_folder(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note("type: change\n" + GOAL_FM)})
    problem = the(problems_of(root), "type-mismatch")
    assert where(problem) == ("goals/double-leads.md", 2, 7, "error")
    assert "goals/" in problem.message


def test_a_matching_type_is_fine(make_project: ProjectFactory) -> None:
    assert problems_of(make_project({"goals/double-leads.md": note("type: goal\n"
                                                                   + GOAL_FM)})) == []


# --- ids and file names --------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "suggested"), [
    ("Double Leads.md", "double-leads.md"),
    ("double_leads.md", "double-leads.md"),
    ("Удвоить-заявки.md", "udvoit-zaiavki.md"),  # transliterated, as `smreport new` does
    ("!!!.md", "note.md"),
    ("café-leads.md", "cafe-leads.md"),
    ("-leads.md", "leads.md"),
    ("a" * 81 + ".md", "a" * 80 + ".md"),
])
def test_a_note_file_name_that_is_not_an_id_suggests_one(
        make_project: ProjectFactory, name: str, suggested: str) -> None:
    root = make_project({f"goals/{name}": GOAL}, goal=False)
    problem = the(problems_of(root), "bad-id")
    assert where(problem) == (f"goals/{name}", 1, 1, "error")
    assert f"rename it to {suggested}" in problem.message


def test_a_bad_id_value_suggests_one(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace(
        "{ id: leads,", "{ id: Qualified Leads,"))})
    problem = the(problems_of(root), "bad-id")
    assert where(problem) == ("goals/double-leads.md", 7, 11, "error")
    assert "did you mean 'qualified-leads'?" in problem.message


def test_windows_reserved_names_are_refused(make_project: ProjectFactory) -> None:
    root = make_project({"goals/con.md": GOAL, "disputes/aux.md": note(DISPUTE_FM)})
    problems = [p for p in problems_of(root) if p.code == "bad-id"]
    assert sorted(where(p) for p in problems) == [("disputes/aux.md", 1, 1, "error"),
                                                  ("goals/con.md", 1, 1, "error")]
    assert all("reserved on Windows" in p.message for p in problems)


# --- goals ---------------------------------------------------------------------------------------


def test_due_must_be_after_start(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("due: 2026-07-01",
                                                                       "due: 2026-01-01"))})
    problem = the(problems_of(root), "due-before-start")
    assert where(problem) == ("goals/double-leads.md", 5, 6, "error")
    assert "must be after 'start'" in problem.message


def test_target_must_differ_from_baseline(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("target: 200",
                                                                       "target: 100.0"))})
    problem = the(problems_of(root), "target-equals-baseline")
    assert where(problem) == ("goals/double-leads.md", 7, 87, "error")


def test_kpi_ids_are_unique_in_a_goal(make_project: ProjectFactory) -> None:
    fm = GOAL_FM.replace("approved:", "  - { id: leads, name: Again, baseline: 1, target: 2 }\n"
                                      "approved:")
    problem = the(problems_of(make_project({"goals/double-leads.md": note(fm)})), "duplicate-kpi")
    assert where(problem) == ("goals/double-leads.md", 8, 11, "error")


def test_a_goal_needs_at_least_one_kpi(make_project: ProjectFactory) -> None:
    fm = re.sub(r"kpis:\n  - .*\n", "kpis: []\n", GOAL_FM)
    problem = the(problems_of(make_project({"goals/double-leads.md": note(fm)})),
                  "missing-field")
    assert where(problem) == ("goals/double-leads.md", 6, 7, "error")
    assert "at least 1 item" in problem.message


def test_the_owner_must_be_a_defined_person(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("owner: smirnova",
                                                                       "owner: smirnov"))})
    problem = the(problems_of(root), "unknown-person")
    assert where(problem) == ("goals/double-leads.md", 3, 8, "error")
    assert "did you mean 'smirnova'?" in problem.message


def test_the_approver_must_be_an_executive(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("by: petrov",
                                                                       "by: lebedev"))})
    problem = the(problems_of(root), "not-executive")
    assert where(problem) == ("goals/double-leads.md", 8, 17, "error")
    assert "'approved.by' must be an executive" in problem.message
    assert "petrov" in problem.message  # who could approve instead


def test_the_approver_must_be_a_defined_person(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("by: petrov",
                                                                       "by: petrova"))})
    problem = the(problems_of(root), "unknown-person")
    assert where(problem) == ("goals/double-leads.md", 8, 17, "error")


READING = "readings:\n  - { kpi: %s, date: 2026-02-28, value: 150 }\n"


def test_a_reading_of_an_unknown_kpi(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM + READING % "lead")})
    problem = the(problems_of(root), "unknown-kpi")
    assert where(problem) == ("goals/double-leads.md", 10, 12, "error")
    assert "did you mean 'leads'?" in problem.message


NEW_KPIS_CHANGE = """\
title: Measure retention
goal: double-leads
proposed_by: smirnova
date: 2026-02-15
set:
  kpis:
    - { id: retention, name: Customers kept, unit: "%", baseline: 20, target: 40 }
"""
DECISION = "decision: { outcome: %s, by: petrov, date: 2026-02-20 }\n"


@pytest.mark.parametrize(("decision", "accepted"), [
    (DECISION % "approved", True),  # the goal's current definition has the KPI
    (DECISION % "rejected", False),
    ("", False),  # pending: not (yet) part of the goal
])
def test_a_reading_may_name_a_kpi_introduced_by_an_approved_change(
        make_project: ProjectFactory, decision: str, accepted: bool) -> None:
    readings = ("readings:\n  - { kpi: leads, date: 2026-01-31, value: 120 }\n"
                "  - { kpi: retention, date: 2026-03-01, value: 25 }\n")
    root = make_project({"goals/double-leads.md": note(GOAL_FM + readings),
                         "changes/retention.md": note(NEW_KPIS_CHANGE + decision)})
    problems = problems_of(root)
    if accepted:
        # `leads` belongs to the earlier definition and `retention` to the current one.
        assert problems == []
    else:
        assert where(the(problems, "unknown-kpi")) == ("goals/double-leads.md", 11, 12, "error")


# --- changes -------------------------------------------------------------------------------------


def test_a_change_to_an_unknown_goal(make_project: ProjectFactory) -> None:
    root = make_project({"changes/move-due.md": note(CHANGE_FM.replace("goal: double-leads",
                                                                       "goal: double-lead"))})
    problem = the(problems_of(root), "unknown-goal")
    assert where(problem) == ("changes/move-due.md", 3, 7, "error")
    assert "did you mean 'double-leads'?" in problem.message


def test_a_change_to_a_broken_goal_is_not_also_unknown(make_project: ProjectFactory) -> None:
    # The goal file exists but does not parse: one problem, in the goal, not two.
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("owner: smirnova\n", "")),
                         "changes/move-due.md": note(CHANGE_FM)})
    assert [(p.path, p.code) for p in problems_of(root)] == [
        ("goals/double-leads.md", "missing-field")]


def test_a_change_decided_by_a_non_executive(make_project: ProjectFactory) -> None:
    root = make_project({"changes/move-due.md": note(
        CHANGE_FM + "decision: { outcome: approved, by: smirnova, date: 2026-02-20 }\n")})
    problem = the(problems_of(root), "not-executive")
    assert where(problem) == ("changes/move-due.md", 7, 36, "error")
    assert "'decision.by' must be an executive" in problem.message


def test_a_change_decided_before_it_was_proposed(make_project: ProjectFactory) -> None:
    root = make_project({"changes/move-due.md": note(
        CHANGE_FM + "decision: { outcome: approved, by: petrov, date: 2026-02-14 }\n")})
    problem = the(problems_of(root), "decision-before-date")
    assert where(problem) == ("changes/move-due.md", 7, 50, "error")


def test_a_change_outcome_must_be_approved_or_rejected(make_project: ProjectFactory) -> None:
    root = make_project({"changes/move-due.md": note(
        CHANGE_FM + "decision: { outcome: yes, by: petrov, date: 2026-02-20 }\n")})
    problem = the(problems_of(root), "quote-value")
    assert where(problem) == ("changes/move-due.md", 7, 22, "error")


def test_a_change_with_an_empty_body(make_project: ProjectFactory) -> None:
    root = make_project({"changes/move-due.md": note(CHANGE_FM, body="\n  \n")})
    problem = the(problems_of(root), "empty-body")
    assert where(problem) == ("changes/move-due.md", 7, 1, "error")
    assert "why the change is needed" in problem.message


def test_a_change_that_sets_nothing(make_project: ProjectFactory) -> None:
    root = make_project({"changes/move-due.md": note(CHANGE_FM.replace(
        "set: { due: 2026-09-30 }", "set: { dues: 2026-09-30 }"))})
    problems = problems_of(root)
    assert where(the(problems, "missing-field")) == ("changes/move-due.md", 6, 1, "error")
    assert "did you mean 'due'?" in the(problems, "unknown-key").message


@pytest.mark.parametrize("due", ["2026-01-01", "2025-12-31"])
def test_a_change_that_would_put_due_on_or_before_start(make_project: ProjectFactory,
                                                        due: str) -> None:
    root = make_project({"changes/move-due.md": note(CHANGE_FM.replace("2026-09-30", due))})
    problem = the(problems_of(root), "due-before-start")
    assert where(problem) == ("changes/move-due.md", 6, 13, "error")
    assert "after 2026-01-01" in problem.message


def test_a_change_with_new_kpis_is_checked_like_a_goal(make_project: ProjectFactory) -> None:
    fm = NEW_KPIS_CHANGE.replace("baseline: 20, target: 40", "baseline: 20, target: 20")
    problem = the(problems_of(make_project({"changes/retention.md": note(fm)})),
                  "target-equals-baseline")
    assert where(problem) == ("changes/retention.md", 8, 79, "error")


# --- reviews -------------------------------------------------------------------------------------


def test_a_reviewer_must_be_an_executive(make_project: ProjectFactory) -> None:
    root = make_project({"reviews/2026-03.md": note(REVIEW_FM.replace("reviewer: petrov",
                                                                      "reviewer: smirnova"))})
    problem = the(problems_of(root), "not-executive")
    assert where(problem) == ("reviews/2026-03.md", 3, 11, "error")


def test_a_review_with_an_empty_body(make_project: ProjectFactory) -> None:
    root = make_project({"reviews/2026-03.md": note(REVIEW_FM, body="")})
    problem = the(problems_of(root), "empty-body")
    assert where(problem) == ("reviews/2026-03.md", 7, 1, "error")
    assert "feedback to the team is mandatory" in problem.message


@pytest.mark.parametrize("body", ["\u200b\n", "&#8203;\n", "&nbsp; &#x200B;\n\n&zwj;\n",
                                  "\u2060\ufeff"])
def test_feedback_that_shows_nothing_is_an_empty_body(make_project: ProjectFactory,
                                                      body: str) -> None:
    root = make_project({"reviews/2026-03.md": note(REVIEW_FM, body=body)})
    assert the(problems_of(root), "empty-body").severity == "error"


@pytest.mark.parametrize("body", ["Ok.", "—", "![chart](../assets/c.png)", "&#8212; Nice"])
def test_feedback_that_shows_something_is_feedback(make_project: ProjectFactory,
                                                   body: str) -> None:
    root = make_project({"reviews/2026-03.md": note(REVIEW_FM, body=body)})
    assert [p for p in problems_of(root) if p.code == "empty-body"] == []


@pytest.mark.parametrize(("title", "code_point"), [('"a\\vb"', "U+000B"),
                                                  ('"\\e[31mred"', "U+001B"),
                                                  ('"x\\x85y"', "U+0085")])
def test_control_characters_written_as_escapes_are_refused(make_project: ProjectFactory,
                                                           title: str, code_point: str) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace(
        "title: Double qualified leads", f"title: {title}"))})
    problem = the(problems_of(root), "bad-value")
    assert where(problem)[:2] == ("goals/double-leads.md", 2)
    assert code_point in problem.message and "remove it" in problem.message


def test_a_list_item_yaml_reads_as_a_boolean_is_told_to_quote_the_item(
        make_project: ProjectFactory) -> None:
    fm = REVIEW_FM.replace("feedback_to: [ smirnova ]", "feedback_to: [ smirnova, no ]")
    assert fm != REVIEW_FM
    problem = the(problems_of(make_project({"reviews/2026-03.md": note(fm)})), "quote-value")
    assert problem.message.endswith('quote it: "no"'), problem.message


@pytest.mark.parametrize("lists", ["", "likes: []\ndislikes: []\n"])
def test_a_review_needs_a_like_or_a_dislike(make_project: ProjectFactory, lists: str) -> None:
    fm = REVIEW_FM.replace('likes: [ "Customer stories" ]\n', lists)
    problem = the(problems_of(make_project({"reviews/2026-03.md": note(fm)})), "no-likes")
    assert where(problem) == ("reviews/2026-03.md", 1, 1, "error")
    assert "'likes' or 'dislikes'" in problem.message


def test_dislikes_alone_are_enough(make_project: ProjectFactory) -> None:
    fm = REVIEW_FM.replace("likes: [", "dislikes: [")
    assert problems_of(make_project({"reviews/2026-03.md": note(fm)})) == []


def test_no_likes_is_reported_beside_other_problems(make_project: ProjectFactory) -> None:
    # Another error in the same review must not hide the missing likes.
    fm = REVIEW_FM.replace('likes: [ "Customer stories" ]\n', "").replace("reviewer: petrov",
                                                                          "reviewer: no")
    found = codes(problems_of(make_project({"reviews/2026-03.md": note(fm)})))
    assert found == ["no-likes", "quote-value"]


def test_a_review_dated_before_its_month(make_project: ProjectFactory) -> None:
    root = make_project({"reviews/2026-03.md": note(REVIEW_FM.replace("date: 2026-03-05",
                                                                      "date: 2026-02-27"))})
    problem = the(problems_of(root), "review-before-month")
    assert where(problem) == ("reviews/2026-03.md", 4, 7, "error")


@pytest.mark.parametrize("month", ["2026-13", "March 2026", "2026-3"])
def test_a_review_month_must_be_yyyy_mm(make_project: ProjectFactory, month: str) -> None:
    root = make_project({"reviews/2026-03.md": note(REVIEW_FM.replace("month: 2026-03",
                                                                      f"month: {month}"))})
    problem = the(problems_of(root), "bad-date")
    assert where(problem) == ("reviews/2026-03.md", 2, 8, "error")
    assert "YYYY-MM" in problem.message


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<script>x</script>",
                                 "vk.com/brandx", "ftp://example.com/", "//evil.example/"])
def test_review_pages_must_be_http_or_https(make_project: ProjectFactory, url: str) -> None:
    fm = REVIEW_FM + f"pages: [ {json.dumps(url)} ]\n"
    problem = the(problems_of(make_project({"reviews/2026-03.md": note(fm)})), "bad-url")
    assert where(problem) == ("reviews/2026-03.md", 7, 10, "error")
    assert "http:// or https://" in problem.message


def test_review_feedback_needs_a_person(make_project: ProjectFactory) -> None:
    root = make_project({"reviews/2026-03.md": note(REVIEW_FM.replace("[ smirnova ]", "[]"))})
    problem = the(problems_of(root), "missing-field")
    assert where(problem) == ("reviews/2026-03.md", 6, 14, "error")


def test_review_feedback_to_an_unknown_person(make_project: ProjectFactory) -> None:
    root = make_project({"reviews/2026-03.md": note(REVIEW_FM.replace(
        "[ smirnova ]", "[ smirnova, ivanova ]"))})
    problem = the(problems_of(root), "unknown-person")
    assert where(problem) == ("reviews/2026-03.md", 6, 26, "error")
    assert "did you mean 'ivanov'?" in problem.message


# --- disputes ------------------------------------------------------------------------------------


def test_a_dispute_needs_two_different_parties(make_project: ProjectFactory) -> None:
    root = make_project({"disputes/comments.md": note(DISPUTE_FM.replace("person: kuznetsova",
                                                                         "person: ivanov"))})
    problem = the(problems_of(root), "parties")
    assert where(problem) == ("disputes/comments.md", 6, 3, "error")
    assert "two different people" in problem.message


def test_a_dispute_with_one_party(make_project: ProjectFactory) -> None:
    fm = DISPUTE_FM.replace('  - { person: kuznetsova, position: "PR approves" }\n', "")
    problem = the(problems_of(make_project({"disputes/comments.md": note(fm)})), "missing-field")
    assert where(problem) == ("disputes/comments.md", 6, 3, "error")
    assert "at least 2 items" in problem.message


@pytest.mark.parametrize(("decider", "expected"), [
    ("petrov", []),  # an executive decides a cross-unit dispute
    ("lebedev", ["not-executive"]),  # a marketing manager may not decide agency vs PR
])
def test_a_cross_unit_dispute_is_decided_by_an_executive(
        make_project: ProjectFactory, decider: str, expected: list[str]) -> None:
    fm = DISPUTE_FM + (f"decision: {{ by: {decider}, date: 2026-02-18, "
                       "outcome: The agency answers routine comments }\n")
    problems = problems_of(make_project({"disputes/comments.md": note(fm)}))
    assert codes(problems) == expected
    if expected:
        assert where(problems[0]) == ("disputes/comments.md", 8, 17, "error")
        assert "only an executive may decide" in problems[0].message


def test_a_dispute_inside_one_unit_may_be_decided_by_anyone(make_project: ProjectFactory) -> None:
    fm = DISPUTE_FM.replace("raised_by: ivanov", "raised_by: smirnova") \
        .replace("person: ivanov", "person: smirnova").replace("person: kuznetsova",
                                                               "person: lebedev")
    fm += "decision: { by: lebedev, date: 2026-02-18, outcome: Smirnova decides }\n"
    assert problems_of(make_project({"disputes/comments.md": note(fm)})) == []


def test_a_dispute_decision_needs_an_outcome(make_project: ProjectFactory) -> None:
    fm = DISPUTE_FM + 'decision: { by: petrov, date: 2026-02-18, outcome: "" }\n'
    problem = the(problems_of(make_project({"disputes/comments.md": note(fm)})),
                  "missing-field")
    assert where(problem) == ("disputes/comments.md", 8, 52, "error")


def test_a_dispute_deadline_before_it_was_raised(make_project: ProjectFactory) -> None:
    fm = DISPUTE_FM + "decide_by: 2026-02-01\n"
    problem = the(problems_of(make_project({"disputes/comments.md": note(fm)})),
                  "decide-by-before-date")
    assert where(problem) == ("disputes/comments.md", 8, 12, "error")


def test_a_party_must_be_a_defined_person(make_project: ProjectFactory) -> None:
    root = make_project({"disputes/comments.md": note(DISPUTE_FM.replace("person: kuznetsova",
                                                                         "person: kuznetsov"))})
    problem = the(problems_of(root), "unknown-person")
    assert where(problem) == ("disputes/comments.md", 7, 15, "error")


# --- links, sizes, one pass ----------------------------------------------------------------------


def test_a_broken_link_between_notes_is_a_warning(make_project: ProjectFactory) -> None:
    root = make_project({"disputes/comments.md": note(
        DISPUTE_FM, body="Context.\n\nSee [the goal](../goals/double-lead.md).\n")})
    problem = the(problems_of(root), "broken-link")
    assert where(problem) == ("disputes/comments.md", 11, 14, "warning")
    assert "goals/double-lead.md" in problem.message


def test_a_note_over_the_size_limit(make_project: ProjectFactory) -> None:
    project = PROJECT_YML + "rules:\n  max_note_bytes: 2048\n"
    root = make_project({"disputes/comments.md": note(DISPUTE_FM, body="x" * 3000)},
                        project=project)
    problem = the(problems_of(root), "too-large")
    assert where(problem) == ("disputes/comments.md", 1, 1, "error")
    assert "2,048" in problem.message and "rules.max_note_bytes" in problem.message


def test_the_default_size_limit_is_one_mebibyte(make_project: ProjectFactory) -> None:
    body = "word " * (1024 * 1024 // 5)
    root = make_project({"disputes/comments.md": note(DISPUTE_FM, body=body)})
    problem = the(problems_of(root), "too-large")
    assert "1,048,576" in problem.message


def test_every_broken_file_is_reported_in_one_pass(make_project: ProjectFactory) -> None:
    root = make_project({
        "goals/no-owner.md": note(GOAL_FM.replace("owner: smirnova\n", "")),
        "goals/quoted.md": note(GOAL_FM.replace("owner: smirnova", "owner: no")),
        "goals/latin1.md": b"---\ntitle: caf\xe9\n---\n",
        "changes/move-due.md": note(CHANGE_FM.replace("goal: double-leads", "goal: nothing")),
        "reviews/2026-03.md": note(REVIEW_FM.replace("reviewer: petrov", "reviewer: lebedev")),
        "disputes/comments.md": note(DISPUTE_FM.replace("person: kuznetsova", "person: ivanov")),
        "disputes/Bad Name.md": note(DISPUTE_FM),
        "goals/cr.md": GOAL.replace("\n", "\r").encode(),
    }, project=PROJECT_YML.replace("unit: pr,", "unit: prr,"))
    found = sorted((p.path, p.code) for p in problems_of(root))
    assert found == [
        ("changes/move-due.md", "unknown-goal"),
        ("disputes/Bad Name.md", "bad-id"),
        ("disputes/comments.md", "parties"),
        ("goals/cr.md", "line-endings"),
        ("goals/latin1.md", "encoding"),
        ("goals/no-owner.md", "missing-field"),
        ("goals/quoted.md", "quote-value"),
        ("project.yml", "unknown-unit"),
        ("reviews/2026-03.md", "not-executive"),
    ]


def test_problems_are_sorted_by_file_then_line(make_project: ProjectFactory) -> None:
    fm = GOAL_FM.replace("owner: smirnova", "owner: no") + "titel: x\n"
    root = make_project({"goals/b.md": note(fm), "goals/a.md": note(fm)}, goal=False)
    problems = problems_of(root)
    assert [(p.path, p.line) for p in problems] == [("goals/a.md", 3), ("goals/a.md", 9),
                                                    ("goals/b.md", 3), ("goals/b.md", 9)]


# --- the real command line -----------------------------------------------------------------------

PROBLEM_LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<column>\d+): "
                          r"(?P<severity>error|warning) (?P<code>[a-z0-9-]+): (?P<message>.+)$")


def test_cli_text_lists_each_problem_as_path_line_column(make_project: ProjectFactory,
                                                         tmp_path: Path) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("owner: smirnova",
                                                                       "owner: off")
                                                       + "onwer: x\n")})
    result = run_cli("check", "--content", "content", "--today", "2026-03-10", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    output = result.stdout + result.stderr
    lines = [PROBLEM_LINE.match(line) for line in output.splitlines()]
    found = [m.groupdict() for m in lines if m]
    assert [(f["path"], f["line"], f["column"], f["severity"], f["code"]) for f in found] == [
        ("content/goals/double-leads.md", "3", "8", "error", "quote-value"),
        ("content/goals/double-leads.md", "9", "1", "warning", "unknown-key"),
    ]
    assert 'quote it: owner: "off"' in found[0]["message"]
    assert "Traceback" not in output
    assert root == tmp_path / "content"


def test_cli_json_has_the_spec_keys(make_project: ProjectFactory, tmp_path: Path) -> None:
    make_project({"reviews/2026-03.md": note(REVIEW_FM.replace("reviewer: petrov",
                                                               "reviewer: smirnova"))})
    result = run_cli("check", "--content", "content", "--format", "json", "--today",
                     "2026-03-10", cwd=tmp_path)
    assert result.returncode == 1
    assert json.loads(result.stdout) == [{
        "path": "content/reviews/2026-03.md", "line": 3, "column": 11, "severity": "error",
        "code": "not-executive",
        "message": the(problems_of(tmp_path / "content"), "not-executive").message}]


def test_cli_exit_0_with_warnings_only(make_project: ProjectFactory, tmp_path: Path) -> None:
    make_project({"goals/double-leads.md": note(GOAL_FM + "onwer: x\n")})
    result = run_cli("check", "--content", "content", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0
    assert [p["code"] for p in json.loads(result.stdout)] == ["unknown-key"]


def test_cli_exit_2_for_a_wrong_command_line(tmp_path: Path) -> None:
    result = run_cli("check", "--format", "xml", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_cli_content_that_is_not_a_folder(tmp_path: Path, kind: str) -> None:
    if kind == "file":
        (tmp_path / "notes").write_text("not a folder", encoding="utf-8")
    result = run_cli("check", "--content", "notes", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1
    problems = json.loads(result.stdout)
    assert [(p["path"], p["line"], p["code"]) for p in problems] == [("notes", 1, "no-content")]
    words = "does not exist" if kind == "missing" else "is a file, not a folder"
    assert words in problems[0]["message"] and "--content" in problems[0]["message"]


# --- bounds that keep the arithmetic finite ------------------------------------------------------


@pytest.mark.parametrize(("value", "code"), [
    ("1.0e+16", "wrong-type"), ("-1.0e+16", "wrong-type"), (".nan", "wrong-type"),
    (".inf", "wrong-type"), ("1" + "0" * 400, "wrong-type"),
])
def test_numbers_must_be_finite_and_of_a_sane_size(make_project: ProjectFactory, value: str,
                                                   code: str) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("target: 200",
                                                                       f"target: {value}"))})
    problem = the(problems_of(root), code)
    assert where(problem) == ("goals/double-leads.md", 7, 87, "error")
    assert "a number between" in problem.message


def test_an_exponent_without_a_dot_is_text_in_yaml(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("target: 200",
                                                                       "target: 2e2"))})
    problem = the(problems_of(root), "wrong-type")
    assert where(problem) == ("goals/double-leads.md", 7, 87, "error")
    assert "YAML reads as text" in problem.message and "in full (200)" in problem.message


@pytest.mark.parametrize("day", ["1899-12-31", "3000-01-01", "9999-12-31", "0001-01-01"])
def test_dates_far_from_now_are_refused(make_project: ProjectFactory, day: str) -> None:
    root = make_project({"goals/double-leads.md": note(GOAL_FM.replace("due: 2026-07-01",
                                                                       f"due: {day}"))})
    problem = the(problems_of(root), "bad-date")
    assert where(problem) == ("goals/double-leads.md", 5, 6, "error")
    assert "between 1900-01-01 and 2999-12-31" in problem.message


def test_decision_days_has_an_upper_bound(make_project: ProjectFactory) -> None:
    root = make_project(project=PROJECT_YML + "rules:\n  decision_days: 100000000\n")
    problem = the(problems_of(root), "wrong-type")
    assert "at most 365" in problem.message


# --- addresses -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("site_url", "words"), [
    ("https://example.com/\\\"><script>x</script>", "the character '\"' is not allowed"),
    ("https://example.com/a b", "the character ' ' is not allowed"),
    ("https://reports.example.com/?page=1", "cannot have a query"),
    ("https:///no-host", "no host name"),
    ("ftp://example.com/", "the site's address must be an http:// or https://"),
    ("https://reports.example.com/%zz/", "two hex digits"),
    ("https://reports.example.com/100%/", "two hex digits"),
    # A password would be published on every page, in the feed and in the calendar.
    ("https://user:secret@reports.example.com/", "user name or password"),
    ("https://reports.example.com:99999/", "no valid host name (or port)"),
    ("https://пример..рф/", "is not a valid domain name"),  # an empty part: build failed
])
def test_site_url_must_be_a_plain_http_address(make_project: ProjectFactory, site_url: str,
                                               words: str) -> None:
    root = make_project(project=PROJECT_YML + f'site_url: "{site_url}"\n')
    problem = the(problems_of(root), "bad-url")
    assert where(problem) == ("project.yml", 16, 11, "error")
    assert words in problem.message


def test_a_good_site_url_passes(make_project: ProjectFactory) -> None:
    root = make_project(project=PROJECT_YML + "site_url: https://reports.example.com/brand-x/\n")
    assert problems_of(root) == []


def test_a_site_url_scheme_in_capitals_is_the_same_address(make_project: ProjectFactory,
                                                           tmp_path: Path) -> None:
    root = make_project(project=PROJECT_YML + "site_url: HTTPS://Reports.example.com/%7Ex/\n")
    assert problems_of(root) == []
    result = run_cli("build", "--content", str(root), "--out", str(tmp_path / "site"),
                     "--today", "2026-03-10")
    assert result.returncode == 0, result.stderr
    feed = (tmp_path / "site" / "feed.xml").read_text(encoding="utf-8")
    assert 'href="https://Reports.example.com/%7Ex/' in feed and "HTTPS:" not in feed


def test_a_page_address_in_capitals_is_a_link_too(make_project: ProjectFactory,
                                                  tmp_path: Path) -> None:
    review = ("---\nmonth: 2026-02\nreviewer: petrov\ndate: 2026-02-27\n"
              'pages: [ "HTTPS://VK.com/brandx" ]\nlikes: [ Stories ]\n'
              "feedback_to: [ smirnova ]\n---\nThank you.\n")
    root = make_project({"reviews/review-2026-02.md": review})
    assert problems_of(root) == []
    result = run_cli("build", "--content", str(root), "--out", str(tmp_path / "site"),
                     "--today", "2026-03-10")
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "site" / "reviews" / "review-2026-02" / "index.html").read_text("utf-8")
    assert 'href="https://VK.com/brandx"' in page


def test_a_page_address_may_not_hold_a_password(make_project: ProjectFactory) -> None:
    review = ("---\nmonth: 2026-02\nreviewer: petrov\ndate: 2026-02-27\n"
              'pages: [ "https://me:pw@vk.com/brandx" ]\nlikes: [ Stories ]\n'
              "feedback_to: [ smirnova ]\n---\nThank you.\n")
    problem = the(problems_of(make_project({"reviews/review-2026-02.md": review})), "bad-url")
    assert "user name or password" in problem.message


@pytest.mark.parametrize("email", ['"javascript:alert(1)//@x.example"', '"a b@x.example"',
                                   '"<a@x.example>"', "petrov", '"petrov@localhost"'])
def test_an_email_must_look_like_one(make_project: ProjectFactory, email: str) -> None:
    root = make_project(project=PROJECT_YML.replace("email: petrov@brandx.example",
                                                    f"email: {email}"))
    problem = the(problems_of(root), "bad-value")
    assert problem.path == "project.yml" and problem.line == 11
    assert "not an e-mail address" in problem.message


# --- project.yml and its people ------------------------------------------------------------------


def test_a_project_without_people_does_not_blame_every_note(make_project: ProjectFactory) -> None:
    project = re.sub(r"people:\n(  .*\n)+", "", PROJECT_YML)
    root = make_project({"changes/move-due.md": note(CHANGE_FM)}, project=project)
    assert [(p.path, p.code) for p in problems_of(root)] == [("project.yml", "missing-field")]


def test_an_empty_decision_reads_as_pending_with_a_warning(make_project: ProjectFactory) -> None:
    root = make_project({"changes/move-due.md": note(CHANGE_FM + "decision:\n")})
    problem = the(problems_of(root), "empty-field")
    assert where(problem)[:2] == ("changes/move-due.md", 7)
    assert "'decision' is empty" in problem.message


def test_a_broken_note_still_has_its_references_checked(make_project: ProjectFactory) -> None:
    """A note with its own problems is left out of the content, but a wrong person or
    goal in it is reported in the same pass, not only after the rest is fixed."""
    root = make_project({
        "reviews/r.md": note("month: 2026-03\nreviewer: smirnova\nlikes: [a]\n"
                             "feedback_to: [nobody-here]\n"),  # no date
        "changes/c.md": note("title: T\ngoal: no-such-goal\nproposed_by: smirnova\n"
                             "set: { title: X }\n"),  # no date
    })
    problems = problems_of(root)
    review = [(p.code, p.line) for p in problems if p.path == "reviews/r.md"]
    assert ("missing-field", 1) in review
    assert ("not-executive", 3) in review
    assert ("unknown-person", 5) in review
    change = [p.code for p in problems if p.path == "changes/c.md"]
    assert "missing-field" in change and "unknown-goal" in change


def test_validation_kept_between_saves_finds_what_a_fresh_validation_finds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--watch keeps each note's reference problems (ValidationMemo) and checks again only
    the notes a save changed, unless what references point at changed: after every kind
    of edit, the kept validation equals one made from nothing."""
    import shutil

    from smreport import validate
    from smreport.engine import Builder
    from tests.conftest import EXAMPLE

    root = tmp_path / "content"
    shutil.copytree(EXAMPLE, root)
    builder = Builder(None, jobs=1)
    builder.in_place = True
    memo = validate.ValidationMemo()
    checked: set[str] = set()
    real_check = validate._check_reference

    def spy(content: object, note: Any, *args: Any) -> Any:
        checked.add(note.path)
        return real_check(content, note, *args)  # type: ignore[arg-type]
    monkeypatch.setattr(validate, "_check_reference", spy)

    def replace(relative: str, old: str, new: str) -> str:
        path = root / relative
        text = path.read_text(encoding="utf-8")
        assert old in text, (relative, old)
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return relative
    change, goal, review = ("changes/telegram-extend-to-march.md",
                            "goals/care-response-time.md", "reviews/review-2026-10.md")
    saved_goal = (root / "goals" / "grow-telegram.md").read_text(encoding="utf-8")
    edits: list[tuple[str, Any]] = [
        ("start", lambda: None),
        ("unknown person", lambda: replace(change, "proposed_by: belov", "proposed_by: nobody")),
        ("person mended", lambda: replace(change, "proposed_by: nobody", "proposed_by: belov")),
        ("unknown KPI", lambda: replace(goal, "{ kpi: response-hours, date: 2026-05-31",
                                        "{ kpi: response-hourz, date: 2026-05-31")),
        ("broken link", lambda: (root / review).write_text(
            (root / review).read_text(encoding="utf-8") + "\n[x](../goals/nowhere.md)\n",
            encoding="utf-8") and review),
        ("approved KPI renamed", lambda: replace("changes/care-public-replies.md",
                                                 "- id: public-replies", "- id: public-answers")),
        ("goal deleted", lambda: (root / "goals" / "grow-telegram.md").unlink()),
        ("goal back", lambda: (root / "goals" / "grow-telegram.md").write_text(
            saved_goal, encoding="utf-8")),
        ("person removed", lambda: replace("project.yml", "  kim:", "  kimm:")),
        ("new note", lambda: (root / "disputes" / "new.md").write_text(
            "---\ntitle: New\nraised_by: ghost\ndate: 2026-11-01\nparties:\n"
            "  - { person: ghost, position: A }\n  - { person: belov, position: B }\n---\n",
            encoding="utf-8")),
        ("broken YAML", lambda: replace(change, "goal: grow-telegram", "goal: [grow")),
        ("YAML mended", lambda: replace(change, "goal: [grow", "goal: grow-telegram")),
    ]
    for name, edit in edits:
        saved = edit()
        builder.changed_hint = frozenset({str(root / saved)}) if isinstance(saved, str) \
            else None
        checked.clear()
        loaded = builder.load(root)
        assert loaded.content is not None, name
        kept = validate.validate_content(loaded.content, loaded.present, loaded.unparsed, memo)
        checked_again = set(checked)
        fresh = validate.validate_content(loaded.content, loaded.present, loaded.unparsed)
        assert sorted(kept, key=Problem.sort_key) == sorted(fresh, key=Problem.sort_key), name
        if name in ("unknown person", "person mended", "unknown KPI", "broken link",
                    "YAML mended"):
            # One note saved, nothing it points at changed: only it was checked again.
            assert checked_again == {saved}, name
        elif name == "broken YAML":  # its references are gone with it; nothing else moved
            assert checked_again == set(), name
        elif name != "start":  # what references point at changed: every note again
            assert len(checked_again) > 10, name
    codes = {p.code for p in kept}
    assert {"unknown-person", "unknown-kpi", "broken-link"} <= codes


# --- inputs made to be slow ---------------------------------------------------------------
# A run against a timeout, not a timing: each took minutes to hours before (quadratic).


def test_a_huge_email_is_refused_at_once(make_project: ProjectFactory) -> None:
    email = "a@" + "." * 200_000 + "@"  # backtracked over every split: minutes
    root = make_project(project=PROJECT_YML.replace("petrov@brandx.example", f'"{email}"'))
    result = run_cli("check", "--content", str(root), "--format", "json", timeout=60)
    [problem] = [p for p in json.loads(result.stdout) if p["code"] == "bad-value"]
    assert "200,003 characters long" in problem["message"] and len(problem["message"]) < 200


def test_thousands_of_unknown_ids_among_thousands_of_people_are_reported_at_once(
        make_project: ProjectFactory) -> None:
    people = "".join(f"  person-{n:04d}: {{ name: P{n}, unit: pr }}\n" for n in range(2000))
    unknown = ", ".join(f"persn-{n:04d}" for n in range(5000))
    review = (f"---\nmonth: 2026-02\nreviewer: petrov\ndate: 2026-02-27\nlikes: [ Stories ]\n"
              f"feedback_to: [ {unknown} ]\n---\nThank you.\n")
    root = make_project({"reviews/review-2026-02.md": review},
                        project=PROJECT_YML + people)
    result = run_cli("check", "--content", str(root), "--format", "json", timeout=60)
    problems = [p for p in json.loads(result.stdout) if p["code"] == "unknown-person"]
    assert len(problems) == 5000
    # The first ones still say whom they probably meant; past a budget, none do.
    assert "did you mean 'person-0000'?" in problems[0]["message"]
    assert "did you mean" not in problems[-1]["message"]


def test_bidi_controls_in_ids_addresses_and_emails_are_refused_as_written(
        make_project: ProjectFactory) -> None:
    """Only words (titles, names) are isolated; an id, an address or an e-mail holding a
    right-to-left override is refused, and its message shows the control as an escape,
    without isolate marks around it."""
    project = PROJECT_YML.replace("petrov@brandx.example", '"petrov\\u202e@brandx.example"') \
        + 'site_url: "https://reports.example.com/\\u202ex/"\n'
    goal = GOAL.replace("owner: smirnova", 'owner: "smir\\u202enova"')
    problems = problems_of(make_project({"goals/double-leads.md": goal}, project=project))
    by_code = {p.code: p for p in problems}
    assert {"bad-value", "bad-url", "bad-id"} <= set(by_code), problems
    for problem in problems:
        assert "\u2068" not in problem.message and "\u202e" not in problem.message
    assert "\\u202e" in by_code["bad-id"].message
