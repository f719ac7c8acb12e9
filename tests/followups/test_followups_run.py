"""run_followups with the outbox transport: first notice, cadence, exactly once."""

from __future__ import annotations

import datetime as dt
import email
from dataclasses import fields
from decimal import Decimal
from email import policy

import duckdb
from followup_cases import AS_OF, WorkData, customer, deduction, write_queued_row, write_work_db

from shortpay.followups import outbox
from shortpay.followups.data import _DEDUCTION_COLUMNS, Deduction
from shortpay.followups.run import run_followups
from shortpay.settings import Paths


def read_outbox(paths) -> list[outbox.OutboxMessage]:
    return outbox.read_messages(paths.state_db)


def test_first_notice_written_to_outbox(paths, rules_dir, work_db):
    conn = work_db(WorkData())

    summary = run_followups(conn, paths, AS_OF, rules_dir)

    assert summary.as_dict() == {
        "queued": 1, "sent": 1, "skipped": 0, "held_unknown": 0, "failed": 0,
        "suppressed": 0, "deferred": 0, "cancelled": 0,
    }
    [row] = read_outbox(paths)
    assert row.message_id == "D1:first_notice"
    assert row.status == "sent"
    assert row.attempts == 1
    assert row.transport == "outbox"
    assert row.to_email == "ap@c1.example"
    assert row.amount_claimed == Decimal("100.00")
    assert row.sent_on == AS_OF
    assert row.provider_message_id.startswith("<")
    emls = sorted(paths.outbox_dir.glob("*.eml"))
    letters = sorted(paths.outbox_dir.glob("*.letter.html"))
    assert len(emls) == 1
    assert len(letters) == 1
    parsed = email.message_from_bytes(emls[0].read_bytes(), policy=policy.default)
    assert parsed["To"] == "Pat Payables <ap@c1.example>"
    assert parsed["From"] == "Shortpay Accounts Receivable <deductions@shortpay.example>"
    assert parsed["Message-ID"] == row.provider_message_id
    assert parsed["Subject"] == "Deduction D1 of USD 100.00 from Customer C1: please repay"
    plain = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert "Proof of delivery shows all 10 cases delivered." in plain
    assert "POD-778" in html


def test_second_run_sends_nothing_new(paths, rules_dir, work_db):
    conn = work_db(WorkData())
    run_followups(conn, paths, AS_OF, rules_dir)
    files_before = sorted(p.name for p in paths.outbox_dir.iterdir())

    summary = run_followups(conn, paths, AS_OF, rules_dir)

    assert summary.queued == 0
    assert summary.sent == 0
    assert len(read_outbox(paths)) == 1
    assert sorted(p.name for p in paths.outbox_dir.iterdir()) == files_before


def test_trigger_selects_deductions(paths, rules_dir, work_db):
    conn = work_db(WorkData(deductions=[
        deduction("D-INVALID"),
        deduction("D-ZERO", invalid_amount=Decimal("0.00"), valid_amount=Decimal("100.00")),
        deduction("D-VALID", validity="valid", invalid_amount=Decimal("0.00")),
        deduction("D-REVIEW", validity="needs_review", invalid_amount=Decimal("0.00")),
        deduction("D-DISPUTED", validity="needs_review", invalid_amount=Decimal("0.00"),
                  status="disputed"),
        deduction("D-RECOVERED", status="recovered"),
        deduction("D-LATE", deadline_date=AS_OF - dt.timedelta(days=1)),
    ]))

    run_followups(conn, paths, AS_OF, rules_dir)

    assert [row.deduction_id for row in read_outbox(paths)] == ["D-DISPUTED", "D-INVALID"]


def test_disputed_trigger_ignores_invalid(paths, rules_dir, work_db):
    text = (rules_dir / "followups.yaml").read_text().replace("trigger: invalid",
                                                              "trigger: disputed")
    (rules_dir / "followups.yaml").write_text(text)
    conn = work_db(WorkData(deductions=[
        deduction("D-INVALID"),
        deduction("D-DISPUTED", status="disputed"),
    ]))

    run_followups(conn, paths, AS_OF, rules_dir)

    assert [row.deduction_id for row in read_outbox(paths)] == ["D-DISPUTED"]


def test_cadence_reminders_then_escalation(paths, rules_dir, work_db):
    text = (rules_dir / "followups.yaml").read_text() + (
        "  - id: contact-c1\n"
        "    description: Customer C1 escalates to its controller.\n"
        "    customer_id: C1\n"
        "    escalation_to: {email: controller@c1.example, name: The Controller}\n"
    )
    (rules_dir / "followups.yaml").write_text(text)
    conn = work_db(WorkData())
    steps_by_day = {}
    # The day before and the day of each step, plus one day after the last.
    for offset in (0, 6, 7, 20, 21, 27, 28, 29, 60):
        day = AS_OF + dt.timedelta(days=offset)
        summary = run_followups(conn, paths, day, rules_dir)
        if summary.sent:
            steps_by_day[offset] = [r.step for r in read_outbox(paths)][-1]

    # Reminders 7 and 14 days after the previous message, escalation 7 days later.
    assert steps_by_day == {0: "first_notice", 7: "reminder_1", 21: "reminder_2",
                            28: "escalation"}
    escalation = read_outbox(paths)[-1]
    assert escalation.to_email == "controller@c1.example"
    assert escalation.cc_email == "ap@c1.example"
    assert escalation.step_number == 3


def test_resolved_deduction_stops_reminders(paths, rules_dir, work_db):
    conn = work_db(WorkData())
    run_followups(conn, paths, AS_OF, rules_dir)
    conn = work_db(WorkData(deductions=[deduction("D1", status="recovered")]))

    summary = run_followups(conn, paths, AS_OF + dt.timedelta(days=30), rules_dir)

    assert summary.queued == 0
    assert [row.step for row in read_outbox(paths)] == ["first_notice"]


def test_queued_row_cancelled_when_resolved(paths, rules_dir, work_db):
    conn = work_db(WorkData())
    write_queued_row(paths, conn, rules_dir)
    conn = work_db(WorkData(deductions=[deduction("D1", status="written_off")]))

    summary = run_followups(conn, paths, AS_OF, rules_dir)

    assert summary.cancelled == 1
    assert summary.sent == 0
    [row] = read_outbox(paths)
    assert row.status == "cancelled"
    assert row.last_error == "status is written_off"
    assert list(paths.outbox_dir.glob("*.eml")) == []


def test_crash_after_queue_is_sent_once(paths, rules_dir, work_db):
    conn = work_db(WorkData())
    write_queued_row(paths, conn, rules_dir)
    assert [row.status for row in read_outbox(paths)] == ["queued"]

    summary = run_followups(conn, paths, AS_OF, rules_dir)

    assert summary.queued == 0
    assert summary.sent == 1
    assert [row.status for row in read_outbox(paths)] == ["sent"]
    assert len(list(paths.outbox_dir.glob("*.eml"))) == 1


def test_invalid_contact_is_skipped(paths, rules_dir, work_db):
    conn = work_db(WorkData(
        deductions=[deduction("D1"), deduction("D2", customer_id="C2")],
        customers=[customer("C1"), customer("C2", ar_contact_email="not an address")],
    ))

    summary = run_followups(conn, paths, AS_OF, rules_dir)

    assert summary.skipped == 1
    assert summary.sent == 1
    assert [row.deduction_id for row in read_outbox(paths)] == ["D1"]


def test_suppressed_address_never_queued(paths, rules_dir, work_db):
    outbox.add_suppressions(paths.state_db, [("AP@c1.example", "bounced", "cli")])
    conn = work_db(WorkData())

    summary = run_followups(conn, paths, AS_OF, rules_dir)

    assert summary.suppressed == 1
    assert summary.queued == 0
    assert read_outbox(paths) == []


def test_outbox_table_snapshot(paths, rules_dir, work_db):
    conn = work_db(WorkData())
    run_followups(conn, paths, AS_OF, rules_dir)

    copied = outbox.snapshot_outbox(paths.state_db, conn)

    assert copied == 1
    row = conn.execute("select deduction_id, step, status from raw.followup_outbox").fetchone()
    assert row == ("D1", "first_notice", "sent")


def test_published_warehouse_tables_are_read(paths, rules_dir, tmp_path):
    source = tmp_path / "source.duckdb"
    write_work_db(source, WorkData())
    with duckdb.connect(str(paths.warehouse)) as conn:
        conn.execute(f"attach '{source}' as source (read_only)")
        for name in ("fct_deductions", "dim_customers", "fct_invoices"):
            conn.execute(f"create table main.{name} as select * from source.marts.{name}")
        conn.execute("detach source")
        summary = run_followups(conn, paths, AS_OF, rules_dir)

    assert summary.sent == 1
    [row] = read_outbox(paths)
    assert "The deduction was taken from the payment as a whole" not in row.body_text
    assert "Total of the lines" not in row.body_text


def test_unwritable_outbox_defers(paths, rules_dir, work_db, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the outbox folder should be")
    blocked = Paths.for_warehouse(paths.warehouse, outbox=str(blocker / "outbox"))
    conn = work_db(WorkData(deductions=[deduction("D1"), deduction("D2")]))

    summary = run_followups(conn, blocked, AS_OF, rules_dir)

    assert summary.sent == 0
    assert summary.failed == 0
    assert summary.deferred == 2
    assert [row.status for row in read_outbox(paths)] == ["queued", "queued"]

    later = run_followups(conn, paths, AS_OF, rules_dir)

    assert later.sent == 2
    assert len(list(paths.outbox_dir.glob("*.eml"))) == 2


def test_candidate_columns_match_fields():
    """read_candidates builds each Deduction from its row by position."""
    columns = [name.strip().split(".")[1] for name in _DEDUCTION_COLUMNS.split(",")]
    assert columns == [field.name for field in fields(Deduction)]
