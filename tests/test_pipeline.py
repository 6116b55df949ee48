"""The build as a whole: all or nothing, byte-identical, and never over someone else's folder."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest

from smreport.pipeline import Options, build, check
from smreport.publish import PublishError
from tests.agenda.notes import dispute_note, goal_note, project_yml, reading
from tests.conftest import ProjectFactory, run_build_py, run_cli, tree

TODAY = "2026-03-10"
BROKEN = "---\ntitle: [unclosed\n---\nBody.\n"
GOAL_AWAITING = """\
---
title: Open a shop page
owner: smirnova
start: 2026-03-01
due: 2026-09-01
kpis:
  - { id: orders, name: Orders from the page, baseline: 0, target: 50 }
---
Why.
"""


def build_cli(root: Path, out: Path, today: str = TODAY) -> subprocess.CompletedProcess[str]:
    return run_cli("build", "--content", str(root), "--out", str(out), "--today", today,
                   cwd=root.parent)


def test_a_build_with_errors_leaves_the_previous_site_as_it_was(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    root = make_project()
    out = tmp_path / "site"
    assert build_cli(root, out).returncode == 0
    before = tree(out, folders=True)
    assert "agenda.json" in before and "index.html" in before

    # A broken note, and a new valid one that would change the site if it were published.
    (root / "goals" / "broken.md").write_text(BROKEN, encoding="utf-8")
    (root / "goals" / "double-leads.md").write_text(
        (root / "goals" / "double-leads.md").read_text(encoding="utf-8").replace(
            "Double qualified leads", "Triple qualified leads"), encoding="utf-8")
    result = build_cli(root, out, today="2026-08-01")
    assert result.returncode == 1
    assert "content/goals/broken.md:" in result.stderr
    assert "Traceback" not in result.stderr
    assert tree(out, folders=True) == before
    # No staging folder is left beside it.
    staging = (".smreport-new", ".smreport-old")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(staging)] == []

    # build.py behaves the same.
    assert run_build_py("--content", str(root), "--out", str(out), "--today", TODAY,
                        cwd=tmp_path).returncode == 1
    assert tree(out, folders=True) == before


def test_a_build_with_errors_writes_nothing_at_all(make_project: ProjectFactory,
                                                   tmp_path: Path) -> None:
    root = make_project({"goals/broken.md": BROKEN})
    out = tmp_path / "site"
    result = build(Options(content=root, out=out, today=dt.date(2026, 3, 10)))
    assert not result.ok and [p.path for p in result.errors] == ["goals/broken.md"]
    assert result.files_written == 0 and result.agenda == []
    assert not out.exists()


def test_the_same_content_and_today_give_a_byte_identical_site(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    root = make_project({"goals/new-goal.md": GOAL_AWAITING})
    first, second = tmp_path / "first", tmp_path / "second"
    assert build_cli(root, first).returncode == 0
    assert build_cli(root, second).returncode == 0
    assert tree(first, folders=True) == tree(second, folders=True)
    # Rebuilding in place, and from a copy of the content elsewhere, changes nothing.
    before = tree(first, folders=True)
    assert build_cli(root, first).returncode == 0
    assert tree(first, folders=True) == before
    copy = make_project({"goals/new-goal.md": GOAL_AWAITING}, name="copy")
    third = tmp_path / "third"
    assert build_cli(copy, third).returncode == 0
    assert tree(third, folders=True) == before
    # And a different day gives a different agenda.
    assert build_cli(root, second, today="2026-03-11").returncode == 0
    assert tree(second, folders=True) != before


def test_a_successful_build_replaces_the_previous_site_whole(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    root = make_project({"goals/new-goal.md": GOAL_AWAITING})
    out = tmp_path / "site"
    assert build_cli(root, out).returncode == 0
    assert (out / "goals" / "new-goal" / "index.html").is_file()
    (root / "goals" / "new-goal.md").unlink()
    assert build_cli(root, out).returncode == 0
    assert not (out / "goals" / "new-goal").exists()
    agenda = json.loads((out / "agenda.json").read_text(encoding="utf-8"))
    assert [i["code"] for i in agenda["items"]] == ["review-page"]


def test_an_empty_existing_folder_is_accepted(make_project: ProjectFactory,
                                              tmp_path: Path) -> None:
    out = tmp_path / "site"
    out.mkdir()
    assert build_cli(make_project(), out).returncode == 0
    assert (out / "index.html").is_file()


@pytest.mark.parametrize("where", ["content/site", "content", "content/goals"])
def test_an_output_folder_inside_the_content_root_is_refused(
        where: str, make_project: ProjectFactory, tmp_path: Path) -> None:
    root = make_project()
    before = tree(root, folders=True)
    result = build_cli(root, tmp_path / where)
    assert result.returncode == 1
    assert "content root" in result.stderr and "--out" in result.stderr
    assert "Traceback" not in result.stderr
    assert tree(root, folders=True) == before


def test_an_output_folder_containing_the_content_root_is_refused(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    root = make_project()
    before = tree(tmp_path, folders=True)
    result = build_cli(root, tmp_path)
    assert result.returncode == 1
    assert "contains the content root" in result.stderr
    assert tree(tmp_path, folders=True) == before


def test_a_non_empty_folder_not_made_by_smreport_is_refused(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    out = tmp_path / "documents"
    out.mkdir()
    (out / "thesis.txt").write_text("years of work", encoding="utf-8")
    result = build_cli(make_project(), out)
    assert result.returncode == 1
    assert ".smreport-site" in result.stderr and "Traceback" not in result.stderr
    assert tree(out, folders=True) == {"thesis.txt": hashlib.sha256(b"years of work").hexdigest()}


@pytest.mark.parametrize("where", ["a-file", "a-file/site"])
def test_an_output_path_that_is_or_is_under_a_file_is_a_clear_error(
        where: str, make_project: ProjectFactory, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("mine", encoding="utf-8")
    result = build_cli(make_project(), tmp_path / where)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "--out" in result.stderr
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "mine"


def test_the_pipeline_refuses_before_writing(make_project: ProjectFactory) -> None:
    root = make_project()
    with pytest.raises(PublishError, match="inside the content root"):
        build(Options(content=root, out=root / "site", today=dt.date(2026, 3, 10)))
    assert not (root / "site").exists()


def test_check_reports_every_file_at_once(make_project: ProjectFactory) -> None:
    root = make_project({"goals/broken.md": BROKEN, "changes/broken.md": BROKEN,
                         "reviews/broken.md": BROKEN, "disputes/broken.md": BROKEN})
    result = check(Options(content=root))
    assert sorted({p.path for p in result.errors}) == [
        "changes/broken.md", "disputes/broken.md", "goals/broken.md", "reviews/broken.md"]


def test_agenda_json_in_russian(make_project: ProjectFactory, tmp_path: Path) -> None:
    root = make_project({
        "goals/double-leads.md": goal_note(readings=[reading("2026-03-02", 110)]),
        "disputes/comments.md": dispute_note(date="2026-03-01"),
    }, project=project_yml(language="ru"))
    out = tmp_path / "site"
    assert build_cli(root, out, today="2026-03-05").returncode == 0
    agenda = json.loads((out / "agenda.json").read_text(encoding="utf-8"))
    assert agenda["project"] == "Brand X in social media" and agenda["today"] == "2026-03-05"
    assert [{key: value for key, value in item.items() if key not in ("title", "why")}
            for item in agenda["items"]] == [
        {"code": "review-page", "case": 3, "subject": None, "due": "2026-01-31",
         "overdue": True, "url": "reviews/", "months": ["2026-01", "2026-02", "2026-03"]},
        {"code": "decide-dispute", "case": 4, "subject": {"type": "dispute", "id": "comments"},
         "due": "2026-03-08", "overdue": False, "url": "disputes/comments/"},
        {"code": "kpi-off-track", "case": 2, "subject": {"type": "goal", "id": "double-leads"},
         "due": "2026-03-09", "overdue": False, "url": "goals/double-leads/",
         "kpis": ["leads"]},
    ]
    for item in agenda["items"]:
        assert re.search("[а-яё]", item["title"], re.IGNORECASE), item["title"]
        assert re.search("[а-яё]", item["why"], re.IGNORECASE), item["why"]
    # The raw file is UTF-8 text, not \\u escapes of Cyrillic letters.
    assert "\\u04" not in (out / "agenda.json").read_text(encoding="utf-8")


def test_a_rebuild_repairs_a_damaged_site(make_project: ProjectFactory, tmp_path: Path) -> None:
    root = make_project()
    out = tmp_path / "site"
    assert build_cli(root, out).returncode == 0
    before = tree(out, folders=True)
    (out / "index.html").unlink()
    (out / "goals" / "index.html").write_text("edited by hand", encoding="utf-8")
    assert build_cli(root, out).returncode == 0
    assert tree(out, folders=True) == before
