"""Adding a day's files to a warehouse built before.

The second run rebuilds only the invoices and payments that the new files
touch, and must publish exactly what one run over all the files publishes.
"""

from __future__ import annotations

import shutil

import pytest
from incremental_inbox import (
    AS_OF,
    REMOVED_INVOICE,
    read_rows,
    run_first_then_day,
    split_sample,
    write_rows,
)
from warehouse_queries import RULES_DIR, SAMPLE_INBOX, query, table_contents

from shortpay.bench.generate import generate
from shortpay.bench.increment import split_inbox
from shortpay.pipeline import run_pipeline
from shortpay.settings import Paths
from shortpay.summary import format_summary


@pytest.fixture(scope="module")
def incremental_runs(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> dict:
    folder = tmp_path_factory.mktemp("incremental")
    split = split_sample(folder)
    inbox = split["first"]

    warehouse = folder / "incremental" / "warehouse.duckdb"
    first = run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    for path in split["day"].iterdir():
        shutil.copy2(path, inbox / path.name)
    second = run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    work_db = Paths.for_warehouse(warehouse).work_db
    scope = {
        invoice_id
        for (invoice_id,) in query(work_db, "select invoice_id from intermediate.int_invoice_scope")
    }
    scope_sizes = {
        model: query(work_db, f"select count(*) from intermediate.{model}")[0][0]  # noqa: S608
        for model in ("int_payment_scope", "int_allocation_scope", "int_balance_scope")
    }
    payment_count = query(work_db, "select count(*) from marts.fct_payments")[0][0]
    dbt_log = Paths.for_warehouse(warehouse).work_dir / "logs" / "dbt.log"
    finished = [
        line.split("Finished running ", 1)[1].split(" in ", 1)[0]
        for line in dbt_log.read_text(encoding="utf-8").splitlines()
        if "Finished running " in line
    ]

    rebuilt = folder / "full" / "warehouse.duckdb"
    full = run_pipeline(inbox, rebuilt, RULES_DIR, AS_OF)
    return {
        "dbt_builds": finished,
        "split": split,
        "first": first,
        "second": second,
        "scope": scope,
        "scope_sizes": scope_sizes,
        "payments": payment_count,
        "full": full,
        "incremental_tables": table_contents(warehouse, without_load_dates=True),
        "full_tables": table_contents(rebuilt, without_load_dates=True),
    }


def test_first_run_builds_everything(incremental_runs):
    assert incremental_runs["first"]["build"] == {
        "mode": "full",
        "reason": "no earlier build in this work database",
        "new_files": 20,
    }


def test_second_build_is_incremental(incremental_runs):
    assert incremental_runs["second"]["build"] == {
        "mode": "incremental",
        "reason": "only the invoices, payments and deductions that new files touch are rebuilt",
        "new_files": 6,
        "rebuilt": {"invoices": 261, "payments": 145, "deductions": 32},
    }
    assert "6 new or changed files, 261 invoices, 145 payments and 32 deductions rebuilt" in (
        format_summary(incremental_runs["second"])
    )


def test_incremental_build_keeps_the_views(incremental_runs):
    # Each run makes two builds: the models, then the exceptions queue.
    assert incremental_runs["dbt_builds"] == [
        "19 incremental models, 13 table models, 20 data tests, 14 view models",
        "2 table models, 1 test",
        "19 incremental models, 13 table models, 20 data tests",
        "2 table models, 1 test",
    ]


def test_second_run_patches_the_warehouse(incremental_runs):
    assert incremental_runs["first"]["publication"] == "copied"
    assert incremental_runs["second"]["publication"] == "patched"


def test_scope_is_new_and_repriced_invoices(incremental_runs):
    split = incremental_runs["split"]
    assert len(split["day_invoices"]) == 225
    assert len(split["repriced"]) == 5
    assert incremental_runs["scope"] == (
        split["day_invoices"] | split["repriced"] | split["corrected"]
    )


def test_payment_scope_sizes(incremental_runs):
    """Of 1,132 payments, 145 are matched again: the day's 31, and those of the
    first inbox that name a day's, corrected or repriced invoice or that no
    reference matched. Their invoices (261) are allocated again.
    """
    assert incremental_runs["payments"] == 1132
    assert incremental_runs["scope_sizes"] == {
        "int_payment_scope": 145, "int_allocation_scope": 261, "int_balance_scope": 145,
    }


def test_incremental_tables_equal_a_full_rebuild(incremental_runs):
    incremental, full = incremental_runs["incremental_tables"], incremental_runs["full_tables"]
    assert sorted(incremental) == sorted(full)
    for table in full:
        assert incremental[table] == full[table], table


def test_incremental_sums_equal_a_full_rebuild(incremental_runs):
    second, full = incremental_runs["second"], incremental_runs["full"]
    for part in ("payments", "invoices", "deductions", "balances"):
        assert second[part] == full[part], part


@pytest.fixture(scope="module")
def hostile_runs(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> dict:
    """A generated hostile inbox (typos, partial and combined payments, reversals,
    duplicates, shared invoice numbers), built from a base and a day's files."""
    folder = tmp_path_factory.mktemp("hostile")
    generated = generate(folder / "generated", invoices=3000, customers=50, seed=11,
                         profile="hostile")
    base, day = folder / "inbox", folder / "day"
    split = split_inbox(generated.inbox, base, day)
    warehouse = folder / "incremental" / "warehouse.duckdb"
    second = run_first_then_day(base, day, warehouse)
    rebuilt = folder / "full" / "warehouse.duckdb"
    full = run_pipeline(base, rebuilt, RULES_DIR, AS_OF)
    return {
        "split": split,
        "second": second,
        "full": full,
        "incremental_tables": table_contents(warehouse, without_load_dates=True),
        "full_tables": table_contents(rebuilt, without_load_dates=True),
    }


def test_hostile_increment_equals_full_rebuild(hostile_runs):
    assert hostile_runs["second"]["build"]["mode"] == "incremental"
    assert hostile_runs["second"]["publication"] == "patched"
    assert hostile_runs["split"]["day_payments"] > 0
    incremental, full = hostile_runs["incremental_tables"], hostile_runs["full_tables"]
    assert sorted(incremental) == sorted(full)
    for table in full:
        assert incremental[table] == full[table], table


@pytest.fixture(scope="module")
def replaced_extract_runs(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> dict:
    """invoices.csv sent again at the same path, without one invoice."""
    folder = tmp_path_factory.mktemp("replaced")
    inbox = folder / "inbox"
    shutil.copytree(SAMPLE_INBOX, inbox)
    warehouse = folder / "incremental" / "warehouse.duckdb"
    run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    header, rows = read_rows(inbox / "invoices.csv")
    write_rows(inbox / "invoices.csv", header,
               [row for row in rows if row["invoice_id"] != REMOVED_INVOICE])
    second = run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    rebuilt = folder / "full" / "warehouse.duckdb"
    run_pipeline(inbox, rebuilt, RULES_DIR, AS_OF)
    return {
        "second": second,
        "incremental_tables": table_contents(warehouse, without_load_dates=True),
        "full_tables": table_contents(rebuilt, without_load_dates=True),
        "warehouse": warehouse,
        "inbox": inbox,
    }


def test_replaced_extract_drops_the_old_rows(replaced_extract_runs):
    assert replaced_extract_runs["second"]["build"]["mode"] == "incremental"
    assert replaced_extract_runs["second"]["publication"] == "patched"
    assert query(
        replaced_extract_runs["warehouse"],
        "select count(*) from fct_invoices where invoice_id = ?",
        [REMOVED_INVOICE],
    ) == [(0,)]
    incremental = replaced_extract_runs["incremental_tables"]
    full = replaced_extract_runs["full_tables"]
    for table in full:
        assert incremental[table] == full[table], table


def test_earlier_extract_sent_back_is_current_again(replaced_extract_runs, tmp_path):
    """invoices.csv goes back to its first version: the removed invoice returns."""
    inbox = replaced_extract_runs["inbox"]
    shutil.copy2(SAMPLE_INBOX / "invoices.csv", inbox / "invoices.csv")
    warehouse = replaced_extract_runs["warehouse"]
    third = run_pipeline(inbox, warehouse, RULES_DIR, AS_OF)
    assert third["build"]["mode"] == "incremental"
    rebuilt = tmp_path / "full" / "warehouse.duckdb"
    run_pipeline(inbox, rebuilt, RULES_DIR, AS_OF)
    incremental = table_contents(warehouse, without_load_dates=True)
    full = table_contents(rebuilt, without_load_dates=True)
    assert query(warehouse, "select count(*) from fct_invoices where invoice_id = ?",
                 [REMOVED_INVOICE]) == [(1,)]
    for table in full:
        assert incremental[table] == full[table], table
