"""What git adds to the build, with real repositories: history, since-review, trust, no git."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from html import unescape
from pathlib import Path

import pytest

from smreport import history as history_module
from smreport.catalog import MESSAGES
from smreport.history import History, read_history
from smreport.pipeline import Options, Result, check
from tests.agenda.notes import (
    change_note,
    dispute_note,
    goal_note,
    project_yml,
    reading,
    review_note,
)
from tests.conftest import REPO, ProjectFactory, run_cli, write_files
from tests.gitrepo import (
    PETROV,
    SMIRNOVA,
    GitRepo,
    agenda_json,
    build_at,
    git_environment,
    of_code,
    start_project,
)

GOAL = "goals/double-leads.md"
VERIFY = "verify_approvals: true"
NOTICE = "smreport: notice:"


def text_of(page: Path) -> str:
    """A page's visible text, tags removed and spaces collapsed."""
    html = page.read_text(encoding="utf-8")
    inline = re.sub(r"</?(?:a|span|time|strong|em)\b[^>]*>", "", html)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", inline)))


def run_smreport(*args: str, env: dict[str, str] | None = None
                 ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smreport", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def approved_goal(tmp_path: Path, rules: str = "", approver: tuple[str, str] = PETROV) -> GitRepo:
    repo = start_project(tmp_path / "repo", rules=rules, files={GOAL: goal_note(approved=None)})
    repo.commit({GOAL: goal_note()}, "2026-01-10", author=approver, message="Approve the goal")
    return repo


# --- history on every page ------------------------------------------------------------


def test_each_note_page_says_who_created_and_last_changed_it(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path)
    repo.commit({GOAL: goal_note(readings=[reading("2026-01-31", 130)])}, "2026-02-01",
                author=("Pavel Ivanov", "ivanov@agency.example"), message="January: 130 leads")
    repo.commit({"changes/move-due.md": change_note(date="2026-02-02")}, "2026-02-02")
    out = tmp_path / "site"
    result = build_at(repo.content, out, "2026-02-05")
    history = result.history
    assert history is not None and history.available
    goal_history = history.of("goals/double-leads.md")
    assert goal_history is not None
    assert [r.commit.date for r in goal_history.revisions] == [
        dt.date(2026, 1, 5), dt.date(2026, 1, 10), dt.date(2026, 2, 1)]
    assert [c.email for c in goal_history.authors] == [
        "smirnova@brandx.example", "petrov@brandx.example", "ivanov@agency.example"]
    goal_page = text_of(out / "goals" / "double-leads" / "index.html")
    assert "Created on 5 January 2026 by Anna Smirnova <smirnova@brandx.example>" in goal_page
    assert "last changed on 1 February 2026 by Pavel Ivanov <ivanov@agency.example>" in goal_page
    # The goal's page lists every commit of its file, next to its changes' decisions.
    assert "Oleg Petrov <petrov@brandx.example>: changed the file; added the approval" \
        in goal_page
    assert "(“January: 130 leads”," in goal_page
    change_page = text_of(out / "changes" / "move-due" / "index.html")
    assert "Created on 2 February 2026 by Anna Smirnova" in change_page
    assert "last changed" not in change_page
    # A known author is linked to the team page.
    html = (out / "goals" / "double-leads" / "index.html").read_text(encoding="utf-8")
    assert 'href="../../team/index.html#person-smirnova"' in html


def test_an_uncommitted_note_says_so(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path)
    repo.write({"changes/move-due.md": change_note(date="2026-02-02"),
                GOAL: goal_note(readings=[reading("2026-01-31", 130)])})
    out = tmp_path / "site"
    build_at(repo.content, out, "2026-02-05")
    assert "This note is not committed to git yet." in \
        text_of(out / "changes" / "move-due" / "index.html")
    assert "The file has changes that are not committed to git yet." in \
        text_of(out / "goals" / "double-leads" / "index.html")


def test_a_rename_keeps_the_history(tmp_path: Path) -> None:
    repo = start_project(tmp_path / "repo", files={"goals/leads.md": goal_note(approved=None)})
    repo.commit({"goals/leads.md": goal_note()}, "2026-01-10", author=PETROV)
    repo.git("mv", "content/goals/leads.md", "content/" + GOAL)
    repo.commit({GOAL: goal_note().replace("Why this goal.", "Why this goal, at length.")},
                "2026-02-01", message="A better file name")
    repo.commit({GOAL: goal_note(due="2026-08-01")}, "2026-02-03", message="Later due date")
    out = tmp_path / "site"
    result = build_at(repo.content, out, "2026-02-05")
    assert result.history is not None
    history = result.history.of(GOAL)
    assert history is not None and history.created is not None
    assert history.created.date == dt.date(2026, 1, 5)
    assert [(e.kind, e.old_path) for e in history.timeline] == [
        ("created", ""), ("changed", ""), ("renamed", "goals/leads.md"), ("edited", "")]
    assert history.timeline[1].approval
    assert history.timeline[3].fields == ("due",)
    # The approval committed under the old name is still the approved version.
    [item] = of_code(result.agenda, "goal-edited")
    assert item.due == dt.date(2026, 2, 10)
    page = text_of(out / "goals" / "double-leads" / "index.html")
    assert "renamed the file (it was goals/leads.md)" in page
    assert "changed the due date after approval" in page


@pytest.mark.parametrize("renames", ["default", "status.renames=false"])
def test_a_staged_rename_is_followed_before_it_is_committed(tmp_path: Path, renames: str) -> None:
    repo = start_project(tmp_path / "repo", files={"goals/leads.md": goal_note()})
    if renames != "default":  # a user's setting that made git status list a delete and an add
        repo.git("config", *renames.split("="))
    repo.git("mv", "content/goals/leads.md", "content/" + GOAL)
    result = build_at(repo.content, tmp_path / "site", "2026-02-05")
    assert result.history is not None
    history = result.history.of(GOAL)
    assert history is not None and history.uncommitted
    assert [r.path for r in history.revisions] == ["goals/leads.md"]


def test_a_name_reused_after_a_delete_starts_a_new_history(tmp_path: Path) -> None:
    repo = start_project(tmp_path / "repo", files={GOAL: goal_note(title="An old goal")})
    repo.git("rm", "-q", "content/" + GOAL)
    repo.git("commit", "-q", "-m", "Drop the old goal", date="2026-01-06T10:00:00+03:00")
    repo.commit({GOAL: goal_note()}, "2026-01-10", author=PETROV)
    result = build_at(repo.content, tmp_path / "site", "2026-02-05")
    assert result.history is not None
    history = result.history.of(GOAL)
    assert history is not None and [r.commit.date for r in history.revisions] == \
        [dt.date(2026, 1, 10)]


def test_git_runs_a_fixed_number_of_times_whatever_the_number_of_notes(tmp_path: Path) -> None:
    real_git = shutil.which("git")
    assert real_git is not None
    shim = tmp_path / "bin"
    shim.mkdir()
    log = tmp_path / "git-calls.txt"
    (shim / "git").write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real_git}" "$@"\n')
    (shim / "git").chmod(0o755)

    def calls(notes: int) -> list[str]:
        repo = approved_goal(tmp_path / f"n{notes}")
        decided = {f"changes/change-{index}.md": change_note(
            date="2026-01-20", outcome="approved", decided="2026-01-21") for index in range(notes)}
        repo.commit(decided, "2026-01-21", author=PETROV)
        repo.commit({path: text.replace("due: 2026-06-01", "due: 2026-06-02")
                     for path, text in decided.items()}, "2026-01-25")
        log.unlink(missing_ok=True)
        env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}"}
        done = run_smreport("build", "--content", str(repo.content), "--today", "2026-02-05",
                            "--out", str(tmp_path / f"site{notes}"), "--no-cache",
                            "--jobs", "1", env=env)
        assert done.returncode == 0, done.stderr
        # Every edited change is on the agenda: the old versions were really read.
        assert len(of_code_json(tmp_path / f"site{notes}", "goal-edited")) == notes
        return log.read_text().splitlines()

    few, many = calls(2), calls(20)
    assert len(few) == len(many) <= 6, many
    assert len([call for call in many if " log " in call]) == 1
    assert len([call for call in many if " cat-file " in call]) == 1


def of_code_json(out: Path, code: str) -> list[dict[str, object]]:
    return [item for item in agenda_json(out) if item["code"] == code]


def test_the_site_is_the_same_when_built_twice(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path)
    repo.write({GOAL: goal_note(title="Edited")})
    first, second = tmp_path / "a", tmp_path / "b"
    build_at(repo.content, first, "2026-02-05")
    build_at(repo.content, second, "2026-02-05")
    pages = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert pages == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for page in pages:
        assert (first / page).read_bytes() == (second / page).read_bytes(), page


def test_a_git_dir_from_the_environment_does_not_redirect_the_history(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = GitRepo(tmp_path / "other")
    other.commit({"x.txt": "x"}, "2026-01-01")
    repo = approved_goal(tmp_path)
    monkeypatch.setenv("GIT_DIR", str(other.path / ".git"))  # as while a git hook runs
    result = build_at(repo.content, tmp_path / "site", "2026-02-05")
    assert result.history is not None and result.history.available
    assert result.history.of(GOAL) is not None
    assert len(result.history.of(GOAL).revisions) == 2  # type: ignore[union-attr]


# --- since your last review --------------------------------------------------------------


def reviewed_project(tmp_path: Path) -> tuple[GitRepo, str]:
    """A review on 28 Feb, then a month of work; returns the repo and the id of the commit
    just before the review."""
    repo = approved_goal(tmp_path)
    repo.commit({"changes/move-due.md": change_note(date="2026-02-20")}, "2026-02-20")
    before = repo.commit({GOAL: goal_note(readings=[reading("2026-02-26", 140)])},
                         "2026-02-27", message="February's reading")
    repo.commit({"reviews/review-2026-02.md": review_note("2026-02", "2026-02-28")},
                "2026-02-28", author=PETROV)
    repo.commit({"changes/new-kpi.md": change_note(date="2026-03-02", title="Add a KPI")},
                "2026-03-02")
    repo.commit({GOAL: goal_note(readings=[reading("2026-02-26", 140), reading("2026-03-02", 150),
                                           reading("2026-03-03", 155)])}, "2026-03-03")
    repo.commit({"disputes/comments.md": dispute_note(date="2026-03-04")}, "2026-03-04",
                author=("Pavel Ivanov", "ivanov@agency.example"))
    repo.commit({"changes/move-due.md": change_note(date="2026-02-20", outcome="approved",
                                                    decided="2026-03-05")},
                "2026-03-05", author=PETROV)
    return repo, before


def test_since_your_last_review_lists_what_moved_after_it(tmp_path: Path) -> None:
    repo, _before = reviewed_project(tmp_path)
    out = tmp_path / "site"
    result = build_at(repo.content, out, "2026-03-10")
    assert result.history is not None
    since = result.history.since
    assert since is not None
    assert (since.date, since.review, since.month) == \
        (dt.date(2026, 2, 28), "review-2026-02", "2026-02")
    groups = {key: [(e.note_type, e.note_id) for e in entries] for key, entries in since.groups}
    assert groups == {
        "since.new_changes": [("change", "new-kpi")],
        "since.new_disputes": [("dispute", "comments")],
        "since.decisions": [("change", "move-due")],
        "since.readings": [("goal", "double-leads")],
    }
    page = text_of(out / "index.html")
    section = page[page.index("Since your last review"):page.index("At a glance")]
    assert "What moved since your review of February 2026 on 28 February 2026." in section
    assert "Add a KPI · Anna Smirnova · 2 March 2026" in section
    assert "Move the due date · Oleg Petrov · change approved · 5 March 2026" in section
    assert "Double qualified leads · 2 readings: Qualified leads · 3 March 2026" in section
    assert "Who answers negative comments · Pavel Ivanov · 4 March 2026" in section
    # The agenda stays first: the section comes after it.
    html = (out / "index.html").read_text(encoding="utf-8")
    assert html.index('class="agenda-list"') < html.index('class="since-review"')


@pytest.mark.parametrize(("language", "more"), [("en", "and 18 more"), ("ru", "и ещё 18")])
def test_since_your_last_review_shows_12_notes_a_group_and_counts_the_rest(
        tmp_path: Path, language: str, more: str) -> None:
    """The briefing summarises: a month in which 30 goals were added lists 12 of them."""
    repo = start_project(tmp_path / "repo", files={"reviews/review-2026-01.md": review_note(
        month="2026-01", date="2026-01-31")})
    project = repo.content / "project.yml"
    project.write_text(project.read_text(encoding="utf-8").replace(
        "language: en", f"language: {language}"), encoding="utf-8")
    repo.commit({f"goals/goal-{n:02d}.md": goal_note(title=f"Goal number {n:02d}")
                 for n in range(30)}, "2026-02-10")
    out = tmp_path / "site"
    result = build_at(repo.content, out, "2026-02-20")
    assert result.history is not None and result.history.since is not None
    groups = dict(result.history.since.groups)
    assert len(groups["since.new_goals"]) == len(groups["since.decisions"]) == 30  # approved
    html = (out / "index.html").read_text(encoding="utf-8")
    section = html[html.index('class="since-review"'):]
    section = section[:section.index("</section>")]
    assert section.count("<li>") == 2 * 12
    assert section.count(f'<li class="muted">{more}</li>') == 2


def test_since_a_date_or_a_revision(tmp_path: Path) -> None:
    repo, before = reviewed_project(tmp_path)
    by_date = build_at(repo.content, tmp_path / "a", "2026-03-10", since="2026-01-01").history
    assert by_date is not None and by_date.since is not None
    keys = [key for key, _entries in by_date.since.groups]
    assert keys[:2] == ["since.new_goals", "since.new_changes"]
    assert "since.new_reviews" in keys
    by_revision = build_at(repo.content, tmp_path / "b", "2026-03-10", since=before).history
    assert by_revision is not None and by_revision.since is not None
    assert by_revision.since.revision == before and by_revision.since.date is None
    groups = dict(by_revision.since.groups)
    assert [(e.note_type, e.note_id) for e in groups["since.new_reviews"]] == \
        [("review", "review-2026-02")]
    assert "What moved since revision" in text_of(tmp_path / "b" / "index.html")


def test_a_wrong_since_is_a_command_line_error(tmp_path: Path) -> None:
    repo, _before = reviewed_project(tmp_path)
    done = run_cli("build", "--content", str(repo.content), "--out", str(tmp_path / "site"),
                   "--today", "2026-03-10", "--since", "no-such-tag")
    assert done.returncode == 2
    assert "--since 'no-such-tag' is neither a date (YYYY-MM-DD) nor a revision" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "site").exists()


def test_uncommitted_notes_count_as_moved_and_no_review_means_no_section(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path)
    assert build_at(repo.content, tmp_path / "a", "2026-03-10").history.since is None  # type: ignore[union-attr]
    assert "Since your last review" not in text_of(tmp_path / "a" / "index.html")
    repo.commit({"reviews/review-2026-02.md": review_note("2026-02", "2026-02-28")},
                "2026-02-28", author=PETROV)
    repo.write({"changes/new-kpi.md": change_note(date="2026-03-02", title="Add a KPI")})
    history = build_at(repo.content, tmp_path / "b", "2026-03-10").history
    assert history is not None and history.since is not None
    [(key, [entry])] = history.since.groups
    assert (key, entry.note_id, entry.date) == ("since.new_changes", "new-kpi", None)
    assert "Add a KPI · Anna Smirnova · not committed yet" in text_of(tmp_path / "b" / "index.html")


# --- verify_approvals ---------------------------------------------------------------------


def test_an_approval_committed_by_the_executive_counts(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path, rules=VERIFY, approver=PETROV)
    result = build_at(repo.content, tmp_path / "site", "2026-02-05")
    assert result.problems == []
    assert of_code(result.agenda, "approve-goal") == []
    assert result.history is not None and dict(result.history.unverified) == {}


APPROVAL_LINE = "approved: { by: petrov, date: 2026-01-10 }"


@pytest.mark.parametrize(("restored_by", "withdrawn_as"), [
    ("teammate", None), ("executive", None),
    # The block emptied rather than deleted: YAML reads each as no approval at all.
    ("teammate", "approved:\n---"), ("teammate", "approved: ~  # withdrawn\n---"),
    ("teammate", "approved: null\n---"),
    ("teammate", "'approved':\n# withdrawn, see the chat\n---"),
    ("executive", "approved: {}\n---"), ("teammate", "approved: { }\n---"),
    # Deleted from the front matter, but a line of the text below starts the same way.
    ("teammate", "---\napproved: by the board, see the minutes")])
def test_an_approval_withdrawn_then_put_back_counts_from_who_put_it_back(
        tmp_path: Path, restored_by: str, withdrawn_as: str | None) -> None:
    # The executive withdraws the approval; a teammate reverts that commit. The block is
    # the executive's own, byte for byte, but the commit that put it back is not theirs.
    repo = approved_goal(tmp_path, rules=VERIFY, approver=PETROV)
    withdrawn = goal_note(approved=None) if withdrawn_as is None \
        else goal_note().replace(APPROVAL_LINE + "\n---", withdrawn_as)
    assert withdrawn != goal_note()
    repo.commit({GOAL: withdrawn}, "2026-01-20", author=PETROV,
                message="Withdraw the approval")
    repo.git("revert", "--no-edit", "HEAD", author=SMIRNOVA if restored_by == "teammate"
             else PETROV, date="2026-01-25T10:00:00+03:00")
    assert (repo.content / GOAL).read_text(encoding="utf-8") == goal_note()
    result = build_at(repo.content, tmp_path / "site", "2026-02-05")
    codes = [p.code for p in result.problems]
    if restored_by == "teammate":
        assert codes == ["approval-not-verified"]
        assert "Anna Smirnova" in result.problems[0].message
        [item] = of_code(result.agenda, "approve-goal")
        assert item.why.startswith("Approval not verified:")
    else:
        assert codes == [] and of_code(result.agenda, "approve-goal") == []


def test_an_approval_block_in_a_crlf_file_keeps_counting_after_teammates_commit(
        tmp_path: Path) -> None:
    """`approved:` on its own line, then the block, in a file with Windows line endings:
    later commits that leave it alone must not make it look withdrawn."""
    def crlf(readings: list[str]) -> bytes:
        text = goal_note(readings=readings).replace(
            APPROVAL_LINE, "approved:\n  by: petrov\n  date: 2026-01-10")
        return text.replace("\n", "\r\n").encode()
    repo = start_project(tmp_path / "repo", rules=VERIFY, files={GOAL: goal_note(approved=None)})
    repo.commit({GOAL: crlf([])}, "2026-01-10", author=PETROV,  # type: ignore[dict-item]
                message="Approve the goal")
    for day, value in (("2026-01-20", 110), ("2026-01-27", 120)):
        repo.commit({GOAL: crlf([reading(day, value)])}, day)  # type: ignore[dict-item]
    result = build_at(repo.content, tmp_path / "site", "2026-02-05")
    assert [p.code for p in result.problems] == []
    assert of_code(result.agenda, "approve-goal") == []


def test_goal_edited_counts_from_an_approval_given_again(tmp_path: Path) -> None:
    # Edited after the approval, withdrawn, then approved again as edited: nothing is
    # edited behind the executive's back any more.
    repo = approved_goal(tmp_path)
    repo.commit({GOAL: goal_note(due="2026-08-01")}, "2026-01-20", message="Later due date")
    repo.commit({GOAL: goal_note(due="2026-08-01", approved=None)}, "2026-01-21",
                author=PETROV, message="Withdraw")
    repo.commit({GOAL: goal_note(due="2026-08-01")}, "2026-01-22", author=PETROV,
                message="Approve again, as it is now")
    result = build_at(repo.content, tmp_path / "site", "2026-02-05")
    assert of_code(result.agenda, "goal-edited") == []


def test_a_build_with_verify_approvals_reads_the_history_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check needs the history (whose commits count) and the build needs it whole:
    read once, with "Since your last review", not twice."""
    import smreport.history as history_module  # where the pipeline imports it from
    repo = approved_goal(tmp_path, rules=VERIFY, approver=SMIRNOVA)
    repo.commit({"reviews/review-2026-01.md": review_note("2026-01", "2026-01-31")},
                "2026-01-31", author=PETROV)
    reads: list[bool] = []
    real = history_module.read_history

    def spy(*args: object, **kwargs: object) -> History:
        reads.append(bool(kwargs.get("want_since", True)))
        return real(*args, **kwargs)  # type: ignore[arg-type]
    monkeypatch.setattr(history_module, "read_history", spy)
    result = build_at(repo.content, tmp_path / "site", "2026-02-05")
    assert reads == [True]
    assert result.history is not None and result.history.since is not None
    assert GOAL in result.history.unverified  # what the check found counts in the build
    [item] = of_code(result.agenda, "approve-goal")
    assert item.why.startswith("Approval not verified:")


def test_an_approval_committed_by_a_teammate_does_not(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path, rules=VERIFY, approver=SMIRNOVA)
    out = tmp_path / "site"
    result = build_at(repo.content, out, "2026-02-05")
    [item] = of_code(result.agenda, "approve-goal")
    assert item.why.startswith("Approval not verified:")
    assert item.details["unverified"] is True
    page = text_of(out / "goals" / "double-leads" / "index.html")
    assert MESSAGES["en"]["site.awaiting_approval"] in page
    assert "The approval by Oleg Petrov was committed by Anna Smirnova " \
           "<smirnova@brandx.example>, not from Oleg Petrov's own e-mail address" in page
    # check warns at the line of the approved block (line 8 of the goal file).
    done = run_cli("check", "--content", str(repo.content), "--today", "2026-02-05")
    assert done.returncode == 0, done.stderr
    goal_path = os.path.relpath(repo.content / GOAL, REPO)
    assert f"{goal_path}:8:1: warning approval-not-verified: this 'approved' block was added " \
           "in commit" in done.stdout
    assert "by Anna Smirnova <smirnova@brandx.example>, not from petrov's email " \
           "petrov@brandx.example; the goal counts as not approved" in done.stdout


def test_the_commit_that_added_the_block_is_the_one_checked(tmp_path: Path) -> None:
    # The executive approved; a teammate later edits the KPIs: the approval stands,
    # and the edit is on the agenda as goal-edited.
    repo = approved_goal(tmp_path, rules=VERIFY, approver=PETROV)
    repo.commit({GOAL: goal_note(due="2026-09-01")}, "2026-02-01")
    result = build_at(repo.content, tmp_path / "site", "2026-02-05")
    assert of_code(result.agenda, "approve-goal") == []
    assert len(of_code(result.agenda, "goal-edited")) == 1
    # A teammate who also rewrites the approval itself makes it theirs: not verified.
    repo.commit({GOAL: goal_note(due="2026-09-01", approved="2026-02-02")}, "2026-02-02")
    result = build_at(repo.content, tmp_path / "site2", "2026-02-05")
    assert len(of_code(result.agenda, "approve-goal")) == 1
    assert of_code(result.agenda, "goal-edited") == []


def test_a_decision_committed_by_a_teammate_puts_the_change_back(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path, rules=VERIFY, approver=PETROV)
    repo.commit({"changes/move-due.md": change_note(date="2026-01-20")}, "2026-01-20")
    repo.commit({"changes/move-due.md": change_note(date="2026-01-20", outcome="approved",
                                                    decided="2026-01-22")}, "2026-01-22")
    repo.write({"disputes/comments.md": dispute_note(decided="2026-02-12")})
    result = build_at(repo.content, tmp_path / "site", "2026-02-15")
    [change_item] = of_code(result.agenda, "approve-change")
    assert change_item.why.startswith("Approval not verified:")
    [dispute_item] = of_code(result.agenda, "decide-dispute")  # not committed at all
    assert dispute_item.why.startswith("Approval not verified:")
    codes = sorted(p.code for p in result.problems)
    assert codes == ["approval-not-verified", "approval-not-verified"]
    assert any("is not committed yet" in p.message for p in result.problems)


def test_verify_approvals_without_git_warns_at_the_setting(make_project: ProjectFactory,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    root = make_project(project=project_yml(rules=VERIFY))
    result = check(Options(content=root))
    assert [(p.path, p.code, p.severity) for p in result.problems] == \
        [("project.yml", "no-git", "warning")]
    line = (root / "project.yml").read_text().splitlines().index("rules: { verify_approvals: "
                                                                 "true }") + 1
    assert result.problems[0].line == line
    done = run_cli("build", "--content", str(root), "--out", str(tmp_path / "site"))
    assert done.returncode == 0, done.stderr
    assert NOTICE not in done.stderr  # the warning already says it: one message, not two
    assert "warning no-git: rules.verify_approvals is on, but the content folder is not in " \
           "a git repository" in done.stderr


# --- without git -----------------------------------------------------------------------


def test_a_folder_outside_git_builds_with_one_notice(make_project: ProjectFactory,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    root = make_project({"reviews/review-2026-02.md": review_note("2026-02", "2026-02-28")})
    out = tmp_path / "site"
    done = run_cli("build", "--content", str(root), "--out", str(out), "--today", "2026-03-10")
    assert done.returncode == 0, done.stderr
    notices = [line for line in done.stderr.splitlines() if line.startswith(NOTICE)]
    assert notices == [f"{NOTICE} The content folder is not in a git repository, so note "
                       "history, “Since your last review” and the goal-edited check are "
                       "skipped."]
    assert "File history" not in text_of(out / "goals" / "double-leads" / "index.html")
    assert "Since your last review" not in text_of(out / "index.html")
    # Nothing else changes: the same notes committed to git give the same agenda.
    repo = GitRepo(tmp_path / "repo")
    shutil.copytree(root, repo.content, dirs_exist_ok=True)
    repo.commit({}, "2026-01-10", author=PETROV)
    in_git = tmp_path / "site-git"
    done = run_cli("build", "--content", str(repo.content), "--out", str(in_git),
                   "--today", "2026-03-10")
    assert done.returncode == 0 and NOTICE not in done.stderr
    assert agenda_json(out) == agenda_json(in_git)


def test_without_git_installed_the_build_still_works(make_project: ProjectFactory,
                                                     tmp_path: Path) -> None:
    root = make_project()
    empty = tmp_path / "no-programs"
    empty.mkdir()
    done = run_smreport("build", "--content", str(root), "--out", str(tmp_path / "site"),
                        "--today", "2026-03-10", env={**os.environ, "PATH": str(empty)})
    assert done.returncode == 0, done.stderr
    assert f"{NOTICE} Git is not installed, so note history" in done.stderr


def test_a_shallow_clone_is_handled(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path, rules=VERIFY, approver=SMIRNOVA)
    repo.commit({GOAL: goal_note(due="2026-09-01")}, "2026-02-01")
    clone = tmp_path / "clone"
    done = subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo.path}",
                           str(clone)], env=git_environment(), capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    result = check(Options(content=clone / "content"))
    [problem] = result.problems
    assert problem.code == "no-git" and "shallow clone" in problem.message
    # Without verify_approvals: one notice; the build does not guess from a cut history.
    (clone / "content" / "project.yml").write_text(
        (clone / "content" / "project.yml").read_text().replace(
            "rules: { verify_approvals: true }\n", ""))
    out = tmp_path / "site"
    done = run_cli("build", "--content", str(clone / "content"), "--out", str(out),
                   "--today", "2026-02-05")
    assert done.returncode == 0, done.stderr
    assert f"{NOTICE} The repository is a shallow clone" in done.stderr
    assert of_code_json(out, "goal-edited") == []
    assert of_code_json(out, "approve-goal") == []


def test_read_history_in_a_repository_without_commits(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write({"project.yml": project_yml(rules=VERIFY), GOAL: goal_note()})
    result = check(Options(content=repo.content))
    assert result.content is not None
    history = read_history(repo.content, result.content, dt.date(2026, 2, 5))
    assert history.available
    note = history.of(GOAL)
    assert note is not None and note.revisions == () and note.uncommitted
    assert [p.code for p in history.problems] == ["approval-not-verified"]


def test_a_content_root_that_is_the_repository_itself(tmp_path: Path) -> None:
    root = tmp_path / "log"
    # GitRepo keeps the content in a subfolder; here the repository is the content root.
    root.mkdir()
    write = {"project.yml": project_yml(), GOAL: goal_note()}
    for relative, text in write.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    for args, date in ((("init", "-q", "-b", "main"), ""), (("add", "-A"), ""),
                       (("commit", "-q", "-m", "Start"), "2026-01-10T10:00:00+03:00")):
        subprocess.run(["git", *args], cwd=root, env=git_environment(PETROV, date or
                                                                     "2026-01-10T10:00:00+03:00"),
                       check=True, capture_output=True)
    (root / GOAL).write_text(goal_note(due="2026-09-01"), encoding="utf-8")
    result = build_at(root, tmp_path / "site", "2026-02-05")
    [item] = of_code(result.agenda, "goal-edited")
    assert item.due == dt.date(2026, 2, 12)  # uncommitted: today + 7
    assert result.history is not None and result.history.of(GOAL).uncommitted  # type: ignore[union-attr]


def test_commit_authors_and_messages_are_shown_as_text(tmp_path: Path) -> None:
    repo = approved_goal(tmp_path)
    repo.write({GOAL: goal_note(readings=[reading("2026-01-31", 130)])})
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", '<img src=x onerror="alert(1)"> & more',
             author=('Tom & "Jerry" Smith', "evil@example.com"),
             date="2026-02-01T10:00:00+03:00")
    out = tmp_path / "site"
    build_at(repo.content, out, "2026-02-05")
    html = (out / "goals" / "double-leads" / "index.html").read_text(encoding="utf-8")
    assert "<img src=x" not in html  # (git itself strips < and > from author names)
    assert "Tom &amp; &#34;Jerry&#34; Smith" in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; more" in html


def test_a_body_edit_counts_as_edited_though_the_build_drops_the_text(tmp_path: Path) -> None:
    """A build keeps only a digest of each note's text once rendered (engine.parse_and_render);
    "Since your last review" still tells a reworded note from an untouched one."""
    repo, _before = reviewed_project(tmp_path)
    path = repo.content / "changes" / "move-due.md"
    repo.commit({"changes/move-due.md": path.read_text(encoding="utf-8") + "\nReworded.\n"},
                "2026-03-06")
    since = build_at(repo.content, tmp_path / "site", "2026-03-10").history.since  # type: ignore[union-attr]
    assert since is not None
    groups = {key: [(e.note_type, e.note_id) for e in entries] for key, entries in since.groups}
    assert groups["since.edited"] == [("change", "move-due")]


def spy_blob_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The object ids the history reads from git from now on, in order."""
    asked: list[str] = []
    read_blobs = history_module._read_blobs

    def spy(root: Path, oids: Iterable[str]) -> dict[str, bytes]:
        oids = list(oids)
        asked.extend(oids)
        return read_blobs(root, oids)
    monkeypatch.setattr(history_module, "_read_blobs", spy)
    return asked


def test_only_versions_older_than_the_working_tree_are_read_from_git(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean note's newest commit is its working tree, already loaded: git is asked only
    for older versions (thousands of notes with one commit each would cost seconds)."""
    repo = approved_goal(tmp_path, rules=VERIFY)
    asked = spy_blob_reads(monkeypatch)
    newest = repo.git("rev-parse", f"HEAD:content/{GOAL}").strip()
    first = repo.git("rev-parse", f"HEAD~1:content/{GOAL}").strip()
    result = check(Options(content=repo.content, today=dt.date(2026, 3, 1), cache=False))
    assert result.ok and result.content is not None
    clean = read_history(repo.content, result.content, dt.date(2026, 3, 1))
    assert first in asked and newest not in asked
    assert clean.of(GOAL).revisions  # the history is whole
    assert GOAL not in clean.unverified  # and the approval, made in the newest commit, holds
    asked.clear()
    (repo.content / GOAL).write_text(goal_note().replace("Double", "Triple"), encoding="utf-8")
    edited = check(Options(content=repo.content, today=dt.date(2026, 3, 1), cache=False))
    assert edited.content is not None
    read_history(repo.content, edited.content, dt.date(2026, 3, 1))
    assert newest in asked  # an uncommitted edit: the newest commit is an old version now


def test_the_log_is_read_again_only_when_head_moves(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`--watch` reads history on every save: while HEAD is the same commit, `git log` is
    not run again and unchanged notes keep the very same revisions."""
    repo = approved_goal(tmp_path)
    logs: list[tuple[str, ...]] = []
    original = history_module._git_output

    def spy(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
        if args[0] == "log":
            logs.append(args)
        return original(root, *args, stdin=stdin)

    monkeypatch.setattr(history_module, "_git_output", spy)
    today = dt.date(2026, 3, 1)

    def history() -> tuple[object, ...]:
        result = check(Options(content=repo.content, today=today, cache=False))
        assert result.content is not None
        return read_history(repo.content, result.content, today).of(GOAL).revisions

    first = history()
    (repo.content / GOAL).write_text(goal_note().replace("Double", "Triple"), encoding="utf-8")
    second = history()  # a save: the working tree changed, HEAD did not
    assert len(logs) == 1 and second == first
    assert all(a is b for a, b in zip(first, second, strict=True))
    repo.commit({}, "2026-02-01", message="Reword the goal")
    third = history()
    assert len(logs) == 2 and len(third) == len(first) + 1


def test_a_save_traces_again_only_the_note_it_changed(tmp_path: Path) -> None:
    """Between `--watch` saves, a note that is the same object, with the same revisions and
    status, keeps its history; the saved note is traced again."""
    from smreport.engine import Builder
    repo = approved_goal(tmp_path, rules=VERIFY)
    repo.commit({"goals/other.md": goal_note(title="Another goal")}, "2026-01-20",
                author=PETROV)
    builder = Builder(None, jobs=1)
    builder.in_place = True  # keeps parse results: unchanged notes stay the same objects
    options = Options(content=repo.content, today=dt.date(2026, 3, 1), cache=False)

    def history() -> History:
        result = check(options, builder)
        assert result.content is not None
        return read_history(repo.content, result.content, options.today or dt.date.min)

    first = history()
    second = history()
    assert second.of(GOAL) is first.of(GOAL) and second.of("goals/other.md") is \
        first.of("goals/other.md")
    (repo.content / GOAL).write_text(goal_note().replace("Double", "Triple"), encoding="utf-8")
    third = history()
    assert third.of("goals/other.md") is first.of("goals/other.md")
    assert third.of(GOAL) is not first.of(GOAL) and third.of(GOAL).uncommitted
    assert third.edits.get(GOAL)  # the approved title was edited after the approval
    assert not first.edits.get(GOAL)
    # Still uncommitted, same revisions, but the title is back as approved: only the note
    # being another object tells that its history must be traced again.
    (repo.content / GOAL).write_text(goal_note() + "A new last line.\n", encoding="utf-8")
    fourth = history()
    assert fourth.of(GOAL).uncommitted and not fourth.edits.get(GOAL)


def test_a_save_finds_again_only_the_saved_notes_since_review_entries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """"Since your last review" keeps each note's entries between --watch saves while the
    note, its history and its baseline are the same objects; what it shows after a save
    is what a reading without any memo shows."""
    from smreport.engine import Builder
    repo, _before = reviewed_project(tmp_path)
    builder = Builder(None, jobs=1)
    builder.in_place = True  # keeps parse results: unchanged notes stay the same objects
    today = dt.date(2026, 3, 10)
    options = Options(content=repo.content, today=today, cache=False)
    found: list[str] = []
    original = history_module._since_entries

    def spy(note: object, *args: object) -> object:
        found.append(note.path)  # type: ignore[attr-defined]
        return original(note, *args)  # type: ignore[arg-type]
    monkeypatch.setattr(history_module, "_since_entries", spy)

    def groups() -> object:
        result = check(options, builder)
        assert result.content is not None
        since = read_history(repo.content, result.content, today).since
        assert since is not None
        return since.groups

    asked = spy_blob_reads(monkeypatch)

    first = groups()
    assert GOAL in found and len(found) >= 4
    baseline = repo.git("rev-parse", f"HEAD~5:content/{GOAL}").strip()  # before the review
    assert baseline in asked
    baselines = history_module._LOG_MEMO.baselines
    assert baselines is not None and GOAL in baselines[2]
    found.clear()
    asked.clear()
    assert groups() == first and found == []  # nothing changed: nothing found again
    assert asked == []  # and no old version read from git
    (repo.content / GOAL).write_text(goal_note(readings=[
        reading("2026-02-26", 140), reading("2026-03-02", 150), reading("2026-03-03", 155),
        reading("2026-03-06", 160)]), encoding="utf-8")
    saved = groups()
    assert found == [GOAL] and baseline in asked
    # HEAD did not move and the section starts where it did: the baselines are not found again.
    assert history_module._LOG_MEMO.baselines is baselines
    monkeypatch.setattr(history_module, "_LOG_MEMO", history_module._LogMemo())
    assert saved == groups() != first  # the same as without a memo: 3 readings now
    # A new review, not yet committed: the section starts later, from other baselines.
    baselines = history_module._LOG_MEMO.baselines
    (repo.content / "reviews" / "review-2026-03.md").write_text(
        review_note("2026-03", "2026-03-04"), encoding="utf-8")
    later = groups()
    assert history_module._LOG_MEMO.baselines is not baselines
    monkeypatch.setattr(history_module, "_LOG_MEMO", history_module._LogMemo())
    assert later == groups() != saved


# --- "Up to date" and git's state ---------------------------------------------------------

def _edited_after_approval(path: Path) -> GitRepo:
    """A goal approved on 2026-01-10 whose due date was edited in a commit of 2026-02-03."""
    repo = start_project(path, files={GOAL: goal_note()})
    repo.commit({GOAL: goal_note(due="2026-08-01")}, "2026-02-03", message="Later due date")
    return repo


def _git_in(folder: Path, *args: str, date: str = "2026-02-03T10:00:00+03:00") -> None:
    done = subprocess.run(["git", "-c", "user.name=Anna", "-c", "user.email=anna@x.example",
                           "-c", "commit.gpgsign=false", *args], cwd=folder,
                          env=git_environment(date=date), capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr


def _cached_build(content: Path, tmp_path: Path) -> Result:
    from smreport.pipeline import build  # noqa: PLC0415

    result = build(Options(content=content, out=tmp_path / "site", today=dt.date(2026, 2, 5),
                           jobs=1, cache_dir=tmp_path / "cache"))
    assert result.ok, [p.format_text() for p in result.problems]
    return result


def test_a_commit_in_a_worktree_is_not_up_to_date(tmp_path: Path) -> None:
    # A worktree's .git is a file pointing at its git folder: a commit there changes that
    # folder, not the pointer, and the build said "Up to date" with the old agenda.
    repo = start_project(tmp_path / "repo", files={GOAL: goal_note()})
    worktree = tmp_path / "worktree"
    repo.git("worktree", "add", "-q", str(worktree), "-b", "side")
    content = worktree / "content"
    assert of_code(_cached_build(content, tmp_path).agenda, "goal-edited") == []
    assert _cached_build(content, tmp_path).unchanged
    write_files(content, {GOAL: goal_note(due="2026-08-01")})
    _git_in(worktree, "commit", "-q", "-am", "Later due date")
    result = _cached_build(content, tmp_path)
    assert not result.unchanged
    assert [i.due for i in of_code(result.agenda, "goal-edited")] == [dt.date(2026, 2, 10)]
    assert _cached_build(content, tmp_path).unchanged


def test_a_shallow_clone_made_whole_is_not_up_to_date(tmp_path: Path) -> None:
    # A shallow clone has no history to read; fetching it whole (as the notice advises)
    # must not leave the stamp of the build without history in place.
    repo = _edited_after_approval(tmp_path / "repo")
    clone = tmp_path / "clone"
    _git_in(tmp_path, "clone", "-q", "--depth", "1", repo.path.as_uri(), str(clone))
    first = _cached_build(clone / "content", tmp_path)
    assert first.history is not None and not first.history.available
    assert of_code(first.agenda, "goal-edited") == []
    _git_in(clone, "fetch", "-q", "--unshallow")
    result = _cached_build(clone / "content", tmp_path)
    assert not result.unchanged
    assert [i.due for i in of_code(result.agenda, "goal-edited")] == [dt.date(2026, 2, 10)]


def test_a_build_without_git_keeps_no_stamp_inside_a_repository(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _edited_after_approval(tmp_path / "repo")
    empty = tmp_path / "no-git-here"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # git is not installed, as far as a build can tell
    first = _cached_build(repo.content, tmp_path)
    assert first.history is not None and not first.history.available
    monkeypatch.undo()
    result = _cached_build(repo.content, tmp_path)
    assert not result.unchanged
    assert [i.due for i in of_code(result.agenda, "goal-edited")] == [dt.date(2026, 2, 10)]
    assert _cached_build(repo.content, tmp_path).unchanged


def test_a_goal_page_shows_the_first_and_the_latest_of_many_commits(tmp_path: Path) -> None:
    # Years of monthly readings: the page stays the same size however many commits.
    repo = approved_goal(tmp_path)
    for day in range(70):
        date = dt.date(2026, 1, 11) + dt.timedelta(days=day)
        repo.commit({GOAL: goal_note(readings=[reading(date.isoformat(), 100 + day)])},
                    date.isoformat(), message=f"Reading {day}")
    out = tmp_path / "site"
    build_at(repo.content, out, "2026-03-25")
    page = (out / "goals" / "double-leads" / "index.html").read_text(encoding="utf-8")
    timeline = page[page.index('<ol class="timeline commits">'):].split("</ol>", 1)[0]
    assert timeline.count("<li") == 51  # 10 first, the elided line, 40 latest
    assert "… 22 more commits in between (git log lists them)" in timeline  # 72 in all
    assert "(“Start the project”," in timeline and "(“Reading 69”," in timeline
    assert "(“Reading 7”," in timeline and "(“Reading 8”," not in timeline
    assert "(“Reading 29”," not in timeline and "(“Reading 30”," in timeline
