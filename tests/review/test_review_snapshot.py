"""snapshot_state and the review dbt models, run directly in DuckDB."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import duckdb
from review_db import render_model

from shortpay.review.log import COLUMN_NAMES, append_decision
from shortpay.review.snapshot import snapshot_state
from shortpay.review.workflow import (
    DeductionState,
    ExceptionState,
    decide_deduction,
    decide_exception,
)

D1 = DeductionState("D1", Decimal("120.00"), Decimal("0.00"), Decimal("0.00"), "open", "ana")
D2 = DeductionState("D2", Decimal("7500.00"), Decimal("0.00"), Decimal("7500.00"), "open", "ana")
D3 = DeductionState("D3", Decimal("40.00"), Decimal("0.00"), Decimal("0.00"), "open", "ben")
E1 = ExceptionState("E1", "open", "ana", Decimal("120.00"))
E3 = ExceptionState("E3", "open", None, None)


def snapshot_columns(connection) -> list[tuple[str, str]]:
    return connection.execute(
        """
        select column_name, data_type from duckdb_columns()
        where schema_name = 'raw' and table_name = 'decision_log'
        order by column_index
        """
    ).fetchall()


def write_decisions(state_db) -> None:
    decide_deduction(state_db, D1, "assign", "ana", assignee="carla")
    decide_deduction(state_db, D1, "dispute", "carla", valid_amount=Decimal("20.00"))
    decide_deduction(state_db, D1, "note", "carla", reason="buyer promised a credit")
    decide_deduction(state_db, D2, "propose", "ana")
    decide_deduction(state_db, D2, "approve", "ben")
    decide_deduction(state_db, D3, "dispute", "ben")
    decide_deduction(state_db, D3, "reopen", "ben")
    decide_exception(state_db, E1, "assign", "ana", assignee="carla")
    decide_exception(state_db, E1, "resolve", "carla")
    decide_exception(state_db, E3, "note", "ben", reason="asked sales for the address")


def run_model(connection, name: str) -> list[tuple]:
    return connection.execute(f"select * from ({render_model(name)}) order by 1").fetchall()


def test_snapshot_without_state_database(tmp_path):
    connection = duckdb.connect(str(tmp_path / "work.duckdb"))

    copied = snapshot_state(tmp_path / "missing" / "state.duckdb", connection)

    assert copied == 0
    assert [name for name, _ in snapshot_columns(connection)] == COLUMN_NAMES
    assert connection.execute("select count(*) from raw.decision_log").fetchone()[0] == 0
    assert not (tmp_path / "missing" / "state.duckdb").exists()
    connection.close()


def test_snapshot_without_log_table(tmp_path):
    state_db = tmp_path / "state.duckdb"
    duckdb.connect(str(state_db)).close()
    connection = duckdb.connect(str(tmp_path / "work.duckdb"))

    assert snapshot_state(state_db, connection) == 0
    assert [name for name, _ in snapshot_columns(connection)] == COLUMN_NAMES
    connection.close()


def test_snapshot_copies_rows_and_types(tmp_path):
    state_db = tmp_path / "state.duckdb"
    write_decisions(state_db)
    connection = duckdb.connect(str(tmp_path / "work.duckdb"))

    copied = snapshot_state(state_db, connection)

    assert copied == 10
    types = dict(snapshot_columns(connection))
    assert types["amount"] == "DECIMAL(18,2)"
    assert types["valid_amount_after"] == "DECIMAL(18,2)"
    assert types["sequence"] == "BIGINT"
    assert types["decided_at"] == "TIMESTAMP WITH TIME ZONE"
    sequences = connection.execute("select sequence from raw.decision_log order by 1").fetchall()
    assert [row[0] for row in sequences] == list(range(1, 11))
    connection.close()


def test_snapshot_replaces_previous_copy(tmp_path):
    state_db = tmp_path / "state.duckdb"
    write_decisions(state_db)
    connection = duckdb.connect(str(tmp_path / "work.duckdb"))
    snapshot_state(state_db, connection)
    append_decision(state_db, {"deduction_id": "D3", "action": "note", "actor": "ben"})

    assert snapshot_state(state_db, connection) == 11
    assert connection.execute("select count(*) from raw.decision_log").fetchone()[0] == 11
    connection.close()


def test_deduction_model_rows(tmp_path):
    state_db = tmp_path / "state.duckdb"
    write_decisions(state_db)
    connection = duckdb.connect(str(tmp_path / "work.duckdb"))
    snapshot_state(state_db, connection)

    rows = {row[0]: row for row in run_model(connection, "int_deduction_decisions")}

    columns = [
        "deduction_id",
        "status",
        "last_action",
        "last_decided_at",
        "first_decided_at",
        "resolved_at",
        "assignee",
        "decided_valid_amount",
        "decided_invalid_amount",
    ]
    relation = connection.sql(f"select * from ({render_model('int_deduction_decisions')})")
    assert relation.columns == columns
    assert relation.types[7] == "DECIMAL(18,2)"
    assert sorted(rows) == ["D1", "D2", "D3"]
    d1, d2, d3 = rows["D1"], rows["D2"], rows["D3"]
    assert d1[1:3] == ("disputed", "note")
    assert d1[5] is None
    assert d1[6] == "carla"
    assert d1[7:] == (Decimal("20.00"), Decimal("100.00"))
    assert d2[1:3] == ("approved", "approve")
    assert isinstance(d2[5], datetime)
    assert d2[5] == d2[3]
    # The proposal before the approval decided nothing.
    assert d2[4] == d2[3]
    assert d2[6] is None
    assert d2[7:] == (Decimal("7500.00"), Decimal("0.00"))
    assert d3[1:3] == ("open", "reopen")
    assert d3[7:] == (None, None)
    assert d1[4] < d1[3]
    connection.close()


def test_assignment_alone_decides_nothing(tmp_path):
    state_db = tmp_path / "state.duckdb"
    deduction = DeductionState(
        "D4", Decimal("9.00"), Decimal("0.00"), Decimal("0.00"), "open", "ana"
    )
    decide_deduction(state_db, deduction, "assign", "ana", assignee="carla")
    decide_deduction(state_db, deduction, "note", "carla", reason="called the buyer")
    connection = duckdb.connect(str(tmp_path / "work.duckdb"))
    snapshot_state(state_db, connection)

    (row,) = run_model(connection, "int_deduction_decisions")

    assert row[:3] == ("D4", "open", "note")
    assert row[4] is None
    assert row[6] == "carla"
    connection.close()


def test_exception_model_rows(tmp_path):
    state_db = tmp_path / "state.duckdb"
    write_decisions(state_db)
    connection = duckdb.connect(str(tmp_path / "work.duckdb"))
    snapshot_state(state_db, connection)

    rows = run_model(connection, "int_exception_decisions")

    assert [row[:3] for row in rows] == [("E1", "resolved", "carla"), ("E3", "open", None)]
    relation = connection.sql(f"select * from ({render_model('int_exception_decisions')})")
    assert relation.columns == ["exception_id", "status", "assignee", "last_decided_at"]
    connection.close()


def test_models_on_empty_snapshot(tmp_path):
    connection = duckdb.connect(str(tmp_path / "work.duckdb"))
    snapshot_state(tmp_path / "state.duckdb", connection)

    assert run_model(connection, "int_deduction_decisions") == []
    assert run_model(connection, "int_exception_decisions") == []
    connection.close()


def test_decisions_survive_rebuilds(tmp_path):
    state_db = tmp_path / "state.duckdb"
    write_decisions(state_db)
    results = []
    for _ in range(2):
        # Each run throws the work database away and builds it again.
        work_db = tmp_path / "work.duckdb"
        work_db.unlink(missing_ok=True)
        connection = duckdb.connect(str(work_db))
        snapshot_state(state_db, connection)
        snapshot_state(state_db, connection)
        results.append(
            (
                run_model(connection, "int_deduction_decisions"),
                run_model(connection, "int_exception_decisions"),
            )
        )
        connection.close()

    assert results[0] == results[1]
    assert [(row[0], row[1]) for row in results[0][0]] == [
        ("D1", "disputed"),
        ("D2", "approved"),
        ("D3", "open"),
    ]
