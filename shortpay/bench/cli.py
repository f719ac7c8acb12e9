"""Command-line entry points of shortpay.bench: ``shortpay generate`` and ``shortpay bench``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shortpay.bench.profiles import PROFILES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this package's subcommands to the `shortpay` parser."""
    generate = subparsers.add_parser(
        "generate",
        help="write a seeded inbox folder of test data and its truth files",
        description=(
            "Write an inbox folder (ERP extracts, remittance CSV and X12 820 files) "
            "and a truth folder describing what it contains. The same arguments "
            "write byte-identical files."
        ),
    )
    generate.add_argument("--out", type=Path, required=True,
                          help="inbox folder to write; its old content is removed")
    generate.add_argument("--invoices", type=int, required=True, help="number of invoices")
    generate.add_argument("--customers", type=int, default=50, help="number of customers")
    generate.add_argument("--seed", type=int, default=7, help="seed of the pseudo-random numbers")
    generate.add_argument("--profile", choices=sorted(PROFILES), default="sample",
                          help="shape of the data (default: sample)")
    generate.add_argument("--truth", type=Path, default=None,
                          help="truth folder (default: <out>_truth beside the inbox)")
    generate.set_defaults(handler=run_generate)

    bench = subparsers.add_parser(
        "bench",
        help="measure the pipeline on generated data: speed, memory and accuracy",
        description=(
            "Generate an inbox (or reuse the cached one), run the pipeline on it, "
            "and report seconds per stage, peak memory, rows per second, the time "
            "of a plain DuckDB read-and-join of the same files, and match and "
            "deduction accuracy against the generator's truth files."
        ),
    )
    bench.add_argument("--invoices", type=int, required=True, help="number of invoices")
    bench.add_argument("--profile", choices=sorted(PROFILES), default="typical",
                       help="shape of the data (default: typical)")
    bench.add_argument("--seed", type=int, default=7, help="seed of the pseudo-random numbers")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--workdir", type=Path, default=Path("data/bench"),
                       help="folder for the cached inbox and the run (default: data/bench)")
    bench.add_argument("--keep", action="store_true",
                       help="keep the run's warehouse, work and state files after the run")
    bench.add_argument("--rules", type=Path, default=None,
                       help="rules folder (default: the rules/ folder of the project)")
    bench.add_argument("--increment", action="store_true",
                       help="measure adding a day's files to a built warehouse instead of one run")
    bench.add_argument("--days-later", type=int, default=0, metavar="N",
                       help="run the increment N days after the base run (needs --increment), as "
                            "a daily schedule does, so open items age and reminders may fall due "
                            "(default: 0, the same run date)")
    bench.add_argument("--pipeline", default="shortpay.pipeline:run_pipeline",
                       metavar="MODULE:FUNCTION",
                       help="pipeline function to measure (default: %(default)s)")
    bench.set_defaults(handler=run_bench)


def run_generate(args: argparse.Namespace) -> int:
    """Run ``shortpay generate`` and print where the files went."""
    from shortpay.bench.generate import generate

    try:
        result = generate(
            args.out,
            invoices=args.invoices,
            customers=args.customers,
            seed=args.seed,
            profile=args.profile,
            truth_dir=args.truth,
            progress=args.invoices >= 50_000,
        )
    except ValueError as error:
        print(f"shortpay generate: {error}", file=sys.stderr)
        return 2
    summary = result.summary
    print(
        f"wrote {result.inbox}: {summary['invoices']} invoices, {summary['payments']} payments, "
        f"{summary['deductions']} deductions; truth in {result.truth}"
    )
    return 0


def run_bench(args: argparse.Namespace) -> int:
    """Run ``shortpay bench`` and print the report as JSON or as a table."""
    import json
    import subprocess

    from shortpay.bench.increment import run_increment_benchmark
    from shortpay.bench.runner import format_table, load_pipeline, run_benchmark
    from shortpay.settings import DEFAULT_RULES_DIR

    if args.days_later and not args.increment:
        print("shortpay bench: --days-later needs --increment", file=sys.stderr)
        return 2
    if args.days_later < 0:
        print("shortpay bench: --days-later must be 0 or more", file=sys.stderr)
        return 2
    extra = {"days_later": args.days_later} if args.increment else {}
    try:
        pipeline = load_pipeline(args.pipeline)
        report = (run_increment_benchmark if args.increment else run_benchmark)(
            invoices=args.invoices,
            profile=args.profile,
            seed=args.seed,
            workdir=args.workdir,
            rules_dir=args.rules or DEFAULT_RULES_DIR,
            keep=args.keep,
            pipeline=pipeline,
            **extra,
        )
    except (RuntimeError, ValueError, subprocess.CalledProcessError) as error:
        print(f"shortpay bench: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0
