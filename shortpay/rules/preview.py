"""Compare the deductions of the published warehouse with a copy rebuilt under new rules.

Both DuckDB files are attached read-only to an in-memory database, and one
SQL query lists the deductions whose category, validity, status or
amounts would change, grouped per customer and movement. Under a new
tolerance, an invalid deduction keeps its validity and moves from ``open``
to ``written_off``, so the status is compared too. The published warehouse
keeps ``fct_deductions`` in schema ``main``, and a rebuilt work database in
schema ``marts``; the comparison reads whichever of the two exists.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

logger = logging.getLogger(__name__)

# One row per deduction id found in either file. A deduction missing from one
# side shows "(none)" as its category, validity and status there.
COMPARE_SQL = """
with current_deductions as (
    select
        deduction_id,
        customer_id,
        deduction_amount,
        category,
        validity,
        status,
        valid_amount,
        invalid_amount
    from published_deductions
),

rebuilt_deductions as (
    select
        deduction_id,
        customer_id,
        deduction_amount,
        category,
        validity,
        status,
        valid_amount,
        invalid_amount
    from rebuilt_deductions_source
),

paired as (
    select
        coalesce(rebuilt.deduction_id, published.deduction_id) as deduction_id,
        coalesce(rebuilt.customer_id, published.customer_id) as customer_id,
        coalesce(rebuilt.deduction_amount, published.deduction_amount)
            as deduction_amount,
        coalesce(published.category, '(none)') as current_category,
        coalesce(rebuilt.category, '(none)') as new_category,
        coalesce(published.validity, '(none)') as current_validity,
        coalesce(rebuilt.validity, '(none)') as new_validity,
        coalesce(published.status, '(none)') as current_status,
        coalesce(rebuilt.status, '(none)') as new_status,
        coalesce(published.valid_amount, 0) as current_valid_amount,
        coalesce(rebuilt.valid_amount, 0) as new_valid_amount,
        coalesce(published.invalid_amount, 0) as current_invalid_amount,
        coalesce(rebuilt.invalid_amount, 0) as new_invalid_amount
    from current_deductions as published
    full outer join rebuilt_deductions as rebuilt
        on published.deduction_id = rebuilt.deduction_id
),

moved as (
    select *
    from paired
    where
        deduction_id not in (select deduction_id from left_out_deductions)
        and (current_category <> new_category
        or current_validity <> new_validity
        or current_status <> new_status
        or current_valid_amount <> new_valid_amount
        or current_invalid_amount <> new_invalid_amount)
),

final as (
    select
        coalesce(customer_id, '(none)') as customer_id,
        current_category,
        new_category,
        current_validity,
        new_validity,
        current_status,
        new_status,
        count(*) as deductions,
        cast(sum(deduction_amount) as decimal(18, 2)) as deduction_amount,
        cast(sum(new_valid_amount - current_valid_amount) as decimal(18, 2))
            as valid_amount_change,
        cast(sum(new_invalid_amount - current_invalid_amount) as decimal(18, 2))
            as invalid_amount_change,
        cast(sum(new_invalid_amount) as decimal(18, 2)) as new_invalid_amount
    from moved
    group by all
)

select * from final
order by
    customer_id, current_category, new_category, current_validity, new_validity,
    current_status, new_status
"""

TOTALS_SQL = """
select
    (select count(*) from published_deductions) as published_count,
    (select count(*) from rebuilt_deductions_source) as rebuilt_count
"""

FIND_TABLE_SQL = """
select schema_name
from duckdb_tables()
where database_name = ? and table_name = 'fct_deductions'
"""

# Schemas searched for fct_deductions, in order, with the view that points each
# attached file's table under a fixed name.
DEDUCTION_SCHEMAS = ("main", "marts")
VIEW_SQL = {
    ("published_warehouse", "main"): "create temp view published_deductions as "
    "select * from published_warehouse.main.fct_deductions",
    ("published_warehouse", "marts"): "create temp view published_deductions as "
    "select * from published_warehouse.marts.fct_deductions",
    ("rebuilt_warehouse", "main"): "create temp view rebuilt_deductions_source as "
    "select * from rebuilt_warehouse.main.fct_deductions",
    ("rebuilt_warehouse", "marts"): "create temp view rebuilt_deductions_source as "
    "select * from rebuilt_warehouse.marts.fct_deductions",
}


# Columns of the printed table from this one on are numbers, aligned right.
FIRST_NUMBER_COLUMN = 4


class PreviewError(RuntimeError):
    """A warehouse file cannot be compared."""


@dataclass(frozen=True)
class Movement:
    """Deductions of one customer that move between the same categories, validities and statuses."""

    customer_id: str
    current_category: str
    new_category: str
    current_validity: str
    new_validity: str
    current_status: str
    new_status: str
    deductions: int
    deduction_amount: Decimal
    valid_amount_change: Decimal
    invalid_amount_change: Decimal
    # The invalid amount of these deductions under the new rules. For a move
    # to written_off, that is the money written off.
    new_invalid_amount: Decimal


@dataclass(frozen=True)
class StatusMove:
    """Totals of the moved deductions that share a current and a new status."""

    current_status: str
    new_status: str
    deductions: int
    deduction_amount: Decimal
    new_invalid_amount: Decimal


@dataclass(frozen=True)
class PreviewReport:
    """Changes that new rules would make, compared with the published warehouse."""

    published_count: int
    rebuilt_count: int
    movements: list[Movement] = field(default_factory=list)
    # Deductions with review decisions newer than the published warehouse,
    # which the comparison leaves out (see decided_since_last_run).
    left_out: list[str] = field(default_factory=list)

    @property
    def moved_count(self) -> int:
        return sum(movement.deductions for movement in self.movements)

    @property
    def moved_amount(self) -> Decimal:
        return sum((m.deduction_amount for m in self.movements), Decimal("0.00"))

    @property
    def valid_amount_change(self) -> Decimal:
        return sum((m.valid_amount_change for m in self.movements), Decimal("0.00"))

    def status_moves(self) -> list[StatusMove]:
        """Return the count, amount and new invalid amount of each status move."""
        zero = Decimal("0.00")
        totals: dict[tuple[str, str], tuple[int, Decimal, Decimal]] = {}
        for m in self.movements:
            count, amount, invalid = totals.get((m.current_status, m.new_status), (0, zero, zero))
            totals[(m.current_status, m.new_status)] = (
                count + m.deductions,
                amount + m.deduction_amount,
                invalid + m.new_invalid_amount,
            )
        return [
            StatusMove(current, new, *values)
            for (current, new), values in sorted(totals.items())
        ]

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data with amounts as text."""
        return {
            "published_count": self.published_count,
            "rebuilt_count": self.rebuilt_count,
            "moved_count": self.moved_count,
            "moved_amount": str(self.moved_amount),
            "valid_amount_change": str(self.valid_amount_change),
            "left_out_deductions": list(self.left_out),
            "status_moves": [
                {
                    name: str(value) if isinstance(value, Decimal) else value
                    for name, value in asdict(move).items()
                }
                for move in self.status_moves()
            ],
            "movements": [
                {
                    name: str(value) if isinstance(value, Decimal) else value
                    for name, value in asdict(movement).items()
                }
                for movement in self.movements
            ],
        }


def compare_warehouses(
    published: Path, rebuilt: Path, left_out: list[str] | None = None
) -> PreviewReport:
    """Compare ``fct_deductions`` of two DuckDB files, opening both read-only.

    The deductions of ``left_out`` are not compared and are listed in the
    report instead.
    """
    left_out = sorted(set(left_out or []))
    conn = duckdb.connect()
    try:
        conn.execute("attach ? as published_warehouse (read_only)", [str(published)])
        conn.execute("attach ? as rebuilt_warehouse (read_only)", [str(rebuilt)])
        for database in ("published_warehouse", "rebuilt_warehouse"):
            conn.execute(VIEW_SQL[(database, _deductions_schema(conn, database))])
        conn.execute(
            "create temp table left_out_deductions as"
            " select unnest(cast(? as varchar[])) as deduction_id",
            [left_out],
        )
        published_count, rebuilt_count = conn.execute(TOTALS_SQL).fetchone()
        movements = [Movement(*row) for row in conn.execute(COMPARE_SQL).fetchall()]
    finally:
        conn.close()
    logger.info(
        "compared %s with %s: %d movement rows", published, rebuilt, len(movements)
    )
    return PreviewReport(published_count, rebuilt_count, movements, left_out)


def decided_since_last_run(work_db: Path, state_db: Path) -> list[str]:
    """Return the deductions with review decisions that the last run did not take in.

    The published warehouse shows the decisions of the last run's snapshot
    (``raw.decision_log`` of the work database), so a decision made since
    would show as a move caused by the rules.
    """
    from shortpay.review.log import has_decision_log
    from shortpay.state import state_connection

    if not state_db.exists():
        return []
    work = duckdb.connect(str(work_db), read_only=True)
    try:
        last_sequence = work.execute(
            "select coalesce(max(sequence), -1) from raw.decision_log"
        ).fetchone()[0]
    except duckdb.CatalogException:
        last_sequence = -1
    finally:
        work.close()
    with state_connection(state_db, read_only=True) as state:
        if not has_decision_log(state):
            return []
        rows = state.execute(
            "select distinct deduction_id from decision_log"
            " where sequence > ? and deduction_id is not null order by deduction_id",
            [last_sequence],
        ).fetchall()
    return [deduction_id for (deduction_id,) in rows]


def _deductions_schema(conn: duckdb.DuckDBPyConnection, database: str) -> str:
    found = {row[0] for row in conn.execute(FIND_TABLE_SQL, [database]).fetchall()}
    for schema in DEDUCTION_SCHEMAS:
        if schema in found:
            return schema
    raise PreviewError(
        f"table fct_deductions not found in {database.replace('_', ' ')} "
        f"(looked in schemas {', '.join(DEDUCTION_SCHEMAS)})"
    )


def format_report(report: PreviewReport) -> str:
    """Render a report as the plain-text table that ``shortpay rules preview`` prints."""
    lines = [
        f"deductions: {report.published_count} published, {report.rebuilt_count} "
        "under the new rules",
        f"would move: {report.moved_count} deductions, amount {report.moved_amount}, "
        f"valid amount change {report.valid_amount_change}",
    ]
    if report.left_out:
        listed_ids = ", ".join(report.left_out[:5]) + (", ..." if len(report.left_out) > 5 else "")
        lines.append(
            f"left out: {len(report.left_out)} deductions with review decisions since the last"
            f" run ({listed_ids}); run `shortpay run` to include them"
        )
    if not report.movements:
        lines.append("no deduction changes category, validity, status or amounts")
        return "\n".join(lines) + "\n"
    header = (
        "customer", "category", "validity", "status", "count", "amount", "valid change",
        "invalid change",
    )
    rows = [header] + [
        (
            m.customer_id,
            f"{m.current_category} -> {m.new_category}",
            f"{m.current_validity} -> {m.new_validity}",
            f"{m.current_status} -> {m.new_status}",
            str(m.deductions),
            str(m.deduction_amount),
            str(m.valid_amount_change),
            str(m.invalid_amount_change),
        )
        for m in report.movements
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines.append("")
    for row in rows:
        cells = [
            cell.rjust(width) if index >= FIRST_NUMBER_COLUMN else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    # The invalid amount is the new one: for a move to written_off, the
    # money written off, which leaves out the valid part of a split deduction.
    moves = [("status", "count", "amount", "invalid amount")] + [
        (f"{move.current_status} -> {move.new_status}", str(move.deductions),
         str(move.deduction_amount), str(move.new_invalid_amount))
        for move in report.status_moves()
    ]
    widths = [max(len(row[i]) for row in moves) for i in range(4)]
    lines += ["", "by status:"]
    for move_name, *numbers in moves:
        cells = [move_name.ljust(widths[0])] + [
            number.rjust(width) for number, width in zip(numbers, widths[1:], strict=True)
        ]
        lines.append("  " + "  ".join(cells))
    return "\n".join(lines) + "\n"
