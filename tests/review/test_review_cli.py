"""`shortpay review` commands against a real published warehouse and state database."""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata

import duckdb
import pytest

from shortpay.cli import main
from shortpay.review.cli import _json_default
from shortpay.review.queue import printable
from shortpay.review.workflow import ReviewError, parse_amount


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["review", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_shows_open_queue(paths, capsys):
    code, out, _ = run(capsys, "list", "--warehouse", str(paths.warehouse), "--json")

    assert code == 0
    queue = json.loads(out)
    assert [item["exception_id"] for item in queue] == ["E1", "E3", "E2"]
    assert queue[0]["amount"] == "120.00"
    assert queue[0]["customer_id"] == "C1"
    assert queue[1]["customer_id"] == "C2"
    assert (queue[0]["source_file"], queue[0]["source_position"]) == ("inbox/p1.820", "segment 40")
    assert "deduction_validity" not in queue[0]


def test_list_filters(paths, capsys):
    warehouse = str(paths.warehouse)
    cases = [
        (["--severity", "error"], ["E2"]),
        (["--type", "dq_failure"], ["E3"]),
        (["--customer", "C1"], ["E1", "E2"]),
        (["--owner", "ana"], ["E1", "E2"]),
        (["--min-amount", "500.00"], ["E2"]),
        (["--older-than", "10000"], []),
        (["--older-than", "0"], ["E1", "E3", "E2"]),
        (["--status", "resolved"], []),
    ]
    for options, expected in cases:
        code, out, _ = run(capsys, "list", "--warehouse", warehouse, "--json", *options)
        assert code == 0, options
        assert [item["exception_id"] for item in json.loads(out)] == expected, options


def test_list_applies_new_decisions(paths, capsys):
    warehouse = str(paths.warehouse)
    run(capsys, "assign", "E3", "--to", "carla", "--actor", "ana", "--warehouse", warehouse)
    run(capsys, "resolve", "E1", "--actor", "ana", "--warehouse", warehouse)

    _, out, _ = run(capsys, "list", "--warehouse", warehouse, "--json", "--owner", "carla")
    assert [item["exception_id"] for item in json.loads(out)] == ["E3"]
    _, out, _ = run(capsys, "list", "--warehouse", warehouse, "--json")
    assert [item["exception_id"] for item in json.loads(out)] == ["E3", "E2"]
    _, out, _ = run(capsys, "list", "--warehouse", warehouse, "--json", "--status", "all")
    assert [item["status"] for item in json.loads(out)] == ["resolved", "open", "open"]


def test_approval_shows_at_once(paths, capsys):
    """An approval takes a deduction out of review before the next run rebuilds the queue."""
    warehouse = str(paths.warehouse)
    run(capsys, "approve", "D1", "--actor", "ana", "--warehouse", warehouse)

    _, out, _ = run(capsys, "show", "D1", "--warehouse", warehouse, "--json")
    deduction = json.loads(out)["deduction"]
    assert [deduction[name] for name in ("validity", "valid_amount", "invalid_amount", "status")] == [
        "valid", "120.00", "0.00", "approved"]
    _, out, _ = run(capsys, "list", "--warehouse", warehouse, "--json", "--status", "all")
    assert [item["exception_id"] for item in json.loads(out)] == ["E3", "E2"]


def show_deduction(capsys, warehouse: str, deduction_id: str) -> list:
    _, out, _ = run(capsys, "show", deduction_id, "--warehouse", warehouse, "--json")
    deduction = json.loads(out)["deduction"]
    names = ("validity", "valid_amount", "invalid_amount", "status", "owner", "assignee")
    return [deduction[name] for name in names]


def test_reopen_returns_to_published_split(paths, capsys):
    """A reopen hands the split back to the rules, so the published split is shown until the next run."""
    warehouse = str(paths.warehouse)
    run(capsys, "approve", "D1", "--actor", "ana", "--valid-amount", "20.00",
        "--warehouse", warehouse)
    run(capsys, "reopen", "D1", "--actor", "ana", "--warehouse", warehouse)
    run(capsys, "assign", "D1", "--to", "carla", "--actor", "ana", "--warehouse", warehouse)

    assert show_deduction(capsys, warehouse, "D1") == [
        "needs_review", "0.00", "0.00", "open", "ana", "carla"]
    _, out, _ = run(capsys, "list", "--warehouse", warehouse, "--json")
    queue = {item["exception_id"]: item for item in json.loads(out)}
    assert sorted(queue) == ["E1", "E2", "E3"]
    assert queue["E1"]["owner"] == "carla"


def test_exception_shows_decided_deduction(paths, capsys):
    warehouse = str(paths.warehouse)
    run(capsys, "dispute", "D1", "--actor", "ana", "--warehouse", warehouse)

    _, out, _ = run(capsys, "show", "E1", "--warehouse", warehouse, "--json")
    deduction = json.loads(out)["deduction"]
    assert [deduction[name] for name in ("validity", "invalid_amount", "status")] == [
        "invalid", "120.00", "disputed"]


def test_list_masks_breaks_in_file_names(paths, capsys):
    connection = duckdb.connect(str(paths.warehouse))
    try:
        connection.execute(
            "update exceptions set source_file = ? where exception_id = 'E3'",
            ["bad\nname\t\u2028.csv"],
        )
    finally:
        connection.close()

    _, out, _ = run(capsys, "list", "--warehouse", str(paths.warehouse))
    lines = out.splitlines()
    assert len(lines) == 5
    assert "bad?name??.csv" in lines[2]


def test_list_aligns_wide_characters(paths, capsys):
    """A column after a file name in wide characters starts where its header does."""
    connection = duckdb.connect(str(paths.warehouse))
    try:
        connection.execute(
            "update exceptions set source_file = '名前.csv', source_position = 'line 7'"
            " where exception_id = 'E3'"
        )
    finally:
        connection.close()

    _, out, _ = run(capsys, "list", "--warehouse", str(paths.warehouse))
    header = out.splitlines()[0]
    row = next(line for line in out.splitlines() if line.startswith("E3 "))
    position = row.index("line 7")
    wide = sum(unicodedata.east_asian_width(character) == "W" for character in row[:position])
    assert wide == 2
    assert position + wide == header.index("source_position")


def test_partial_approval_notes_unrecovered_rest(paths, capsys):
    warehouse = str(paths.warehouse)
    code, _, err = run(capsys, "approve", "D1", "--actor", "ana", "--valid-amount", "20.00",
                       "--warehouse", warehouse)

    assert code == 0
    assert "D1 is approved with 100.00 invalid. Follow-ups stop at approved" in err
    _, out, _ = run(capsys, "show", "D1", "--warehouse", warehouse, "--json")
    assert json.loads(out)["deduction"]["validity"] == "invalid"
    code, _, err = run(capsys, "dispute", "D1", "--actor", "ana", "--valid-amount", "20.00",
                       "--warehouse", warehouse)
    assert code == 0
    assert "Follow-ups stop at approved" not in err
    _, out, _ = run(capsys, "show", "D1", "--warehouse", warehouse, "--json")
    assert json.loads(out)["deduction"]["status"] == "disputed"


def test_list_text_output(paths, capsys):
    code, out, _ = run(capsys, "list", "--warehouse", str(paths.warehouse))

    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["exception_id", "exception_type", "severity", "status"]
    assert lines[-1] == "3 items"


def test_show_deduction_drill_down(paths, capsys):
    code, out, _ = run(capsys, "show", "D2", "--warehouse", str(paths.warehouse), "--json")

    assert code == 0
    item = json.loads(out)
    assert item["kind"] == "deduction"
    assert item["deduction"]["deduction_amount"] == "7500.00"
    assert item["payment"]["payment_id"] == "P1"
    assert [row["invoice_id"] for row in item["cash_applications"]] == ["I1", "I2"]
    assert item["invoice"]["invoice_id"] == "I2"
    assert item["invoice_lines"] == []
    assert [row["exception_id"] for row in item["exceptions"]] == ["E2"]
    assert item["decisions"] == []


def test_show_exception(paths, capsys):
    code, out, _ = run(capsys, "show", "E2", "--warehouse", str(paths.warehouse), "--json")

    assert code == 0
    item = json.loads(out)
    assert item["kind"] == "exception"
    assert item["exception"]["message"] == "pricing claim is invalid"
    assert item["deduction"]["deduction_id"] == "D2"


def test_show_masks_control_characters(paths, capsys):
    code, out, _ = run(capsys, "show", "D2", "--warehouse", str(paths.warehouse))

    assert code == 0
    assert "\x1b" not in out
    assert "customer_memo: ?[31mred?[0m pricing" in out


def test_printable_masks_line_breaks():
    assert printable("paid\r\nBcc: someone@example.com\tok") == (
        "paid??Bcc: someone@example.com\tok"
    )


def test_show_unknown_id(paths, capsys):
    code, _, err = run(capsys, "show", "D404", "--warehouse", str(paths.warehouse))

    assert code == 1
    assert "no deduction or exception with id 'D404'" in err


@pytest.mark.parametrize("item_id", ["D1", "E3"])
def test_assign_to_blank_name_rejected(paths, capsys, item_id):
    warehouse = str(paths.warehouse)
    code, _, err = run(
        capsys, "assign", item_id, "--to", "   ", "--actor", "ana", "--warehouse", warehouse
    )

    assert code == 1
    assert "assign needs an assignee: pass --to NAME" in err


def test_list_rejects_negative_days(paths, capsys):
    with pytest.raises(SystemExit) as stopped:
        run(capsys, "list", "--older-than", "-5", "--warehouse", str(paths.warehouse))

    assert stopped.value.code == 2
    assert "invalid number of days '-5': use 0 or more" in capsys.readouterr().err


def test_decisions_and_show_history(paths, capsys):
    warehouse = str(paths.warehouse)
    code, out, _ = run(
        capsys,
        "dispute",
        "D1",
        "--actor",
        "ana",
        "--reason",
        "POD signed",
        "--valid-amount",
        "20.00",
        "--warehouse",
        warehouse,
    )
    assert code == 0
    assert out.strip() == "decision 1: dispute D1 by ana, status open -> disputed"

    _, out, _ = run(capsys, "show", "D1", "--warehouse", warehouse, "--json")
    item = json.loads(out)
    assert item["deduction"]["status"] == "disputed"
    assert item["deduction"]["valid_amount"] == "20.00"
    assert item["deduction"]["invalid_amount"] == "100.00"
    assert [entry["action"] for entry in item["decisions"]] == ["dispute"]
    assert item["decisions"][0]["reason"] == "POD signed"


def test_four_eyes_through_cli(paths, capsys):
    warehouse = str(paths.warehouse)
    code, _, err = run(capsys, "approve", "D2", "--actor", "ana", "--warehouse", warehouse)
    assert code == 1
    assert "run `shortpay review propose D2` first" in err

    assert run(capsys, "propose", "D2", "--actor", "ana", "--warehouse", warehouse)[0] == 0
    code, _, err = run(capsys, "approve", "D2", "--actor", "ana", "--warehouse", warehouse)
    assert code == 1
    assert "ana proposed it, so someone else must approve it" in err

    code, out, _ = run(capsys, "approve", "D2", "--actor", "ben", "--warehouse", warehouse)
    assert code == 0
    assert out.strip() == "decision 2: approve D2 by ben, status open -> approved"


def test_four_eyes_amount_option(paths, capsys):
    code, _, err = run(
        capsys,
        "approve",
        "D1",
        "--actor",
        "ana",
        "--four-eyes-amount",
        "100.00",
        "--warehouse",
        str(paths.warehouse),
    )

    assert code == 1
    assert "above the four-eyes amount 100.00" in err


def test_four_eyes_option_cannot_raise_limit(paths, capsys):
    """A higher amount on the command line leaves the rules' 5000.00 in force."""
    code, _, err = run(
        capsys,
        "approve",
        "D2",
        "--actor",
        "ana",
        "--four-eyes-amount",
        "1000000.00",
        "--warehouse",
        str(paths.warehouse),
    )

    assert code == 1
    assert "above the four-eyes amount 5000.00" in err


def test_four_eyes_amount_from_rules(paths, capsys, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "settings.yaml").write_text("four_eyes_amount: 100.00\n", encoding="utf-8")

    code, _, err = run(
        capsys,
        "approve",
        "D1",
        "--actor",
        "ana",
        "--rules",
        str(rules),
        "--warehouse",
        str(paths.warehouse),
    )

    assert code == 1
    assert "above the four-eyes amount 100.00" in err


def test_resolve_needs_exception(paths, capsys):
    code, _, err = run(
        capsys, "resolve", "D1", "--actor", "ana", "--warehouse", str(paths.warehouse)
    )

    assert code == 1
    assert "exception 'D1' not found" in err


def test_invalid_amount_option(paths, capsys):
    code, _, err = run(
        capsys,
        "approve",
        "D1",
        "--actor",
        "ana",
        "--valid-amount",
        "12.345",
        "--warehouse",
        str(paths.warehouse),
    )

    assert code == 1
    assert "invalid amount '12.345': expected at most 2 decimal places" in err


@pytest.mark.parametrize("text", ["1e2", "NaN", "Infinity", "12,50"])
def test_amount_in_plain_notation_only(text):
    with pytest.raises(ReviewError, match="expected a number like 125.50"):
        parse_amount(text)


def test_missing_warehouse(tmp_path, capsys):
    code, _, err = run(capsys, "list", "--warehouse", str(tmp_path / "none.duckdb"))

    assert code == 1
    assert "published warehouse" in err
    assert "not found" in err


def test_verify_ok_and_tampered(paths, capsys):
    warehouse = str(paths.warehouse)
    run(capsys, "note", "D1", "--actor", "ana", "--reason", "first", "--warehouse", warehouse)
    run(capsys, "note", "E3", "--actor", "ana", "--reason", "second", "--warehouse", warehouse)

    code, out, _ = run(capsys, "verify", "--warehouse", warehouse)
    assert code == 0
    assert out.startswith("decision log OK: 2 entries, head hash ")

    connection = duckdb.connect(str(paths.state_db))
    connection.execute("update decision_log set actor = 'mallory' where sequence = 1")
    connection.close()
    code, out, _ = run(capsys, "verify", "--warehouse", warehouse, "--json")
    report = json.loads(out)
    assert code == 1
    assert report["ok"] is False
    assert [(item["sequence"], item["problem"]) for item in report["problems"]] == [
        (1, "entry_hash does not match the entry's values")
    ]


def test_dispute_after_deadline_warns(paths, capsys):
    connection = duckdb.connect(str(paths.warehouse))
    connection.execute(
        "update fct_deductions set deadline_date = date '2020-01-31' where deduction_id = 'D1'"
    )
    connection.close()

    code, out, err = run(
        capsys, "dispute", "D1", "--actor", "ana", "--warehouse", str(paths.warehouse)
    )

    assert code == 0
    assert "-> disputed" in out
    assert "dispute window of D1 closed on 2020-01-31" in err
    assert "no follow-up message will be sent" in err


def test_closed_pipe_exits_quietly(paths):
    """`shortpay review list | head` when head has gone: exit 141 and nothing on stderr."""
    process = subprocess.Popen(
        [sys.executable, "-m", "shortpay.cli", "review", "list", "--warehouse",
         str(paths.warehouse)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141
    assert "Traceback" not in stderr


def test_show_keeps_every_decimal_place():
    """Unit prices have four places; money shows at least two."""
    [(price, quantity, amount, whole)] = duckdb.sql(
        "select 46.8845::decimal(18, 4), 41::decimal(18, 4), 930.5::decimal(18, 2),"
        " 7::decimal(18, 0)"
    ).fetchall()

    assert [printable(value) for value in (price, quantity, amount, whole)] == [
        "46.8845", "41.0000", "930.50", "7.00",
    ]
    assert json.loads(json.dumps({"unit_price": price}, default=_json_default)) == {
        "unit_price": "46.8845"
    }
