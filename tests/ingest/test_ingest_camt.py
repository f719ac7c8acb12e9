"""camt.053 and camt.054 reader: entries, transactions, remittance and checks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from shortpay.ingest.camt import read_camt

D = Decimal


def test_camt_batch_entry_three_payments(cases: Path) -> None:
    result = read_camt((cases / "camt/notification_v08.xml").read_bytes())
    assert not result.rejected
    assert result.format == "camt054"
    assert [(p.payment_id, p.payment_amount) for p in result.payments[:3]] == [
        ("E2E-ACME-77", D("329.56")),
        ("BANKREF-1/2", D("100.00")),
        ("BANKREF-2", D("50.00")),
    ]
    assert [p.position for p in result.payments[:3]] == [
        "Ntry[1]/NtryDtls/TxDtls[1]",
        "Ntry[1]/NtryDtls/TxDtls[2]",
        "Ntry[2]/NtryDtls/TxDtls[1]",
    ]
    assert result.issues == []


def test_camt_dates_keep_calendar_day(cases: Path) -> None:
    payment = read_camt((cases / "camt/notification_v08.xml").read_bytes()).payments[0]
    assert payment.payment_date == date(2026, 11, 30)
    assert payment.value_date == date(2026, 12, 1)
    assert payment.payer_name == "Bäckerei Nord GmbH"
    assert payment.bank_account == "DE89370400440532013000"
    assert payment.payment_method == "PMNT/RCDT/ESCT"


def test_camt_structured_remittance(cases: Path) -> None:
    result = read_camt((cases / "camt/notification_v08.xml").read_bytes())
    invoice, credit_note = result.lines
    assert invoice.payment_id == "E2E-ACME-77"
    assert invoice.invoice_reference == "000123"
    assert invoice.reference_qualifier == "CINV"
    assert invoice.invoice_amount == D("400.00")
    assert invoice.discount_amount == D("8.00")
    assert invoice.paid_amount == D("329.56")
    assert invoice.invoice_date == date(2026, 11, 2)
    assert credit_note.reference_qualifier == "CREN"
    assert credit_note.paid_amount == D("-20.00")
    (adjustment,) = result.adjustments
    assert adjustment.amount == D("62.44")
    assert adjustment.reason_code == "DAM"
    assert adjustment.memo == "damaged pallet"
    assert adjustment.line_number == 1
    assert result.payments[1].memo == "INV 0450 PART PAYMENT"


def test_camt_reversal_and_debit(cases: Path) -> None:
    result = read_camt((cases / "camt/notification_v08.xml").read_bytes())
    assert len(result.payments) == 4
    reversal = result.payments[3]
    assert reversal.payment_id == "BANKREF-4"
    assert reversal.is_reversal is True
    assert D("75.00") not in {p.payment_amount for p in result.payments}


def test_camt_not_provided_ids_both_kept() -> None:
    transaction = (
        '<TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs><Amt Ccy="EUR">{}</Amt></TxDtls>'
    )
    xml = (
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.04">'
        "<BkToCstmrDbtCdtNtfctn><Ntfctn><Id>N-7</Id>"
        '<Ntry><Amt Ccy="EUR">20.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
        "<BookgDt><Dt>2026-11-30</Dt></BookgDt><NtryDtls>"
        + transaction.format("10.00")
        + transaction.format("10.00")
        + "</NtryDtls></Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
    )
    result = read_camt(xml.encode())
    assert [(p.payment_id, p.payment_amount) for p in result.payments] == [
        ("N-7/Ntry[1]/1", D("10.00")),
        ("N-7/Ntry[1]/2", D("10.00")),
    ]


def _notification(entries: str, account: str = "") -> bytes:
    return (
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.04">'
        f"<BkToCstmrDbtCdtNtfctn><Ntfctn><Id>N-10</Id>{account}{entries}</Ntfctn>"
        "</BkToCstmrDbtCdtNtfctn></Document>"
    ).encode()


def _entry(reference: str, currency: str, amount: str = "10.00") -> str:
    return (
        f'<Ntry><Amt Ccy="{currency}">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
        f"<BookgDt><Dt>2026-11-30</Dt></BookgDt><AcctSvcrRef>{reference}</AcctSvcrRef></Ntry>"
    )


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("NaN", "amount at Ntry[1]/Amt is not a finite number: 'NaN'"),
        ("1E3", "amount at Ntry[1]/Amt is not a number: '1E3'"),
        (
            "1000000000000.00",
            "amount at Ntry[1]/Amt is above 999999999999.99, the largest amount"
            " accepted: '1000000000000.00'",
        ),
    ],
)
def test_camt_amount_out_of_bounds(amount: str, reason: str) -> None:
    result = read_camt(_notification(_entry("R-1", "EUR", amount)))
    assert result.payments == []
    assert [issue.reason for issue in result.issues] == [reason]


def test_camt_currency_codes_checked(inbox: Path, load, query) -> None:
    """A lower-case code is written in capitals; an entry without a code is not loaded."""
    entries = _entry("R-1", "usd") + _entry("R-2", "EURO") + _entry("R-3", "EUR")
    (inbox / "notification.xml").write_bytes(_notification(entries))
    summary = load()
    assert summary.payments == 2
    assert query("SELECT payment_amount, currency FROM raw.payments ORDER BY currency") == [
        (D("10.00"), "EUR"),
        (D("10.00"), "USD"),
    ]
    assert query("SELECT source_position, reason FROM raw.ingest_issues") == [
        (
            "Ntry[2]",
            "currency 'EURO' of payment R-2 is not a three-letter ISO 4217 code,"
            " so the payment is not loaded",
        ),
    ]


def test_camt_zero_decimal_currency_whole() -> None:
    result = read_camt(_notification(_entry("R-1", "JPY", "100.50")))
    assert result.rejected
    assert result.issues[-1].reason == (
        "amount at Ntry[1]/Amt has decimals, which JPY does not have: '100.50'"
    )


def test_camt_missing_currency_from_account() -> None:
    account = "<Acct><Id><IBAN>DE02120300000000202051</IBAN></Id><Ccy>USD</Ccy></Acct>"
    result = read_camt(_notification(_entry("R-1", ""), account))
    assert [(p.payment_amount, p.currency) for p in result.payments] == [(D("10.00"), "USD")]
    result = read_camt(_notification(_entry("R-1", "")))
    assert result.rejected
    assert result.issues[-1].reason == (
        "Ntry[1]/Amt has no currency (Ccy), and its account names none"
    )


def test_camt_debtor_account_read() -> None:
    transaction = (
        "<TxDtls><Refs><EndToEndId>E2E-{0}</EndToEndId></Refs>"
        '<Amt Ccy="EUR">10.00</Amt><RltdPties><Dbtr><Nm>Nutmeg Foods</Nm></Dbtr>'
        "<DbtrAcct><Id>{1}</Id></DbtrAcct></RltdPties></TxDtls>"
    )
    xml = (
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.04">'
        "<BkToCstmrDbtCdtNtfctn><Ntfctn><Id>N-8</Id>"
        '<Ntry><Amt Ccy="EUR">20.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
        "<BookgDt><Dt>2026-11-30</Dt></BookgDt><NtryDtls>"
        + transaction.format(1, "<IBAN>DE02120300000000202051</IBAN>")
        + transaction.format(2, "<Othr><Id>0042-77</Id></Othr>")
        + "</NtryDtls></Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
    )
    result = read_camt(xml.encode())
    assert [(p.payment_id, p.payer_name, p.payer_account) for p in result.payments] == [
        ("E2E-1", "Nutmeg Foods", "DE02120300000000202051"),
        ("E2E-2", "Nutmeg Foods", "0042-77"),
    ]


def test_camt_empty_notification_warns(cases: Path, load, query) -> None:
    summary = load(cases / "camt/empty_notification_v02.xml")
    assert summary.files_loaded == 1
    assert summary.payments == 0
    assert query("SELECT source_position, reason, severity FROM raw.ingest_issues") == [
        ("file", "the camt.054 notification has no entries (Ntry)", "warning"),
    ]
    assert query("SELECT format, status, records_loaded FROM raw.files") == [
        ("camt054", "loaded", 0),
    ]


def test_camt_entry_sum_checked(cases: Path) -> None:
    result = read_camt((cases / "camt/statement_v04_bad_sum.xml").read_bytes())
    assert result.format == "camt053"
    assert [issue.reason for issue in result.issues] == [
        "Ntry[1] amount is 300.00 but its transactions add up to 290.00",
    ]
    assert [p.payment_id for p in result.payments] == ["A-1", "A-2"]
    assert result.payments[0].bank_account == "123456789"


def test_camt_entities_not_expanded() -> None:
    xml = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">'
        "<BkToCstmrDbtCdtNtfctn><Ntfctn><Id>&x;</Id>"
        '<Ntry><Amt Ccy="EUR">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Ntry>'
        "</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
    )
    result = read_camt(xml.encode())
    assert not result.rejected
    assert "root:" not in (result.payments[0].payment_id or "")


def test_camt_other_xml_rejected() -> None:
    result = read_camt(b'<Document xmlns="urn:example:pain.001"><A/></Document>')
    assert result.rejected
    assert result.issues[-1].reason == (
        "the XML namespace 'urn:example:pain.001' is not camt.053 or camt.054"
    )


def test_camt_public_files(public_data: Path) -> None:
    expected = {
        "FI_camt_053_sample.xml.xml": (6, D("23075.00")),
        "camt053.v2.minimal.xml": (1, D("8.85")),
        "camt053.v2.multi.statement.xml": (1, D("8.85")),
        "camt053.v4.xml": (1, D("8.85")),
        "camt053.v8.xml": (1, D("8.85")),
        # Ntry[6], a reversal notice of 40.00 and 60.00 with status INFO, is
        # not booked and so not read as payments.
        "FI_camt_054_sample.xml.xml": (6, D("5500.00")),
        "camt054.v2.xml": (0, D("0")),
        "camt054.v8.xml": (0, D("0")),
    }
    seen = set()
    for path in sorted(public_data.glob("camt05*/*/*.xml")):
        result = read_camt(path.read_bytes())
        seen.add(path.name)
        assert not result.rejected, (path.name, result.issues)
        count, total = expected[path.name]
        assert len(result.payments) == count, path.name
        assert sum(p.payment_amount for p in result.payments) == total, path.name
    assert seen == set(expected)
