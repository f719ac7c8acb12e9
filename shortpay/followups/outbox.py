"""The follow-up outbox and suppression list in the state database.

Every message is written to ``followup_outbox`` with status ``queued``
before any attempt to deliver it. The primary key (deduction_id, step)
keeps a step from being written twice for a deduction. Statuses:

- ``queued``: written, not yet handed to a transport. Safe to deliver.
- ``sending``: claimed by a run that is handing it to a transport. A row
  left in this state means the run stopped mid-send, and the next run marks
  it ``unknown`` unless the transport is idempotent (the outbox folder).
- ``sent``: the transport accepted it.
- ``unknown``: the result is not known (timeout, connection lost after the
  request went out). Held for a person, who may requeue it with
  ``resolve_message``. No run resends it on its own.
- ``failed``: rejected (HTTP 4xx, blocked by the allow-list, invalid
  message), with the reason in ``last_error``.
- ``suppressed``: a recipient is on the suppression list.
- ``cancelled``: the deduction was resolved before the message went out.

The state database is opened through ``state_connection`` for one short
transaction per call. No function here keeps a connection open.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa

from shortpay.state import state_connection

log = logging.getLogger(__name__)

OUTBOX_TABLE = "followup_outbox"
SUPPRESSION_TABLE = "followup_suppressions"
STATUSES = ("queued", "sending", "sent", "unknown", "failed", "suppressed", "cancelled")

_CREATE_OUTBOX = f"""
create table if not exists {OUTBOX_TABLE} (
    message_id text not null unique,
    deduction_id text not null,
    step text not null,
    step_number integer not null,
    customer_id text,
    language text not null,
    sender_email text not null,
    sender_name text,
    reply_to_email text,
    to_email text not null,
    to_name text,
    cc_email text,
    subject text not null,
    body_text text not null,
    body_html text not null,
    letter_html text not null,
    amount_claimed decimal(18, 2) not null,
    currency text,
    cadence_rule_id text,
    contact_rule_id text,
    as_of_date date not null,
    status text not null,
    transport text,
    provider_message_id text,
    attempts integer not null default 0,
    last_error text,
    queued_at timestamptz not null,
    updated_at timestamptz not null,
    sent_at timestamptz,
    sent_on date,
    primary key (deduction_id, step)
)
"""
_CREATE_SUPPRESSIONS = f"""
create table if not exists {SUPPRESSION_TABLE} (
    email text primary key,
    reason text,
    source text not null,
    created_at timestamptz not null
)
"""
_MESSAGE_COLUMNS = (
    "message_id", "deduction_id", "step", "step_number", "customer_id", "language",
    "sender_email", "sender_name", "reply_to_email", "to_email", "to_name", "cc_email",
    "subject", "body_text", "body_html", "letter_html", "amount_claimed", "currency",
    "cadence_rule_id", "contact_rule_id", "as_of_date", "status", "transport",
    "provider_message_id", "attempts", "last_error", "queued_at", "updated_at", "sent_at",
    "sent_on",
)
_TEXT_COLUMNS = {
    "message_id", "deduction_id", "step", "customer_id", "language", "sender_email",
    "sender_name", "reply_to_email", "to_email", "to_name", "cc_email", "subject", "body_text",
    "body_html", "letter_html", "currency", "cadence_rule_id", "contact_rule_id", "status",
    "transport", "provider_message_id", "last_error",
}
_ARROW_TYPES = {
    "step_number": pa.int32(),
    "attempts": pa.int32(),
    "amount_claimed": pa.decimal128(18, 2),
    "as_of_date": pa.date32(),
    "sent_on": pa.date32(),
    "queued_at": pa.timestamp("us", tz="UTC"),
    "updated_at": pa.timestamp("us", tz="UTC"),
    "sent_at": pa.timestamp("us", tz="UTC"),
}
_ARROW_SCHEMA = pa.schema(
    [(name, pa.string() if name in _TEXT_COLUMNS else _ARROW_TYPES[name])
     for name in _MESSAGE_COLUMNS]
)


@dataclass(frozen=True)
class OutboxMessage:
    """One row of the outbox: a rendered message and its delivery record."""

    message_id: str
    deduction_id: str
    step: str
    step_number: int
    customer_id: str | None
    language: str
    sender_email: str
    sender_name: str | None
    reply_to_email: str | None
    to_email: str
    to_name: str | None
    cc_email: str | None
    subject: str
    body_text: str
    body_html: str
    letter_html: str
    amount_claimed: Decimal
    currency: str | None
    cadence_rule_id: str | None
    contact_rule_id: str | None
    as_of_date: dt.date
    status: str = "queued"
    transport: str | None = None
    provider_message_id: str | None = None
    attempts: int = 0
    last_error: str | None = None
    queued_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    sent_on: dt.date | None = None

    @property
    def recipients(self) -> list[str]:
        """Every address the message goes to."""
        return [self.to_email] + ([self.cc_email] if self.cc_email else [])


@dataclass(frozen=True)
class StepRecord:
    """A step already in the outbox, with the fields the cadence reads."""

    deduction_id: str
    step: str
    step_number: int
    status: str
    as_of_date: dt.date
    sent_on: dt.date | None


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of one delivery, as a transport reports it."""

    status: str
    provider_message_id: str | None = None
    error: str | None = None
    attempts: int = 1
    # The transport could not try (rate limit or server errors outlasted the
    # budget); the row goes back to queued for the next run.
    deferred: bool = False
    # The problem affects every message (say, a rejected API key), so the
    # run stops delivering and leaves the rest queued.
    stops_delivery: bool = False

    @property
    def ends_batch(self) -> bool:
        """Tell whether delivery stops after this result."""
        return self.deferred or self.stops_delivery


def ensure_tables(connection: duckdb.DuckDBPyConnection) -> None:
    """Create the outbox and suppression tables when missing."""
    connection.execute(_CREATE_OUTBOX)
    connection.execute(_CREATE_SUPPRESSIONS)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_HISTORY_QUERY = (
    f"select deduction_id, step, step_number, status, as_of_date, sent_on "  # noqa: S608
    f"from {OUTBOX_TABLE} order by deduction_id, step_number"
)
_SUPPRESSED_QUERY = f"select email from {SUPPRESSION_TABLE}"  # noqa: S608


def read_history(state_db: Path) -> dict[str, list[StepRecord]]:
    """Return every outbox step per deduction, ordered by step number."""
    return _history_from_rows(_read_only_query(state_db, _HISTORY_QUERY))


def read_suppressed(state_db: Path) -> set[str]:
    """Return the suppressed addresses, lowercased."""
    return {row[0] for row in _read_only_query(state_db, _SUPPRESSED_QUERY)}


def read_state(state_db: Path) -> tuple[dict[str, list[StepRecord]], set[str]]:
    """Return the history and the suppressed addresses, with one open of the database."""
    history_rows, suppressed_rows = _read_only_query(state_db, _HISTORY_QUERY, _SUPPRESSED_QUERY)
    return _history_from_rows(history_rows), {row[0] for row in suppressed_rows}


def has_interrupted(state_db: Path) -> bool:
    """Tell whether a row was left in ``sending``, with a read-only open."""
    rows = _read_only_query(
        state_db, f"select count(*) from {OUTBOX_TABLE} where status = 'sending'"  # noqa: S608
    )
    return bool(rows and rows[0][0])


def _history_from_rows(rows: list[tuple]) -> dict[str, list[StepRecord]]:
    history: dict[str, list[StepRecord]] = {}
    for row in rows:
        history.setdefault(row[0], []).append(StepRecord(*row))
    return history


def _read_only_query(state_db: Path, *queries: str, params: list | None = None):
    """Run queries on one read-only connection, where a missing table reads as empty.

    Returns the rows of the query, or a tuple of row lists for several queries.
    """
    results = []
    with state_connection(state_db, read_only=True) as connection:
        for query in queries:
            try:
                results.append(connection.execute(query, params or []).fetchall())
            except duckdb.CatalogException:
                results.append([])
    return results[0] if len(queries) == 1 else tuple(results)


def add_suppressions(state_db: Path, entries: Iterable[tuple[str, str, str]]) -> int:
    """Add (email, reason, source) entries and return how many addresses were new."""
    entries = [(email.strip().lower(), reason, source) for email, reason, source in entries]
    if not entries:
        return 0
    with state_connection(state_db) as connection:
        ensure_tables(connection)
        before = connection.execute(f"select count(*) from {SUPPRESSION_TABLE}").fetchall()[0][0]  # noqa: S608
        connection.executemany(
            f"insert into {SUPPRESSION_TABLE} (email, reason, source, created_at) "  # noqa: S608
            "values (?, ?, ?, ?) on conflict (email) do nothing",
            [(email, reason, source, now_utc()) for email, reason, source in entries],
        )
        after = connection.execute(f"select count(*) from {SUPPRESSION_TABLE}").fetchall()[0][0]  # noqa: S608
    return after - before


def queue_messages(state_db: Path, messages: list[OutboxMessage]) -> int:
    """Insert messages as queued, ignoring a (deduction_id, step) already present.

    Returns the number of rows inserted. All rows go in one transaction,
    through an Arrow table because row-by-row inserts are slow in DuckDB.
    """
    if not messages:
        return 0
    stamp = now_utc()
    records = []
    for message in messages:
        record = {name: getattr(message, name) for name in _MESSAGE_COLUMNS}
        record.update(status="queued", transport=None, provider_message_id=None, attempts=0,
                      last_error=None, queued_at=stamp, updated_at=stamp, sent_at=None,
                      sent_on=None)
        records.append(record)
    incoming = pa.Table.from_pylist(records, schema=_ARROW_SCHEMA)
    with state_connection(state_db) as connection:
        ensure_tables(connection)
        before = connection.execute(f"select count(*) from {OUTBOX_TABLE}").fetchall()[0][0]  # noqa: S608
        connection.register("incoming_messages", incoming)
        connection.execute(
            f"insert into {OUTBOX_TABLE} ({', '.join(_MESSAGE_COLUMNS)}) "  # noqa: S608
            f"select {', '.join(_MESSAGE_COLUMNS)} from incoming_messages on conflict do nothing"
        )
        connection.unregister("incoming_messages")
        after = connection.execute(f"select count(*) from {OUTBOX_TABLE}").fetchall()[0][0]  # noqa: S608
    return after - before


def pending_message_ids(state_db: Path) -> list[str]:
    """Return the ids of queued messages, oldest first."""
    rows = _read_only_query(
        state_db,
        f"select message_id from {OUTBOX_TABLE} where status = 'queued' "  # noqa: S608
        "order by queued_at, message_id",
    )
    return [row[0] for row in rows]


def recover_interrupted(state_db: Path, transport_is_idempotent: bool) -> list[str]:
    """Resolve rows left in ``sending`` by a run that stopped mid-send.

    They go back to ``queued`` when the transport can repeat a delivery
    without a duplicate, and to ``unknown`` (held for a person) otherwise.
    Returns the message ids changed.
    """
    new_status = "queued" if transport_is_idempotent else "unknown"
    with state_connection(state_db) as connection:
        ensure_tables(connection)
        rows = connection.execute(
            f"update {OUTBOX_TABLE} set status = ?, updated_at = ?, "  # noqa: S608
            "last_error = coalesce(last_error || '; ', '') || 'interrupted while sending' "
            "where status = 'sending' returning message_id",
            [new_status, now_utc()],
        ).fetchall()
    ids = [row[0] for row in rows]
    for message_id in ids:
        log.warning("Message %s was interrupted while sending; now %s", message_id, new_status)
    return ids


def cancel_messages(state_db: Path, reasons: dict[str, str]) -> list[str]:
    """Cancel the queued messages of deductions, given as a map from deduction id to reason."""
    if not reasons:
        return []
    cancelled = []
    with state_connection(state_db) as connection:
        ensure_tables(connection)
        for deduction_id, reason in sorted(reasons.items()):
            rows = connection.execute(
                f"update {OUTBOX_TABLE} set status = 'cancelled', last_error = ?, "  # noqa: S608
                "updated_at = ? where deduction_id = ? and status = 'queued' "
                "returning message_id",
                [reason, now_utc(), deduction_id],
            ).fetchall()
            cancelled += [row[0] for row in rows]
    return cancelled


def claim_next(
    state_db: Path,
    message_id: str,
    transport: str,
    previous: tuple[str, DeliveryResult] | None = None,
    sent_on: dt.date | None = None,
) -> OutboxMessage | None:
    """Record the previous message's result, then claim ``message_id`` for sending.

    Both happen in one transaction, so a run pays for one open per message.
    Claiming moves the row from ``queued`` to ``sending``; it returns None when
    another run has claimed or finished the row meanwhile.
    """
    with state_connection(state_db) as connection:
        connection.execute("begin transaction")
        if previous is not None:
            _record(connection, [previous], sent_on)
        row = connection.execute(
            f"update {OUTBOX_TABLE} set status = 'sending', transport = ?, "  # noqa: S608
            "updated_at = ? where message_id = ? and status = 'queued' "
            f"returning {', '.join(_MESSAGE_COLUMNS)}",
            [transport, now_utc(), message_id],
        ).fetchall()
        connection.execute("commit")
    return OutboxMessage(*row[0]) if row else None


def claim_batch(state_db: Path, transport: str, limit: int) -> list[OutboxMessage]:
    """Claim up to ``limit`` queued messages at once, oldest first."""
    with state_connection(state_db) as connection:
        ensure_tables(connection)
        rows = connection.execute(
            f"update {OUTBOX_TABLE} set status = 'sending', transport = ?, "  # noqa: S608
            f"updated_at = ? where message_id in (select message_id from {OUTBOX_TABLE} "
            "where status = 'queued' order by queued_at, message_id limit ?) "
            f"returning {', '.join(_MESSAGE_COLUMNS)}",
            [transport, now_utc(), limit],
        ).fetchall()
    return [OutboxMessage(*row) for row in rows]


def record_result(
    state_db: Path, message_id: str, result: DeliveryResult, sent_on: dt.date | None
) -> None:
    """Store the delivery result of one message."""
    with state_connection(state_db) as connection:
        ensure_tables(connection)
        _record(connection, [(message_id, result)], sent_on)


def record_results(
    state_db: Path, results: list[tuple[str, DeliveryResult]], sent_on: dt.date | None
) -> None:
    """Store many delivery results in one statement."""
    if not results:
        return
    with state_connection(state_db) as connection:
        ensure_tables(connection)
        _record(connection, results, sent_on)


def _record(
    connection: duckdb.DuckDBPyConnection,
    results: list[tuple[str, DeliveryResult]],
    sent_on: dt.date | None,
) -> None:
    """Update the outbox rows of ``results`` with one UPDATE statement."""
    statuses = ["queued" if result.deferred else result.status for _, result in results]
    rows = pa.table({
        "message_id": pa.array([message_id for message_id, _ in results], pa.string()),
        "status": pa.array(statuses, pa.string()),
        "provider_message_id": pa.array(
            [result.provider_message_id for _, result in results], pa.string()),
        "attempts": pa.array([result.attempts for _, result in results], pa.int32()),
        "last_error": pa.array([result.error for _, result in results], pa.string()),
        "is_sent": pa.array([status == "sent" for status in statuses], pa.bool_()),
    })
    stamp = now_utc()
    connection.register("delivery_results", rows)
    try:
        connection.execute(
            f"update {OUTBOX_TABLE} as outbox set status = results.status, "  # noqa: S608
            "provider_message_id = results.provider_message_id, "
            "attempts = outbox.attempts + results.attempts, "
            "last_error = coalesce(results.last_error, outbox.last_error), "
            "updated_at = ?, "
            "sent_at = case when results.is_sent then ? else outbox.sent_at end, "
            "sent_on = case when results.is_sent then ? else outbox.sent_on end "
            "from delivery_results as results "
            "where outbox.message_id = results.message_id",
            [stamp, stamp, sent_on],
        )
    finally:
        connection.unregister("delivery_results")


def resolve_message(
    state_db: Path,
    message_id: str,
    new_status: str,
    note: str,
    provider_message_id: str | None,
    actor: str,
) -> str:
    """Settle a held message by hand: ``sent``, ``queued`` (to resend) or ``failed``.

    Only ``unknown``, ``failed`` and ``suppressed`` rows can be settled this way.
    The actor and note are appended to ``last_error``. Returns the previous
    status. Raises LookupError for an unknown id and ValueError otherwise.
    """
    if new_status not in ("sent", "queued", "failed"):
        raise ValueError(f"invalid status {new_status!r}: use sent, queued or failed")
    stamp = now_utc()
    with state_connection(state_db) as connection:
        ensure_tables(connection)
        row = connection.execute(
            f"select status from {OUTBOX_TABLE} where message_id = ?", [message_id]  # noqa: S608
        ).fetchall()
        row = row[0] if row else None
        if row is None:
            raise LookupError(f"message {message_id!r} not found in the outbox")
        if row[0] not in ("unknown", "failed", "suppressed"):
            raise ValueError(
                f"message {message_id!r} is {row[0]}; only unknown, failed or suppressed "
                "messages can be resolved by hand"
            )
        is_sent = new_status == "sent"
        connection.execute(
            f"update {OUTBOX_TABLE} set status = ?, updated_at = ?, "  # noqa: S608
            "last_error = coalesce(last_error || '; ', '') || ?, "
            "provider_message_id = coalesce(?, provider_message_id), "
            "sent_at = case when ? then ? else sent_at end, "
            # The cadence counts days from business dates, so a message
            # settled as sent counts as sent on the run date that queued it,
            # not on the day a person settled it.
            "sent_on = case when ? then as_of_date else sent_on end "
            "where message_id = ? and status = ?",
            [
                new_status,
                stamp,
                f"{actor} set {new_status}: {note}",
                provider_message_id,
                is_sent,
                stamp,
                is_sent,
                message_id,
                row[0],
            ],
        )
    return row[0]


def read_messages(
    state_db: Path, statuses: Iterable[str] | None = None, deduction_id: str | None = None
) -> list[OutboxMessage]:
    """Read outbox rows, optionally filtered by status and deduction."""
    query = f"select {', '.join(_MESSAGE_COLUMNS)} from {OUTBOX_TABLE} where true"  # noqa: S608
    params: list[object] = []
    if statuses is not None:
        query += " and list_contains(?, status)"
        params.append(list(statuses))
    if deduction_id is not None:
        query += " and deduction_id = ?"
        params.append(deduction_id)
    query += " order by deduction_id, step_number"
    return [OutboxMessage(*row) for row in _read_only_query(state_db, query, params=params)]


def read_suppressions(state_db: Path) -> list[tuple[str, str | None, str, dt.datetime]]:
    """Return (email, reason, source, created_at) for every suppressed address."""
    return _read_only_query(
        state_db,
        f"select email, reason, source, created_at from {SUPPRESSION_TABLE} "  # noqa: S608
        "order by email",
    )


def snapshot_outbox(state_db: Path, conn: duckdb.DuckDBPyConnection) -> int:
    """Copy the outbox, without message bodies, into ``raw.followup_outbox`` of ``conn``.

    Creates an empty table when the state database has no outbox yet.
    Returns the number of rows copied.
    """
    columns = [c for c in _MESSAGE_COLUMNS if c not in ("body_text", "body_html", "letter_html")]
    with state_connection(state_db) as connection:
        ensure_tables(connection)
        table = connection.sql(
            f"select {', '.join(columns)} from {OUTBOX_TABLE}"  # noqa: S608
        ).to_arrow_table()
    conn.execute("create schema if not exists raw")
    conn.register("followup_outbox_snapshot", table)
    try:
        conn.execute(
            "create or replace table raw.followup_outbox as "
            "select * from followup_outbox_snapshot"
        )
    finally:
        conn.unregister("followup_outbox_snapshot")
    return table.num_rows
