"""The mask file the editor was given: opened at the version in force, saved atomically.

A mask-set file is replaced by the edited set. A timeline file is append-only: the
editor opens the version in force at the picture's recording time, and saving appends the
edited set as a new version with its ``since``; earlier versions are never rewritten. Every
write goes to a temporary file in the same directory, is flushed to disk, and is renamed over
the old file, so a crash leaves the old file or the new one, never half of one. A file changed
on disk since the editor read it is not overwritten (:class:`ChangedOnDiskError`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from privmask.errors import MaskConfigError, PrivmaskError
from privmask.masks.maskset import MaskSet
from privmask.masks.timeline import MaskTimeline, parse_masks

__all__ = ["ChangedOnDiskError", "MaskFile", "Opened", "atomic_write"]


class ChangedOnDiskError(PrivmaskError, RuntimeError):
    """The mask file changed on disk after the editor read it (another editor, a deployment):
    saving would silently drop those changes, so it is refused until the file is reopened."""


def atomic_write(path: Path, data: bytes) -> None:
    """Replaces ``path`` with ``data`` atomically: a temporary file in the same directory,
    written, ``fsync``-ed and renamed over ``path`` (then the directory is synced too). The
    file keeps its permission bits; a new file gets the usual ones (0666 less the umask)."""
    parent = path.parent
    if not parent.is_dir():
        raise FileNotFoundError(
            errno.ENOENT, "the mask file's directory does not exist", str(parent)
        )
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, name = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    dir_fd = os.open(parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass(frozen=True)
class Opened:
    """What the editor opened: ``masks`` to edit; ``kind`` ``"maskset"``, ``"timeline"`` or
    ``"new"`` (no file yet: saving creates a mask set); for a timeline, which version
    (``version``, 0-based, of ``versions``) and its ``since``, and ``note`` saying why that one."""

    masks: MaskSet
    kind: str
    version: int | None = None
    versions: int = 0
    since: datetime | None = None
    newest_since: datetime | None = None
    note: str = ""

    def describe(self) -> dict[str, Any]:
        """JSON-ready form for the page."""
        return {
            "kind": self.kind,
            "version": self.version,
            "versions": self.versions,
            "since": None if self.since is None else self.since.isoformat(),
            "newest_since": None if self.newest_since is None else self.newest_since.isoformat(),
            "note": self.note,
            "content_hash": self.masks.content_hash,
        }


@dataclass(frozen=True)
class Saved:
    """The outcome of a save: the saved set's ``content_hash``, the file's SHA-256
    (``file_sha256``), and for a timeline the new version's index and ``since``."""

    content_hash: str
    file_sha256: str
    version: int | None = None
    since: datetime | None = None

    def describe(self) -> dict[str, Any]:
        """JSON-ready form for the page."""
        return {
            "content_hash": self.content_hash,
            "file_sha256": self.file_sha256,
            "version": self.version,
            "since": None if self.since is None else self.since.isoformat(),
        }


class MaskFile:
    """The ``--masks`` file: the one file the editor reads masks from and writes them to.

    ``path`` may not exist yet (the first save creates a mask set there).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(os.path.abspath(path))
        self._digest: str | None = None  # SHA-256 of the bytes last read or written
        self.opened: Opened | None = None

    def _read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def open(self, when: datetime | None) -> Opened:
        """Reads the file (validated: :class:`MaskConfigError` /
        :class:`~privmask.errors.InvalidGeometryError` naming the field). For a timeline, opens
        the version in force at ``when`` (the picture's recording time); without one, the newest
        version. A time before the first version opens that first version, and says so."""
        data = self._read()
        if data is None:
            self._digest = None
            self.opened = Opened(MaskSet(), "new", note="a new file: saving creates a mask set")
            return self.opened
        found = parse_masks(data)
        self._digest = hashlib.sha256(data).hexdigest()
        if isinstance(found, MaskSet):
            self.opened = Opened(found, "maskset")
            return self.opened
        newest = len(found) - 1
        if when is None:
            index, note = newest, "the newest version (the picture has no recording time)"
        elif when < found[0].since:
            index = 0
            note = f"{when.isoformat()} is before the first version; showing the first"
        else:
            index = found.index_at(when)
            note = f"the version in force at {when.isoformat()}"
        v = found[index]
        self.opened = Opened(
            v.masks, "timeline", index, len(found), v.since, found[newest].since, note
        )
        return self.opened

    def save(self, masks: MaskSet, since: datetime | None = None) -> Saved:
        """Writes ``masks``: replaces a mask-set file (or creates one), or appends a version in
        force from ``since`` to a timeline file. Checked before anything is written:
        :class:`MaskConfigError` for a timeline without ``since`` or one not after the newest
        version; :class:`ChangedOnDiskError` if the file changed since it was read."""
        current = self._read()
        digest = None if current is None else hashlib.sha256(current).hexdigest()
        if digest != self._digest:
            raise ChangedOnDiskError(
                f"{self.path.name} changed on disk since the editor read it; reopen it (your "
                "edits stay in the page until you do) or save elsewhere"
            )
        version = None
        if current is not None and isinstance(found := parse_masks(current), MaskTimeline):
            if since is None:
                raise MaskConfigError(
                    "a timeline version needs the time it comes into force", "since"
                )
            found.add(since, masks)
            text = found.to_json()
            MaskTimeline.from_json(text)  # the same validation a reader will apply
            version = len(found) - 1
        else:
            since = None
            text = masks.to_json()
            MaskSet.from_json(text)
        data = (text + "\n").encode()
        atomic_write(self.path, data)
        self._digest = hashlib.sha256(data).hexdigest()
        if version is None:
            self.opened = Opened(masks, "maskset")
        else:
            self.opened = Opened(
                masks, "timeline", version, version + 1, since, since, "the version just saved"
            )
        return Saved(masks.content_hash, self._digest, version, since)
