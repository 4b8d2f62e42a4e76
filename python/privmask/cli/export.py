"""``privmask export`` and ``privmask decrypt``: redaction exports
(:func:`privmask.redaction.export.export`) and decrypting them (:func:`privmask.decrypt`)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from privmask.cli.checks import START_EXAMPLE, missing_av, needs_start
from privmask.cli.common import (
    EXIT_OK,
    HELP_FORMATTER,
    PROG,
    USER_ERRORS,
    Subparsers,
    add_audit_key_option,
    add_masks_option,
    add_start_option,
    describe,
    fail,
    help_text,
    jsonable,
    print_json,
    progress_wanted,
    usage_error,
    verified_audit_log,
)

__all__ = ["add_parser", "main", "password_from", "run"]


def password_from(args: argparse.Namespace, *, confirm: bool) -> str | None:
    """The password from ``--password-file``, ``--password-env`` or, with ``--encrypt`` (or for
    ``decrypt``), a prompt. Never an argument: command lines are visible to every user.
    Raises ``ValueError`` for an empty or unconfirmed password, or no terminal to ask on."""
    if args.password_file is not None:
        text = Path(args.password_file).read_text(encoding="utf-8")
        password = text.splitlines()[0] if text else ""
    elif args.password_env is not None:
        password = os.environ.get(args.password_env, "")
        if not password:
            raise ValueError(f"the environment variable {args.password_env} is empty or unset")
    elif getattr(args, "encrypt", True):
        if not sys.stdin.isatty():
            raise ValueError(
                "no terminal to ask for the password: use --password-file or --password-env"
            )
        password = getpass.getpass("Password: ")
        if confirm and getpass.getpass("Password again: ") != password:
            raise ValueError("the passwords do not match")
    else:
        return None
    if not password:
        raise ValueError("the password is empty")
    return password


def _password_options(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help="read the password from FILE's first line",
    )
    group.add_argument(
        "--password-env", metavar="VAR", help="read the password from environment variable VAR"
    )


def add_parser(subparsers: Subparsers) -> None:
    """Registers ``privmask export`` and ``privmask decrypt``."""
    p = subparsers.add_parser(
        "export",
        formatter_class=HELP_FORMATTER,
        description=help_text(
            "Export a redacted copy: every mask in force at recording time burned in (liftable "
            "masks too: lifts need the integrator's permission check, so the command line never "
            "lifts), audio and metadata dropped, nothing naming the source. Writes "
            "OUT.manifest.json beside it unless --no-manifest.",
            "--masks takes privmask JSON (a mask set or a timeline), a Frigate config (YAML) or "
            "ONVIF GetMasksResponse XML. A timeline of several versions needs the recording "
            f"start: the file's creation_time, or --start ({START_EXAMPLE}).",
        ),
        epilog=help_text(
            "example:\n"
            "  privmask export cam.mp4 out.mp4.enc --masks timeline.json --password-file pw.txt",
            "--audit LOG records the export in a hash-chained audit log. A keyed log "
            "(HMAC-SHA256) needs its key from --audit-key-file or PRIVMASK_AUDIT_KEY, never "
            "on the command line; the whole log is verified with it before anything is "
            "decoded, so a wrong key or an edited log fails at once and writes nothing.",
            "exit status: 0 done; 1 failed (one line on stderr says why); 2 usage error.",
        ),
    )
    p.add_argument("src", type=Path, metavar="IN")
    p.add_argument("dst", type=Path, metavar="OUT")
    add_masks_option(p)
    add_start_option(p)
    p.add_argument("--camera", metavar="NAME", help="the camera, for the audit record")
    p.add_argument("--keep-audio", action="store_true", help="copy the audio streams")
    p.add_argument("--codec", metavar="C", help="FFmpeg encoder")
    p.add_argument("--crf", type=int, metavar="N", help="constant-quality setting (CRF)")
    p.add_argument("--no-manifest", action="store_true", help="do not write the manifest")
    p.add_argument(
        "--encrypt", action="store_true", help="encrypt with a password (asked on the terminal)"
    )
    _password_options(p)
    p.add_argument(
        "--audit",
        type=Path,
        metavar="LOG",
        help="record the export in this audit log (its chain is checked before any work)",
    )
    add_audit_key_option(p)
    p.add_argument("--user", metavar="NAME", help="who is exporting, for the audit record")
    p.add_argument(
        "--json",
        action="store_true",
        help="print a JSON summary (with the manifest) on stdout instead of the line",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")

    d = subparsers.add_parser(
        "decrypt",
        description="Decrypt a file written by 'privmask export --encrypt'. OUT is written only "
        "when the whole file authenticated.",
    )
    d.add_argument("src", type=Path, metavar="IN")
    d.add_argument("dst", type=Path, metavar="OUT")
    _password_options(d)


def _decrypt(args: argparse.Namespace) -> int:
    from privmask.redaction.crypto import decrypt

    try:
        password = password_from(args, confirm=False)
        assert password is not None
        decrypt(args.src, args.dst, password)
    except USER_ERRORS as e:
        return fail(describe(e))
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    """Runs a parsed ``export`` or ``decrypt`` command; 0 on success, 1 on a failure the user
    can fix (printed as one line)."""
    if args.command == "decrypt":
        return _decrypt(args)
    from privmask.masks.sniff import load_mask_file
    from privmask.redaction.export import export

    if args.audit_key_file is not None and args.audit is None:
        usage_error(args, "export: --audit-key-file goes with --audit LOG")
    try:
        masks = load_mask_file(args.masks).masks
    except USER_ERRORS as e:
        return fail(describe(e))
    audit = None
    if args.audit is not None:
        # The whole chain, with the key, before the video is opened or a password asked for.
        try:
            audit, _ = verified_audit_log(args.audit, args.audit_key_file, missing_ok=True)
        except USER_ERRORS as e:
            return fail(describe(e))
    if (message := missing_av("export")) is not None:
        return fail(message)
    if args.start is None and (message := needs_start([args.src], masks, args.masks)):
        return fail(message)
    try:
        encrypt = args.encrypt or args.password_file is not None or args.password_env is not None
        args.encrypt = encrypt
        result = export(
            args.src,
            args.dst,
            masks,
            start=args.start,
            camera=args.camera,
            password=password_from(args, confirm=True) if encrypt else None,
            manifest=not args.no_manifest,
            keep_audio=args.keep_audio,
            user=args.user,
            audit=audit,
            codec=args.codec,
            quality=args.crf,
            progress=progress_wanted(args.quiet),
        )
    except USER_ERRORS as e:
        return fail(describe(e))
    m = result.manifest
    if args.json:
        print_json(
            {
                "command": "export",
                "status": EXIT_OK,
                "dst": result.dst,
                "manifest_path": result.manifest_path,
                "manifest": jsonable(m),
            }
        )
    elif not args.quiet:
        ranges = ", ".join(
            f"{u['content_hash'][:12]} (frames {u['frames']['first']}-{u['frames']['last']})"
            for u in m["mask_sets"]
        )
        print(
            f"{result.dst}: {m['frames']} frames, masks {ranges}, weakest grade "
            f"{m['weakest_grade']}" + (", encrypted" if m["encryption"] else "")
        )
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """``export`` and ``decrypt`` on a parser of their own (what ``privmask export|decrypt``
    runs); returns the exit status."""
    parser = argparse.ArgumentParser(prog=PROG, description="Redaction exports.")
    add_parser(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return run(parser.parse_args(argv))
