"""A reader, a reviewer and a run, each in its own process, on one installation."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

from warehouse_queries import REPO_ROOT, RULES_DIR, query

from shortpay.pipeline import run_pipeline

CASES = REPO_ROOT / "tests" / "cases" / "matching"
AS_OF = date(2026, 11, 30)
ASSIGNMENTS = 5

# Reads the published warehouse read-only until the stop file appears, and
# writes how many queries succeeded and which errors it met.
READER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import duckdb

    warehouse, stop, report = sys.argv[1:4]
    queries, errors = 0, []
    while not Path(stop).exists():
        try:
            connection = duckdb.connect(warehouse, read_only=True)
            try:
                connection.execute(
                    "select count(*), sum(deduction_amount) from fct_deductions"
                ).fetchall()
                connection.execute("select count(*) from exceptions").fetchall()
            finally:
                connection.close()
            queries += 1
        except Exception as error:
            errors.append(repr(error))
        time.sleep(0.02)
    Path(report).write_text(json.dumps({"queries": queries, "errors": errors}))
    """
)


def shortpay_command(*arguments: str) -> list[str]:
    return [str(Path(sys.executable).with_name("shortpay")), *arguments]


def test_reader_reviewer_and_run(tmp_path: Path, prefect_api: str):
    inbox = tmp_path / "inbox"
    shutil.copytree(CASES, inbox)
    warehouse = tmp_path / "warehouse.duckdb"
    run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    (deduction_id,) = query(
        warehouse, "select deduction_id from fct_deductions where payment_id = 'PA2'"
    )[0]
    # A new day's file, so the concurrent run really rebuilds and republishes.
    (inbox / "remittances_late.csv").write_text(
        "payment_id,customer_id,payment_date,payment_amount,currency,invoice_reference,paid_amount\n"
        "PLATE,CD,2026-11-20,700.00,USD,D-1,700.00\n",
        encoding="utf-8",
    )
    environment = {**os.environ, "PREFECT_API_URL": prefect_api}
    stop = tmp_path / "stop"
    reader_report = tmp_path / "reader.json"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(warehouse), str(stop), str(reader_report)]
    )
    run = subprocess.Popen(
        shortpay_command(
            "run", "--inbox", str(inbox), "--warehouse", str(warehouse),
            "--as-of", AS_OF.isoformat(),
        ),
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    for number in range(ASSIGNMENTS):
        assigned = subprocess.run(
            shortpay_command(
                "review", "assign", deduction_id, "--to", f"analyst-{number}",
                "--warehouse", str(warehouse), "--actor", "lead",
            ),
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert assigned.returncode == 0, assigned.stderr
    _, run_errors = run.communicate(timeout=600)
    assert run.returncode == 0, run_errors[-3000:]
    stop.touch()
    reader.wait(timeout=60)

    report = json.loads(reader_report.read_text())
    assert report["errors"] == []
    assert report["queries"] > 0
    assert query(warehouse, "select open_amount from fct_invoices where invoice_id = 'D-1'") == [
        (0,)
    ]

    # Decisions made while the run was building show after the next run,
    # and stay through every rebuild after it.
    for _ in range(2):
        run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
        assert query(
            warehouse, "select assignee from fct_deductions where deduction_id = ?", [deduction_id]
        ) == [(f"analyst-{ASSIGNMENTS - 1}",)]
    verified = subprocess.run(
        shortpay_command("review", "verify", "--warehouse", str(warehouse), "--json"),
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["entries"] == ASSIGNMENTS
