"""X12 820 reader: delimiters, envelopes, payments, remittance lines and adjustments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from shortpay.ingest.x12 import read_x12

D = Decimal


def test_x12_public_issue140(public_data: Path) -> None:
    result = read_x12((public_data / "x12_820/indice-co_EDI.Net/x12.820.issue140.edi").read_bytes())
    assert not result.rejected
    assert len(result.payments) == 1
    payment = result.payments[0]
    assert payment.payment_id == "4529952"
    assert payment.trace_number == "4529952"
    assert payment.payment_amount == D("21298.97")
    assert payment.currency == "USD"
    assert payment.payment_date == date(2019, 10, 29)
    assert payment.payer_name == "MART INC."
    assert payment.payer_id == "1238742000008"
    assert payment.payee_name == "Test Company, LLC"
    assert payment.payment_method == "CHK"
    assert [line.invoice_reference for line in result.lines] == [
        "26801",
        "26927",
        "26935",
        "27009",
        "27018",
        "27028",
        "27029",
    ]
    assert [line.discount_amount for line in result.lines] == [
        D("97.90"),
        D("100.08"),
        D("94.91"),
        D("47.43"),
        D("47.43"),
        D("26.35"),
        D("43.15"),
    ]
    assert sum(line.paid_amount for line in result.lines) == D("21298.97")
    first = result.lines[0]
    assert first.paid_amount == D("4408.75")
    assert first.invoice_amount == D("4650.41")
    assert first.po_number == "1016071221"
    assert first.other_references == "DP:00040;MR:0033;MC:858008293;19:07;ST:0078742031897"
    assert first.other_dates == "097:2019-09-04"
    assert len(result.adjustments) == 1
    adjustment = result.adjustments[0]
    assert adjustment.amount == D("143.76")
    assert adjustment.reason_code == "59"
    assert adjustment.line_number == 1
    assert adjustment.reference == "26801"
    assert adjustment.reference_qualifier == "CM"
    assert adjustment.other_references == "6O:022;MC:000000025"
    assert adjustment.position == "segment 19"
    assert [issue.reason for issue in result.issues] == []


def test_x12_public_safeway(public_data: Path) -> None:
    result = read_x12(
        (public_data / "x12_820/Inteligenz_X12Parser/Example4_Safeway.txt").read_bytes()
    )
    assert not result.rejected
    payment = result.payments[0]
    assert payment.payment_amount == D("416093.15")
    assert payment.payment_id == "4311000190"
    assert payment.payment_date == date(2005, 10, 20)
    assert payment.payer_name == "Safeway - U. S. Corporate"
    assert len(result.lines) == 6
    assert [line.invoice_reference for line in result.lines] == [
        "6092392",
        "6093694",
        "6093695",
        "6093696",
        "P7340039-25PB",
        "6093692",
    ]
    assert [line.paid_amount for line in result.lines] == [
        D("20430.34"),
        D("20888.50"),
        D("99701.80"),
        D("17380.29"),
        D("4153.00"),
        D("286308.83"),
    ]
    assert [item.amount for item in result.adjustments] == [
        D("13676.81"),
        D("18200.00"),
        D("892.80"),
        D("-210.00"),
    ]
    assert [item.line_number for item in result.adjustments] == [None, None, None, None]
    assert [item.reference for item in result.adjustments] == [
        "WSO_144324_05",
        "WSO_144343_05",
        "P7159010-17",
        "P7817948-20",
    ]
    # The sample itself does not balance: the lines less the adjustments are 210.00 more.
    assert [issue.severity for issue in result.issues] == ["warning"]
    assert "416303.15" in result.issues[0].reason


def test_x12_public_home_depot_template_rejected(public_data: Path) -> None:
    result = read_x12(
        (public_data / "x12_820/Inteligenz_X12Parser/Example3_HomeDepot.txt").read_bytes()
    )
    assert result.rejected
    assert result.payments == []
    assert result.issues[-1].position == "segment 4"
    assert result.issues[-1].reason == (
        "BPR02 at segment 4 is not a number: 'TOTAL DOLLAR AMT OF CHECK'"
    )


def test_x12_two_interchanges_custom_delimiters(cases: Path) -> None:
    result = read_x12((cases / "x12/two_interchanges.x12").read_bytes())
    assert not result.rejected
    assert [(p.payment_id, p.payment_amount, p.currency) for p in result.payments] == [
        ("PAY-0001", D("1500.00"), "EUR"),
        ("PAY-0002", D("99.99"), "USD"),
        ("PAY-0003", D("10.00"), "USD"),
    ]
    assert [p.payment_date for p in result.payments] == [
        date(2026, 11, 30),
        date(2026, 12, 1),
        date(2026, 12, 2),
    ]
    assert result.payments[0].payer_id == "0010"
    assert result.payments[0].bank_account == "987654321"
    assert result.payments[2].payment_method == "FWT"
    lines = {(line.payment_id, line.line_number): line for line in result.lines}
    assert len(lines) == 4
    first = lines[("PAY-0001", 1)]
    assert first.invoice_reference == "000123"
    assert first.paid_amount == D("1000.00")
    assert first.invoice_amount == D("1100.00")
    assert first.discount_amount == D("20.00")
    assert first.po_number == "PO-77"
    assert first.other_references == "BM:BOL-9"
    assert first.invoice_date == date(2026, 11, 2)
    assert first.is_partial is False
    second = lines[("PAY-0001", 2)]
    assert second.invoice_reference == "0450"
    assert second.is_partial is True
    assert second.discount_amount is None
    payment_level, line_level = result.adjustments
    assert (payment_level.amount, payment_level.line_number, payment_level.reason_code) == (
        D("25.00"),
        None,
        "CS",
    )
    assert (payment_level.reference_qualifier, payment_level.reference) == ("CR", "CM-77")
    assert (line_level.amount, line_level.line_number, line_level.reason_code) == (
        D("80.00"),
        1,
        "01",
    )
    assert line_level.other_references == "ZZ:short shipped"
    assert line_level.adjustment_number == 2
    assert result.issues == []


def test_x12_segment_count_mismatch(cases: Path) -> None:
    result = read_x12((cases / "x12/se_count_wrong.edi").read_bytes())
    assert result.rejected
    assert result.issues[-1].position == "segment 7"
    assert result.issues[-1].reason == (
        "SE01 at segment 7 says 7 but the file has 5 segments from ST to SE"
    )


def test_x12_other_transaction_set_rejected(cases: Path) -> None:
    result = read_x12((cases / "x12/invoice_810.edi").read_bytes())
    assert result.rejected
    assert result.issues[-1].reason == (
        "transaction set 810 (ST01 '810' at segment 3) is not supported; the X12 reader takes 820 and 812"
    )


def _interchange(body: str, *, groups: str = "1", sets: str = "1") -> bytes:
    isa = (
        "ISA*00*          *00*          *ZZ*A              *ZZ*B              "
        "*261201*0930*^*00501*000000001*0*P*>~"
    )
    assert len(isa) == 106
    segments = body.split("~")
    count = len(segments) + 2
    text = (
        isa
        + "GS*RA*A*B*20261201*0930*1*X*005010~"
        + "ST*820*0001~"
        + "~".join(segments)
        + f"~SE*{count}*0001~GE*{sets}*1~IEA*{groups}*000000001~"
    )
    return text.encode()


BASIC_BODY = "BPR*C*10.00*C*ACH************20261201~TRN*1*P1~RMR*IV*I1*PO*10.00"


def test_x12_group_count_mismatch() -> None:
    result = read_x12(_interchange(BASIC_BODY, sets="2"))
    assert result.rejected
    assert result.issues[-1].reason == (
        "GE01 at segment 8 says 2 but the file has 1 transaction sets (ST) in the group"
    )


def test_x12_interchange_count_mismatch() -> None:
    result = read_x12(_interchange(BASIC_BODY, groups="3"))
    assert result.rejected
    assert result.issues[-1].reason == (
        "IEA01 at segment 9 says 3 but the file has 1 functional groups (GS) in the interchange"
    )


def test_x12_basic_payment_accepted() -> None:
    result = read_x12(_interchange(BASIC_BODY))
    assert not result.rejected
    assert [(p.payment_id, p.payment_amount) for p in result.payments] == [("P1", D("10.00"))]


def test_x12_payer_account_read() -> None:
    body = "BPR*C*10.00*C*ACH*CCP*01*021000021*DA*4417-0093*1234567890**01*011000015*DA*999*20261201~TRN*1*P1~RMR*IV*I1*PO*10.00"
    payment = read_x12(_interchange(body)).payments[0]
    assert payment.payer_account == "021000021/4417-0093"
    assert payment.bank_account == "999"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            "BPR*C*10.005*C*ACH~TRN*1*P1",
            "BPR02 at segment 4 has more than 2 decimal places: '10.005'",
        ),
        (
            "BPR*C*10.00*C*ACH~TRN*1*P1~RMR*IV*I1*PO*1O.00",
            "RMR04 at segment 6 is not a number: '1O.00'",
        ),
        (
            "BPR*C*1000000000000.00*C*ACH~TRN*1*P1",
            "BPR02 at segment 4 is above 999999999999.99, the largest amount accepted:"
            " '1000000000000.00'",
        ),
        (
            "BPR*C*10.00*C*ACH~RMR*IV*I1*PO*10.00",
            "the 820 transaction set at segment 3 has no TRN02 trace number",
        ),
        ("TRN*1*P1", "the 820 transaction set at segment 3 has no BPR segment"),
    ],
)
def test_x12_invalid_content_rejected(body: str, reason: str) -> None:
    result = read_x12(_interchange(body))
    assert result.rejected
    assert result.issues[-1].reason == reason


def test_x12_missing_envelope_end() -> None:
    text = _interchange(BASIC_BODY).decode().replace("IEA*1*000000001~", "")
    result = read_x12(text.encode())
    assert result.rejected
    assert result.issues[-1].reason == "the file ends without its IEA segment"


def test_x12_adx_payment_level_then_line_level() -> None:
    body = (
        "BPR*C*90.00*C*ACH************20261201~TRN*1*P1~ENT*1~ADX*-5.00*CS~"
        "RMR*IV*I1*PO*100.00~ADX*-5.00*01~ENT*2~ADX*-5.00*ZZ"
    )
    result = read_x12(_interchange(body))
    assert not result.rejected
    assert [(a.amount, a.line_number, a.reason_code) for a in result.adjustments] == [
        (D("5.00"), None, "CS"),
        (D("5.00"), 1, "01"),
        (D("5.00"), None, "ZZ"),
    ]
    assert result.issues == []
