"""Adding a day's files to a warehouse built before.

The second run rebuilds only the invoices and payments that the new files
touch, and must publish exactly what one run over all the files publishes.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from warehouse_queries import REPO_ROOT, RULES_DIR, SAMPLE_INBOX, query, table_contents

from shortpay.bench.generate import generate
from shortpay.bench.increment import split_inbox
from shortpay.pipeline import run_pipeline
from shortpay.review.queue import QueueFilters, list_queue, load_deduction, show_item
from shortpay.review.workflow import decide_deduction
from shortpay.settings import Paths
from shortpay.summary import format_summary

AS_OF = date(2026, 11, 30)
DAY = "2026-10-25"
DAY_REMITTANCES = ("remittances_2026-11-23.csv", "remittances_2026-11-30.csv")
SPLIT_EXTRACTS = ("invoices.csv", "invoice_lines.csv", "shipments.csv")
# A lower agreed price that arrives with the day's files and applies to
# invoices built by the first run.
REPRICED_CUSTOMER, REPRICED_SKU = "C00024", "SKU-0091"
REPRICED_FROM, REPRICED_TO = "2026-10-01", "2026-10-19"
# Rows of the first inbox that the day's extracts send again, changed.
CORRECTED_INVOICE = "1000001"
CORRECTED_SHIPMENT = ("1000002", "1")
# An invoice that a payment of the sample pays, left out when invoices.csv is replaced.
REMOVED_INVOICE = "1000001"


def read_rows(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write_rows(path: Path, header: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def split_sample(folder: Path) -> dict:
    """Write the sample as a first inbox and a day's files that come later.

    The day's files contain the invoices dated DAY or later (with their lines
    and shipments), the last two remittance files, one new price row, and
    changed versions of one invoice and one shipment of the first inbox.
    Returns the folders and the invoices the second run must rebuild.
    """
    first, day = folder / "first", folder / "day"
    first.mkdir()
    day.mkdir()
    for path in SAMPLE_INBOX.iterdir():
        if path.name not in SPLIT_EXTRACTS:
            target = day if path.name in DAY_REMITTANCES else first
            shutil.copy2(path, target / path.name)

    header, invoices = read_rows(SAMPLE_INBOX / "invoices.csv")
    later = {row["invoice_id"] for row in invoices if row["invoice_date"] >= DAY}
    for name in SPLIT_EXTRACTS:
        header, rows = read_rows(SAMPLE_INBOX / name)
        write_rows(first / name, header, [row for row in rows if row["invoice_id"] not in later])
        day_rows = [row for row in rows if row["invoice_id"] in later]
        day_rows += corrections(name, rows)
        write_rows(day / name.replace(".csv", "_2026-11-23.csv"), header, day_rows)

    header, prices = read_rows(SAMPLE_INBOX / "prices.csv")
    current = next(
        row for row in prices
        if row["customer_id"] == REPRICED_CUSTOMER and row["sku"] == REPRICED_SKU
    )
    lowered = dict(
        current,
        unit_price=str(Decimal(current["unit_price"]) - Decimal("1.00")),
        valid_from=REPRICED_FROM,
        valid_to=REPRICED_TO,
    )
    write_rows(day / "prices_2026-11-23.csv", header, [lowered])

    invoice_customer = {row["invoice_id"]: row["customer_id"] for row in invoices}
    _, lines = read_rows(SAMPLE_INBOX / "invoice_lines.csv")
    repriced = {
        row["invoice_id"]
        for row in lines
        if row["sku"] == REPRICED_SKU
        and invoice_customer[row["invoice_id"]] == REPRICED_CUSTOMER
    }
    return {
        "first": first,
        "day": day,
        "day_invoices": later,
        "repriced": repriced,
        "corrected": {CORRECTED_INVOICE, CORRECTED_SHIPMENT[0]},
    }


def corrections(name: str, rows: list[dict]) -> list[dict]:
    """Return the day's corrected versions of rows the first inbox already had."""
    if name == "invoices.csv":
        row = next(row for row in rows if row["invoice_id"] == CORRECTED_INVOICE)
        return [dict(row, payment_terms="2/10 NET 30")]
    if name == "shipments.csv":
        row = next(
            row for row in rows
            if (row["invoice_id"], row["line_number"]) == CORRECTED_SHIPMENT
        )
        return [dict(row, delivered_quantity=str(int(row["delivered_quantity"]) - 1))]
    return []


def run_first_then_day(inbox: Path, day: Path, warehouse: Path) -> dict:
    """Run on the first inbox, add the day's files, run again and return that summary."""
    run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    for path in day.iterdir():
        shutil.copy2(path, inbox / path.name)
    return run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)


def assert_equals_full_rebuild(warehouse: Path, inbox: Path, folder: Path) -> None:
    """Run once over the whole inbox into a new warehouse and compare every table."""
    rebuilt = folder / "full" / "warehouse.duckdb"
    run_pipeline(inbox, rebuilt, RULES_DIR, AS_OF)
    incremental, full = table_contents(warehouse), table_contents(rebuilt)
    assert sorted(incremental) == sorted(full)
    for table in full:
        assert incremental[table] == full[table], table


@pytest.fixture(scope="module")
def incremental_runs(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> dict:
    folder = tmp_path_factory.mktemp("incremental")
    split = split_sample(folder)
    inbox = split["first"]

    warehouse = folder / "incremental" / "warehouse.duckdb"
    first = run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    for path in split["day"].iterdir():
        shutil.copy2(path, inbox / path.name)
    second = run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    work_db = Paths.for_warehouse(warehouse).work_db
    scope = {
        invoice_id
        for (invoice_id,) in query(work_db, "select invoice_id from intermediate.int_invoice_scope")
    }
    scope_sizes = {
        model: query(work_db, f"select count(*) from intermediate.{model}")[0][0]  # noqa: S608
        for model in ("int_payment_scope", "int_allocation_scope", "int_balance_scope")
    }
    payment_count = query(work_db, "select count(*) from marts.fct_payments")[0][0]
    dbt_log = Paths.for_warehouse(warehouse).work_dir / "logs" / "dbt.log"
    finished = [
        line.split("Finished running ", 1)[1].split(" in ", 1)[0]
        for line in dbt_log.read_text(encoding="utf-8").splitlines()
        if "Finished running " in line
    ]

    rebuilt = folder / "full" / "warehouse.duckdb"
    full = run_pipeline(inbox, rebuilt, RULES_DIR, AS_OF)
    return {
        "dbt_builds": finished,
        "split": split,
        "first": first,
        "second": second,
        "scope": scope,
        "scope_sizes": scope_sizes,
        "payments": payment_count,
        "full": full,
        "incremental_tables": table_contents(warehouse),
        "full_tables": table_contents(rebuilt),
    }


def test_first_run_builds_everything(incremental_runs):
    assert incremental_runs["first"]["build"] == {
        "mode": "full",
        "reason": "no earlier build in this work database",
        "new_files": 20,
    }


def test_second_build_is_incremental(incremental_runs):
    assert incremental_runs["second"]["build"] == {
        "mode": "incremental",
        "reason": "only the invoices, payments and deductions that new files touch are rebuilt",
        "new_files": 6,
        "rebuilt": {"invoices": 232, "payments": 145, "deductions": 32},
    }
    assert "6 new files, 232 invoices, 145 payments and 32 deductions rebuilt" in (
        format_summary(incremental_runs["second"])
    )


def test_incremental_build_keeps_the_views(incremental_runs):
    # Each run makes two builds: the models, then the exceptions queue.
    assert incremental_runs["dbt_builds"] == [
        "19 incremental models, 12 table models, 48 data tests, 14 view models",
        "2 table models, 4 data tests",
        "19 incremental models, 12 table models, 48 data tests",
        "2 table models, 4 data tests",
    ]


def test_second_run_patches_the_warehouse(incremental_runs):
    assert incremental_runs["first"]["publication"] == "copied"
    assert incremental_runs["second"]["publication"] == "patched"


def test_scope_is_new_and_repriced_invoices(incremental_runs):
    split = incremental_runs["split"]
    assert len(split["day_invoices"]) == 225
    assert len(split["repriced"]) == 5
    assert incremental_runs["scope"] == (
        split["day_invoices"] | split["repriced"] | split["corrected"]
    )


def test_payment_scope_sizes(incremental_runs):
    """Of 1,132 payments, 145 are matched again: the day's 31, and those of the
    first inbox that name a day's, corrected or repriced invoice or that no
    reference matched. Their invoices (261) are allocated again.
    """
    assert incremental_runs["payments"] == 1132
    assert incremental_runs["scope_sizes"] == {
        "int_payment_scope": 145, "int_allocation_scope": 261, "int_balance_scope": 145,
    }


def test_incremental_tables_equal_a_full_rebuild(incremental_runs):
    incremental, full = incremental_runs["incremental_tables"], incremental_runs["full_tables"]
    assert sorted(incremental) == sorted(full)
    for table in full:
        assert incremental[table] == full[table], table


def test_incremental_sums_equal_a_full_rebuild(incremental_runs):
    second, full = incremental_runs["second"], incremental_runs["full"]
    for part in ("payments", "invoices", "deductions", "balances"):
        assert second[part] == full[part], part


@pytest.fixture(scope="module")
def hostile_runs(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> dict:
    """A generated hostile inbox (typos, partial and combined payments, reversals,
    duplicates, shared invoice numbers), built from a base and a day's files."""
    folder = tmp_path_factory.mktemp("hostile")
    generated = generate(folder / "generated", invoices=3000, customers=50, seed=11,
                         profile="hostile")
    base, day = folder / "inbox", folder / "day"
    split = split_inbox(generated.inbox, base, day)
    warehouse = folder / "incremental" / "warehouse.duckdb"
    second = run_first_then_day(base, day, warehouse)
    rebuilt = folder / "full" / "warehouse.duckdb"
    full = run_pipeline(base, rebuilt, RULES_DIR, AS_OF)
    return {
        "split": split,
        "second": second,
        "full": full,
        "incremental_tables": table_contents(warehouse),
        "full_tables": table_contents(rebuilt),
    }


def test_hostile_increment_equals_full_rebuild(hostile_runs):
    assert hostile_runs["second"]["build"]["mode"] == "incremental"
    assert hostile_runs["second"]["publication"] == "patched"
    assert hostile_runs["split"]["day_payments"] > 0
    incremental, full = hostile_runs["incremental_tables"], hostile_runs["full_tables"]
    assert sorted(incremental) == sorted(full)
    for table in full:
        assert incremental[table] == full[table], table


@pytest.fixture(scope="module")
def replaced_extract_runs(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> dict:
    """invoices.csv sent again at the same path, without one invoice."""
    folder = tmp_path_factory.mktemp("replaced")
    inbox = folder / "inbox"
    shutil.copytree(SAMPLE_INBOX, inbox)
    warehouse = folder / "incremental" / "warehouse.duckdb"
    run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    header, rows = read_rows(inbox / "invoices.csv")
    write_rows(inbox / "invoices.csv", header,
               [row for row in rows if row["invoice_id"] != REMOVED_INVOICE])
    second = run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    rebuilt = folder / "full" / "warehouse.duckdb"
    run_pipeline(inbox, rebuilt, RULES_DIR, AS_OF)
    return {
        "second": second,
        "incremental_tables": table_contents(warehouse),
        "full_tables": table_contents(rebuilt),
        "warehouse": warehouse,
        "inbox": inbox,
    }


def test_replaced_extract_drops_the_old_rows(replaced_extract_runs):
    assert replaced_extract_runs["second"]["build"]["mode"] == "incremental"
    assert replaced_extract_runs["second"]["publication"] == "patched"
    assert query(
        replaced_extract_runs["warehouse"],
        "select count(*) from fct_invoices where invoice_id = ?",
        [REMOVED_INVOICE],
    ) == [(0,)]
    incremental = replaced_extract_runs["incremental_tables"]
    full = replaced_extract_runs["full_tables"]
    for table in full:
        assert incremental[table] == full[table], table


def test_earlier_extract_sent_back_is_current_again(replaced_extract_runs, tmp_path):
    """invoices.csv goes back to its first version: the removed invoice returns."""
    inbox = replaced_extract_runs["inbox"]
    shutil.copy2(SAMPLE_INBOX / "invoices.csv", inbox / "invoices.csv")
    warehouse = replaced_extract_runs["warehouse"]
    third = run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    assert third["build"]["mode"] == "incremental"
    rebuilt = tmp_path / "full" / "warehouse.duckdb"
    run_pipeline(inbox, rebuilt, RULES_DIR, AS_OF)
    incremental, full = table_contents(warehouse), table_contents(rebuilt)
    assert query(warehouse, "select count(*) from fct_invoices where invoice_id = ?",
                 [REMOVED_INVOICE]) == [(1,)]
    for table in full:
        assert incremental[table] == full[table], table


CASE_FOLDERS = REPO_ROOT / "tests" / "cases"


def split_cases(source: Path, base: Path, day: Path, day_parity: int) -> dict[str, int]:
    """Split a case folder into a first inbox and a day's files.

    Every other payment (with its remittance rows) and every other invoice
    (with its lines and shipments), in id order, goes to a ``*_day.csv``
    file. The rest stays in the first inbox, with every file that has no
    payment or invoice ids. Returns how many payments and invoices the day
    has.
    """
    base.mkdir(parents=True)
    day.mkdir(parents=True)
    day_ids: dict[str, set[str]] = {"payment_id": set(), "invoice_id": set()}
    for path in sorted(source.iterdir()):
        if path.suffix != ".csv":
            shutil.copy2(path, base / path.name)
            continue
        header, rows = read_rows(path)
        key = next((name for name in ("payment_id", "invoice_id") if name in header), None)
        if key is None:
            shutil.copy2(path, base / path.name)
            continue
        ids = sorted({row[key] for row in rows})
        later = {value for index, value in enumerate(ids) if index % 2 == day_parity}
        day_ids[key] |= later
        write_rows(base / path.name, header, [row for row in rows if row[key] not in later])
        write_rows(day / f"{path.stem}_day.csv", header, [row for row in rows if row[key] in later])
    return {"day_payments": len(day_ids["payment_id"]), "day_invoices": len(day_ids["invoice_id"])}


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


def test_day_changes_earlier_payments(tmp_path, prefect_api):
    """The day's payments change what five earlier payments did.

    - A reversal cancels PR1, so PR2, which found R-1 paid, now pays it.
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
    incremental = table_contents(warehouse)

    # The same warehouse built again in full. Its work database is deleted,
    # and the review decisions and sent messages in its state database stay.
    paths.work_db.unlink()
    full = run_pipeline(inbox, warehouse, RULES_DIR, later)
    assert full["build"]["mode"] == "full"
    assert table_contents(warehouse) == incremental
