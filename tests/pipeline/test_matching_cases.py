"""Cash-application cases through the real flow, one customer per case."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from warehouse_queries import REPO_ROOT, RULES_DIR, query

from shortpay.pipeline import run_pipeline

CASES = REPO_ROOT / "tests" / "cases" / "matching"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> Path:
    inbox = tmp_path_factory.mktemp("matching_inbox")
    for source in CASES.glob("*.csv"):
        shutil.copy(source, inbox / source.name)
    # Amounts within five cents corroborate a match.
    rules = tmp_path_factory.mktemp("matching_rules") / "rules"
    shutil.copytree(RULES_DIR, rules)
    settings = rules / "settings.yaml"
    text = settings.read_text(encoding="utf-8")
    assert "match_amount_tolerance:\n    value: 0.00" in text
    settings.write_text(
        text.replace(
            "match_amount_tolerance:\n    value: 0.00", "match_amount_tolerance:\n    value: 0.05"
        ),
        encoding="utf-8",
    )
    target = tmp_path_factory.mktemp("matching") / "warehouse.duckdb"
    run_pipeline(inbox, target, rules, date(2026, 11, 30))
    return target


def open_amounts(warehouse: Path, customer_id: str) -> dict[str, Decimal]:
    return dict(
        query(
            warehouse,
            "select invoice_id, open_amount from fct_invoices where customer_id = ?",
            [customer_id],
        )
    )


def exception_types(warehouse: Path, entity_prefix: str) -> list[str]:
    return [
        exception_type
        for (exception_type,) in query(
            warehouse,
            "select exception_type from exceptions where entity_id like ? order by exception_type",
            [entity_prefix + "%"],
        )
    ]


def deductions_of(warehouse: Path, payment_id: str) -> list[tuple]:
    return query(
        warehouse,
        "select invoice_id, deduction_amount, category from fct_deductions"
        " where payment_id = ? order by deduction_amount",
        [payment_id],
    )


def test_exact_payment_closes_three_invoices(warehouse):
    assert open_amounts(warehouse, "CA1") == {
        "A1-1": Decimal("0.00"),
        "A1-2": Decimal("0.00"),
        "A1-3": Decimal("0.00"),
    }
    assert deductions_of(warehouse, "PA1") == []
    assert exception_types(warehouse, "PA1") == []


def test_ten_cent_short_payment_is_not_hidden(warehouse):
    assert open_amounts(warehouse, "CA2") == {
        "A2-1": Decimal("0.00"),
        "A2-2": Decimal("0.00"),
        "A2-3": Decimal("0.00"),
    }
    # The 0.10 belongs to the payment, not to the last invoice.
    assert deductions_of(warehouse, "PA2") == [(None, Decimal("0.10"), "unidentified")]
    assert exception_types(warehouse, "PA2") == ["remittance_mismatch"]
    review = query(
        warehouse,
        "select count(*) from exceptions where exception_type = 'deduction_review'"
        " and deduction_id in (select deduction_id from fct_deductions where payment_id = 'PA2')",
    )
    assert review == [(1,)]


def test_payment_of_two_leaves_third_open(warehouse):
    assert open_amounts(warehouse, "CA3") == {
        "A3-1": Decimal("0.00"),
        "A3-2": Decimal("3400.00"),
        "A3-3": Decimal("0.00"),
    }
    assert deductions_of(warehouse, "PA3") == []


def test_two_equal_invoices_are_ambiguous(warehouse):
    assert open_amounts(warehouse, "CB") == {"B-1": Decimal("250.00"), "B-2": Decimal("250.00")}
    assert exception_types(warehouse, "PB") == ["ambiguous_match", "unapplied_cash"]
    payment = query(
        warehouse,
        "select applied_amount, unapplied_amount from fct_payments where payment_id = 'PB'",
    )
    assert payment == [(Decimal("0.00"), Decimal("250.00"))]


def test_invoice_listed_twice_is_applied_once(warehouse):
    assert open_amounts(warehouse, "CC") == {"C-1": Decimal("0.00"), "C-2": Decimal("0.00")}
    payments = dict(
        query(
            warehouse,
            "select payment_id, unapplied_amount from fct_payments where customer_id = 'CC'",
        )
    )
    assert payments == {
        "PC1": Decimal("500.00"),
        "PC2A": Decimal("0.00"),
        "PC2B": Decimal("700.00"),
    }
    assert exception_types(warehouse, "PC1") == ["invoice_already_paid", "unapplied_cash"]
    assert exception_types(warehouse, "PC2B") == ["invoice_already_paid", "unapplied_cash"]


def test_partial_payment_leaves_rest_open(warehouse):
    assert open_amounts(warehouse, "CD") == {"D-1": Decimal("700.00")}
    assert deductions_of(warehouse, "PD") == []


def test_shared_invoice_number_settled_by_payer(warehouse):
    applied = query(
        warehouse,
        "select payment_id, customer_id, invoice_id from fct_cash_applications"
        " where invoice_id = 'E-100'",
    )
    assert applied == [("PE1", "CE1", "E-100")]
    assert exception_types(warehouse, "PE2") == ["ambiguous_match", "unapplied_cash"]


def test_reference_variants_match(warehouse):
    methods = dict(
        query(
            warehouse,
            "select payment_id, match_method from fct_cash_applications"
            " where payment_id in ('PG', 'PH')",
        )
    )
    assert methods == {"PG": "fuzzy_reference", "PH": "normalised_reference"}


def test_currencies_are_never_compared(warehouse):
    assert exception_types(warehouse, "PI") == ["currency_mismatch", "unapplied_cash"]
    assert open_amounts(warehouse, "CI") == {"I-1": Decimal("100.00")}


def test_payment_of_two_unnamed_invoices(warehouse):
    applied = query(
        warehouse,
        "select invoice_id, applied_amount, match_method from fct_cash_applications"
        " where payment_id = 'PK' order by invoice_id",
    )
    assert applied == [
        ("K-2", Decimal("250.00"), "amount_combination"),
        ("K-3", Decimal("400.00"), "amount_combination"),
    ]
    assert open_amounts(warehouse, "CK") == {
        "K-1": Decimal("100.00"),
        "K-2": Decimal("0.00"),
        "K-3": Decimal("0.00"),
    }
    assert exception_types(warehouse, "PK") == []


def test_two_fitting_combinations_are_ambiguous(warehouse):
    assert exception_types(warehouse, "PL") == ["ambiguous_match", "unapplied_cash"]
    assert query(
        warehouse, "select count(*) from fct_cash_applications where payment_id = 'PL'"
    ) == [(0,)]


def test_amount_within_tolerance_matches(warehouse):
    applied = query(
        warehouse,
        "select invoice_id, applied_amount, match_method from fct_cash_applications"
        " where payment_id = 'PM'",
    )
    assert applied == [("M-1", Decimal("479.97"), "amount_within_tolerance")]
    shortfall = query(
        warehouse,
        "select deduction_amount, category, validity, is_auto_approved from fct_deductions"
        " where payment_id = 'PM'",
    )
    assert shortfall == [(Decimal("0.03"), "unidentified", "valid", True)]
    assert open_amounts(warehouse, "CM") == {"M-1": Decimal("0.00")}


def applications_of(warehouse: Path, payment_ids: tuple[str, ...]) -> dict[str, tuple]:
    rows = query(
        warehouse,
        "select payment_id, customer_id, invoice_id, match_method from fct_cash_applications"
        f" where payment_id in ({', '.join('?' for _ in payment_ids)})",
        list(payment_ids),
    )
    return {payment_id: tuple(rest) for payment_id, *rest in rows}


def test_payer_known_from_account_history(warehouse):
    """PN2 names an unknown customer id, but its account paid for CN before."""
    resolution = query(
        warehouse,
        "select payment_id, customer_id, customer_resolution from fct_payments"
        " where payment_id in ('PN2', 'PX') order by payment_id",
    )
    assert resolution == [("PN2", "CN", "payer_account"), ("PX", None, None)]
    assert applications_of(warehouse, ("PN2",)) == {"PN2": ("CN", "N-2", "amount_only")}


def test_named_invoice_wins_over_account_history(warehouse):
    """PN3 comes from CN's account but names P-9 of CP. PN4 names S-5, an invoice id of both."""
    assert applications_of(warehouse, ("PN3", "PN4")) == {
        "PN3": ("CP", "P-9", "exact_reference"),
        "PN4": ("CN", "S-5", "exact_reference"),
    }


def test_account_of_two_customers_resolves_nobody(warehouse):
    """ACCT-X paid for CN and for CP, so PX stays unmatched and P-7 stays open."""
    assert applications_of(warehouse, ("PX",)) == {}
    assert open_amounts(warehouse, "CP")["P-7"] == Decimal("95.00")
    assert exception_types(warehouse, "PX") == ["unapplied_cash", "unmatched_remittance"]


def test_credit_line_applies_nothing(tmp_path: Path, prefect_api: str):
    """A negative paid amount is a credit taken: the payment's variance, not a negative application."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "customers.csv").write_text(
        "customer_id,name\nCN,Nettle Stores\n", encoding="utf-8"
    )
    (inbox / "invoices.csv").write_text(
        "invoice_id,customer_id,invoice_date,due_date,currency,total_amount,payment_terms\n"
        "N-1,CN,2026-10-01,2026-10-31,USD,100.00,NET 30\n"
        "N-2,CN,2026-10-02,2026-11-01,USD,80.00,NET 30\n",
        encoding="utf-8",
    )
    (inbox / "remittances.csv").write_text(
        "payment_id,customer_id,payment_date,payment_amount,currency,invoice_reference,"
        "paid_amount\n"
        "PN1,CN,2026-11-10,70.00,USD,N-1,100.00\n"
        "PN1,CN,2026-11-10,70.00,USD,N-2,-30.00\n",
        encoding="utf-8",
    )
    warehouse = tmp_path / "warehouse.duckdb"

    run_pipeline(inbox, warehouse, RULES_DIR, date(2026, 11, 30))

    assert open_amounts(warehouse, "CN") == {"N-1": Decimal("0.00"), "N-2": Decimal("80.00")}
    assert query(
        warehouse,
        "select applied_amount, unapplied_amount, payment_level_deduction_amount"
        " from fct_payments where payment_id = 'PN1'",
    ) == [(Decimal("100.00"), Decimal("0.00"), Decimal("30.00"))]
    assert query(
        warehouse,
        "select invoice_id, deduction_amount, deduction_source from fct_deductions"
        " where payment_id = 'PN1'",
    ) == [(None, Decimal("30.00"), "remittance_variance")]
