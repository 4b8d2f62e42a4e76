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

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from privmask._outputs import private_dir, publish, refuse_source, same_file, temp_beside
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
    is published. ``audit`` (with ``user``) records exports made without a lift as well. The
    log that will record the export is checked before any work
    (:meth:`~privmask.redaction.audit.AuditLog.check_appendable`): a key that does not fit
    (:class:`~privmask.redaction.audit.WrongKeyError`), a keyed log opened without its key, or
    a torn or edited last record raises :class:`~privmask.errors.AuditIntegrityError` with
    nothing written.

    ``password`` encrypts the output (:func:`privmask.decrypt` reverses it); the container is
    then chosen by ``container`` or the extension before ``.enc`` (``clip.mp4.enc``), default
    mp4. The unencrypted masked video is staged inside a private (``0700``) directory made in
    ``workdir`` (default: ``dst``'s directory; point it at a local disk when ``dst`` is
    removable media), so no other user can read it at any moment, and removed after
    encryption. The video, the manifest and the audit record are published together: a
    failure before the end leaves none of them (a manifest path equal to ``dst`` or ``src`` is
    refused with ``ValueError`` before any work).

    ``manifest`` is ``True`` (write ``<dst>.manifest.json``), a path, or ``False``. ``codec``,
    ``quality`` (CRF) and ``keep_audio`` are passed to :func:`privmask.video.mask_file`.
    """
    from privmask._native import __version__
    from privmask.video.files import mask_file  # needs PyAV

    if not isinstance(masks, (MaskSet, MaskTimeline)):
        raise TypeError(f"masks must be a MaskSet or MaskTimeline, got {type(masks).__name__}")
    dst_p = Path(dst)
    refuse_source(src, dst_p, "the export")
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

    if log is not None:
        # The export's record is appended at the end: a wrong key, a keyed log opened without
        # its key, or a torn or edited last record would refuse it after the whole transcode.
        # Found here instead, before any decoding (two records read, whatever the log's length).
        log.check_appendable()

    encrypted = password is not None
    suffix = _plain_suffix(dst_p, encrypted, container)
    if manifest_p is not None and same_file(manifest_p, dst_p):
        raise ValueError(
            f"the manifest path {manifest_p} is the output itself: the manifest would "
            "overwrite the video; give another path (default: OUT.manifest.json)"
        )
    if manifest_p is not None and same_file(manifest_p, Path(src)):
        raise ValueError(f"the manifest path {manifest_p} is the source itself")
    # Staging (issue 13): nothing is published until the video, its manifest and the audit
    # record all exist. An unencrypted export is staged beside dst under a temporary name; the
    # plaintext of an encrypted one only ever exists inside a private (0700) directory, in
    # workdir or beside dst, so no other user can read it at any moment.
    private: Path | None = None
    plain: Path | None = None
    staged: Path | None = None
    staged_manifest: Path | None = None
    try:
        if encrypted:
            private = private_dir(Path(workdir) if workdir is not None else dst_p.parent)
            plain = private / f"plain{suffix}"
        else:
            plain = temp_beside(dst_p.with_suffix(suffix) if suffix != dst_p.suffix else dst_p)
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
        staged = plain
        if password is not None:
            staged = temp_beside(dst_p)
            crypto.encrypt(plain, staged, password)
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
        if manifest_p is not None:
            # The manifest's place is taken (and checked: directory, permissions) before the
            # audit record is written; its content names that record, so it is written after.
            staged_manifest = temp_beside(manifest_p)
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
        if staged_manifest is not None:
            with open(staged_manifest, "w", encoding="utf-8") as f:
                f.write(json.dumps(doc, indent=2) + "\n")
        # Only renames in the destination's directory remain: the video, then its manifest.
        publish(staged, dst_p)
        staged = None
        if staged_manifest is not None and manifest_p is not None:
            publish(staged_manifest, manifest_p)
            staged_manifest = None
    finally:
        for leftover in (staged, staged_manifest):
            if leftover is not None:
                leftover.unlink(missing_ok=True)
        if plain is not None and not encrypted:
            plain.unlink(missing_ok=True)
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)
    return ExportResult(dst_p, manifest_p, doc)
