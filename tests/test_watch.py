"""`build --watch`: a real watcher process, real files, real editor save patterns."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from smreport.watch import is_editor_noise

from .conftest import EXAMPLE, REPO, tree

TODAY = "2026-11-26"
TIMEOUT = 20.0


# build.py run as Ctrl-C at a terminal finds it: with SIGINT raising KeyboardInterrupt.
# A CI runner or a shell's background job may start the tests with SIGINT ignored, which
# a child inherits (and rightly keeps: that is what `nohup` and `&` ask for); the tests
# stop the watcher with SIGINT, so its child restores the default that a terminal gives.
AS_FROM_A_TERMINAL = ("import runpy, signal, sys; "
                      "signal.signal(signal.SIGINT, signal.default_int_handler); "
                      "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")


class WatchProcess:
    """`python build.py --watch` in a subprocess, with its output lines in a queue."""

    def __init__(self, content: Path, out: Path, *extra: str) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        arguments = ["--watch", "--content", str(content), "--out", str(out), "--today", TODAY,
                     "--no-cache", *extra]
        self.process = subprocess.Popen(
            [sys.executable, "-c", AS_FROM_A_TERMINAL, str(REPO / "build.py"), *arguments],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = TIMEOUT) -> str:
        """The first new output line matching `predicate`; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if predicate(line):
                return line
        raise AssertionError(f"no matching line within {timeout}s; output so far:\n"
                             + "\n".join(self.seen))

    def drain(self, quiet: float = 0.6) -> list[str]:
        """Lines printed until the output has been quiet for `quiet` seconds."""
        lines = []
        while True:
            try:
                line = self.lines.get(timeout=quiet)
            except queue.Empty:
                return lines
            self.seen.append(line)
            lines.append(line)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.reader.join(timeout=5)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return self.process.returncode


def rebuilt(line: str) -> bool:
    return line.startswith("Rebuilt after")


def problems(line: str) -> bool:
    return line.startswith("Problems after")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(EXAMPLE, root)
    return root


@pytest.fixture
def watching(project: Path, tmp_path: Path) -> Iterator[WatchProcess]:
    watcher = WatchProcess(project, tmp_path / "site")
    watcher.wait_for(lambda line: line.startswith("Watching"))
    yield watcher
    watcher.stop()


def site_page(tmp_path: Path, relative: str) -> str:
    return (tmp_path / "site" / relative).read_text(encoding="utf-8")


def edit_title(path: Path, title: str) -> str:
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if line.startswith("title:"):
            lines[index] = f'title: "{title}"'
            break
    return "\n".join(lines)


def test_plain_write_rebuilds_once_with_the_saved_content(watching: WatchProcess,
                                                          project: Path, tmp_path: Path) -> None:
    goal = project / "goals" / "grow-telegram.md"
    goal.write_text(edit_title(goal, "Telegram plain save"), encoding="utf-8")
    watching.wait_for(rebuilt)
    assert "Telegram plain save" in site_page(tmp_path, "goals/grow-telegram/index.html")
    assert [line for line in watching.drain() if rebuilt(line)] == []


def test_vim_style_rename_save_is_one_rebuild(watching: WatchProcess, project: Path,
                                              tmp_path: Path) -> None:
    goal = project / "goals" / "grow-telegram.md"
    new_text = edit_title(goal, "Telegram vim save")
    # vim with backupcopy=no: probe file 4913, rename to backup~, write anew, delete backup.
    probe = project / "goals" / "4913"
    probe.write_text("", encoding="utf-8")
    probe.unlink()
    backup = project / "goals" / "grow-telegram.md~"
    os.rename(goal, backup)
    goal.write_text(new_text, encoding="utf-8")
    backup.unlink()
    (project / "goals" / ".grow-telegram.md.swp").write_bytes(b"swap")
    watching.wait_for(rebuilt)
    assert "Telegram vim save" in site_page(tmp_path, "goals/grow-telegram/index.html")
    assert [line for line in watching.drain() if rebuilt(line)] == []


def test_jetbrains_safe_write_is_one_rebuild(watching: WatchProcess, project: Path,
                                             tmp_path: Path) -> None:
    goal = project / "goals" / "grow-telegram.md"
    temporary = project / "goals" / "grow-telegram.md___jb_tmp___"
    old = project / "goals" / "grow-telegram.md___jb_old___"
    temporary.write_text(edit_title(goal, "Telegram JetBrains save"), encoding="utf-8")
    os.rename(goal, old)
    os.rename(temporary, goal)
    old.unlink()
    watching.wait_for(rebuilt)
    assert "Telegram JetBrains save" in site_page(tmp_path, "goals/grow-telegram/index.html")
    assert [line for line in watching.drain() if rebuilt(line)] == []


def test_atomic_replace_from_a_temp_file(watching: WatchProcess, project: Path,
                                         tmp_path: Path) -> None:
    goal = project / "goals" / "grow-telegram.md"
    temporary = project / "goals" / ".grow-telegram.md.tmp123"
    temporary.write_text(edit_title(goal, "Telegram atomic save"), encoding="utf-8")
    os.replace(temporary, goal)
    watching.wait_for(rebuilt)
    assert "Telegram atomic save" in site_page(tmp_path, "goals/grow-telegram/index.html")


def test_broken_note_keeps_the_last_good_site_and_fixing_rebuilds(
        watching: WatchProcess, project: Path, tmp_path: Path) -> None:
    goal = project / "goals" / "grow-telegram.md"
    good = goal.read_text(encoding="utf-8")
    before = tree(tmp_path / "site")
    goal.write_text(good.replace("owner: ", "owner: nobody-here\nowner_x: ", 1),
                    encoding="utf-8")
    watching.wait_for(problems)
    error = watching.wait_for(lambda line: "goals/grow-telegram.md:" in line)
    assert "error unknown-person" in error
    assert tree(tmp_path / "site") == before
    # Half-written: an empty file is a problem, never a page with empty metadata.
    goal.write_text("", encoding="utf-8")
    watching.wait_for(problems)
    assert tree(tmp_path / "site") == before
    goal.write_text(edit_title(project / "goals" / "grow-telegram.md", "x") if False else
                    good.replace("title:", 'title: "Fixed again"\nold_title:', 1)
                    .replace("old_title:", "# old title:", 1), encoding="utf-8")
    watching.wait_for(rebuilt)
    assert "Fixed again" in site_page(tmp_path, "goals/grow-telegram/index.html")


def test_delete_rename_and_new_folder(watching: WatchProcess, project: Path,
                                      tmp_path: Path) -> None:
    dispute = project / "disputes" / "tea-drop-format.md"
    dispute.unlink()
    watching.wait_for(rebuilt)
    assert not (tmp_path / "site" / "disputes" / "tea-drop-format").exists()
    review = project / "reviews" / "review-2026-10.md"
    review.rename(project / "reviews" / "october-review.md")
    watching.wait_for(rebuilt)
    assert not (tmp_path / "site" / "reviews" / "review-2026-10").exists()
    assert (tmp_path / "site" / "reviews" / "october-review" / "index.html").is_file()
    # A folder deleted and created again is picked up.
    changes = project / "changes"
    saved = tmp_path / "changes-saved"
    shutil.move(changes, saved)
    watching.wait_for(lambda line: rebuilt(line) or problems(line))
    shutil.copytree(saved, changes)
    watching.wait_for(rebuilt)
    assert (tmp_path / "site" / "changes" / "care-public-replies" / "index.html").is_file()


def test_incremental_rebuild_equals_a_full_build(watching: WatchProcess, project: Path,
                                                 tmp_path: Path) -> None:
    goal = project / "goals" / "repeat-orders.md"
    goal.write_text(goal.read_text(encoding="utf-8").replace(
        "readings:", "readings:\n  - { kpi: repeat-rate, date: 2026-11-20, value: 5.9 }", 1),
        encoding="utf-8")
    watching.wait_for(rebuilt)
    (project / "changes" / "repeat-orders-lower-target.md").unlink()
    watching.wait_for(rebuilt)
    full = subprocess.run([sys.executable, str(REPO / "build.py"), "--content", str(project),
                           "--out", str(tmp_path / "full"), "--today", TODAY, "--no-cache"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert full.returncode == 0, full.stderr
    assert tree(tmp_path / "site") == tree(tmp_path / "full")


def test_output_inside_the_watched_tree_never_triggers_a_rebuild(tmp_path: Path) -> None:
    root = tmp_path / "content"
    shutil.copytree(EXAMPLE, root)
    templates = tmp_path / "templates"  # watched: beside the content root
    templates.mkdir()
    watcher = WatchProcess(root, templates / "preview")
    try:
        watcher.wait_for(lambda line: line.startswith("Watching"))
        assert [line for line in watcher.drain(1.0) if rebuilt(line)] == []
        goal = root / "goals" / "grow-telegram.md"
        goal.write_text(edit_title(goal, "Inside tree"), encoding="utf-8")
        watcher.wait_for(rebuilt)
        assert [line for line in watcher.drain(1.0) if rebuilt(line)] == []
        assert "Inside tree" in (templates / "preview" / "goals" / "grow-telegram" /
                                 "index.html").read_text(encoding="utf-8")
    finally:
        watcher.stop()


def test_refused_output_folder_exits_at_once(tmp_path: Path) -> None:
    root = tmp_path / "content"
    shutil.copytree(EXAMPLE, root)
    watcher = WatchProcess(root, root / "_site")
    line = watcher.wait_for(lambda line: "inside the content root" in line)
    assert watcher.process.wait(timeout=10) == 1
    assert "choose another --out" in line


def test_template_change_rebuilds(tmp_path: Path) -> None:
    root = tmp_path / "content"
    shutil.copytree(EXAMPLE, root)
    templates = tmp_path / "templates"  # beside the content root: picked up automatically
    templates.mkdir()
    watcher = WatchProcess(root, tmp_path / "site")
    try:
        watcher.wait_for(lambda line: line.startswith("Watching"))
        base = (REPO / "templates" / "base.html").read_text(encoding="utf-8")
        (templates / "base.html").write_text(base.replace("</main>", "</main><p>OWN</p>"),
                                             encoding="utf-8")
        watcher.wait_for(rebuilt)
        assert "<p>OWN</p>" in site_page(tmp_path, "team/index.html")
    finally:
        watcher.stop()


def test_ctrl_c_exits_zero_without_traceback(watching: WatchProcess) -> None:
    status = watching.stop()
    output = "\n".join(watching.seen)
    assert status == 0
    assert "Traceback" not in output
    assert watching.seen[-1] == "Stopped."


def test_polling_fallback_sees_changes(project: Path, tmp_path: Path) -> None:
    watcher = WatchProcess(project, tmp_path / "site", "--poll")
    try:
        watcher.wait_for(lambda line: line.startswith("Watching"))
        goal = project / "goals" / "grow-telegram.md"
        goal.write_text(edit_title(goal, "Polled save"), encoding="utf-8")
        watcher.wait_for(rebuilt)
        assert "Polled save" in site_page(tmp_path, "goals/grow-telegram/index.html")
    finally:
        watcher.stop()


@pytest.mark.parametrize("name, noise", [
    ("goal.md", False), ("goal.md~", True), (".goal.md.swp", True), ("4913", True),
    (".#goal.md", True), ("goal.md___jb_tmp___", True), ("goal.md___jb_old___", True),
    ("project.yml", False), ("_draft.md", True),
])
def test_editor_noise(name: str, noise: bool) -> None:
    assert is_editor_noise(f"/x/goals/{name}") is noise


def test_a_change_no_event_reported_is_caught_when_quiet(watching: WatchProcess, project: Path,
                                                          tmp_path: Path) -> None:
    """Rebuilds trust the watcher for which notes changed. A change it never reports is
    made here through a hard link in an unwatched folder (inotify reports a change under
    the name it was made through); the check run once things are quiet finds it."""
    goal = project / "goals" / "grow-telegram.md"
    elsewhere = tmp_path / "elsewhere.md"
    os.link(goal, elsewhere)
    text = edit_title(goal, "Changed behind the watcher")
    with open(elsewhere, "r+", encoding="utf-8") as handle:  # the same file, rewritten in place
        handle.write(text)
        handle.truncate()
    line = watching.wait_for(rebuilt)
    assert "goals/grow-telegram.md" in line
    assert "Changed behind the watcher" in site_page(tmp_path,
                                                             "goals/grow-telegram/index.html")



class InProcessWatch:
    """`watch_and_build` in a thread of this process (so that a test can patch what it
    calls), its log lines collected."""

    def __init__(self, options: Any) -> None:
        from smreport.live import watch_and_build  # noqa: PLC0415

        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.watchers: list[Any] = []
        self.thread = threading.Thread(
            target=watch_and_build, args=(options,),
            kwargs={"log": self.lines.put, "watcher_ready": self.watchers.append}, daemon=True)
        self.thread.start()

    def wait_for(self, start: str, timeout: float = 20) -> str:
        """The next log line that starts with `start`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.seen.append(self.lines.get(timeout=0.2))
            except queue.Empty:
                continue
            if self.seen[-1].startswith(start):
                return self.seen[-1]
        raise AssertionError(f"no line starting {start!r} in {self.seen}")

    def stop(self) -> None:
        if self.watchers:
            self.watchers[0].stop()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


def test_a_commit_while_watching_rebuilds_the_agenda(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit changes no file the watcher watches, but it dates goal-edited: the audit
    (here every 0.3 s instead of every minute) notices git's state and rebuilds."""
    import datetime as dt  # noqa: PLC0415
    import json  # noqa: PLC0415

    from smreport import watch as watch_module  # noqa: PLC0415
    from smreport.pipeline import Options  # noqa: PLC0415
    from tests.agenda.notes import goal_note  # noqa: PLC0415
    from tests.gitrepo import start_project  # noqa: PLC0415

    monkeypatch.setattr(watch_module, "AUDIT_SECONDS", 0.3)
    goal = "goals/double-leads.md"
    repo = start_project(tmp_path / "repo", files={goal: goal_note()})
    out = tmp_path / "site"
    watching = InProcessWatch(Options(content=repo.content, out=out,
                                      today=dt.date(2026, 2, 5), jobs=1, cache=False))

    def edited_due() -> list[str]:
        items = json.loads((out / "agenda.json").read_text(encoding="utf-8"))["items"]
        return [item["due"] for item in items if item["code"] == "goal-edited"]

    try:
        watching.wait_for("Watching")
        assert edited_due() == []
        repo.write({goal: goal_note(due="2026-08-01")})  # saved: an uncommitted edit
        watching.wait_for("Rebuilt after goals/double-leads.md")
        assert edited_due() == ["2026-02-12"]  # today + 7
        repo.git("commit", "-q", "-am", "Later due date", date="2026-02-03T10:00:00+03:00")
        watching.wait_for("Rebuilt after a change in git")
        assert edited_due() == ["2026-02-10"]  # the commit's day + 7
    finally:
        watching.stop()


def _fail_third_page(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> Callable[[], None]:
    """Make the third page replaced in place fail with `error`; returns the undo."""
    from smreport import engine  # noqa: PLC0415

    real_mkstemp = engine.tempfile.mkstemp
    made: list[str] = []

    def third_fails(*args: Any, **kwargs: Any) -> tuple[int, str]:
        if kwargs.get("prefix") == ".smreport-":  # a page replaced in place
            if len(made) == 2:
                raise error
            made.append("page")
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(engine.tempfile, "mkstemp", third_fails)
    return lambda: monkeypatch.setattr(engine.tempfile, "mkstemp", real_mkstemp)


def test_an_unwritable_site_while_watching_is_a_message_then_written_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing the site in place fails part way (a read-only folder: as root, made to fail
    here): one line says so, no traceback, and the next save writes the site whole."""
    import datetime as dt  # noqa: PLC0415

    from smreport.pipeline import Options  # noqa: PLC0415
    from tests.conftest import plain_build  # noqa: PLC0415

    content = tmp_path / "content"
    shutil.copytree(EXAMPLE, content)
    out = tmp_path / "site"
    watching = InProcessWatch(Options(content=content, out=out, today=dt.date(2026, 11, 26),
                                      jobs=1, cache=False))
    goal = content / "goals" / "grow-telegram.md"
    try:
        watching.wait_for("Watching")
        undo = _fail_third_page(monkeypatch, PermissionError(13, "Permission denied", str(out)))
        goal.write_text(edit_title(goal, "Grow the Telegram channel, first try"), "utf-8")
        line = watching.wait_for("smreport: cannot write the site")
        assert "Permission denied" in line and "written whole" in line
        undo()
        goal.write_text(edit_title(goal, "Grow the Telegram channel, second try"), "utf-8")
        watching.wait_for("Rebuilt after goals/grow-telegram.md")
    finally:
        watching.stop()
    assert not [line for line in watching.seen if "Traceback" in line or "Internal" in line]
    assert tree(out) == plain_build(content, tmp_path / "reference")


def test_ctrl_c_during_a_rebuild_says_the_site_may_be_partly_updated(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C lands while pages are being replaced: the watcher says so as it stops, and
    the next build writes the site whole."""
    import datetime as dt  # noqa: PLC0415

    from smreport.pipeline import Options, build  # noqa: PLC0415
    from tests.conftest import plain_build  # noqa: PLC0415

    content = tmp_path / "content"
    shutil.copytree(EXAMPLE, content)
    out = tmp_path / "site"
    options = Options(content=content, out=out, today=dt.date(2026, 11, 26), jobs=1)
    watching = InProcessWatch(options)
    goal = content / "goals" / "grow-telegram.md"
    watching.wait_for("Watching")
    undo = _fail_third_page(monkeypatch, KeyboardInterrupt())
    goal.write_text(edit_title(goal, "Grow the Telegram channel, cut short"), "utf-8")
    assert "may be partly updated" in watching.wait_for("smreport: stopped during a rebuild")
    watching.wait_for("Stopped.")
    watching.stop()
    undo()
    result = build(options)
    assert result.ok and not result.unchanged
    assert tree(out) == plain_build(content, tmp_path / "reference")
