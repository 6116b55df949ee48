"""Shared fixtures: small projects written into a temporary folder, and the CLI run for real."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "content"
TODAY = dt.date(2026, 11, 26)


@pytest.fixture(autouse=True, scope="session")
def _cache_key_of_the_tests(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The builds the tests run (and the commands they start) sign their caches with a key
    of the test session's, not the key in the user's home."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))


# --- for the tests of builds with workers and caches: sites compared byte for byte ---


def tree(folder: Path, folders: bool = False) -> dict[str, str]:
    """Every file under `folder` by path, with the digest of its bytes; with `folders`,
    every folder too, as "folder"."""
    return {p.relative_to(folder).as_posix():
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
            for p in sorted(folder.rglob("*")) if folders or p.is_file()}


def record_calls(monkeypatch: pytest.MonkeyPatch, owner: object, name: str
                 ) -> list[tuple[Any, ...]]:
    """Patch `owner.name` to note each call's positional arguments, then call it; the
    list fills as the code under test calls it."""
    real = getattr(owner, name)
    calls: list[tuple[Any, ...]] = []

    def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)
    monkeypatch.setattr(owner, name, recorded)
    return calls


def plain_build(content: Path, out: Path) -> dict[str, str]:
    """The reference site: one process, no cache, a fresh folder."""
    from smreport.pipeline import Options, build  # noqa: PLC0415 - not for every test file

    result = build(Options(content=content, out=out, today=TODAY, jobs=1, cache=False))
    assert result.ok, result.problems
    return tree(out)


def copy_example(tmp_path: Path) -> Path:
    """The example project, copied to `tmp_path / "content"`."""
    root = tmp_path / "content"
    shutil.copytree(EXAMPLE, root)
    return root


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)

PROJECT_YML = """\
title: "Brand X in social media"
language: en
timezone: Europe/Moscow
start: 2026-01-01
units:
  agency:    { name: "Growth Team (agency)", external: true }
  marketing: { name: "Marketing" }
  pr:        { name: "PR" }
  board:     { name: "Management" }
people:
  petrov:     { name: "Oleg Petrov", unit: board, executive: true, email: petrov@brandx.example }
  smirnova:   { name: "Anna Smirnova", unit: marketing, email: smirnova@brandx.example }
  lebedev:    { name: "Ivan Lebedev", unit: marketing, email: lebedev@brandx.example }
  ivanov:     { name: "Pavel Ivanov", unit: agency, email: ivanov@agency.example }
  kuznetsova: { name: "Olga Kuznetsova", unit: pr, email: kuznetsova@brandx.example }
"""

GOAL = """\
---
title: Double qualified leads
owner: smirnova
start: 2026-01-01
due: 2026-07-01
kpis:
  - { id: leads, name: Qualified leads per month, unit: leads, baseline: 100, target: 200 }
approved: { by: petrov, date: 2026-01-10 }
---
Why this goal.
"""


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    """Write `files` (relative path -> text or bytes) under `root`; text is dedented."""
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(textwrap.dedent(data), encoding="utf-8")


ProjectFactory = Callable[..., Path]


@pytest.fixture
def make_project(tmp_path: Path) -> ProjectFactory:
    """Write a small valid project (project.yml + one approved goal), plus `files`.

    Pass `project=None` to leave project.yml out, `goal=False` to leave the
    default goal out. Returns the content root.
    """
    def make(files: Mapping[str, str | bytes] | None = None, project: str | None = PROJECT_YML,
             goal: bool = True, name: str = "content") -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        base: dict[str, str | bytes] = {}
        if project is not None:
            base["project.yml"] = project
        if goal:
            base["goals/double-leads.md"] = GOAL
        base.update(files or {})
        write_files(root, base)
        return root
    return make


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120
            ) -> subprocess.CompletedProcess[str]:
    """Run `python -m smreport ARGS` in a real process and capture its output."""
    return subprocess.run([sys.executable, "-m", "smreport", *args], cwd=cwd or REPO,
                          capture_output=True, text=True, timeout=timeout)


def run_build_py(*args: str, cwd: Path | None = None, timeout: float = 120
                 ) -> subprocess.CompletedProcess[str]:
    """Run the top-level `build.py` in a real process."""
    return subprocess.run([sys.executable, str(REPO / "build.py"), *args], cwd=cwd or REPO,
                          capture_output=True, text=True, timeout=timeout)
