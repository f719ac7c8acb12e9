"""Inboxes split into a first delivery and a day's files, for the incremental-run tests."""

from __future__ import annotations

import csv
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

from warehouse_queries import REPO_ROOT, RULES_DIR, SAMPLE_INBOX, table_contents

from shortpay.pipeline import run_pipeline

CASE_FOLDERS = REPO_ROOT / "tests" / "cases"
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
    incremental = table_contents(warehouse, without_load_dates=True)
    full = table_contents(rebuilt, without_load_dates=True)
    assert sorted(incremental) == sorted(full)
    for table in full:
        assert incremental[table] == full[table], table


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
