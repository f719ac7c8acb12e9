"""Increments that change what earlier payments, memos and decisions did.

Each test adds a day's files to a warehouse built before and checks that
the result equals one run over all the files.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from decimal import Decimal

import pytest
from incremental_inbox import (
    AS_OF,
    CASE_FOLDERS,
    assert_equals_full_rebuild,
    run_first_then_day,
    split_cases,
    split_sample,
)
from warehouse_queries import RULES_DIR, query, table_contents

from shortpay.pipeline import run_pipeline
from shortpay.review.queue import QueueFilters, list_queue, load_deduction, show_item
from shortpay.review.workflow import decide_deduction
from shortpay.settings import Paths


@pytest.mark.parametrize(
    ("case", "day_parity", "day_payments", "day_invoices"),
    [("matching", 0, 12, 17), ("matching", 1, 11, 16), ("validation", 1, 12, 15)],
)
def test_split_cases_equal_a_full_rebuild(
    case, day_parity, day_payments, day_invoices, tmp_path, prefect_api
):
    """Half of each case's payments and invoices arrive a day later.

    Payments of one half pay invoices of the other. The matching cases also
    take a payer from its account's history, match by amount and by
    combination, and pay one invoice twice. So the second run must match
    again the payments that a day's files can change, and allocate their
    invoices again.
    """
    inbox, day = tmp_path / "inbox", tmp_path / "day"
    split = split_cases(CASE_FOLDERS / case, inbox, day, day_parity)
    assert split == {"day_payments": day_payments, "day_invoices": day_invoices}
    warehouse = tmp_path / "incremental" / "warehouse.duckdb"
    second = run_first_then_day(inbox, day, warehouse)
    assert second["build"]["mode"] == "incremental"
    assert second["publication"] == "patched"
    assert_equals_full_rebuild(warehouse, inbox, tmp_path)


def test_day_changes_earlier_payments(tmp_path, prefect_api):
    """The day's payments change what five earlier payments did.

    - A reversal cancels PR1, so PR2, which found R-1 paid, now pays it.
      PR3 has the same customer and amount and is later, but is in euros.
    - PQ1 names its customer and account, so the account's history now
      names CQ as the payer of PQ2.
    - PT1 is dated before PT2 and pays T-1 first, so PT2 finds it paid.
    - PS4 has no reference and the amount of S-1, which PS3 names, so it is
      not matched by amount.
    - PP1 is dated before PP2 and takes 70.00 of the 100.00 cap of
      promotion PR-P, so only 30.00 of PP2's 60.00 stays valid, though the
      two pay different invoices.
    """
    cases = CASE_FOLDERS / "increment"
    inbox = tmp_path / "inbox"
    shutil.copytree(cases / "first", inbox)
    warehouse = tmp_path / "incremental" / "warehouse.duckdb"
    second = run_first_then_day(inbox, cases / "day", warehouse)
    assert second["build"]["mode"] == "incremental"
    assert second["publication"] == "patched"

    assert query(
        warehouse,
        "select payment_id, customer_id, customer_resolution, applied_amount, unapplied_amount"
        " from fct_payments where payment_id in ('PR1', 'PR2', 'PQ2', 'PT1', 'PT2', 'PS4')"
        " order by payment_id",
    ) == [
        ("PQ2", "CQ", "payer_account", Decimal("80.00"), Decimal("0.00")),
        ("PR1", "CR", "customer_id", Decimal("0.00"), Decimal("500.00")),
        ("PR2", "CR", "customer_id", Decimal("500.00"), Decimal("10.00")),
        ("PS4", "CS", "customer_id", Decimal("0.00"), Decimal("250.00")),
        ("PT1", "CT", "customer_id", Decimal("400.00"), Decimal("0.00")),
        ("PT2", "CT", "customer_id", Decimal("0.00"), Decimal("400.00")),
    ]
    assert query(
        warehouse,
        "select payment_id, is_reversed from fct_payments where payment_id in ('PR1', 'PR2', 'PR3')"
        " order by payment_id",
    ) == [("PR1", True), ("PR2", False), ("PR3", False)]
    assert query(
        warehouse,
        "select payment_id, invoice_id, category, evidence_reference, validity,"
        " valid_amount, invalid_amount from fct_deductions"
        " where payment_id in ('PP1', 'PP2') order by payment_id",
    ) == [
        ("PP1", "P-1", "trade_promotion", "PR-P", "valid", Decimal("70.00"), Decimal("0.00")),
        ("PP2", "P-2", "trade_promotion", "PR-P", "invalid", Decimal("30.00"),
         Decimal("30.00")),
    ]
    assert_equals_full_rebuild(warehouse, inbox, tmp_path)


def test_debit_memo_sent_again_replaces_its_lines(tmp_path, prefect_api):
    """An 812 rewritten at the same path gives its first line another reason code.

    Only the new version's lines count, so the deduction that the line
    explains takes the new code, as in one run over the final inbox.
    """
    inbox = tmp_path / "inbox"
    shutil.copytree(CASE_FOLDERS / "validation", inbox)
    warehouse = tmp_path / "incremental" / "warehouse.duckdb"
    run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    memo_file = inbox / "debit_memo.812"
    memo_file.write_text(
        memo_file.read_text(encoding="utf-8").replace("CDD*01*D*SHORT", "CDD*59*D*SHORT"),
        encoding="utf-8",
    )
    second = run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)

    assert second["build"]["mode"] == "incremental"
    assert query(
        warehouse,
        "select debit_memo_id, debit_memo_line_number, customer_reason_code, category"
        " from fct_deductions where debit_memo_id is not null order by debit_memo_line_number",
    ) == [("DM-5501", 1, "59", "shortage")]
    assert_equals_full_rebuild(warehouse, inbox, tmp_path)


def test_later_day_equals_full_rebuild(tmp_path, prefect_api):
    """The day's files come nine days later, after review decisions on three deductions.

    The increment rebuilds only what the files touch. Yet the open
    deductions it leaves alone are nine days older, and the decided ones
    show their decisions, exactly as after a full rebuild.
    """
    split = split_sample(tmp_path)
    inbox = split["first"]
    warehouse = tmp_path / "incremental" / "warehouse.duckdb"
    run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    paths = Paths.for_warehouse(warehouse)
    # Open deductions of the first run, in a fixed order.
    disputed, approved, untouched = [
        deduction_id for (deduction_id,) in query(
            warehouse,
            "select deduction_id from fct_deductions where status = 'open'"
            " and invalid_amount > 0 order by deduction_id limit 3",
        )
    ]
    decide_deduction(paths.state_db, load_deduction(warehouse, disputed), "dispute", "ana")
    decide_deduction(paths.state_db, load_deduction(warehouse, disputed), "recovered", "ana")
    decide_deduction(paths.state_db, load_deduction(warehouse, approved), "approve", "ana")
    # A deduction that needs review, approved in part: its review item
    # leaves the queue at once, and `show` gives the validity and amounts
    # that the next run publishes.
    (reviewed, amount), = query(
        warehouse,
        "select deduction_id, deduction_amount from fct_deductions"
        " where validity = 'needs_review' and status = 'open'"
        " and deduction_amount > 1 order by deduction_id limit 1",
    )
    decide_deduction(paths.state_db, load_deduction(warehouse, reviewed), "approve", "ana",
                     valid_amount=Decimal("1.00"))
    reviewed_row = show_item(warehouse, paths.state_db, reviewed)["deduction"]
    decided = tuple(
        reviewed_row[name] for name in ("validity", "valid_amount", "invalid_amount", "status")
    )
    assert decided == ("invalid", Decimal("1.00"), amount - 1, "approved")
    assert [
        item["exception_type"]
        for item in list_queue(warehouse, paths.state_db, QueueFilters(status="all"))
        if item["deduction_id"] == reviewed
    ] == []
    for path in split["day"].iterdir():
        shutil.copy2(path, inbox / path.name)
    later = AS_OF + timedelta(days=9)
    second = run_pipeline(inbox, warehouse, RULES_DIR, later)
    assert second["build"]["mode"] == "incremental"
    assert second["publication"] == "patched"
    rebuilt = {
        deduction_id
        for (deduction_id,) in query(
            paths.work_db, "select deduction_id from intermediate.int_deduction_scope"
        )
    }
    assert {disputed, approved, untouched} & rebuilt == set()
    assert query(
        warehouse,
        "select deduction_id, status, days_outstanding = date_diff('day', opened_date, ?)"
        " from fct_deductions where deduction_id in (?, ?, ?) order by deduction_id",
        [later, disputed, approved, untouched],
    ) == sorted([(disputed, "recovered", False), (approved, "approved", True),
                 (untouched, "open", True)])
    assert query(
        warehouse,
        "select validity, valid_amount, invalid_amount, status from fct_deductions"
        " where deduction_id = ?",
        [reviewed],
    ) == [decided]
    assert query(warehouse, "select count(*) from exceptions where deduction_id = ?",
                 [reviewed]) == [(0,)]
    # The month of the recovery has a row of the report, with the amount
    # recovered, whether or not anything else happened in it.
    assert query(
        warehouse,
        "select kpis.recovered_amount = deductions.invalid_amount"
        " from rpt_deduction_kpis as kpis inner join fct_deductions as deductions"
        " on kpis.period_start = date_trunc('month', deductions.resolved_at)"
        " where deductions.deduction_id = ?",
        [disputed],
    ) == [(True,)]
    incremental = table_contents(warehouse, without_load_dates=True)

    # The same warehouse built again in full. Its work database is deleted,
    # and the review decisions and sent messages in its state database stay.
    paths.work_db.unlink()
    full = run_pipeline(inbox, warehouse, RULES_DIR, later)
    assert full["build"]["mode"] == "full"
    assert table_contents(warehouse, without_load_dates=True) == incremental
