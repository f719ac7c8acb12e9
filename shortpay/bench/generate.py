"""Seeded generator of an inbox folder and its truth files.

``generate(out_dir, invoices=..., customers=..., seed=..., profile=...)``
builds every table in one in-memory DuckDB database with hash-based
pseudo-random numbers (see ``erp_sql``), writes the ERP extracts and the
remittance CSV files with DuckDB, and the few X12 820 payments with
``x12_writer``. The same arguments give byte-identical files.

The truth folder is a sibling of the inbox (``<out>_truth``) unless given,
and never inside the inbox, because the pipeline would read it as input.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from shortpay.bench import erp_sql, export, extras, remit_sql
from shortpay.bench.profiles import Profile, get_profile
from shortpay.bench.x12_writer import EdiPayment, RemittanceItem, interchange

logger = logging.getLogger(__name__)

FIRST_INVOICE_NUMBER = 1_000_001
MAX_LINES_PER_INVOICE = 15


@dataclass(frozen=True, slots=True)
class GenerateResult:
    """Paths of a generated data set and the summary written with it."""

    inbox: Path
    truth: Path
    summary: dict


def default_truth_dir(out_dir: Path) -> Path:
    """Return ``<out>_truth`` beside the inbox folder."""
    out_dir = Path(out_dir)
    return out_dir.with_name(out_dir.name + "_truth")


def generate(
    out_dir: Path,
    *,
    invoices: int,
    customers: int,
    seed: int,
    profile: str | Profile = "sample",
    truth_dir: Path | None = None,
    progress: bool = False,
) -> GenerateResult:
    """Write an inbox folder and its truth folder for ``seed``, replacing what was there."""
    spec = get_profile(profile) if isinstance(profile, str) else profile
    _check_arguments(invoices, customers, spec)
    out_dir = Path(out_dir)
    truth_dir = Path(truth_dir) if truth_dir is not None else default_truth_dir(out_dir)
    if truth_dir.resolve().is_relative_to(out_dir.resolve()):
        raise ValueError(f"truth folder {truth_dir} must not be inside the inbox {out_dir}")
    _clear_previous_output(out_dir, truth_dir)

    step = _Progress(enabled=progress)
    conn = duckdb.connect()
    try:
        _set_variables(conn, invoices=invoices, customers=customers, seed=seed, spec=spec)
        _build_tables(conn, spec, step)
        step("writing ERP extracts")
        bad_rows = export.write_erp_files(conn, out_dir, spec)
        step("writing remittance files")
        bad_rows += export.write_remittance_csv(conn, out_dir, spec)
        _write_x12_files(conn, out_dir)
        if spec.resent_file:
            _write_resent_file(out_dir)
        step("writing truth files")
        summary = export.write_truth(conn, truth_dir, bad_rows, spec, seed=seed)
    finally:
        conn.close()
    step("done")
    return GenerateResult(inbox=out_dir, truth=truth_dir, summary=summary)


def _clear_previous_output(out_dir: Path, truth_dir: Path) -> None:
    """Delete a previously generated inbox and truth folder, but never other files.

    A non-empty inbox folder is deleted only when its truth folder contains an
    ``expected_summary.json``, the mark of an earlier ``shortpay generate``.
    """
    has_files = out_dir.exists() and any(out_dir.iterdir())
    generated_before = (truth_dir / "expected_summary.json").exists()
    if has_files and not generated_before:
        raise ValueError(
            f"{out_dir} is not empty and was not written by `shortpay generate` "
            f"(no {truth_dir / 'expected_summary.json'}); choose an empty or new folder"
        )
    for folder in (out_dir, truth_dir):
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)


def _check_arguments(invoices: int, customers: int, spec: Profile) -> None:
    if invoices < 10:
        raise ValueError(f"invoices must be at least 10, got {invoices}")
    if customers < 8:
        raise ValueError(f"customers must be at least 8, got {customers}")
    if invoices + FIRST_INVOICE_NUMBER >= 10_000_000:
        raise ValueError(f"invoices must be below {10_000_000 - FIRST_INVOICE_NUMBER}")
    if not 1 <= spec.min_lines <= spec.max_lines <= MAX_LINES_PER_INVOICE:
        raise ValueError(
            f"profile {spec.name}: lines per invoice must be within 1..{MAX_LINES_PER_INVOICE}"
        )


def _set_variables(
    conn: duckdb.DuckDBPyConnection, *, invoices: int, customers: int, seed: int, spec: Profile
) -> None:
    values: dict[str, object] = {
        "seed": int(seed),
        "n_invoices": int(invoices),
        "n_customers": int(customers),
        "n_skus": spec.sku_count,
        "assortment_size": spec.assortment_size,
        "max_group_size": spec.max_group_size,
        "group_start_rate": spec.group_start_rate,
        "earned_discount_share": spec.earned_discount_share,
        "late_discount_share": spec.late_discount_share,
        "missing_reference_rate": spec.missing_reference_rate,
        "typo_rate": spec.typo_rate,
        "partial_payment_rate": spec.partial_payment_rate,
        "duplicate_payment_rate": spec.duplicate_payment_rate,
        "reversal_rate": spec.reversal_rate,
        "shared_invoice_numbers": spec.shared_invoice_numbers,
        "first_invoice_number": FIRST_INVOICE_NUMBER,
        "first_invoice_date": spec.first_invoice_date,
        "invoice_date_days": spec.invoice_date_days,
        "as_of": spec.as_of,
        "min_lines": spec.min_lines,
        "max_lines": spec.max_lines,
        "edi_customers": spec.edi_customers,
        "paid_rate": spec.paid_rate,
        "deduction_rate": spec.deduction_rate,
        "discount_terms_rate": spec.discount_terms_rate,
        "discount_taken_rate": spec.discount_taken_rate,
        "net45_rate": spec.net45_rate,
        "overprice_rate": spec.overprice_rate,
        "short_ship_rate": spec.short_ship_rate,
        "reference_noise_rate": spec.reference_noise_rate,
        "valid_rate": spec.valid_rate,
    }
    for name, value in values.items():
        # Variable names come from the fixed dict above, and values are parameters.
        conn.execute(f"set variable {name} = ?", [value])


def _build_tables(conn: duckdb.DuckDBPyConnection, spec: Profile, step: _Progress) -> None:
    for statement in erp_sql.MACROS:
        conn.execute(statement)
    steps = [
        ("customers and prices", [erp_sql.CUSTOMERS, erp_sql.SKUS, erp_sql.PRICES]),
        ("invoices", [erp_sql.INVOICES, erp_sql.SHARED_INVOICE_NUMBERS, erp_sql.INVOICE_LINES,
                      erp_sql.SHIPMENTS]),
        ("invoice totals", [erp_sql.INVOICE_TOTALS]),
        ("payments and deductions", [remit_sql.PLAN, remit_sql.PLAN_AMOUNTS, remit_sql.PROMOTIONS]),
        ("remittance lines", [remit_sql.GROUPS, remit_sql.PAYMENTS, remit_sql.REMITTANCE_LINES]),
    ]
    for label, statements in steps:
        step(f"building {label}")
        for statement in statements:
            conn.execute(statement)
    step("adding special payments")
    extras.add_special_rows(conn, spec)


def _write_x12_files(conn: duckdb.DuckDBPyConnection, out_dir: Path) -> None:
    rows = conn.execute(
        """
        select
            r.edi_file, r.payment_id, r.customer_id, r.payer_name, r.payment_date,
            t.payment_amount, r.invoice_reference, r.paid_amount, r.invoice_amount,
            i.invoice_date, r.category, r.reason_code, r.deduction_amount, r.adjustment_memo
        from remittance_lines as r
        inner join payment_totals as t on r.payment_id = t.payment_id
        left join invoices as i on r.invoice_index = i.i
        where r.edi_file is not null
        order by r.edi_file, r.payment_id, r.line_number
        """
    ).fetchall()
    files: dict[str, dict[str, EdiPayment]] = {}
    for (
        file_name, payment_id, customer_id, payer_name, payment_date, payment_amount,
        reference, paid, invoice_amount, invoice_date, category, reason, amount, memo,
    ) in rows:
        payments = files.setdefault(file_name, {})
        payment = payments.get(payment_id)
        if payment is None:
            payment = EdiPayment(payment_id, customer_id, payer_name, payment_date, payment_amount)
            payments[payment_id] = payment
        item = RemittanceItem(reference, paid, invoice_amount, invoice_date)
        if category == "early_pay_discount":
            item.discount_amount = amount
        elif amount is not None and reason is not None:
            item.adjustment_amount = amount
            item.adjustment_reason_code = reason
            item.adjustment_memo = memo
        payment.items.append(item)
    for number, (file_name, payments) in enumerate(sorted(files.items()), start=1):
        text = interchange(list(payments.values()), control_number=number)
        (out_dir / file_name).write_bytes(text.encode("utf-8"))


def _write_resent_file(out_dir: Path) -> None:
    """Copy the first remittance file into ``resent/``: the same bytes dropped twice."""
    first = min(out_dir.glob("remittances_*.csv"))
    (out_dir / "resent").mkdir()
    shutil.copyfile(first, out_dir / "resent" / first.name)


class _Progress:
    """Progress lines on stderr through logging, with seconds since the start."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        if self.enabled:
            logger.info("generate: %s (%.1f s)", message, time.perf_counter() - self.started)


def load_summary(truth_dir: Path) -> dict:
    """Read ``expected_summary.json`` from a truth folder."""
    return json.loads((Path(truth_dir) / "expected_summary.json").read_text(encoding="utf-8"))

