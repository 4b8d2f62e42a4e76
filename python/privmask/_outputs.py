"""Publishing output files atomically: the one durability policy every writer of privmask uses.

The policy (for masked videos, redaction sidecars, exports and their manifests, encrypted files,
mask sets and timelines):

1. the content is written to a new file beside the destination (same directory, so the final
   rename is atomic), named ``.<name>.<random>.part<suffix>`` so a leftover of a killed run is
   recognisable and never mistaken for a finished output;
2. the file is flushed and ``fsync``'d: its data is on disk before its name is;
3. it is renamed over the destination (``os.replace``: readers see the old file or the new one,
   never a partial one);
4. the directory is ``fsync``'d so the rename itself survives a power cut. A file system that
   cannot sync directories (``EINVAL``/``ENOTSUP``, some network and FUSE mounts) is accepted;
   any other failure is raised, as for the steps before.

On any failure before the rename, the temporary file is removed and the destination is left as
it was. New files get the mode the process's umask gives (as FFmpeg's outputs do), unless
``private=True`` (``0600``: plaintext staged for encryption, unmasked review material).

This module is private to the package; its names are shared by the rooms that write files.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PART_MARKER", "atomic_output", "fsync_dir", "publish", "temp_beside", "write_atomic"]

PART_MARKER = ".part"
"""What every temporary output's name contains before its suffix."""

_DIR_SYNC_UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EBADF})


def _umask() -> int:
    # os.umask can only be read by setting it; done once per call, restored at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temp_beside(dst: Path, *, private: bool = False) -> Path:
    """A new empty file in ``dst``'s directory with ``dst``'s extension (FFmpeg picks the
    container from it), created with the umask's mode (``0600`` if ``private``).

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
        fd, name = tempfile.mkstemp(
            dir=parent, prefix=f".{dst.name}.", suffix=f"{PART_MARKER}{dst.suffix}"
        )
    except PermissionError as e:
        raise PermissionError(
            errno.EACCES, "cannot write to the destination's directory", str(parent)
        ) from e
    try:
        if not private:
            os.fchmod(fd, 0o666 & ~_umask())
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
