"""Great Expectations SQL execution engine and datasource for DuckDB files.

GX's ``SqlAlchemyExecutionEngine.execute_query`` runs a query inside
``with self.get_connection()`` and returns the result object after that block
has closed the connection. duckdb-engine drops the rows not fetched yet when
its connection closes, so every metric GX computes comes back empty (row
counts fail with ``IndexError``, unexpected-row queries with ``NoneType``).
Seen with great-expectations 1.11 and 1.24.1 on duckdb-engine 0.17 and
SQLAlchemy 2.1. ``FetchingExecutionEngine`` fetches the rows while the
connection is still open and returns a buffered result with the same API.

``DuckDBDatasource`` is a fluent SQL datasource that uses that engine. With
``SINGLE_CONNECTION_KWARGS`` every query of a run shares one connection, which
is much faster than opening the file per query; disposing the engines closes
it, so the next step of a run can open the file.
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy
from great_expectations.datasource.fluent import SQLDatasource
from great_expectations.execution_engine import SqlAlchemyExecutionEngine


class FetchingExecutionEngine(SqlAlchemyExecutionEngine):
    """SQL execution engine that fetches query results before closing the connection."""

    def execute_query(self, query):
        with self.get_connection() as connection:
            result = self._execute_query_with_recovery(connection, query)
            # freeze() reads every row now; calling the frozen result returns a
            # new Result over those buffered rows.
            return result.freeze()()

    def execute_query_in_transaction(self, query):
        with self.get_connection() as connection:
            result = self._execute_query_with_recovery(connection, query)
            frozen = result.freeze() if result.returns_rows else None
            if connection.in_transaction():
                connection.commit()
        return frozen() if frozen is not None else result


class DuckDBDatasource(SQLDatasource):
    """Fluent SQL datasource for one DuckDB file, validated by ``FetchingExecutionEngine``."""

    type: Literal["shortpay_duckdb"] = "shortpay_duckdb"

    @property
    def execution_engine_type(self) -> type[SqlAlchemyExecutionEngine]:
        return FetchingExecutionEngine


def duckdb_connection_string(path: str) -> str:
    """Return the SQLAlchemy URL of a DuckDB database file."""
    return f"duckdb:///{path}"


# One DuckDB connection per engine, closed by ``engine.dispose()``.
SINGLE_CONNECTION_KWARGS = {"poolclass": sqlalchemy.pool.StaticPool}
