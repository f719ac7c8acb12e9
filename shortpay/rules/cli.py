"""Command-line entry points of shortpay.rules."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import duckdb

from shortpay.rules.load import RulesError, load_rules
from shortpay.rules.schema import RULE_FILES, render_schema, schema_file_name, write_schemas
from shortpay.settings import DEFAULT_RULES_DIR


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this package's subcommands to the `shortpay` parser."""
    parser = subparsers.add_parser("rules", help="validate, edit and preview the deduction rules")
    commands = parser.add_subparsers(dest="rules_command", metavar="RULES_COMMAND", required=True)

    validate = commands.add_parser("validate", help="check every rule file; exit 1 on problems")
    _add_rules_option(validate)
    validate.set_defaults(handler=run_validate)

    schema = commands.add_parser("schema", help="write the JSON Schema of each rule file")
    schema.add_argument(
        "--out", type=Path, default=DEFAULT_RULES_DIR / "schema",
        help="folder for the *.schema.json files (default: rules/schema)",
    )
    schema.add_argument(
        "--check", action="store_true",
        help="write nothing; exit 1 when a file in --out differs from the schema",
    )
    schema.set_defaults(handler=run_schema)

    edit = commands.add_parser("edit", help="edit the rule files in a web page on 127.0.0.1")
    _add_rules_option(edit)
    edit.add_argument(
        "--port", type=int, default=8765, help="TCP port on 127.0.0.1 (default: 8765)"
    )
    edit.set_defaults(handler=run_edit)

    preview = commands.add_parser(
        "preview",
        help="show which deductions would change category, validity or status under the rules",
    )
    _add_rules_option(preview)
    preview.add_argument(
        "--warehouse", type=Path, required=True, help="published warehouse DuckDB file"
    )
    preview.add_argument(
        "--as-of", type=dt.date.fromisoformat, default=None,
        help="evaluation date as YYYY-MM-DD (default: today, as for `shortpay run`)",
    )
    preview.add_argument("--json", action="store_true", help="print the result as JSON")
    preview.set_defaults(handler=run_preview)


def _add_rules_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules", type=Path, default=DEFAULT_RULES_DIR,
        help="folder with the rule YAML files (default: the repository's rules/)",
    )


def run_validate(args: argparse.Namespace) -> int:
    try:
        ruleset = load_rules(args.rules)
    except RulesError as error:
        print(error, file=sys.stderr)
        return 1
    print(
        f"{args.rules}: rules are valid ({ruleset.file_count} files, "
        f"{len(ruleset.reason_codes)} reason codes, content hash {ruleset.content_hash})"
    )
    return 0


def run_schema(args: argparse.Namespace) -> int:
    if not args.check:
        for path in write_schemas(args.out):
            print(f"wrote {path}")
        return 0
    stale = []
    for rule_file in RULE_FILES:
        path = args.out / schema_file_name(rule_file)
        if not path.exists() or path.read_text(encoding="utf-8") != render_schema(rule_file):
            stale.append(path)
    for path in stale:
        print(f"{path}: missing or out of date; run `shortpay rules schema`", file=sys.stderr)
    return 1 if stale else 0


def run_edit(args: argparse.Namespace) -> int:
    from shortpay.rules.editor import RuleEditorServer, serve

    if not args.rules.is_dir():
        print(f"{args.rules}: rules folder not found", file=sys.stderr)
        return 1
    try:
        server = RuleEditorServer(args.rules, args.port)
    except OSError as error:
        print(f"failed to listen on 127.0.0.1:{args.port} ({error}); choose another --port",
              file=sys.stderr)
        return 1
    print(f"Rules editor for {args.rules}: {server.url} (Ctrl+C stops it)")
    serve(server)
    return 0


def run_preview(args: argparse.Namespace) -> int:
    from shortpay import pipeline
    from shortpay.rules.preview import (
        PreviewError,
        compare_warehouses,
        decided_since_last_run,
        format_report,
    )
    from shortpay.settings import Paths

    try:
        load_rules(args.rules)
    except RulesError as error:
        return _preview_failed(args, str(error))
    paths = Paths.for_warehouse(args.warehouse)
    if not paths.warehouse.exists():
        return _preview_failed(
            args, f"{paths.warehouse}: published warehouse not found; run `shortpay run` first"
        )
    if not paths.work_db.exists():
        return _preview_failed(
            args, f"{paths.work_db}: work database not found; run `shortpay run` first"
        )
    # The same default as `shortpay run`, so the preview ages deductions alike.
    as_of = args.as_of or dt.date.today()
    try:
        rebuilt = Path(pipeline.rebuild_copy(paths, args.rules, as_of))
    except (OSError, RulesError, RuntimeError, duckdb.Error) as error:
        # RuntimeError covers a failing dbt build.
        return _preview_failed(
            args, f"preview failed: rebuilding the warehouse copy failed: {error}"
        )
    try:
        left_out = decided_since_last_run(paths.work_db, paths.state_db)
        report = compare_warehouses(paths.warehouse, rebuilt, left_out)
    except (PreviewError, duckdb.Error) as error:
        return _preview_failed(args, f"preview failed: {error}")
    finally:
        pipeline.remove_copy(rebuilt)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(format_report(report), end="")
    return 0


def _preview_failed(args: argparse.Namespace, message: str) -> int:
    """Print why the preview failed, and with --json also a JSON report on standard output.

    Returns the exit code 1.
    """
    print(message, file=sys.stderr)
    if args.json:
        print(json.dumps({"status": "failed", "error": message}))
    return 1

