"""Tests of the rule preview comparison on two small DuckDB files."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from shortpay.rules.preview import (
    Movement,
    PreviewError,
    StatusMove,
    compare_warehouses,
    decided_since_last_run,
    format_report,
)

CREATE = """
create table fct_deductions (
    deduction_id varchar, customer_id varchar, deduction_amount decimal(18, 2),
    category varchar, validity varchar, status varchar, valid_amount decimal(18, 2),
    invalid_amount decimal(18, 2)
)
"""

PUBLISHED = [
    ("D1", "C1", "100.00", "pricing", "valid", "approved", "100.00", "0.00"),
    ("D2", "C1", "40.50", "unidentified", "needs_review", "open", "0.00", "0.00"),
    ("D3", "C1", "10.25", "unidentified", "needs_review", "open", "0.00", "0.00"),
    ("D4", "C2", "75.00", "shortage", "valid", "approved", "75.00", "0.00"),
    ("D5", "C2", "20.00", "damage", "needs_review", "open", "0.00", "0.00"),
    ("D6", "C3", "5.00", "tax", "valid", "approved", "5.00", "0.00"),
    ("D8", "C4", "0.40", "unidentified", "invalid", "open", "0.00", "0.40"),
]

# D8 stays invalid, but a new tolerance writes it off: only its status moves.
REBUILT = [
    ("D1", "C1", "100.00", "pricing", "valid", "approved", "100.00", "0.00"),
    ("D2", "C1", "40.50", "compliance_fine", "invalid", "open", "0.00", "40.50"),
    ("D3", "C1", "10.25", "compliance_fine", "invalid", "open", "0.00", "10.25"),
    ("D4", "C2", "75.00", "shortage", "valid", "approved", "60.00", "15.00"),
    ("D5", "C2", "20.00", "damage", "needs_review", "open", "0.00", "0.00"),
    ("D7", "C3", "9.99", "freight", "needs_review", "open", "0.00", "0.00"),
    ("D8", "C4", "0.40", "unidentified", "invalid", "written_off", "0.00", "0.40"),
]


def build_warehouse(path: Path, rows: list[tuple]) -> Path:
    conn = duckdb.connect(str(path))
    conn.execute(CREATE)
    conn.executemany("insert into fct_deductions values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.close()
    return path


def test_preview_lists_movements(tmp_path: Path):
    published = build_warehouse(tmp_path / "warehouse.duckdb", PUBLISHED)
    rebuilt = build_warehouse(tmp_path / "rebuilt.duckdb", REBUILT)

    report = compare_warehouses(published, rebuilt)

    assert report.published_count == 7
    assert report.rebuilt_count == 7
    assert report.movements == [
        Movement(
            "C1", "unidentified", "compliance_fine", "needs_review", "invalid", "open", "open",
            2, Decimal("50.75"), Decimal("0.00"), Decimal("50.75"), Decimal("50.75"),
        ),
        Movement(
            "C2", "shortage", "shortage", "valid", "valid", "approved", "approved",
            1, Decimal("75.00"), Decimal("-15.00"), Decimal("15.00"), Decimal("15.00"),
        ),
        Movement(
            "C3", "(none)", "freight", "(none)", "needs_review", "(none)", "open",
            1, Decimal("9.99"), Decimal("0.00"), Decimal("0.00"), Decimal("0.00"),
        ),
        Movement(
            "C3", "tax", "(none)", "valid", "(none)", "approved", "(none)",
            1, Decimal("5.00"), Decimal("-5.00"), Decimal("0.00"), Decimal("0.00"),
        ),
        Movement(
            "C4", "unidentified", "unidentified", "invalid", "invalid", "open", "written_off",
            1, Decimal("0.40"), Decimal("0.00"), Decimal("0.00"), Decimal("0.40"),
        ),
    ]
    assert report.moved_count == 6
    assert report.moved_amount == Decimal("141.14")
    assert report.valid_amount_change == Decimal("-20.00")
    assert report.status_moves() == [
        StatusMove("(none)", "open", 1, Decimal("9.99"), Decimal("0.00")),
        StatusMove("approved", "(none)", 1, Decimal("5.00"), Decimal("0.00")),
        StatusMove("approved", "approved", 1, Decimal("75.00"), Decimal("15.00")),
        StatusMove("open", "open", 2, Decimal("50.75"), Decimal("50.75")),
        StatusMove("open", "written_off", 1, Decimal("0.40"), Decimal("0.40")),
    ]
    assert report.as_dict()["status_moves"][-1] == {
        "current_status": "open", "new_status": "written_off",
        "deductions": 1, "deduction_amount": "0.40", "new_invalid_amount": "0.40",
    }


def test_preview_leaves_files_unchanged(tmp_path: Path):
    published = build_warehouse(tmp_path / "warehouse.duckdb", PUBLISHED)
    rebuilt = build_warehouse(tmp_path / "rebuilt.duckdb", REBUILT)
    before = (published.read_bytes(), rebuilt.read_bytes())

    compare_warehouses(published, rebuilt)

    assert (published.read_bytes(), rebuilt.read_bytes()) == before


def test_preview_identical_files(tmp_path: Path):
    published = build_warehouse(tmp_path / "warehouse.duckdb", PUBLISHED)
    rebuilt = build_warehouse(tmp_path / "rebuilt.duckdb", PUBLISHED)

    report = compare_warehouses(published, rebuilt)

    assert report.movements == []
    assert format_report(report) == (
        "deductions: 7 published, 7 under the new rules\n"
        "would move: 0 deductions, amount 0.00, valid amount change 0.00\n"
        "no deduction changes category, validity, status or amounts\n"
    )


def test_preview_report_text(tmp_path: Path):
    published = build_warehouse(tmp_path / "warehouse.duckdb", PUBLISHED[:3])
    rebuilt = build_warehouse(tmp_path / "rebuilt.duckdb", REBUILT[:3])

    text = format_report(compare_warehouses(published, rebuilt))

    assert text == (
        "deductions: 3 published, 3 under the new rules\n"
        "would move: 2 deductions, amount 50.75, valid amount change 0.00\n"
        "\n"
        "customer  category                         validity                 status        count"
        "  amount  valid change  invalid change\n"
        "C1        unidentified -> compliance_fine  needs_review -> invalid  open -> open      2"
        "   50.75          0.00           50.75\n"
        "\n"
        "by status:\n"
        "  status        count  amount  invalid amount\n"
        "  open -> open      2   50.75           50.75\n"
    )


def test_preview_reads_marts_schema(tmp_path: Path):
    published = build_warehouse(tmp_path / "warehouse.duckdb", PUBLISHED[:2])
    rebuilt = tmp_path / "work.duckdb"
    conn = duckdb.connect(str(rebuilt))
    conn.execute("create schema marts")
    conn.execute(CREATE.replace("fct_deductions", "marts.fct_deductions"))
    conn.executemany(
        "insert into marts.fct_deductions values (?, ?, ?, ?, ?, ?, ?, ?)", REBUILT[:2]
    )
    conn.close()

    report = compare_warehouses(published, rebuilt)

    assert report.moved_count == 1
    assert report.movements[0].new_category == "compliance_fine"


def test_preview_missing_table(tmp_path: Path):
    published = build_warehouse(tmp_path / "warehouse.duckdb", PUBLISHED)
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()

    with pytest.raises(PreviewError) as error:
        compare_warehouses(published, empty)

    assert str(error.value) == (
        "table fct_deductions not found in rebuilt warehouse (looked in schemas main, marts)"
    )


def test_preview_leaves_out_decided_deductions(tmp_path: Path):
    """A deduction decided since the last run is listed, not compared."""
    published = build_warehouse(tmp_path / "warehouse.duckdb", PUBLISHED)
    rebuilt = build_warehouse(tmp_path / "rebuilt.duckdb", REBUILT)

    report = compare_warehouses(published, rebuilt, ["D2", "D2"])

    assert report.movements[0] == Movement(
        "C1", "unidentified", "compliance_fine", "needs_review", "invalid", "open", "open",
        1, Decimal("10.25"), Decimal("0.00"), Decimal("10.25"), Decimal("10.25"),
    )
    assert report.moved_count == 5
    assert report.left_out == ["D2"]
    assert report.as_dict()["left_out_deductions"] == ["D2"]
    assert format_report(report).splitlines()[2] == (
        "left out: 1 deductions with review decisions since the last run (D2);"
        " run `shortpay run` to include them"
    )


def test_decisions_after_snapshot_found(tmp_path: Path):
    work_db, state_db = tmp_path / "work.duckdb", tmp_path / "state.duckdb"
    with duckdb.connect(str(work_db)) as conn:
        conn.execute("create schema raw")
        conn.execute("create table raw.decision_log (sequence bigint, deduction_id varchar)")
        conn.execute("insert into raw.decision_log values (1, 'D1'), (2, 'D2')")
    with duckdb.connect(str(state_db)) as conn:
        conn.execute("create table decision_log (sequence bigint, deduction_id varchar)")
        conn.execute(
            "insert into decision_log values (1, 'D1'), (2, 'D2'), (3, 'D9'), (4, null),"
            " (5, 'D3'), (6, 'D9')"
        )

    assert decided_since_last_run(work_db, state_db) == ["D3", "D9"]
    assert decided_since_last_run(work_db, tmp_path / "missing.duckdb") == []
