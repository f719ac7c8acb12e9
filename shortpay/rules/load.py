"""Load the rule files of a folder and write them as tables in the ``rules`` schema."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import astuple
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import yaml

from shortpay.rules.model import (
    CategoryPolicy,
    DisputeWindow,
    ReasonCodeRule,
    RoutingRule,
    RuleSet,
    Setting,
    Tolerance,
)
from shortpay.rules.schema import RULE_FILES
from shortpay.rules.validate import RuleIssue, RulesError, check_document
from shortpay.rules.yaml_io import parse_yaml

__all__ = ["RuleSet", "RulesError", "RuleIssue", "load_rules", "write_rule_tables"]

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
PERCENT_STEP = Decimal("0.0001")


def content_hash(files: dict[str, bytes]) -> str:
    """Hash file names and bytes in sorted name order with SHA-256.

    Each file contributes ``name``, a NUL byte, its size in decimal, a NUL
    byte and its bytes, so no two different folders give the same input.
    """
    digest = hashlib.sha256()
    for name in sorted(files):
        data = files[name]
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def read_rule_files(rules_dir: Path) -> dict[str, bytes]:
    """Read every ``*.yaml`` file directly inside ``rules_dir``, keyed by file name."""
    return {path.name: path.read_bytes() for path in sorted(rules_dir.glob("*.yaml"))}


def parse_rule_file(label: str, data: bytes) -> tuple[Any, list[RuleIssue]]:
    """Decode and parse one rule file, returning decoding and YAML errors as issues."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, [RuleIssue(label, None, None, f"is not UTF-8 text ({error.reason})")]
    try:
        return parse_yaml(text), []
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        return None, [RuleIssue(label, None, None, f"is not valid YAML: {where}{problem}")]


def load_rules(rules_dir: Path) -> RuleSet:
    """Validate the rule files of ``rules_dir`` and return them as a RuleSet.

    Raises RulesError listing every problem of every file, each naming the
    file, the rule id and the field.
    """
    rules_dir = Path(rules_dir)
    if not rules_dir.is_dir():
        raise RulesError([RuleIssue(str(rules_dir), None, None, "rules folder not found")])
    files = read_rule_files(rules_dir)
    documents: dict[str, Any] = {}
    issues: list[RuleIssue] = []
    for name in RULE_FILES:
        label = str(rules_dir / name)
        if name not in files:
            issues.append(RuleIssue(label, None, None, "file not found"))
            continue
        document, parse_issues = parse_rule_file(label, files[name])
        issues += parse_issues
        if not parse_issues:
            issues += check_document(name, document, label)
            documents[name] = document
    if issues:
        raise RulesError(issues)
    ruleset = build_ruleset(rules_dir, documents, content_hash(files), len(files))
    logger.info(
        "loaded rules from %s: %d files, content hash %s",
        rules_dir, len(files), ruleset.content_hash[:12],
    )
    return ruleset


def build_ruleset(
    rules_dir: Path, documents: dict[str, Any], digest: str, file_count: int
) -> RuleSet:
    """Turn validated documents into typed rows, one row per reason code."""
    return RuleSet(
        rules_dir=rules_dir.resolve(),
        content_hash=digest,
        file_count=file_count,
        reason_codes=tuple(_reason_code_rows(documents["reason_codes.yaml"]["rules"])),
        category_policies=tuple(
            CategoryPolicy(
                rule_id=rule["id"],
                category=rule["category"],
                allowed=rule["allowed"],
                evidence_required=rule["evidence_required"],
                default_validity=rule["default_validity"],
                description=rule["description"],
            )
            for rule in documents["categories.yaml"]["rules"]
        ),
        tolerances=tuple(
            Tolerance(
                **_scope(rule),
                max_amount=_quantize(rule.get("max_amount"), CENT),
                max_percent=_quantize(rule.get("max_percent"), PERCENT_STEP),
                description=rule["description"],
            )
            for rule in documents["tolerances.yaml"]["rules"]
        ),
        dispute_windows=tuple(
            DisputeWindow(
                **_scope(rule), window_days=rule["window_days"], description=rule["description"]
            )
            for rule in documents["dispute_windows.yaml"]["rules"]
        ),
        routing=tuple(
            RoutingRule(
                **_scope(rule),
                min_amount=_quantize(rule.get("min_amount"), CENT),
                max_amount=_quantize(rule.get("max_amount"), CENT),
                owner=rule["owner"],
                team=rule["team"],
                priority=rule["priority"],
                description=rule["description"],
            )
            for rule in documents["routing.yaml"]["rules"]
        ),
        settings=tuple(
            Setting(key=key, value=setting_text(entry["value"]), description=entry["description"])
            for key, entry in documents["settings.yaml"]["settings"].items()
        ),
    )


def _reason_code_rows(rules: list[dict]) -> list[ReasonCodeRule]:
    return [
        ReasonCodeRule(
            rule_id=rule["id"],
            scope_type=rule["scope_type"],
            scope_id=rule.get("scope_id"),
            reason_code=code,
            category=rule["category"],
            description=rule["description"],
        )
        for rule in rules
        for code in rule["codes"]
    ]


def _scope(rule: dict) -> dict[str, Any]:
    return {
        "rule_id": rule["id"],
        "scope_type": rule["scope_type"],
        "scope_id": rule.get("scope_id"),
        "category": rule.get("category"),
    }


def _quantize(value: Decimal | int | None, step: Decimal) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(step)


def setting_text(value: Any) -> str:
    """Render a setting value as the text stored in ``rules.settings``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(value.quantize(CENT))
    return str(value)


# --- tables --------------------------------------------------------------------

MONEY = pa.decimal128(18, 2)
TEXT = pa.string()

TABLES: dict[str, tuple[type | None, list[tuple[str, pa.DataType, str]]]] = {
    # table: (row class, [(column, arrow type, DuckDB type)])
    "reason_codes": (
        ReasonCodeRule,
        [
            ("rule_id", TEXT, "VARCHAR NOT NULL"),
            ("scope_type", TEXT, "VARCHAR NOT NULL"),
            ("scope_id", TEXT, "VARCHAR"),
            ("reason_code", TEXT, "VARCHAR NOT NULL"),
            ("category", TEXT, "VARCHAR NOT NULL"),
            ("description", TEXT, "VARCHAR NOT NULL"),
        ],
    ),
    "category_policies": (
        CategoryPolicy,
        [
            ("rule_id", TEXT, "VARCHAR NOT NULL"),
            ("category", TEXT, "VARCHAR NOT NULL"),
            ("allowed", pa.bool_(), "BOOLEAN NOT NULL"),
            ("evidence_required", TEXT, "VARCHAR NOT NULL"),
            ("default_validity", TEXT, "VARCHAR NOT NULL"),
            ("description", TEXT, "VARCHAR NOT NULL"),
        ],
    ),
    "tolerances": (
        Tolerance,
        [
            ("rule_id", TEXT, "VARCHAR NOT NULL"),
            ("scope_type", TEXT, "VARCHAR NOT NULL"),
            ("scope_id", TEXT, "VARCHAR"),
            ("category", TEXT, "VARCHAR"),
            ("max_amount", MONEY, "DECIMAL(18, 2)"),
            ("max_percent", pa.decimal128(9, 4), "DECIMAL(9, 4)"),
            ("description", TEXT, "VARCHAR NOT NULL"),
        ],
    ),
    "dispute_windows": (
        DisputeWindow,
        [
            ("rule_id", TEXT, "VARCHAR NOT NULL"),
            ("scope_type", TEXT, "VARCHAR NOT NULL"),
            ("scope_id", TEXT, "VARCHAR"),
            ("category", TEXT, "VARCHAR"),
            ("window_days", pa.int32(), "INTEGER NOT NULL"),
            ("description", TEXT, "VARCHAR NOT NULL"),
        ],
    ),
    "routing": (
        RoutingRule,
        [
            ("rule_id", TEXT, "VARCHAR NOT NULL"),
            ("scope_type", TEXT, "VARCHAR NOT NULL"),
            ("scope_id", TEXT, "VARCHAR"),
            ("category", TEXT, "VARCHAR"),
            ("min_amount", MONEY, "DECIMAL(18, 2)"),
            ("max_amount", MONEY, "DECIMAL(18, 2)"),
            ("owner", TEXT, "VARCHAR NOT NULL"),
            ("team", TEXT, "VARCHAR NOT NULL"),
            ("priority", pa.int32(), "INTEGER NOT NULL"),
            ("description", TEXT, "VARCHAR NOT NULL"),
        ],
    ),
    "settings": (
        Setting,
        [
            ("key", TEXT, "VARCHAR NOT NULL"),
            ("value", TEXT, "VARCHAR NOT NULL"),
            ("description", TEXT, "VARCHAR NOT NULL"),
        ],
    ),
    "ruleset": (
        None,
        [
            ("content_hash", TEXT, "VARCHAR NOT NULL"),
            ("rules_dir", TEXT, "VARCHAR NOT NULL"),
            ("loaded_at", pa.timestamp("us"), "TIMESTAMP NOT NULL"),
            ("file_count", pa.int32(), "INTEGER NOT NULL"),
        ],
    ),
}


def _arrow_table(columns: list[tuple[str, pa.DataType, str]], rows: list[tuple]) -> pa.Table:
    schema = pa.schema([(name, arrow_type) for name, arrow_type, _ in columns])
    return pa.Table.from_pylist([dict(zip(schema.names, row, strict=True)) for row in rows],
                                schema=schema)


def _table_rows(ruleset: RuleSet) -> dict[str, list[tuple]]:
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    return {
        "reason_codes": [astuple(row) for row in ruleset.reason_codes],
        "category_policies": [astuple(row) for row in ruleset.category_policies],
        "tolerances": [astuple(row) for row in ruleset.tolerances],
        "dispute_windows": [astuple(row) for row in ruleset.dispute_windows],
        "routing": [astuple(row) for row in ruleset.routing],
        "settings": [astuple(row) for row in ruleset.settings],
        "ruleset": [
            (ruleset.content_hash, str(ruleset.rules_dir), loaded_at, ruleset.file_count)
        ],
    }


def write_rule_tables(conn: duckdb.DuckDBPyConnection, ruleset: RuleSet) -> None:
    """Recreate the tables of schema ``rules`` from ``ruleset`` in one transaction.

    Rows go in as an Arrow table, so rule text never becomes part of an SQL
    statement. ``rules.ruleset.loaded_at`` is UTC without a time zone. The
    connection must not be inside an open transaction, because this function
    begins and commits its own.
    """
    rows_by_table = _table_rows(ruleset)
    conn.begin()
    try:
        conn.execute("create schema if not exists rules")
        for table, (_, columns) in TABLES.items():
            column_sql = ", ".join(f"{name} {sql_type}" for name, _, sql_type in columns)
            # Table and column names come from the constant TABLES above, never from rules.
            conn.execute(f"create or replace table rules.{table} ({column_sql})")
            staged = _arrow_table(columns, rows_by_table[table])
            conn.from_arrow(staged).insert_into(f"rules.{table}")
        conn.commit()
    except Exception:
        conn.rollback()
        raise
    logger.info(
        "wrote rule tables: %d reason codes, %d routing rules, ruleset %s",
        len(ruleset.reason_codes), len(ruleset.routing), ruleset.content_hash[:12],
    )
