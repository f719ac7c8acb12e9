"""The MIME bytes of an outbox message, read back with the standard library's parser."""

from __future__ import annotations

import datetime as dt
import email
from decimal import Decimal
from email import policy
from email.header import decode_header, make_header
from email.utils import parseaddr

import pytest

from shortpay.followups.outbox import OutboxMessage
from shortpay.followups.transports import email_bytes, email_message_id


def message(**changes: object) -> OutboxMessage:
    values = {
        "message_id": "DED-1:first_notice",
        "deduction_id": "DED-1",
        "step": "first_notice",
        "step_number": 1,
        "customer_id": "C1",
        "language": "en",
        "sender_email": "deductions@shortpay.example",
        "sender_name": "Shortpay Accounts Receivable",
        "reply_to_email": "ar@shortpay.example",
        "to_email": "ap@c1.example",
        "to_name": "Pat Payables",
        "cc_email": None,
        "subject": "Deduction DED-1 of USD 100.00: please repay",
        "body_text": "Dear Pat,\n\nPlease repay USD 100.00.\n",
        "body_html": "<p>Dear Pat,</p>\n<p>Please repay USD 100.00.</p>",
        "letter_html": "<html></html>",
        "amount_claimed": Decimal("100.00"),
        "currency": "USD",
        "cadence_rule_id": "default",
        "contact_rule_id": "default",
        "as_of_date": dt.date(2026, 11, 30),
        "queued_at": dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.UTC),
    }
    values.update(changes)
    return OutboxMessage(**values)


def parse(data: bytes) -> email.message.EmailMessage:
    parsed = email.message_from_bytes(data, policy=policy.default)
    assert parsed.defects == []
    assert all(part.defects == [] for part in parsed.walk())
    return parsed


def test_ascii_message_reads_back_as_written():
    data = email_bytes(message())
    parsed = parse(data)

    assert parsed["Subject"] == "Deduction DED-1 of USD 100.00: please repay"
    assert parsed["From"] == "Shortpay Accounts Receivable <deductions@shortpay.example>"
    assert parsed["To"] == "Pat Payables <ap@c1.example>"
    assert parsed["Reply-To"] == "ar@shortpay.example"
    assert parsed["Cc"] is None
    assert parsed["Date"] == "Mon, 30 Nov 2026 06:00:00 +0000"
    assert parsed["Message-ID"] == email_message_id(message())
    assert parsed["X-Shortpay-Message-Id"] == "DED-1:first_notice"
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed.get_body(("plain",)).get_content() == "Dear Pat,\n\nPlease repay USD 100.00.\n"
    assert parsed.get_body(("html",)).get_content() == (
        "<p>Dear Pat,</p>\n<p>Please repay USD 100.00.</p>\n"
    )
    # Short ASCII lines stay readable in the file.
    assert b"Content-Transfer-Encoding: 7bit" in data
    assert b"\nPlease repay USD 100.00.\n" in data


def test_same_row_gives_same_bytes():
    assert email_bytes(message()) == email_bytes(message())


def test_non_ascii_long_lines_and_quotes():
    long_line = "x" * 1200
    subject = "Déduction — " + "une ligne très longue " * 8
    body_text = f"Montant : 100,00 €\r\n{long_line}\nespace en fin \n--=_ au début"
    data = email_bytes(message(
        subject=subject,
        to_name='Zoë "Q" Ünal, Jr.',
        sender_name="Shortpay, AR",
        cc_email="cc@c1.example",
        body_text=body_text,
        body_html="<p>" + "é" * 300 + "</p>",
    ))
    parsed = parse(data)

    assert data.isascii()
    assert max(len(line) for line in data.split(b"\n")) <= 78
    assert parsed["Subject"] == subject
    assert parsed["To"].addresses[0].display_name == 'Zoë "Q" Ünal, Jr.'
    assert parsed["From"].addresses[0].display_name == "Shortpay, AR"
    assert parsed["Cc"] == "cc@c1.example"
    assert parsed.get_body(("plain",)).get_content() == (
        f"Montant : 100,00 €\n{long_line}\nespace en fin \n--=_ au début\n"
    )
    assert parsed.get_body(("html",)).get_content() == "<p>" + "é" * 300 + "</p>\n"


def test_body_keeps_form_feed_and_unicode_separators():
    body_text = "one\u2028two\x0cthree\x85four\rfive\r\nsix"
    parsed = parse(email_bytes(message(body_text=body_text)))

    assert parsed.get_body(("plain",)).get_content() == (
        "one\u2028two\x0cthree\x85four\nfive\nsix\n"
    )


def test_long_names_fold_and_encoded_words_stay_literal():
    long_ascii = "Payables " * 40
    long_accented = "Zoë Ünal " * 60
    lookalike = "=?utf-8?q?Bcc=3A_evil=40evil.example?="
    data = email_bytes(message(
        to_name=long_accented.strip(),
        sender_name=long_ascii.strip(),
        subject=f"Deduction from {lookalike} " + "x" * 300,
    ))
    parsed = parse(data)

    assert max(len(line) for line in data.split(b"\n")) <= 78
    # The default policy's address parser keeps the space that folds two
    # encoded words of one name apart, which RFC 2047 says a reader drops, so
    # names are read back with the library's RFC 2047 decoder.
    raw = email.message_from_bytes(data, policy=policy.compat32)
    assert rfc2047_name(raw["To"]) == (long_accented.strip(), "ap@c1.example")
    assert rfc2047_name(raw["From"]) == (long_ascii.strip(), "deductions@shortpay.example")
    assert parsed["Subject"] == f"Deduction from {lookalike} " + "x" * 300


def rfc2047_name(header: str) -> tuple[str, str]:
    name, address = parseaddr(header)
    return str(make_header(decode_header(name))), address


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"subject": "Deduction\nBcc: victim@example.com"}, "invalid Subject header"),
        ({"subject": "Deduction\x0cof 100.00"}, "invalid Subject header"),
        ({"to_name": "Pat\r\nBcc: x@example.com"}, "invalid To header"),
        ({"to_email": "zoë@example.com"}, "ascii"),
    ],
)
def test_invalid_header_raises_value_error(changes, reason):
    with pytest.raises(ValueError, match=reason):
        email_bytes(message(**changes))
