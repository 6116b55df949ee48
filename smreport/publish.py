"""Publish a site whole or not at all.

The site is written into a fresh folder beside the output folder, then
swapped in: atomically with Linux's renameat2(RENAME_EXCHANGE) where it
exists, else with two renames that the next build repairs if interrupted.
A marker file says a folder is smreport's, and no other folder is replaced.

With a `Spare`, the site the swap replaces is kept in the cache folder
instead of deleted, and the next build writes into it only what changed
(see `Spare`).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import hmac
import os
import pickle
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

MARKER = ".smreport-site"
_NEW_PREFIX = ".smreport-new-"
_OLD_PREFIX = ".smreport-old-"


class PublishError(Exception):
    """The output folder cannot be used; the message says why and what to do."""


def check_output(out: Path, content_root: Path, cache: Path | None = None) -> None:
    """Refuse an output folder that would overwrite the content, the cache or a folder
    not ours."""
    out_real = out.resolve()
    root_real = content_root.resolve()
    if out_real == root_real or root_real in out_real.parents:
        raise PublishError(f"the output folder {out} is inside the content root {content_root}; "
                           "choose another --out")
    if out_real in root_real.parents:
        raise PublishError(f"the output folder {out} contains the content root {content_root}; "
                           "it would be replaced by the site: choose another --out")
    if cache is not None:
        cache_real = cache.resolve()
        if out_real == cache_real or cache_real in out_real.parents \
                or out_real in cache_real.parents:
            raise PublishError(f"the output folder {out} overlaps the build cache {cache}, "
                               "which would be published with the site or replaced by it; "
                               "choose another --out")
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
        remove_tree(path)


def remove_tree(path: Path) -> None:
    """Delete a folder smreport made (a previous site, a staged one), best-effort.

    A site whose folders were made read-only (chmod -R a-w) cannot be emptied, and
    would stay beside the output, one whole copy more after every build: its folders,
    never followed through links, are made writable and the deletion tried again.
    """
    shutil.rmtree(path, ignore_errors=True)
    if not os.path.lexists(path):
        return
    for folder, folders, _files in os.walk(path):  # does not follow links to folders
        for name in [".", *folders]:
            with contextlib.suppress(OSError):
                target = os.path.join(folder, name)
                if not os.path.islink(target):
                    os.chmod(target, stat.S_IMODE(os.lstat(target).st_mode) | stat.S_IRWXU)
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

    def __init__(self, folder: Path, replacing: bool = False) -> None:
        self.folder = str(folder.resolve())
        # In a reused Spare, a file may stand where this site has a folder, or the other
        # way round (assets): it is replaced, not refused.
        self.replacing = replacing
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
                if not self.replacing:
                    raise PublishError(f"refusing to write {relative!r}: a folder on its way "
                                       "is a link or a file") from None
                os.unlink(folder)
                os.mkdir(folder)
        self.made.add(folder)

    def _clear(self, target: str) -> None:
        """In a reused Spare: remove a folder standing where a file goes."""
        if self.replacing and os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)

    def write(self, relative: str, data: bytes) -> None:
        # Plain system calls: a buffered file object per page costs more than the write.
        target = self.target(relative)
        self._clear(target)
        descriptor = os.open(target, _CREATE, 0o644)
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
        self._clear(target)
        shutil.copyfile(source, target)
        written = os.stat(target)
        self.written[relative] = (written.st_size, written.st_mtime_ns)


def write_tree(folder: Path, pages: Iterable[tuple[str, bytes]],
               files: Iterable[tuple[str, Path]],
               listing: dict[str, tuple[int, int]] | None = None,
               kept: Mapping[str, KeptFile] | None = None) -> int:
    """Write pages and copy files into `folder`, refusing any path that leaves it.

    A `Written` page is counted but not written: a worker wrote it already.
    `listing`, if given, receives each file's size and time stamp as written.
    `kept` names the files already in `folder` (a reused `Spare`): a page equal to
    its kept file is not written again, and a kept file this site no longer has is
    removed, with the folders it leaves empty.
    """
    writer = TreeWriter(folder, replacing=kept is not None)
    kept = kept or {}
    seen: set[str] = set()
    for relative, data in pages:
        seen.add(relative)
        if isinstance(data, Written):
            if listing is not None:
                listing[relative] = data.stat
        elif (old := kept.get(relative)) is not None and old.holds(data):
            if listing is not None:
                listing[relative] = old.stat
        else:
            writer.write(relative, data)
    for relative, source in files:
        seen.add(relative)
        writer.copy(relative, source)
    if listing is not None:
        listing.update(writer.written)
    _prune(folder, kept.keys() - seen)
    return len(seen)


def page_digest(data: bytes) -> str:
    """What a page's bytes are known by in manifests (`--watch`) and a `Spare`'s record."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _prune(folder: Path, stale: Iterable[str]) -> None:
    """Remove the `stale` files of `folder`, then the folders that leaves empty."""
    emptied: set[str] = set()
    for relative in stale:
        path = os.path.join(folder, relative)
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):  # gone with its folder
            if stat.S_ISDIR(os.lstat(path).st_mode):
                continue  # a kept file this site made a folder of (`TreeWriter.replacing`)
            os.unlink(path)
        emptied.add(os.path.dirname(path))
    _remove_empty(folder, emptied)


def _remove_empty(folder: Path, candidates: Iterable[str]) -> None:
    """Remove each of `candidates` (paths of folders inside `folder`) that is empty, and
    then its parents that this leaves empty."""
    top = str(folder)
    for path in sorted(candidates, key=len, reverse=True):  # the deepest first
        while path != top and path.startswith(top + os.sep):
            try:
                os.rmdir(path)
            except OSError:  # not empty (or gone): its parents are not empty either
                break
            path = os.path.dirname(path)


class KeptFile(NamedTuple):
    """A file of a reused `Spare` that is exactly as its record says."""

    digest: str
    stat: tuple[int, int]  # size and time stamp (ns)

    def holds(self, data: bytes, digest: str | None = None) -> bool:
        """Whether the file holds `data` (whose `digest` may be known already)."""
        return self.stat[0] == len(data) and self.digest == (digest or page_digest(data))


class Spare:
    """The site a build's swap replaced, kept in the cache folder for the next build.

    A build into an existing site used to write every page into a fresh folder,
    then delete the old site: at 5,000 notes about 2.8 s and 1.3 s on this
    project's test machine, where the pages that changed take milliseconds.
    With a spare, `staged` moves the spare in as the folder to write, keeps in it
    every file that is exactly as its record says (size, time stamp, one link,
    a regular file, and the digest the record gives for its bytes), and the
    build writes only the pages that differ and removes the files the site no
    longer has (`write_tree`). The swap then leaves the replaced site as the
    next spare, with `current`, the record of that site, beside it.

    The spare is the cache's: deleting the cache folder deletes it. A file that
    is not as recorded (edited, linked, replaced by a link or a folder) is
    removed before the build writes, never trusted. A build that fails removes
    the spare with its staging folder, as it does a fresh one.
    """

    def __init__(self, cache_dir: Path, name: str,
                 current: dict[str, tuple[str, int, int]] | None,
                 current_keys: Mapping[str, str] | None = None) -> None:
        self.path = cache_dir / f"spare-{name}"
        self.record = cache_dir / f"spare-{name}.pickle"
        self.current = current  # the site in the output folder: path -> digest, size, time
        self.current_keys = dict(current_keys or {})  # and its pages' keys, by path
        # What `take` kept of the spare, and the page key of each of its pages by path, as
        # the build that wrote them recorded them; None while no spare is in use.
        self.kept: dict[str, KeptFile] | None = None
        self.page_keys: dict[str, str] = {}

    def take(self, staging_name: Path) -> bool:
        """Move the spare to `staging_name` (beside the output folder) and keep what is as
        recorded; False (and no spare left) if there is none or it cannot be moved."""
        try:
            record = read_pickle(self.record)
            self.record.unlink()  # from here on it describes no folder
        except Exception:  # noqa: BLE001 - a missing or damaged record: no spare
            record = None
        files = record.get("files") if isinstance(record, dict) else None
        keys = record.get("page_keys") if isinstance(record, dict) else None
        if not isinstance(files, dict) or not isinstance(keys, dict) \
                or self.path.is_symlink() or not self.path.is_dir():
            self.discard()
            return False
        try:
            os.rename(self.path, staging_name)  # fails across file systems
        except OSError:
            self.discard()
            return False
        try:
            self.kept = _verify(staging_name, files)
        except OSError:  # a spare that cannot be checked is no spare
            shutil.rmtree(staging_name, ignore_errors=True)
            return False
        self.page_keys = keys
        return True

    def keep(self, replaced: Path) -> bool:
        """Keep `replaced`, the site the swap took out, as the next spare; False if it
        cannot be (no record of it, or the cache is on another file system)."""
        if self.current is None:
            return False
        self.discard()
        try:
            os.rename(replaced, self.path)
        except OSError:
            return False
        try:  # the new site is published: a record that cannot be written costs the spare
            write_pickle(self.record, {"files": self.current, "page_keys": self.current_keys})
        except OSError:
            self.discard()
        return True

    def discard(self) -> None:
        self.record.unlink(missing_ok=True)
        if self.path.is_symlink():
            self.path.unlink()
        elif self.path.exists():
            shutil.rmtree(self.path, ignore_errors=True)


# The cache's files are pickles, which run code when read. Each is signed with a key of the
# user's, kept outside every project (`cache_key`): a pickle committed to a notes
# repository, or restored from a CI cache someone else could write, is never unpickled.
_MAC_SIZE = 32
_KEY: bytes | None = None
_KEY_PROBLEM: str | None = None  # why the key could not be kept, if it could not


def _stored_key(path: Path) -> bytes:
    key = path.read_bytes()
    if len(key) < _MAC_SIZE:
        raise ValueError(f"{path} is too short")
    return key


def _made_key(path: Path) -> bytes:
    """A new key at `path`, written whole beside it and then linked in, so that another
    process never reads half of it; theirs, if another process linked one in first."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".cache-key-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(secrets.token_bytes(_MAC_SIZE))
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return _stored_key(path)


def cache_key() -> bytes:
    """This user's key for the cache's signatures: made once, in a file only they can read,
    under $XDG_CACHE_HOME (~/.cache) /smreport/; a key of this process alone where that
    cannot be done (the cache is then not used: `cache_key_kept`)."""
    global _KEY, _KEY_PROBLEM
    if _KEY is None:
        home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                 ".cache")
        path = Path(home, "smreport", "cache-key")
        try:
            try:
                _KEY = _stored_key(path)
            except (OSError, ValueError):
                _KEY = _made_key(path)
        except (OSError, ValueError) as error:
            _KEY = secrets.token_bytes(_MAC_SIZE)
            _KEY_PROBLEM = f"{path}: {getattr(error, 'strerror', None) or error}"
    return _KEY


def cache_key_kept() -> str | None:
    """None once this user's cache key is kept (made if need be); else why it cannot be,
    and a cache signed with a key of this process alone would only ever be rebuilt."""
    cache_key()
    return _KEY_PROBLEM


def _signature(data: bytes) -> bytes:
    return hashlib.blake2b(data, key=cache_key()[:64], digest_size=_MAC_SIZE).digest()


def write_pickle(path: Path, value: object) -> None:
    """Pickle `value` to `path`, signed (see `cache_key`), atomically: into a file beside
    it, then renamed over it."""
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(_signature(data))
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def read_pickle(path: Path) -> object:
    """What `write_pickle` wrote to `path`; ValueError if this user's smreport did not
    write it (its signature does not match), before anything is unpickled."""
    with open(path, "rb") as handle:
        signature, data = handle.read(_MAC_SIZE), handle.read()
    if not hmac.compare_digest(signature, _signature(data)):
        raise ValueError(f"{path} was not written by this user's smreport; not read")
    return pickle.loads(data)  # noqa: S301 - signed by this user's own smreport


def _verify(folder: Path, record: dict[str, tuple[str, int, int]]) -> dict[str, KeptFile]:
    """The files of `folder` exactly as `record` says; anything else in it is removed."""
    kept: dict[str, KeptFile] = {}
    folders = [""]
    emptied: list[str] = []  # folders that may be empty now
    while folders:
        relative = folders.pop()
        prefix = relative + "/" if relative else ""
        keeps = False
        with os.scandir(os.path.join(folder, relative)) as entries:
            for entry in entries:
                name = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    folders.append(name)
                    keeps = True  # checked on its own
                    continue
                info = entry.stat(follow_symlinks=False)
                expected = record.get(name)
                if expected is not None and stat.S_ISREG(info.st_mode) and info.st_nlink == 1 \
                        and (info.st_size, info.st_mtime_ns) == tuple(expected[1:]):
                    kept[name] = KeptFile(expected[0], (info.st_size, info.st_mtime_ns))
                    keeps = True
                else:  # written by someone else, or not by the build the record is of
                    os.unlink(entry.path)
        if not keeps and relative:
            emptied.append(os.path.join(folder, relative))
    _remove_empty(folder, emptied)
    return kept


@contextlib.contextmanager
def staged(out: Path, listing: dict[str, tuple[int, int]] | None = None,
           spare: Spare | None = None) -> Iterator[Path]:
    """A new empty folder to write a site into, swapped in for `out` when the block ends.

    If the block raises, the folder is removed and `out` is left exactly as it was.
    `listing`, if given, receives the size and time stamp of the marker file written here.
    With a `spare`, the folder is the spare when there is one (`spare.kept` then names the
    files it kept), and the site the swap replaces becomes the next spare.
    """
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(out)
    staging = _make_beside(out, _NEW_PREFIX)
    if spare is not None:
        os.rmdir(staging)  # its name, for the spare or a fresh folder
        if not spare.take(staging):
            staging.mkdir(mode=0o700)
    try:
        yield staging
        (staging / MARKER).write_text("This folder is written by smreport; it is replaced "
                                      "whole on every build.\n", encoding="utf-8")
        if listing is not None:
            marker = (staging / MARKER).stat()
            listing[MARKER] = (marker.st_size, marker.st_mtime_ns)
        os.chmod(staging, 0o755)
        if out.exists() and _exchange(staging, out):
            _set_aside(staging, spare)  # now holds the previous site
            return
        if out.exists():
            old = _make_beside(out, _OLD_PREFIX)
            os.rmdir(old)
            os.rename(out, old)
            os.rename(staging, out)
            _set_aside(old, spare)
        else:
            os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _set_aside(replaced: Path, spare: Spare | None) -> None:
    """The previous site, after the swap: the next spare, else deleted."""
    if spare is None or not spare.keep(replaced):
        remove_tree(replaced)


def publish(out: Path, pages: Iterable[tuple[str, bytes]],
            files: Iterable[tuple[str, Path]] = ()) -> int:
    """Write a complete new site, then swap it in for `out`. Returns the file count.

    If writing fails, `out` is left exactly as it was.
    """
    with staged(out) as staging:
        return write_tree(staging, pages, files)
