"""Publish a site whole or not at all.

The site is written into a fresh folder beside the output folder, then
swapped in: atomically with Linux's renameat2(RENAME_EXCHANGE) where it
exists, else with two renames that the next build repairs if interrupted.
A marker file says a folder is smreport's, and no other folder is replaced.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

MARKER = ".smreport-site"
_NEW_PREFIX = ".smreport-new-"
_OLD_PREFIX = ".smreport-old-"


class PublishError(Exception):
    """The output folder cannot be used; the message says why and what to do."""


def check_output(out: Path, content_root: Path) -> None:
    """Refuse an output folder that would overwrite the content or a folder not ours."""
    out_real = out.resolve()
    root_real = content_root.resolve()
    if out_real == root_real or root_real in out_real.parents:
        raise PublishError(f"the output folder {out} is inside the content root {content_root}; "
                           "choose another --out")
    if out_real in root_real.parents:
        raise PublishError(f"the output folder {out} contains the content root {content_root}; "
                           "it would be replaced by the site: choose another --out")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise PublishError(f"{out} exists and is not a folder; choose another --out")
    if out.is_dir() and not (out / MARKER).is_file() and any(out.iterdir()):
        raise PublishError(f"{out} exists, is not empty and was not made by smreport (it has no "
                           f"{MARKER} file); empty it or choose another --out")


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold an exclusive lock for `out`, so two builds never write it at once."""
    import fcntl  # POSIX only; imported here so the module loads everywhere

    out.parent.mkdir(parents=True, exist_ok=True)
    lock_path = out.parent / f".{out.name}.smreport-lock"
    with open(lock_path, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EACCES):
                raise PublishError(f"another smreport build is writing {out}; wait for it to "
                                   "finish, then build again") from None
            raise
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _beside_pattern(out: Path, prefix: str) -> re.Pattern[str]:
    # The exact random suffix keeps "site" from matching the folders of "site-en".
    return re.compile(re.escape(f"{prefix}{out.name}-") + r"[0-9a-f]{16}")


def _make_beside(out: Path, prefix: str) -> Path:
    """A new empty folder beside `out`, named so that clean_leftovers finds only its own."""
    while True:
        path = out.parent / f"{prefix}{out.name}-{secrets.token_hex(8)}"
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:  # pragma: no cover - 64 random bits
            continue
        return path


def clean_leftovers(out: Path) -> None:
    """Remove what an interrupted build left beside `out`, restoring `out` if needed."""
    parent = out.parent
    if not parent.is_dir():
        return
    new_pattern, old_pattern = _beside_pattern(out, _NEW_PREFIX), _beside_pattern(out, _OLD_PREFIX)
    leftovers = sorted(p for p in parent.iterdir()
                       if (new_pattern.fullmatch(p.name) or old_pattern.fullmatch(p.name))
                       and p.is_dir() and not p.is_symlink())
    if not out.exists():
        # Killed between the two renames: the previous site is the newest "old" folder.
        olds = [p for p in leftovers
                if old_pattern.fullmatch(p.name) and (p / MARKER).is_file()]
        if olds:
            newest = max(olds, key=lambda p: p.stat().st_mtime)
            os.rename(newest, out)
            leftovers.remove(newest)
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True)


def _exchange(first: Path, second: Path) -> bool:
    """Atomically swap two paths (Linux renameat2); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second),
                       rename_exchange)
    return bool(result == 0)


class Written(bytes):
    """A page that a worker process already wrote into the staging folder.

    It stands in for the page's bytes (it is empty) and carries their digest, so
    the pages of a parallel build need not travel back to the main process, and
    the file's size and time stamp as written (see `TreeWriter.written`).
    """

    digest: str
    stat: tuple[int, int]

    def __new__(cls, digest: str, stat: tuple[int, int]) -> Written:
        page = super().__new__(cls)
        page.digest = digest
        page.stat = stat
        return page

    def __reduce__(self) -> tuple[type[Written], tuple[str, tuple[int, int]]]:
        # As it comes back from a page worker: by its fields (bytes' own way of pickling
        # would call __new__ with the empty bytes instead).
        return Written, (self.digest, self.stat)


# Never through a link at the page's own name (O_NOFOLLOW is POSIX; elsewhere 0).
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)


class TreeWriter:
    """Writes files into a fresh folder, refusing any path that leaves it.

    A path is checked as text, and every folder on its way is either made here
    or found to be a real folder, not a symbolic link, so no write can be
    redirected. That is one mkdir and one open per page, which counts at
    thousands of pages. Several processes may write into one folder at once.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = str(folder.resolve())
        self.made = {self.folder}  # folders known to be real folders inside
        # Each file written, by its path in the folder: its size and time stamp, taken
        # from the open file, so the stamp need not list the site again (Stamp.save).
        self.written: dict[str, tuple[int, int]] = {}

    def target(self, relative: str) -> str:
        """The absolute path for `relative`, with its folders made."""
        target = os.path.normpath(os.path.join(self.folder, relative))
        if not target.startswith(self.folder + os.sep):
            raise PublishError(f"refusing to write {relative!r} outside the output folder")
        self._make(os.path.dirname(target), relative)
        return target

    def _make(self, folder: str, relative: str) -> None:
        if folder in self.made:
            return
        self._make(os.path.dirname(folder), relative)
        try:
            os.mkdir(folder)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(folder).st_mode):
                raise PublishError(f"refusing to write {relative!r}: a folder on its way is "
                                   "a link or a file") from None
        self.made.add(folder)

    def write(self, relative: str, data: bytes) -> None:
        # Plain system calls: a buffered file object per page costs more than the write.
        descriptor = os.open(self.target(relative), _CREATE, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view):]
            written = os.fstat(descriptor)
        finally:
            os.close(descriptor)
        self.written[relative] = (written.st_size, written.st_mtime_ns)

    def copy(self, relative: str, source: Path) -> None:
        target = self.target(relative)
        if os.path.islink(target):
            raise PublishError(f"refusing to write {relative!r} through a link")
        shutil.copyfile(source, target)
        written = os.stat(target)
        self.written[relative] = (written.st_size, written.st_mtime_ns)


def write_tree(folder: Path, pages: Iterable[tuple[str, bytes]],
               files: Iterable[tuple[str, Path]],
               listing: dict[str, tuple[int, int]] | None = None) -> int:
    """Write pages and copy files into `folder`, refusing any path that leaves it.

    A `Written` page is counted but not written: a worker wrote it already.
    `listing`, if given, receives each file's size and time stamp as written.
    """
    count = 0
    writer = TreeWriter(folder)
    for relative, data in pages:
        if isinstance(data, Written):
            if listing is not None:
                listing[relative] = data.stat
        else:
            writer.write(relative, data)
        count += 1
    for relative, source in files:
        writer.copy(relative, source)
        count += 1
    if listing is not None:
        listing.update(writer.written)
    return count


@contextlib.contextmanager
def staged(out: Path, listing: dict[str, tuple[int, int]] | None = None) -> Iterator[Path]:
    """A new empty folder to write a site into, swapped in for `out` when the block ends.

    If the block raises, the folder is removed and `out` is left exactly as it was.
    `listing`, if given, receives the size and time stamp of the marker file written here.
    """
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(out)
    staging = _make_beside(out, _NEW_PREFIX)
    try:
        yield staging
        (staging / MARKER).write_text("This folder is written by smreport; it is replaced "
                                      "whole on every build.\n", encoding="utf-8")
        if listing is not None:
            marker = (staging / MARKER).stat()
            listing[MARKER] = (marker.st_size, marker.st_mtime_ns)
        os.chmod(staging, 0o755)
        if out.exists() and _exchange(staging, out):
            shutil.rmtree(staging, ignore_errors=True)  # now holds the previous site
            return
        if out.exists():
            old = _make_beside(out, _OLD_PREFIX)
            os.rmdir(old)
            os.rename(out, old)
            os.rename(staging, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def publish(out: Path, pages: Iterable[tuple[str, bytes]],
            files: Iterable[tuple[str, Path]] = ()) -> int:
    """Write a complete new site, then swap it in for `out`. Returns the file count.

    If writing fails, `out` is left exactly as it was.
    """
    with staged(out) as staging:
        return write_tree(staging, pages, files)
