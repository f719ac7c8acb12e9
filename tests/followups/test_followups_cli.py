"""`shortpay followups` commands."""

from __future__ import annotations

import json

from followup_cases import AS_OF, WorkData, deduction

from shortpay.cli import main
from shortpay.followups import outbox


def cli(paths, rules_dir, *args: str) -> list[str]:
    command = ["followups", args[0], "--warehouse", str(paths.warehouse), *args[1:]]
    if args[0] in ("preview", "send"):
        command += ["--rules", str(rules_dir), "--as-of", AS_OF.isoformat()]
    return command


def test_preview_prints_without_queueing(paths, rules_dir, work_db, capsys):
    work_db(WorkData(deductions=[deduction("D1"), deduction("D2")])).close()

    code = main(cli(paths, rules_dir, "preview"))

    output = capsys.readouterr().out
    assert code == 0
    assert "=== D1:first_notice to ap@c1.example (en)" in output
    assert "=== D2:first_notice to ap@c1.example (en)" in output
    assert "Subject: Deduction D1 of USD 100.00 from Customer C1: please repay" in output
    assert outbox.read_messages(paths.state_db) == []
    assert list(paths.outbox_dir.iterdir()) == []


def test_preview_forced_step_to_folder(paths, rules_dir, work_db, tmp_path, capsys):
    work_db(WorkData(deductions=[deduction("D1", status="recovered")])).close()
    folder = tmp_path / "preview"

    code = main(cli(paths, rules_dir, "preview", "--deduction", "D1", "--step", "reminder",
                    "--output", str(folder)))

    assert code == 0
    assert len(list(folder.glob("*.eml"))) == 1
    letter = next(folder.glob("*.letter.html")).read_text()
    assert "This is reminder 1." in letter
    assert outbox.read_messages(paths.state_db) == []


def test_preview_unwritable_folder_fails(paths, rules_dir, work_db, tmp_path, capsys):
    work_db(WorkData(deductions=[deduction("D1")])).close()
    plain_file = tmp_path / "preview"
    plain_file.write_text("a file, not a folder")

    code = main(cli(paths, rules_dir, "preview", "--deduction", "D1", "--output",
                    str(plain_file)))

    errors = capsys.readouterr().err.splitlines()
    assert code == 1
    assert f"wrote 0 messages to {plain_file}" in errors
    assert any(line.startswith("error: not written: D1:first_notice: ") for line in errors)


def test_preview_explains_nothing_due(paths, rules_dir, work_db, capsys):
    work_db(WorkData(deductions=[deduction("D1", status="closed")])).close()

    code = main(cli(paths, rules_dir, "preview", "--deduction", "D1"))

    captured = capsys.readouterr()
    assert code == 0
    assert captured.out == ""
    assert "D1: nothing due: status is closed" in captured.err


def test_preview_unknown_deduction_fails(paths, rules_dir, work_db, capsys):
    work_db(WorkData()).close()

    code = main(cli(paths, rules_dir, "preview", "--deduction", "NOPE"))

    assert code == 1
    assert "deduction 'NOPE' not found" in capsys.readouterr().err


def test_send_then_list(paths, rules_dir, work_db, capsys):
    work_db(WorkData()).close()

    code = main(cli(paths, rules_dir, "send"))
    summary = json.loads(capsys.readouterr().out)
    main(cli(paths, rules_dir, "list", "--json"))
    [listed] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert code == 0
    assert summary["sent"] == 1
    assert listed["message_id"] == "D1:first_notice"
    assert listed["status"] == "sent"
    assert listed["amount_claimed"] == "100.00"


def test_suppress_adds_and_lists(paths, rules_dir, capsys):
    code = main(cli(paths, rules_dir, "suppress", "AP@c1.example", "--reason", "left company"))
    main(cli(paths, rules_dir, "suppress", "ap@c1.example"))
    capsys.readouterr()
    main(cli(paths, rules_dir, "suppress", "--list"))
    output = capsys.readouterr().out

    assert code == 0
    assert outbox.read_suppressed(paths.state_db) == {"ap@c1.example"}
    assert "ap@c1.example" in output
    assert "left company" in output


def test_suppress_rejects_invalid_address(paths, rules_dir, capsys):
    code = main(cli(paths, rules_dir, "suppress", "not-an-address"))

    assert code == 1
    assert "invalid address not-an-address" in capsys.readouterr().err


def held_message(paths, rules_dir, work_db) -> str:
    """Send D1's first notice and mark its result unknown; return its message id."""
    work_db(WorkData()).close()
    main(cli(paths, rules_dir, "send"))
    message_id = "D1:first_notice"
    outbox.record_result(paths.state_db, message_id,
                         outbox.DeliveryResult(status="unknown", error="timed out"), None)
    return message_id


def test_resolve_unknown_for_resend(paths, rules_dir, work_db, capsys):
    message_id = held_message(paths, rules_dir, work_db)

    rejected = main(cli(paths, rules_dir, "resolve", "D1:missing", "--as", "queued",
                       "--note", "x"))
    code = main(cli(paths, rules_dir, "resolve", message_id, "--as", "queued",
                    "--note", "provider has no record of it", "--actor", "ana"))
    main(cli(paths, rules_dir, "send"))

    assert rejected == 1
    assert code == 0
    [row] = outbox.read_messages(paths.state_db)
    assert row.status == "sent"
    assert row.last_error == "timed out; ana set queued: provider has no record of it"


def test_resolve_rejects_sent_message(paths, rules_dir, work_db, capsys):
    work_db(WorkData()).close()
    main(cli(paths, rules_dir, "send"))

    code = main(cli(paths, rules_dir, "resolve", "D1:first_notice", "--as", "queued",
                    "--note", "again", "--actor", "ana"))

    assert code == 1
    assert "is sent; only unknown, failed or suppressed" in capsys.readouterr().err


def test_resolve_needs_an_actor(paths, rules_dir, work_db, capsys, monkeypatch):
    message_id = held_message(paths, rules_dir, work_db)
    monkeypatch.delenv("USER", raising=False)

    code = main(cli(paths, rules_dir, "resolve", message_id, "--as", "queued",
                    "--note", "provider has no record of it"))

    assert code == 1
    assert "error: missing actor: pass --actor NAME or set USER" in capsys.readouterr().err
    [row] = outbox.read_messages(paths.state_db)
    assert (row.status, row.last_error) == ("unknown", "timed out")


def test_resolve_sent_keeps_business_date(paths, rules_dir, work_db, capsys):
    """The next step waits its days from the run date, not from the day of the resolve."""
    message_id = held_message(paths, rules_dir, work_db)

    code = main(cli(paths, rules_dir, "resolve", message_id, "--as", "sent",
                    "--note", "provider shows it delivered", "--actor", "ana"))

    assert code == 0
    [row] = outbox.read_messages(paths.state_db)
    assert row.status == "sent"
    assert row.sent_on == AS_OF
