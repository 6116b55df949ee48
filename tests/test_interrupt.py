"""Interrupted and concurrent builds: the output folder is always one whole site.

A generated project of a few hundred notes is built in a real subprocess and
killed with SIGKILL at chosen moments (while the new site is being written,
right before and right after the swap, and at fixed delays). After every kill
the output folder must be exactly the previous site or exactly the new one,
and the next build must clean up whatever was left beside it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, tree

NOTES = 300
OLD_DAY, NEW_DAY = "2026-11-20", "2026-11-26"  # the same content gives two different sites


def leftovers(out: Path) -> list[str]:
    return sorted(name for name in os.listdir(out.parent)
                  if name.startswith((".smreport-new-", ".smreport-old-")))


def start_build(work: Path, out: Path, today: str, content: str = "content"
                ) -> subprocess.Popen[bytes]:
    # A session of its own, so the kill reaches the worker processes too.
    return subprocess.Popen(
        [sys.executable, "-m", "smreport", "build", "--content", content, "--out", str(out),
         "--today", today, "--no-cache"],
        cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def run_build(work: Path, out: Path, today: str, content: str = "content") -> None:
    process = start_build(work, out, today, content)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, (stdout + stderr).decode()


def kill(process: subprocess.Popen[bytes]) -> bool:
    """SIGKILL the build and its workers; False if it had already finished."""
    alive = process.poll() is None
    with contextlib.suppress(ProcessLookupError):  # it ended on its own
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
    return alive


def wait_until(condition: Callable[[], bool], process: subprocess.Popen[bytes],
               timeout: float = 120) -> bool:
    """Poll `condition` every millisecond; False if the build ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except OSError:  # a folder vanished between two looks: look again
            pass
        if process.poll() is not None:
            return False
        time.sleep(0.001)
    raise AssertionError("the build neither reached the moment nor finished")


@dataclass
class Project:
    work: Path
    out: Path
    old: dict[str, str]
    new: dict[str, str]
    goals: int
    duration: float


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    work = tmp_path_factory.mktemp("interrupt")
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "generate.py"),
                    str(work / "content"), "--notes", str(NOTES)],
                   check=True, capture_output=True, timeout=300)
    reference = work / "reference" / "site"
    run_build(work, reference, NEW_DAY)
    new = tree(reference)
    out = work / "public" / "site"
    started = time.monotonic()
    run_build(work, out, OLD_DAY)
    duration = time.monotonic() - started
    old = tree(out)
    assert old != new and min(len(old), len(new)) > NOTES
    goals = len(list((work / "content" / "goals").glob("*.md")))
    return Project(work, out, old, new, goals, duration)


def staging(out: Path) -> Path | None:
    for name in os.listdir(out.parent):
        if name.startswith(f".smreport-new-{out.name}-"):
            return out.parent / name
    return None


def pages_written(out: Path) -> int:
    """How many goal pages the build has written so far (one folder each: cheap to count)."""
    folder = staging(out)
    return os.stat(folder / "goals").st_nlink - 2 if folder and (folder / "goals").is_dir() else 0


def moments(project: Project) -> dict[str, Callable[[], bool]]:
    out = project.out
    inode = os.stat(out).st_ino
    return {
        "the staging folder appears": lambda: staging(out) is not None,
        "a quarter of the pages are written": lambda: pages_written(out) >= project.goals // 4,
        "three quarters of the pages are written":
            lambda: pages_written(out) >= project.goals * 3 // 4,
        "the staging folder is complete": lambda: bool(
            (folder := staging(out)) and (folder / ".smreport-site").exists()),
        "the folders were just swapped": lambda: os.stat(out).st_ino != inode,
    }


def test_a_killed_build_leaves_the_old_site_or_the_new_one(project: Project) -> None:
    out = project.out
    outcomes: dict[str, str] = {}
    names = list(moments(project)) + ["40% of a build's time", "80% of a build's time"]
    for name in names:
        assert tree(out) == project.old, f"before {name!r}: not the old site"
        process = start_build(project.work, out, NEW_DAY)
        if name.endswith("of a build's time"):
            delay = project.duration * int(name.split("%")[0]) / 100
            started = time.monotonic()
            reached = wait_until(lambda: time.monotonic() - started >= delay, process)  # noqa: B023
        else:
            reached = wait_until(moments(project)[name], process)
        killed = kill(process)
        state = tree(out)
        assert state in (project.old, project.new), (
            f"killed when {name}: the output folder is a mixture "
            f"({len(set(state.items()) - set(project.old.items()))} files differ from the old "
            "site)")
        outcomes[name] = ("new" if state == project.new else "old") + \
            ("" if killed and reached else " (finished first)")
        if state == project.new:
            run_build(project.work, out, OLD_DAY)  # back to the old site for the next round
            assert leftovers(out) == [], name
    print(outcomes)  # shown with pytest -s: which moments ended in which site
    # Most moments must have been caught while the build was running.
    assert sum("finished first" not in o for o in outcomes.values()) >= len(names) - 2, outcomes
    assert any(o.startswith("old") for o in outcomes.values()), outcomes
    # The next build cleans up what the kills left and publishes whole.
    run_build(project.work, out, NEW_DAY)
    assert tree(out) == project.new, "the build after the kills"
    assert leftovers(out) == []


def test_a_build_while_another_holds_the_folder_is_refused_with_a_clear_message(
        project: Project) -> None:
    out = project.out
    run_build(project.work, out, OLD_DAY)
    # Another process takes the output folder's lock exactly as a build does, and keeps it
    # until told to stop: a deterministic stand-in for a long build in progress.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom pathlib import Path\n"
         "from smreport.publish import output_lock\n"
         "with output_lock(Path(sys.argv[1])):\n"
         "    print('locked', flush=True)\n    sys.stdin.read()\n", str(out)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=project.work)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        refused = start_build(project.work, out, NEW_DAY)
        stdout, stderr = refused.communicate(timeout=300)
        message = (stdout + stderr).decode()
        assert refused.returncode == 1, message
        assert "another smreport build is writing" in message and "Traceback" not in message
        assert tree(out) == project.old and leftovers(out) == []
    finally:
        holder.communicate(b"", timeout=60)
    run_build(project.work, out, NEW_DAY)  # the lock is free again
    assert tree(out) == project.new


def test_two_builds_started_together_leave_one_whole_site(project: Project) -> None:
    out = project.out
    builds = [start_build(project.work, out, NEW_DAY), start_build(project.work, out, NEW_DAY)]
    results = [(b.communicate(timeout=300), b.returncode) for b in builds]
    codes = sorted(code for _output, code in results)
    messages = [(stdout + stderr).decode() for (stdout, stderr), _code in results]
    # Either both ran one after the other, or the second was refused with the message.
    assert codes in ([0, 0], [0, 1]), messages
    if codes == [0, 1]:
        refused = next(m for (output, code), m in zip(results, messages, strict=True) if code)
        assert "another smreport build is writing" in refused
    assert all("Traceback" not in m for m in messages)
    assert tree(out) == project.new
    assert leftovers(out) == []
