"""``shortpay run``: the main job."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
import sys
from datetime import date
from pathlib import Path

from shortpay.settings import DEFAULT_RULES_DIR

log = logging.getLogger(__name__)

DATE_FORMAT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(text: str) -> date:
    # date.fromisoformat alone also accepts 20261205 and week dates (2026-W49-6).
    if not DATE_FORMAT.fullmatch(text):
        raise argparse.ArgumentTypeError(f"invalid date {text!r}: use a real date as YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"invalid date {text!r} ({error}): use a real date as YYYY-MM-DD"
        ) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the main job: ingest, match, classify, check, follow up, publish",
        description="Run the main job on an inbox folder and publish the warehouse.",
    )
    parser.add_argument(
        "--inbox", type=Path, required=True, metavar="DIR", help="folder of files to load"
    )
    parser.add_argument(
        "--warehouse", type=Path, required=True, metavar="FILE",
        help="published DuckDB file to (re)write"
    )
    parser.add_argument(
        "--rules", type=Path, default=DEFAULT_RULES_DIR, metavar="DIR",
        help="folder of rule YAML files (default: the repository's rules/)",
    )
    parser.add_argument(
        "--as-of", type=parse_date, default=None, metavar="YYYY-MM-DD",
        help="the date the run treats as today, YYYY-MM-DD (default: today)",
    )
    parser.add_argument("--outbox", type=Path, default=None, metavar="DIR",
                        help="folder for rendered messages (default: outbox/ beside the warehouse)")
    parser.add_argument(
        "--full-build", action="store_true",
        help="rebuild every model from scratch instead of only what new files change",
    )
    parser.add_argument(
        "--json", action="store_true",
        help="print one JSON object with the run's counts and sums on stdout",
    )
    parser.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from flows.main import PipelineError
    from shortpay.pipeline import run_pipeline
    from shortpay.summary import format_summary

    if not args.inbox.is_dir():
        print(f"shortpay: inbox folder not found: {args.inbox}", file=sys.stderr)
        return 2
    # Everything but the final summary goes to stderr, so --json output is
    # one clean object on stdout.
    try:
        with contextlib.redirect_stdout(sys.stderr):
            summary = run_pipeline(
                inbox=args.inbox,
                warehouse=args.warehouse,
                rules_dir=args.rules,
                as_of=args.as_of or date.today(),
                outbox=args.outbox,
                full_build=args.full_build,
            )
    except PipelineError as error:
        print(f"shortpay: {error}", file=sys.stderr)
        if args.json:
            print(json.dumps({"status": "failed", "stage": error.stage, "error": str(error)}))
        return 1
    except KeyboardInterrupt:
        print(
            "shortpay: run interrupted; nothing it had not finished was kept, "
            "and the next run starts that work again",
            file=sys.stderr,
        )
        if args.json:
            print(json.dumps({"status": "interrupted"}))
        return 130
    if args.json:
        print(json.dumps(summary, default=str, indent=2))
    else:
        print(format_summary(summary))
    return 0
