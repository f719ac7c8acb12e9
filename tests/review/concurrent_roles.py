"""Roles for the concurrency test, each run in its own process.

usage: python concurrent_roles.py ROLE WAREHOUSE SECONDS_OR_COUNT

Each role prints one JSON line with its counts when it ends.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))

from review_db import build_warehouse  # noqa: E402

from shortpay.cli import main  # noqa: E402
from shortpay.review.queue import QueueFilters, list_queue  # noqa: E402
from shortpay.review.snapshot import snapshot_state  # noqa: E402
from shortpay.settings import Paths  # noqa: E402


def read(paths: Paths, seconds: float) -> dict:
    """Query the published file read-only, and the queue with decisions, in a loop."""
    queries = errors = 0
    messages = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            connection = duckdb.connect(str(paths.warehouse), read_only=True)
            try:
                rows = connection.execute("select count(*) from fct_deductions").fetchall()
                assert rows == [(3,)], rows
            finally:
                connection.close()
            list_queue(paths.warehouse, paths.state_db, QueueFilters(status="all"))
            queries += 1
        except Exception as error:  # noqa: BLE001 - the test counts every kind of failure
            errors += 1
            messages.append(repr(error))
    return {"queries": queries, "errors": errors, "messages": messages[:5]}


def review(paths: Paths, count: int) -> dict:
    """Append ``count`` notes through the CLI, one process-wide transaction each."""
    appended = failed = 0
    for index in range(count):
        code = main(
            [
                "review",
                "note",
                "D1",
                "--actor",
                "reviewer",
                "--reason",
                f"note {index}",
                "--warehouse",
                str(paths.warehouse),
            ]
        )
        if code == 0:
            appended += 1
        else:
            failed += 1
    return {"appended": appended, "failed": failed}


def rebuild(paths: Paths, seconds: float) -> dict:
    """Snapshot the log like a run does, rebuild the published file and swap it in."""
    rebuilds = 0
    snapshot_counts = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        work = duckdb.connect(str(paths.work_db))
        try:
            snapshot_counts.append(snapshot_state(paths.state_db, work))
        finally:
            work.close()
        staging = paths.warehouse.with_name(f".{paths.warehouse.name}.{os.getpid()}.tmp")
        staging.unlink(missing_ok=True)
        build_warehouse(staging)
        os.replace(staging, paths.warehouse)
        rebuilds += 1
    return {"rebuilds": rebuilds, "snapshot_counts": snapshot_counts}


if __name__ == "__main__":
    role, warehouse, amount = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    installation = Paths.for_warehouse(warehouse)
    if role == "read":
        report = read(installation, float(amount))
    elif role == "review":
        report = review(installation, int(amount))
    else:
        report = rebuild(installation, float(amount))
    print(json.dumps(report))
