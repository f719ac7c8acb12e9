"""The log of runs, kept in the state database beside the review decisions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from shortpay.state import state_connection

RUN_HISTORY_DDL = """
create table if not exists run_history (
    run_id varchar primary key,
    started_at timestamptz,
    finished_at timestamptz,
    as_of date,
    inbox varchar,
    rules_hash varchar,
    status varchar,
    failed_stage varchar,
    error varchar,
    summary json
)
"""


def record_run(
    state_db: Path,
    run_id: str,
    started_at: datetime,
    as_of: str,
    inbox: Path,
    status: str,
    summary: dict | None = None,
    rules_hash: str | None = None,
    failed_stage: str | None = None,
    error: str | None = None,
) -> None:
    """Append one run, completed or failed, to ``run_history``."""
    with state_connection(state_db) as connection:
        connection.execute(RUN_HISTORY_DDL)
        connection.execute(
            "insert or replace into run_history values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                started_at,
                datetime.now(UTC),
                as_of,
                str(inbox),
                rules_hash,
                status,
                failed_stage,
                error,
                json.dumps(summary, default=str) if summary is not None else None,
            ],
        )
