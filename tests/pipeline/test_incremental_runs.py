"""Adding a day's files to a warehouse built before.

The second run rebuilds only the invoices the new files touch, and must
publish exactly what one run over all the files publishes.
"""

from __future__ import annotations

import csv
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from warehouse_queries import RULES_DIR, SAMPLE_INBOX, query, table_contents

from shortpay.bench.generate import generate
from shortpay.bench.increment import split_inbox
from shortpay.pipeline import run_pipeline
from shortpay.settings import Paths

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

    rebuilt = folder / "full" / "warehouse.duckdb"
    full = run_pipeline(inbox, rebuilt, RULES_DIR, AS_OF)
    return {
        "split": split,
        "first": first,
        "second": second,
        "scope": scope,
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
        "reason": "only the invoices that new files touch are rebuilt",
        "new_files": 6,
    }


def test_scope_is_new_and_repriced_invoices(incremental_runs):
    split = incremental_runs["split"]
    assert len(split["day_invoices"]) == 225
    assert len(split["repriced"]) == 5
    assert incremental_runs["scope"] == (
        split["day_invoices"] | split["repriced"] | split["corrected"]
    )


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
    run_pipeline(base, warehouse, RULES_DIR, AS_OF)
    for path in day.iterdir():
        shutil.copy2(path, base / path.name)
    second = run_pipeline(base, warehouse, RULES_DIR, AS_OF)
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
