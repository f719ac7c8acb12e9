"""The public X12 820 remittances through the whole main flow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from warehouse_queries import RULES_DIR, query

from shortpay.pipeline import run_pipeline

pytestmark = pytest.mark.public_data

AS_OF = date(2019, 11, 30)
MART_PAYMENT = "4529952"
SAFEWAY_PAYMENT = "4311000190"
MART_DISCOUNTS = {
    "26801": Decimal("97.90"),
    "26927": Decimal("100.08"),
    "26935": Decimal("94.91"),
    "27009": Decimal("47.43"),
    "27018": Decimal("47.43"),
    "27028": Decimal("26.35"),
    "27029": Decimal("43.15"),
}


@pytest.fixture(scope="module")
def public_run(
    tmp_path_factory: pytest.TempPathFactory, public_x12_inbox: Path, prefect_api: str
) -> tuple[Path, dict]:
    warehouse = tmp_path_factory.mktemp("public_run") / "warehouse.duckdb"
    summary = run_pipeline(public_x12_inbox, warehouse, RULES_DIR, AS_OF)
    return warehouse, summary


def test_mart_payment_applies_to_seven_invoices(public_run):
    warehouse, _ = public_run
    payment = query(
        warehouse,
        "select payment_amount, applied_amount, unapplied_amount,"
        " payment_level_deduction_amount, customer_id"
        " from fct_payments where payment_id = ?",
        [MART_PAYMENT],
    )
    assert payment == [
        (Decimal("21298.97"), Decimal("21298.97"), Decimal("0.00"), Decimal("0.00"), "MART")
    ]
    applications = query(
        warehouse,
        "select invoice_id, match_method from fct_cash_applications"
        " where payment_id = ? order by invoice_id",
        [MART_PAYMENT],
    )
    assert [invoice for invoice, _ in applications] == sorted(MART_DISCOUNTS)
    assert {method for _, method in applications} == {"exact_reference"}


def test_mart_shortage_and_discounts(public_run):
    warehouse, _ = public_run
    shortages = query(
        warehouse,
        "select invoice_id, deduction_amount, customer_reason_code from fct_deductions"
        " where payment_id = ? and category = 'shortage'",
        [MART_PAYMENT],
    )
    assert shortages == [("26801", Decimal("143.76"), "59")]
    discounts = dict(
        query(
            warehouse,
            "select invoice_id, deduction_amount from fct_deductions"
            " where payment_id = ? and category = 'early_pay_discount'",
            [MART_PAYMENT],
        )
    )
    assert discounts == MART_DISCOUNTS
    other = query(
        warehouse,
        "select count(*) from fct_deductions where payment_id = ?"
        " and category not in ('shortage', 'early_pay_discount')",
        [MART_PAYMENT],
    )
    assert other == [(0,)]


def test_safeway_payment_level_deductions_stay_unspread(public_run):
    warehouse, _ = public_run
    payment = query(
        warehouse,
        "select payment_amount, payment_level_deduction_amount from fct_payments"
        " where payment_id = ?",
        [SAFEWAY_PAYMENT],
    )
    assert payment == [(Decimal("416093.15"), Decimal("32769.61"))]
    payment_level = query(
        warehouse,
        "select deduction_amount from fct_deductions"
        " where payment_id = ? and invoice_id is null order by deduction_amount",
        [SAFEWAY_PAYMENT],
    )
    assert payment_level == [
        (Decimal("892.80"),),
        (Decimal("13676.81"),),
        (Decimal("18200.00"),),
    ]
    on_invoices = query(
        warehouse,
        "select distinct category from fct_deductions"
        " where payment_id = ? and invoice_id is not null",
        [SAFEWAY_PAYMENT],
    )
    assert on_invoices == [("early_pay_discount",)]


def test_safeway_mismatch_is_an_exception(public_run):
    warehouse, _ = public_run
    mismatches = query(
        warehouse,
        "select severity, message from exceptions"
        " where exception_type = 'remittance_mismatch' and entity_id = ?",
        [SAFEWAY_PAYMENT],
    )
    assert len(mismatches) == 1
    severity, message = mismatches[0]
    assert severity == "error"
    assert "416303.15" in message
    assert "416093.15" in message
    assert "-210.00" in message


def test_home_depot_template_is_rejected(public_run):
    warehouse, summary = public_run
    rejected = query(
        warehouse,
        "select severity, message from exceptions"
        " where exception_type = 'ingest_error' and entity_id = 'Example3_HomeDepot.txt'"
        " and severity = 'error'",
    )
    assert len(rejected) == 1
    assert "TOTAL DOLLAR AMT OF CHECK" in rejected[0][1]
    from_file = query(
        warehouse, "select count(*) from fct_payments where source_file = 'Example3_HomeDepot.txt'"
    )
    assert from_file == [(0,)]
    assert summary["ingest"]["files_rejected"] == 1


def test_money_invariants_hold(public_run):
    warehouse, summary = public_run
    assert summary["balances"] == {
        "payments": True,
        "deductions": True,
        "invoices": True,
        "invoice_deductions": True,
    }
    unbalanced = query(
        warehouse,
        "select count(*) from fct_payments where payment_amount"
        " <> applied_amount + unapplied_amount - payment_level_deduction_amount",
    )
    assert unbalanced == [(0,)]


def test_cli_json_output(tmp_path: Path, public_x12_inbox: Path, prefect_api: str):
    warehouse = tmp_path / "cli.duckdb"
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("shortpay")),
            "run",
            "--inbox", str(public_x12_inbox),
            "--warehouse", str(warehouse),
            "--as-of", AS_OF.isoformat(),
            "--json",
        ],
        env={**os.environ, "PREFECT_API_URL": prefect_api},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = json.loads(completed.stdout)
    assert summary["status"] == "completed"
    assert summary["payments"]["count"] == 6
    assert summary["payments"]["received"] == "447874.11"
    assert summary["deductions"]["by_category"]["shortage"] == {"count": 1, "amount": "143.76"}
    assert summary["ingest"]["files_rejected"] == 1
    plain = query(warehouse, "select count(*) from fct_deductions")
    assert plain == [(16,)]
