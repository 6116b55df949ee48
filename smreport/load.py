"""Find and read the files of a content root, then parse each one.

This is the only stage that reads the content root. It lists the files,
reads their bytes and hands each to the pure parsers in `parse`, through a
`map` function that may run them in worker processes or serve them from a cache.
"""

from __future__ import annotations

import functools
import os
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .model import (
    FOLDERS,
    START,
    AnyNote,
    Content,
    NoteType,
    Problem,
    Project,
    Rules,
    UnparsedNote,
)
from .parse import parse_note_or_references, parse_project

TYPE_OF_FOLDER: dict[str, NoteType] = {folder: note_type for note_type, folder in FOLDERS.items()}


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One note to parse: its type, its path relative to the root, its bytes.

    A source listed but not read yet has `data` None, and the file's absolute
    name and size limit instead: it is read where it is parsed (`read_source`),
    in a worker process when there are several, not all first by one process.
    """

    note_type: NoteType
    path: str
    data: bytes | None
    file: str = ""
    limit: int = 0


@dataclass
class Inventory:
    """What is under a content root, before anything is parsed."""

    root: Path
    project: Path | None
    notes: list[tuple[NoteType, str, Path]] = field(default_factory=list)
    assets: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class FolderListing:
    """The notes of one note folder as last listed, valid while the folder is unchanged."""

    signature: tuple[int, int, int]  # the folder's mtime, ctime and inode
    notes: tuple[tuple[NoteType, str, Path], ...]
    problems: tuple[Problem, ...]


# A listing is trusted only if the folder had not changed for this long when it was made:
# a file added within the same tick of the file system's clock would not change its time.
SETTLED_NS = 2_000_000_000


@dataclass(frozen=True)
class Loaded:
    """The result of loading: the content (None if project.yml is unusable) and all problems.

    `present` holds the path of every note file found, parsed or not, so that a
    reference to a broken note is not also reported as a reference to a missing one.
    """

    content: Content | None
    problems: tuple[Problem, ...]
    present: frozenset[str]
    unparsed: tuple[UnparsedNote, ...] = ()  # broken notes' references, checked all the same


ParseResult = tuple[AnyNote | UnparsedNote | None, list[Problem]]
MapFunction = Callable[[Callable[[SourceFile], ParseResult], Iterable[SourceFile]],
                       Iterable[ParseResult]]


def _ignored(name: str) -> bool:
    return name.startswith((".", "_"))


def display_path(root: Path, relative: str, base: Path | None = None) -> str:
    """A content path as `check` prints it: relative to the current folder when possible."""
    full = root / relative
    try:
        return os.path.relpath(full, base or Path.cwd())
    except ValueError:  # another drive on Windows
        return str(full)


def take_inventory(root: Path, listings: dict[str, FolderListing] | None = None) -> Inventory:
    """List project.yml, the notes, the assets and anything unexpected under `root`.

    With `listings` (kept by a Builder between rebuilds), a note folder whose
    time stamps have not changed since it was last listed is not listed again:
    saving a note rewrites the file, not the folder.
    """
    inventory = Inventory(root, None)
    problems = inventory.problems
    real_root = root.resolve()

    def outside(path: Path) -> bool:
        try:
            path.resolve().relative_to(real_root)
        except (ValueError, OSError, RuntimeError):
            return True
        return False

    def refuse_link(relative: str) -> None:
        if not (root / relative).exists():  # a loop resolves nowhere
            problems.append(Problem(relative, 1, 1, "error", "symlink-outside",
                                    "this symbolic link loops or leads nowhere; remove it"))
            return
        problems.append(Problem(relative, 1, 1, "error", "symlink-outside",
                                "this symbolic link leads outside the content root and is not "
                                "followed; copy the file into the content root instead"))

    if not root.exists():
        problems.append(Problem(".", 1, 1, "error", "no-content",
                                f"the content folder {root} does not exist; pass --content DIR "
                                "with the folder that holds project.yml"))
        return inventory
    if not root.is_dir():
        problems.append(Problem(".", 1, 1, "error", "no-content",
                                f"{root} is a file, not a folder; pass --content DIR with the "
                                "folder that holds project.yml"))
        return inventory
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as error:
        problems.append(Problem(".", 1, 1, "error", "no-content",
                                f"cannot read the content folder {root}: {error.strerror}"))
        return inventory
    for entry in entries:
        name = entry.name
        if _undecodable(name):
            problems.append(_bad_name_problem(name))
            continue
        if _ignored(name):
            continue
        if entry.is_symlink() and outside(Path(entry.path)):
            refuse_link(name)
            continue
        if name == "project.yml" and entry.is_file():
            inventory.project = Path(entry.path)
        elif name in TYPE_OF_FOLDER and entry.is_dir():
            _list_notes_once(inventory, TYPE_OF_FOLDER[name], Path(entry.path), outside,
                             refuse_link, listings)
        elif name == "assets" and entry.is_dir():
            _list_assets(inventory, Path(entry.path), outside, refuse_link)
        elif name in ("project.yaml", "Project.yml"):
            problems.append(Problem(name, 1, 1, "warning", "unknown-file",
                                    "the project file must be named project.yml"))
        else:
            kind = "folder" if entry.is_dir() else "file"
            problems.append(Problem(_printable(name), 1, 1, "warning", "unknown-file",
                                    f"unknown {kind}, ignored; the content root holds "
                                    "project.yml, goals/, changes/, reviews/, disputes/ and "
                                    "assets/ (prefix a name with _ or . to hide it)"))
    if inventory.project is None:
        problems.append(Problem("project.yml", 1, 1, "error", "missing-project",
                                f"there is no project.yml in {root}; create one with the "
                                "project's title, start, units and people"))
    return inventory


def _undecodable(name: str) -> bool:
    """A file name that cannot be printed: bytes that are not UTF-8 (kept by Python as
    lone surrogates) or control characters such as a newline."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return not name.isprintable()


def _printable(name: str) -> str:
    """A file name as it can be printed: undecodable bytes and controls written as escapes."""
    raw = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in raw)


def _bad_name_problem(relative: str) -> Problem:
    return Problem(_printable(relative), 1, 1, "error", "bad-file-name",
                   f"the name '{_printable(relative)}' is not valid UTF-8 or holds control "
                   "characters, so it cannot be shown or checked out everywhere; rename it "
                   "using lowercase letters, digits and hyphens")


def _is_regular(entry: os.DirEntry[str]) -> bool:
    """A regular file (after symbolic links): not a folder, pipe, socket or device.

    The folder listing's file type answers for all but links (and file systems that
    do not give types), without a stat call for each of thousands of notes."""
    try:
        return entry.is_file()
    except OSError:
        return False


def _scan(folder: Path, relative: str, problems: list[Problem]) -> list[os.DirEntry[str]]:
    try:
        return sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as error:
        problems.append(Problem(relative, 1, 1, "error", "unreadable",
                                f"cannot read the folder: {error.strerror}"))
        return []


def _list_notes_once(inventory: Inventory, note_type: NoteType, folder: Path,
                     outside: Callable[[Path], bool], refuse_link: Callable[[str], None],
                     listings: dict[str, FolderListing] | None) -> None:
    """`_list_notes`, or its last result while the folder has not changed."""
    if listings is None:
        _list_notes(inventory, note_type, folder, outside, refuse_link)
        return
    try:
        info = folder.stat()
    except OSError:
        info = None
    signature = (info.st_mtime_ns, info.st_ctime_ns, info.st_ino) if info else (0, 0, 0)
    known = listings.get(str(folder))
    if info is not None and known is not None and known.signature == signature:
        inventory.notes.extend(known.notes)
        inventory.problems.extend(known.problems)
        return
    listings.pop(str(folder), None)
    notes_before, problems_before = len(inventory.notes), len(inventory.problems)
    links = _list_notes(inventory, note_type, folder, outside, refuse_link)
    settled = time.time_ns() - max(signature[0], signature[1]) >= SETTLED_NS
    if info is not None and settled and not links:
        listings[str(folder)] = FolderListing(
            signature, tuple(inventory.notes[notes_before:]),
            tuple(inventory.problems[problems_before:]))


def _list_notes(inventory: Inventory, note_type: NoteType, folder: Path,
                outside: Callable[[Path], bool], refuse_link: Callable[[str], None]) -> bool:
    """List one note folder into `inventory`; True if it holds symbolic links."""
    folder_name = FOLDERS[note_type]
    seen: dict[str, str] = {}
    links = False
    for entry in _scan(folder, folder_name, inventory.problems):
        relative = f"{folder_name}/{entry.name}"
        if _ignored(entry.name) or entry.name.endswith("~"):
            continue
        if _undecodable(entry.name):
            inventory.problems.append(_bad_name_problem(relative))
            continue
        if entry.is_symlink():
            links = True  # what it leads to may change without the folder changing
            if outside(Path(entry.path)):
                refuse_link(relative)
                continue
        if entry.name.endswith(".md") and not entry.is_dir() and not _is_regular(entry):
            inventory.problems.append(Problem(
                _printable(relative), 1, 1, "error", "unreadable",
                "this is not a regular file (a pipe, socket, device or broken link) and is not "
                "read; replace it with a Markdown note or remove it"))
            continue
        if entry.is_dir() or not entry.name.endswith(".md"):
            kind = "folder" if entry.is_dir() else "file"
            inventory.problems.append(Problem(
                _printable(relative), 1, 1, "warning", "unknown-file",
                f"unknown {kind} in {folder_name}/, ignored; notes are .md files directly "
                f"in {folder_name}/"))
            continue
        if _clashes(entry.name, seen, relative, inventory.problems):
            continue
        inventory.notes.append((note_type, relative, Path(entry.path)))
    return links


def _clashes(name: str, seen: dict[str, str], relative: str, problems: list[Problem]) -> bool:
    """True (and a problem naming both) if a name in the same folder differs only by case or
    Unicode normalisation: one file on macOS and Windows, two on Linux."""
    folded = unicodedata.normalize("NFC", name).casefold()
    if folded in seen:
        problems.append(Problem(
            relative, 1, 1, "error", "name-clash",
            f"the names {seen[folded]!r} and {name!r} differ only by case or "
            "Unicode normalisation and clash on macOS and Windows; rename one"))
        return True
    seen[folded] = name
    return False


def _list_assets(inventory: Inventory, folder: Path, outside: Callable[[Path], bool],
                 refuse_link: Callable[[str], None]) -> None:
    def unlisted(error: OSError) -> None:  # a folder os.walk cannot list: not dropped silently
        relative = Path(error.filename).relative_to(inventory.root).as_posix()
        inventory.problems.append(Problem(relative, 1, 1, "error", "unreadable",
                                          f"cannot read the folder: {error.strerror}"))

    for directory, subfolders, files in os.walk(folder, onerror=unlisted):
        subfolders[:] = sorted(d for d in subfolders if not _ignored(d))
        seen: dict[str, str] = {}
        for name in sorted(subfolders + files):
            if _undecodable(name) or _ignored(name):
                continue  # reported below, or hidden on purpose
            relative = Path(directory, name).relative_to(inventory.root).as_posix()
            if _clashes(name, seen, relative, inventory.problems) and name in subfolders:
                subfolders.remove(name)
        kept = set(seen.values())
        for name in sorted(files):
            if _ignored(name):
                continue
            path = Path(directory, name)
            relative = path.relative_to(inventory.root).as_posix()
            if _undecodable(relative):
                inventory.problems.append(_bad_name_problem(relative))
                continue
            if name not in kept:  # the second of two clashing names: not copied
                continue
            if path.is_symlink() and outside(path):
                refuse_link(relative)
                continue
            if not path.is_file():  # a pipe or device would hang or fail the copy
                inventory.problems.append(Problem(
                    relative, 1, 1, "warning", "unknown-file",
                    "not a regular file (a pipe, socket, device or broken link); not copied"))
                continue
            try:  # check and build agree: a file the copy could not read is an error here
                os.close(os.open(path, os.O_RDONLY))
            except OSError as error:
                inventory.problems.append(unreadable(relative, error))
                continue
            active = _active_asset(path, relative)
            if active is not None:
                inventory.problems.append(active)
                continue
            inventory.assets.append(relative)
        for name in subfolders[:]:  # os.walk does not enter a linked folder: say so
            path = Path(directory, name)
            if path.is_symlink():
                subfolders.remove(name)
                relative = path.relative_to(inventory.root).as_posix()
                if outside(path):
                    refuse_link(relative)
                else:
                    inventory.problems.append(Problem(
                        relative, 1, 1, "warning", "unknown-file",
                        "a link to a folder; its files are not copied: put the files "
                        "themselves here"))


# Files a browser opens as a page of the site itself, scripts and all: a team member's link
# to one would run them in the executive's browser (the script ban is the theme pages').
_ACTIVE_SUFFIXES = frozenset((".html", ".htm", ".xhtml", ".xht", ".shtml", ".xml", ".xsl",
                              ".xslt", ".js", ".mjs", ".svgz"))
# What in an SVG image can run when it is opened as a page: script elements, event
# attributes, script or HTML addresses, frames and plug-ins, a refresh; and an entity that
# could write any of them (Illustrator's plain-text entities for its namespaces are fine).
_SVG_ACTIVE = re.compile(
    rb"<\s*(?:script|iframe|frame|embed|object|applet|handler|meta|base)\b"
    rb"|\son[a-z]+\s*="
    rb"|(?:javascript|vbscript)\s*:|\bdata:(?!image/(?:png|jpe?g|gif|webp))"
    rb"|<!entity(?!\s+[\w.:-]+\s+\"[^\"<&%]*\"\s*>)", re.IGNORECASE)
_SVG_LIMIT = 10 << 20


def _active_asset(path: Path, relative: str) -> Problem | None:
    """The problem with an asset a browser would run as a page with scripts, or None."""
    suffix = path.suffix.lower()
    if suffix in _ACTIVE_SUFFIXES:
        what = f"a {suffix} file"
    elif suffix == ".svg":
        try:
            data = read_limited(path, _SVG_LIMIT)
        except OSError:
            return None  # unreadable: the copy reports it
        if len(data) > _SVG_LIMIT:
            what = f"an SVG image over {_SVG_LIMIT >> 20} MiB (too large to check for scripts)"
        elif (found := _SVG_ACTIVE.search(data)) is None:
            return None
        else:
            shown = found.group().decode("utf-8", "replace").strip()
            what = f"an SVG image that can run scripts (it holds {shown!r})"
    else:
        return None
    return Problem(relative, 1, 1, "error", "active-asset",
                   f"{what} would run in the reader's browser as a page of the site; "
                   "not published: export it as PDF or PNG (or a plain SVG), or host it "
                   "elsewhere and link to it")


def read_limited(path: Path | str, max_bytes: int | None = None) -> bytes:
    """A file's bytes, reading at most one byte more than `max_bytes` (None: all of it).

    A note far over the limit (a stray video renamed .md) is never read whole.
    Read through a buffered file: asked for up to the limit, it reads into a
    buffer the size of the limit, which the allocator maps apart and gives
    back to the system once the note is parsed. Plain `os.read` calls sized
    by the file are faster (40-50 ms for 5,000 notes against 120-250 ms) but
    leave those bytes in the heap, and a build's peak memory grew by 27 MiB
    at 5,000 notes.
    """
    with open(path, "rb") as handle:
        return handle.read() if max_bytes is None else handle.read(max_bytes + 1)


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def read_briefly(path: str, max_bytes: int | None = None) -> bytes:
    """A note's bytes for a parse or a digest that drops them at once, at most one byte more
    than `max_bytes` (None: all of them): sized by the file, in one `os.read` call (more
    if the file grows).

    Four to six times faster than `read_limited` (0.06 s for 5,000 notes against
    0.23-0.4 s), whose buffer the size of the limit keeps the bytes of notes
    held until their parse out of the heap; a note read where it is parsed
    (`read_source`) is not held.
    """
    handle = os.open(path, _READ_FLAGS)
    try:
        size = os.fstat(handle).st_size
        wanted = (size if max_bytes is None else min(size, max_bytes)) + 1
        data = os.read(handle, wanted)
        while len(data) < wanted:
            more = os.read(handle, wanted - len(data))
            if not more:
                break
            data += more
        return data
    finally:
        os.close(handle)


def too_large(relative: str, size: int, max_bytes: int) -> Problem:
    """The problem for a file over the size limit."""
    return Problem(relative, 1, 1, "error", "too-large",
                   f"the file is {size:,} bytes, over the limit of {max_bytes:,}; split it, "
                   "or raise rules.max_note_bytes in project.yml")


def unreadable(relative: str, error: OSError) -> Problem:
    """The problem for a note that could not be read."""
    return Problem(relative, 1, 1, "error", "unreadable",
                   f"cannot read the file: {error.strerror}")


def read_sources(inventory: Inventory, problems: list[Problem],
                 max_bytes: int = Rules.max_note_bytes,
                 read: Callable[[Path, int], bytes] | None = None,
                 read_in_parse: bool = False) -> Iterator[SourceFile]:
    """Read each note's bytes; a file that cannot be read is a problem, not a crash.

    With `read_in_parse`, nothing is read here: each source is listed unread, to
    be read where it is parsed (see `SourceFile`)."""
    for note_type, relative, path in inventory.notes:
        if read_in_parse:
            yield SourceFile(note_type, relative, None, str(path), max_bytes)
            continue
        try:
            data = (read or read_limited)(path, max_bytes)
            if len(data) > max_bytes:  # read_limited reads one byte more than the limit
                problems.append(too_large(relative, path.stat().st_size, max_bytes))
                continue
        except OSError as error:
            problems.append(unreadable(relative, error))
            continue
        yield SourceFile(note_type, relative, data)


def read_source(source: SourceFile) -> SourceFile | Problem:
    """A source listed unread, read now; or the problem that stopped it (as `read_sources`
    reports it)."""
    if source.data is not None:
        return source
    try:
        data = read_briefly(source.file, source.limit)
        if len(data) > source.limit:
            return too_large(source.path, os.stat(source.file).st_size, source.limit)
    except OSError as error:
        return unreadable(source.path, error)
    return SourceFile(source.note_type, source.path, data)


def parse_source(source: SourceFile, max_bytes: int = Rules.max_note_bytes) -> ParseResult:
    """Parse one source file (a top-level function, so worker processes can run it); one
    listed unread is read first."""
    read = read_source(source)
    if isinstance(read, Problem):
        return None, [read]
    assert read.data is not None  # read_source reads it
    return parse_note_or_references(read.note_type, read.path, read.data, max_bytes)


def load_content(root: Path, map_function: MapFunction = map,
                 read: Callable[[Path, int], bytes] | None = None,
                 listings: dict[str, FolderListing] | None = None,
                 inventory: Inventory | None = None, read_in_parse: bool = False) -> Loaded:
    """Read and parse everything under `root`; every problem of every file is reported.

    `read(path, max_bytes)` reads a note (a Builder passes one that skips files
    whose size and time stamps have not changed since it last read them),
    `listings` the note folders as last listed (see `take_inventory`), and
    `inventory` one just taken of `root`, not to take it again. With
    `read_in_parse`, each note is read by the parse (`map_function`'s workers)
    rather than all first here (see `SourceFile`).
    """
    if inventory is None:
        inventory = take_inventory(root, listings)
    problems = list(inventory.problems)
    project: Project | None = None
    if inventory.project is not None:
        try:
            size = inventory.project.stat().st_size
            data = read_limited(inventory.project, Rules.max_note_bytes)
        except OSError as error:
            problems.append(Problem("project.yml", 1, 1, "error", "unreadable",
                                    f"cannot read project.yml: {error.strerror}"))
        else:
            if size > Rules.max_note_bytes:
                problems.append(too_large("project.yml", size, Rules.max_note_bytes))
            else:
                project, project_problems = parse_project("project.yml", data)
                problems.extend(project_problems)
    max_bytes = project.rules.max_note_bytes if project else Rules.max_note_bytes
    parsed: dict[NoteType, dict[str, AnyNote]] = {t: {} for t in FOLDERS}
    sources = list(read_sources(inventory, problems, max_bytes, read, read_in_parse))

    # A partial of a module-level function, so worker processes can receive it.
    parse = functools.partial(parse_source, max_bytes=max_bytes)
    unparsed: list[UnparsedNote] = []
    for note, note_problems in map_function(parse, sources):
        problems.extend(note_problems)
        if isinstance(note, UnparsedNote):
            unparsed.append(note)
        elif note is not None:
            parsed[note.type][note.id] = note
    present = frozenset(relative for _type, relative, _path in inventory.notes)
    if project is None:
        return Loaded(None, tuple(problems), present, tuple(unparsed))
    content = Content(
        project=project,
        goals=parsed["goal"],  # type: ignore[arg-type]
        changes=parsed["change"],  # type: ignore[arg-type]
        reviews=parsed["review"],  # type: ignore[arg-type]
        disputes=parsed["dispute"],  # type: ignore[arg-type]
        assets=tuple(inventory.assets),
    )
    return Loaded(content, tuple(problems), present, tuple(unparsed))


__all__ = ["Loaded", "SourceFile", "load_content", "take_inventory", "display_path", "START"]
