"""`--watch`: rebuild whenever a note, project.yml or a template changes, until Ctrl-C.

The watchdog handler only records which paths changed; the main thread waits
for a short quiet spell (one save by an editor is a burst of events: temp
file, rename, delete) and then rebuilds once. A rebuild that fails keeps the
last good site. The observer thread is checked on every turn and restarted if
it died; where inotify is unavailable or out of watches, polling takes over.
Rebuilds trust the events; an audit once things are quiet (and every minute)
finds any change they missed.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

DEBOUNCE_SECONDS = 0.04
# Once a note was closed after writing (inotify's IN_CLOSE_WRITE), the save is complete:
# only an editor's tidying (a backup deleted, permissions set) may follow, at once.
CLOSED_DEBOUNCE_SECONDS = 0.008
# The audit (see Watcher) runs once things have been quiet this long after a rebuild (not
# between two quick saves: it collects garbage, which takes a moment), and at least every
# AUDIT_SECONDS while they stay quiet.
AUDIT_QUIET_SECONDS = 1.0
AUDIT_SECONDS = 60.0
POLL_SECONDS = 0.5


def is_editor_noise(path: str) -> bool:
    """Files editors write beside a note while saving: never worth a rebuild on their own."""
    name = os.path.basename(path)
    return (
        name.endswith(("~", ".swp", ".swx", ".swo", ".tmp", ".bak", ".orig", ".kate-swp"))
        or name == "4913"  # vim's probe file
        or name.startswith((".#", "#", ".~"))  # emacs lock/autosave, LibreOffice lock
        or "___jb_tmp___" in name or "___jb_old___" in name  # JetBrains safe write
        or name.startswith(".") or name.startswith("_")  # ignored by the loader anyway
    )


@dataclass
class Change:
    """What a quiet spell of events amounted to."""

    paths: set[str]
    full: bool  # templates or project.yml changed: everything depends on them


class ChangeCollector(FileSystemEventHandler):
    """Receives watchdog events on the observer's thread and queues relevant paths.

    It does as little as possible, so that nothing it does can raise and
    silently kill the observer thread.
    """

    def __init__(self, roots: Iterable[Path], ignore: Iterable[Path]) -> None:
        self.roots = [str(r) for r in roots]
        self.ignore = [str(p) for p in ignore]
        self.queue: queue.SimpleQueue[tuple[str, bool]] = queue.SimpleQueue()  # path, closed

    def relevant(self, path: str) -> bool:
        if not path:
            return False
        for ignored in self.ignore:
            if path == ignored or path.startswith(ignored + os.sep):
                return False
        for root in self.roots:
            if path.startswith(root + os.sep):
                parts = path[len(root) + 1:].split(os.sep)
                # Hidden folders are ignored by the loader, and hold smreport's staging folders.
                if any(part.startswith((".", "_")) for part in parts[:-1]):
                    return False
                break
        return not is_editor_noise(path)

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory and event.event_type == "modified":
            return  # a folder's time stamp changes with every file saved in it
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = os.fsdecode(raw) if raw else ""
            if self.relevant(path):
                self.queue.put((path, event.event_type == "closed"))


class Watcher:
    """Runs `rebuild(paths)` after each burst of relevant changes.

    `audit()`, run once things are quiet after a rebuild (AUDIT_QUIET_SECONDS) and
    every AUDIT_SECONDS, returns the paths that changed without an event (rebuilt as
    if reported).
    """

    def __init__(self, watch_dirs: Iterable[Path], ignore: Iterable[Path],
                 rebuild: Callable[[set[str]], None], polling: bool = False,
                 log: Callable[[str], None] = print,
                 audit: Callable[[], set[str]] | None = None) -> None:
        self.watch_dirs = [d.resolve() for d in watch_dirs if d.is_dir()]
        ignore_list = []
        for path in ignore:
            ignore_list += [path.absolute(), path.resolve()]
        self.collector = ChangeCollector(self.watch_dirs, ignore_list)
        self.rebuild = rebuild
        self.log = log
        self.polling = polling
        self.observer: BaseObserver | None = None
        self.identities: list[tuple[int, int] | None] = []  # see _identities
        self.stopping = threading.Event()
        # Run once things are quiet after a rebuild: the files changed that no event named.
        self.audit = audit
        self.audit_due = True
        self.audited = self.rebuilt = time.monotonic()

    def start_observer(self) -> None:
        """Start watching; fall back to polling when inotify cannot watch the tree."""
        if self.observer is not None:
            with contextlib.suppress(Exception):  # a dead observer may fail to stop
                self.observer.stop()
        observer: BaseObserver = PollingObserver(timeout=POLL_SECONDS) if self.polling \
            else Observer()
        try:
            for directory in self.watch_dirs:
                observer.schedule(self.collector, str(directory), recursive=True)
            observer.start()
        except OSError as error:
            if self.polling:
                raise
            self.log(f"Cannot use file system events ({error.strerror or error}); "
                     f"checking for changes every {POLL_SECONDS}s instead.")
            self.polling = True
            self.start_observer()
            return
        self.observer = observer
        self.identities = self._identities()

    def _identities(self) -> list[tuple[int, int] | None]:
        """Each watched folder's device and inode: a folder replaced by another (moved
        away, a copy put in its place) keeps its path but loses the observer's watches."""
        found: list[tuple[int, int] | None] = []
        for directory in self.watch_dirs:
            try:
                info = os.stat(directory)
                found.append((info.st_dev, info.st_ino))
            except OSError:
                found.append(None)
        return found

    def wait_for_changes(self, timeout: float = 0.25) -> set[str] | None:
        """Block until a burst of changes has settled; None if nothing happened."""
        try:
            path, closed = self.collector.queue.get(timeout=timeout)
        except queue.Empty:
            return None
        paths = {path}
        while True:
            quiet = CLOSED_DEBOUNCE_SECONDS if closed else DEBOUNCE_SECONDS
            try:
                path, closed = self.collector.queue.get(timeout=quiet)
                paths.add(path)
            except queue.Empty:
                return paths

    def run(self) -> None:
        """Watch until `stop()` or Ctrl-C (the observer starts here unless already started)."""
        if self.observer is None:
            self.start_observer()
        try:
            while not self.stopping.is_set():
                if self.observer is not None and not self.observer.is_alive():
                    self.log("The file watcher stopped unexpectedly; restarting it.")
                    self.start_observer()
                    self.rebuild(set())  # anything may have changed meanwhile
                    continue
                paths = self.wait_for_changes()
                now = time.monotonic()
                if paths:
                    self.safe_rebuild(paths)
                    self.audit_due, self.rebuilt = True, time.monotonic()
                elif self.audit is not None and (
                        (self.audit_due and now - self.rebuilt >= AUDIT_QUIET_SECONDS)
                        or now - self.audited >= AUDIT_SECONDS):
                    self.audit_due, self.audited = False, now
                    if self._identities() != self.identities:
                        self.log("A watched folder was replaced; watching the new one.")
                        self.start_observer()
                        self.safe_rebuild(set())  # anything may have changed meanwhile
                        self.rebuilt = time.monotonic()
                        continue
                    missed = self.audit()
                    # A save made while the audit ran is both found and reported: one
                    # rebuild. Its events may still be on their way from the observer's
                    # thread (a save a millisecond before the audit's look was rebuilt
                    # twice): when the audit found something, wait a debounce for them.
                    missed |= self.wait_for_changes(
                        timeout=DEBOUNCE_SECONDS if missed else 0) or set()
                    if missed:
                        self.safe_rebuild(missed)
                        self.rebuilt = time.monotonic()
        finally:
            self.close()

    def safe_rebuild(self, paths: set[str]) -> None:
        """Rebuild, reporting any unexpected error instead of dying with it."""
        try:
            self.rebuild(paths)
        except Exception:  # noqa: BLE001 - the watcher must outlive any one rebuild
            self.log("Internal error during the rebuild (the last good site stays); "
                     "please report it:\n" + traceback.format_exc(limit=8))

    def stop(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        if self.observer is not None:
            self.observer.stop()
            self.observer.join(timeout=5)
            self.observer = None


def describe_paths(paths: set[str], roots: Iterable[Path]) -> str:
    """Name the changed files briefly, relative to the folder they were found under."""
    names = []
    for path in sorted(paths):
        shown = path
        for root in roots:
            try:
                shown = Path(path).relative_to(root.resolve()).as_posix()
                break
            except ValueError:
                continue
        names.append(shown)
    if not names:
        return "a restart of the watcher"
    if len(names) > 3:
        return ", ".join(names[:3]) + f" and {len(names) - 3} more"
    return ", ".join(names)


def log_line(text: str) -> None:
    """Print a line at once, even when output is a pipe."""
    print(text, flush=True)
    sys.stdout.flush()
