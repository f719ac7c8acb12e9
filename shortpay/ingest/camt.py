"""ISO 20022 camt.053 (statement) and camt.054 (notification) credits as payments.

The namespace names the message and version, for example
``urn:iso:std:iso:20022:tech:xsd:camt.054.001.08``. Versions 02, 04 and 08 are
tested; others are read the same way with a warning. Only credit entries
(CdtDbtInd CRDT) are read. An entry with transaction details (TxDtls) becomes
one payment per transaction, an entry without them one payment. The XML
parser neither expands entities nor loads DTDs or anything from the network.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from lxml import etree

from shortpay.ingest.records import (
    ZERO_DECIMAL_CURRENCIES,
    Adjustment,
    ParseIssue,
    ParseResult,
    Payment,
    RemittanceLine,
    above_max_amount,
)
from shortpay.numbers import PLAIN_DECIMAL

logger = logging.getLogger(__name__)

NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.(053|054)\.001\.(\d\d)")
TESTED_VERSIONS = ("02", "04", "08")
NOT_PROVIDED = "NOTPROVIDED"
CENT = Decimal("0.01")
# Texts that Python's Decimal reads as infinity or not-a-number.
NON_FINITE = ("nan", "snan", "inf", "infinity")


class CamtError(Exception):
    """A fault that rejects the whole camt file."""

    def __init__(self, position: str, reason: str) -> None:
        super().__init__(reason)
        self.position = position
        self.reason = reason


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _text(element: etree._Element | None, path: str) -> str | None:
    if element is None:
        return None
    found = element.find(path)
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return value or None


def _date(element: etree._Element | None, path: str) -> date | None:
    """Return the calendar date of a Dt or DtTm child, as written (the UTC offset is ignored)."""
    if element is None:
        return None
    holder = element.find(path)
    if holder is None:
        return None
    text = _text(holder, "{*}Dt") or _text(holder, "{*}DtTm")
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _amount(element: etree._Element | None, position: str) -> tuple[Decimal, str | None] | None:
    """Return an amount element's value and Ccy attribute; raise CamtError when invalid."""
    if element is None:
        return None
    if element.find("{*}Amt") is not None:
        element = element.find("{*}Amt")
    text = (element.text or "").strip()
    # An XML Schema decimal has no exponent, so 1E3 is not an amount.
    if not PLAIN_DECIMAL.fullmatch(text):
        finite = text.lower().lstrip("+-") not in NON_FINITE
        reason = "is not a number" if finite else "is not a finite number"
        raise CamtError(position, f"amount at {position} {reason}: '{text}'")
    value = Decimal(text)
    currency = element.get("Ccy")
    if currency and currency.strip().upper() in ZERO_DECIMAL_CURRENCIES and value != int(value):
        raise CamtError(
            position, f"amount at {position} has decimals, which {currency} does not have: '{text}'"
        )
    if value != value.quantize(CENT):
        raise CamtError(position, f"amount at {position} has more than 2 decimal places: '{text}'")
    too_large = above_max_amount(value)
    if too_large:
        raise CamtError(position, f"amount at {position} {too_large}: '{text}'")
    return value.quantize(CENT), currency


@dataclass
class _Entry:
    """One credit entry (Ntry) and the account of its statement or notification."""

    element: etree._Element
    position: str
    account: str | None
    report_id: str | None
    amount: Decimal
    currency: str
    booking_date: date | None
    value_date: date | None
    is_reversal: bool
    reference: str | None
    method: str | None


def read_camt(data: bytes) -> ParseResult:
    """Read a camt.053 or camt.054 file into payments, remittance lines and adjustments."""
    result = ParseResult(format="camt")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as error:
        return result.reject("file", f"the file is not well-formed XML: {error}")
    match = NAMESPACE.fullmatch(etree.QName(root).namespace or "")
    if match is None:
        return result.reject(
            "file",
            f"the XML namespace '{etree.QName(root).namespace}' is not camt.053 or camt.054",
        )
    message, version = match.groups()
    result.format = f"camt{message}"
    if version not in TESTED_VERSIONS:
        result.issues.append(
            ParseIssue(
                "file",
                f"camt.{message} version {version} is read as version 08",
                severity="warning",
            )
        )
    container = (
        "{*}BkToCstmrStmt/{*}Stmt" if message == "053" else "{*}BkToCstmrDbtCdtNtfctn/{*}Ntfctn"
    )
    reports = root.findall(container)
    try:
        entry_count = _read_reports(reports, message, result)
    except CamtError as error:
        return result.reject(error.position, error.reason)
    if entry_count == 0:
        label = "statement" if message == "053" else "notification"
        result.issues.append(
            ParseIssue(
                "file", f"the camt.{message} {label} has no entries (Ntry)", severity="warning"
            )
        )
    return result


def _entry_currency(currency: str | None, account_currency: str | None, position: str) -> str:
    """Return an entry's currency: its Ccy, else its account's; raise CamtError without either."""
    currency = (currency or "").strip() or (account_currency or "").strip()
    if not currency:
        raise CamtError(
            position, f"{position}/Amt has no currency (Ccy), and its account names none"
        )
    return currency


def _read_reports(reports: list[etree._Element], message: str, result: ParseResult) -> int:
    entry_count = 0
    tag = "Stmt" if message == "053" else "Ntfctn"
    for report_index, report in enumerate(reports, start=1):
        prefix = f"{tag}[{report_index}]/" if len(reports) > 1 else ""
        account = _text(report, "{*}Acct/{*}Id/{*}IBAN") or _text(
            report, "{*}Acct/{*}Id/{*}Othr/{*}Id"
        )
        account_currency = _text(report, "{*}Acct/{*}Ccy")
        report_id = _text(report, "{*}Id")
        credits: list[Decimal] = []
        for entry_index, element in enumerate(report.findall("{*}Ntry"), start=1):
            entry_count += 1
            position = f"{prefix}Ntry[{entry_index}]"
            if _text(element, "{*}CdtDbtInd") != "CRDT":
                continue
            amount = _amount(element.find("{*}Amt"), f"{position}/Amt")
            if amount is None:
                raise CamtError(position, f"{position} has no Amt")
            credits.append(amount[0])
            status = _text(element, "{*}Sts/{*}Cd") or _text(element, "{*}Sts")
            if status is not None and status.strip().upper() != "BOOK":
                # Pending (PDNG) and information-only (INFO) entries were not
                # booked, so they are no money received yet.
                result.issues.append(
                    ParseIssue(
                        position,
                        f"{position} has status {status.strip()}, not BOOK, so it is not read"
                        " as a payment",
                        severity="info",
                    )
                )
                continue
            entry = _Entry(
                element=element,
                position=position,
                account=account,
                report_id=report_id,
                amount=amount[0],
                currency=_entry_currency(amount[1], account_currency, position),
                booking_date=_date(element, "{*}BookgDt"),
                value_date=_date(element, "{*}ValDt"),
                is_reversal=(_text(element, "{*}RvslInd") or "").lower() == "true",
                reference=_text(element, "{*}AcctSvcrRef"),
                method=_bank_transaction_code(element),
            )
            _read_entry(entry, result)
        _check_credit_summary(report, prefix or f"{tag}[1]/", credits)
        if report.find("{*}Ntry") is not None and not credits:
            result.issues.append(
                ParseIssue(
                    prefix.rstrip("/") or tag,
                    "no entry is a credit (CdtDbtInd CRDT), so no payment is loaded",
                    severity="warning",
                )
            )
    return entry_count


def _check_credit_summary(report: etree._Element, prefix: str, credits: list[Decimal]) -> None:
    """Compare TxsSummry/TtlCdtNtries (count and sum) with the credit entries read."""
    summary = report.find("{*}TxsSummry/{*}TtlCdtNtries")
    if summary is None:
        return
    position = f"{prefix}TxsSummry/TtlCdtNtries"
    count = _text(summary, "{*}NbOfNtries")
    if count is not None and count.isdigit() and int(count) != len(credits):
        raise CamtError(
            position,
            f"{position}/NbOfNtries is {count} but the file has {len(credits)} credit entries",
        )
    total = _text(summary, "{*}Sum")
    if total is not None:
        expected = _amount(summary.find("{*}Sum"), f"{position}/Sum")[0]
        actual = sum(credits, Decimal("0.00"))
        if expected != actual:
            raise CamtError(
                position, f"{position}/Sum is {expected} but the credit entries add up to {actual}"
            )


def _bank_transaction_code(element: etree._Element) -> str | None:
    domain = element.find("{*}BkTxCd/{*}Domn")
    if domain is not None:
        parts = [
            _text(domain, "{*}Cd"),
            _text(domain, "{*}Fmly/{*}Cd"),
            _text(domain, "{*}Fmly/{*}SubFmlyCd"),
        ]
        return "/".join(part for part in parts if part)
    return _text(element, "{*}BkTxCd/{*}Prtry/{*}Cd")


def _entry_transactions(entry: _Entry) -> list[tuple[str, etree._Element]]:
    """Return the TxDtls of an entry with their positions."""
    blocks = entry.element.findall("{*}NtryDtls")
    transactions = []
    for block_index, block in enumerate(blocks, start=1):
        label = "NtryDtls" if len(blocks) == 1 else f"NtryDtls[{block_index}]"
        for index, transaction in enumerate(block.findall("{*}TxDtls"), start=1):
            transactions.append((f"{entry.position}/{label}/TxDtls[{index}]", transaction))
    return transactions


def _read_entry(entry: _Entry, result: ParseResult) -> None:
    """Read one credit entry into one payment per transaction, or one for the entry."""
    transactions = _entry_transactions(entry)
    if not transactions:
        _add_payment(entry, None, entry.position, entry.amount, entry.currency, 0, result)
        return

    amounts = [_transaction_amount(transaction, position) for position, transaction in transactions]
    missing = any(amount is None for amount in amounts)
    foreign = any(amount and amount[1] and amount[1] != entry.currency for amount in amounts)
    if missing or (foreign and len(transactions) == 1):
        # Without every transaction amount in the entry's currency, the booked
        # entry amount is the only amount to trust.
        position = transactions[0][0] if len(transactions) == 1 else entry.position
        if len(transactions) > 1:
            result.issues.append(
                ParseIssue(
                    entry.position,
                    f"{entry.position} has transactions without an amount, so its "
                    f"{len(transactions)} transactions are loaded as one payment of the entry amount",
                    severity="warning",
                )
            )
        _add_payment(entry, transactions, position, entry.amount, entry.currency, 0, result)
        return

    total = sum((amount[0] for amount in amounts), Decimal("0.00"))
    if foreign:
        result.issues.append(
            ParseIssue(
                entry.position,
                f"{entry.position} has transactions in another currency than the entry, "
                "so their sum is not checked",
                severity="warning",
            )
        )
    elif total != entry.amount:
        result.issues.append(
            ParseIssue(
                entry.position,
                f"{entry.position} amount is {entry.amount} but its transactions add up to {total}",
            )
        )
    numbered = len(transactions) > 1
    for number, ((position, transaction), amount) in enumerate(
        zip(transactions, amounts, strict=True), start=1
    ):
        _add_payment(
            entry,
            [(position, transaction)],
            position,
            amount[0],
            amount[1] or entry.currency,
            number if numbered else 0,
            result,
        )


def _transaction_amount(
    transaction: etree._Element, position: str
) -> tuple[Decimal, str | None] | None:
    """Return the amount of a TxDtls: Amt (version 04 and later) or AmtDtls/TxAmt (02)."""
    for path in ("{*}Amt", "{*}AmtDtls/{*}TxAmt/{*}Amt", "{*}AmtDtls/{*}InstdAmt/{*}Amt"):
        element = transaction.find(path)
        if element is not None:
            value = _amount(element, f"{position}/Amt")
            if _text(transaction, "{*}CdtDbtInd") == "DBIT":
                return -value[0], value[1]
            return value
    return None


def _add_payment(
    entry: _Entry,
    transactions: list[tuple[str, etree._Element]] | None,
    position: str,
    amount: Decimal,
    currency: str,
    transaction_number: int,
    result: ParseResult,
) -> None:
    transaction = transactions[0][1] if transactions and len(transactions) == 1 else None
    end_to_end = _text(transaction, "{*}Refs/{*}EndToEndId")
    if end_to_end == NOT_PROVIDED:
        end_to_end = None
    reference = (
        end_to_end
        or _text(transaction, "{*}Refs/{*}AcctSvcrRef")
        or _text(transaction, "{*}Refs/{*}TxId")
    )
    base = entry.reference or (
        f"{entry.report_id}/{entry.position}" if entry.report_id else entry.position
    )
    payment_id = reference or (f"{base}/{transaction_number}" if transaction_number else base)
    if reference and transaction_number and _count_reference(result, payment_id):
        payment_id = f"{payment_id}/{transaction_number}"
    parties = transaction if transaction is not None else entry.element
    payment = Payment(
        payment_id=payment_id,
        payment_amount=amount,
        currency=currency,
        payment_date=entry.booking_date or entry.value_date,
        position=position,
        payer_name=_party_name(parties, "Dbtr"),
        payee_name=_party_name(parties, "Cdtr"),
        payer_account=_debtor_account(parties),
        payment_method=entry.method,
        trace_number=reference or entry.reference,
        bank_account=entry.account,
        is_reversal=entry.is_reversal,
        value_date=entry.value_date,
        memo=_unstructured(transactions or []),
    )
    result.payments.append(payment)
    for transaction_position, element in transactions or []:
        _read_structured(element, transaction_position, payment, result)


def _count_reference(result: ParseResult, payment_id: str) -> bool:
    return any(payment.payment_id == payment_id for payment in result.payments)


def _party_name(element: etree._Element, role: str) -> str | None:
    # Version 08 nests the party in Pty; earlier versions do not.
    return _text(element, f".//{{*}}RltdPties/{{*}}{role}/{{*}}Pty/{{*}}Nm") or _text(
        element, f".//{{*}}RltdPties/{{*}}{role}/{{*}}Nm"
    )


def _debtor_account(element: etree._Element) -> str | None:
    """Return the debtor's account: its IBAN, else its other identification."""
    return _text(element, ".//{*}RltdPties/{*}DbtrAcct/{*}Id/{*}IBAN") or _text(
        element, ".//{*}RltdPties/{*}DbtrAcct/{*}Id/{*}Othr/{*}Id"
    )


def _unstructured(transactions: list[tuple[str, etree._Element]]) -> str | None:
    texts = []
    for _position, transaction in transactions:
        for element in transaction.findall("{*}RmtInf/{*}Ustrd"):
            if element.text and element.text.strip():
                texts.append(element.text.strip())
    return " ".join(texts) or None


def _read_structured(
    transaction: etree._Element, position: str, payment: Payment, result: ParseResult
) -> None:
    """Turn each structured remittance block (Strd) into a remittance line and its adjustments."""
    for index, block in enumerate(transaction.findall("{*}RmtInf/{*}Strd"), start=1):
        block_position = f"{position}/RmtInf/Strd[{index}]"
        numbers = [_text(doc, "{*}Nb") for doc in block.findall("{*}RfrdDocInf")]
        numbers = [number for number in numbers if number]
        creditor_reference = _text(block, "{*}CdtrRefInf/{*}Ref")
        line_number = sum(1 for line in result.lines if line.payment_id == payment.payment_id) + 1
        amounts = block.find("{*}RfrdDocAmt")
        paid = _optional_amount(amounts, "{*}RmtdAmt", block_position)
        credit_note = _optional_amount(amounts, "{*}CdtNoteAmt", block_position)
        if paid is None and credit_note is not None:
            paid = -credit_note
        line = RemittanceLine(
            payment_id=payment.payment_id,
            line_number=line_number,
            position=block_position,
            invoice_reference=numbers[0] if numbers else creditor_reference,
            reference_qualifier=(
                _text(block, "{*}RfrdDocInf/{*}Tp/{*}CdOrPrtry/{*}Cd")
                or _text(block, "{*}RfrdDocInf/{*}Tp/{*}CdOrPrtry/{*}Prtry")
                if numbers
                else _text(block, "{*}CdtrRefInf/{*}Tp/{*}CdOrPrtry/{*}Cd")
                or _text(block, "{*}CdtrRefInf/{*}Tp/{*}CdOrPrtry/{*}Prtry")
            ),
            paid_amount=paid,
            invoice_amount=_optional_amount(amounts, "{*}DuePyblAmt", block_position),
            discount_amount=_optional_amount(amounts, "{*}DscntApldAmt", block_position),
            other_references=";".join(
                [f"DOC:{number}" for number in numbers[1:]]
                + ([f"CDTRREF:{creditor_reference}"] if numbers and creditor_reference else [])
            )
            or None,
            invoice_date=_plain_date(_text(block, "{*}RfrdDocInf/{*}RltdDt")),
            memo=" ".join(
                element.text.strip()
                for element in block.findall("{*}AddtlRmtInf")
                if element.text and element.text.strip()
            )
            or None,
        )
        result.lines.append(line)
        _read_adjustments(amounts, block_position, payment, line, result)


def _optional_amount(element: etree._Element | None, path: str, position: str) -> Decimal | None:
    if element is None:
        return None
    found = element.find(path)
    if found is None:
        return None
    amount = _amount(found, f"{position}/{path.replace('{*}', '')}")
    return amount[0] if amount else None


def _plain_date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _read_adjustments(
    amounts: etree._Element | None,
    position: str,
    payment: Payment,
    line: RemittanceLine,
    result: ParseResult,
) -> None:
    if amounts is None:
        return
    for index, element in enumerate(amounts.findall("{*}AdjstmntAmtAndRsn"), start=1):
        adjustment_position = f"{position}/RfrdDocAmt/AdjstmntAmtAndRsn[{index}]"
        amount = _amount(element.find("{*}Amt"), adjustment_position)
        if amount is None:
            continue
        # A DBIT (or unsigned) adjustment reduced what was paid, so it is withheld money.
        sign = Decimal(-1) if _text(element, "{*}CdtDbtInd") == "CRDT" else Decimal(1)
        number = sum(1 for item in result.adjustments if item.payment_id == payment.payment_id) + 1
        result.adjustments.append(
            Adjustment(
                payment_id=payment.payment_id,
                adjustment_number=number,
                amount=sign * amount[0],
                position=adjustment_position,
                line_number=line.line_number,
                reason_code=_text(element, "{*}Rsn"),
                reference=line.invoice_reference,
                memo=_text(element, "{*}AddtlInf"),
            )
        )
