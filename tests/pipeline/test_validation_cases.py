"""Deduction rules and evidence at their boundaries, through the real flow."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from warehouse_queries import REPO_ROOT, RULES_DIR, query

from shortpay.pipeline import run_pipeline

CASES = REPO_ROOT / "tests" / "cases" / "validation"

# A customer override beside the shipped parent override of the same code,
# to show that the customer's own rule wins over its parent's.
CUSTOMER_OVERRIDE = """
  - id: rc-customer-cv-kid-billback
    scope_type: customer
    scope_id: "CV-KID"
    category: freight
    description: CV-KID sends BILLBACK for freight it paid
    codes: ["BILLBACK"]
"""


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> Path:
    """The published warehouse of one run over the validation cases."""
    root = tmp_path_factory.mktemp("validation")
    inbox = root / "inbox"
    shutil.copytree(CASES, inbox)
    rules = root / "rules"
    shutil.copytree(RULES_DIR, rules)
    with open(rules / "reason_codes.yaml", "a", encoding="utf-8") as handle:
        handle.write(CUSTOMER_OVERRIDE)
    warehouse = root / "warehouse.duckdb"
    run_pipeline(inbox, warehouse, rules, date(2026, 11, 30))
    return warehouse


@pytest.fixture(scope="module")
def deductions(warehouse: Path) -> dict[str, dict]:
    columns = [
        "payment_id", "category", "validity", "deduction_amount", "valid_amount",
        "invalid_amount", "is_auto_approved", "rule_id", "validity_reason",
        "customer_reason_code", "debit_memo_id", "deduction_source",
    ]
    rows = query(warehouse, f"select {', '.join(columns)} from fct_deductions")
    return {row[0]: dict(zip(columns, row, strict=True)) for row in rows}


def decision(deduction: dict) -> tuple:
    return (
        deduction["category"],
        deduction["validity"],
        deduction["valid_amount"],
        deduction["invalid_amount"],
    )


@pytest.mark.parametrize(
    ("payment_id", "expected"),
    [
        # 2/10 NET 30 on 1,864.25: 2 % is 37.285, rounded half up to 37.29.
        ("PV1", ("early_pay_discount", "valid", Decimal("37.29"), Decimal("0.00"))),
        ("PV2", ("early_pay_discount", "invalid", Decimal("0.00"), Decimal("37.29"))),
        ("PV3", ("early_pay_discount", "invalid", Decimal("37.29"), Decimal("0.01"))),
        # Promotion PR-V caps at 500.00: 300.00, then 200.00 reach it exactly.
        ("PV4", ("trade_promotion", "valid", Decimal("300.00"), Decimal("0.00"))),
        ("PV5", ("trade_promotion", "valid", Decimal("200.00"), Decimal("0.00"))),
        ("PV6", ("trade_promotion", "invalid", Decimal("0.00"), Decimal("50.00"))),
        # Two of ten units at 20.00 were not delivered.
        ("PV7", ("shortage", "invalid", Decimal("40.00"), Decimal("20.00"))),
        ("PV8", ("shortage", "invalid", Decimal("0.00"), Decimal("45.00"))),
        # 100 units invoiced at 12.50 against an agreed 12.00.
        ("PV9", ("pricing", "valid", Decimal("50.00"), Decimal("0.00"))),
        ("PV10", ("pricing", "invalid", Decimal("0.00"), Decimal("30.00"))),
        ("PV13", ("compliance_fine", "invalid", Decimal("0.00"), Decimal("100.00"))),
        ("PV15", ("damage", "needs_review", Decimal("0.00"), Decimal("0.00"))),
        # Two of ten units at 50.00 undelivered: two deductions of 80.00 share
        # the 100.00 the proof of delivery shows, in payment order.
        ("PV22", ("shortage", "valid", Decimal("80.00"), Decimal("0.00"))),
        ("PV23", ("shortage", "invalid", Decimal("20.00"), Decimal("60.00"))),
    ],
)
def test_evidence_decides_validity(deductions, payment_id, expected):
    assert decision(deductions[payment_id]) == expected


def test_discount_window_reasons(deductions):
    assert "10 days after the invoice date" in deductions["PV1"]["validity_reason"]
    assert "11 days after the invoice date" in deductions["PV2"]["validity_reason"]


def test_promotion_cap_reason(deductions):
    assert deductions["PV6"]["validity_reason"] == (
        "promotion PR-V covers 0.00 of 50.00; 50.00 is over its cap of 500.00"
    )


def test_full_delivery_reason(deductions):
    assert deductions["PV8"]["validity_reason"] == (
        "proof of delivery POD-S2 shows invoice V-S2 delivered in full"
    )


def test_customer_override_and_tolerance(deductions):
    short = deductions["PV11"]
    assert short["category"] == "shortage"
    assert short["is_auto_approved"] is True
    assert short["rule_id"] == "tol-customer-c9001"
    # The default tolerance would approve 15.00, the customer's own stops at 10.00.
    assert deductions["PV15"]["is_auto_approved"] is False


def test_customer_rule_wins_over_parent(deductions):
    assert deductions["PV12"]["category"] == "freight"
    assert deductions["PV14"]["category"] == "trade_promotion"
    for payment_id in ("PV12", "PV14"):
        assert deductions[payment_id]["is_auto_approved"] is True
        assert deductions[payment_id]["rule_id"] == "tol-parent-p9000"


def test_code_set_maps_retailer_codes(deductions):
    assert deductions["PV13"]["category"] == "compliance_fine"
    assert deductions["PV13"]["is_auto_approved"] is False


def test_debit_memo_explains_short_payment(deductions):
    """An unexplained short-pay takes its reason from the customer's X12 812."""
    claimed = deductions["PV16"]
    assert claimed["deduction_source"] == "unexplained"
    assert claimed["deduction_amount"] == Decimal("120.00")
    assert claimed["debit_memo_id"] == "DM-5501"
    assert claimed["customer_reason_code"] == "01"
    assert claimed["category"] == "pricing"


@pytest.fixture(scope="module")
def deduction_parts(warehouse: Path) -> dict[str, list]:
    """The parts of each payment's deduction, in part order."""
    rows = query(
        warehouse,
        "select d.payment_id, p.invoice_line_number, p.part_amount, p.evidence_amount,"
        " p.evidence_reference, p.attribution"
        " from fct_deduction_lines p join fct_deductions d using (deduction_id)"
        " order by d.payment_id, p.part_number",
    )
    parts: dict[str, list] = {}
    for payment_id, *part in rows:
        parts.setdefault(payment_id, []).append(tuple(part))
    return parts


def test_shortage_split_over_short_lines(deductions, deduction_parts):
    """70.00 short: lines 2 and 3 show 30.00 and 35.00 undelivered, 5.00 has no line."""
    assert decision(deductions["PV17"]) == (
        "shortage", "invalid", Decimal("65.00"), Decimal("5.00")
    )
    assert deduction_parts["PV17"] == [
        (2, Decimal("30.00"), Decimal("30.00"), "POD-S3-2", "split_by_evidence"),
        (3, Decimal("35.00"), Decimal("35.00"), "POD-S3-3", "split_by_evidence"),
        (None, Decimal("5.00"), None, None, "no_line"),
    ]


def test_pricing_split_over_overcharged_lines(deductions, deduction_parts):
    """15.00 over the agreed prices: 5.00 on line 1 and 10.00 on line 2."""
    assert decision(deductions["PV18"]) == ("pricing", "valid", Decimal("15.00"), Decimal("0.00"))
    assert deduction_parts["PV18"] == [
        (1, Decimal("5.00"), Decimal("5.00"), "price list", "split_by_evidence"),
        (2, Decimal("10.00"), Decimal("10.00"), "price list", "split_by_evidence"),
    ]


def test_one_line_deduction_capped_by_evidence(deduction_parts):
    """60.00 short on V-S1, whose one line shows 40.00 undelivered: 20.00 has no line."""
    assert deduction_parts["PV7"] == [
        (1, Decimal("40.00"), Decimal("40.00"), "POD-S1", "single_line"),
        (None, Decimal("20.00"), None, None, "no_line"),
    ]


def test_deduction_without_evidence_is_one_part(deduction_parts):
    """A damage deduction has no line evidence: one part, on no line."""
    assert deduction_parts["PV15"] == [(None, Decimal("15.00"), None, None, "no_line")]


@pytest.mark.parametrize(
    ("invoice_id", "payment_ids"),
    [
        # Two payments of 70.00, each 30.00 short, close an invoice of 200.00.
        ("V-S4", ["PV19", "PV20"]),
        # The same, as two lines of one payment.
        ("V-S5", ["PV21", "PV21"]),
    ],
)
def test_two_short_payments_of_one_invoice(warehouse, invoice_id, payment_ids):
    rows = query(
        warehouse,
        "select payment_id, category, deduction_amount, validity from fct_deductions"
        " where invoice_id = ? order by payment_id, deduction_id",
        [invoice_id],
    )
    assert rows == [
        (payment_id, "shortage", Decimal("30.00"), "valid") for payment_id in payment_ids
    ]
    assert query(
        warehouse,
        "select applied_amount, deducted_amount, open_amount from fct_invoices"
        " where invoice_id = ?",
        [invoice_id],
    ) == [(Decimal("140.00"), Decimal("60.00"), Decimal("0.00"))]
    parts = query(
        warehouse,
        "select p.invoice_line_number, p.part_amount, p.evidence_reference"
        " from fct_deduction_lines p join fct_deductions d using (deduction_id)"
        " where d.invoice_id = ? order by p.deduction_part_id",
        [invoice_id],
    )
    assert [(line, amount) for line, amount, _ in parts] == [
        (1, Decimal("30.00")), (1, Decimal("30.00"))
    ]


def test_shared_evidence_reason(deductions, deduction_parts):
    assert deductions["PV23"]["validity_reason"] == (
        "proof of delivery POD-S6 shows 100.00 not delivered, of which earlier deductions"
        " used 80.00; 20.00 of 80.00 is valid"
    )
    assert deduction_parts["PV22"] == [
        (1, Decimal("80.00"), Decimal("100.00"), "POD-S6", "single_line"),
    ]
    assert deduction_parts["PV23"] == [
        (1, Decimal("20.00"), Decimal("100.00"), "POD-S6", "single_line"),
        (None, Decimal("60.00"), None, None, "no_line"),
    ]


@pytest.mark.parametrize("payment_id", ["PV24", "PV25"])
def test_shared_invoice_id_evidence_unused(deductions, deduction_parts, payment_id):
    """V-X1 belongs to CV7 and to CV8, and its one line does not say whose."""
    assert decision(deductions[payment_id]) == (
        "pricing", "needs_review", Decimal("0.00"), Decimal("0.00")
    )
    assert deductions[payment_id]["validity_reason"] == (
        "invoice id V-X1 is used by several customers and its lines, shipments and prices"
        " do not say whose, so their evidence is not used"
    )
    assert deduction_parts[payment_id] == [(None, Decimal("50.00"), None, None, "no_line")]
