"""The bundled sample inbox through the main flow: exact results, reruns, crashes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest
from warehouse_queries import REPO_ROOT, RULES_DIR, SAMPLE_INBOX, query, table_contents

from shortpay.dbt_runner import DbtBuildError, run_dbt_build
from shortpay.pipeline import run_pipeline
from shortpay.summary import format_summary

AS_OF = date(2026, 11, 30)

# What the run finds in data/sample. Payment, invoice and category totals
# agree with data/sample_truth/expected_summary.json, which the generator
# wrote; the bad rows are the ones listed in data/sample_truth/bad_rows.csv.
EXPECTED_FILES = 22
EXPECTED_PAYMENTS = {
    "count": 1132,
    "received": "3239327.71",
    "applied": "3211926.63",
    "unapplied": "27476.08",
    "payment_level_deductions": "75.00",
}
EXPECTED_INVOICES = {
    "count": 2000,
    "invoiced": "3774107.00",
    "applied": "3211926.63",
    "discounts": "3580.90",
    "deducted": "23266.48",
    "open": "535332.99",
}
EXPECTED_DEDUCTION_COUNT = 257
EXPECTED_DEDUCTION_AMOUNT = "26922.38"
EXPECTED_BY_CATEGORY = {
    "compliance_fine": {"count": 4, "amount": "667.86"},
    "damage": {"count": 35, "amount": "4899.50"},
    "early_pay_discount": {"count": 80, "amount": "3580.90"},
    "freight": {"count": 16, "amount": "2384.64"},
    "pricing": {"count": 10, "amount": "388.50"},
    "returns": {"count": 19, "amount": "2365.87"},
    "shortage": {"count": 18, "amount": "765.03"},
    "tax": {"count": 3, "amount": "556.69"},
    "trade_promotion": {"count": 48, "amount": "7027.50"},
    "unidentified": {"count": 24, "amount": "4285.89"},
}
EXPECTED_BY_VALIDITY = {
    "invalid": {"count": 61, "amount": "6085.14"},
    "needs_review": {"count": 97, "amount": "14492.59"},
    "valid": {"count": 99, "amount": "6344.65"},
}
EXPECTED_EXCEPTIONS = {
    "deadline_approaching": 9,
    "deadline_passed": 29,
    "deduction_review": 97,
    "ingest_error": 5,
    "overpayment": 1,
    "unapplied_cash": 5,
    "unmatched_remittance": 4,
}
EXPECTED_BAD_ROWS = [
    ("invoice_lines.csv", "line 42"),
    ("invoices.csv", "line 9"),
    ("remittances_2026-09-14.csv", "line 5"),
    ("remittances_2026-09-28.csv", "line 6"),
    ("remittances_2026-10-12.csv", "line 7"),
]
EXPECTED_FOLLOWUPS = 30


def outbox_files(warehouse: Path) -> list[str]:
    outbox = warehouse.parent / "outbox"
    return sorted(str(path.relative_to(outbox)) for path in outbox.rglob("*") if path.is_file())


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> dict:
    """Run the sample inbox twice into one warehouse and keep what each run left."""
    warehouse = tmp_path_factory.mktemp("sample") / "warehouse.duckdb"
    first = run_pipeline(SAMPLE_INBOX, warehouse, RULES_DIR, AS_OF)
    first_tables = table_contents(warehouse)
    first_outbox = outbox_files(warehouse)
    second = run_pipeline(SAMPLE_INBOX, warehouse, RULES_DIR, AS_OF)
    return {
        "warehouse": warehouse,
        "first": first,
        "first_tables": first_tables,
        "first_outbox": first_outbox,
        "second": second,
        "second_tables": table_contents(warehouse),
        "second_outbox": outbox_files(warehouse),
    }


def test_sample_ingest_counts(sample_runs):
    ingest = sample_runs["first"]["ingest"]
    assert ingest["files_seen"] == EXPECTED_FILES
    assert ingest["files_loaded"] == EXPECTED_FILES
    assert ingest["files_rejected"] == 0


def test_sample_payment_sums(sample_runs):
    assert sample_runs["first"]["payments"] == EXPECTED_PAYMENTS


def test_sample_invoice_sums(sample_runs):
    assert sample_runs["first"]["invoices"] == EXPECTED_INVOICES


def test_sample_deductions_by_category(sample_runs):
    deductions = sample_runs["first"]["deductions"]
    assert deductions["count"] == EXPECTED_DEDUCTION_COUNT
    assert deductions["amount"] == EXPECTED_DEDUCTION_AMOUNT
    assert deductions["by_category"] == EXPECTED_BY_CATEGORY


def test_sample_deductions_by_validity(sample_runs):
    assert sample_runs["first"]["deductions"]["by_validity"] == EXPECTED_BY_VALIDITY


def test_sample_exceptions_by_type(sample_runs):
    assert sample_runs["first"]["exceptions"]["by_type"] == EXPECTED_EXCEPTIONS


def test_shortpay_log_lines_reach_prefect(sample_runs):
    """Lines of Shortpay's own loggers are in the flow run's log, from the
    main thread and from the follow-up task's thread alike."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30)
    warehouse = str(sample_runs["warehouse"].resolve())
    with get_client(sync_client=True) as client:
        run_ids = [
            run.id
            for run in client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=200)
            if str(run.parameters.get("warehouse")) == warehouse
        ]
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=run_ids)), limit=200
        )
    messages = {(log.name, log.message.split(":", 1)[0]) for log in logs}
    assert len(run_ids) == 2
    assert ("shortpay.ingest.loader", "loaded customers.csv") in messages
    assert ("shortpay.followups.run", "Follow-ups as of 2026-11-30") in messages


def test_sample_bad_rows_name_file_and_line(sample_runs):
    rows = query(
        sample_runs["warehouse"],
        "select source_file, source_position, message from exceptions"
        " where exception_type = 'ingest_error' order by source_file, source_position",
    )
    assert [(file, position) for file, position, _ in rows] == EXPECTED_BAD_ROWS
    assert all(message for _, _, message in rows)


def test_sample_sums_balance(sample_runs):
    assert all(sample_runs["first"]["balances"].values())
    warehouse = sample_runs["warehouse"]
    assert query(
        warehouse,
        "select count(*) from fct_invoices where total_amount"
        " <> applied_amount + discount_amount + deducted_amount + open_amount",
    ) == [(0,)]
    assert query(
        warehouse,
        "select count(*) from fct_deductions where validity <> 'needs_review'"
        " and valid_amount + invalid_amount <> deduction_amount",
    ) == [(0,)]


def test_sample_summary_shows_the_sums(sample_runs):
    lines = format_summary(sample_runs["first"]).splitlines()
    assert [line for line in lines if line.startswith(("  payments", "  invoices", "  deductions"))] == [
        "  payments: 1132 received 3239327.71: applied to invoices 3211926.63"
        " + unapplied 27476.08 - deducted at payment level 75.00",
        "  invoices: 2000 invoiced 3774107.00: applied 3211926.63 + discounts taken 3580.90"
        " + deducted 23266.48 + open 535332.99",
        "  deductions: 257 totalling 26922.38, split by amount: valid 9082.69"
        " + invalid 3347.10 + awaiting review 14492.59",
    ]
    assert (
        "    on invoices 26847.38: discounts taken 3580.90 + deducted 23266.48;"
        " at payment level 75.00"
    ) in lines
    assert lines[-2] == (
        "  sums: payments balance, deductions balance, invoices balance,"
        " invoice_deductions balance"
    )


def test_column_checks_name_each_failure(tmp_path: Path, sample_runs):
    work_db = tmp_path / "work" / "work.duckdb"
    work_db.parent.mkdir()
    source = sample_runs["warehouse"].parent / ".shortpay" / "warehouse" / "work.duckdb"
    shutil.copyfile(source, work_db)
    first, second, third = [
        deduction_id for (deduction_id,) in query(
            work_db,
            "select deduction_id from marts.fct_deductions order by deduction_id limit 3",
        )
    ]
    connection = duckdb.connect(str(work_db))
    connection.execute(
        "update marts.fct_deductions set category = 'bogus' where deduction_id = ?", [first]
    )
    connection.execute(
        "insert into marts.fct_deductions select * from marts.fct_deductions"
        " where deduction_id = ?",
        [second],
    )
    connection.execute(
        "update marts.fct_deductions set rule_id = null where deduction_id = ?", [third]
    )
    connection.close()

    with pytest.raises(DbtBuildError) as failure:
        run_dbt_build(
            work_db, work_db.parent, AS_OF, select="fct_deductions,test_name:column_checks",
            incremental=True, shared_parse=True,
        )
    assert str(failure.value).endswith(
        "Got 3 results, configured to fail if != 0 (first rows:"
        " column_name=category, failure=not accepted, example=bogus, failing_rows=1"
        f" | column_name=deduction_id, failure=repeated, example={second}, failing_rows=2"
        " | column_name=rule_id, failure=null, example=None, failing_rows=1)"
    )


def test_invoice_auto_match_rate(sample_runs):
    """Invoices whose deductions need review count as paid, not as matched with no person."""
    rates = query(
        sample_runs["warehouse"],
        """
        with reviewed as (
            select distinct invoice_id, customer_id from fct_deductions
            where validity = 'needs_review' or first_decided_at is not null
        ),
        paid as (
            select
                date_trunc('month', invoices.last_payment_date) as period_start,
                count(*) as paid,
                count(*) filter (
                    where invoices.open_amount = 0 and reviewed.invoice_id is null
                ) as matched
            from fct_invoices as invoices
            left join reviewed using (invoice_id, customer_id)
            where invoices.last_payment_date is not null
            group by 1
        )
        select
            count(*),
            count(*) filter (where kpis.auto_match_rate_invoices
                = round(cast(paid.matched as decimal(18, 6)) / paid.paid, 6)),
            count(*) filter (where paid.matched < paid.paid)
        from paid
        inner join rpt_deduction_kpis as kpis
            on kpis.period_start = paid.period_start
        """,
    )
    months, agreeing, below_one = rates[0]

    assert months > 0
    assert agreeing == months
    assert below_one > 0


def test_sample_followups_written_once(sample_runs):
    first = sample_runs["first"]["followups"]
    assert first["sent"] == EXPECTED_FOLLOWUPS
    assert len([name for name in sample_runs["first_outbox"] if name.endswith(".eml")]) == (
        EXPECTED_FOLLOWUPS
    )
    second = sample_runs["second"]["followups"]
    assert second["sent"] == 0
    assert second["queued"] == 0
    assert sample_runs["second_outbox"] == sample_runs["first_outbox"]


def test_second_run_changes_nothing(sample_runs):
    second = sample_runs["second"]["ingest"]
    assert second["files_loaded"] == 0
    assert second["files_duplicate"] == EXPECTED_FILES
    assert sample_runs["second_tables"].keys() == sample_runs["first_tables"].keys()
    for table, rows in sample_runs["first_tables"].items():
        assert sample_runs["second_tables"][table] == rows, f"{table} changed on the second run"


def test_killed_run_recovers(tmp_path: Path, sample_runs, prefect_api: str):
    """A run killed during the dbt build, then restarted, ends as a clean run."""
    warehouse = tmp_path / "warehouse.duckdb"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("shortpay")),
            "run",
            "--inbox",
            str(SAMPLE_INBOX),
            "--warehouse",
            str(warehouse),
            "--as-of",
            AS_OF.isoformat(),
        ],
        env={**os.environ, "PREFECT_API_URL": prefect_api},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    dbt_target = tmp_path / ".shortpay" / "warehouse" / "target"
    deadline = time.monotonic() + 300
    while not dbt_target.exists() and process.poll() is None:
        assert time.monotonic() < deadline, "the run never reached the dbt build"
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert not warehouse.exists()

    summary = run_pipeline(SAMPLE_INBOX, warehouse, RULES_DIR, AS_OF)
    assert summary["payments"] == sample_runs["first"]["payments"]
    assert summary["deductions"] == sample_runs["first"]["deductions"]
    assert table_contents(warehouse) == sample_runs["first_tables"]
    assert outbox_files(warehouse) == sample_runs["first_outbox"]


def test_rules_preview_moves_reviews(tmp_path: Path, sample_runs, capsys):
    """A tolerance of 1,000.00 would approve the small deductions under review
    and write off the small invalid ones that are still open."""
    import json
    import shutil

    from shortpay.cli import main

    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    tolerances = rules / "tolerances.yaml"
    text = tolerances.read_text(encoding="utf-8")
    assert "max_amount: 25.00\n    max_percent: 0.5\n" in text
    tolerances.write_text(
        text.replace(
            "max_amount: 25.00\n    max_percent: 0.5\n",
            "max_amount: 1000.00\n    max_percent: 100\n",
        ),
        encoding="utf-8",
    )
    warehouse = sample_runs["warehouse"]
    # The default rule covers every category but compliance fines and early-pay
    # discounts, which have rules of their own; a percent limit needs an invoice.
    covered = (
        " deduction_amount <= 1000 and invoice_id is not null"
        " and category not in ('compliance_fine', 'early_pay_discount')"
    )
    approved = query(
        warehouse,
        "select count(*), sum(deduction_amount) from fct_deductions"
        " where validity = 'needs_review' and" + covered,
    )[0]
    written_off = query(
        warehouse,
        "select count(*), sum(deduction_amount), sum(invalid_amount) from fct_deductions"
        " where validity = 'invalid' and status = 'open' and" + covered,
    )[0]
    assert approved[0] > 0
    assert written_off[0] > 0
    expected = (approved[0] + written_off[0], approved[1] + written_off[1])
    before = table_contents(warehouse)

    code = main(
        [
            "rules",
            "preview",
            "--rules",
            str(rules),
            "--warehouse",
            str(warehouse),
            "--as-of",
            AS_OF.isoformat(),
            "--json",
        ]
    )

    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["published_count"] == EXPECTED_DEDUCTION_COUNT
    assert report["rebuilt_count"] == EXPECTED_DEDUCTION_COUNT
    assert report["moved_count"] == expected[0]
    assert report["moved_amount"] == f"{expected[1]:.2f}"
    status_moves = {
        (move["current_status"], move["new_status"]): (
            move["deductions"], move["deduction_amount"], move["new_invalid_amount"]
        )
        for move in report["status_moves"]
    }
    # A split deduction is written off for its invalid part only.
    assert written_off[2] < written_off[1]
    assert status_moves == {
        ("open", "approved"): (approved[0], f"{approved[1]:.2f}", "0.00"),
        ("open", "written_off"): (
            written_off[0], f"{written_off[1]:.2f}", f"{written_off[2]:.2f}"
        ),
    }
    assert table_contents(warehouse) == before


def test_overview_notebook_runs(sample_runs):
    """Every code cell of the bundled notebook runs against a published warehouse."""
    import json

    notebook = json.loads(
        (REPO_ROOT / "notebooks" / "deductions_overview.ipynb").read_text(encoding="utf-8")
    )
    displayed_frames: list = []
    namespace = {"display": lambda *frames: displayed_frames.extend(frames)}
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]).replace(
            '"../data/warehouse.duckdb"', repr(str(sample_runs["warehouse"]))
        )
        exec(compile(source, "deductions_overview.ipynb", "exec"), namespace)  # noqa: S102
    assert len(displayed_frames) == 4
    assert displayed_frames[0].shape[1] == 1
    assert len(displayed_frames[2]) >= 1
    namespace["connection"].close()
