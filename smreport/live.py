"""`build --watch [--serve]`: build, then rebuild on every save until Ctrl-C.

One `Builder` lives for the whole session, so a rebuild re-parses and
re-renders only the notes whose content changed. Each rebuild prints one
line: what changed, how long it took and how many agenda items there are, or
the problems found (the last good site stays).
"""

from __future__ import annotations

import gc
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .engine import Builder, git_state
from .model import Problem
from .pipeline import Options, Result, build, template_dirs_for
from .publish import PublishError, check_output
from .serve import LiveState, PortInUse, PreviewServer
from .theme import default_template_dir
from .watch import Watcher, describe_paths, log_line


def _problem_lines(result: Result, root: Path) -> list[str]:
    from .cli import display  # the CLI owns how paths are shown

    return [display(p, root).format_text() for p in result.problems]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # stop on SIGTERM as on Ctrl-C: cleanly, exit 0


# What the audit reports when git's state changed since the last build (not a file).
GIT_CHANGED = "\0git"


def watch_and_build(options: Options, serve: bool = False, port: int = 8000,
                    polling: bool = False, log: Callable[[str], None] = log_line,
                    watcher_ready: Callable[[Watcher], None] | None = None) -> int:
    """Build once, then rebuild on changes until interrupted. Returns the exit status."""
    builder = Builder(options.cache_folder(), options.jobs)
    builder.in_place = True  # after the first build, replace only the files that changed
    state = LiveState()
    server: PreviewServer | None = None

    content_real = options.content.resolve()

    def as_read(path: str) -> str:
        """A reported path as the Builder names the notes it reads (under --content)."""
        try:
            return str(options.content / Path(path).relative_to(content_real))
        except ValueError:
            return path  # outside the content, or already named so (from `stale_files`)

    def git_now() -> bytes:
        try:
            return git_state(options.content)
        except OSError:
            return b""

    git_seen = [git_now()]  # git's state as the last build found it

    rebuilding = threading.Event()  # set while a rebuild runs: Ctrl-C may cut it short

    def rebuild(paths: set[str]) -> None:
        rebuilding.set()
        try:
            build_and_report(paths)
        except Exception:
            rebuilding.clear()
            raise
        rebuilding.clear()  # not on Ctrl-C: watch_and_build looks at it then

    def build_and_report(paths: set[str]) -> None:
        started = time.perf_counter()
        git_seen[0] = git_now()
        notes = paths - {GIT_CHANGED}
        # Trust the watcher for which notes changed; an idle check catches what it missed.
        builder.changed_hint = frozenset(as_read(p) for p in notes) if paths else None
        try:
            result = build(options, builder)
        except PublishError as error:
            log(f"smreport: {error}")
            state.publish([str(error)])
            return
        except OSError as error:  # a read-only or full output folder, while updating in place
            # Some pages may be new and others old: the next rebuild writes the site whole
            # (staged and swapped in), not just what changed.
            builder.manifest = None
            where = f"{error.filename}: " if error.filename else ""
            message = (f"cannot write the site to {options.out}: {where}"
                       f"{error.strerror or error}; it may be partly updated until it is "
                       "written whole, at the next save after the folder is writable again")
            log(f"smreport: {message}")
            state.publish([message])
            return
        elapsed = time.perf_counter() - started
        what = describe_paths(notes, [options.content, *template_dirs_for(options)]) \
            if notes else "start"
        if GIT_CHANGED in paths:
            what = "a change in git" + (f" and {what}" if notes else "")
        lines = _problem_lines(result, options.content)
        notice = result.history.notice if result.history is not None else ""
        if not paths:  # once, at the start
            for line in [notice, *result.notices] if notice else result.notices:
                log(f"smreport: notice: {line}")
        if result.ok:
            items = len(result.agenda)
            log(f"Rebuilt after {what} in {elapsed * 1000:.0f} ms: "
                f"{items} agenda item{'s' * (items != 1)}"
                + (f", {len(lines)} warning{'s' * (len(lines) != 1)}" if lines else "") + ".")
            for line in lines:
                log(line)
            state.publish([])
        else:
            errors = [p for p in result.problems if p.severity == "error"]
            log(f"Problems after {what} ({len(errors)} error{'s' * (len(errors) != 1)}); "
                "the last good site stays:")
            for line in lines:
                log(line)
            state.publish([line for line, p in zip(lines, result.problems, strict=True)
                           if p.severity == "error"] or lines)

    try:
        check_output(options.out, options.content, options.cache_folder())
    except PublishError as error:
        log(f"smreport: {error}")
        return 1
    try:
        if serve:
            options.out.mkdir(parents=True, exist_ok=True)
            server = PreviewServer(options.out, port, state)
    except PortInUse as error:
        log(f"smreport: {error}")
        return 1
    watch_dirs = [options.content, *template_dirs_for(options), default_template_dir()]
    def when_quiet() -> set[str]:
        """Once things are quiet after a rebuild (and every minute): collect its garbage
        (the collector walks every object, so it never runs during a rebuild), and look
        for missed changes: notes, and git's state (a commit or a checkout changes the
        history the agenda reads, but no file the watcher watches)."""
        gc.collect()
        missed = builder.stale_files()
        if git_now() != git_seen[0]:
            missed.add(GIT_CHANGED)
        return missed

    watcher = Watcher(watch_dirs, [options.out], rebuild, polling=polling, log=log,
                      audit=when_quiet)
    previous = signal.signal(signal.SIGTERM, _interrupt) \
        if threading.current_thread() is threading.main_thread() else None
    collecting = gc.isenabled()
    gc.disable()  # see when_quiet
    try:
        # Watch before the first build, so a save during it is not missed.
        watcher.start_observer()
        watcher.safe_rebuild(set())
        if server is not None:
            server.start()
            log(f"Serving {options.out}/ at {server.url} (live reload); Ctrl-C to stop.")
        log(f"Watching {options.content}/ for changes; Ctrl-C to stop.")
        if watcher_ready is not None:
            watcher_ready(watcher)
        watcher.run()
    except KeyboardInterrupt:
        if rebuilding.is_set():  # the site was being updated in place, page by page
            log(f"smreport: stopped during a rebuild: {options.out}/ may be partly updated; "
                "the next build or --watch writes it whole")
    finally:
        if collecting:
            gc.enable()
        watcher.close()
        if server is not None:
            server.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        try:
            builder.save_cache()  # what the day's rebuilds learned, for the next run
        except OSError as error:
            log(f"smreport: could not write the cache: {error}")
    log("Stopped.")
    return 0


__all__ = ["watch_and_build", "Problem"]
