"""Copy the decision log from the state database into the work database before dbt runs."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from shortpay.review.log import COLUMN_NAMES, DECISION_LOG_COLUMNS, SELECT_SQL, has_decision_log
from shortpay.state import state_connection

log = logging.getLogger(__name__)

# The snapshot keeps the log's types but drops its constraints: it is
# rebuilt on every run and never written to otherwise.
SNAPSHOT_COLUMNS = DECISION_LOG_COLUMNS.replace(" primary key", "").replace(" unique", "")


def snapshot_state(state_db: Path, conn: duckdb.DuckDBPyConnection) -> int:
    """Replace ``raw.decision_log`` of the work database with the state database's log.

    ``conn`` is open on the work database and not inside a transaction. When the state database or its
    ``decision_log`` table does not exist yet, the snapshot is an empty table
    with the same columns. Returns the number of rows copied.
    """
    rows = None
    if state_db.exists():
        with state_connection(state_db, read_only=True) as state:
            if has_decision_log(state):
                rows = state.sql(SELECT_SQL + " order by sequence").to_arrow_table()
    copied = rows.num_rows if rows is not None else 0
    conn.execute("create schema if not exists raw")
    # One transaction, so a failed copy rolls back to the previous snapshot.
    conn.execute("begin transaction")
    try:
        conn.execute(f"create or replace table raw.decision_log ({SNAPSHOT_COLUMNS})")
        if copied:
            conn.register("decision_log_rows", rows)
            columns = ", ".join(COLUMN_NAMES)
            conn.execute(
                f"insert into raw.decision_log ({columns}) "  # noqa: S608
                f"select {columns} from decision_log_rows"
            )
            conn.unregister("decision_log_rows")
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    log.info("copied %d decision log entries from %s", copied, state_db)
    return copied
