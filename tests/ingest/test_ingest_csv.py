"""ERP and remittance CSV extracts loaded through load_inbox into a real DuckDB file."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from shortpay.ingest.loader import load_inbox

D = Decimal


# The header row of a remittance CSV with every column.
REMITTANCE_HEADER = (
    "payment_id,customer_id,payer_name,payment_date,payment_amount,currency,"
    "line_number,invoice_reference,paid_amount,adjustment_amount,"
    "adjustment_reason_code,adjustment_memo\n"
)

# The issue of a row whose quoted value is never closed.
UNCLOSED_QUOTE = (
    "row could not be read: a quoted value is not closed, or text follows its closing quote "
    "(Value with unterminated quote found.)"
)


def load_remittances(load, tmp_path: Path, name: str, rows: str):
    """Write a remittance CSV of the given rows under the contract header and load it."""
    path = tmp_path / name
    path.write_text(REMITTANCE_HEADER + rows)
    return load(path, under="remittances")

def test_csv_bom_ids_kept_as_text(cases: Path, load, query) -> None:
    summary = load(cases / "csv/invoices_bom.csv")
    assert summary.invoices == 2
    assert summary.files_loaded == 1
    rows = query(
        "SELECT invoice_id, customer_id, invoice_date, due_date, currency, total_amount, "
        "po_number, payment_terms, bill_to_name, is_disputed, source_file, source_position "
        "FROM raw.invoices ORDER BY source_position"
    )
    assert rows == [
        (
            "000123",
            "0010",
            date(2026, 11, 2),
            date(2026, 12, 2),
            "USD",
            D("1250.00"),
            "PO-77",
            "2/10 NET 30",
            "Acme Foods",
            None,
            "invoices_bom.csv",
            "line 2",
        ),
        (
            "0450",
            "0010",
            date(2026, 11, 5),
            date(2026, 12, 20),
            "USD",
            D("99.50"),
            None,
            "NET 45",
            None,
            None,
            "invoices_bom.csv",
            "line 3",
        ),
    ]


def test_csv_bad_rows_become_issues(cases: Path, load, query) -> None:
    summary = load(cases / "csv/invoices_bad_rows.csv")
    assert summary.files_loaded == 1
    assert summary.invoices == 3
    assert summary.issues == 9
    assert query(
        "SELECT invoice_id, total_amount, source_position FROM raw.invoices "
        "ORDER BY source_position"
    ) == [
        ("INV-10", D("3000.10"), "line 12"),
        ("INV-1", D("100.00"), "line 2"),
        ("INV-7", D("20.50"), "line 8"),
    ]
    issues = query(
        "SELECT source_position, reason, severity FROM raw.ingest_issues "
        "ORDER BY CAST(split_part(source_position, ' ', 2) AS INTEGER)"
    )
    assert issues == [
        ("line 3", "invoice_date '2026-13-01' is not a valid YYYY-MM-DD date", "error"),
        ("line 4", "total_amount '12.345' has more than 2 decimal places", "error"),
        ("line 5", "required column customer_id is empty", "error"),
        ("line 6", "total_amount 'abc' is not a decimal number", "error"),
        (
            "line 7",
            "row could not be read: too many columns (Expected Number of Columns: 7 Found: 8)",
            "error",
        ),
        ("line 10", "currency 'US' is not a three-letter ISO 4217 code", "error"),
        (
            "line 11",
            "invoice_date '2026/11/03' is not a valid YYYY-MM-DD date; "
            "total_amount '1e3' is not a decimal number",
            "error",
        ),
        ("line 13", "total_amount '-50.00' is negative", "error"),
        (
            "line 14",
            "total_amount '1000000000000.00' is above 999999999999.99, the largest amount accepted",
            "error",
        ),
    ]
    assert query("SELECT status, records_loaded FROM raw.files") == [("loaded", 3)]


def test_csv_end_before_start_is_issue(inbox: Path, load, query) -> None:
    (inbox / "promotions.csv").write_text(
        "promotion_id,customer_id,start_date,end_date,promotion_type,amount_cap\n"
        "PR-1,C1,2026-10-01,2026-10-31,scan,500.00\n"
        "PR-2,C1,2026-10-31,2026-10-01,scan,500.00\n",
        encoding="utf-8",
    )
    (inbox / "prices.csv").write_text(
        "customer_id,sku,unit_price,valid_from,valid_to\n"
        "C1,SKU-1,4.5000,2026-12-01,2026-01-01\n",
        encoding="utf-8",
    )
    load()
    assert query("SELECT promotion_id FROM raw.promotions") == [("PR-1",)]
    assert query("SELECT count(*) FROM raw.prices") == [(0,)]
    assert query(
        "SELECT source_file, source_position, reason FROM raw.ingest_issues ORDER BY 1"
    ) == [
        ("prices.csv", "line 2", "valid_to '2026-01-01' is before valid_from '2026-12-01'"),
        ("promotions.csv", "line 3", "end_date '2026-10-01' is before start_date '2026-10-31'"),
    ]


def test_csv_missing_column_rejects_file(cases: Path, load, query) -> None:
    summary = load(cases / "csv/invoice_lines_missing_column.csv")
    assert summary.files_rejected == 1
    assert summary.invoice_lines == 0
    reason = (
        "missing required column line_amount "
        "(the header has: invoice_id, line_number, sku, quantity, unit_price)"
    )
    assert query("SELECT format, status, reason, records_loaded FROM raw.files") == [
        ("invoice_lines_csv", "rejected", reason, 0),
    ]
    assert query("SELECT source_position, reason FROM raw.ingest_issues") == [("line 1", reason)]


def test_csv_cut_off_in_quote_keeps_good_rows(inbox: Path, tmp_path: Path, load, query) -> None:
    """A file cut off inside a quoted value loses only the rows from the cut on."""
    summary = load_remittances(
        load, tmp_path, "remittances_cut.csv",
        "PMTX000010,C00001,Acme Markets,2026-11-02,100.00,USD,1,1001,100.00,,,\n"
        'PMTX000011,C00001,"Acme Mar',
    )

    assert summary.files_loaded == 1
    assert summary.payments == 1
    assert query("SELECT payment_id, payment_amount FROM raw.payments") == [
        ("PMTX000010", D("100.00")),
    ]
    issues = query("SELECT source_file, source_position, reason FROM raw.ingest_issues")
    assert len(issues) == 1
    assert issues[0][:2] == ("remittances/remittances_cut.csv", "line 3")
    assert issues[0][2] == UNCLOSED_QUOTE
    assert str(tmp_path) not in issues[0][2]


def test_csv_unclosed_quote_keeps_later_rows(inbox: Path, tmp_path: Path, load, query) -> None:
    """Rows after a quoted value that is never closed still load, at their own lines."""
    good = "C00001,Acme Markets,2026-11-02,{0},USD,1,{1},{0},,,\n"
    summary = load_remittances(
        load, tmp_path, "remittances_unclosed.csv",
        "PMTX000010," + good.format("100.00", "1001")
        + 'PMTX000011,C00001,"Acme Mar,2026-11-02,50.00,USD,1,1002,50.00,,,\n'
        + "PMTX000012," + good.format("200.00", "1003")
        + 'PMTX000013,C00001,"Acme,2026-11-02,60.00,USD,1,1004,60.00,,,\n'
        + "PMTX000014," + good.format("300.00", "1005"),
    )

    assert summary.payments == 3
    assert query(
        "SELECT payment_id, payment_amount, source_position FROM raw.payments ORDER BY payment_id"
    ) == [
        ("PMTX000010", D("100.00"), "line 2"),
        ("PMTX000012", D("200.00"), "line 4"),
        ("PMTX000014", D("300.00"), "line 6"),
    ]
    assert query(
        "SELECT source_position, reason FROM raw.ingest_issues ORDER BY source_position"
    ) == [("line 3", UNCLOSED_QUOTE), ("line 5", UNCLOSED_QUOTE)]


def test_csv_lines_after_quoted_breaks(inbox: Path, tmp_path: Path, load, query) -> None:
    """Rows and issues after a quoted value with line breaks name the file's own lines."""
    good = "C00001,Acme Markets,2026-11-02,{0},USD,1,{1},{0},{2}\n"
    summary = load_remittances(
        load, tmp_path, "remittances_memo_lines.csv",
        # Lines 2 and 3: a memo with one line break.
        "PMTX000010," + good.format("100.00", "1001", '5.00,SH,"short\nshipped"')
        # Line 4: too few values. Line 5 is blank.
        + "PMTX000011,C00001,Acme Markets,2026-11-02,50.00,USD,1,1002\n\n"
        + "PMTX000012," + good.format("200.00", "1003", ",,")
        # Lines 7 to 9: a memo with two line breaks.
        + "PMTX000013," + good.format("300.00", "1004", '5.00,SH,"a\nb\nc"')
        # Line 10: an amount that is not a number.
        + "PMTX000014," + good.format("abc", "1005", ",,")
        + "PMTX000015," + good.format("400.00", "1006", ",,"),
    )

    assert summary.payments == 4
    assert query(
        "SELECT payment_id, source_position FROM raw.payments ORDER BY payment_id"
    ) == [
        ("PMTX000010", "line 2"),
        ("PMTX000012", "line 6"),
        ("PMTX000013", "line 7"),
        ("PMTX000015", "line 11"),
    ]
    assert query(
        "SELECT source_position FROM raw.ingest_issues ORDER BY source_position"
    ) == [("line 10",), ("line 4",)]
    assert query("SELECT memo FROM raw.adjustments ORDER BY payment_id") == [
        ("short\nshipped",), ("a\nb\nc",),
    ]


def test_csv_space_line_is_short_row(inbox: Path, tmp_path: Path, load, query) -> None:
    """A line of spaces is a short row of its own, and the lines after it stay right."""
    good = "C00001,Acme Markets,2026-11-02,{0},USD,1,{1},{0},{2}\n"
    summary = load_remittances(
        load, tmp_path, "remittances_space_line.csv",
        # Lines 2 and 3: a memo with a line break. Line 4: one space.
        "PMTX000010," + good.format("100.00", "1001", '5.00,SH,"m1\nm2"') + " \n"
        + "PMTX000011," + good.format("200.00", "1002", ",,")
        + "PMTX000012,C00001,Acme Markets,2026-11-02,50.00,USD,1,1003\n"
        + "PMTX000013," + good.format("300.00", "1004", ",,"),
    )

    assert summary.payments == 3
    assert query(
        "SELECT payment_id, source_position FROM raw.payments ORDER BY payment_id"
    ) == [("PMTX000010", "line 2"), ("PMTX000011", "line 5"), ("PMTX000013", "line 7")]
    assert query(
        "SELECT source_position FROM raw.ingest_issues ORDER BY source_position"
    ) == [("line 4",), ("line 6",)]


def test_csv_carriage_return_lines_load(inbox: Path, tmp_path: Path, load, query) -> None:
    """A file whose lines end in a carriage return alone loads at its own lines."""
    rows = [
        REMITTANCE_HEADER.rstrip("\n"),
        "PMTX000010,C00001,Acme Markets,2026-11-02,100.00,USD,1,1001,100.00,,,",
        "PMTX000011,C00001,Acme Markets,2026-11-02,50.00,USD,1,1002",
        "PMTX000012,C00001,Acme Markets,2026-11-02,200.00,USD,1,1003,200.00,,,",
    ]
    path = tmp_path / "remittances_cr.csv"
    path.write_bytes(("\r".join(rows) + "\r").encode())
    summary = load(path, under="remittances")

    assert summary.payments == 2
    assert query(
        "SELECT payment_id, source_position FROM raw.payments ORDER BY payment_id"
    ) == [("PMTX000010", "line 2"), ("PMTX000012", "line 4")]
    assert query("SELECT source_position FROM raw.ingest_issues") == [("line 3",)]


def test_csv_short_row_names_its_count(inbox: Path, tmp_path: Path, load, query) -> None:
    """A row with 8 of 12 values gets one issue, with the count of 8 values."""
    summary = load_remittances(
        load, tmp_path, "remittances_short.csv",
        "PMTX000010,C00001,Acme Markets,2026-11-02,100.00,USD,1,1001,100.00,,,\n"
        "PMTX000011,C00001,Acme Markets,2026-11-02,50.00,USD,1,1002\n",
    )

    assert summary.payments == 1
    assert query("SELECT source_position, reason FROM raw.ingest_issues") == [
        (
            "line 3",
            "row could not be read: too few columns "
            "(Expected Number of Columns: 12 Found: 8)",
        ),
    ]


def test_csv_every_erp_entity_typed(inbox: Path, load, query) -> None:
    files = {
        "customers.csv": "customer_id,name,parent_customer_id,country\n0010,Acme,0001,US\n",
        "invoice_lines_2026-11.csv": (
            "invoice_id,line_number,sku,quantity,unit_price,line_amount,uom\n"
            "000123,1,SKU-1,10.5,2.1234,22.30,CS\n"
        ),
        "shipments.csv": (
            "invoice_id,line_number,shipped_quantity,delivered_quantity,delivery_date,carrier\n"
            "000123,1,10.5,10,2026-11-03,UPS\n"
        ),
        "promotions.csv": (
            "promotion_id,customer_id,start_date,end_date,promotion_type,amount_cap,"
            "rate_per_unit,sku\n"
            "PR-1,0010,2026-11-01,2026-11-30,Scan,500.00,0.125000,SKU-1\n"
            "PR-2,0010,2026-11-01,2026-11-30,rebate,500.00,,\n"
        ),
        "prices.csv": "customer_id,sku,unit_price,valid_from,valid_to\n0010,SKU-1,2.12345,"
        "2026-01-01,2026-12-31\n0010,SKU-2,3.5,2026-01-01,2026-12-31\n",
    }
    for name, text in files.items():
        (inbox / name).write_text(text)
    summary = load()
    assert summary.files_loaded == 5
    assert (summary.customers, summary.invoice_lines, summary.shipments) == (1, 1, 1)
    assert (summary.promotions, summary.prices) == (1, 1)
    assert query("SELECT customer_id, parent_customer_id, country FROM raw.customers") == [
        ("0010", "0001", "US"),
    ]
    assert query(
        "SELECT line_number, quantity, unit_price, line_amount FROM raw.invoice_lines"
    ) == [
        (1, D("10.5000"), D("2.1234"), D("22.30")),
    ]
    assert query(
        "SELECT shipped_quantity, delivered_quantity, delivery_date FROM raw.shipments"
    ) == [
        (D("10.5000"), D("10.0000"), date(2026, 11, 3)),
    ]
    assert query("SELECT promotion_type, amount_cap, rate_per_unit FROM raw.promotions") == [
        ("scan", D("500.00"), D("0.125000")),
    ]
    assert query("SELECT sku, unit_price, currency FROM raw.prices") == [
        ("SKU-2", D("3.5000"), None)
    ]
    assert query(
        "SELECT source_file, source_position, reason FROM raw.ingest_issues ORDER BY source_file"
    ) == [
        ("prices.csv", "line 2", "unit_price '2.12345' has more than 4 decimal places"),
        (
            "promotions.csv",
            "line 3",
            "promotion_type 'rebate' is not one of off_invoice, "
            "bill_back, scan, coop, slotting, mcb",
        ),
    ]


def test_remittance_csv_payments_lines_adjustments(cases: Path, load, query) -> None:
    summary = load(cases / "csv/remittances_mixed.csv")
    assert summary.payments == 3
    assert summary.payment_amount == D("2375.00")
    assert summary.remittance_lines == 4
    assert summary.adjustments == 2
    assert query(
        "SELECT payment_id, payment_amount, currency, payment_date, customer_id, payer_name, "
        "is_reversal, source_format, source_position FROM raw.payments ORDER BY payment_id"
    ) == [
        (
            "CHK-1001",
            D("1800.00"),
            "USD",
            date(2026, 11, 20),
            "0010",
            "Acme Foods",
            False,
            "csv",
            "line 2",
        ),
        ("CHK-1002", D("500.00"), "USD", date(2026, 11, 21), "0020", None, False, "csv", "line 4"),
        ("CHK-1004", D("75.00"), "USD", date(2026, 11, 22), "0040", None, False, "csv", "line 7"),
    ]
    assert query(
        "SELECT payment_id, line_number, invoice_reference, paid_amount, source_position "
        "FROM raw.remittance_lines ORDER BY payment_id, line_number"
    ) == [
        ("CHK-1001", 1, "INV-000123", D("1200.00"), "line 2"),
        ("CHK-1001", 2, "INV-0450", D("600.00"), "line 3"),
        ("CHK-1002", 1, "INV-9", D("500.00"), "line 4"),
        ("CHK-1004", 1, "INV-13", D("80.00"), "line 7"),
    ]
    assert query(
        "SELECT payment_id, adjustment_number, amount, line_number, reason_code, memo "
        "FROM raw.adjustments ORDER BY payment_id"
    ) == [
        ("CHK-1001", 1, D("50.00"), 1, "PR", "promo allowance"),
        ("CHK-1004", 1, D("-5.00"), 1, "OP", "overpaid freight"),
    ]
    assert query(
        "SELECT source_position, reason FROM raw.ingest_issues ORDER BY source_position"
    ) == [
        (
            "line 5",
            "payment CHK-1003 is rejected: its rows (lines 5, 6) have different payment_amount",
        ),
        ("line 8", "paid_amount '10.001' has more than 2 decimal places"),
    ]


def test_remittance_repeated_line_number_rejects_payment(
    inbox: Path, tmp_path: Path, load, query
) -> None:
    """Two rows of one payment with line_number 1: the payment is rejected, the next kept."""
    remittances = tmp_path / "remittances_lines.csv"
    remittances.write_text(
        "payment_id,customer_id,payment_date,payment_amount,currency,line_number,"
        "invoice_reference,paid_amount,adjustment_amount,adjustment_reason_code\n"
        "PQ1,CQ,2026-11-10,900.00,USD,1,I-Q,900.00,60.00,59\n"
        "PQ1,CQ,2026-11-10,900.00,USD,1,I-Q,0.00,40.00,59\n"
        "PQ2,CQ,2026-11-10,50.00,USD,1,I-R,50.00,,\n"
    )
    summary = load(remittances)
    assert summary.payments == 1
    assert query("SELECT payment_id FROM raw.payments") == [("PQ2",)]
    assert query("SELECT source_position, reason FROM raw.ingest_issues") == [(
        "line 2",
        "payment PQ1 is rejected: its rows (lines 2, 3) repeat a line_number",
    )]


def test_remittance_file_replaced_at_same_path(inbox: Path, work_db: Path, query) -> None:
    """A new version of a remittance file posts its new payment, and repeats no warning."""
    header = (
        "payment_id,customer_id,payment_date,payment_amount,currency,"
        "invoice_reference,paid_amount\n"
    )
    first = "PR1,CQ,2026-11-10,50.00,USD,I-R,50.00\n"
    path = inbox / "remittances.csv"
    path.write_text(header + first)
    load_inbox(inbox, work_db, "run-1")
    path.write_text(header + first + "PR2,CQ,2026-11-11,60.00,USD,I-S,60.00\n")
    summary = load_inbox(inbox, work_db, "run-2")
    assert summary.payments == 1
    assert query("SELECT payment_id FROM raw.payments ORDER BY 1") == [("PR1",), ("PR2",)]
    assert query("SELECT count(*) FROM raw.ingest_issues") == [(0,)]


def test_remittance_fingerprint_matches_python(cases: Path, load, query) -> None:
    from shortpay.ingest.records import Payment, RemittanceLine
    from shortpay.ingest.writer import payment_fingerprint

    load(cases / "csv/remittances_mixed.csv")
    payment = Payment(
        "CHK-1001", D("1800"), "USD", date(2026, 11, 20), "line 2", customer_id="0010"
    )
    lines = [
        RemittanceLine("CHK-1001", 1, "line 2", invoice_reference="inv-0450"),
        RemittanceLine("CHK-1001", 2, "line 3", invoice_reference="INV-000123"),
    ]
    assert query("SELECT fingerprint FROM raw.payments WHERE payment_id = 'CHK-1001'") == [
        (payment_fingerprint(payment, lines),),
    ]
