"""Records that every remittance reader returns, whatever the file format.

A reader turns one file's bytes into a ParseResult. The loader writes the
records to the raw tables of the work database in one transaction, with the
file's name, content hash and each record's position, so the readers never
touch the database.

Sign convention: ``Adjustment.amount`` is positive when the customer withheld
money (a deduction) and negative when the customer paid more than it owed.
X12 ADX01 uses the opposite sign, so the X12 reader negates it.

Money is ``Decimal`` with two places at most; a reader never builds a float.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

# The largest amount, price or quantity a record may have, either way. The
# sums in the reports are decimal(18, 2) too, which has room for 10,000
# amounts of this size.
MAX_AMOUNT = Decimal("999999999999.99")

# ISO 4217 minor units for the currencies that do not have 2.
ZERO_DECIMAL_CURRENCIES = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()
)
THREE_DECIMAL_CURRENCIES = frozenset("BHD IQD JOD KWD LYD OMR TND".split())


def above_max_amount(value: Decimal) -> str | None:
    """Return why an amount is too large to load, or None when it is not."""
    if abs(value) > MAX_AMOUNT:
        return f"is above {MAX_AMOUNT}, the largest amount accepted"
    return None


@dataclass(slots=True)
class Payment:
    """One customer payment: an X12 820 BPR/TRN, a camt entry or transaction, a lockbox item."""

    payment_id: str
    payment_amount: Decimal
    currency: str
    payment_date: date | None
    position: str
    customer_id: str | None = None
    payer_id: str | None = None
    payer_name: str | None = None
    payee_name: str | None = None
    payment_method: str | None = None
    trace_number: str | None = None
    bank_account: str | None = None
    # The account the money came from, when the file names it.
    payer_account: str | None = None
    is_reversal: bool = False
    value_date: date | None = None
    memo: str | None = None


@dataclass(slots=True)
class RemittanceLine:
    """One invoice (or credit memo) reference within a payment's remittance."""

    payment_id: str
    line_number: int
    position: str
    invoice_reference: str | None = None
    reference_qualifier: str | None = None
    paid_amount: Decimal | None = None
    invoice_amount: Decimal | None = None
    discount_amount: Decimal | None = None
    po_number: str | None = None
    other_references: str | None = None
    invoice_line_number: int | None = None
    is_partial: bool = False
    memo: str | None = None
    invoice_date: date | None = None
    other_dates: str | None = None


@dataclass(slots=True)
class Adjustment:
    """An amount the customer withheld or added, with its reason code.

    ``line_number`` names the RemittanceLine it belongs to; None means the
    adjustment is at payment level and belongs to no invoice.
    """

    payment_id: str
    adjustment_number: int
    amount: Decimal
    position: str
    line_number: int | None = None
    reason_code: str | None = None
    reference: str | None = None
    memo: str | None = None
    invoice_line_number: int | None = None
    reference_qualifier: str | None = None
    other_references: str | None = None


@dataclass(slots=True)
class DebitMemo:
    """One line of a customer's debit or credit memo (X12 812 CDD), claiming a deduction."""

    memo_id: str
    memo_line_number: int
    amount: Decimal
    position: str
    memo_date: date | None = None
    customer_id: str | None = None
    payer_id: str | None = None
    payer_name: str | None = None
    invoice_reference: str | None = None
    po_number: str | None = None
    reason_code: str | None = None
    memo: str | None = None
    currency: str | None = None


@dataclass(slots=True)
class ParseIssue:
    """A problem found while reading: one bad record, or the reason a file is rejected."""

    position: str
    reason: str
    severity: str = "error"


@dataclass
class ParseResult:
    """Everything read from one file.

    When ``rejected`` is set, the whole file is quarantined, none of its
    records are loaded, and ``issues`` contains the reason. Otherwise the
    records are loaded and each issue becomes an exceptions row.
    """

    format: str
    payments: list[Payment] = field(default_factory=list)
    lines: list[RemittanceLine] = field(default_factory=list)
    adjustments: list[Adjustment] = field(default_factory=list)
    debit_memos: list[DebitMemo] = field(default_factory=list)
    issues: list[ParseIssue] = field(default_factory=list)
    rejected: bool = False
    control_totals: dict[str, str] = field(default_factory=dict)

    def reject(self, position: str, reason: str) -> ParseResult:
        """Mark the whole file as rejected and drop any records read so far."""
        self.rejected = True
        self.payments.clear()
        self.lines.clear()
        self.adjustments.clear()
        self.debit_memos.clear()
        self.issues.append(ParseIssue(position=position, reason=reason))
        return self
