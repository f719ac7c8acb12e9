"""Entry points that run the main flow from Python: the CLI, tests and the benchmark."""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from shortpay.settings import Paths, set_library_defaults

log = logging.getLogger(__name__)


def new_run_id() -> str:
    """Return a run id that sorts by start time."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


def run_pipeline(
    inbox: Path,
    warehouse: Path,
    rules_dir: Path,
    as_of: date,
    outbox: Path | None = None,
    transport: str | None = None,
    run_id: str | None = None,
    expectations_dir: Path | None = None,
    full_build: bool = False,
) -> dict:
    """Run the main flow once and return its summary (see flows.main)."""
    set_library_defaults()
    from flows.main import main_flow

    extra = {"expectations_dir": Path(expectations_dir).resolve()} if expectations_dir else {}
    return main_flow(
        **extra,
        inbox=Path(inbox).resolve(),
        warehouse=Path(warehouse).resolve(),
        rules_dir=Path(rules_dir).resolve(),
        as_of=as_of,
        run_id=run_id or new_run_id(),
        outbox=Path(outbox).resolve() if outbox else None,
        transport=transport,
        full_build=full_build,
    )


def rebuild_copy(paths: Paths, rules_dir: Path, as_of: date) -> Path:
    """Rebuild the marts under other rules in a copy of the work database.

    Nothing is ingested, sent or published: the copy gets the new rule tables
    and a fresh dbt build, and its path is returned (the caller deletes it).
    """
    from shortpay.dbt_runner import run_dbt_build
    from shortpay.rules.load import load_rules, write_rule_tables

    if not paths.work_db.exists():
        raise FileNotFoundError(
            f"no work database at {paths.work_db}; run `shortpay run` first"
        )
    ruleset = load_rules(rules_dir)
    scratch = Path(tempfile.mkdtemp(prefix="shortpay-preview-"))
    copy_db = scratch / "work.duckdb"
    # Copy through DuckDB, which reads a consistent, checkpointed state.
    copier = duckdb.connect()
    try:
        copier.execute("attach ? as work (read_only)", [str(paths.work_db)])
        copier.execute("attach ? as copy_db", [str(copy_db)])
        copier.execute("copy from database work to copy_db")
    except BaseException:
        copier.close()
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    copier.close()
    connection = duckdb.connect(str(copy_db))
    try:
        write_rule_tables(connection, ruleset)
    finally:
        connection.close()
    try:
        run_dbt_build(copy_db, scratch, as_of)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return copy_db


def remove_copy(copy_db: Path) -> None:
    """Delete a database made by rebuild_copy, with its folder."""
    shutil.rmtree(copy_db.parent, ignore_errors=True)
