"""The public BAI2 and camt files through the whole main flow."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from warehouse_queries import RULES_DIR, query

from shortpay.pipeline import run_pipeline

pytestmark = pytest.mark.public_data

PATTERNS = ("bai2/*/*.bai2", "bai2/*/*.txt", "camt053/*/*.xml", "camt054/*/*.xml")


@pytest.fixture(scope="module")
def bank_run(tmp_path_factory: pytest.TempPathFactory, public_data: Path, prefect_api: str):
    inbox = tmp_path_factory.mktemp("bank_inbox")
    for pattern in PATTERNS:
        for source in sorted(public_data.glob(pattern)):
            folder = source.relative_to(public_data).parts[0]
            shutil.copy(source, inbox / f"{folder}_{source.parent.name}_{source.name}")
    warehouse = tmp_path_factory.mktemp("bank") / "warehouse.duckdb"
    summary = run_pipeline(inbox, warehouse, RULES_DIR, date(2026, 11, 30))
    return warehouse, summary


def test_bank_receipts_by_format(bank_run):
    warehouse, summary = bank_run
    assert summary["status"] == "completed"
    assert query(
        warehouse,
        "select source_format, count(*), sum(payment_amount) from fct_payments"
        " group by source_format order by source_format",
    ) == [
        ("bai2", 28, Decimal("410567.82")),
        ("camt053", 10, Decimal("23110.40")),
        ("camt054", 6, Decimal("5500.00")),
    ]


def test_bank_files_with_bad_totals_rejected(bank_run):
    warehouse, _ = bank_run
    rejected = query(
        warehouse,
        "select entity_id from exceptions where exception_type = 'ingest_error'"
        " and severity = 'error' order by entity_id",
    )
    assert rejected == [
        ("bai2_moov-io_bai2_sample4-continuations-newline-delimited.txt",),
        ("bai2_moov-io_bai2_sample5-issue113.txt",),
        ("bai2_venturehacks_bai2_invalid_checksum_eod.bai2",),
    ]


def test_unbooked_camt_entry_is_not_a_payment(bank_run):
    warehouse, _ = bank_run
    notes = query(
        warehouse,
        "select source_position from exceptions where exception_type = 'ingest_error'"
        " and message like '%status INFO, not BOOK%'",
    )
    assert notes == [("Ntry[6]",)]
    assert query(
        warehouse, "select count(*) from fct_payments where payment_id like 'D091029N987654321S28%'"
    ) == [(0,)]


def test_unknown_payers_stay_unapplied(bank_run):
    warehouse, summary = bank_run
    assert summary["balances"] == {
        "payments": True,
        "deductions": True,
        "invoices": True,
        "invoice_deductions": True,
    }
    assert query(warehouse, "select sum(applied_amount) from fct_payments") == [(Decimal("0.00"),)]
