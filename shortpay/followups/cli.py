"""Command-line entry points of shortpay.followups: ``shortpay followups ...``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
from contextlib import closing
from pathlib import Path

import duckdb

from shortpay.settings import DEFAULT_RULES_DIR, Paths

log = logging.getLogger(__name__)

STEP_CHOICES = ("first_notice", "reminder", "escalation")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this package's subcommands to the `shortpay` parser."""
    parser = subparsers.add_parser(
        "followups", help="preview, send and track follow-up messages to customers"
    )
    commands = parser.add_subparsers(dest="followups_command", metavar="ACTION", required=True)

    preview = commands.add_parser(
        "preview", help="render the messages that are due, without queueing or sending"
    )
    _add_common(preview)
    preview.add_argument("--deduction", metavar="ID", help="render only this deduction")
    preview.add_argument(
        "--step", choices=STEP_CHOICES,
        help="render this step for --deduction even when it is not due",
    )
    preview.add_argument(
        "--output", metavar="DIR", type=Path,
        help="write .eml and letter .html files here instead of printing the plain text",
    )
    preview.set_defaults(handler=_preview)

    send = commands.add_parser("send", help="queue the due messages and deliver them")
    _add_common(send)
    send.add_argument(
        "--transport", choices=("outbox", "sendgrid"),
        help="transport (default: SHORTPAY_EMAIL_TRANSPORT, else outbox)",
    )
    send.add_argument(
        "--wait", type=float, default=600.0, metavar="SECONDS",
        help="how long to wait for a run in progress on the same warehouse (default: 600)",
    )
    send.set_defaults(handler=_send)

    listing = commands.add_parser("list", help="list the outbox")
    listing.add_argument(
        "--warehouse", type=Path, default=Path("data/warehouse.duckdb"),
        help="published warehouse file (default: data/warehouse.duckdb)",
    )
    listing.add_argument("--status", action="append",
                         help="only messages with this status (repeatable)")
    listing.add_argument("--deduction", metavar="ID", help="only this deduction's messages")
    listing.add_argument("--json", action="store_true", help="print JSON lines")
    listing.set_defaults(handler=_list)

    resolve = commands.add_parser(
        "resolve", help="settle an unknown, failed or suppressed message by hand"
    )
    resolve.add_argument(
        "--warehouse", type=Path, default=Path("data/warehouse.duckdb"),
        help="published warehouse file (default: data/warehouse.duckdb)",
    )
    resolve.add_argument("message_id", help="outbox message id, such as D1:first_notice")
    resolve.add_argument(
        "--as", dest="new_status", required=True, choices=("sent", "queued", "failed"),
        help="sent: it did go out; queued: send it again on the next run; failed: give up",
    )
    resolve.add_argument("--note", required=True, help="why, for the record")
    resolve.add_argument("--provider-id", help="the provider's message id, when known")
    resolve.add_argument("--actor", default=os.environ.get("USER"),
                         help="who settles it (default: $USER)")
    resolve.set_defaults(handler=_resolve)

    suppress = commands.add_parser(
        "suppress", help="never write to these addresses again, or list them"
    )
    suppress.add_argument(
        "--warehouse", type=Path, default=Path("data/warehouse.duckdb"),
        help="published warehouse file (default: data/warehouse.duckdb)",
    )
    suppress.add_argument("emails", nargs="*", metavar="EMAIL", help="addresses to suppress")
    suppress.add_argument("--reason", default="suppressed by hand", help="why, for the record")
    suppress.add_argument("--list", action="store_true", help="list suppressed addresses")
    suppress.set_defaults(handler=_suppress)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--warehouse", type=Path, default=Path("data/warehouse.duckdb"),
        help="published warehouse file (default: data/warehouse.duckdb)",
    )
    parser.add_argument(
        "--as-of", type=dt.date.fromisoformat, default=None,
        help="business date YYYY-MM-DD for the cadence (default: today)",
    )
    parser.add_argument(
        "--rules", type=Path, default=DEFAULT_RULES_DIR,
        help=f"rules folder with followups.yaml (default: {DEFAULT_RULES_DIR})",
    )


def _open_source(paths: Paths) -> duckdb.DuckDBPyConnection:
    """Open the work database read-only, else the published warehouse."""
    for candidate in (paths.work_db, paths.warehouse):
        if not candidate.exists():
            continue
        try:
            return duckdb.connect(str(candidate), read_only=True)
        except duckdb.IOException as error:
            log.warning("Cannot open %s (%s); trying the next database", candidate, error)
    raise FileNotFoundError(
        f"no readable database at {paths.work_db} or {paths.warehouse}: run `shortpay run` first"
    )


def _preview(args: argparse.Namespace) -> int:
    from shortpay.followups.config import FollowupRulesError, load_followup_rules
    from shortpay.followups.preview import preview_messages
    from shortpay.followups.transports import FileTransport

    paths = Paths.for_warehouse(args.warehouse)
    as_of = args.as_of or dt.date.today()
    if args.step and not args.deduction:
        print("--step needs --deduction", file=sys.stderr)
        return 2
    try:
        rules = load_followup_rules(args.rules)
        with closing(_open_source(paths)) as conn:
            messages, notes = preview_messages(conn, paths, rules, as_of, args.deduction,
                                               args.step)
    except (FollowupRulesError, FileNotFoundError, LookupError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for note in notes:
        print(note, file=sys.stderr)
    if not messages:
        print(f"no follow-up messages are due as of {as_of.isoformat()}", file=sys.stderr)
        return 0
    if args.output is not None:
        writer = FileTransport(args.output)
        failed = []
        for message in messages:
            result = writer.send(message)
            if result.status != "sent":
                failed.append(f"{message.message_id}: {result.error or result.status}")
        written = len(messages) - len(failed)
        noun = "message" if written == 1 else "messages"
        print(f"wrote {written} {noun} to {args.output}", file=sys.stderr)
        for failure in failed:
            print(f"error: not written: {failure}", file=sys.stderr)
        return 1 if failed else 0
    for message in messages:
        recipients = message.to_email + (f", cc {message.cc_email}" if message.cc_email else "")
        print(f"=== {message.message_id} to {recipients} ({message.language})")
        print(f"Subject: {message.subject}\n")
        print(message.body_text)
    return 0


def _send(args: argparse.Namespace) -> int:
    from shortpay.followups.config import FollowupRulesError
    from shortpay.followups.run import run_followups
    from shortpay.followups.transports import TransportConfigError
    from shortpay.locking import RunLockTimeout, run_lock

    paths = Paths.for_warehouse(args.warehouse)
    paths.ensure()
    try:
        # The run lock keeps this from overlapping a `shortpay run` on the same warehouse.
        with run_lock(paths.run_lock, timeout=args.wait), closing(_open_source(paths)) as conn:
            summary = run_followups(conn, paths, args.as_of or dt.date.today(), args.rules,
                                    args.transport)
    except (FollowupRulesError, TransportConfigError, FileNotFoundError,
            RunLockTimeout) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(summary.as_dict()))
    return 1 if summary.failed or summary.held_unknown else 0


def _list(args: argparse.Namespace) -> int:
    from shortpay.followups.outbox import read_messages

    paths = Paths.for_warehouse(args.warehouse)
    messages = read_messages(paths.state_db, args.status, args.deduction)
    for message in messages:
        record = {
            "message_id": message.message_id,
            "status": message.status,
            "to": message.to_email,
            "cc": message.cc_email,
            "language": message.language,
            "amount_claimed": str(message.amount_claimed),
            "currency": message.currency,
            "as_of_date": message.as_of_date.isoformat(),
            "attempts": message.attempts,
            "provider_message_id": message.provider_message_id,
            "last_error": message.last_error,
            "sent_at": message.sent_at.isoformat() if message.sent_at else None,
        }
        if args.json:
            print(json.dumps(record))
        else:
            error = f"  {message.last_error}" if message.last_error else ""
            print(f"{message.message_id:<32} {message.status:<10} {message.to_email:<32} "
                  f"{message.attempts:>2}{error}")
    return 0


def _resolve(args: argparse.Namespace) -> int:
    from shortpay.followups.outbox import resolve_message

    paths = Paths.for_warehouse(args.warehouse)
    actor = (args.actor or "").strip()
    if not actor:
        print("error: missing actor: pass --actor NAME or set USER", file=sys.stderr)
        return 1
    try:
        previous = resolve_message(paths.state_db, args.message_id, args.new_status,
                                   args.note, args.provider_id, actor)
    except (LookupError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{args.message_id}: {previous} -> {args.new_status}")
    return 0


def _suppress(args: argparse.Namespace) -> int:
    from shortpay.followups.cadence import is_valid_email
    from shortpay.followups.outbox import add_suppressions, read_suppressions

    paths = Paths.for_warehouse(args.warehouse)
    invalid = [email for email in args.emails if not is_valid_email(email)]
    if invalid:
        print(f"error: invalid address {', '.join(invalid)}", file=sys.stderr)
        return 1
    if args.emails:
        added = add_suppressions(paths.state_db,
                                 [(email, args.reason, "cli") for email in args.emails])
        print(f"suppressed {added} new addresses ({len(args.emails) - added} already were)")
    if args.list or not args.emails:
        for email, reason, source, created_at in read_suppressions(paths.state_db):
            print(f"{email:<40} {source:<24} {created_at:%Y-%m-%d}  {reason or ''}")
    return 0
