"""`smreport new` and `smreport init`, run for real: the files they write and what check says."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import zoneinfo
from pathlib import Path

import pytest
import yaml

from smreport.cli import main
from smreport.scaffold import make_id
from tests.conftest import GOAL, PROJECT_YML, ProjectFactory, run_cli

TODAY = "2026-11-26"
# An approved change that moves the goal's due date: `new change --goal` must show it.
APPROVED_CHANGE = """\
---
title: Give the leads goal until September
goal: double-leads
proposed_by: smirnova
date: 2026-02-15
set: { due: 2026-09-30 }
decision: { outcome: approved, by: petrov, date: 2026-02-20 }
---
The launch slipped.
"""
# What each new note leaves to fill: the field named by each `missing-field` problem.
PLACEHOLDERS = {
    "goals/rost-prodazh.md": {"owner", "due", "kpis[0].id", "kpis[0].name",
                              "kpis[0].baseline", "kpis[0].target"},
    "changes/sdvinut-srok.md": {"proposed_by", "set", "<body>"},
    "changes/new-kpis.md": {"goal", "proposed_by", "set", "<body>"},
    "reviews/review-2026-11.md": {"reviewer", "likes[0]", "dislikes[0]", "feedback_to",
                                  "<body>"},
    "disputes/who-answers-comments.md": {"raised_by", "parties[0].person",
                                         "parties[0].position", "parties[1].person",
                                         "parties[1].position"},
}
# Values a team member would write in place of each placeholder.
FILLED = {
    "goals/rost-prodazh.md": [("owner", "smirnova"), ("due", "2027-03-31"),
                              ("- id", "leads"), ("name", "Leads"), ("baseline", "10"),
                              ("target", "20")],
    "changes/sdvinut-srok.md": [("proposed_by", "smirnova"), ("#   due", "2026-12-31")],
    "changes/new-kpis.md": [("goal", "double-leads"), ("proposed_by", "lebedev"),
                            ("#   title", '"Leads and calls"')],
    "reviews/review-2026-11.md": [("reviewer", "petrov"), ("feedback_to", "[ smirnova ]")],
    "disputes/who-answers-comments.md": [("raised_by", "ivanov"), ("- person", "ivanov"),
                                         ("position", '"The agency answers"'),
                                         ("- person", "kuznetsova"),
                                         ("position", '"PR answers"')],
}


def project_in(language: str) -> str:
    return PROJECT_YML.replace("language: en", f"language: {language}")


def check_json(root: Path) -> tuple[int, list[dict[str, object]]]:
    result = run_cli("check", "--content", str(root), "--today", TODAY, "--format", "json")
    return result.returncode, json.loads(result.stdout)


def field_named(problem: dict[str, object]) -> str:
    """The field a problem is about: the quoted key of a missing-field, or <body>."""
    if problem["code"] == "empty-body":
        return "<body>"
    assert problem["code"] == "missing-field", problem
    match = re.match(r"'([^']+)' is empty", str(problem["message"]))
    assert match, problem
    return match.group(1)


def fill(text: str, key: str, value: str) -> str:
    """Write `value` into the first empty `key:` line (uncommenting `#   key:` lines)."""
    rest = r"[^\n]*" if key.startswith("#") else r"[ \t]*(#[^\n]*)?"
    pattern = re.compile(rf"^(\s*){re.escape(key)}:{rest}$", re.MULTILINE)
    match = pattern.search(text)
    assert match, f"no {key!r} line to fill"
    bare = key.removeprefix("#   ")
    indent = match.group(1) + ("  " if key.startswith("#") else "")
    return text[:match.start()] + f"{indent}{bare}: {value}" + text[match.end():]


def write_body(text: str, body: str) -> str:
    return text + body + "\n"


@pytest.mark.parametrize("language", ["en", "ru"])
def test_new_notes_fail_check_only_on_their_placeholders_until_filled(
        make_project: ProjectFactory, language: str) -> None:
    root = make_project(project=project_in(language))
    commands = [
        ("goal", "Рост продаж"),
        ("change", "Сдвинуть срок", "--goal", "double-leads"),
        ("change", "New KPIs"),
        ("review",),
        ("dispute", "Who answers comments?"),
    ]
    for command in commands:
        result = run_cli("new", *command, "--content", str(root), "--today", TODAY)
        assert result.returncode == 0, result.stderr
        assert "Wrote " in result.stdout
    for relative in PLACEHOLDERS:
        assert (root / relative).is_file(), relative

    status, problems = check_json(root)
    assert status == 1
    reported: dict[str, set[str]] = {}
    for problem in problems:
        relative = Path(str(problem["path"])).resolve().relative_to(root.resolve()).as_posix()
        assert problem["severity"] == "error", problem
        reported.setdefault(relative, set()).add(field_named(problem))
    assert reported == PLACEHOLDERS

    # Filling exactly the placeholders makes the project valid: nothing else was wrong.
    for relative, values in FILLED.items():
        path = root / relative
        text = path.read_text(encoding="utf-8")
        for key, value in values:
            text = fill(text, key, value)
        if relative.startswith("reviews/"):
            text = text.replace('  - ""', '  - "Customer stories"', 1)
            text = re.sub(r'dislikes:[^\n]*\n  - ""\n', "", text)
        if "<body>" in PLACEHOLDERS[relative]:
            text = write_body(text, "Because the team needs it.")
        path.write_text(text, encoding="utf-8")
    status, problems = check_json(root)
    assert (status, problems) == (0, [])


@pytest.mark.parametrize(("language", "words"), [
    ("en", ["required: the person responsible", "smirnova", "Fill in every empty value"]),
    ("ru", ["обязательно: ответственный", "smirnova", "Заполните все пустые значения"]),
])
def test_a_new_goal_has_every_field_today_and_comments_in_the_projects_language(
        make_project: ProjectFactory, language: str, words: list[str]) -> None:
    root = make_project(project=project_in(language))
    result = run_cli("new", "goal", "Рост продаж", "--content", str(root), "--today", TODAY)
    assert result.returncode == 0, result.stderr
    text = (root / "goals" / "rost-prodazh.md").read_text(encoding="utf-8")
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["title"] == "Рост продаж"
    assert front["start"] == dt.date(2026, 11, 26)
    assert front["status"] == "active"
    assert set(front) == {"title", "owner", "start", "due", "status", "kpis"}
    assert set(front["kpis"][0]) == {"id", "name", "unit", "baseline", "target"}
    for word in words:
        assert word in text
    # Every line that holds a key has a comment explaining it.
    keyed = [line for line in text.splitlines() if re.match(r"\s*(- )?[a-z_]+:", line)]
    assert keyed and all("#" in line for line in keyed)
    # No catalog key leaked through untranslated.
    assert not re.search(r"\b(new|init)\.[a-z_]+\.[a-z_]+", text)


def test_today_defaults_to_the_projects_time_zone(make_project: ProjectFactory) -> None:
    root = make_project()
    moscow = zoneinfo.ZoneInfo("Europe/Moscow")
    before = dt.datetime.now(moscow).date()
    result = run_cli("new", "dispute", "Who pays for ads", "--content", str(root))
    after = dt.datetime.now(moscow).date()
    assert result.returncode == 0, result.stderr
    front = yaml.safe_load((root / "disputes" / "who-pays-for-ads.md").read_text().split(
        "---\n")[1])
    assert front["date"] in (before, after)


def test_a_review_defaults_to_this_month_and_takes_a_month(
        make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_project()
    # In-process: the same entry point as the console script, without a process per case.
    assert main(["new", "review", "--content", str(root), "--today", TODAY]) == 0
    assert (root / "reviews" / "review-2026-11.md").is_file()
    assert main(["new", "review", "2026-10", "--content", str(root), "--today", TODAY]) == 0
    text = (root / "reviews" / "review-2026-10.md").read_text(encoding="utf-8")
    assert "month: 2026-10" in text and f"date: {TODAY}" in text
    capsys.readouterr()
    for month, message, status in (("2026-13", "not a month", 2), ("October", "not a month", 2),
                                   ("2026-12", "has not begun", 1)):
        assert main(["new", "review", month, "--content", str(root), "--today", TODAY]) == status
        assert message in capsys.readouterr().err
    assert sorted(p.name for p in (root / "reviews").iterdir()) == [
        "review-2026-10.md", "review-2026-11.md"]


def test_new_never_overwrites(make_project: ProjectFactory) -> None:
    root = make_project()
    target = root / "goals" / "double-leads.md"
    before = target.read_bytes()
    result = run_cli("new", "goal", "Double leads", "--content", str(root), "--today", TODAY)
    assert result.returncode == 1
    assert "already exists" in result.stderr and "--id" in result.stderr
    assert "Traceback" not in result.stderr
    assert target.read_bytes() == before
    result = run_cli("new", "goal", "Double leads", "--id", "double-leads-2", "--content",
                     str(root), "--today", TODAY)
    assert result.returncode == 0, result.stderr
    assert (root / "goals" / "double-leads-2.md").is_file()
    # A review has a month, not a title.
    for status in (0, 1):
        result = run_cli("new", "review", "--content", str(root), "--today", TODAY)
        assert result.returncode == status, result.stderr
    assert "already exists" in result.stderr and "title" not in result.stderr


def test_change_with_goal_lists_the_current_definition(make_project: ProjectFactory) -> None:
    root = make_project({"changes/later.md": APPROVED_CHANGE})
    result = run_cli("new", "change", "Raise the target", "--goal", "double-leads",
                     "--content", str(root), "--today", TODAY)
    assert result.returncode == 0, result.stderr
    text = (root / "changes" / "raise-the-target.md").read_text(encoding="utf-8")
    assert re.search(r"^goal: double-leads ", text, re.MULTILINE)
    assert "#   due: 2026-09-30" in text  # the approved change applied, not the file's 07-01
    assert '#   title: "Double qualified leads"' in text
    assert re.search(r'#     - \{ id: leads, name: "Qualified leads per month", '
                     r'unit: "leads", baseline: 100, target: 200 \}', text)


@pytest.mark.parametrize(("args", "message", "status"), [
    (["change", "X", "--goal", "no-such-goal"], "there is no goal 'no-such-goal'", 1),
    # A wrong command line is 2, as for build and check; what the project lacks is 1.
    (["goal", "X", "--goal", "double-leads"], "--goal is only for a change", 2),
    (["goal", "!!!"], "--id", 2),
    (["goal", "X", "--id", "Not An Id"], "not a valid note id", 2),
    (["dispute"], "needs a title", 2),
    (["review", "March"], "is not a month", 2),
])
def test_new_refuses_with_a_clear_message(make_project: ProjectFactory, args: list[str],
                                          message: str, status: int,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    root = make_project()
    assert main(["new", *args, "--content", str(root), "--today", TODAY]) == status
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in (root / "goals").iterdir()) == ["double-leads.md"]


def test_new_needs_a_project(tmp_path: Path) -> None:
    result = run_cli("new", "goal", "X", "--content", str(tmp_path / "content"))
    assert result.returncode == 1
    assert "smreport init" in result.stderr


def test_ids_transliterate_cyrillic() -> None:
    assert make_id("Рост продаж") == "rost-prodazh"
    assert make_id("  Ёлки: «Новый год» 2027!  ") == "elki-novyi-god-2027"
    assert make_id("?!") == ""
    assert len(make_id("слово " * 40)) <= 80


@pytest.mark.parametrize("language", ["en", "ru"])
def test_init_then_build_works_at_once(tmp_path: Path, language: str) -> None:
    folder = tmp_path / "brand"
    result = run_cli("init", str(folder), "--language", language, "--today", TODAY)
    assert result.returncode == 0, result.stderr
    assert (folder / "content" / "project.yml").is_file()
    assert len(list((folder / "content" / "goals").glob("*.md"))) == 1
    assert "site/" in (folder / ".gitignore").read_text()
    # Built from inside the folder with no options, as the README says.
    result = run_cli("build", "--today", TODAY, cwd=folder)
    assert result.returncode == 0, result.stderr + result.stdout
    agenda = json.loads((folder / "site" / "agenda.json").read_text(encoding="utf-8"))
    # The goal awaits approval, and this month's page awaits its review.
    assert [item["code"] for item in agenda["items"]] == ["approve-goal", "review-page"]
    html = (folder / "site" / "index.html").read_text(encoding="utf-8")
    assert f'lang="{language}"' in html
    check = run_cli("check", "--today", TODAY, cwd=folder)
    assert check.returncode == 0 and check.stdout == ""


def test_init_refuses_an_existing_project(make_project: ProjectFactory) -> None:
    root = make_project()
    before = (root / "project.yml").read_bytes()
    result = run_cli("init", str(root.parent), "--today", TODAY)
    assert result.returncode == 1
    assert "not empty" in result.stderr
    assert (root / "project.yml").read_bytes() == before


def test_init_ignores_the_site_the_cache_and_the_lock_in_git(tmp_path: Path) -> None:
    folder = tmp_path / "brand"
    assert run_cli("init", str(folder), "--today", TODAY).returncode == 0
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True, timeout=60)
    assert run_cli("build", "--today", TODAY, cwd=folder).returncode == 0
    assert (folder / ".site.smreport-lock").exists() and (folder / ".smreport-cache").exists()
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                            cwd=folder, capture_output=True, text=True, check=True, timeout=60)
    untracked = [line[3:] for line in status.stdout.splitlines()]
    assert ".gitignore" in untracked and "content/project.yml" in untracked
    assert [path for path in untracked if not path.startswith("content/")] == [".gitignore"]


def test_init_adds_what_an_existing_gitignore_lacks(tmp_path: Path) -> None:
    folder = tmp_path / "brand"
    folder.mkdir()
    (folder / ".gitignore").write_text("node_modules/\nsite/", encoding="utf-8")
    result = run_cli("init", str(folder), "--today", TODAY)
    assert result.returncode == 0, result.stderr
    assert "Wrote" in result.stdout and ".gitignore" in result.stdout
    assert (folder / ".gitignore").read_text(encoding="utf-8") == (
        "node_modules/\nsite/\n# smreport: the built site, the build cache and the build's lock\n"
        ".smreport-cache/\n.*.smreport-lock\n")
    again = tmp_path / "again"
    again.mkdir()
    complete = "site/\n.smreport-cache/\n.*.smreport-lock\n"
    (again / ".gitignore").write_text(complete, encoding="utf-8")
    result = run_cli("init", str(again), "--today", TODAY)
    assert result.returncode == 0 and ".gitignore" not in result.stdout
    assert (again / ".gitignore").read_text(encoding="utf-8") == complete
    crlf = tmp_path / "crlf"
    crlf.mkdir()
    (crlf / ".gitignore").write_bytes(b"node_modules/\r\n")
    assert run_cli("init", str(crlf), "--today", TODAY).returncode == 0
    assert (crlf / ".gitignore").read_bytes() == (
        b"node_modules/\r\n# smreport: the built site, the build cache and the build's lock\r\n"
        b"site/\r\n.smreport-cache/\r\n.*.smreport-lock\r\n")


# A goal whose KPI name hides YAML line breaks (written as escapes, which `check` accepts):
# copied raw into a comment line of `new change --goal`, the break would end the comment
# and make the executive's decision a live key of the team's new change.
SMUGGLING_GOAL = GOAL.replace(
    "name: Qualified leads per month",
    'name: "Leads\\u2028decision: { outcome: approved, by: petrov, date: 2026-03-10 }\\u2028#"',
# The title holds characters JSON leaves raw but YAML would not read back as written.
).replace("title: Double qualified leads", 'title: "Double\\u2029leads\\ufeff"')
# Characters YAML would refuse or read as a line break, in titles typed on the command line.
UNSAFE = ["\x7f", "\x85", "\x9b", "\u2028", "\u2029", "\ufeff"]


def test_new_change_shows_the_goal_text_without_letting_it_into_the_yaml(
        make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": SMUGGLING_GOAL})
    assert check_json(root)[0] == 0
    assert run_cli("new", "change", "Raise the target", "--goal", "double-leads", "--content",
                   str(root), "--today", TODAY).returncode == 0
    path = root / "changes" / "raise-the-target.md"
    text = path.read_text(encoding="utf-8")
    assert not any(character in text for character in UNSAFE)
    # Filled in as the scaffold asks: the change waits for the executive's decision.
    shown = re.search(r'^#   title: (".*")$', text, re.MULTILINE)
    assert shown is not None
    text = fill(fill(text, "proposed_by", "smirnova"), "#   title", shown.group(1))
    path.write_text(write_body(text, "Why."), encoding="utf-8")
    assert "decision" not in yaml.safe_load(text.split("---")[1])
    status, problems = check_json(root)
    assert (status, problems) == (0, [])
    result = run_cli("build", "--content", str(root), "--out", str(root.parent / "site"),
                     "--today", TODAY)
    assert result.returncode == 0, result.stderr
    agenda = json.loads((root.parent / "site" / "agenda.json").read_text(encoding="utf-8"))
    assert "approve-change" in [item["code"] for item in agenda["items"]]
    # The title the scaffold showed reads back as the goal's own title.
    change = yaml.safe_load(path.read_text(encoding="utf-8").split("---")[1])
    assert change["set"]["title"] == "Double\u2029leads\ufeff"


@pytest.mark.parametrize("character", UNSAFE)
def test_titles_with_characters_yaml_refuses_are_written_so_they_read_back(
        tmp_path: Path, character: str) -> None:
    folder = tmp_path / "brand"
    title = f"Brand{character} X"
    assert run_cli("init", str(folder), "--title", title, "--today", TODAY).returncode == 0
    content = folder / "content"
    assert run_cli("new", "goal", f"Sales{character} plan", "--content", str(content),
                   "--today", TODAY).returncode == 0
    # The new goal fails only on its placeholders, not on its YAML.
    _status, problems = check_json(content)
    assert {str(problem["code"]) for problem in problems} == {"missing-field"}
    project = yaml.safe_load((content / "project.yml").read_text(encoding="utf-8"))
    # A line break is a space, as in `new`; a control character (DEL, C1) is dropped.
    assert project["title"] == " ".join(title.replace("\x7f", "").replace("\x9b", "").split())


def test_titles_that_are_not_text_or_blank_are_usage_errors_and_write_nothing(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    root = make_project()
    not_utf8 = os.fsdecode(b"bad\xffname")  # what the shell passes for a Latin-1 byte
    for args in (["new", "goal", not_utf8, "--content", str(root)],
                 ["new", "review", not_utf8, "--content", str(root)],
                 ["init", str(tmp_path / "a"), "--title", not_utf8],
                 ["init", str(tmp_path / "b"), "--title", "   "]):
        result = run_cli(*args, "--today", TODAY)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr and "smreport" in result.stderr
    assert sorted(p.name for p in (root / "goals").iterdir()) == ["double-leads.md"]
    assert not (root / "reviews").exists()
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_new_and_init_refuse_a_file_where_a_folder_goes(make_project: ProjectFactory,
                                                        tmp_path: Path) -> None:
    root = make_project({"disputes": "not a folder"})
    result = run_cli("new", "dispute", "Who answers", "--content", str(root), "--today", TODAY)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "disputes" in result.stderr
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    result = run_cli("init", str(tmp_path / "afile" / "sub"), "--today", TODAY)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr


def test_init_reads_the_gitignore_before_writing_anything(tmp_path: Path) -> None:
    folder = tmp_path / "brand"
    folder.mkdir()
    (folder / ".gitignore").write_bytes(b"caf\xe9/\n")  # Latin-1, not UTF-8
    result = run_cli("init", str(folder), "--today", TODAY)
    assert result.returncode == 1 and "cannot read" in result.stderr
    assert sorted(p.name for p in folder.iterdir()) == [".gitignore"]


def test_new_writes_nothing_through_a_link_out_of_the_content_folder(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    root = make_project()
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "disputes").symlink_to(outside, target_is_directory=True)
    result = run_cli("new", "dispute", "Escape", "--content", str(root), "--today", TODAY)
    assert result.returncode == 1 and "outside" in result.stderr, result.stderr
    assert list(outside.iterdir()) == []
