"""The command line: `smreport build|check`, also `python build.py` and `python -m smreport`.

Exit status: 0 with no errors, 1 with errors, 2 for a wrong command line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from . import __version__
from .codes import github_annotation
from .engine import Builder, WorkerError
from .fields import MAX_DATE, MIN_DATE
from .markup import BACKENDS, backend_problem
from .model import NOTE_TYPES, Problem
from .pipeline import Options, Result, build, check
from .publish import PublishError


def _date(text: str) -> dt.date:
    # fromisoformat alone also takes "20261126" and "2026-W48-4"; the SPEC says YYYY-MM-DD.
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date written YYYY-MM-DD") from None
    if not MIN_DATE <= day <= MAX_DATE:  # the same bounds as dates in notes
        raise argparse.ArgumentTypeError(
            f"{text!r} is outside {MIN_DATE.year}-{MAX_DATE.year}; give a date in between")
    return day


MAX_JOBS = 64  # each worker is a forked copy of the process: a typo's 1000 would swamp it


def _jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= jobs <= MAX_JOBS:
        raise argparse.ArgumentTypeError(
            f"{jobs} is not a number of processes; give 1 to {MAX_JOBS}, or 0 for the default")
    return jobs


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"{port} is not a port; give 1 to 65535, or 0 for any free one")
    return port


def _folder(text: str) -> Path:
    """A folder that exists: a mistyped --templates would otherwise be silently ignored."""
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a folder" if path.exists() else f"{text!r} does not exist")
    return path


def _jobs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=_jobs, default=0, metavar="N",
                        help="worker processes (default: one per core, at most 2; "
                             "1: no workers)")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--content", type=Path, default=Path("content"), metavar="DIR",
                        help="the content root (default: content)")
    parser.add_argument("--today", type=_date, metavar="YYYY-MM-DD",
                        help="compute the agenda for this date (default: today in the "
                             "project's time zone)")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smreport",
        description="Validate a social-media project's log and build the executive briefing.")
    parser.add_argument("--version", action="version", version=f"smreport {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build_parser = commands.add_parser("build", help="validate, then write the site")
    _common(build_parser)
    build_parser.add_argument("--out", type=Path, default=Path("site"), metavar="DIR",
                              help="the output folder (default: site)")
    build_parser.add_argument("--templates", type=_folder, action="append", default=[],
                              metavar="DIR", help="a folder of templates that override the "
                                                  "default theme's (may be repeated)")
    build_parser.add_argument("--watch", action="store_true",
                              help="rebuild whenever the content or templates change")
    build_parser.add_argument("--serve", action="store_true",
                              help="watch, and serve the site on 127.0.0.1 with live reload "
                                   "(implies --watch)")
    build_parser.add_argument("--port", type=_port, default=8000,
                              help="the port for --serve (default: 8000; 0: any free port)")
    build_parser.add_argument("--poll", action="store_true",
                              help="with --watch: poll for changes instead of file system "
                                   "events (network or container file systems)")
    _jobs_option(build_parser)
    build_parser.add_argument("--no-cache", action="store_true",
                              help="do not read or write the .smreport-cache folder")
    build_parser.add_argument("--markdown", choices=BACKENDS,
                              help="the Markdown renderer: markdown-it (default) or cmark-gfm, "
                                   "faster, with pip install 'smreport[fast]' (also set by the "
                                   "SMREPORT_MARKDOWN environment variable)")
    build_parser.add_argument("--format", choices=("text", "github"), default="text",
                              help="how to print problems: text (default, on standard error) "
                                   "or github (GitHub Actions annotations, on standard "
                                   "output: one CI step checks and builds)")
    build_parser.add_argument("--since", metavar="DATE|REV",
                              help="start \"Since your last review\" from this date "
                                   "(YYYY-MM-DD) or git revision (default: the latest "
                                   "review's date)")

    check_parser = commands.add_parser("check", help="validate and report every problem")
    _common(check_parser)
    check_parser.add_argument("--format", choices=("text", "json", "github"), default="text",
                              help="how to print problems: text (default), json, or github "
                                   "(GitHub Actions annotations)")
    _jobs_option(check_parser)
    check_parser.add_argument("--no-cache", action="store_true",
                              help="do not read the .smreport-cache folder (check never "
                                   "writes it)")
    add_team_commands(commands)
    return parser


def add_team_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """`new`, `init` and `rules`: the tools for the people who write the notes."""
    new_parser = commands.add_parser("new", help="write a new note, ready to fill in")
    new_parser.add_argument("type", choices=NOTE_TYPES, help="the kind of note")
    new_parser.add_argument("title", nargs="?", help="the note's title (for a review: the "
                                                     "month, YYYY-MM, default this month)")
    _common(new_parser)
    new_parser.add_argument("--goal", metavar="ID", help="for a change: the goal it changes")
    new_parser.add_argument("--id", dest="note_id", metavar="ID",
                            help="the note's id (default: made from the title)")
    init_parser = commands.add_parser("init", help="start a project that builds at once")
    init_parser.add_argument("folder", nargs="?", type=Path, default=Path("."), metavar="DIR",
                             help="where to write content/ (default: the current folder)")
    init_parser.add_argument("--language", choices=("en", "ru"), default="en",
                             help="the language of the site and the comments (default: en)")
    init_parser.add_argument("--title", help="the project's title")
    init_parser.add_argument("--today", type=_date, metavar="YYYY-MM-DD",
                             help="the project's first day (default: today)")
    commands.add_parser("rules", help="list the agenda rules and validation codes")


def display(problem: Problem, root: Path, base: str | None = None) -> Problem:
    """The problem with its path relative to the current folder, as users see it, or to
    `base` when the file is inside it."""
    full = root / problem.path
    try:
        shown = os.path.relpath(full)
        if base and Path(os.path.abspath(full)).is_relative_to(os.path.abspath(base)):
            shown = os.path.relpath(full, base)
    except ValueError:  # a different drive on Windows
        shown = str(full)
    return Problem(shown.replace(os.sep, "/"), problem.line, problem.column, problem.severity,
                   problem.code, problem.message)


def _takes_unicode(stream: TextIO) -> bool:
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    return encoding in ("utf8", "utf16", "utf32", "utf8sig")


def print_problems(problems: Sequence[Problem], root: Path, output_format: str = "text",
                   stream: TextIO | None = None) -> None:
    """Print every problem, in order, to `stream` (default: standard output)."""
    stream = stream or sys.stdout
    # GitHub places an annotation by its path in the repository, whatever folder the
    # step ran in (`working-directory:`): relative to the workspace, where the job has one.
    base = os.environ.get("GITHUB_WORKSPACE") if output_format == "github" else None
    shown = [display(p, root, base) for p in problems]
    if output_format == "github":
        for p in shown:
            print(github_annotation(p.path, p.line, p.column, p.severity, p.code, p.message),
                  file=stream)
        return
    if output_format == "json":
        # Escaped to ASCII where the stream cannot take every character (a Windows
        # console or pipe): still the same JSON to whoever reads it.
        print(json.dumps([{"path": p.path, "line": p.line, "column": p.column,
                           "severity": p.severity, "code": p.code, "message": p.message}
                          for p in shown], ensure_ascii=not _takes_unicode(stream), indent=2),
              file=stream)
        return
    # One stream keeps errors and warnings in file and line order.
    for problem in shown:
        print(problem.format_text(), file=stream)


def _summary(result: Result) -> str:
    errors = len(result.errors)
    warnings = len(result.problems) - errors
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"


def run_check(args: argparse.Namespace) -> int:
    # Worker processes (two by default) parse the notes; bodies are not rendered, nor kept.
    # The notes a build parsed come from its shards (see Builder.reads_shards).
    options = Options(content=args.content, today=args.today, jobs=args.jobs,
                      cache=not args.no_cache)
    result = check(options, Builder(options.cache_folder(), options.jobs,
                                    render_bodies=False))
    print_problems(result.problems, args.content, args.format)
    if args.format == "text" and result.problems:
        print(_summary(result), file=sys.stderr)
    return 0 if result.ok else 1


def run_build(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    # --markdown, else SMREPORT_MARKDOWN (which argparse's choices do not check).
    markdown = args.markdown or os.environ.get("SMREPORT_MARKDOWN") or "markdown-it"
    options = Options(content=args.content, out=args.out, today=args.today,
                      template_dirs=tuple(args.templates), jobs=args.jobs,
                      cache=not args.no_cache, markdown=markdown, since=args.since)
    if args.serve and not args.watch:
        args.watch = True  # serving a preview only makes sense while watching
    if args.watch and args.format != "text":
        print("smreport build: --format github is for a single build (in CI); --watch "
              "prints each rebuild's problems as text", file=sys.stderr)
        return 2
    problem = backend_problem(markdown)
    if problem:
        source = "--markdown" if args.markdown else f"SMREPORT_MARKDOWN={markdown!r}"
        print(f"smreport build: {source}: {problem}", file=sys.stderr)
        return 2
    if args.since:  # a wrong --since is a wrong command line, before any build or watch
        from .history import SinceError, check_since  # noqa: PLC0415 - only with --since
        try:
            check_since(args.content, args.since)
        except SinceError as error:
            print(f"smreport build: {error}", file=sys.stderr)
            return 2
    if args.watch:
        from .live import watch_and_build
        return watch_and_build(options, serve=args.serve, port=args.port, polling=args.poll)
    try:
        result = build(options)
    except PublishError as error:
        print(f"smreport: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # e.g. --out below a file, a read-only or full disk
        where = f"{error.filename}: " if error.filename else ""
        print(f"smreport: cannot write the site to {args.out}: {where}"
              f"{error.strerror or error}; choose another --out", file=sys.stderr)
        return 1
    # Annotations go where GitHub Actions reads workflow commands: standard output.
    print_problems(result.problems, args.content, args.format,
                   stream=sys.stdout if args.format == "github" else sys.stderr)
    if result.history is not None and result.history.notice:
        print(f"smreport: notice: {result.history.notice}", file=sys.stderr)
    for notice in result.notices:
        print(f"smreport: notice: {notice}", file=sys.stderr)
    if not result.ok:
        print(f"Build failed: {_summary(result)}; {args.out} was left as it was.",
              file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    items = len(result.agenda)
    verb = "Up to date (nothing changed since the last build)" if result.unchanged else "Built"
    print(f"{verb}: {args.out}/ as of {result.today}: {result.files_written} files, "
          f"{items} agenda item{'s' * (items != 1)}, in {elapsed:.2f}s.")
    return 0


def run_new(args: argparse.Namespace) -> int:
    from .scaffold import ScaffoldError, UsageError, new_note  # noqa: PLC0415 - not for a build

    try:
        path = new_note(args.content, args.type, args.title, today=args.today, goal=args.goal,
                        note_id=args.note_id)
    except ScaffoldError as error:
        print(f"smreport new: {error}", file=sys.stderr)
        return 2 if isinstance(error, UsageError) else 1
    print(f"Wrote {os.path.relpath(path)}: fill in the empty values, then run smreport check.")
    return 0


def run_init(args: argparse.Namespace) -> int:
    from .scaffold import ScaffoldError, UsageError, init_project  # noqa: PLC0415 - see run_new

    try:
        paths = init_project(args.folder, args.language, args.title, args.today)
    except ScaffoldError as error:
        print(f"smreport init: {error}", file=sys.stderr)
        return 2 if isinstance(error, UsageError) else 1
    for path in paths:
        print(f"Wrote {os.path.relpath(path)}")
    where = "" if args.folder.resolve() == Path.cwd() else f"cd {args.folder} && "
    print(f"Next: {where}smreport build, then open site/index.html.")
    return 0


def run_rules(args: argparse.Namespace) -> int:
    from .rulesdoc import rules_text  # noqa: PLC0415 - see run_new

    print(rules_text(), end="")
    return 0


COMMANDS = {"build": run_build, "check": run_check, "new": run_new, "init": run_init,
            "rules": run_rules}


def build_script_args(argv: Sequence[str]) -> list[str]:
    """build.py's arguments as `smreport`'s: a build, unless they start with a command
    (`python build.py check` is `smreport check`; build takes no bare words) or ask for
    the version."""
    if argv and (argv[0] in COMMANDS or argv[0] == "--version"):
        return list(argv)
    return ["build", *argv]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except WorkerError as error:
        print(f"smreport: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """The `smreport` command, `python -m smreport` and build.py: `main` as the whole
    process. Python's cyclic garbage collector stays off for it: a build or check pauses
    it anyway (see engine.collecting_garbage_later), and a collection once it is over
    would walk every object it made only to exit (about 0.15 s of `check` at 5,000
    notes); `--watch` collects when quiet by itself.

    Once the command is done, the process ends without the interpreter's teardown,
    which frees every object left one by one (about 0.3 s after a 5,000-note
    build): every file is closed and every worker joined by then, and the output
    is flushed here."""
    gc.disable()
    # A console or pipe in another encoding than UTF-8 (Windows' default) shows what it
    # cannot encode as escapes rather than failing on a Cyrillic message.
    for stream in (sys.stdout, sys.stderr):
        if not _takes_unicode(stream) and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        status = main(argv)
    except BrokenPipeError:  # a reader that went away (`| head`): stop, without a word
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # the same, or a stream closed under us
        status = status or 1
    os._exit(status)


if __name__ == "__main__":  # pragma: no cover
    run()
