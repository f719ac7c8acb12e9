"""Short-lived connections to the state database (audit log and outbox).

DuckDB lets one process write a database file at a time and blocks every
other process from opening it meanwhile, even read-only. The state database
is therefore only ever opened for one short transaction: callers use
``state_connection`` and keep no connection open across slow work such as
an HTTP call. A caller that finds the file locked retries for ``timeout``
seconds before it raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

LOCK_RETRY_SECONDS = 0.05


@contextmanager
def state_connection(
    path: Path, read_only: bool = False, timeout: float = 30.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the state database, retrying while another process holds its lock."""
    deadline = time.monotonic() + timeout
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            if read_only and not path.exists():
                # A read-only open of a missing file fails, so create it
                # empty first; that open takes the lock like any other.
                duckdb.connect(str(path)).close()
            connection = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() > deadline:
                raise
            time.sleep(LOCK_RETRY_SECONDS)
    try:
        yield connection
    finally:
        connection.close()
