"""The append-only decision log of the state database, chained by SHA-256 hashes.

Every entry stores ``previous_hash`` (the ``entry_hash`` of the entry before
it, or 64 zeros for the first entry) and ``entry_hash``, the SHA-256 of
``previous_hash`` followed by a canonical JSON text of the entry's other
columns. Changing, deleting or reordering a row outside Shortpay therefore
breaks the chain at that row, and ``verify_chain`` reports where. Nothing in
Shortpay updates or deletes a row of this table.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from shortpay.state import state_connection

GENESIS_HASH = "0" * 64

DECISION_LOG_COLUMNS = """
    decision_id varchar not null primary key,
    sequence bigint not null unique,
    deduction_id varchar,
    exception_id varchar,
    action varchar not null,
    actor varchar not null,
    reason varchar,
    amount decimal(18, 2),
    valid_amount_before decimal(18, 2),
    invalid_amount_before decimal(18, 2),
    valid_amount_after decimal(18, 2),
    invalid_amount_after decimal(18, 2),
    status_before varchar,
    status_after varchar,
    assignee varchar,
    decided_at timestamptz not null,
    previous_hash varchar not null,
    entry_hash varchar not null
"""


@dataclass(frozen=True)
class Decision:
    """One entry of the decision log."""

    decision_id: str
    sequence: int
    deduction_id: str | None
    exception_id: str | None
    action: str
    actor: str
    reason: str | None
    amount: Decimal | None
    valid_amount_before: Decimal | None
    invalid_amount_before: Decimal | None
    valid_amount_after: Decimal | None
    invalid_amount_after: Decimal | None
    status_before: str | None
    status_after: str | None
    assignee: str | None
    decided_at: datetime
    previous_hash: str
    entry_hash: str

    def as_dict(self) -> dict[str, Any]:
        """Return the entry with JSON-ready values: money as text, time as ISO 8601 UTC."""
        return {name: _canonical(value) for name, value in asdict(self).items()}


COLUMN_NAMES = [item.name for item in fields(Decision)]
HASHED_COLUMNS = [name for name in COLUMN_NAMES if name != "entry_hash"]
# Built from the constant column list above; values always go in as parameters.
INSERT_SQL = (
    f"insert into decision_log ({', '.join(COLUMN_NAMES)}) "  # noqa: S608
    f"values ({', '.join('?' for _ in COLUMN_NAMES)})"
)
SELECT_SQL = f"select {', '.join(COLUMN_NAMES)} from decision_log"  # noqa: S608


@dataclass(frozen=True)
class ChainProblem:
    """A log entry whose hash or link does not match."""

    sequence: int
    decision_id: str
    problem: str


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def compute_entry_hash(values: dict[str, Any]) -> str:
    """Return the SHA-256 hex digest that chains an entry to the one before it."""
    payload = {name: _canonical(values[name]) for name in HASHED_COLUMNS}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((values["previous_hash"] + text).encode("utf-8")).hexdigest()


def ensure_decision_log(connection: duckdb.DuckDBPyConnection) -> None:
    """Create the ``decision_log`` table when it does not exist yet."""
    connection.execute(f"create table if not exists decision_log ({DECISION_LOG_COLUMNS})")


def append_decision(state_db: Path, entry: dict[str, Any]) -> Decision:
    """Append one entry to the log in a single transaction and return it as stored.

    ``entry`` contains the columns from ``deduction_id`` to ``assignee``. The
    log sets ``decision_id``, ``sequence``, ``decided_at`` and the hashes.
    """
    return append_checked(state_db, lambda _decisions: entry)


def append_checked(
    state_db: Path,
    build_entry: Callable[[list[Decision]], dict[str, Any]],
    deduction_ids: Sequence[str] | None = None,
    exception_ids: Sequence[str] | None = None,
) -> Decision:
    """Read the entries of the given ids, build a new entry from them and append it.

    Reading, ``build_entry`` and the insert share one transaction of the state
    database, so no other decision can slip in between the check and the
    append. An exception raised by ``build_entry`` appends nothing.
    """
    with state_connection(state_db) as connection:
        ensure_decision_log(connection)
        connection.execute("begin transaction")
        try:
            decisions = _select_decisions(connection, deduction_ids, exception_ids)
            values = _next_entry(connection, build_entry(decisions))
            connection.execute(INSERT_SQL, [values[name] for name in COLUMN_NAMES])
            connection.execute("commit")
        except BaseException:
            connection.execute("rollback")
            raise
    return Decision(**values)


def _next_entry(connection: duckdb.DuckDBPyConnection, entry: dict[str, Any]) -> dict[str, Any]:
    # fetchall, not fetchone: DuckDB 2.0 rejects the next statement on a
    # connection whose last result was not read to the end.
    last = connection.execute(
        "select sequence, entry_hash from decision_log order by sequence desc limit 1"
    ).fetchall()
    sequence, previous_hash = (last[0][0] + 1, last[0][1]) if last else (1, GENESIS_HASH)
    values = {name: entry.get(name) for name in COLUMN_NAMES}
    values.update(
        decision_id=str(uuid.uuid4()),
        sequence=sequence,
        decided_at=datetime.now(UTC),
        previous_hash=previous_hash,
    )
    values["entry_hash"] = compute_entry_hash(values)
    return values


def read_decisions(
    state_db: Path,
    deduction_ids: Sequence[str] | None = None,
    exception_ids: Sequence[str] | None = None,
) -> list[Decision]:
    """Return log entries in sequence order, optionally only those of the given ids.

    A state database or table that does not exist yet has no entries.
    """
    if not state_db.exists():
        return []
    with state_connection(state_db, read_only=True) as connection:
        if not has_decision_log(connection):
            return []
        return _select_decisions(connection, deduction_ids, exception_ids)


def _select_decisions(
    connection: duckdb.DuckDBPyConnection,
    deduction_ids: Sequence[str] | None,
    exception_ids: Sequence[str] | None,
) -> list[Decision]:
    sql = SELECT_SQL
    parameters: list[Any] = []
    if deduction_ids is not None or exception_ids is not None:
        sql += " where list_contains(?, deduction_id) or list_contains(?, exception_id)"
        parameters = [list(deduction_ids or []), list(exception_ids or [])]
    rows = connection.execute(sql + " order by sequence", parameters).fetchall()
    return [Decision(**dict(zip(COLUMN_NAMES, row, strict=True))) for row in rows]


def has_decision_log(connection: duckdb.DuckDBPyConnection) -> bool:
    """Return whether the connected state database has a ``decision_log`` table."""
    found = connection.execute(
        "select count(*) from duckdb_tables() where table_name = 'decision_log'"
        " and schema_name = 'main'"
    ).fetchall()
    return found[0][0] > 0


def verify_chain(decisions: Sequence[Decision]) -> list[ChainProblem]:
    """Check sequence numbers, links and hashes; return every problem found."""
    problems = []
    previous_hash = GENESIS_HASH
    for expected_sequence, decision in enumerate(decisions, start=1):
        values = asdict(decision)
        if decision.sequence != expected_sequence:
            problems.append(
                ChainProblem(
                    decision.sequence,
                    decision.decision_id,
                    f"sequence {decision.sequence} found where {expected_sequence} was expected",
                )
            )
        if decision.previous_hash != previous_hash:
            problems.append(
                ChainProblem(
                    decision.sequence,
                    decision.decision_id,
                    "previous_hash does not match the entry before it",
                )
            )
        if compute_entry_hash(values) != decision.entry_hash:
            problems.append(
                ChainProblem(
                    decision.sequence,
                    decision.decision_id,
                    "entry_hash does not match the entry's values",
                )
            )
        previous_hash = decision.entry_hash
    return problems
