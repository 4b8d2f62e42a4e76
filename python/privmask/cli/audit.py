"""``privmask audit verify``: check an audit log's hash chain
(:meth:`privmask.redaction.audit.AuditLog.verify`), keyed or plain."""

from __future__ import annotations

import argparse
from pathlib import Path

from privmask.cli.common import (
    AUDIT_KEY_ENV,
    EXIT_OK,
    HELP_FORMATTER,
    USER_ERRORS,
    Subparsers,
    add_audit_key_option,
    describe,
    fail,
    help_text,
    print_json,
    verified_audit_log,
)

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Subparsers) -> None:
    """Registers ``privmask audit`` and its ``verify`` subcommand."""
    p = subparsers.add_parser(
        "audit",
        formatter_class=HELP_FORMATTER,
        description=help_text(
            "Audit logs: the hash-chained JSON Lines that lifts and exports are recorded in.",
        ),
        epilog=help_text(
            "example:\n  privmask audit verify audit.jsonl --audit-key-file audit.key",
            "exit status: 0 the log is intact; 1 it is not, or it cannot be read or checked "
            "(one line on stderr says which record and why); 2 usage error.",
        ),
    )
    actions = p.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    v = actions.add_parser(
        "verify",
        help="check every record of an audit log",
        formatter_class=HELP_FORMATTER,
        description=help_text(
            "Check every record of the audit log LOG: each record's hash, the chain linking it "
            "to the one before, and that the last one is complete. A keyed log (HMAC-SHA256) "
            f"is checked with its key, from --audit-key-file or {AUDIT_KEY_ENV}; the key is "
            "never an argument (command lines are visible to every user). Prints the number "
            "of records when the log is intact; otherwise says which record is wrong, or that "
            "the key is.",
        ),
        epilog=help_text(
            "exit status: 0 intact; 1 edited, torn, missing, or the wrong key (one line on "
            "stderr says which); 2 usage error.",
        ),
    )
    v.add_argument("log", type=Path, metavar="LOG", help="the audit log (JSON Lines)")
    add_audit_key_option(v)
    v.add_argument("--json", action="store_true", help="print a JSON summary on stdout")


def run(args: argparse.Namespace) -> int:
    """Runs ``privmask audit verify``; 0 when the log is intact, 1 otherwise."""
    try:
        log, head = verified_audit_log(args.log, args.audit_key_file, missing_ok=False)
    except USER_ERRORS as e:
        return fail(describe(e))
    count = 0 if head is None else head.count
    keyed = "HMAC-SHA256" if log.keyed else "SHA-256"
    if args.json:
        print_json(
            {
                "command": "audit verify",
                "status": EXIT_OK,
                "log": args.log,
                "records": count,
                "chain": keyed,
                "last_hash": None if head is None else head.hash,
            }
        )
    else:
        noun = "record" if count == 1 else "records"
        print(f"{args.log}: {count} {noun}, {keyed} chain intact", flush=True)
    return EXIT_OK
