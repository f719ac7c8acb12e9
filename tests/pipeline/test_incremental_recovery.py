"""Incremental builds after a killed build, a dropped view or a request for a full build."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from incremental_inbox import AS_OF, assert_equals_full_rebuild, split_sample
from warehouse_queries import RULES_DIR, SAMPLE_INBOX, query, table_contents

from shortpay.pipeline import run_pipeline
from shortpay.settings import Paths


def test_killed_build_reruns_in_full(tmp_path, prefect_api):
    """A run killed after some incremental models were rebuilt and others not.

    The next build cannot trust the tables the dead one left, so it is full,
    and it publishes what one run over all the files publishes.
    """
    split = split_sample(tmp_path)
    inbox = split["first"]
    warehouse = tmp_path / "incremental" / "warehouse.duckdb"
    run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    for path in split["day"].iterdir():
        shutil.copy2(path, inbox / path.name)

    dbt_log = Paths.for_warehouse(warehouse).work_dir / "logs" / "dbt.log"
    rebuilt_marker = "OK created sql incremental model intermediate.int_invoice_allocations"
    rebuilt_before = dbt_log.read_text(encoding="utf-8").count(rebuilt_marker)
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("shortpay")), "run", "--inbox", str(inbox),
         "--warehouse", str(warehouse), "--as-of", AS_OF.isoformat()],
        env={**os.environ, "PREFECT_API_URL": prefect_api},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while dbt_log.read_text(encoding="utf-8").count(rebuilt_marker) == rebuilt_before:
        assert process.poll() is None, "the run ended before it was killed"
        assert time.monotonic() < deadline, "the run never rebuilt the allocations"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)

    restarted = run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    assert restarted["build"] == {
        "mode": "full", "reason": "the last build did not finish", "new_files": 6,
    }
    assert restarted["publication"] == "copied"
    assert_equals_full_rebuild(warehouse, inbox, tmp_path)


def test_missing_view_is_made_again(tmp_path, prefect_api):
    """A view dropped from the work database is made again by the next build.

    No model or test of an incremental build reads fct_remittance_lines, so
    without the check for missing views every later publication would fail.
    """
    split = split_sample(tmp_path)
    inbox = split["first"]
    warehouse = tmp_path / "incremental" / "warehouse.duckdb"
    run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    work_db = Paths.for_warehouse(warehouse).work_db
    connection = duckdb.connect(str(work_db))
    try:
        connection.execute("drop view marts.fct_remittance_lines")
    finally:
        connection.close()
    for path in split["day"].iterdir():
        shutil.copy2(path, inbox / path.name)

    second = run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    assert second["build"]["mode"] == "incremental"
    assert second["publication"] == "patched"
    views = query(work_db, "select count(*) from duckdb_views() where not internal")
    assert views == [(14,)]
    assert_equals_full_rebuild(warehouse, inbox, tmp_path)


def test_requested_full_build_changes_nothing(tmp_path, prefect_api):
    warehouse = tmp_path / "warehouse.duckdb"
    run_pipeline(SAMPLE_INBOX, warehouse, RULES_DIR, AS_OF)
    published = table_contents(warehouse)

    again = run_pipeline(SAMPLE_INBOX, warehouse, RULES_DIR, AS_OF, full_build=True)
    assert again["build"] == {
        "mode": "full", "reason": "a full build was requested", "new_files": 0,
    }
    assert again["publication"] == "copied"
    assert again["followups"]["sent"] == 0
    assert table_contents(warehouse) == published
