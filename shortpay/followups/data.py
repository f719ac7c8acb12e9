"""Read the deductions to write about, with customer, invoice and invoice lines.

The work database has the marts in schema ``marts``; the published warehouse
has the same tables in ``main``. Invoice lines come from ``fct_invoice_lines``
in either.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import duckdb

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableNames:
    """Qualified names of the tables read, which differ between databases."""

    deductions: str = "marts.fct_deductions"
    customers: str = "marts.dim_customers"
    invoices: str = "marts.fct_invoices"
    invoice_lines: str | None = "marts.fct_invoice_lines"

    @classmethod
    def for_connection(cls, conn: duckdb.DuckDBPyConnection) -> TableNames:
        """Use the ``marts`` schema when it exists, else the published ``main`` tables."""
        if _relation_exists(conn, "marts", "fct_deductions"):
            lines = "marts.fct_invoice_lines"
            if not _relation_exists(conn, "marts", "fct_invoice_lines"):
                lines = None
            return cls(invoice_lines=lines)
        lines = "main.fct_invoice_lines"
        if not _relation_exists(conn, "main", "fct_invoice_lines"):
            lines = None
        return cls(
            deductions="main.fct_deductions",
            customers="main.dim_customers",
            invoices="main.fct_invoices",
            invoice_lines=lines,
        )


@dataclass(frozen=True)
class InvoiceLine:
    """One line of the invoice a deduction was taken from."""

    line_number: int | None
    sku: str | None
    description: str | None
    quantity: Decimal | None
    unit_price: Decimal | None
    line_amount: Decimal


@dataclass(frozen=True)
class Invoice:
    """The invoice a deduction was taken from, with its lines."""

    invoice_id: str
    customer_id: str | None
    invoice_date: dt.date | None
    due_date: dt.date | None
    po_number: str | None
    currency: str | None
    total_amount: Decimal | None
    applied_amount: Decimal | None
    discount_amount: Decimal | None
    deducted_amount: Decimal | None
    open_amount: Decimal | None
    lines: tuple[InvoiceLine, ...] = ()

    @property
    def lines_total(self) -> Decimal:
        """Sum of the line amounts, exact."""
        return sum((line.line_amount for line in self.lines), Decimal("0.00"))


@dataclass(frozen=True)
class Deduction:
    """A deduction with the customer fields the correspondence needs."""

    deduction_id: str
    payment_id: str | None
    customer_id: str | None
    invoice_id: str | None
    invoice_line_number: int | None
    deduction_amount: Decimal
    currency: str | None
    customer_reason_code: str | None
    category: str | None
    validity: str | None
    valid_amount: Decimal | None
    invalid_amount: Decimal | None
    validity_reason: str | None
    evidence_reference: str | None
    status: str | None
    opened_date: dt.date | None
    deadline_date: dt.date | None
    owner: str | None
    customer_memo: str | None
    adjustment_reference: str | None
    payment_date: dt.date | None
    customer_name: str | None
    parent_customer_id: str | None
    ar_contact_email: str | None
    ar_contact_name: str | None
    country: str | None

    @property
    def amount_claimed(self) -> Decimal:
        """The amount asked back: the invalid part, or all of a disputed deduction without one."""
        if self.invalid_amount is not None and self.invalid_amount > 0:
            return self.invalid_amount
        return self.deduction_amount


# In the order of Deduction's fields.
_DEDUCTION_COLUMNS = (
    "d.deduction_id, d.payment_id, d.customer_id, d.invoice_id, d.invoice_line_number, "
    "d.deduction_amount, d.currency, d.customer_reason_code, d.category, d.validity, "
    "d.valid_amount, d.invalid_amount, d.validity_reason, d.evidence_reference, d.status, "
    "d.opened_date, d.deadline_date, d.owner, d.customer_memo, d.adjustment_reference, "
    "d.payment_date, c.customer_name, c.parent_customer_id, c.ar_contact_email, "
    "c.ar_contact_name, c.country"
)


def read_candidates(
    conn: duckdb.DuckDBPyConnection,
    tables: TableNames,
    extra_ids: Iterable[str] = (),
    only_id: str | None = None,
) -> list[Deduction]:
    """Read deductions that are disputed or invalid, plus the ``extra_ids`` in any state.

    ``extra_ids`` brings in deductions that already have correspondence, so a
    change of status (say, to recovered) is seen. ``only_id`` limits the read
    to one deduction, whatever its state.
    """
    # The table names come from TableNames, never from input; values are parameters.
    query = (
        f"select {_DEDUCTION_COLUMNS} from {tables.deductions} as d "  # noqa: S608
        f"left join {tables.customers} as c on c.customer_id = d.customer_id "
    )
    if only_id is not None:
        query += "where d.deduction_id = ? "
        params: list[object] = [only_id]
    else:
        query += (
            "where d.status = 'disputed' "
            "or (d.validity = 'invalid' and d.invalid_amount > 0) "
            "or d.deduction_id in (select unnest(?::varchar[])) "
        )
        params = [sorted(set(extra_ids))]
    query += "order by d.deduction_id"
    # The columns come in the order of Deduction's fields. A large run reads
    # tens of thousands of rows, so they are passed by position.
    deductions = []
    for row in conn.execute(query, params).fetchall():
        deduction = Deduction(*row)
        if deduction.deduction_id is None or deduction.deduction_amount is None:
            log.warning("Skipped a deduction row without id or amount: %r", deduction)
            continue
        deductions.append(deduction)
    return deductions


def read_invoices(
    conn: duckdb.DuckDBPyConnection, tables: TableNames, invoice_ids: Iterable[str]
) -> dict[tuple[str, str | None], Invoice]:
    """Read invoices by id, each with its lines ordered by line number.

    The result is keyed by (invoice_id, customer_id) because an invoice number
    may be shared by two customers; see ``find_invoice``.
    """
    ids = sorted({invoice_id for invoice_id in invoice_ids if invoice_id is not None})
    if not ids:
        return {}
    lines: dict[str, list[InvoiceLine]] = {}
    # NOTE: fct_invoice_lines has no customer_id, so two customers' invoices
    # that share a number get both invoices' lines in their statement.
    if tables.invoice_lines is not None:
        rows = conn.execute(
            f"select invoice_id, line_number, sku, description, quantity, unit_price, "  # noqa: S608
            f"line_amount from {tables.invoice_lines} "
            "where invoice_id in (select unnest(?::varchar[])) and line_amount is not null "
            "order by invoice_id, line_number",
            [ids],
        ).fetchall()
        for invoice_id, *fields in rows:
            lines.setdefault(invoice_id, []).append(InvoiceLine(*fields))
    rows = conn.execute(
        f"select invoice_id, customer_id, invoice_date, due_date, po_number, "  # noqa: S608
        "currency, total_amount, applied_amount, discount_amount, deducted_amount, "
        f"open_amount from {tables.invoices} "
        "where invoice_id in (select unnest(?::varchar[]))",
        [ids],
    ).fetchall()
    invoices = {}
    for row in rows:
        invoices[(row[0], row[1])] = Invoice(*row, lines=tuple(lines.get(row[0], ())))
    return invoices


def find_invoice(
    invoices: dict[tuple[str, str | None], Invoice], deduction: Deduction
) -> Invoice | None:
    """Return the deduction's invoice: the customer's own, else the only one with that id."""
    if deduction.invoice_id is None:
        return None
    own = invoices.get((deduction.invoice_id, deduction.customer_id))
    if own is not None:
        return own
    others = [inv for key, inv in invoices.items() if key[0] == deduction.invoice_id]
    return others[0] if len(others) == 1 else None


def _relation_exists(conn: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    row = conn.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return bool(row and row[0][0])
