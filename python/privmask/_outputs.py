"""Publishing output files atomically: the one durability policy every writer of privmask uses.

The policy (for masked videos, redaction sidecars, exports and their manifests, encrypted files,
mask sets and timelines):

1. the content is written to a new file beside the destination (same directory, so the final
   rename is atomic), named ``.<name>.<pid>-<random>.part<suffix>`` so a leftover of a killed
   run is recognisable, never mistaken for a finished output, and tied to the process that
   wrote it: the next run on the same destination removes the leftovers whose process is gone
   (:func:`sweep_leftovers`);
2. the file is flushed and ``fsync``'d: its data is on disk before its name is;
3. it is renamed over the destination (``os.replace``: readers see the old file or the new one,
   never a partial one);
4. the directory is ``fsync``'d so the rename itself survives a power cut. A file system that
   cannot sync directories (``EINVAL``/``ENOTSUP``, some network and FUSE mounts) is accepted;
   any other failure is raised, as for the steps before.

On any failure before the rename, the temporary file is removed and the destination is left as
it was. New files get the mode the process's umask gives and a replaced file keeps its mode (as
FFmpeg's outputs do), unless ``private=True`` (``0600``: plaintext staged for encryption,
unmasked review material).

This module is private to the package; its names are shared by the rooms that write files.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import stat
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = [
    "PART_MARKER",
    "Stopped",
    "atomic_output",
    "fsync_dir",
    "private_dir",
    "process_pool",
    "publish",
    "refuse_source",
    "same_file",
    "signals_held",
    "stop_on_signals",
    "sweep_leftovers",
    "temp_beside",
    "write_atomic",
]

PART_MARKER = ".part"
"""What every temporary output's name contains before its suffix."""

_DIR_SYNC_UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EBADF})


def _umask() -> int:
    # os.umask can only be read by setting it; done once per call, restored at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def sweep_leftovers(dst: Path) -> list[Path]:
    """Removes the temporary files a killed run left for ``dst``: exactly the names
    :func:`temp_beside` gives for this destination, ``.<name>.<pid>-<random>.part<suffix>``,
    whose process no longer exists. Returns what was removed. Files of live processes (another
    run writing the same destination now) and anything else are left alone."""
    pattern = re.compile(
        re.escape(f".{dst.name}.")
        + r"(\d+)-[A-Za-z0-9_]+"
        + re.escape(f"{PART_MARKER}{dst.suffix}")
    )
    removed: list[Path] = []
    try:
        entries = list(os.scandir(dst.parent))
    except OSError:
        return removed
    for entry in entries:
        m = pattern.fullmatch(entry.name)
        if m is None or not entry.is_file(follow_symlinks=False) or _alive(int(m.group(1))):
            continue
        with contextlib.suppress(FileNotFoundError):  # another run's sweep got there first
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def private_dir(parent: Path) -> Path:
    """A new directory in ``parent`` only this user can enter (``0700``), for plaintext that
    must never be readable by others, not even for a moment."""
    return Path(tempfile.mkdtemp(dir=parent, prefix=f".privmask.{os.getpid()}-"))


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether the paths ``a`` and ``b`` name one file: the same absolute path (``./x`` and
    ``x``), or one file reached through a symbolic or hard link. A path that does not exist
    names no file but itself."""
    if os.path.abspath(a) == os.path.abspath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def refuse_source(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], what: str = "the output"
) -> None:
    """Raises ``ValueError`` when ``dst`` is the file ``src`` (see :func:`same_file`), before
    anything is read or written: every command that reads one file and writes another refuses
    to replace its input. ``what`` names the output in the message."""
    if same_file(src, dst):
        raise ValueError(f"{dst} is the source itself; write {what} elsewhere")


def temp_beside(dst: Path, *, private: bool = False) -> Path:
    """A new empty file in ``dst``'s directory with ``dst``'s extension (FFmpeg picks the
    container from it), created with the umask's mode, or ``dst``'s own mode when it exists
    (``0600`` if ``private``). Leftovers of killed runs on ``dst`` are swept first.

    Raises ``IsADirectoryError`` when ``dst`` is a directory, ``FileNotFoundError`` when its
    directory does not exist, ``NotADirectoryError``, or ``PermissionError``."""
    if dst.is_dir():
        raise IsADirectoryError(errno.EISDIR, "the destination is a directory", str(dst))
    parent = dst.parent
    if not parent.exists():
        raise FileNotFoundError(
            errno.ENOENT, "the destination's directory does not exist", str(parent)
        )
    if not parent.is_dir():
        raise NotADirectoryError(
            errno.ENOTDIR, "the destination's parent is not a directory", str(parent)
        )
    try:
        sweep_leftovers(dst)
        fd, name = tempfile.mkstemp(
            dir=parent, prefix=f".{dst.name}.{os.getpid()}-", suffix=f"{PART_MARKER}{dst.suffix}"
        )
    except PermissionError as e:
        raise PermissionError(
            errno.EACCES, "cannot write to the destination's directory", str(parent)
        ) from e
    try:
        if not private:
            try:
                mode = stat.S_IMODE(os.stat(dst).st_mode) & 0o777
            except OSError:
                mode = 0o666 & ~_umask()
            os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return Path(name)


def fsync_dir(path: Path) -> None:
    """Makes a rename in directory ``path`` durable (see the module's policy)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in _DIR_SYNC_UNSUPPORTED:
            raise
    finally:
        os.close(fd)


def publish(tmp: Path, dst: Path) -> None:
    """Steps 2-4 of the policy: ``fsync`` ``tmp``, rename it over ``dst``, sync the directory."""
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, dst)
    fsync_dir(dst.parent)


@contextlib.contextmanager
def atomic_output(dst: str | os.PathLike[str], *, private: bool = False) -> Iterator[Path]:
    """Yields a temporary path beside ``dst`` to write; publishes it over ``dst`` when the block
    ends without an error, removes it otherwise. ``dst`` is untouched on failure."""
    target = Path(dst)
    tmp = temp_beside(target, private=private)
    try:
        yield tmp
        publish(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(dst: str | os.PathLike[str], data: bytes | str, *, private: bool = False) -> None:
    """Writes ``data`` (text is UTF-8) to ``dst`` atomically and durably."""
    payload = data.encode() if isinstance(data, str) else data
    with atomic_output(dst, private=private) as tmp:
        tmp.write_bytes(payload)


# --- stopping cleanly --------------------------------------------------------------------------


class Stopped(SystemExit):
    """The process was asked to stop by a signal (SIGTERM from ``docker stop`` or systemd,
    SIGHUP from a closed terminal); raised in the main thread by :func:`stop_on_signals` so
    every ``finally`` runs and no temporary output remains. ``code`` is ``128 + signum``, the
    shell's convention, and ``signal_name`` names the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum
        self.signal_name = signal.Signals(signum).name

    def __reduce__(self) -> tuple[type[Stopped], tuple[int]]:
        return (Stopped, (self.signum,))  # a pool worker's stop reaches the parent intact


@contextlib.contextmanager
def stop_on_signals(
    signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGHUP),
) -> Iterator[None]:
    """Within the block, ``signals`` raise :class:`Stopped` in the main thread instead of
    killing the process outright; SIGINT keeps raising ``KeyboardInterrupt``. For programs (the
    command line): a library never installs signal handlers. The previous handlers come back
    when the block ends. Outside the main thread it does nothing (Python allows handlers only
    there)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Stopped(signum)

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _stop_on_first_signal() -> None:
    """A pool worker's initializer: the first SIGTERM, SIGHUP or SIGINT (to the worker alone,
    or to the whole process group) raises :class:`Stopped` in its job, whose cleanup removes
    its temporary output; later ones do nothing, so a second one (the parent passing the stop
    on) cannot cut that cleanup short. ``Stopped`` for SIGINT too: it is a ``SystemExit``, so
    a worker stopped between jobs exits without a traceback. (The handler changes no handler:
    ``signal.signal`` inside a handler raises "ignored due to race condition" when another
    signal is already pending.)"""
    stopping = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise Stopped(signum)

    for s in _WORKER_SIGNALS:
        signal.signal(s, handler)
    # tqdm guards its bars with a multiprocessing lock, a named semaphore that multiprocessing's
    # resource tracker follows: a worker stopped mid-exit left it behind, and the tracker
    # printed "leaked semaphore objects" after the stop line. A worker draws no bars of other
    # processes, so a thread lock does.
    import threading

    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())


_WORKER_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


@contextlib.contextmanager
def process_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``workers`` ``spawn``ed processes (no decoder threads are forked) that stops
    with its caller: when the block ends with an exception (a signal turned into
    :class:`Stopped`, Ctrl-C, a bug), queued jobs are cancelled and running ones are sent
    SIGTERM, so each removes its temporary output, and the workers are joined before the
    exception goes on. Without this a stopped command kept its workers running to the end, and
    a signal to the whole group killed them with their ``.part`` files in place."""
    import multiprocessing
    from multiprocessing import resource_tracker

    # The pool's semaphores are watched by multiprocessing's resource tracker, a process of
    # this group that ignores SIGINT and SIGTERM but dies of SIGHUP (a closed terminal), and
    # its replacement then fails with tracebacks. Started with SIGHUP blocked, it keeps the
    # mask and lives until this process ends.
    if hasattr(signal, "pthread_sigmask"):
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
        try:
            resource_tracker.ensure_running()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_stop_on_first_signal,
    )
    # The pool has no public way to stop a running job: its worker processes, by pid (kept
    # here: shutting down forgets them).
    processes: dict[int, Any] = {}
    try:
        try:
            yield pool
        finally:
            processes.update(getattr(pool, "_processes", None) or {})
    except BaseException as e:
        with signals_held():  # a second signal must not cut the stopping short
            _stop_workers(pool, processes)  # joined: their exit codes are known
        # A signal to the whole group can stop a worker between jobs before this process
        # runs its own handler: the broken pool is that stop, not a crash.
        stopped = [p.exitcode - 128 for p in processes.values() if (p.exitcode or 0) > 128]
        if isinstance(e, BrokenProcessPool) and stopped:
            raise Stopped(stopped[0]) from e
        raise
    pool.shutdown(wait=True)


def _stop_workers(pool: ProcessPoolExecutor, workers: dict[int, Any]) -> None:
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers.values():
        if process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
    pool.shutdown(wait=True)


ASYNC_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM")
"""The signals a process may receive at any moment (from another process or the terminal)."""


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Holds back the asynchronous signals (:data:`ASYNC_SIGNALS`) in the block, so none
    interrupts it half-way (a pipeline's threads starting, a pool's workers being stopped); a
    signal that arrives meanwhile is delivered when the block ends. Threads started inside
    inherit the mask, so signals are only ever delivered to the calling thread, where Python
    runs its handlers. Outside the main thread it does nothing."""
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "pthread_sigmask"
    ):
        yield
        return
    held = {getattr(signal, name) for name in ASYNC_SIGNALS if hasattr(signal, name)}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
