"""Read the exceptions queue and deduction details from the published warehouse.

The published warehouse is opened read-only for each call and closed again,
so a run can replace the file at any time. Decisions made since the last
run exist only in the state database. They are applied on top of the
published rows here, so the queue shows them at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from shortpay.review.log import Decision, read_decisions
from shortpay.review.workflow import (
    DeductionState,
    ExceptionState,
    ReviewError,
    current_deduction_state,
    current_exception_state,
)

# C0 and C1 controls except tab, and the Unicode line and paragraph
# separators, which some programs also take as line breaks. A line break in
# a customer's text could print a line that looks like a field of its own.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class QueueFilters:
    """Filters of ``shortpay review list``; None means no filter."""

    exception_type: str | None = None
    severity: str | None = None
    customer_id: str | None = None
    owner: str | None = None
    status: str | None = None
    min_amount: Decimal | None = None
    older_than_days: int | None = None


@contextmanager
def open_warehouse(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the published warehouse read-only for one query or a few."""
    if not warehouse.exists():
        raise ReviewError(
            f"published warehouse {warehouse} not found: run `shortpay run` first "
            "or pass --warehouse FILE"
        )
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        yield connection
    finally:
        connection.close()


def _fetch_dicts(
    connection: duckdb.DuckDBPyConnection, sql: str, parameters: list[Any] | None = None
) -> list[dict[str, Any]]:
    cursor = connection.execute(sql, parameters or [])
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _published_tables(connection: duckdb.DuckDBPyConnection) -> set[str]:
    rows = connection.execute(
        "select table_name from duckdb_tables() where schema_name = 'main'"
        " union select view_name from duckdb_views() where schema_name = 'main'"
    ).fetchall()
    return {row[0] for row in rows}


def load_deduction(warehouse: Path, deduction_id: str) -> DeductionState | None:
    """Return the published state of a deduction, or None when it is not published."""
    with open_warehouse(warehouse) as connection:
        if "fct_deductions" not in _published_tables(connection):
            return None
        rows = _fetch_dicts(
            connection,
            "select deduction_id, deduction_amount, valid_amount, invalid_amount, status,"
            " assignee, validity from fct_deductions where deduction_id = ?",
            [deduction_id],
        )
    return _published_deduction(rows[0]) if rows else None


def closed_dispute_window(warehouse: Path, deduction_id: str, today: date) -> date | None:
    """Return the deadline of a deduction whose dispute window closed before ``today``."""
    with open_warehouse(warehouse) as connection:
        row = connection.execute(
            "select deadline_date from fct_deductions where deduction_id = ?", [deduction_id]
        ).fetchone()
    if row is None or row[0] is None or row[0] >= today:
        return None
    return row[0]


def load_exception(warehouse: Path, exception_id: str) -> ExceptionState | None:
    """Return the published state of an exceptions-queue item, or None."""
    with open_warehouse(warehouse) as connection:
        if "exceptions" not in _published_tables(connection):
            return None
        rows = connection.execute(
            "select status, owner, amount from exceptions where exception_id = ?",
            [exception_id],
        ).fetchall()
    if not rows:
        return None
    return ExceptionState(exception_id, *rows[0])


QUEUE_SQL = """
select
    exceptions.exception_id,
    exceptions.exception_type,
    exceptions.severity,
    exceptions.entity_type,
    exceptions.entity_id,
    exceptions.status,
    exceptions.owner,
    exceptions.amount,
    exceptions.deduction_id,
    coalesce(
        fct_deductions.customer_id,
        case when exceptions.entity_type = 'customer' then exceptions.entity_id end
    ) as customer_id,
    exceptions.detected_at,
    exceptions.message,
    exceptions.source_file,
    exceptions.source_position,
    struct_pack(
        deduction_id := fct_deductions.deduction_id,
        deduction_amount := fct_deductions.deduction_amount,
        valid_amount := fct_deductions.valid_amount,
        invalid_amount := fct_deductions.invalid_amount,
        status := fct_deductions.status,
        assignee := fct_deductions.assignee,
        validity := fct_deductions.validity
    ) as deduction
from exceptions
left join fct_deductions
    on exceptions.deduction_id = fct_deductions.deduction_id
where (cast(? as varchar) is null or exceptions.exception_type = ?)
    and (cast(? as varchar) is null or exceptions.severity = ?)
    and (cast(? as decimal(18, 2)) is null or exceptions.amount >= ?)
    and (cast(? as timestamptz) is null or exceptions.detected_at <= ?)
order by exceptions.detected_at, exceptions.exception_id
"""


def list_queue(
    warehouse: Path, state_db: Path, filters: QueueFilters, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Return the exceptions queue with decisions applied, filtered.

    Without a status filter, resolved items are left out; status ``all``
    keeps every item.
    """
    now = now or datetime.now(UTC)
    cutoff = None
    if filters.older_than_days is not None:
        cutoff = now - timedelta(days=filters.older_than_days)
    parameters = [
        filters.exception_type,
        filters.exception_type,
        filters.severity,
        filters.severity,
        filters.min_amount,
        filters.min_amount,
        cutoff,
        cutoff,
    ]
    with open_warehouse(warehouse) as connection:
        if "exceptions" not in _published_tables(connection):
            raise ReviewError(f"table exceptions not found in {warehouse}: run `shortpay run`")
        rows = _fetch_dicts(connection, QUEUE_SQL, parameters)
    decisions = read_decisions(state_db)
    by_exception = _group(decisions, "exception_id")
    by_deduction = _group(decisions, "deduction_id")
    queue = []
    for row in rows:
        own = by_exception.get(row["exception_id"], [])
        _apply_exception_decisions(row, own)
        assigned = any(item.action == "assign" for item in own)
        if not _apply_deduction_decisions(row, by_deduction.get(row["deduction_id"], []), assigned):
            continue
        if filters.customer_id is not None and row["customer_id"] != filters.customer_id:
            continue
        if filters.owner is not None and row["owner"] != filters.owner:
            continue
        if filters.status is None and row["status"] == "resolved":
            continue
        if filters.status not in (None, "all") and row["status"] != filters.status:
            continue
        detected_at = row["detected_at"]
        row["age_days"] = (now - _as_utc(detected_at)).days if detected_at else None
        queue.append(row)
    return queue


def _as_utc(value: datetime | date) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, datetime.min.time(), UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# Queue items about a deduction, which the exceptions models list only
# while the deduction is in a given state (see int_exceptions_detected).
DEDUCTION_ITEMS = ("deduction_review", "deadline_approaching", "deadline_passed")

def _group(decisions: list[Decision], key: str) -> dict[str, list[Decision]]:
    """Return the decisions of each deduction or exception id, in log order."""
    grouped: dict[str, list[Decision]] = {}
    for decision in decisions:
        item_id = getattr(decision, key)
        if item_id is not None:
            grouped.setdefault(item_id, []).append(decision)
    return grouped


def _apply_deduction_decisions(
    row: dict[str, Any], decisions: list[Decision], exception_assigned: bool
) -> bool:
    """Apply a deduction's decisions to one of its queue items, and drop the row's deduction.

    Return False when the next run will no longer list the item: a
    deduction approved or disputed leaves review, and one with nothing
    invalid left, or no longer open or disputed, has no deadline to watch.
    Items that the next run adds (a deadline of a newly disputed
    deduction) appear only then.

    NOTE: the conditions repeat the where clauses of deduction_reviews,
    deadlines and deadlines_passed in int_exceptions_detected. A change
    there needs the same change here.
    """
    deduction = row.pop("deduction")
    if not decisions or row["exception_type"] not in DEDUCTION_ITEMS:
        return True
    if deduction is None or deduction["deduction_id"] is None:
        return True
    state = current_deduction_state(_published_deduction(deduction), decisions)
    if not exception_assigned:
        row["owner"] = state.assignee
    if row["exception_type"] == "deduction_review":
        return state.validity == "needs_review" and state.status == "open"
    row["amount"] = state.invalid_amount
    return state.status in ("open", "disputed") and (state.invalid_amount or 0) > 0


def _apply_exception_decisions(row: dict[str, Any], decisions: list[Decision]) -> None:
    published = ExceptionState(row["exception_id"], row["status"], row["owner"], row["amount"])
    state = current_exception_state(published, decisions)
    row["status"] = state.status
    row["owner"] = state.assignee


def show_item(warehouse: Path, state_db: Path, item_id: str) -> dict[str, Any]:
    """Return a deduction or exception with its related published rows and decisions."""
    with open_warehouse(warehouse) as connection:
        tables = _published_tables(connection)
        if "fct_deductions" in tables:
            deductions = _fetch_dicts(
                connection, "select * from fct_deductions where deduction_id = ?", [item_id]
            )
            if deductions:
                return _show_deduction(connection, tables, state_db, deductions[0])
        if "exceptions" in tables:
            exceptions = _fetch_dicts(
                connection, "select * from exceptions where exception_id = ?", [item_id]
            )
            if exceptions:
                return _show_exception(connection, tables, state_db, exceptions[0])
    raise ReviewError(f"no deduction or exception with id {item_id!r} in {warehouse}")


def _published_deduction(row: dict[str, Any]) -> DeductionState:
    """Return the state of a deduction from its columns of fct_deductions."""
    return DeductionState(
        row["deduction_id"],
        row["deduction_amount"],
        row["valid_amount"],
        row["invalid_amount"],
        row["status"],
        row["assignee"],
        row["validity"],
    )


def _apply_to_deduction(deduction: dict[str, Any], decisions: list[Decision]) -> None:
    """Update a published fct_deductions row with the decisions made on it."""
    state = current_deduction_state(_published_deduction(deduction), decisions)
    deduction.update(
        validity=state.validity,
        status=state.status,
        valid_amount=state.valid_amount,
        invalid_amount=state.invalid_amount,
        assignee=state.assignee,
    )


def _show_deduction(
    connection: duckdb.DuckDBPyConnection,
    tables: set[str],
    state_db: Path,
    deduction: dict[str, Any],
) -> dict[str, Any]:
    deduction_id = deduction["deduction_id"]
    decisions = read_decisions(state_db, deduction_ids=[deduction_id])
    _apply_to_deduction(deduction, decisions)
    related = {
        "payment": ("fct_payments", "payment_id", deduction.get("payment_id")),
        "cash_applications": ("fct_cash_applications", "payment_id", deduction.get("payment_id")),
        "invoice": ("fct_invoices", "invoice_id", deduction.get("invoice_id")),
        "remittance_lines": ("fct_remittance_lines", "payment_id", deduction.get("payment_id")),
        "invoice_lines": ("fct_invoice_lines", "invoice_id", deduction.get("invoice_id")),
        "exceptions": ("exceptions", "deduction_id", deduction_id),
    }
    item: dict[str, Any] = {"kind": "deduction", "deduction": deduction}
    for name, (table, key, value) in related.items():
        item[name] = _related_rows(connection, tables, table, key, value)
    for name in ("payment", "invoice"):
        item[name] = item[name][0] if item[name] else None
    item["decisions"] = [decision.as_dict() for decision in decisions]
    return item


# Related tables and their key columns, fixed here so no name from input reaches SQL.
RELATED_QUERIES = {
    ("fct_payments", "payment_id"): "select * from fct_payments where payment_id = ?",
    ("fct_cash_applications", "payment_id"): (
        "select * from fct_cash_applications where payment_id = ? order by invoice_id"
    ),
    ("fct_invoices", "invoice_id"): "select * from fct_invoices where invoice_id = ?",
    ("fct_remittance_lines", "payment_id"): (
        "select * from fct_remittance_lines where payment_id = ? order by line_number"
    ),
    ("fct_invoice_lines", "invoice_id"): (
        "select * from fct_invoice_lines where invoice_id = ? order by line_number"
    ),
    ("exceptions", "deduction_id"): (
        "select * from exceptions where deduction_id = ? order by detected_at, exception_id"
    ),
}


def _related_rows(
    connection: duckdb.DuckDBPyConnection, tables: set[str], table: str, key: str, value: Any
) -> list[dict[str, Any]]:
    if value is None or table not in tables:
        return []
    return _fetch_dicts(connection, RELATED_QUERIES[(table, key)], [value])


def _show_exception(
    connection: duckdb.DuckDBPyConnection,
    tables: set[str],
    state_db: Path,
    exception: dict[str, Any],
) -> dict[str, Any]:
    exception_id = exception["exception_id"]
    decisions = read_decisions(state_db, exception_ids=[exception_id])
    _apply_exception_decisions(exception, decisions)
    deduction = None
    if exception.get("deduction_id") and "fct_deductions" in tables:
        found = _fetch_dicts(
            connection,
            "select deduction_id, customer_id, deduction_amount, category, validity, status,"
            " valid_amount, invalid_amount, assignee"
            " from fct_deductions where deduction_id = ?",
            [exception["deduction_id"]],
        )
        deduction = found[0] if found else None
    if deduction is not None:
        _apply_to_deduction(
            deduction, read_decisions(state_db, deduction_ids=[deduction["deduction_id"]])
        )
    return {
        "kind": "exception",
        "exception": exception,
        "deduction": deduction,
        "decisions": [decision.as_dict() for decision in decisions],
    }


def printable(value: Any) -> str:
    """Render a value for a terminal; control characters in untrusted text become '?'."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return _as_utc(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return CONTROL_CHARACTERS.sub("?", str(value))


def decimal_text(value: Decimal) -> str:
    """Write a number with at least two decimal places and every place it has.

    Money has two places. Unit prices and quantities have four, which
    rounding to two would change (46.8845 is not 46.88).
    """
    if value.as_tuple().exponent > -2:
        value = value.quantize(Decimal("0.01"))
    return f"{value:f}"
