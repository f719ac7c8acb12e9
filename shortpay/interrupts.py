"""Ctrl-C inside DuckDB, which reaches Python as an ordinary error."""

from __future__ import annotations

import duckdb


def raise_if_interrupted(error: Exception) -> None:
    """Raise KeyboardInterrupt when ``error`` is DuckDB's report of Ctrl-C.

    DuckDB stops a running query on SIGINT and raises RuntimeError("Query
    interrupted") in place of KeyboardInterrupt. Caught as a failure, it
    would mark a good file rejected for good, or a check as broken.
    """
    if isinstance(error, duckdb.InterruptException) or (
        isinstance(error, RuntimeError) and str(error) == "Query interrupted"
    ):
        raise KeyboardInterrupt from error
