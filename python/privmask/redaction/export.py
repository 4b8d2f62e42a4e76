"""Redaction export: an irreversible, self-describing copy of a recording for someone outside.

An export is what leaves the VMS (for the police, a court, a subject access request), so it is
built to be safe by construction rather than by care:

- every frame gets the masks in force when it was recorded (:class:`~privmask.MaskTimeline`,
  through :func:`privmask.video.mask_file`), burned into the re-encoded pixels. Inside a mask
  the encoder only ever sees solid, fill, mosaic or information-bounded blur values: no original
  pixel reaches the output;
- liftable masks are left out only when a :class:`~privmask.Lift` in force for the camera is
  passed, and that export is written to the lift's audit log before the file is published; any
  other lift is refused (:class:`~privmask.LiftDeniedError`), never silently ignored;
- audio, container and stream metadata, subtitles, data streams and attachments are dropped
  (audio is kept only with ``keep_audio=True``), and nothing names the source: no path, file
  name or hash of it in the output or the manifest;
- ``manifest=True`` writes a sidecar JSON saying what was done (privmask version, frame count,
  the mask-set hashes used over which frame ranges, each mask's style and irreversibility grade,
  whether liftable masks were burned in, the output's SHA-256);
- ``password=`` encrypts the result (:mod:`privmask.redaction.crypto`: AES-256-GCM in authenticated
  chunks, scrypt), streamed so a multi-GB export never sits in memory.

The output (and the manifest) appear only when everything succeeded, audit record included.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from privmask._outputs import publish, write_atomic
from privmask.errors import LiftDeniedError
from privmask.masks.maskset import MaskSet
from privmask.masks.styles import Grade
from privmask.masks.timeline import MaskTimeline
from privmask.redaction import crypto
from privmask.redaction.audit import AuditLog
from privmask.redaction.lifts import Lift

__all__ = [
    "MANIFEST_VERSION",
    "ExportResult",
    "export",
    "manifest_path_for",
]

MANIFEST_VERSION = 1
_ENCRYPTED_SUFFIXES = (".enc", ".pmenc")


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export` wrote: the output, the manifest (``None`` when not written) and the
    manifest's content (returned even when not written)."""

    dst: Path
    manifest_path: Path | None
    manifest: dict[str, Any]

    @property
    def frames(self) -> int:
        return int(self.manifest["frames"])


def manifest_path_for(dst: str | os.PathLike[str]) -> Path:
    """Where :func:`export` puts the manifest of ``dst``: beside it, ``<name>.manifest.json``."""
    p = Path(dst)
    return p.with_name(p.name + ".manifest.json")


def _plain_suffix(dst: Path, encrypted: bool, container: str | None) -> str:
    """The extension FFmpeg chooses the container by: ``container``, else ``dst``'s own (for an
    encrypted ``clip.mp4.enc``, the one before ``.enc``), else ``.mp4`` when encrypting."""
    if container is not None:
        name = container.lstrip(".")
        if not name or not name.isalnum():
            raise ValueError(
                f"container must be an extension such as 'mp4' or 'mkv': {container!r}"
            )
        return "." + name
    if not encrypted:
        return dst.suffix
    inner = Path(dst.stem).suffix if dst.suffix in _ENCRYPTED_SUFFIXES else dst.suffix
    return inner or ".mp4"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _version_masks(masks: MaskSet | MaskTimeline, index: int) -> MaskSet:
    return masks if isinstance(masks, MaskSet) else masks[index].masks


def _describe_masks(masks: MaskSet, lifted: bool) -> list[dict[str, Any]]:
    """Each mask's style and grade, without its name (a label like "Mrs Smith's window" would
    tell the recipient what is hidden)."""
    return [
        {
            "style": m.to_dict()["style"],
            "grade": m.style.grade.value,
            "liftable": m.liftable,
            "burned_in": not (lifted and m.liftable),
        }
        for m in masks
    ]


def export(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    masks: MaskSet | MaskTimeline,
    *,
    start: datetime | None = None,
    lift: Lift | None = None,
    camera: str | None = None,
    password: str | bytes | None = None,
    manifest: bool | str | os.PathLike[str] = True,
    keep_audio: bool = False,
    user: str | None = None,
    audit: AuditLog | None = None,
    codec: str | None = None,
    quality: int | None = None,
    container: str | None = None,
    workdir: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> ExportResult:
    """Writes a redacted copy of the video ``src`` to ``dst`` (see the module docs).

    ``masks`` is a :class:`MaskSet` or a :class:`MaskTimeline`; ``start`` is the recording start
    (default: the file's ``creation_time``), needed to place frames on a timeline of several
    versions. Every mask is burned in unless ``lift`` is given: then ``camera`` (the camera that
    recorded ``src``) is required, the lift must be in force for it when the export starts (an
    export begun under a lift may finish after it ends, as a download would), liftable masks are
    left out, and the export is recorded in the lift's audit log (refusals too) before the file
    is published. ``audit`` (with ``user``) records exports made without a lift as well.

    ``password`` encrypts the output (:func:`privmask.decrypt` reverses it); the container is
    then chosen by ``container`` or the extension before ``.enc`` (``clip.mp4.enc``), default
    mp4. The unencrypted masked video is staged in ``workdir`` (default: ``dst``'s directory;
    point it at a local disk when ``dst`` is removable media) and removed after encryption.

    ``manifest`` is ``True`` (write ``<dst>.manifest.json``), a path, or ``False``. ``codec``,
    ``quality`` (CRF) and ``keep_audio`` are passed to :func:`privmask.video.mask_file`.
    """
    from privmask._native import __version__
    from privmask.video.files import mask_file  # needs PyAV

    if not isinstance(masks, (MaskSet, MaskTimeline)):
        raise TypeError(f"masks must be a MaskSet or MaskTimeline, got {type(masks).__name__}")
    dst_p = Path(dst)
    with contextlib.suppress(OSError):  # a missing src or dst is reported by mask_file
        if os.path.samefile(src, dst_p):
            raise ValueError(f"{dst_p} is the source itself; write the export elsewhere")
    if password is not None:
        # A bad password, or no 'cryptography' package, fails before any work is done.
        crypto._password_bytes(password)
        crypto._aesgcm()
    if audit is not None and not isinstance(audit, AuditLog):
        raise TypeError(f"audit must be an AuditLog, got {type(audit).__name__}")
    if camera is not None and (not isinstance(camera, str) or not camera):
        raise TypeError(f"camera must be a non-empty string, got {camera!r}")
    manifest_p = (
        None
        if manifest is False
        else manifest_path_for(dst_p)
        if manifest is True
        else Path(manifest)
    )

    log = audit
    lifted = False
    if lift is not None:
        if not isinstance(lift, Lift):
            raise TypeError(f"lift must be a privmask.Lift, got {type(lift).__name__}")
        if camera is None:
            raise ValueError(
                "camera= is required with lift=: the lift must be checked against the camera "
                "that recorded the video"
            )
        manager = lift.manager
        if manager is None:
            raise LiftDeniedError(f"lift {lift.id} was not granted by a LiftManager")
        log = manager.audit
        user = lift.user
        try:
            manager.check(lift, camera)
        except LiftDeniedError as e:
            log.append(
                "deny",
                time=manager.now(),
                user=lift.user,
                approver=lift.approver,
                reason=lift.reason,
                cameras=[camera],
                lift=lift.id,
                detail={"action": "export", "why": str(e)},
            )
            raise
        lifted = True

    encrypted = password is not None
    suffix = _plain_suffix(dst_p, encrypted, container)
    token = secrets.token_hex(6)
    stage_dir = Path(workdir) if (workdir is not None and encrypted) else dst_p.parent
    plain = stage_dir / f".{dst_p.name}.{token}.plain{suffix}"
    sealed = dst_p.parent / f".{dst_p.name}.{token}.sealed"
    try:
        report = mask_file(
            src,
            plain,
            masks,
            start=start,
            lifted=lifted,
            lift_id=lift.id if lift is not None else None,
            codec=codec,
            quality=quality,
            keep_audio=keep_audio,
            progress=progress,
        )
        if password is not None:
            crypto.encrypt(plain, sealed, password)
            plain.unlink()
            staged = sealed
        else:
            staged = plain
        used: list[dict[str, Any]] = []
        burned: list[Grade] = []
        for u in report.versions:
            described = _describe_masks(_version_masks(masks, u.index), lifted)
            burned += [Grade(d["grade"]) for d in described if d["burned_in"]]
            used.append(
                {
                    "content_hash": u.content_hash,
                    "frames": {"first": u.first_frame, "last": u.last_frame, "count": u.frames},
                    "masks": described,
                }
            )
        doc: dict[str, Any] = {
            "privmask": __version__,
            "manifest": MANIFEST_VERSION,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "frames": report.frames,
            "mask_sets": used,
            "liftable_masks_included": not lifted,
            "weakest_grade": (
                None
                if not burned
                else Grade.BOUNDED.value
                if Grade.BOUNDED in burned
                else Grade.ANONYMISING.value
            ),
            "audio": report.audio_streams > 0,
            "metadata": False,
            "encryption": (
                {"cipher": "AES-256-GCM", "kdf": "scrypt", "format": crypto.VERSION}
                if encrypted
                else None
            ),
            "output": {"bytes": staged.stat().st_size, "sha256": _sha256(staged)},
            "lift": None,
            "audit": None,
        }
        if log is not None:
            # Recorded before the file is published: an export the log cannot record is not
            # made. The log is internal, so it may name the source; the manifest does not.
            when = lift.manager.now() if lift is not None and lift.manager else None
            record = log.append(
                "export",
                time=when,
                user=user,
                approver=lift.approver if lift is not None else None,
                reason=lift.reason if lift is not None else None,
                cameras=None if camera is None else [camera],
                lift=lift.id if lift is not None else None,
                masks=[u["content_hash"] for u in used],
                detail={
                    "src": os.fspath(src),
                    "dst": os.fspath(dst_p),
                    "frames": report.frames,
                    "liftable_masks_included": not lifted,
                    "encrypted": encrypted,
                    "output_sha256": doc["output"]["sha256"],
                },
            )
            doc["audit"] = {"record": record["seq"], "hash": record["hash"]}
            if lift is not None:
                doc["lift"] = {"id": lift.id, "approved": lift.approver is not None}
        publish(staged, dst_p)
    finally:
        plain.unlink(missing_ok=True)
        sealed.unlink(missing_ok=True)
    if manifest_p is not None:
        write_atomic(manifest_p, json.dumps(doc, indent=2) + "\n")
    return ExportResult(dst_p, manifest_p, doc)
