"""ANSI X12 reader: envelopes (ISA/GS/ST) and the 820 payment order/remittance advice.

Delimiters come from the ISA segment: the element separator is the character
right after ``ISA``, the sub-element separator is ISA16 and the segment
terminator is the character after ISA16. For a standard fixed-width ISA these
are bytes 3, 104 and 105. Whitespace between segments (line breaks,
indentation) and around elements is ignored.

Positions are ``segment N``, counting the non-empty segments of the file from
1 (the first ISA).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from shortpay.ingest.encoding import UndecodableFile, decode_text
from shortpay.ingest.records import (
    Adjustment,
    DebitMemo,
    ParseIssue,
    ParseResult,
    Payment,
    RemittanceLine,
    above_max_amount,
)
from shortpay.numbers import PLAIN_DECIMAL

logger = logging.getLogger(__name__)

TESTED_VERSIONS = ("004010", "005010")


class X12Error(Exception):
    """A fault that rejects the whole X12 file."""

    def __init__(self, position: str, reason: str) -> None:
        super().__init__(reason)
        self.position = position
        self.reason = reason


@dataclass
class Segment:
    """One X12 segment: its 1-based number in the file and its elements (ID first)."""

    number: int
    elements: list[str]

    @property
    def tag(self) -> str:
        return self.elements[0].upper()

    @property
    def position(self) -> str:
        return f"segment {self.number}"

    def get(self, index: int) -> str:
        """Return element ``index`` (1-based, as in BPR02), or '' when it is absent."""
        return self.elements[index] if index < len(self.elements) else ""


@dataclass
class TransactionSet:
    """The segments between ST and SE, inclusive, with the group's version."""

    set_id: str
    version: str
    segments: list[Segment] = field(default_factory=list)


def starts_with_isa(data: bytes) -> bool:
    """Return True when the bytes, after a BOM and whitespace, start with ISA."""
    head = data[:512].removeprefix(b"\xef\xbb\xbf").lstrip()
    return head.startswith(b"ISA")


def split_segments(text: str) -> list[Segment]:
    """Split X12 text into segments with the delimiters its ISA declares."""
    start = len(text) - len(text.lstrip())
    if not text.startswith("ISA", start):
        raise X12Error("segment 1", "the file does not start with an ISA segment")
    if len(text) < start + 106:
        raise X12Error("segment 1", "the ISA segment is shorter than 106 characters")
    element_separator = text[start + 3]
    index = start + 3
    for _ in range(15):
        index = text.find(element_separator, index + 1)
        if index < 0:
            raise X12Error("segment 1", "the ISA segment has fewer than 16 elements")
    if index + 2 >= len(text):
        raise X12Error("segment 1", "the file ends inside the ISA segment")
    # index is the separator before ISA16 (byte 103 of a fixed-width ISA).
    terminator = text[index + 2]
    if terminator == element_separator or terminator.isalnum():
        raise X12Error(
            "segment 1",
            f"the segment terminator '{terminator}' after ISA16 is not a valid delimiter",
        )
    segments = []
    for raw in text[start:].split(terminator):
        raw = raw.strip()
        if raw:
            elements = [element.strip() for element in raw.split(element_separator)]
            segments.append(Segment(len(segments) + 1, elements))
    return segments


def parse_amount(segment: Segment, index: int, *, money: bool = True) -> Decimal | None:
    """Return element ``index`` as a Decimal, None when empty; raise X12Error when invalid."""
    text = segment.get(index)
    if text == "":
        return None
    name = f"{segment.tag}{index:02d}"
    if not PLAIN_DECIMAL.fullmatch(text):
        raise X12Error(segment.position, f"{name} at {segment.position} is not a number: '{text}'")
    value = Decimal(text)
    if money and value != value.quantize(Decimal("0.01")):
        raise X12Error(
            segment.position,
            f"{name} at {segment.position} has more than 2 decimal places: '{text}'",
        )
    too_large = above_max_amount(value)
    if too_large:
        raise X12Error(segment.position, f"{name} at {segment.position} {too_large}: '{text}'")
    return value.quantize(Decimal("0.01")) if money else value


def parse_date(text: str, segment: Segment, issues: list[ParseIssue]) -> date | None:
    """Return a CCYYMMDD (or YYMMDD, read as 20YY) date; a warning issue when invalid."""
    if text == "":
        return None
    try:
        if len(text) == 8 and text.isdigit():
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        if len(text) == 6 and text.isdigit():
            value = date(2000 + int(text[:2]), int(text[2:4]), int(text[4:]))
            issues.append(
                ParseIssue(
                    segment.position,
                    f"{segment.tag} date '{text}' has 6 digits; read as {value.isoformat()}",
                    severity="warning",
                )
            )
            return value
    except ValueError:
        pass
    issues.append(
        ParseIssue(
            segment.position,
            f"{segment.tag} date '{text}' is not a valid CCYYMMDD date",
            severity="warning",
        )
    )
    return None


def read_envelopes(segments: list[Segment]) -> list[TransactionSet]:
    """Check ISA/GS/ST envelopes and their counts; return the transaction sets."""
    sets: list[TransactionSet] = []
    group_count = 0
    set_count = 0
    version = ""
    current: TransactionSet | None = None
    state = "outside"
    for segment in segments:
        tag = segment.tag
        if current is not None and tag not in ("SE", "ST", "GE", "IEA", "ISA", "GS"):
            current.segments.append(segment)
            continue
        if tag == "ISA":
            _expect(state, "outside", segment, "ISA inside an open interchange (IEA missing)")
            state, group_count = "interchange", 0
        elif tag == "GS":
            _expect(state, "interchange", segment, "GS outside an interchange or inside a group")
            state, set_count, version = "group", 0, segment.get(8)
            group_count += 1
        elif tag == "ST":
            _expect(state, "group", segment, "ST outside a functional group or before SE")
            current = TransactionSet(segment.get(1), version, [segment])
            state = "set"
            set_count += 1
        elif tag == "SE":
            _expect(state, "set", segment, "SE without ST")
            current.segments.append(segment)
            _check_count(segment, len(current.segments), "segments from ST to SE")
            sets.append(current)
            current, state = None, "group"
        elif tag == "GE":
            _expect(state, "group", segment, "GE outside a functional group")
            _check_count(segment, set_count, "transaction sets (ST) in the group")
            state = "interchange"
        elif tag == "IEA":
            _expect(state, "interchange", segment, "IEA outside an interchange")
            _check_count(segment, group_count, "functional groups (GS) in the interchange")
            state = "outside"
        else:
            raise X12Error(
                segment.position, f"segment {tag} at {segment.position} is outside ST/SE"
            )
    if state != "outside":
        last = segments[-1] if segments else Segment(0, [""])
        missing = {"set": "SE", "group": "GE", "interchange": "IEA"}[state]
        raise X12Error(last.position, f"the file ends without its {missing} segment")
    return sets


def _expect(state: str, expected: str, segment: Segment, reason: str) -> None:
    if state != expected:
        raise X12Error(segment.position, f"{reason} at {segment.position}")


def _check_count(segment: Segment, actual: int, description: str) -> None:
    text = segment.get(1)
    if not text.isdigit() or int(text) != actual:
        raise X12Error(
            segment.position,
            f"{segment.tag}01 at {segment.position} says {text or '(empty)'} but the file has "
            f"{actual} {description}",
        )


def read_x12(data: bytes) -> ParseResult:
    """Read an X12 file of 820 transaction sets into payments, lines and adjustments."""
    result = ParseResult(format="x12_820")
    try:
        text, _encoding = decode_text(data)
    except UndecodableFile as error:
        return result.reject("file", f"the file is not readable text: {error}")
    try:
        segments = split_segments(text)
        sets = read_envelopes(segments)
        unsupported = [item for item in sets if item.set_id not in READERS]
        if unsupported:
            first = unsupported[0]
            raise X12Error(
                first.segments[0].position,
                f"transaction set {first.set_id} (ST01 '{first.set_id}' at "
                f"{first.segments[0].position}) is not supported; the X12 reader takes 820 and 812",
            )
        for transaction in sets:
            if transaction.version and transaction.version[:6] not in TESTED_VERSIONS:
                result.issues.append(
                    ParseIssue(
                        transaction.segments[0].position,
                        f"X12 version {transaction.version} is read as 004010/005010",
                        severity="warning",
                    )
                )
            READERS[transaction.set_id](transaction, result)
    except X12Error as error:
        return result.reject(error.position, error.reason)
    set_ids = sorted({item.set_id for item in sets})
    result.format = f"x12_{set_ids[0]}" if len(set_ids) == 1 else "x12"
    result.control_totals = {
        "transaction_sets": str(len(sets)),
        "payment_amount": str(sum((p.payment_amount for p in result.payments), Decimal("0.00"))),
    }
    return result


@dataclass
class _PaymentState:
    """Parties, lines and adjustments read so far from one 820 transaction set."""

    bpr: Segment | None = None
    amount: Decimal | None = None
    trace_number: str | None = None
    currency: str = "USD"
    payer_name: str | None = None
    payer_id: str | None = None
    payee_name: str | None = None
    lines: list[RemittanceLine] = field(default_factory=list)
    adjustments: list[Adjustment] = field(default_factory=list)
    current_line: RemittanceLine | None = None
    current_adjustment: Adjustment | None = None
    context: str = "header"


def _scan_820(transaction: TransactionSet, issues: list[ParseIssue]) -> _PaymentState:
    """Read the segments of one 820 transaction set into a _PaymentState."""
    state = _PaymentState()
    for segment in transaction.segments[1:-1]:
        tag = segment.tag
        if tag == "BPR":
            state.bpr = segment
            state.amount = parse_amount(segment, 2)
        elif tag == "TRN":
            state.trace_number = segment.get(2) or None
        elif tag == "CUR":
            state.currency = segment.get(2).upper() or "USD"
        elif tag == "N1":
            _read_n1(segment, state)
        elif tag == "ENT":
            state.current_line, state.current_adjustment, state.context = None, None, "entity"
        elif tag == "RMR":
            _read_rmr(segment, state)
        elif tag == "ADX":
            _read_adx(segment, state)
        elif tag == "REF":
            _read_ref(segment, state)
        elif tag == "DTM":
            _read_dtm(segment, state, issues)
        elif tag == "NTE" and state.context == "line":
            note = segment.get(2)
            memo = state.current_line.memo
            state.current_line.memo = f"{memo}; {note}" if memo else note
        elif tag in ("IT1", "NM1"):
            # Item detail and entity names carry their own REF/DTM, not the line's.
            state.context = "other"
    return state


def _read_820(transaction: TransactionSet, result: ParseResult) -> None:
    """Read one 820 transaction set into one payment with its lines and adjustments."""
    state = _scan_820(transaction, result.issues)
    bpr, amount = state.bpr, state.amount
    start = transaction.segments[0].position
    if bpr is None:
        raise X12Error(start, f"the 820 transaction set at {start} has no BPR segment")
    if not state.trace_number:
        raise X12Error(start, f"the 820 transaction set at {start} has no TRN02 trace number")
    if amount is None:
        raise X12Error(bpr.position, f"BPR02 payment amount at {bpr.position} is empty")
    payment = Payment(
        payment_id=state.trace_number,
        payment_amount=amount,
        currency=state.currency,
        payment_date=parse_date(bpr.get(16), bpr, result.issues),
        position=bpr.position,
        payer_id=state.payer_id,
        payer_name=state.payer_name,
        payee_name=state.payee_name,
        payment_method=bpr.get(4) or None,
        trace_number=state.trace_number,
        bank_account=bpr.get(15) or None,
        payer_account=_payer_account(bpr),
    )
    if payment.payment_date is None:
        result.issues.append(
            ParseIssue(bpr.position, "BPR16 payment date is missing", severity="warning")
        )
    for line in state.lines:
        line.payment_id = payment.payment_id
    for adjustment in state.adjustments:
        adjustment.payment_id = payment.payment_id
    _check_balance(payment, state, result.issues)
    result.payments.append(payment)
    result.lines.extend(state.lines)
    result.adjustments.extend(state.adjustments)


def _payer_account(bpr: Segment) -> str | None:
    """Return the originating account of a BPR: BPR07 (bank id) and BPR09 (account)."""
    account = bpr.get(9)
    if not account:
        return None
    bank = bpr.get(7)
    return f"{bank}/{account}" if bank else account


def _read_n1(segment: Segment, state: _PaymentState) -> None:
    state.context = "party"
    state.current_line = None
    if segment.get(1) == "PR":
        state.payer_name = segment.get(2) or None
        state.payer_id = segment.get(4) or None
    elif segment.get(1) == "PE":
        state.payee_name = segment.get(2) or None


def _read_rmr(segment: Segment, state: _PaymentState) -> None:
    line = RemittanceLine(
        payment_id="",
        line_number=len(state.lines) + 1,
        position=segment.position,
        reference_qualifier=segment.get(1) or None,
        invoice_reference=segment.get(2) or None,
        paid_amount=parse_amount(segment, 4),
        invoice_amount=parse_amount(segment, 5),
        discount_amount=parse_amount(segment, 6),
        # RMR03 is the payment action code; PP is a partial payment.
        is_partial=segment.get(3) == "PP",
    )
    state.lines.append(line)
    state.current_line, state.current_adjustment, state.context = line, None, "line"


def _read_adx(segment: Segment, state: _PaymentState) -> None:
    amount = parse_amount(segment, 1)
    if amount is None:
        raise X12Error(segment.position, f"ADX01 amount at {segment.position} is empty")
    line = state.current_line
    adjustment = Adjustment(
        payment_id="",
        adjustment_number=len(state.adjustments) + 1,
        # ADX01 is negative for money withheld; Adjustment.amount is positive for it.
        amount=-amount,
        position=segment.position,
        line_number=line.line_number if line is not None else None,
        reason_code=segment.get(2) or None,
        reference_qualifier=segment.get(3) or None,
        reference=segment.get(4) or None,
    )
    state.adjustments.append(adjustment)
    state.current_adjustment, state.context = adjustment, "adjustment"


def _append_reference(existing: str | None, qualifier: str, value: str) -> str:
    item = f"{qualifier}:{value}"
    return f"{existing};{item}" if existing else item


def _read_ref(segment: Segment, state: _PaymentState) -> None:
    qualifier, value = segment.get(1).upper(), segment.get(2) or segment.get(3)
    if state.context == "line":
        line = state.current_line
        if qualifier == "PO" and line.po_number is None:
            line.po_number = value
        else:
            line.other_references = _append_reference(line.other_references, qualifier, value)
    elif state.context == "adjustment":
        adjustment = state.current_adjustment
        adjustment.other_references = _append_reference(
            adjustment.other_references, qualifier, value
        )


def _read_dtm(segment: Segment, state: _PaymentState, issues: list[ParseIssue]) -> None:
    if state.context != "line":
        return
    line = state.current_line
    value = parse_date(segment.get(2), segment, issues)
    if value is None:
        return
    # DTM01 003 is the invoice date; other qualifiers are kept as "qualifier:date".
    if segment.get(1) == "003" and line.invoice_date is None:
        line.invoice_date = value
    else:
        line.other_dates = _append_reference(line.other_dates, segment.get(1), value.isoformat())


def _check_balance(payment: Payment, state: _PaymentState, issues: list[ParseIssue]) -> None:
    """Warn when the lines and payment-level adjustments do not add up to BPR02."""
    if not state.lines:
        return
    paid = sum((line.paid_amount or Decimal("0") for line in state.lines), Decimal("0.00"))
    payment_level = sum(
        (item.amount for item in state.adjustments if item.line_number is None), Decimal("0.00")
    )
    expected = paid - payment_level
    if expected != payment.payment_amount:
        issues.append(
            ParseIssue(
                payment.position,
                f"payment {payment.payment_id}: BPR02 is {payment.payment_amount} but the RMR "
                f"paid amounts ({paid}) less the payment-level adjustments ({payment_level}) "
                f"come to {expected}",
                severity="warning",
            )
        )


def _read_812(transaction: TransactionSet, result: ParseResult) -> None:
    """Read one 812 credit/debit adjustment into one DebitMemo per CDD line.

    A CDD with flag D (debit) is a deduction the customer claims and has a
    positive amount; flag C (credit) gives a negative amount. The flag of the
    CDD wins over the flag of the BCD.
    """
    bcd: Segment | None = None
    currency, payer_name, payer_id = "USD", None, None
    header_references: dict[str, str] = {}
    memos: list[DebitMemo] = []
    current: DebitMemo | None = None
    for segment in transaction.segments[1:-1]:
        tag = segment.tag
        if tag == "BCD":
            bcd = segment
            parse_amount(segment, 4)
        elif tag == "CUR":
            currency = segment.get(2).upper() or "USD"
        elif tag == "N1" and segment.get(1) in ("BY", "PR") and payer_name is None:
            payer_name, payer_id = segment.get(2) or None, segment.get(4) or None
        elif tag == "CDD":
            current = _read_cdd(segment, bcd, len(memos) + 1)
            memos.append(current)
        elif tag == "REF":
            _read_812_ref(segment, current, header_references)
        elif tag == "NTE" and current is not None:
            note = segment.get(2)
            current.memo = f"{current.memo}; {note}" if current.memo else note
    start = transaction.segments[0].position
    if bcd is None:
        raise X12Error(start, f"the 812 transaction set at {start} has no BCD segment")
    memo_id = bcd.get(2)
    if not memo_id:
        raise X12Error(bcd.position, f"BCD02 memo number at {bcd.position} is empty")
    memo_date = parse_date(bcd.get(1), bcd, result.issues)
    for memo in memos:
        memo.memo_id = memo_id
        memo.memo_date = memo_date
        memo.currency = currency
        memo.payer_name, memo.payer_id = payer_name, payer_id
        memo.invoice_reference = memo.invoice_reference or bcd.get(7) or header_references.get("IV")
        memo.po_number = memo.po_number or bcd.get(10) or header_references.get("PO")
    if not memos:
        result.issues.append(
            ParseIssue(bcd.position, f"812 memo {memo_id} has no CDD lines", severity="warning")
        )
    _check_812_total(bcd, memos, result.issues)
    result.debit_memos.extend(memos)


def _read_cdd(segment: Segment, bcd: Segment | None, number: int) -> DebitMemo:
    amount = parse_amount(segment, 4)
    if amount is None:
        raise X12Error(segment.position, f"CDD04 amount at {segment.position} is empty")
    flag = segment.get(2) or (bcd.get(5) if bcd is not None else "")
    return DebitMemo(
        memo_id="",
        memo_line_number=number,
        amount=-amount if flag.upper() == "C" else amount,
        position=segment.position,
        reason_code=segment.get(1) or None,
        memo=segment.get(3) or None,
    )


def _read_812_ref(segment: Segment, current: DebitMemo | None, header: dict[str, str]) -> None:
    qualifier, value = segment.get(1).upper(), segment.get(2)
    if current is None:
        header.setdefault(qualifier, value)
    elif qualifier in ("IV", "IK") and current.invoice_reference is None:
        current.invoice_reference = value
    elif qualifier == "PO" and current.po_number is None:
        current.po_number = value


def _check_812_total(bcd: Segment, memos: list[DebitMemo], issues: list[ParseIssue]) -> None:
    """Warn when the CDD amounts do not add up to the BCD04 total."""
    total = parse_amount(bcd, 4)
    if total is None or not memos:
        return
    if bcd.get(5).upper() == "C":
        total = -total
    lines = sum((memo.amount for memo in memos), Decimal("0.00"))
    if lines != total:
        issues.append(
            ParseIssue(
                bcd.position,
                f"812 memo {bcd.get(2)}: BCD04 is {total} but the CDD amounts add up to {lines}",
                severity="warning",
            )
        )


READERS = {"820": _read_820, "812": _read_812}
