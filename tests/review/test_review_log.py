"""Decision log: append, hash chain and verification."""

from __future__ import annotations

from decimal import Decimal

import duckdb

from shortpay.review.log import (
    GENESIS_HASH,
    append_decision,
    compute_entry_hash,
    read_decisions,
    verify_chain,
)


def note(deduction_id: str, reason: str) -> dict:
    return {
        "deduction_id": deduction_id,
        "action": "note",
        "actor": "ana",
        "reason": reason,
        "amount": Decimal("120.00"),
        "valid_amount_before": Decimal("0.00"),
        "invalid_amount_before": Decimal("0.00"),
        "valid_amount_after": Decimal("0.00"),
        "invalid_amount_after": Decimal("0.00"),
        "status_before": "open",
        "status_after": "open",
    }


def test_append_chains_entries(tmp_path):
    state_db = tmp_path / "state.duckdb"

    first = append_decision(state_db, note("D1", "called the buyer"))
    second = append_decision(state_db, note("D1", "buyer sends proof"))

    assert first.sequence == 1
    assert second.sequence == 2
    assert first.previous_hash == GENESIS_HASH
    assert second.previous_hash == first.entry_hash
    assert second.entry_hash == compute_entry_hash(second.__dict__)
    assert read_decisions(state_db) == [first, second]


def test_read_decisions_missing_database(tmp_path):
    state_db = tmp_path / "absent.duckdb"

    assert read_decisions(state_db) == []
    assert not state_db.exists()


def test_read_decisions_filters_by_id(tmp_path):
    state_db = tmp_path / "state.duckdb"
    append_decision(state_db, note("D1", "a"))
    second = append_decision(state_db, note("D2", "b"))
    exception = append_decision(
        state_db, {"exception_id": "E1", "action": "note", "actor": "ana", "reason": "c"}
    )

    assert read_decisions(state_db, deduction_ids=["D2"]) == [second]
    assert read_decisions(state_db, exception_ids=["E1"]) == [exception]
    assert read_decisions(state_db, deduction_ids=[]) == []


def test_amounts_round_trip_as_decimal(tmp_path):
    state_db = tmp_path / "state.duckdb"
    append_decision(state_db, note("D1", "x"))

    stored = read_decisions(state_db)[0]

    assert stored.amount == Decimal("120.00")
    assert isinstance(stored.amount, Decimal)
    assert stored.as_dict()["amount"] == "120.00"


def test_verify_accepts_untouched_log(tmp_path):
    state_db = tmp_path / "state.duckdb"
    for index in range(5):
        append_decision(state_db, note("D1", f"note {index}"))

    assert verify_chain(read_decisions(state_db)) == []


def test_verify_detects_changed_row(tmp_path):
    state_db = tmp_path / "state.duckdb"
    for index in range(4):
        append_decision(state_db, note("D1", f"note {index}"))
    connection = duckdb.connect(str(state_db))
    connection.execute("update decision_log set amount = 12.00 where sequence = 2")
    connection.close()

    problems = verify_chain(read_decisions(state_db))

    assert [(item.sequence, item.problem) for item in problems] == [
        (2, "entry_hash does not match the entry's values")
    ]


def test_verify_detects_recomputed_hash(tmp_path):
    # A row edited with a recomputed hash still breaks the link to the next row.
    state_db = tmp_path / "state.duckdb"
    for index in range(3):
        append_decision(state_db, note("D1", f"note {index}"))
    tampered = read_decisions(state_db)[0].__dict__ | {"reason": "edited"}
    new_hash = compute_entry_hash(tampered)
    connection = duckdb.connect(str(state_db))
    connection.execute(
        "update decision_log set reason = 'edited', entry_hash = ? where sequence = 1", [new_hash]
    )
    connection.close()

    problems = verify_chain(read_decisions(state_db))

    assert [(item.sequence, item.problem) for item in problems] == [
        (2, "previous_hash does not match the entry before it")
    ]


def test_verify_detects_deleted_row(tmp_path):
    state_db = tmp_path / "state.duckdb"
    for index in range(3):
        append_decision(state_db, note("D1", f"note {index}"))
    connection = duckdb.connect(str(state_db))
    connection.execute("delete from decision_log where sequence = 2")
    connection.close()

    problems = verify_chain(read_decisions(state_db))

    assert [(item.sequence, item.problem) for item in problems] == [
        (3, "sequence 3 found where 2 was expected"),
        (3, "previous_hash does not match the entry before it"),
    ]
