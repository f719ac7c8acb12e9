"""No product interface changes or removes an entry of the decision log."""

from __future__ import annotations

import re
from decimal import Decimal

import duckdb

from shortpay.cli import main
from shortpay.review import log as review_log
from shortpay.review import queue, snapshot, workflow
from shortpay.settings import REPO_ROOT

EARLIER_ROWS_SQL = """
select sequence, md5(cast(decision_log as varchar)) as row_digest, decision_log.*
from decision_log
order by sequence
"""


def earlier_rows(state_db) -> list[tuple]:
    connection = duckdb.connect(str(state_db), read_only=True)
    try:
        return connection.execute(EARLIER_ROWS_SQL).fetchall()
    finally:
        connection.close()


def seed_log(paths) -> None:
    warehouse = str(paths.warehouse)
    for argv in (
        ["assign", "D1", "--to", "carla"],
        ["propose", "D2"],
        ["note", "E3", "--reason", "asked sales"],
    ):
        assert main(["review", *argv, "--actor", "ana", "--warehouse", warehouse]) == 0


def test_commands_keep_earlier_rows(paths, capsys):
    seed_log(paths)
    warehouse = str(paths.warehouse)
    commands = [
        ["list"],
        ["list", "--status", "all", "--json"],
        ["show", "D1"],
        ["show", "E3", "--json"],
        ["verify"],
        ["assign", "E1", "--to", "ben", "--actor", "ana"],
        ["note", "D1", "--reason", "called", "--actor", "carla"],
        ["request-backup", "D1", "--actor", "carla"],
        ["dispute", "D1", "--actor", "carla"],
        ["recovered", "D1", "--actor", "carla"],
        ["reopen", "D1", "--actor", "carla"],
        ["approve", "D2", "--actor", "ben"],
        ["close", "D2", "--actor", "ben"],
        ["reopen", "D2", "--actor", "ben"],
        ["propose", "D2", "--actor", "ben"],
        ["write-off", "D2", "--actor", "ana"],
        ["resolve", "E1", "--actor", "ben"],
        ["reopen", "E1", "--actor", "ben"],
        # Rejected decisions must leave the log as it was, too.
        ["approve", "D2", "--actor", "ben"],
        ["resolve", "D404", "--actor", "ben"],
    ]
    for argv in commands:
        before = earlier_rows(paths.state_db)

        main(["review", *argv, "--warehouse", warehouse])

        after = earlier_rows(paths.state_db)
        assert after[: len(before)] == before, argv
        assert len(after) - len(before) in (0, 1), argv
    capsys.readouterr()
    assert len(earlier_rows(paths.state_db)) == 3 + 13


def test_functions_keep_earlier_rows(paths, tmp_path):
    seed_log(paths)
    state_db = paths.state_db
    published = queue.load_deduction(paths.warehouse, "D3")
    exception = queue.load_exception(paths.warehouse, "E2")
    calls = [
        lambda: review_log.read_decisions(state_db),
        lambda: review_log.verify_chain(review_log.read_decisions(state_db)),
        lambda: review_log.append_decision(
            state_db, {"deduction_id": "D3", "action": "note", "actor": "ana"}
        ),
        lambda: review_log.append_checked(
            state_db, lambda rows: {"deduction_id": "D3", "action": "note", "actor": "ana"}, ["D3"]
        ),
        lambda: workflow.decide_deduction(state_db, published, "approve", "ana"),
        lambda: workflow.decide_deduction(state_db, published, "reopen", "ana"),
        lambda: workflow.decide_exception(state_db, exception, "resolve", "ana"),
        lambda: queue.list_queue(paths.warehouse, state_db, queue.QueueFilters()),
        lambda: queue.show_item(paths.warehouse, state_db, "D3"),
        lambda: snapshot.snapshot_state(state_db, duckdb.connect(str(tmp_path / "work.duckdb"))),
        lambda: workflow.read_four_eyes_amount(tmp_path),
        lambda: workflow.parse_amount("1.00"),
    ]
    for index, call in enumerate(calls):
        before = earlier_rows(state_db)

        call()

        after = earlier_rows(state_db)
        assert after[: len(before)] == before, index
    assert earlier_rows(state_db)[-1][0] == 3 + 5
    assert published.amount == Decimal("40.00")


def test_no_update_or_delete_of_log_in_source():
    pattern = re.compile(
        r"\b(update|delete\s+from|truncate|drop\s+table)\b[^\n]*decision_log", re.I
    )
    offenders = []
    for path in (REPO_ROOT / "shortpay").rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert offenders == []
