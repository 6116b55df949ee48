"""`check --format github`, `build --format github` and the pre-commit hook, checked against
their documented forms.

GitHub's workflow command syntax (docs: "Workflow commands for GitHub
Actions", and @actions/core's command.ts) is

    ::error file={name},line={line},col={col},title={title}::{message}

where the message escapes % CR LF as %25 %0D %0A, and property values also
escape : and , as %3A and %2C.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from smreport.codes import github_annotation
from tests.conftest import REPO, ProjectFactory, run_build_py, run_cli

# One workflow command; property values and the message hold no raw CR/LF, and
# property values no raw : or , (they are escaped).
COMMAND = re.compile(r"^::(?P<command>error|warning) "
                     r"file=(?P<file>[^,:\r\n]*),line=(?P<line>\d+),col=(?P<col>\d+),"
                     r"title=(?P<title>[^,:\r\n]*)::(?P<message>[^\r\n]*)$")

BROKEN_GOAL = """\
---
title: Broken goal
owner: nobody
start: 2026-01-01
due: 2026-07-01
kpis:
  - { id: leads, name: Leads, baseline: 100, target: 200 }
titel: typo
---
Why: 100% of it.
"""


def unescape(text: str) -> str:
    """The inverse of GitHub's escaping, for comparing with the plain problem."""
    for escaped, plain in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","),
                           ("%25", "%")):
        text = text.replace(escaped, plain)
    return text


def test_escaping_follows_the_toolkit() -> None:
    line = github_annotation("a,b:c%.md", 3, 7, "error", "bad:code,x",
                             "100% sure\r\nnext: line, more")
    assert line == ("::error file=a%2Cb%3Ac%25.md,line=3,col=7,title=bad%3Acode%2Cx"
                    "::100%25 sure%0D%0Anext: line, more")
    assert COMMAND.match(line)
    warning = github_annotation("x.md", 1, 1, "warning", "unknown-key", "unknown key 'titel'")
    assert warning == "::warning file=x.md,line=1,col=1,title=unknown-key::unknown key 'titel'"


def test_check_prints_one_annotation_per_problem_matching_the_json(
        make_project: ProjectFactory) -> None:
    # A comma and a colon in the folder's name must be escaped in the file property.
    root = make_project({"goals/broken.md": BROKEN_GOAL}, name="log,2026:q1")
    github = run_cli("check", "--content", str(root), "--format", "github")
    listed = run_cli("check", "--content", str(root), "--format", "json")
    assert github.returncode == listed.returncode == 1
    problems = json.loads(listed.stdout)
    lines = github.stdout.splitlines()
    assert len(lines) == len(problems) >= 2
    for line, problem in zip(lines, problems, strict=True):
        match = COMMAND.match(line)
        assert match, line
        assert "%2C" in match["file"] and "%3A" in match["file"]
        assert unescape(match["file"]) == problem["path"]
        assert (int(match["line"]), int(match["col"])) == (problem["line"], problem["column"])
        assert match["command"] == problem["severity"]
        assert match["title"] == problem["code"]
        assert unescape(match["message"]) == problem["message"]
    codes = {(p["code"], p["line"]) for p in problems}
    assert ("unknown-person", 3) in codes and ("unknown-key", 8) in codes
    assert "::warning " in github.stdout and "::error " in github.stdout


def test_warnings_only_exit_zero(make_project: ProjectFactory) -> None:
    root = make_project({"notes.txt": "stray file\n"})
    result = run_cli("check", "--content", str(root), "--format", "github")
    assert result.returncode == 0, result.stderr
    assert [line.split(" ", 1)[0] for line in result.stdout.splitlines()] == ["::warning"]
    assert "title=unknown-file::" in result.stdout


def test_an_unknown_format_is_a_command_line_error(make_project: ProjectFactory) -> None:
    root = make_project()
    result = run_cli("check", "--content", str(root), "--format", "gitlab")
    assert result.returncode == 2


def test_build_prints_the_same_annotations_as_check_and_publishes_nothing(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    """`build --format github` is one CI step for both: check's annotations, on standard
    output where GitHub Actions reads them, and with an error no site."""
    root = make_project({"goals/broken.md": BROKEN_GOAL})
    out = tmp_path / "site"
    checked = run_cli("check", "--content", str(root), "--format", "github")
    built = run_cli("build", "--content", str(root), "--out", str(out), "--format", "github")
    assert built.returncode == checked.returncode == 1
    assert built.stdout == checked.stdout
    assert all(COMMAND.match(line) for line in built.stdout.splitlines())
    assert "::error " in built.stdout
    assert "Build failed: " in built.stderr and "::" not in built.stderr
    assert not out.exists()


def test_build_with_warnings_annotates_them_and_builds(make_project: ProjectFactory,
                                                       tmp_path: Path) -> None:
    root = make_project({"notes.txt": "stray file\n"})
    out = tmp_path / "site"
    built = run_build_py("--content", str(root), "--out", str(out), "--format", "github")
    assert built.returncode == 0, built.stderr
    [annotation, summary] = built.stdout.splitlines()
    assert COMMAND.match(annotation) and annotation.startswith("::warning ")
    assert "title=unknown-file::" in annotation
    assert summary.startswith(f"Built: {out}/ as of ")
    assert (out / "index.html").is_file()
    text = run_cli("build", "--content", str(root), "--out", str(tmp_path / "text"))
    assert text.returncode == 0 and "::" not in text.stdout + text.stderr
    assert "warning unknown-file" in text.stderr  # the default: text, on standard error


def test_build_watch_takes_no_github_format(make_project: ProjectFactory,
                                            tmp_path: Path) -> None:
    root = make_project()
    result = run_cli("build", "--content", str(root), "--out", str(tmp_path / "site"),
                     "--watch", "--format", "github", timeout=30)
    assert result.returncode == 2
    assert "--format github is for a single build" in result.stderr
    assert not (tmp_path / "site").exists()
    wrong = run_cli("build", "--content", str(root), "--format", "json")
    assert wrong.returncode == 2 and "invalid choice" in wrong.stderr


def load_hooks() -> list[dict[str, object]]:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert isinstance(hooks, list)
    return hooks


def test_the_pre_commit_hook_is_declared() -> None:
    hooks = {hook["id"]: hook for hook in load_hooks()}
    hook = hooks["smreport-check"]
    # The keys pre-commit requires of a hook, and how this one must run.
    assert {"id", "name", "entry", "language"} <= set(hook)
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    files = re.compile(str(hook["files"]))
    assert files.search("content/goals/double-leads.md")
    assert files.search("content/project.yml")
    assert not files.search("src/app.py")


def test_the_hooks_entry_checks_the_project(make_project: ProjectFactory) -> None:
    """Run the hook's entry as pre-commit would: the installed command, in the repository root."""
    entry = shlex.split(str({h["id"]: h for h in load_hooks()}["smreport-check"]["entry"]))
    script = Path(sys.executable).parent / entry[0]
    assert script.is_file(), "the smreport console script is not installed"
    root = make_project()
    ok = subprocess.run([str(script), *entry[1:]], cwd=root.parent, capture_output=True,
                        text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (root / "goals" / "broken.md").write_text(BROKEN_GOAL, encoding="utf-8")
    broken = subprocess.run([str(script), *entry[1:]], cwd=root.parent, capture_output=True,
                            text=True, timeout=120)
    assert broken.returncode == 1
    assert "content/goals/broken.md:3:8: error unknown-person" in broken.stdout


def test_annotation_paths_are_relative_to_the_workspace_wherever_the_step_runs(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    """GitHub places an annotation by its path in the repository: a step run in a
    subfolder (`working-directory: docs`) or given an absolute --content must still name
    docs/content/goals/broken.md. Without a workspace, paths stay relative to the current
    folder, as in the text format."""
    import os  # noqa: PLC0415

    workspace = tmp_path / "repo"
    root = make_project({"goals/broken.md": BROKEN_GOAL}, name="repo/docs/content")
    files = set()
    for cwd, content in ((workspace / "docs", "content"), (workspace, "docs/content"),
                         (tmp_path, str(root))):
        result = subprocess.run(
            [sys.executable, "-m", "smreport", "check", "--content", content, "--format",
             "github"], cwd=cwd, capture_output=True, text=True, timeout=120,
            env={**os.environ, "GITHUB_WORKSPACE": str(workspace)})
        assert result.returncode == 1, result.stderr
        files |= {match["file"] for line in result.stdout.splitlines()
                  if (match := COMMAND.match(line))}
    assert files == {"docs/content/goals/broken.md"}
    plain = subprocess.run(
        [sys.executable, "-m", "smreport", "check", "--content", "content", "--format",
         "github"], cwd=workspace / "docs", capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if k != "GITHUB_WORKSPACE"})
    assert "file=content/goals/broken.md," in plain.stdout
