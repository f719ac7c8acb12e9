"""BAI2 bank files: deposits and lockbox detail as payments.

Record codes: 01 file header, 02 group header, 03 account identifier with
summaries, 16 transaction detail, 88 continuation, 49 account trailer,
98 group trailer, 99 file trailer. Only 16 records with a credit type code
(100-399) become payments; debits (400-699) and other codes never do.

Amounts carry no decimal point: the number of implied decimals is that of
the account's currency (2 for USD, 0 for JPY). Control totals and record
counts of 49, 98 and 99 are checked on the raw integers, and a mismatch
rejects the file. Positions are ``record N``, counting logical records
(88 continuations included) from 1.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from shortpay.ingest.encoding import UndecodableFile, decode_text
from shortpay.ingest.records import (
    THREE_DECIMAL_CURRENCIES,
    ZERO_DECIMAL_CURRENCIES,
    ParseIssue,
    ParseResult,
    Payment,
    above_max_amount,
)

logger = logging.getLogger(__name__)

RECORD_CODES = ("01", "02", "03", "16", "49", "88", "98", "99")
# A record starts with its two-digit code and a comma. Some banks put several
# records on one line, separated by "/" and spaces.
RECORD_START = re.compile(r"(?<=/)\s+(?=(?:01|02|03|16|49|88|98|99),)")
AMOUNT = re.compile(r"[+-]?\d+")


class Bai2Error(Exception):
    """A fault that rejects the whole BAI2 file."""

    def __init__(self, position: str, reason: str) -> None:
        super().__init__(reason)
        self.position = position
        self.reason = reason


@dataclass
class Record:
    """One logical BAI2 record: its code, its fields and the text of its 88 continuations."""

    number: int
    code: str
    body: str
    continuations: list[str] = field(default_factory=list)

    @property
    def fields(self) -> list[str]:
        return split_fields(self.body)

    @property
    def position(self) -> str:
        return f"record {self.number}"

    def all_fields(self) -> list[str]:
        """Return the record's fields followed by those of its continuations."""
        merged = list(self.fields)
        for body in self.continuations:
            merged.extend(split_fields(body))
        return merged


def looks_like_bai2(head: bytes) -> bool:
    """Return True when the bytes, after a BOM and whitespace, start with a 01 record."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return text.startswith(b"01,")


def split_fields(body: str) -> list[str]:
    """Split a record body (the text after the record code) into trimmed fields."""
    return [value.strip() for value in body.split(",")]


def _strip_terminator(body: str) -> str:
    body = body.rstrip()
    return body[:-1] if body.endswith("/") else body


def split_records(text: str) -> list[Record]:
    """Split BAI2 text into logical records, attaching 88 records to the record before them."""
    pieces: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [part for part in RECORD_START.split(line) if part.strip()]
        if not re.match(r"\s*\d\d,", parts[0]) and pieces:
            # A line that does not start with a record code continues the previous line.
            pieces[-1] = f"{pieces[-1]} {parts[0].strip()}"
            parts = parts[1:]
        pieces.extend(part.strip() for part in parts)
    records: list[Record] = []
    owner: Record | None = None
    for number, piece in enumerate(pieces, start=1):
        code, _, body = piece.partition(",")
        if code not in RECORD_CODES:
            raise Bai2Error(f"record {number}", f"record {number} has unknown record code '{code}'")
        record = Record(number, code, _strip_terminator(body))
        if code == "88":
            if owner is None:
                raise Bai2Error(record.position, "the file starts with an 88 continuation")
            owner.continuations.append(record.body)
        else:
            owner = record
        records.append(record)
    return records


def parse_raw_amount(text: str, record: Record, name: str) -> int:
    """Return an amount field as an integer of minor units; empty is 0."""
    if text == "":
        return 0
    if not AMOUNT.fullmatch(text):
        raise Bai2Error(
            record.position, f"{name} at {record.position} is not a whole number: '{text}'"
        )
    return int(text)


def to_money(raw: int, currency: str, record: Record) -> Decimal:
    """Scale minor units by the currency's decimals into a 2-place Decimal."""
    if currency in ZERO_DECIMAL_CURRENCIES:
        places = 0
    elif currency in THREE_DECIMAL_CURRENCIES:
        places = 3
    else:
        places = 2
    value = Decimal(raw).scaleb(-places)
    if value != value.quantize(Decimal("0.01")):
        raise Bai2Error(
            record.position,
            f"amount {raw} in {currency} at {record.position} has 3 decimal places, "
            "which the raw tables do not keep",
        )
    too_large = above_max_amount(value)
    if too_large:
        raise Bai2Error(
            record.position, f"amount {raw} in {currency} at {record.position} {too_large}"
        )
    return value.quantize(Decimal("0.01"))


def parse_yymmdd(text: str, record: Record, name: str) -> date | None:
    """Return a YYMMDD date (read as 20YY), None when empty; raise Bai2Error when invalid."""
    if text == "":
        return None
    try:
        if len(text) != 6 or not text.isdigit():
            raise ValueError
        return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:]))
    except ValueError:
        raise Bai2Error(
            record.position, f"{name} at {record.position} is not a valid YYMMDD date: '{text}'"
        ) from None


class _Incomplete(Exception):
    """The availability fields continue in the next physical record."""


def _take_availability(
    funds_type: str, rest: list[str], record: Record, *, strict: bool = False
) -> list[str]:
    """Skip the availability fields of a funds type and return the fields after them.

    With ``strict``, raise _Incomplete when the fields run out before the end.
    """
    funds_type = funds_type.upper()
    needed = {"S": 3, "V": 2}.get(funds_type, 0)
    if funds_type == "D" and rest and rest[0].isdigit():
        needed = 1 + 2 * int(rest[0])
    if strict and (len(rest) < needed or (funds_type == "D" and not rest)):
        raise _Incomplete
    if funds_type == "S":
        for index in range(3):
            parse_raw_amount(_get(rest, index), record, "availability amount")
        return rest[3:]
    if funds_type == "V":
        return rest[2:]
    if funds_type == "D":
        count_text = _get(rest, 0)
        if not count_text.isdigit():
            raise Bai2Error(
                record.position,
                f"distribution count at {record.position} is not a number: '{count_text}'",
            )
        count = int(count_text)
        for index in range(count):
            parse_raw_amount(_get(rest, 2 + 2 * index), record, "distributed amount")
        return rest[1 + 2 * count :]
    if funds_type in ("", "Z", "0", "1", "2"):
        return rest
    raise Bai2Error(record.position, f"funds type '{funds_type}' at {record.position} is unknown")


def _get(values: list[str], index: int) -> str:
    return values[index] if index < len(values) else ""


def _summary_total(record: Record) -> int:
    """Return the sum of the summary amounts of an 03 record and its continuations.

    Each physical record is read on its own. Empty fields left at its end are
    dropped, because some banks write ",,,/" and others ",,/" after the last
    summary, while an incomplete summary continues in the next 88 record.
    """
    total = 0
    pending: list[str] = []
    for body in [record.body, *record.continuations]:
        pending += split_fields(body)[2:] if body is record.body else split_fields(body)
        while len(pending) >= 4:
            type_code, amount, _item_count, funds_type = pending[:4]
            try:
                rest = _take_availability(funds_type, pending[4:], record, strict=True)
            except _Incomplete:
                break
            if type_code or amount:
                total += parse_raw_amount(amount, record, f"summary amount of type {type_code}")
            pending = rest
        if not any(pending):
            pending = []
    if any(pending):
        raise Bai2Error(
            record.position,
            f"03 summary at {record.position} is incomplete: '{','.join(pending)}'",
        )
    return total


@dataclass
class _Account:
    """An open 03..49 account section."""

    start: Record
    number: str
    currency: str
    total: int
    records: int = 1


@dataclass
class _Group:
    """An open 02..98 group section."""

    start: Record
    as_of: date | None
    currency: str
    total: int = 0
    accounts: int = 0
    records: int = 1


def read_bai2(data: bytes) -> ParseResult:
    """Read a BAI2 file into payments, one per credit transaction detail (16) record."""
    result = ParseResult(format="bai2")
    try:
        text, _encoding = decode_text(data)
    except UndecodableFile as error:
        return result.reject("file", f"the file is not readable text: {error}")
    try:
        records = split_records(text)
        _read_records(records, result)
    except Bai2Error as error:
        return result.reject(error.position, error.reason)
    return result


def _read_records(records: list[Record], result: ParseResult) -> None:
    if not records or records[0].code != "01":
        raise Bai2Error("record 1", "the file does not start with a 01 file header")
    header = records[0]
    if _get(header.fields, 7) not in ("2", ""):
        result.issues.append(
            ParseIssue(
                header.position,
                f"01 version number is '{_get(header.fields, 7)}', read as BAI2 (version 2)",
                severity="warning",
            )
        )
    file_total, group_count, file_records = 0, 0, 1 + len(header.continuations)
    group: _Group | None = None
    account: _Account | None = None
    closed = False
    for record in records[1:]:
        code = record.code
        if code == "88":
            # Counted with the record it continues.
            continue
        if closed:
            raise Bai2Error(record.position, f"record {record.number} follows the 99 file trailer")
        size = 1 + len(record.continuations)
        file_records += size
        if group is not None:
            group.records += size
        if account is not None:
            account.records += size
        if code == "02":
            _expect(group is None, record, "02 group header inside an open group (98 missing)")
            fields = record.all_fields()
            group = _Group(
                start=record,
                as_of=parse_yymmdd(_get(fields, 3), record, "02 as-of date"),
                currency=_get(fields, 5).upper() or "USD",
                records=size,
            )
            group_count += 1
        elif code == "03":
            _expect(group is not None and account is None, record, "03 outside a group or account")
            account = _Account(
                start=record,
                number=_get(record.fields, 0),
                currency=_get(record.fields, 1).upper() or group.currency,
                total=_summary_total(record),
                records=size,
            )
        elif code == "16":
            _expect(account is not None, record, "16 transaction detail outside an account")
            account.total += _read_detail(record, account, group, result)
        elif code == "49":
            _expect(account is not None, record, "49 account trailer without an 03")
            _check(
                record, 0, account.total, "account control total", "the account's amounts add up to"
            )
            _check(record, 1, account.records, "number of records", "the account has")
            group.total += account.total
            group.accounts += 1
            account = None
        elif code == "98":
            _expect(
                group is not None and account is None,
                record,
                "98 group trailer without an open group",
            )
            _check(record, 0, group.total, "group control total", "the group's accounts add up to")
            _check(record, 1, group.accounts, "number of accounts", "the group has")
            _check(record, 2, group.records, "number of records", "the group has")
            file_total += group.total
            group = None
        elif code == "99":
            _expect(group is None, record, "99 file trailer inside an open group")
            _check(record, 0, file_total, "file control total", "the groups add up to")
            _check(record, 1, group_count, "number of groups", "the file has")
            _check(record, 2, file_records, "number of records", "the file has")
            closed = True
        else:
            raise Bai2Error(record.position, f"unexpected {code} record at {record.position}")
    if not closed:
        raise Bai2Error(records[-1].position, "the file ends without its 99 file trailer")
    result.control_totals = {"file_control_total": str(file_total), "groups": str(group_count)}


def _expect(condition: bool, record: Record, reason: str) -> None:
    if not condition:
        raise Bai2Error(record.position, f"{reason} at {record.position}")


def _check(record: Record, index: int, actual: int, name: str, description: str) -> None:
    text = _get(record.all_fields(), index)
    expected = parse_raw_amount(text, record, f"{record.code} {name}")
    if expected != actual:
        raise Bai2Error(
            record.position,
            f"{record.code} {name} at {record.position} is {expected} but {description} {actual}",
        )


def _read_detail(record: Record, account: _Account, group: _Group, result: ParseResult) -> int:
    """Read one 16 record; add a payment for a credit and return its raw amount."""
    fields = record.fields
    type_code = _get(fields, 0)
    if not (type_code.isdigit() and len(type_code) == 3):
        raise Bai2Error(
            record.position, f"16 type code at {record.position} is invalid: '{type_code}'"
        )
    raw_amount = parse_raw_amount(_get(fields, 1), record, "16 amount")
    funds_type = _get(fields, 2).upper()
    value_date = None
    if funds_type == "V":
        value_date = parse_yymmdd(_get(fields, 3), record, "16 value date")
    rest = _take_availability(funds_type, fields[3:], record)
    bank_reference, customer_reference = _get(rest, 0), _get(rest, 1)

    # The free text is everything after the customer reference, commas included,
    # and the 88 records of a 16 continue it.
    text_start = len(fields) - len(rest) + 2
    raw_fields = record.body.split(",", text_start)
    text_parts = [raw_fields[text_start]] if len(raw_fields) > text_start else []
    text_parts += record.continuations
    memo = " ".join(part.strip(" ,") for part in text_parts if part.strip(" ,")) or None

    if 100 <= int(type_code) <= 399:
        references = (bank_reference, customer_reference)
        _add_payment(
            record, account, group, result, type_code, raw_amount, value_date, references, memo
        )
    return raw_amount


def _add_payment(
    record: Record,
    account: _Account,
    group: _Group,
    result: ParseResult,
    type_code: str,
    raw_amount: int,
    value_date: date | None,
    references: tuple[str, str],
    memo: str | None,
) -> None:
    bank_reference, customer_reference = references
    if raw_amount == 0:
        result.issues.append(
            ParseIssue(
                record.position,
                f"credit of type {type_code} has a zero amount and is not loaded as a payment",
                severity="warning",
            )
        )
        return
    amount = to_money(abs(raw_amount), account.currency, record)
    is_reversal = raw_amount < 0
    if is_reversal:
        result.issues.append(
            ParseIssue(
                record.position,
                f"credit of type {type_code} has a negative amount; it is loaded as a reversal",
                severity="warning",
            )
        )
    as_of = group.as_of.strftime("%Y%m%d") if group.as_of else "nodate"
    payment_id = bank_reference or customer_reference or f"{account.number}-{as_of}-{record.number}"
    result.payments.append(
        Payment(
            payment_id=payment_id,
            payment_amount=amount,
            currency=account.currency,
            payment_date=group.as_of,
            position=record.position,
            payment_method=type_code,
            trace_number=customer_reference or bank_reference or None,
            bank_account=account.number or None,
            is_reversal=is_reversal,
            value_date=value_date,
            memo=memo,
        )
    )
