"""Encodings, foreign layouts, X12 812, concurrent runs and the public sample files."""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from shortpay.ingest.loader import load_inbox

D = Decimal


def test_cp1252_csv_decodes_exactly(cases: Path, load, query) -> None:
    summary = load(cases / "encoding/remittances_cp1252.csv")
    assert summary.files_loaded == 1
    assert summary.payments == 2
    assert query("SELECT payment_id, payer_name FROM raw.payments ORDER BY payment_id") == [
        ("EU-1", "Bäckerei Nord GmbH"),
        ("EU-2", "Café Müller – Süd"),
    ]
    assert query("SELECT source_position, reason, severity FROM raw.ingest_issues") == [
        ("file", "the file is not valid UTF-8 and was read as cp1252", "warning"),
    ]


def test_utf8_bom_csv_decodes(cases: Path, load, query) -> None:
    load(cases / "encoding/customers_utf8_bom.csv")
    assert query("SELECT customer_id, name, country FROM raw.customers") == [
        ("0010", "Bäckerei Nord GmbH", "DE"),
    ]


def test_utf16_files_decode(cases: Path, inbox: Path, load, query) -> None:
    """A CSV and an X12 file saved as UTF-16 with a byte order mark load as UTF-8 would."""
    (inbox / "customers_unicode.csv").write_bytes(
        "customer_id,name,country\n0010,Bäckerei Nord GmbH,DE\n".encode("utf-16")
    )
    x12_text = (cases / "x12/two_interchanges.x12").read_text(encoding="utf-8")
    (inbox / "payments_unicode.x12").write_bytes(
        codecs.BOM_UTF16_BE + x12_text.encode("utf-16-be")
    )
    summary = load()
    assert summary.files_loaded == 2
    assert query("SELECT customer_id, name FROM raw.customers") == [("0010", "Bäckerei Nord GmbH")]
    assert query("SELECT payment_id FROM raw.payments ORDER BY payment_id") == [
        ("PAY-0001",), ("PAY-0002",), ("PAY-0003",),
    ]
    assert query("SELECT source_file, reason, severity FROM raw.ingest_issues") == [
        ("customers_unicode.csv", "the file was read as UTF-16, as its byte order mark says",
         "info"),
    ]


def test_undecodable_csv_rejected_with_offset(cases: Path, load, query) -> None:
    data = (cases / "encoding/customers_undecodable.csv").read_bytes()
    offset = data.index(b"\x81")
    summary = load(cases / "encoding/customers_undecodable.csv")
    assert summary.files_rejected == 1
    assert query("SELECT status, reason FROM raw.files") == [
        (
            "rejected",
            f"the file is not readable text: byte 0x81 at offset {offset} is invalid in UTF-8, "
            f"and byte 0x81 at offset {offset} is invalid in cp1252",
        ),
    ]
    assert query("SELECT count(*) FROM raw.customers") == [(0,)]


def test_mapping_in_inbox_applies(cases: Path, load, query) -> None:
    summary = load(
        cases / "mapping/zahlungen.mapping.yaml",
        cases / "mapping/zahlungen_export.csv",
    )
    assert summary.files_loaded == 2
    assert summary.payments == 2
    assert summary.payment_amount == D("1240.00")
    assert query("SELECT source_file, format, status FROM raw.files ORDER BY source_file") == [
        ("zahlungen.mapping.yaml", "mapping", "loaded"),
        ("zahlungen_export.csv", "mapped:zahlungen-export", "loaded"),
    ]
    assert query(
        "SELECT payment_id, payment_amount, payment_date, currency, source_position "
        "FROM raw.payments ORDER BY payment_id"
    ) == [
        ("Z-100", D("1234.50"), date(2026, 11, 30), "EUR", "line 2"),
        ("Z-102", D("5.50"), date(2026, 12, 1), "EUR", "line 4"),
    ]
    assert query("SELECT source_position, reason FROM raw.ingest_issues") == [
        ("line 3", "payment_date '31.11.2026' is not a valid YYYY-MM-DD date"),
    ]


def test_mapping_invalid_file_rejected(cases: Path, load, query) -> None:
    summary = load(cases / "mapping/broken.mapping.yaml")
    assert summary.files_rejected == 1
    (reason,) = query("SELECT reason FROM raw.files")[0]
    assert reason.startswith("broken.mapping.yaml: target entity 'orders' is not one of ")


def save_workbook(path: Path, rows: list[list], title: str | None = None) -> None:
    workbook = Workbook()
    sheet = workbook.active
    if title:
        sheet.title = title
    for row in rows:
        sheet.append(row)
    workbook.save(path)


def test_mapping_xlsx_invoices(inbox: Path, load, query) -> None:
    (inbox / "erp.mapping.yaml").write_text(
        "name: erp-sheet\n"
        'pattern: "open_items*.xlsx"\n'
        "sheet: Items\n"
        "targets:\n"
        "  - entity: invoices\n"
        "    columns: {invoice_id: Doc, customer_id: Customer, invoice_date: Date,\n"
        "              due_date: Due, total_amount: Amount, is_disputed: Dispute}\n"
        "    constants: {currency: USD}\n"
    )
    save_workbook(
        inbox / "open_items_2026-11.xlsx",
        [
            ["Doc", "Customer", "Date", "Due", "Amount", "Dispute"],
            ["000123", "0010", date(2026, 11, 2), date(2026, 12, 2), 55.94, "Yes"],
            ["000124", "0010", date(2026, 11, 3), date(2026, 12, 3), 100, "no"],
            ["000125", "0010", date(2026, 11, 3), date(2026, 12, 3), 1.005, "no"],
        ],
        title="Items",
    )

    summary = load()

    assert summary.invoices == 2
    assert query(
        "SELECT invoice_id, invoice_date, total_amount, is_disputed FROM raw.invoices "
        "ORDER BY invoice_id"
    ) == [
        ("000123", date(2026, 11, 2), D("55.94"), True),
        ("000124", date(2026, 11, 3), D("100.00"), False),
    ]
    assert query("SELECT source_position, reason FROM raw.ingest_issues") == [
        ("line 4", "total_amount '1.005' has more than 2 decimal places"),
    ]


def test_mapping_xlsx_decimal_comma(inbox: Path, load, query) -> None:
    """Number cells keep their value beside text cells written with a decimal comma."""
    (inbox / "zahlungen.mapping.yaml").write_text(
        "name: erp-de\n"
        'pattern: "posten*.xlsx"\n'
        "decimal_comma: true\n"
        "targets:\n"
        "  - entity: invoices\n"
        "    columns: {invoice_id: Beleg, customer_id: Kunde, invoice_date: Datum,\n"
        "              due_date: Datum, total_amount: Betrag}\n"
        "    constants: {currency: EUR}\n"
    )
    save_workbook(
        inbox / "posten_2026-11.xlsx",
        [
            ["Beleg", "Kunde", "Datum", "Betrag"],
            ["B-1", "0010", date(2026, 11, 2), 55.94],
            ["B-2", "0010", date(2026, 11, 2), 1234.5],
            ["B-3", "0010", date(2026, 11, 2), 100],
            ["B-4", "0010", date(2026, 11, 2), "1.234,56"],
            ["B-5", "0010", date(2026, 11, 2), 1.005],
        ],
    )

    summary = load()

    assert summary.invoices == 4
    assert query("SELECT invoice_id, total_amount FROM raw.invoices ORDER BY invoice_id") == [
        ("B-1", D("55.94")),
        ("B-2", D("1234.50")),
        ("B-3", D("100.00")),
        ("B-4", D("1234.56")),
    ]
    assert query("SELECT source_position, reason FROM raw.ingest_issues") == [
        ("line 6", "total_amount '1.005' has more than 2 decimal places"),
    ]


def test_public_accounts_receivable_mapping(public_data: Path, load, query) -> None:
    summary = load(public_data / "ar_csv/pthiagu2_DataMining/WA_Fn-UseC_-Accounts-Receivable.csv")
    assert summary.invoices == 2466
    assert summary.payments == 2466
    assert summary.remittance_lines == 2466
    assert summary.payment_amount == D("147703.18")
    assert summary.issues == 0
    assert query("SELECT is_disputed, count(*) FROM raw.invoices GROUP BY 1 ORDER BY 1") == [
        (False, 1905),
        (True, 561),
    ]
    assert query(
        "SELECT invoice_id, customer_id, invoice_date, due_date, total_amount, is_disputed "
        "FROM raw.invoices WHERE source_position = 'line 3'"
    ) == [("0007900770", "8976-AMJEO", date(2013, 1, 26), date(2013, 2, 25), D("61.74"), True)]
    assert query(
        "SELECT payment_id, payment_date, payment_amount FROM raw.payments "
        "WHERE source_position = 'line 3'"
    ) == [("settlement-0007900770", date(2013, 3, 3), D("61.74"))]


def test_normal_invoices_not_disputed_null(cases: Path, load, query) -> None:
    load(cases / "csv/invoices_bom.csv")
    assert query("SELECT DISTINCT is_disputed FROM raw.invoices") == [(None,)]


def test_x12_812_debit_memos(cases: Path, load, query) -> None:
    summary = load(cases / "x12/debit_memo.812")
    assert summary.debit_memos == 3
    assert query(
        "SELECT memo_id, memo_line_number, amount, memo_date, payer_id, payer_name, "
        "invoice_reference, po_number, reason_code, memo, currency, source_format, "
        "source_position FROM raw.debit_memos ORDER BY memo_line_number"
    ) == [
        (
            "DM-5501",
            1,
            D("120.00"),
            date(2026, 12, 3),
            "0010",
            "Acme Foods",
            "000123",
            "PO-77",
            "01",
            "SHORT; 2 cases short on delivery",
            "USD",
            "x12_812",
            "segment 7",
        ),
        (
            "DM-5501",
            2,
            D("75.50"),
            date(2026, 12, 3),
            "0010",
            "Acme Foods",
            "000123",
            "PO-88",
            "PR",
            "PROMO",
            "USD",
            "x12_812",
            "segment 10",
        ),
        (
            "DM-5501",
            3,
            D("-15.00"),
            date(2026, 12, 3),
            "0010",
            "Acme Foods",
            "000123",
            "PO-77",
            "43",
            None,
            "USD",
            "x12_812",
            "segment 12",
        ),
    ]
    assert query("SELECT format, status, records_loaded FROM raw.files") == [
        ("x12_812", "loaded", 3),
    ]


RUN_ONCE = """
import sys
from pathlib import Path
from shortpay.ingest.loader import load_inbox
summary = load_inbox(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
print(summary.files_loaded, summary.files_duplicate, summary.payments)
"""


def test_two_concurrent_runs_post_once(cases: Path, inbox: Path, work_db: Path, query) -> None:
    for folder in ("csv", "bai2", "x12"):
        for path in (cases / folder).iterdir():
            (inbox / f"{path.stem}_{folder}{path.suffix}").write_bytes(path.read_bytes())
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", RUN_ONCE, str(inbox), str(work_db), f"run-{number}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ},
        )
        for number in (1, 2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [error.decode() for _, error in outputs]
    counts = sorted(tuple(int(value) for value in out.split()) for out, _ in outputs)
    files = len(list(inbox.iterdir()))
    assert counts[0][0] == 0
    assert counts[0][1] == files
    assert counts[0][2] == 0
    assert counts[1][1] == 0
    assert query("SELECT count(*), count(DISTINCT file_hash) FROM raw.files") == [(files, files)]
    assert query("SELECT count(*) FROM raw.payments WHERE source_format = 'bai2'") == [(5,)]
    assert query("SELECT count(DISTINCT run_id) FROM raw.files") == [(1,)]


PUBLIC_FORMATS = ("x12_820", "x12_810", "bai2", "camt053", "camt054", "ar_csv")


def test_public_files_load_or_reject(public_data: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "public"
    for folder in PUBLIC_FORMATS:
        for path in sorted((public_data / folder).rglob("*")):
            if path.is_file() and not path.name.lower().startswith(("license", "sources")):
                target = inbox / path.relative_to(public_data)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
    work_db = tmp_path / "public.duckdb"
    summary = load_inbox(inbox, work_db, "public")
    import duckdb

    with duckdb.connect(str(work_db), read_only=True) as con:
        rows = con.execute(
            "SELECT source_file, format, status, reason, records_loaded FROM raw.files"
        ).fetchall()
        payments = dict(
            con.execute(
                "SELECT source_file, sum(payment_amount) FROM raw.payments GROUP BY 1"
            ).fetchall()
        )
    by_file = {row[0]: row for row in rows}
    assert summary.files_seen == len(rows)
    for source_file, file_format, status, reason, _records in rows:
        assert status in ("loaded", "rejected"), (source_file, status)
        if status == "rejected":
            assert reason, source_file
        assert file_format != "unknown", source_file
    rejected = sorted(name for name, row in by_file.items() if row[2] == "rejected")
    assert rejected == [
        "bai2/moov-io_bai2/sample4-continuations-newline-delimited.txt",
        "bai2/moov-io_bai2/sample5-issue113.txt",
        "bai2/venturehacks_bai2/invalid_checksum_eod.bai2",
        "x12_810/Inteligenz_X12Parser/2011110815164104.txt",
        "x12_810/Inteligenz_X12Parser/Example2_ManualBilling.txt",
        "x12_810/Inteligenz_X12Parser/Example3_MultiInvoice.txt",
        "x12_810/Inteligenz_X12Parser/Example4_Adobe.txt",
        "x12_810/Inteligenz_X12Parser/Example5_Walmart.txt",
        "x12_820/Inteligenz_X12Parser/Example3_HomeDepot.txt",
    ]
    for name in rejected:
        if name.startswith("x12_810/"):
            assert "transaction set 810" in by_file[name][3], name
    assert payments["x12_820/indice-co_EDI.Net/x12.820.issue140.edi"] == D("21298.97")
    assert payments["x12_820/Inteligenz_X12Parser/Example4_Safeway.txt"] == D("416093.15")
    assert payments["bai2/venturehacks_bai2/eod.bai2"] == D("83259.82")
    assert payments["camt053/abaghirli_openerp7_camt/FI_camt_053_sample.xml.xml"] == D("23075.00")


@pytest.mark.parametrize("name", ["notes.yaml", "report.xml.bak"])
def test_unknown_extensions_unsupported(inbox: Path, work_db: Path, name: str) -> None:
    (inbox / name).write_text("x")
    summary = load_inbox(inbox, work_db, "run-1")
    assert summary.files_unsupported == 1
