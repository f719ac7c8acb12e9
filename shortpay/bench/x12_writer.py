"""Write generated payments as ANSI X12 820 (version 005010) files.

One file is one interchange (ISA/IEA) with one functional group (GS/GE)
and one transaction set (ST/SE) per payment. Segments end with ``~`` and a
newline, elements are separated by ``*``, sub-elements by ``:`` and
repetitions by ``^``. Text values have those characters replaced by spaces.
Withheld money is a negative ADX01, as X12 writes it; an early-payment
discount goes into RMR06 instead of an ADX segment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

ELEMENT = "*"
SUB_ELEMENT = ":"
REPETITION = "^"
TERMINATOR = "~"
RECEIVER_ID = "SHORTPAY"
PAYEE_NAME = "Shortpay Foods Inc"


@dataclass(slots=True)
class RemittanceItem:
    """One RMR loop: an invoice reference with what was paid against it."""

    invoice_reference: str
    paid_amount: Decimal
    invoice_amount: Decimal
    invoice_date: date | None = None
    discount_amount: Decimal | None = None
    adjustment_amount: Decimal | None = None
    adjustment_reason_code: str | None = None
    adjustment_memo: str | None = None


@dataclass(slots=True)
class EdiPayment:
    """One 820 transaction set: a payment and its remittance items."""

    payment_id: str
    customer_id: str
    payer_name: str
    payment_date: date
    payment_amount: Decimal
    items: list[RemittanceItem] = field(default_factory=list)


def clean_text(value: str | None) -> str:
    """Replace the X12 delimiter characters in a text value with spaces; None becomes empty."""
    if value is None:
        return ""
    for delimiter in (ELEMENT, SUB_ELEMENT, REPETITION, TERMINATOR, "\n", "\r"):
        value = value.replace(delimiter, " ")
    return value.strip()


def money(value: Decimal) -> str:
    """Format an amount with two decimals, as the generated CSV files do."""
    return f"{value.quantize(Decimal('0.01'))}"


def segment(*elements: str) -> str:
    """Join elements into one segment, dropping trailing empty elements."""
    parts = list(elements)
    while parts and parts[-1] == "":
        parts.pop()
    return ELEMENT.join(parts) + TERMINATOR


def transaction_set(payment: EdiPayment, control_number: int) -> list[str]:
    """Build the ST..SE segments of one payment."""
    control = f"{control_number:04d}"
    body = [
        segment("ST", "820", control, "005010X218"),
        segment(
            "BPR", "I", money(payment.payment_amount), "C", "ACH", "CTX", "01", "011000015",
            "DA", "1234567890", "9000000001", "", "01", "021000021", "DA", "7654321098",
            payment.payment_date.strftime("%Y%m%d"),
        ),
        segment("TRN", "1", payment.payment_id, "9000000001"),
        segment("CUR", "PR", "USD"),
        segment("N1", "PR", clean_text(payment.payer_name), "91", payment.customer_id),
        segment("N1", "PE", PAYEE_NAME),
        segment("ENT", "1"),
    ]
    for item in payment.items:
        discount = money(item.discount_amount) if item.discount_amount else ""
        body.append(
            segment(
                "RMR", "IV", clean_text(item.invoice_reference), "PI",
                money(item.paid_amount), money(item.invoice_amount), discount,
            )
        )
        if item.invoice_date is not None:
            body.append(segment("DTM", "003", item.invoice_date.strftime("%Y%m%d")))
        if item.adjustment_amount:
            memo = clean_text(item.adjustment_memo or "")
            body.append(
                segment(
                    "ADX", money(-item.adjustment_amount), item.adjustment_reason_code or "",
                    "ZZ" if memo else "", memo,
                )
            )
    body.append(segment("SE", str(len(body) + 1), control))
    return body


def interchange(payments: list[EdiPayment], control_number: int) -> str:
    """Build one ISA..IEA interchange holding every payment as its own transaction set."""
    first = payments[0]
    stamp = max(p.payment_date for p in payments)
    isa = (
        ELEMENT.join(
            [
                "ISA", "00", " " * 10, "00", " " * 10, "ZZ", f"{first.customer_id:<15}",
                "ZZ", f"{RECEIVER_ID:<15}", stamp.strftime("%y%m%d"), "0800", REPETITION,
                "00501", f"{control_number:09d}", "0", "P", SUB_ELEMENT,
            ]
        )
        + TERMINATOR
    )
    segments = [
        isa,
        segment(
            "GS", "RA", first.customer_id, RECEIVER_ID, stamp.strftime("%Y%m%d"), "0800",
            str(control_number), "X", "005010X218",
        ),
    ]
    for number, payment in enumerate(payments, start=1):
        segments.extend(transaction_set(payment, number))
    segments.append(segment("GE", str(len(payments)), str(control_number)))
    segments.append(segment("IEA", "1", f"{control_number:09d}"))
    return "\n".join(segments) + "\n"
