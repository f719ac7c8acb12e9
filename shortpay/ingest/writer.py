"""Write a reader's ParseResult to the raw tables as Arrow batches."""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from dataclasses import fields
from decimal import Decimal

import duckdb
import pyarrow as pa

from shortpay.ingest.context import FileContext, write_issues
from shortpay.ingest.records import ParseIssue, ParseResult, Payment, RemittanceLine
from shortpay.ingest.schema import LINEAGE_COLUMNS, REMITTANCE_COLUMNS

logger = logging.getLogger(__name__)

ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
    "BOOLEAN": pa.bool_(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "DECIMAL(18, 2)": pa.decimal128(18, 2),
}

CENT = Decimal("0.01")

CURRENCY_CODE = re.compile(r"[A-Z]{3}")


def payment_fingerprint(payment: Payment, lines: list[RemittanceLine]) -> str:
    """Return the SHA-256 of payer, date, amount and sorted references of a payment.

    The text is "PAYER|YYYY-MM-DD|amount|REF1,REF2", the same as the SQL of
    remittance_csv builds for CSV payments, which have no trace number or memo.
    """
    payer = payment.customer_id or payment.payer_id or payment.payer_name or ""
    texts = [line.invoice_reference for line in lines]
    # A bank transfer often has no invoice lines, so its own references and
    # text tell two payments of the same amount and day apart.
    texts += [payment.trace_number, payment.memo]
    references = sorted(text.strip().upper() for text in texts if text and text.strip())
    text = "|".join(
        [
            payer.strip().upper(),
            payment.payment_date.isoformat() if payment.payment_date else "",
            str(payment.payment_amount.quantize(CENT)),
            ",".join(references),
        ]
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _arrow_table(
    records: list, columns: list[tuple[str, str]], extra: dict[str, object]
) -> pa.Table:
    """Build an Arrow table of records with the column types of the raw table."""
    field_names = {item.name for item in fields(records[0])} if records else set()
    arrays = {}
    schema_fields = []
    for column, sql_type in columns + LINEAGE_COLUMNS:
        arrow_type = ARROW_TYPES[sql_type]
        if column == "source_position":
            values = [record.position for record in records]
        elif column in extra:
            value = extra[column]
            values = value if isinstance(value, list) else [value] * len(records)
        elif column in field_names:
            values = [getattr(record, column) for record in records]
        else:
            values = [None] * len(records)
        arrays[column] = pa.array(values, type=arrow_type)
        schema_fields.append(pa.field(column, arrow_type))
    return pa.table(arrays, schema=pa.schema(schema_fields))


def _insert(con: duckdb.DuckDBPyConnection, table: str, batch: pa.Table) -> int:
    con.register("ingest_record_batch", batch)
    try:
        # table is one of the REMITTANCE_COLUMNS keys, never file content.
        con.execute(f"INSERT INTO raw.{table} BY NAME SELECT * FROM ingest_record_batch")  # noqa: S608
    finally:
        con.unregister("ingest_record_batch")
    return batch.num_rows


def _drop_resent_payments(
    con: duckdb.DuckDBPyConnection, context: FileContext, result: ParseResult
) -> list[str]:
    """Remove payments already loaded from another file and return their fingerprints."""
    lines_by_payment: dict[str, list[RemittanceLine]] = defaultdict(list)
    for line in result.lines:
        lines_by_payment[line.payment_id].append(line)
    fingerprints = [
        payment_fingerprint(payment, lines_by_payment[payment.payment_id])
        for payment in result.payments
    ]
    if not fingerprints:
        return fingerprints
    earlier = dict(
        (row[0], (row[1], row[2]))
        for row in con.execute(
            "SELECT fingerprint, min(payment_id), min(source_file) FROM raw.payments "
            "WHERE fingerprint IN (SELECT unnest(CAST(? AS VARCHAR[]))) AND file_hash <> ? "
            "GROUP BY fingerprint",
            [fingerprints, context.file_hash],
        ).fetchall()
    )
    if not earlier:
        return fingerprints
    kept_fingerprints, resent_ids = [], set()
    for payment, fingerprint in zip(result.payments, fingerprints, strict=True):
        if fingerprint in earlier:
            earlier_id, earlier_file = earlier[fingerprint]
            resent_ids.add(payment.payment_id)
            if earlier_file == context.source_file:
                # A new version of the same file repeats its payments.
                continue
            result.issues.append(
                ParseIssue(
                    payment.position,
                    f"probable duplicate: payment {payment.payment_id} has the same payer, "
                    f"date, amount and references as payment {earlier_id} of {earlier_file}, "
                    "so it is not loaded again",
                    severity="warning",
                )
            )
        else:
            kept_fingerprints.append(fingerprint)
    _leave_out_payments(result, resent_ids)
    return kept_fingerprints


def _leave_out_payments(result: ParseResult, payment_ids: set[str]) -> None:
    """Remove these payments, with their remittance lines and adjustments, from a result."""
    result.payments = [p for p in result.payments if p.payment_id not in payment_ids]
    result.lines = [line for line in result.lines if line.payment_id not in payment_ids]
    result.adjustments = [item for item in result.adjustments if item.payment_id not in payment_ids]


def _drop_invalid_currencies(result: ParseResult) -> None:
    """Write currencies in capitals and leave out payments whose currency is not a code.

    Such a payment is left out with its lines and adjustments, and becomes
    an issue at its position, as a CSV row does.
    """
    invalid_ids = set()
    for payment in result.payments:
        code = (payment.currency or "").strip().upper()
        if CURRENCY_CODE.fullmatch(code):
            payment.currency = code
            continue
        invalid_ids.add(payment.payment_id)
        result.issues.append(
            ParseIssue(
                payment.position,
                f"currency '{payment.currency}' of payment {payment.payment_id} is not a"
                " three-letter ISO 4217 code, so the payment is not loaded",
            )
        )
    if invalid_ids:
        _leave_out_payments(result, invalid_ids)


def write_parse_result(
    con: duckdb.DuckDBPyConnection, context: FileContext, result: ParseResult
) -> None:
    """Insert the records and issues of a parsed file.

    Payments sent before and payments without a valid currency code are left out.
    """
    _drop_invalid_currencies(result)
    fingerprints = _drop_resent_payments(con, context, result)
    lineage = {"source_file": context.source_file, "file_hash": context.file_hash}
    batches = {
        "payments": (result.payments, {"fingerprint": fingerprints}),
        "remittance_lines": (result.lines, {}),
        "adjustments": (result.adjustments, {}),
        "debit_memos": (result.debit_memos, {}),
    }
    for table, (records, extra) in batches.items():
        if not records:
            continue
        columns = REMITTANCE_COLUMNS[table]
        batch = _arrow_table(records, columns, {"source_format": result.format, **extra, **lineage})
        context.add_rows(table, _insert(con, table, batch))
    context.payment_amount += sum(
        (payment.payment_amount for payment in result.payments), Decimal("0.00")
    )
    write_issues(con, context, result.issues)
