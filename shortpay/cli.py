"""The ``shortpay`` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from shortpay.bench import cli as bench_cli
from shortpay.followups import cli as followups_cli
from shortpay.review import cli as review_cli
from shortpay.rules import cli as rules_cli
from shortpay.run_cli import register as register_run
from shortpay.settings import set_library_defaults

NOISY_LOGGERS = ("httpx", "httpcore", "great_expectations", "urllib3")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shortpay",
        description="Deductions management for accounts receivable.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register_run(subparsers)
    rules_cli.register(subparsers)
    review_cli.register(subparsers)
    followups_cli.register(subparsers)
    bench_cli.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    set_library_defaults()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Libraries that log every HTTP request or import step at INFO.
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.handler(args) or 0)
    except BrokenPipeError:
        # The reader closed the pipe early (`shortpay review show ID | head`),
        # so stop quietly, as other commands do. Python flushes stdout again
        # at exit and would print a traceback, so stdout goes to the null device.
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        return 128 + 13  # killed by SIGPIPE, as a shell reports it


if __name__ == "__main__":
    sys.exit(main())
