"""The Watcher in-process: failures of the observer and of a rebuild never stop watching."""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from watchdog.observers.polling import PollingObserver

from smreport import watch
from smreport.watch import Watcher


def run_in_thread(watcher: Watcher) -> threading.Thread:
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    return thread


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def test_rebuild_errors_are_reported_and_watching_goes_on(tmp_path: Path) -> None:
    calls: list[set[str]] = []
    log: list[str] = []

    def rebuild(paths: set[str]) -> None:
        calls.append(paths)
        if len(calls) == 1:
            raise RuntimeError("boom")

    watcher = Watcher([tmp_path], [], rebuild, log=log.append)
    watcher.start_observer()
    thread = run_in_thread(watcher)
    try:
        (tmp_path / "a.md").write_text("1", encoding="utf-8")
        wait_until(lambda: len(calls) == 1)
        wait_until(lambda: any("Internal error" in line for line in log))
        assert "RuntimeError: boom" in "\n".join(log)
        (tmp_path / "b.md").write_text("2", encoding="utf-8")
        wait_until(lambda: len(calls) == 2)
        assert str(tmp_path / "b.md") in calls[1]
    finally:
        watcher.stop()
        thread.join(timeout=5)
    assert not thread.is_alive()


def test_falls_back_to_polling_when_inotify_is_out_of_watches(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Exhausted(PollingObserver):
        def schedule(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
            raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(watch, "Observer", Exhausted)
    calls: list[set[str]] = []
    log: list[str] = []
    watcher = Watcher([tmp_path], [], calls.append, log=log.append)
    watcher.start_observer()
    thread = run_in_thread(watcher)
    try:
        assert watcher.polling
        assert any("checking for changes every" in line for line in log)
        (tmp_path / "a.md").write_text("1", encoding="utf-8")
        wait_until(lambda: bool(calls))
    finally:
        watcher.stop()
        thread.join(timeout=5)


def test_a_dead_observer_is_restarted(tmp_path: Path) -> None:
    calls: list[set[str]] = []
    log: list[str] = []
    watcher = Watcher([tmp_path], [], calls.append, log=log.append)
    watcher.start_observer()
    first = watcher.observer
    assert first is not None
    thread = run_in_thread(watcher)
    try:
        first.stop()  # as if its thread had died of an exception
        first.join(timeout=5)
        wait_until(lambda: watcher.observer is not first and watcher.observer is not None)
        assert any("restarting" in line for line in log)
        count = len(calls)
        (tmp_path / "after.md").write_text("x", encoding="utf-8")
        wait_until(lambda: any(str(tmp_path / "after.md") in c for c in calls[count:]))
    finally:
        watcher.stop()
        thread.join(timeout=5)


def test_noise_only_bursts_cause_no_rebuild(tmp_path: Path) -> None:
    calls: list[set[str]] = []
    watcher = Watcher([tmp_path], [tmp_path / "site"], calls.append, log=lambda _: None)
    watcher.start_observer()
    thread = run_in_thread(watcher)
    try:
        (tmp_path / ".note.md.swp").write_text("x", encoding="utf-8")
        (tmp_path / "note.md~").write_text("x", encoding="utf-8")
        (tmp_path / "site").mkdir()
        (tmp_path / "site" / "index.html").write_text("x", encoding="utf-8")
        (tmp_path / "_drafts").mkdir()
        (tmp_path / "_drafts" / "idea.md").write_text("x", encoding="utf-8")
        time.sleep(0.5)  # give a wrongly relevant event time to show up
        assert calls == []
        (tmp_path / "note.md").write_text("x", encoding="utf-8")
        wait_until(lambda: bool(calls))
        assert calls[0] == {str(tmp_path / "note.md")}
    finally:
        watcher.stop()
        thread.join(timeout=5)


def test_the_audit_runs_once_quiet_after_each_rebuild_and_rebuilds_what_it_finds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[set[str]] = []
    audits: list[float] = []
    missed = {str(tmp_path / "missed.md")}

    def audit() -> set[str]:
        audits.append(time.monotonic())
        return missed if len(audits) == 2 else set()  # the second audit finds a change

    monkeypatch.setattr(watch, "AUDIT_SECONDS", 1.0)
    watcher = Watcher([tmp_path], [], calls.append, audit=audit)
    watcher.start_observer()
    thread = run_in_thread(watcher)
    try:
        wait_until(lambda: len(audits) == 1)  # quiet after the start: one audit, no rebuild
        assert calls == []
        (tmp_path / "a.md").write_text("1", encoding="utf-8")
        wait_until(lambda: len(calls) == 2)  # the save, then what the next audit found
        assert str(tmp_path / "a.md") in calls[0] and calls[1] == missed
        wait_until(lambda: len(audits) == 3)  # quiet after that rebuild too
        time.sleep(0.5)
        assert len(audits) == 3  # no audit on every idle turn...
        wait_until(lambda: len(audits) == 4, timeout=3)  # ...but at least every AUDIT_SECONDS
        assert len(calls) == 2
    finally:
        watcher.stop()
        thread.join(timeout=5)


def test_a_save_the_audit_finds_before_its_events_arrive_is_rebuilt_once(
        tmp_path: Path) -> None:
    """The audit looks at the notes' time stamps; a save a moment before it is found there,
    and its events reach the watcher a moment after (from the observer's thread): both
    must make one rebuild, not two."""
    calls: list[set[str]] = []
    saved = str(tmp_path / "saved.md")
    audits: list[float] = []

    def audit() -> set[str]:
        audits.append(time.monotonic())
        if len(audits) > 1:
            return set()

        def events_arrive() -> None:  # the save's events, a few milliseconds late
            time.sleep(0.005)
            watcher.collector.queue.put((saved, False))
            watcher.collector.queue.put((saved, True))
        threading.Thread(target=events_arrive, daemon=True).start()
        return {saved}

    watcher = Watcher([tmp_path], [], calls.append, audit=audit)
    watcher.start_observer()
    thread = run_in_thread(watcher)
    try:
        wait_until(lambda: len(calls) == 1)
        time.sleep(0.5)  # the events came after the audit's rebuild: none more
        assert calls == [{saved}]
    finally:
        watcher.stop()
        thread.join(timeout=5)


def test_a_watched_folder_replaced_by_a_copy_is_watched_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`mv content content.old && cp -r content.old content`: the path is the same, the
    folder is another, and the observer's watches went with the old one. The next audit
    sees it, watches the new folder and rebuilds; later saves are events again."""
    import shutil  # noqa: PLC0415

    content = tmp_path / "content"
    content.mkdir()
    (content / "a.md").write_text("1", encoding="utf-8")
    calls: list[set[str]] = []
    lines: list[str] = []
    monkeypatch.setattr(watch, "AUDIT_SECONDS", 0.3)
    watcher = Watcher([content], [], calls.append, log=lines.append, audit=set)
    watcher.start_observer()
    thread = run_in_thread(watcher)
    try:
        time.sleep(0.3)
        content.rename(tmp_path / "content.old")
        shutil.copytree(tmp_path / "content.old", content)
        shutil.rmtree(tmp_path / "content.old")
        wait_until(lambda: "A watched folder was replaced; watching the new one." in lines)
        wait_until(lambda: set() in calls)  # the rebuild of everything
        calls.clear()
        monkeypatch.setattr(watch, "AUDIT_SECONDS", 3600.0)  # from here on: events only
        time.sleep(0.5)
        (content / "a.md").write_text("2", encoding="utf-8")
        wait_until(lambda: any(str(content / "a.md") in call for call in calls), timeout=3)
    finally:
        watcher.stop()
        thread.join(timeout=5)
