"""Folders written whole: a lock per folder, a staging folder swapped in atomically, and recovery after a crash.

A stage that replaces a folder (a curate run, a ``splits/`` folder) builds the new one beside it, in
``.<name>.partial-<pid>-<time>``, and swaps it in when it is complete. The swap is one system call
where the system has it (Linux's ``renameat2(RENAME_EXCHANGE)``): the final path is the old folder
or the new one at every instant, and the old one is left at the staging path, to be deleted. Elsewhere
it is two renames (the old folder aside to ``.<name>.old-<pid>-<time>``, the new one into place); a
crash between them leaves no folder at the final path for a moment, and :func:`locked` puts the old
one back before anything reads it again.

Every writer holds the folder's lock (:func:`locked`, an ``flock`` on ``.<name>.lock`` beside it,
deleted when the writer lets go): a second writer fails at once with a message naming the process
that holds it, instead of racing the first to the swap. The lock is the kernel's, so a killed process releases it; what the killed
process leaves (a ``.partial-*`` folder, an ``.old-*`` one) is removed by the next writer, once no
live process owns it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil

from .distributed import launch
from .errors import RecipeError

try:
    import fcntl
except ImportError:  # Windows: no flock; folders are still swapped whole, writers are not kept apart
    fcntl = None  # type: ignore[assignment]


class FolderBusyError(RecipeError):
    """Another process is writing the folder (it holds the folder's lock)."""


def lock_file(folder: Path) -> Path:
    """The lock of ``folder``: ``.<name>.lock`` beside it (inside, it would be swapped away with the folder)."""
    return folder.parent / f".{folder.name}.lock"


_held: dict[str, tuple[int, int]] = {}  # lock file -> (descriptor, depth): a process may re-enter its own lock


@contextmanager
def locked(folder: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold the write lock of ``folder`` for the block; re-entrant within a process.

    A folder another process holds fails with :class:`FolderBusyError` (after ``wait`` seconds of
    retrying). On taking the lock, what a crashed writer left is repaired first (:func:`recover`).
    In a launch of several processes the lock is rank 0's, the one that writes (:mod:`curatune.distributed`):
    the other ranks take none and only read.
    """
    if not launch().is_main:
        yield
        return
    path = lock_file(folder)
    key = os.path.abspath(path)
    if key in _held:
        fd, depth = _held[key]
        _held[key] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _held[key]
            _held[key] = (fd, depth - 1)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(path, folder, wait)
    try:
        _write_owner(fd)
        _held[key] = (fd, 1)
        try:
            recover(folder)
            yield
        finally:
            del _held[key]
            path.unlink(missing_ok=True)  # while still holding it: see _acquire
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _acquire(path: Path, folder: Path, wait: float) -> int:
    """An open descriptor of ``path`` holding its lock.

    The holder deletes the file when it lets go, so a lock taken on a file that is no longer at
    ``path`` (deleted after this process opened it) is a lock on nothing: it is let go and taken again.
    """
    deadline = time.monotonic() + wait
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if _same_file(fd, path):
                return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise FolderBusyError([_busy_message(path, folder)]) from None
            time.sleep(0.2)
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _busy_message(path: Path, folder: Path) -> str:
    try:
        owner = orjson.loads(path.read_bytes())
        who = f"process {owner['pid']} (`{owner['command']}`, since {time.strftime('%H:%M:%S', time.localtime(owner['since']))})"
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        who = "another process"
    return (
        f"'{folder}' is being written by {who}: two writers would overwrite each other's results. Wait for it to finish, "
        f"or give this run another name (--name, or name: in the recipe)."
    )


def _write_owner(fd: int) -> None:
    owner = {"pid": os.getpid(), "command": " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:300]}
    owner["since"] = time.time()
    os.ftruncate(fd, 0)
    os.pwrite(fd, orjson.dumps(owner), 0)


def holds_lock(folder: Path) -> bool:
    """Whether this process holds ``folder``'s lock."""
    return os.path.abspath(lock_file(folder)) in _held


# ---- leftovers of a crash -------------------------------------------------------------------------

_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<pid>\d+)-(?P<time>\d+)$")


def _leftover_name(folder: Path, kind: str) -> Path:
    return folder.parent / f".{folder.name}.{kind}-{os.getpid()}-{int(time.time())}"


def _owner_gone(pid: int, started: int) -> bool:
    """Whether the process that made a leftover is gone: dead, or its pid reused by a process started later."""
    if pid == os.getpid():
        return False  # this process's own: removed by the code that made it
    try:
        return psutil.Process(pid).create_time() > started + 1
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return True
    except psutil.Error:
        return False  # not ours to judge (another user's process): leave it


def recover(folder: Path) -> list[Path]:
    """Repair what a crashed writer of ``folder`` left, and return what was removed.

    An interrupted two-rename swap left no folder and the old one aside: it is put back. Then every
    ``.partial-*`` folder beside it whose owner is gone is removed (of any name: a dead process writes
    nothing), and the ``.old-*`` folders of ``folder`` itself.
    """
    parent = folder.parent
    if not parent.is_dir():
        return []
    leftovers = []
    for entry in os.scandir(parent):
        m = _LEFTOVER.match(entry.name)
        if m and _owner_gone(int(m["pid"]), int(m["time"])):
            leftovers.append((entry, m))
    olds = sorted((m["time"], e.path) for e, m in leftovers if m["kind"] == "old" and m["name"] == folder.name)
    if olds and not os.path.lexists(folder):
        os.rename(olds[-1][1], folder)  # the newest old folder is the last whole one
    removed = []
    for entry, m in leftovers:
        if (m["kind"] == "partial" or m["name"] == folder.name) and os.path.lexists(entry.path):
            _remove(Path(entry.path))
            removed.append(Path(entry.path))
    return removed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


# ---- the swap ------------------------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _load_renameat2() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None  # a libc older than glibc 2.28
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_renameat2 = _load_renameat2()


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where that is not available."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # the kernel or the file system cannot
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap_in(new: Path, final: Path) -> None:
    """Put folder ``new`` at ``final``, where an old folder may be; afterwards ``final`` is the new one and the old one is gone.

    At every instant ``final`` is the old folder or the new one (with :func:`exchange`), or, where the
    system cannot exchange, absent for the moment between two renames, with the old one at
    ``.<name>.old-*`` for :func:`recover` to put back.
    """
    if not os.path.lexists(final):
        os.rename(new, final)
        return
    if exchange(new, final):
        _remove(new)  # it holds the old folder now
        return
    old = _leftover_name(final, "old")
    os.rename(final, old)
    os.rename(new, final)
    _remove(old)


@dataclass
class StagingDir:
    """A temporary folder beside ``final``, swapped into its place by :meth:`commit`.

    A stage builds its folder here, so the final folder is either the old one or the new one, whole:
    never a mix of new and stale results, and a crash leaves the old one (and a ``.partial-*`` folder
    that the next writer removes).
    """

    final: Path
    path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.path = _leftover_name(self.final, "partial")
        _remove(self.path)
        self.path.mkdir(parents=True)

    def commit(self) -> Path:
        swap_in(self.path, self.final)
        return self.final

    def abandon(self) -> None:
        _remove(self.path)


@contextmanager
def staged(final: Path, lock: bool = True) -> Iterator[Path]:
    """A :class:`StagingDir` for ``final``, under ``final``'s lock: committed when the block ends, abandoned when it raises."""
    with locked(final) if lock else _nothing():
        staging = StagingDir(final)
        try:
            yield staging.path
        except BaseException:
            staging.abandon()
            raise
        staging.commit()


@contextmanager
def _nothing() -> Iterator[None]:
    yield
