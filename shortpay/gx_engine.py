"""Great Expectations SQL execution engine and datasource for DuckDB files.

GX's ``SqlAlchemyExecutionEngine.execute_query`` runs a query inside
``with self.get_connection()`` and returns the result object after that block
has closed the connection. duckdb-engine drops the rows not fetched yet when
its connection closes, so every metric GX computes comes back empty (row
counts fail with ``IndexError``, unexpected-row queries with ``NoneType``).
Reproduced with great-expectations 1.24.1, duckdb-engine 0.17.0 and
SQLAlchemy 2.1.9; GX 1.11 is reported to behave the same. The one override
below, ``FetchingExecutionEngine.execute_query``, fetches the rows while the
connection is still open and returns a buffered result with the same API.
GX runs only inserts and DDL through ``execute_query_in_transaction``, so
that method needs no change.

``ExpectNoUnexpectedRows`` (suite type ``expect_no_unexpected_rows``) is
GX's unexpected-rows expectation without its limit of 200 listed rows.

``DuckDBDatasource`` is a fluent SQL datasource that uses that engine. With
``SINGLE_CONNECTION_KWARGS`` every query of a run shares one connection,
because opening the file for each query makes a run several times slower.
Disposing the engines closes that connection, so the next step of a run can
open the file.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import sqlalchemy
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.datasource.fluent import SQLDatasource
from great_expectations.execution_engine import SqlAlchemyExecutionEngine
from great_expectations.expectations import UnexpectedRowsExpectation
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.query_metrics.query_table.query_table import (
    QueryTable,
)


class FetchingExecutionEngine(SqlAlchemyExecutionEngine):
    """SQL execution engine that fetches query results before closing the connection."""

    def execute_query(self, query):
        with self.get_connection() as connection:
            result = self._execute_query_with_recovery(connection, query)
            # freeze() reads every row now; calling the frozen result returns a
            # new Result over those buffered rows.
            return result.freeze()()


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


class AllUnexpectedRowsQueryTable(QueryTable):
    """Metric with every row an unexpected-rows query returns, not only the first 200."""

    metric_name = "shortpay.unexpected_rows_query.all_rows"
    value_keys = ("unexpected_rows_query",)
    query_param_name: ClassVar[str] = "unexpected_rows_query"

    @metric_value(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(
        cls,
        execution_engine: SqlAlchemyExecutionEngine,
        metric_domain_kwargs: dict,
        metric_value_kwargs: dict,
        metrics: dict[str, Any],
        runtime_configuration: dict,
    ) -> list[dict]:
        batch_selectable, _, _ = execution_engine.get_compute_domain(
            metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE
        )
        query = cls._get_query_from_metric_value_kwargs(metric_value_kwargs)
        subquery = cls._get_substituted_batch_subquery_from_query_and_batch_selectable(
            query=query,
            batch_selectable=batch_selectable,
            execution_engine=execution_engine,
        )
        return cls._get_sqlalchemy_records_from_substituted_batch_subquery(
            substituted_batch_subquery=subquery,
            execution_engine=execution_engine,
            fetch_all=True,
        )


class ExpectNoUnexpectedRows(UnexpectedRowsExpectation):
    """Expect an SQL query over the batch to return no rows, and list every row it returns.

    GX's ``UnexpectedRowsExpectation`` (1.24) lists at most 200 of the rows;
    this one lists them all, so each failing row can be recorded.
    """

    metric_dependencies: ClassVar[tuple[str, ...]] = (
        AllUnexpectedRowsQueryTable.metric_name,
        "unexpected_rows_query.row_count",
    )

    def _validate(self, metrics: dict, runtime_configuration=None, execution_engine=None):
        renamed = dict(metrics)
        renamed["unexpected_rows_query.table"] = renamed.pop(
            AllUnexpectedRowsQueryTable.metric_name
        )
        return super()._validate(renamed, runtime_configuration, execution_engine)
