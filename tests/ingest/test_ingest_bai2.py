"""BAI2 reader: records, funds types, currencies, control totals and resent files."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from shortpay.ingest.bai2 import read_bai2

D = Decimal


def test_bai2_lockbox_payments(cases: Path) -> None:
    result = read_bai2((cases / "bai2/lockbox.bai2").read_bytes())
    assert not result.rejected
    assert [(p.payment_id, p.payment_amount, p.currency) for p in result.payments] == [
        ("LBX-0001", D("1000.00"), "USD"),
        ("WIRE-22", D("900.75"), "USD"),
        ("ACH-3", D("250.00"), "USD"),
        ("REV-1", D("30.00"), "USD"),
        ("JPWIRE-1", D("150000.00"), "JPY"),
    ]
    first = result.payments[0]
    assert first.trace_number == "CHK-7001"
    assert first.memo == "LOCKBOX DEPOSIT INV 000123 INV 0450"
    assert first.payment_date == date(2026, 11, 30)
    assert first.bank_account == "1234567890"
    assert first.payment_method == "115"
    assert first.position == "record 6"
    assert result.payments[1].value_date == date(2026, 11, 30)
    assert result.payments[3].is_reversal is True
    assert result.control_totals == {"file_control_total": "2939150", "groups": "1"}
    assert [(issue.position, issue.severity) for issue in result.issues] == [
        ("record 10", "warning"),
        ("record 12", "warning"),
    ]
    assert "zero amount" in result.issues[0].reason


def test_bai2_debit_never_payment(cases: Path) -> None:
    result = read_bai2((cases / "bai2/lockbox.bai2").read_bytes())
    assert "CHK-PAID" not in {payment.payment_id for payment in result.payments}


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (
            "49,1589150/",
            "49,1589151/",
            "49 account control total at record 13 is 1589151 but the account's amounts "
            "add up to 1589150",
        ),
        ("88,11/", "88,10/", "49 number of records at record 13 is 10 but the account has 11"),
        (
            "98,2939150,2,17/",
            "98,2939150,2,18/",
            "98 number of records at record 18 is 18 but the group has 17",
        ),
        (
            "99,2939150,1,19/",
            "99,2939150,2,19/",
            "99 number of groups at record 19 is 2 but the file has 1",
        ),
        ("16,142,25000,D,2,", "16,142,25000,Q,2,", "funds type 'Q' at record 9 is unknown"),
        (
            "16,195,90075,V,261130",
            "16,195,90075,V,261131",
            "16 value date at record 8 is not a valid YYMMDD date: '261131'",
        ),
        ("99,2939150,1,19/\n", "", "the file ends without its 99 file trailer"),
        (
            "16,195,90075,",
            "16,195,100000000000000,",
            "amount 100000000000000 in USD at record 8 is above 999999999999.99,"
            " the largest amount accepted",
        ),
    ],
)
def test_bai2_invalid_file_rejected(cases: Path, old: str, new: str, reason: str) -> None:
    text = (cases / "bai2/lockbox.bai2").read_text()
    assert old in text
    result = read_bai2(text.replace(old, new).encode())
    assert result.rejected
    assert result.payments == []
    assert result.issues[-1].reason == reason


def test_bai2_several_records_per_line() -> None:
    text = (
        "01,B,C,261201,0800,1,,,2/ 02,C,B,1,261130,,USD,2/\n"
        "03,1,USD,,,,/ 16,175,1234,,REF-1,,CHECKS/   49,1234,3/\n"
        "98,1234,1,5/\n99,1234,1,7/\n"
    )
    result = read_bai2(text.encode())
    assert not result.rejected, result.issues
    assert [(p.payment_id, p.payment_amount, p.memo) for p in result.payments] == [
        ("REF-1", D("12.34"), "CHECKS"),
    ]


def test_bai2_public_files_agree(public_data: Path) -> None:
    expected = {
        "citi_example.bai2": (1, D("0.01")),
        "nwb_example.bai2": (1, D("0.89")),
        "svb_us_example.bai2": (2, D("13959.96")),
        "account_trailer_amount_blank_example.bai2": (0, D("0")),
        "sample1.txt": (5, D("3200.00")),
        "sample2.txt": (4, D("309500.00")),
        "sample3.txt": (13, D("397.13")),
        "daily.bai2": (1, D("250.01")),
        "daily_with_summary.bai2": (1, D("250.01")),
        "eod.bai2": (1, D("83259.82")),
        "eod_with_slash_in_text.bai2": (1, D("83259.82")),
    }
    for path in sorted((public_data / "bai2").glob("*/*")):
        if path.name.startswith("LICENSE"):
            continue
        result = read_bai2(path.read_bytes())
        if path.name in expected:
            assert not result.rejected, (path.name, result.issues)
            count, total = expected[path.name]
            assert len(result.payments) == count, path.name
            assert sum(p.payment_amount for p in result.payments) == total, path.name
        else:
            assert result.rejected, path.name
            assert "control total" in result.issues[-1].reason, path.name


def test_bai2_eod_text_keeps_commas(public_data: Path) -> None:
    result = read_bai2((public_data / "bai2/venturehacks_bai2/eod.bai2").read_bytes())
    memo = result.payments[0].memo
    assert "ORG ADDRESS:=1995 SE. 57TH ST. NY, NY 10022" in memo
    assert memo.endswith("OBI:=INVOICE 123456")


def test_bai2_resent_lockbox_posts_once(cases: Path, load, query) -> None:
    summary = load(cases / "bai2/lockbox.bai2", cases / "bai2/lockbox_resent.bai2")
    assert summary.files_loaded == 2
    assert summary.payments == 5
    assert query("SELECT source_file, count(*) FROM raw.payments GROUP BY 1") == [
        ("lockbox.bai2", 5),
    ]
    duplicates = query(
        "SELECT source_file, source_position, severity FROM raw.ingest_issues "
        "WHERE reason LIKE 'probable duplicate%' ORDER BY source_position"
    )
    assert duplicates == [
        ("lockbox_resent.bai2", "record 12", "warning"),
        ("lockbox_resent.bai2", "record 16", "warning"),
        ("lockbox_resent.bai2", "record 6", "warning"),
        ("lockbox_resent.bai2", "record 8", "warning"),
        ("lockbox_resent.bai2", "record 9", "warning"),
    ]
    assert query("SELECT count(DISTINCT fingerprint) FROM raw.payments") == [(5,)]
