"""Failed runs: what a failing check or follow-up stage leaves published and sent."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from warehouse_queries import REPO_ROOT, RULES_DIR, query, table_contents

from flows.main import PipelineError
from shortpay.pipeline import run_pipeline

CASES = REPO_ROOT / "tests" / "cases" / "validation"
AS_OF = date(2026, 11, 30)

# A blocking expectation on a column that does not exist: an engine error,
# not bad data.
BROKEN_EXPECTATION = {
    "type": "expect_column_values_to_not_be_null",
    "kwargs": {"column": "no_such_column"},
    "meta": {"check_id": "broken_on_purpose", "column": "no_such_column"},
    "notes": "Refers to a missing column so that the check errors.",
}


def outbox_messages(warehouse: Path) -> list[str]:
    return sorted(path.name for path in (warehouse.parent / "outbox").rglob("*.eml"))


def test_errored_check_blocks_publication_and_followups(tmp_path: Path, prefect_api: str):
    inbox = tmp_path / "inbox"
    shutil.copytree(CASES, inbox)
    warehouse = tmp_path / "warehouse.duckdb"
    first = run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    published = table_contents(warehouse)
    messages = outbox_messages(warehouse)
    assert first["followups"]["sent"] == len(messages) > 0

    # A new invalid deduction arrives, due for a first notice: a discount
    # taken on NET 30 terms.
    (inbox / "invoices_extra.csv").write_text(
        "invoice_id,customer_id,invoice_date,due_date,currency,total_amount,payment_terms\n"
        "V-X1,CV6,2026-11-03,2026-12-03,USD,1200.00,NET 30\n",
        encoding="utf-8",
    )
    (inbox / "remittances_extra.csv").write_text(
        "payment_id,customer_id,payment_date,payment_amount,currency,invoice_reference,"
        "paid_amount,adjustment_amount,adjustment_reason_code\n"
        "PX1,CV6,2026-11-20,1170.00,USD,V-X1,1170.00,30.00,90\n",
        encoding="utf-8",
    )
    suites = tmp_path / "expectations"
    shutil.copytree(REPO_ROOT / "expectations", suites)
    suite_file = suites / "blocking" / "payments.json"
    suite = json.loads(suite_file.read_text(encoding="utf-8"))
    suite["expectations"].append(BROKEN_EXPECTATION)
    suite_file.write_text(json.dumps(suite, indent=2), encoding="utf-8")

    with pytest.raises(PipelineError) as failure:
        run_pipeline(inbox, warehouse, RULES_DIR, AS_OF, expectations_dir=suites)
    assert failure.value.stage == "quality"
    assert "broken_on_purpose" in str(failure.value)
    assert table_contents(warehouse) == published
    assert outbox_messages(warehouse) == messages

    # With working checks the next run publishes the new payment.
    third = run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    assert third["ingest"]["files_loaded"] == 0
    assert query(warehouse, "select count(*) from fct_payments where payment_id = 'PX1'") == [
        (1,)
    ]
    assert third["followups"]["sent"] == 1
    assert len(outbox_messages(warehouse)) == len(messages) + 1

    history = query(
        tmp_path / ".shortpay" / "warehouse" / "state.duckdb",
        "select status, failed_stage from run_history order by started_at",
    )
    assert history == [("completed", None), ("failed", "quality"), ("completed", None)]


def test_failed_followups_still_publish(tmp_path: Path, prefect_api: str, monkeypatch):
    inbox = tmp_path / "inbox"
    shutil.copytree(CASES, inbox)
    warehouse = tmp_path / "warehouse.duckdb"
    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)

    with pytest.raises(PipelineError) as failure:
        run_pipeline(inbox, warehouse, RULES_DIR, AS_OF, transport="sendgrid")
    assert failure.value.stage == "followups"
    assert "SENDGRID_API_KEY is not set" in str(failure.value)
    assert outbox_messages(warehouse) == []
    # The publication ran beside the follow-ups and completed.
    published = table_contents(warehouse)
    assert published["fct_payments"]

    # The next run sends what is due and leaves the published tables as they are.
    second = run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    sent = second["followups"]["sent"]
    assert sent > 0
    assert sent == len(outbox_messages(warehouse))
    assert second["publication"] == "patched"
    assert table_contents(warehouse) == published
    history = query(
        tmp_path / ".shortpay" / "warehouse" / "state.duckdb",
        "select status, failed_stage from run_history order by started_at",
    )
    assert history == [("failed", "followups"), ("completed", None)]
