"""When a dbt build may be incremental, and what a completed build records."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from shortpay.build_plan import plan_build, project_fingerprint, record_build, start_build

RULES_HASH = "rules-a"


def add_files(work_db: Path, *file_hashes: str) -> None:
    connection = duckdb.connect(str(work_db))
    try:
        connection.execute("create schema if not exists raw")
        connection.execute("create table if not exists raw.files (file_hash varchar)")
        connection.executemany("insert into raw.files values (?)", [(h,) for h in file_hashes])
    finally:
        connection.close()


def built_files(work_db: Path) -> list[str]:
    connection = duckdb.connect(str(work_db), read_only=True)
    try:
        rows = connection.execute("select file_hash from raw.build_files order by 1").fetchall()
    finally:
        connection.close()
    return [file_hash for (file_hash,) in rows]


@pytest.fixture
def work_db(tmp_path: Path) -> Path:
    path = tmp_path / "work.duckdb"
    add_files(path, "f1", "f2")
    return path


def test_first_build_is_full(work_db):
    plan = plan_build(work_db, RULES_HASH)
    assert plan.as_dict() == {
        "mode": "full", "reason": "no earlier build in this work database", "new_files": 2,
    }


def test_build_after_completed_is_incremental(work_db):
    record_build(work_db, plan_build(work_db, RULES_HASH), "run-1")
    add_files(work_db, "f3")
    plan = plan_build(work_db, RULES_HASH)
    assert plan.incremental
    assert plan.unbuilt_files == ["f3"]
    record_build(work_db, plan, "run-2")
    assert built_files(work_db) == ["f1", "f2", "f3"]
    assert plan_build(work_db, RULES_HASH).unbuilt_files == []


def test_failed_build_leaves_files_unbuilt(work_db):
    record_build(work_db, plan_build(work_db, RULES_HASH), "run-1")
    add_files(work_db, "f3")
    plan_build(work_db, RULES_HASH)  # planned, but the build failed: nothing recorded
    assert plan_build(work_db, RULES_HASH).unbuilt_files == ["f3"]


def test_build_that_did_not_finish_makes_the_next_one_full(work_db):
    record_build(work_db, plan_build(work_db, RULES_HASH), "run-1")
    add_files(work_db, "f3")
    start_build(work_db, "run-2")  # the build began and died half-way
    plan = plan_build(work_db, RULES_HASH)
    assert plan.as_dict() == {
        "mode": "full", "reason": "the last build did not finish", "new_files": 1,
    }
    start_build(work_db, "run-3")
    record_build(work_db, plan, "run-3")
    assert plan_build(work_db, RULES_HASH).incremental


def test_changed_rules_force_full_build(work_db):
    record_build(work_db, plan_build(work_db, RULES_HASH), "run-1")
    add_files(work_db, "f3")
    plan = plan_build(work_db, "rules-b")
    assert plan.as_dict() == {
        "mode": "full",
        "reason": "the models or the rules changed since the last build",
        "new_files": 1,
    }
    record_build(work_db, plan, "run-2")
    assert built_files(work_db) == ["f1", "f2", "f3"]
    assert plan_build(work_db, "rules-b").incremental


def test_requested_full_build(work_db):
    record_build(work_db, plan_build(work_db, RULES_HASH), "run-1")
    add_files(work_db, "f3")
    plan = plan_build(work_db, RULES_HASH, full_build=True)
    assert plan.as_dict() == {
        "mode": "full", "reason": "a full build was requested", "new_files": 1,
    }
    assert plan_build(work_db, RULES_HASH).incremental


def test_fingerprint_follows_the_model_code(tmp_path):
    project = tmp_path / "dbt_project"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: x\n")
    model = project / "models" / "a.sql"
    model.write_text("select 1 as a\n")
    before = project_fingerprint(RULES_HASH, project)
    assert project_fingerprint(RULES_HASH, project) == before
    model.write_text("select 2 as a\n")
    assert project_fingerprint(RULES_HASH, project) != before
    assert project_fingerprint("rules-b", project) != project_fingerprint(RULES_HASH, project)
