"""Command-line entry points of shortpay.review: ``shortpay review COMMAND``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from shortpay.review.log import read_decisions, verify_chain
from shortpay.review.queue import (
    QueueFilters,
    closed_dispute_window,
    decimal_text,
    list_queue,
    load_deduction,
    load_exception,
    printable,
    show_item,
)
from shortpay.review.workflow import (
    ReviewError,
    decide_deduction,
    decide_exception,
    parse_amount,
    read_four_eyes_amount,
)
from shortpay.settings import DEFAULT_RULES_DIR, Paths

DEFAULT_WAREHOUSE = "data/warehouse.duckdb"

# Command name -> (action, help). Hyphenated names log underscored actions.
DECISION_COMMANDS = {
    "assign": ("assign", "assign a deduction or exception to a person (--to NAME)"),
    "note": ("note", "add a note to a deduction or exception"),
    "propose": ("propose", "propose approval, so a second person can approve"),
    "approve": ("approve", "approve a deduction as valid, to be written off"),
    "dispute": ("dispute", "dispute a deduction as invalid and start follow-up"),
    "request-backup": ("request_backup", "ask the customer for backup documents"),
    "recovered": ("recovered", "record that a disputed amount was paid back"),
    "write-off": ("write_off", "write a deduction off"),
    "close": ("close", "close a deduction"),
    "reopen": ("reopen", "reopen a deduction or a resolved exception"),
    "resolve": ("resolve", "resolve an exceptions-queue item"),
}
EXCEPTION_ACTIONS = {"assign", "note", "resolve", "reopen"}


def _days(text: str) -> int:
    """Parse a whole number of days, 0 or more, for argparse."""
    try:
        days = int(text)
    except ValueError:
        days = -1
    if days < 0:
        raise argparse.ArgumentTypeError(f"invalid number of days {text!r}: use 0 or more")
    return days


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this package's subcommands to the `shortpay` parser."""
    review = subparsers.add_parser("review", help="work the exceptions queue and record decisions")
    commands = review.add_subparsers(dest="review_command", metavar="COMMAND", required=True)

    list_parser = _add_command(commands, "list", "list the exceptions queue", run_list)
    list_parser.add_argument("--type", dest="exception_type", help="only this exception_type")
    list_parser.add_argument("--severity", choices=["error", "warning", "info"])
    list_parser.add_argument("--customer", help="only items of this customer_id")
    list_parser.add_argument("--owner", help="only items assigned to this person")
    list_parser.add_argument(
        "--status", help="only items with this status (default: all but resolved; 'all' for every)"
    )
    list_parser.add_argument(
        "--min-amount", help="only items with at least this amount, e.g. 250.00"
    )
    list_parser.add_argument(
        "--older-than", type=_days, metavar="DAYS",
        help="only items detected more than DAYS days ago"
    )

    show_parser = _add_command(
        commands, "show", "show a deduction or exception with its details and decisions", run_show
    )
    show_parser.add_argument("item_id", metavar="ID", help="deduction_id or exception_id")

    for name, (action, help_text) in DECISION_COMMANDS.items():
        parser = _add_command(commands, name, help_text, run_decision)
        parser.set_defaults(action=action)
        parser.add_argument("item_id", metavar="ID", help=_id_help(action))
        parser.add_argument(
            "--actor", default=os.environ.get("USER"), help="who decides (default: $USER)"
        )
        parser.add_argument("--reason", help="why, in words; kept in the audit log")
        if action == "assign":
            parser.add_argument("--to", dest="assignee", required=True, help="person to assign to")
        if action in {"approve", "dispute"}:
            parser.add_argument(
                "--valid-amount",
                help="valid part of a partial decision, e.g. 120.00 (default: all valid for "
                "approve, all invalid for dispute)",
            )
        if action in {"approve", "write_off"}:
            parser.add_argument(
                "--four-eyes-amount",
                help="a lower amount than the setting above which a second person must "
                "approve; a higher amount is ignored (default: four_eyes_amount of "
                "RULES/settings.yaml, else 5000.00)",
            )
            parser.add_argument(
                "--rules",
                type=Path,
                default=DEFAULT_RULES_DIR,
                help="rules folder to read settings from",
            )

    _add_command(commands, "verify", "check the hash chain of the decision log", run_verify)


def _add_command(
    commands: argparse._SubParsersAction,
    name: str,
    help_text: str,
    handler: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    parser.add_argument(
        "--warehouse",
        default=DEFAULT_WAREHOUSE,
        help=f"published warehouse file; the state database sits beside it (default: {DEFAULT_WAREHOUSE})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(handler=_reporting_errors(handler))
    return parser


def _id_help(action: str) -> str:
    if action == "resolve":
        return "exception_id"
    if action in EXCEPTION_ACTIONS:
        return "deduction_id or exception_id"
    return "deduction_id"


def _reporting_errors(
    handler: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ReviewError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1

    return run


def run_list(args: argparse.Namespace) -> int:
    paths = Paths.for_warehouse(args.warehouse)
    filters = QueueFilters(
        exception_type=args.exception_type,
        severity=args.severity,
        customer_id=args.customer,
        owner=args.owner,
        status=args.status,
        min_amount=parse_amount(args.min_amount) if args.min_amount else None,
        older_than_days=args.older_than,
    )
    queue = list_queue(paths.warehouse, paths.state_db, filters)
    if args.json:
        _print_json(queue)
        return 0
    columns = [
        "exception_id",
        "exception_type",
        "severity",
        "status",
        "owner",
        "amount",
        "deduction_id",
        "customer_id",
        "age_days",
        "source_file",
        "source_position",
        "message",
    ]
    _print_table(queue, columns)
    print(f"{len(queue)} items")
    return 0


def run_show(args: argparse.Namespace) -> int:
    paths = Paths.for_warehouse(args.warehouse)
    item = show_item(paths.warehouse, paths.state_db, args.item_id)
    if args.json:
        _print_json(item)
        return 0
    for section, value in item.items():
        if section == "kind":
            continue
        print(f"== {section}")
        if value is None or value == []:
            print("(none)")
        elif isinstance(value, dict):
            for name, field_value in value.items():
                print(f"{name}: {printable(field_value)}")
        else:
            _print_table(value, list(value[0]))
    return 0


def run_decision(args: argparse.Namespace) -> int:
    paths = Paths.for_warehouse(args.warehouse)
    action = args.action
    deduction = None
    if action != "resolve":
        deduction = load_deduction(paths.warehouse, args.item_id)
    if deduction is not None:
        decision = decide_deduction(
            paths.state_db,
            deduction,
            action,
            args.actor,
            reason=args.reason,
            assignee=getattr(args, "assignee", None),
            valid_amount=_optional_amount(getattr(args, "valid_amount", None)),
            four_eyes_amount=_four_eyes_amount(args),
        )
    else:
        exception = None
        if action in EXCEPTION_ACTIONS:
            exception = load_exception(paths.warehouse, args.item_id)
        if exception is None:
            kind = "exception" if action == "resolve" else _id_help(action).replace("_id", "")
            raise ReviewError(f"{kind} {args.item_id!r} not found in {paths.warehouse}")
        decision = decide_exception(
            paths.state_db,
            exception,
            action,
            args.actor,
            reason=args.reason,
            assignee=getattr(args, "assignee", None),
        )
    if action == "dispute":
        deadline = closed_dispute_window(paths.warehouse, args.item_id, date.today())
        if deadline is not None:
            print(
                f"note: the dispute window of {args.item_id} closed on {deadline.isoformat()},"
                " so no follow-up message will be sent for it",
                file=sys.stderr,
            )
    if action == "approve" and (decision.invalid_amount_after or 0) > 0:
        print(
            f"note: {args.item_id} is approved with {decision.invalid_amount_after} invalid."
            " Follow-ups stop at approved (stop_statuses in the follow-up rules),"
            " so to recover that part, dispute it with the same --valid-amount",
            file=sys.stderr,
        )
    if args.json:
        _print_json(decision.as_dict())
    else:
        target = decision.deduction_id or decision.exception_id
        print(
            f"decision {decision.sequence}: {decision.action} {target} by {decision.actor}, "
            f"status {decision.status_before} -> {decision.status_after}"
        )
    return 0


def _optional_amount(text: str | None) -> Decimal | None:
    return parse_amount(text) if text else None


def _four_eyes_amount(args: argparse.Namespace) -> Decimal:
    """Return the four-eyes amount; an option may only make it stricter than the rules."""
    setting = read_four_eyes_amount(getattr(args, "rules", DEFAULT_RULES_DIR))
    if getattr(args, "four_eyes_amount", None):
        return min(parse_amount(args.four_eyes_amount), setting)
    return setting


def run_verify(args: argparse.Namespace) -> int:
    paths = Paths.for_warehouse(args.warehouse)
    decisions = read_decisions(paths.state_db)
    problems = verify_chain(decisions)
    head = decisions[-1].entry_hash if decisions else None
    if args.json:
        _print_json(
            {
                "entries": len(decisions),
                "head_hash": head,
                "ok": not problems,
                "problems": [problem.__dict__ for problem in problems],
            }
        )
    elif problems:
        for problem in problems:
            print(f"entry {problem.sequence} ({problem.decision_id}): {problem.problem}")
        print(
            f"decision log FAILED verification: {len(problems)} problems in {len(decisions)} entries"
        )
    else:
        print(f"decision log OK: {len(decisions)} entries, head hash {head or '-'}")
    return 1 if problems else 0


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _print_json(value: Any) -> None:
    print(json.dumps(value, default=_json_default, indent=2))


def _print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    # A tab or line break in a cell (a file name, say) would break the row.
    cells = [
        [printable(row.get(column)).replace("\t", "?").replace("\n", "?")[:60]
         for column in columns]
        for row in rows
    ]
    widths = [
        max([len(column)] + [_display_width(row[index]) for row in cells])
        for index, column in enumerate(columns)
    ]
    for line in [columns, *cells]:
        print("  ".join(_pad(cell, width) for cell, width in zip(line, widths, strict=True)))


def _display_width(text: str) -> int:
    """Return the number of terminal columns that text takes: two per wide East Asian character."""
    return sum(2 if unicodedata.east_asian_width(character) in "WF" else 1 for character in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _display_width(text))
