"""Real git repositories for tests: commits with fixed authors and dates, content in `content/`."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from smreport.model import AgendaItem
from smreport.pipeline import Options, Result, build
from tests.agenda.notes import project_yml
from tests.conftest import write_files

PETROV = ("Oleg Petrov", "petrov@brandx.example")  # the executive
SMIRNOVA = ("Anna Smirnova", "smirnova@brandx.example")  # a marketing teammate


def git_environment(author: tuple[str, str] = SMIRNOVA, date: str = "2026-01-05T10:00:00+03:00"
                    ) -> dict[str, str]:
    """The environment of one git command: its author and dates, no user or system config."""
    name, email = author
    return {**os.environ, "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
            "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
            "GIT_COMMITTER_DATE": date, "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1"}


class GitRepo:
    """A repository in `path` whose content root is `path/content`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.content = path / "content"
        self.content.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, author: tuple[str, str] = SMIRNOVA,
            date: str = "2026-01-05T10:00:00+03:00") -> str:
        name, email = author
        done = subprocess.run(
            ["git", "-c", f"user.name={name}", "-c", f"user.email={email}",
             "-c", "commit.gpgsign=false", *args],
            cwd=self.path, env=git_environment(author, date), capture_output=True, text=True,
            check=False, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def write(self, files: Mapping[str, str]) -> None:
        """Write files under the content root without committing them."""
        write_files(self.content, files)

    def commit(self, files: Mapping[str, str], date: str, author: tuple[str, str] = SMIRNOVA,
               message: str = "Update the log") -> str:
        """Write `files` (relative to the content root), commit everything; the commit's id."""
        self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, author=author, date=f"{date}T10:00:00+03:00")
        return self.git("rev-parse", "HEAD").strip()


def start_project(path: Path, rules: str = "", date: str = "2026-01-05",
                  files: Mapping[str, str] | None = None) -> GitRepo:
    """A repository whose first commit holds project.yml (and `files`)."""
    repo = GitRepo(path)
    repo.commit({"project.yml": project_yml(rules=rules), **(files or {})}, date,
                message="Start the project")
    return repo


def build_at(root: Path, out: Path, today: str, since: str | None = None) -> Result:
    """Build in this process (no cache, no workers) and insist that it succeeded."""
    result = build(Options(content=root, out=out, today=_date(today), cache=False, jobs=1,
                           since=since))
    assert result.ok, [p.format_text() for p in result.problems]
    return result


def of_code(items: list[AgendaItem], code: str) -> list[AgendaItem]:
    return [item for item in items if item.code == code]


def agenda_json(out: Path) -> list[dict[str, object]]:
    items: list[dict[str, object]] = json.loads(
        (out / "agenda.json").read_text(encoding="utf-8"))["items"]
    return items


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)
