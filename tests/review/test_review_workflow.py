"""Review workflow: status transitions, splits, four-eyes approval and settings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shortpay.review.log import read_decisions
from shortpay.review.workflow import (
    DeductionState,
    ExceptionState,
    ReviewError,
    decide_deduction,
    decide_exception,
    read_four_eyes_amount,
)
from shortpay.settings import DEFAULT_RULES_DIR

SMALL = DeductionState("D1", Decimal("120.00"), Decimal("0.00"), Decimal("0.00"), "open", "ana")
LARGE = DeductionState("D2", Decimal("7500.00"), Decimal("0.00"), Decimal("7500.00"), "open", "ana")
EXCEPTION = ExceptionState("E1", "open", "ana", Decimal("120.00"))


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("approve", "approved"),
        ("dispute", "disputed"),
        ("write_off", "written_off"),
        ("close", "closed"),
        ("assign", "open"),
        ("note", "open"),
        ("request_backup", "open"),
        ("propose", "open"),
    ],
)
def test_status_follows_action(tmp_path, action, status):
    decision = decide_deduction(
        tmp_path / "state.duckdb",
        SMALL,
        action,
        "ana",
        assignee="ben" if action == "assign" else None,
    )

    assert decision.status_before == "open"
    assert decision.status_after == status


def test_dispute_then_recovered_then_reopen(tmp_path):
    state_db = tmp_path / "state.duckdb"
    decide_deduction(state_db, SMALL, "dispute", "ana", reason="proof of delivery signed")
    recovered = decide_deduction(state_db, SMALL, "recovered", "ana")
    reopened = decide_deduction(state_db, SMALL, "reopen", "ben", reason="credit bounced")

    assert recovered.status_before == "disputed"
    assert recovered.status_after == "recovered"
    assert reopened.status_after == "open"


def test_recovered_needs_dispute(tmp_path):
    with pytest.raises(ReviewError, match="only a disputed deduction can be marked recovered"):
        decide_deduction(tmp_path / "state.duckdb", SMALL, "recovered", "ana")


def test_closed_deduction_rejects_approve(tmp_path):
    state_db = tmp_path / "state.duckdb"
    decide_deduction(state_db, SMALL, "close", "ana")

    with pytest.raises(ReviewError, match="D1 is closed: reopen it before you approve it"):
        decide_deduction(state_db, SMALL, "approve", "ana")


def test_approve_sets_whole_amount_valid(tmp_path):
    decision = decide_deduction(tmp_path / "state.duckdb", SMALL, "approve", "ana")

    assert decision.amount == Decimal("120.00")
    assert decision.valid_amount_before == Decimal("0.00")
    assert decision.invalid_amount_before == Decimal("0.00")
    assert decision.valid_amount_after == Decimal("120.00")
    assert decision.invalid_amount_after == Decimal("0.00")


def test_partial_dispute_splits_amount(tmp_path):
    decision = decide_deduction(
        tmp_path / "state.duckdb", SMALL, "dispute", "ana", valid_amount=Decimal("20.50")
    )

    assert decision.valid_amount_after == Decimal("20.50")
    assert decision.invalid_amount_after == Decimal("99.50")


def test_split_above_amount_rejected(tmp_path):
    state_db = tmp_path / "state.duckdb"
    with pytest.raises(ReviewError, match=r"expected 0\.00 to 120\.00"):
        decide_deduction(state_db, SMALL, "approve", "ana", valid_amount=Decimal("120.01"))

    assert read_decisions(state_db) == []


def test_note_keeps_amounts_of_last_decision(tmp_path):
    state_db = tmp_path / "state.duckdb"
    decide_deduction(state_db, SMALL, "dispute", "ana", valid_amount=Decimal("20.00"))

    noted = decide_deduction(state_db, SMALL, "note", "ben", reason="customer called")

    assert noted.status_after == "disputed"
    assert noted.valid_amount_before == Decimal("20.00")
    assert noted.valid_amount_after == Decimal("20.00")
    assert noted.invalid_amount_after == Decimal("100.00")


def test_assign_records_assignee(tmp_path):
    decision = decide_deduction(tmp_path / "state.duckdb", SMALL, "assign", "ana", assignee="ben")

    assert decision.assignee == "ben"


def test_assign_needs_assignee(tmp_path):
    with pytest.raises(ReviewError, match="assign needs an assignee"):
        decide_deduction(tmp_path / "state.duckdb", SMALL, "assign", "ana")


def test_missing_actor_rejected(tmp_path):
    with pytest.raises(ReviewError, match="missing actor"):
        decide_deduction(tmp_path / "state.duckdb", SMALL, "note", "")


def test_four_eyes_needs_proposal(tmp_path):
    state_db = tmp_path / "state.duckdb"
    with pytest.raises(ReviewError, match="run `shortpay review propose D2` first"):
        decide_deduction(state_db, LARGE, "approve", "ana")

    assert read_decisions(state_db) == []


def test_four_eyes_rejects_same_person(tmp_path):
    state_db = tmp_path / "state.duckdb"
    decide_deduction(state_db, LARGE, "propose", "ana", reason="price list was outdated")

    with pytest.raises(
        ReviewError,
        match=(
            "deduction D2 amount 7500.00 is above the four-eyes amount 5000.00: "
            "ana proposed it, so someone else must approve it"
        ),
    ):
        decide_deduction(state_db, LARGE, "approve", "ana")

    assert [item.action for item in read_decisions(state_db)] == ["propose"]


@pytest.mark.parametrize("same_person", ["ANA", " ana ", "Ana"])
def test_four_eyes_same_person_any_spelling(tmp_path, same_person):
    state_db = tmp_path / "state.duckdb"
    decide_deduction(state_db, LARGE, "propose", "ana")

    with pytest.raises(ReviewError, match="proposed it, so someone else must approve it"):
        decide_deduction(state_db, LARGE, "approve", same_person)

    assert [item.action for item in read_decisions(state_db)] == ["propose"]


def test_four_eyes_accepts_second_person(tmp_path):
    state_db = tmp_path / "state.duckdb"
    decide_deduction(state_db, LARGE, "propose", "ana")

    decision = decide_deduction(state_db, LARGE, "approve", "ben")

    assert decision.status_after == "approved"
    assert decision.valid_amount_after == Decimal("7500.00")


def test_four_eyes_proposal_ends_with_dispute(tmp_path):
    state_db = tmp_path / "state.duckdb"
    decide_deduction(state_db, LARGE, "propose", "ana")
    decide_deduction(state_db, LARGE, "dispute", "ben")
    decide_deduction(state_db, LARGE, "reopen", "ben")

    with pytest.raises(ReviewError, match="propose D2` first"):
        decide_deduction(state_db, LARGE, "approve", "ben")


def test_four_eyes_covers_write_off(tmp_path):
    with pytest.raises(ReviewError, match="propose D2` first"):
        decide_deduction(tmp_path / "state.duckdb", LARGE, "write_off", "ana")


def test_four_eyes_threshold_is_exclusive(tmp_path):
    at_limit = DeductionState("D9", Decimal("5000.00"), None, None, "open", None)

    decision = decide_deduction(tmp_path / "state.duckdb", at_limit, "approve", "ana")

    assert decision.status_after == "approved"


def test_four_eyes_amount_from_argument(tmp_path):
    with pytest.raises(ReviewError, match="four-eyes amount 100.00"):
        decide_deduction(
            tmp_path / "state.duckdb", SMALL, "approve", "ana", four_eyes_amount=Decimal("100.00")
        )


def test_exception_resolve_and_reopen(tmp_path):
    state_db = tmp_path / "state.duckdb"
    resolved = decide_exception(state_db, EXCEPTION, "resolve", "ana", reason="duplicate")
    reopened = decide_exception(state_db, EXCEPTION, "reopen", "ben")

    assert resolved.status_after == "resolved"
    assert resolved.exception_id == "E1"
    assert resolved.deduction_id is None
    assert reopened.status_after == "open"


def test_exception_resolved_twice_rejected(tmp_path):
    state_db = tmp_path / "state.duckdb"
    decide_exception(state_db, EXCEPTION, "resolve", "ana")

    with pytest.raises(ReviewError, match="E1 is already resolved"):
        decide_exception(state_db, EXCEPTION, "resolve", "ana")


def test_exception_rejects_deduction_action(tmp_path):
    with pytest.raises(ReviewError, match="unknown exception action 'approve'"):
        decide_exception(tmp_path / "state.duckdb", EXCEPTION, "approve", "ana")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("four_eyes_amount: 2500.00\n", Decimal("2500.00")),
        ("settings:\n  four_eyes_amount: 1234.5\n", Decimal("1234.50")),
        ("settings:\n  - key: four_eyes_amount\n    value: '750.00'\n", Decimal("750.00")),
        ("- id: four_eyes_amount\n  value: 10000.00\n  description: x\n", Decimal("10000.00")),
        ("four_eyes_amount:\n  value: 42.00\n  description: x\n", Decimal("42.00")),
        ("settings:\n  four_eyes_amount:\n    value: 2500.00\n", Decimal("2500.00")),
        ("reporting_currency: USD\n", Decimal("5000.00")),
    ],
)
def test_read_four_eyes_amount(tmp_path, text, expected):
    (tmp_path / "settings.yaml").write_text(text, encoding="utf-8")

    assert read_four_eyes_amount(tmp_path) == expected


def test_read_four_eyes_amount_default(tmp_path):
    assert read_four_eyes_amount(tmp_path) == Decimal("5000.00")


def test_read_four_eyes_amount_invalid(tmp_path):
    (tmp_path / "settings.yaml").write_text("four_eyes_amount: lots\n", encoding="utf-8")

    with pytest.raises(ReviewError, match="invalid four_eyes_amount 'lots'"):
        read_four_eyes_amount(tmp_path)


def test_read_four_eyes_amount_of_shipped_rules():
    assert read_four_eyes_amount(DEFAULT_RULES_DIR) == Decimal("5000.00")
