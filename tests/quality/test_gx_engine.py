"""FetchingExecutionEngine returns the rows of a query after its connection closed."""

from __future__ import annotations

import sqlalchemy
from quality_db import build_work_db

from shortpay.gx_engine import (
    SINGLE_CONNECTION_KWARGS,
    FetchingExecutionEngine,
    duckdb_connection_string,
)


def test_execute_query_returns_rows(tmp_path):
    work_db = build_work_db(tmp_path / "work.duckdb")
    engine = FetchingExecutionEngine(
        connection_string=duckdb_connection_string(str(work_db)), **SINGLE_CONNECTION_KWARGS
    )
    try:
        result = engine.execute_query(
            sqlalchemy.text("select deduction_id from marts.fct_deductions order by 1")
        )
        rows = result.fetchall()
    finally:
        engine.close()
        engine.engine.dispose()

    assert [row[0] for row in rows] == ["D1", "D2", "D3"]
