"""Cadence decisions: which step is due after which history."""

from __future__ import annotations

import datetime as dt

import pytest
from followup_cases import AS_OF, WorkData, deduction, write_queued_row

from shortpay.followups import outbox
from shortpay.followups.cadence import next_step
from shortpay.followups.config import Cadence
from shortpay.followups.outbox import StepRecord
from shortpay.followups.run import run_followups

CADENCE = Cadence(
    rule_id="cadence-test",
    trigger="invalid",
    reminder_days=(7, 14),
    escalate_after_reminders=2,
    escalation_days=7,
    stop_statuses=("approved", "recovered", "written_off", "closed"),
    stop_after_deadline=True,
)
DAY = dt.date(2026, 3, 2)


def sent(step: str, number: int, on: dt.date, status: str = "sent") -> StepRecord:
    return StepRecord("D1", step, number, status, on, on if status == "sent" else None)


@pytest.mark.parametrize(
    ("steps", "as_of", "expected"),
    [
        ([], DAY, ("first_notice", 0, 0)),
        ([sent("first_notice", 0, DAY)], DAY + dt.timedelta(days=6), None),
        ([sent("first_notice", 0, DAY)], DAY + dt.timedelta(days=7), ("reminder_1", 1, 1)),
        ([sent("first_notice", 0, DAY, "queued")], DAY + dt.timedelta(days=30), None),
        ([sent("first_notice", 0, DAY, "unknown")], DAY + dt.timedelta(days=30), None),
        ([sent("first_notice", 0, DAY, "failed")], DAY + dt.timedelta(days=30), None),
        ([sent("first_notice", 0, DAY), sent("reminder_1", 1, DAY)],
         DAY + dt.timedelta(days=13), None),
        ([sent("first_notice", 0, DAY), sent("reminder_1", 1, DAY)],
         DAY + dt.timedelta(days=14), ("reminder_2", 2, 2)),
        ([sent("first_notice", 0, DAY), sent("reminder_1", 1, DAY), sent("reminder_2", 2, DAY)],
         DAY + dt.timedelta(days=7), ("escalation", 3, 2)),
        ([sent("first_notice", 0, DAY), sent("reminder_1", 1, DAY), sent("reminder_2", 2, DAY),
          sent("escalation", 3, DAY)], DAY + dt.timedelta(days=300), None),
    ],
)
def test_next_step(steps, as_of, expected):
    assert next_step(CADENCE, steps, as_of) == expected


def test_no_escalation_stops_after_reminders():
    cadence = Cadence(**{**CADENCE.__dict__, "escalate_after_reminders": 0})
    steps = [sent("first_notice", 0, DAY), sent("reminder_1", 1, DAY), sent("reminder_2", 2, DAY)]

    assert next_step(cadence, steps, DAY + dt.timedelta(days=300)) is None


def test_escalation_without_second_contact(paths, rules_dir, work_db):
    conn = work_db(WorkData())
    for offset in (0, 7, 21, 28):
        run_followups(conn, paths, AS_OF + dt.timedelta(days=offset), rules_dir)

    escalation = outbox.read_messages(paths.state_db)[-1]

    assert escalation.step == "escalation"
    assert escalation.to_email == "ap@c1.example"
    assert escalation.cc_email is None
    assert escalation.subject.startswith("Escalation: unpaid deduction D1")


def test_interrupted_file_batch_redone_once(paths, rules_dir, work_db):
    conn = work_db(WorkData(deductions=[deduction("D1"), deduction("D2")]))
    write_queued_row(paths, conn, rules_dir)
    # A run that claimed the batch and then died leaves both rows in "sending".
    outbox.claim_batch(paths.state_db, "outbox", 500)

    summary = run_followups(conn, paths, AS_OF, rules_dir)

    assert summary.sent == 2
    assert summary.held_unknown == 0
    assert {row.status for row in outbox.read_messages(paths.state_db)} == {"sent"}
    assert len(list(paths.outbox_dir.glob("*.eml"))) == 2
