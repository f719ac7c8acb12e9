"""Decide whether a dbt build may be incremental, and record what each build took in.

The invoice-grain models, the matching, allocation and payment-balance
models, the deduction models and the invoice and deduction marts are
incremental. A build rebuilds only the invoices, payments and deductions
that files new since the last completed build touch (the scope models
``int_invoice_scope``, ``int_payment_scope``, ``int_allocation_scope``,
``int_balance_scope`` and ``int_deduction_scope`` say which). Exceptions,
reports and the small tables are rebuilt in full on every build.

A build is full when no build has completed in this work database, or
when the dbt project or the rules differ from the last completed build's.
It is full too when the last build started and did not finish. An
incremental build reads the tables the last build left, and a build that
died half-way may have left some of them rebuilt and some not.
``raw.build_files`` lists the files a completed build took in. A build that
dies leaves it unchanged. The next build then takes in the same files again
and replaces the same rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from shortpay.settings import DBT_PROJECT_DIR

BUILD_TABLES_DDL = (
    "create schema if not exists raw",
    "create table if not exists raw.build_files"
    " (file_hash varchar, run_id varchar, built_at timestamp)",
    "create table if not exists raw.build_state (key varchar, value varchar)",
)

# The scope model and key column of each thing an incremental build counts
# as rebuilt.
REBUILT_SCOPES = {
    "invoices": ("int_allocation_scope", "invoice_id"),
    "payments": ("int_payment_scope", "payment_id"),
    "deductions": ("int_deduction_scope", "deduction_id"),
}

# What the models' output depends on besides the data: their code.
PROJECT_PARTS = ("dbt_project.yml", "models", "macros", "tests")


@dataclass
class BuildPlan:
    incremental: bool
    reason: str
    fingerprint: str
    unbuilt_files: list[str] = field(default_factory=list)
    all_files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "mode": "incremental" if self.incremental else "full",
            "reason": self.reason,
            "new_files": len(self.unbuilt_files),
        }


def project_fingerprint(rules_hash: str, project_dir: Path = DBT_PROJECT_DIR) -> str:
    """SHA-256 over the dbt project's code and the rules' content hash."""
    digest = hashlib.sha256(rules_hash.encode())
    for part in PROJECT_PARTS:
        root = project_dir / part
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            if path.is_file():
                digest.update(str(path.relative_to(project_dir)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_build_tables(connection: duckdb.DuckDBPyConnection) -> None:
    """Create ``raw.build_files`` and ``raw.build_state`` when they do not exist yet."""
    for statement in BUILD_TABLES_DDL:
        connection.execute(statement)


def plan_build(work_db: Path, rules_hash: str, full_build: bool = False) -> BuildPlan:
    """Say whether the next build of ``work_db`` may be incremental, and why.

    ``full_build`` (``shortpay run --full-build``) forces a full build.
    """
    fingerprint = project_fingerprint(rules_hash)
    connection = duckdb.connect(str(work_db))
    try:
        ensure_build_tables(connection)
        state = dict(connection.execute("select key, value from raw.build_state").fetchall())
        files = connection.execute(
            "select distinct files.file_hash, built.file_hash is null from raw.files as files"
            " left join raw.build_files as built on files.file_hash = built.file_hash"
            " order by files.file_hash"
        ).fetchall()
    finally:
        connection.close()
    if full_build:
        reason, incremental = "a full build was requested", False
    elif "fingerprint" not in state:
        reason, incremental = "no earlier build in this work database", False
    elif "started" in state:
        reason, incremental = "the last build did not finish", False
    elif state["fingerprint"] != fingerprint:
        reason, incremental = "the models or the rules changed since the last build", False
    else:
        reason, incremental = "only the invoices, payments and deductions that new files touch are rebuilt", True
    unbuilt = [file_hash for file_hash, is_unbuilt in files if is_unbuilt]
    return BuildPlan(incremental, reason, fingerprint, unbuilt, [file_hash for file_hash, _ in files])


def start_build(work_db: Path, run_id: str) -> None:
    """Record that a build began, so that the next plan can tell that it died.

    record_build clears the record when the build completes.
    """
    connection = duckdb.connect(str(work_db))
    try:
        ensure_build_tables(connection)
        connection.execute("begin transaction")
        connection.execute("delete from raw.build_state where key = 'started'")
        connection.execute("insert into raw.build_state values ('started', ?)", [run_id])
        connection.execute("commit")
    finally:
        connection.close()


def count_rebuilt(work_db: Path) -> dict[str, int]:
    """Count the invoices, payments and deductions that the last incremental build rebuilt.

    Invoices are those whose allocations and balance were computed again:
    the invoices of new rows and those that a payment matched again pays.
    Payments are those matched again and deductions those whose validity
    was decided again.
    """
    connection = duckdb.connect(str(work_db), read_only=True)
    try:
        return {
            name: connection.execute(
                f"select count(distinct {column}) from intermediate.{model}"  # noqa: S608
            ).fetchone()[0]
            for name, (model, column) in REBUILT_SCOPES.items()
        }
    finally:
        connection.close()


def record_build(work_db: Path, plan: BuildPlan, run_id: str) -> None:
    """Mark the plan's files as built and keep its fingerprint, in one transaction.

    ``raw.build_state`` keeps the run ids of this build (``built``) and of the
    build before it (``built_before``), so that publication can tell whether
    the published warehouse contains the tables of the build before.
    """
    connection = duckdb.connect(str(work_db))
    try:
        ensure_build_tables(connection)
        connection.execute("begin transaction")
        if not plan.incremental:
            # A full build took in every file, including ones built before.
            connection.execute("delete from raw.build_files")
        taken_in = plan.unbuilt_files if plan.incremental else plan.all_files
        connection.execute(
            "insert into raw.build_files"
            " select unnest(cast(? as varchar[])), ?, current_timestamp",
            [taken_in, run_id],
        )
        previous = connection.execute(
            "select value from raw.build_state where key = 'built'"
        ).fetchone()
        connection.execute(
            "delete from raw.build_state"
            " where key in ('fingerprint', 'started', 'built', 'built_before')"
        )
        connection.execute(
            "insert into raw.build_state values ('fingerprint', ?), ('built', ?),"
            " ('built_before', ?)",
            [plan.fingerprint, run_id, previous[0] if previous else None],
        )
        connection.execute("commit")
    finally:
        connection.close()
