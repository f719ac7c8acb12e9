"""Counts and money sums of a run, and the proof that they balance."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb

PAYMENT_SUMS = """
select
    count(*),
    coalesce(sum(payment_amount), 0),
    coalesce(sum(applied_amount), 0),
    coalesce(sum(unapplied_amount), 0),
    coalesce(sum(payment_level_deduction_amount), 0)
from marts.fct_payments
"""

INVOICE_SUMS = """
select
    count(*),
    coalesce(sum(total_amount), 0),
    coalesce(sum(applied_amount), 0),
    coalesce(sum(discount_amount), 0),
    coalesce(sum(deducted_amount), 0),
    coalesce(sum(open_amount), 0)
from marts.fct_invoices
"""

DEDUCTION_SUMS = """
select
    count(*),
    coalesce(sum(deduction_amount), 0),
    coalesce(sum(valid_amount), 0),
    coalesce(sum(invalid_amount), 0),
    coalesce(sum(case when validity = 'needs_review' then deduction_amount end), 0),
    coalesce(sum(case when invoice_id is not null then deduction_amount end), 0)
from marts.fct_deductions
"""


def _money(value: Decimal) -> str:
    return f"{Decimal(value):.2f}"


def _grouped(connection: duckdb.DuckDBPyConnection, sql: str) -> dict[str, dict]:
    return {
        key: {"count": count, "amount": _money(amount)}
        for key, count, amount in connection.execute(sql).fetchall()
    }


def summarize_build(work_db: Path) -> dict:
    """Return the counts and sums of the built marts, with the balance checks."""
    connection = duckdb.connect(str(work_db), read_only=True)
    try:
        payments = connection.execute(PAYMENT_SUMS).fetchone()
        invoices = connection.execute(INVOICE_SUMS).fetchone()
        deductions = connection.execute(DEDUCTION_SUMS).fetchone()
        by_category = _grouped(
            connection,
            "select category, count(*), sum(deduction_amount) from marts.fct_deductions"
            " group by category order by category",
        )
        by_validity = _grouped(
            connection,
            "select validity, count(*), sum(deduction_amount) from marts.fct_deductions"
            " group by validity order by validity",
        )
        exceptions = dict(
            connection.execute(
                "select exception_type, count(*) from marts.exceptions"
                " where status = 'open' group by exception_type order by exception_type"
            ).fetchall()
        )
        match_methods = dict(
            connection.execute(
                "select match_status, count(*) from marts.fct_remittance_lines"
                " group by match_status order by match_status"
            ).fetchall()
        )
    finally:
        connection.close()

    payment_count, received, applied, unapplied, payment_level = payments
    invoice_count, invoiced, inv_applied, discounts, deducted, open_amount = invoices
    deduction_count, deducted_total, valid, invalid, needs_review, on_invoices = deductions
    balances = {
        "payments": received == applied + unapplied - payment_level,
        "deductions": deducted_total == valid + invalid + needs_review,
        "invoices": invoiced == inv_applied + discounts + deducted + open_amount,
        "invoice_deductions": on_invoices == discounts + deducted,
    }
    return {
        "payments": {
            "count": payment_count,
            "received": _money(received),
            "applied": _money(applied),
            "unapplied": _money(unapplied),
            "payment_level_deductions": _money(payment_level),
        },
        "invoices": {
            "count": invoice_count,
            "invoiced": _money(invoiced),
            "applied": _money(inv_applied),
            "discounts": _money(discounts),
            "deducted": _money(deducted),
            "open": _money(open_amount),
        },
        "remittance_lines": match_methods,
        "deductions": {
            "count": deduction_count,
            "amount": _money(deducted_total),
            "valid": _money(valid),
            "invalid": _money(invalid),
            "needs_review": _money(needs_review),
            "on_invoices": _money(on_invoices),
            "by_category": by_category,
            "by_validity": by_validity,
        },
        # Open items only: what is resolved in the review log is not counted.
        "exceptions": {"count": sum(exceptions.values()), "by_type": exceptions},
        "balances": balances,
    }


def _build_line(build: dict | None) -> list[str]:
    if not build:
        return []
    line = f"  build: {build['mode']}, {build['new_files']} new or changed files"
    rebuilt = build.get("rebuilt")
    if rebuilt:
        line += (
            f", {rebuilt['invoices']} invoices, {rebuilt['payments']} payments"
            f" and {rebuilt.get('deductions', 0)} deductions rebuilt"
        )
    return [f"{line} ({build['reason']})"]


def _deductions_by_place(deductions: dict, invoices: dict) -> str:
    """Return the line that splits the deductions into those on invoices and at payment level."""
    payment_level = Decimal(deductions["amount"]) - Decimal(deductions["on_invoices"])
    return (
        f"    on invoices {deductions['on_invoices']}: discounts taken"
        f" {invoices['discounts']} + deducted {invoices['deducted']};"
        f" at payment level {_money(payment_level)}"
    )


# The summary's wording of each publication mode.
PUBLICATION_MODES = {
    "copied": "every table copied",
    "patched": "the last warehouse patched with the rebuilt rows",
}


def format_summary(summary: dict) -> str:
    """Render the run summary as the plain-text block the CLI prints."""
    payments = summary["payments"]
    invoices = summary["invoices"]
    deductions = summary["deductions"]
    ingest = summary.get("ingest", {})
    lines = [
        f"Shortpay run {summary['run_id']} as of {summary['as_of']}: {summary['status']}",
        f"  files: {ingest.get('files_seen', 0)} seen: {ingest.get('files_loaded', 0)} loaded,"
        f" {ingest.get('files_rejected', 0)} rejected,"
        f" {ingest.get('files_unsupported', 0)} not a known format,"
        f" {ingest.get('files_duplicate', 0)} read before (same content)",
        *_build_line(summary.get("build")),
        # Each of the next three lines is a sum that the sums line checks. A
        # payment-level deduction is cash the customer kept, so it is subtracted.
        f"  payments: {payments['count']} received {payments['received']}: applied to"
        f" invoices {payments['applied']} + unapplied {payments['unapplied']} - deducted"
        f" at payment level {payments['payment_level_deductions']}",
        f"  invoices: {invoices['count']} invoiced {invoices['invoiced']}: applied"
        f" {invoices['applied']} + discounts taken {invoices['discounts']} + deducted"
        f" {invoices['deducted']} + open {invoices['open']}",
        f"  deductions: {deductions['count']} totalling {deductions['amount']}, split by"
        f" amount: valid {deductions['valid']} + invalid {deductions['invalid']} + awaiting"
        f" review {deductions['needs_review']}",
        _deductions_by_place(deductions, invoices),
        # Evidence or a decision can split a deduction into a valid and an
        # invalid amount. Its validity is then invalid, and the table counts it once.
        "    whole deductions by validity (one with an invalid part counts as invalid):",
    ]
    for validity, values in deductions["by_validity"].items():
        lines.append(f"      {validity:<18} {values['count']:>6} {values['amount']:>16}")
    lines.append("    by category:")

    for category, values in deductions["by_category"].items():
        lines.append(f"      {category:<18} {values['count']:>6} {values['amount']:>16}")

    lines.append(f"  open exceptions: {summary['exceptions']['count']}")
    for exception_type, count in summary["exceptions"]["by_type"].items():
        lines.append(f"    {exception_type:<26} {count:>6}")

    followups = summary.get("followups") or {}
    if followups:
        described = ", ".join(f"{key} {value}" for key, value in followups.items())
        lines.append(f"  follow-ups: {described}")
    checks = ", ".join(
        f"{name} {'balance' if ok else 'DO NOT BALANCE'}"
        for name, ok in summary["balances"].items()
    )
    lines.append(f"  sums: {checks}")
    publication = summary.get("publication")
    described = ""
    if publication:
        reason = summary.get("publication_reason")
        because = f", because {reason}" if reason else ""
        described = f" ({publication}: {PUBLICATION_MODES[publication]}{because})"
    lines.append(f"  warehouse: {summary['warehouse']}{described}")
    return "\n".join(lines)
