"""Builds share one parse of the dbt project while it does not change."""

from __future__ import annotations

import os
import shutil
from datetime import date

import pytest
from dbt.cli.main import dbtRunnerResult

from shortpay import dbt_runner
from shortpay.dbt_runner import (
    DbtBuildError,
    common_arguments,
    forget_parsed_project,
    parse_project,
    parsed_project,
    stop_if_interrupted,
)
from shortpay.settings import DBT_PROJECT_DIR

RUN_DATE = date(2026, 11, 30)


@pytest.fixture(autouse=True)
def no_cached_parse():
    """Start and end each test with no cached parse, as in a new process."""
    forget_parsed_project()
    yield
    forget_parsed_project()


def test_builds_share_one_parse(tmp_path):
    arguments = common_arguments(tmp_path / "first")
    work_db = tmp_path / "first" / "work.duckdb"
    cached = parse_project(arguments, RUN_DATE, work_db)
    assert "model.shortpay.fct_deductions" in cached.nodes
    assert parse_project(arguments, RUN_DATE, work_db) is cached
    # Another run's folders and database file of the same name: the parse
    # depends on neither, and dbt is not run again.
    other = tmp_path / "other"
    assert parse_project(common_arguments(other), RUN_DATE, other / "work.duckdb") is cached
    assert not (other / "logs").exists()


def test_each_build_gets_its_own_copy(tmp_path):
    arguments = common_arguments(tmp_path)
    work_db = tmp_path / "work.duckdb"
    cached = parse_project(arguments, RUN_DATE, work_db)
    first = parsed_project(arguments, RUN_DATE, work_db)
    second = parsed_project(arguments, RUN_DATE, work_db)
    assert first is not cached
    assert second is not first
    node = "model.shortpay.fct_deductions"
    assert first.nodes[node] is not cached.nodes[node]
    # A build marks the nodes it compiles in its copy only.
    first.nodes[node].compiled = True
    first.nodes[node].extra_ctes_injected = True
    assert not cached.nodes[node].compiled
    assert not second.nodes[node].extra_ctes_injected


def test_changed_project_is_parsed_again(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(
        DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs")
    )
    arguments = common_arguments(tmp_path)
    arguments[arguments.index("--project-dir") + 1] = str(project)
    arguments[arguments.index("--profiles-dir") + 1] = str(project)
    work_db = tmp_path / "work.duckdb"
    first = parse_project(arguments, RUN_DATE, work_db)
    assert "model.shortpay.extra_count" not in first.nodes
    (project / "models" / "extra_count.sql").write_text("select 1 as n\n", encoding="utf-8")
    second = parse_project(arguments, RUN_DATE, work_db)
    assert "model.shortpay.extra_count" in second.nodes
    # Only the last parse is cached.
    assert len(dbt_runner._parsed) == 1
    forget_parsed_project()
    assert not dbt_runner._parsed


def test_next_day_parses_partially(tmp_path, monkeypatch):
    monkeypatch.delenv("SHORTPAY_AS_OF", raising=False)
    arguments = common_arguments(tmp_path)
    work_db = tmp_path / "work.duckdb"
    first = parse_project(arguments, RUN_DATE, work_db)
    later = parse_project(arguments, date(2026, 12, 1), work_db)
    assert later is not first
    assert os.environ["SHORTPAY_AS_OF"] == "2026-12-01"
    log = (tmp_path / "logs" / "dbt.log").read_text(encoding="utf-8")
    # dbt logs this line for each parse that is not partial. The first parse
    # of a new target folder is one, and the next day's must not be.
    assert log.count("Unable to do partial parsing") == 1
    assert "saved manifest not found" in log


def test_broken_project_raises_build_error(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(
        DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs")
    )
    (project / "models" / "broken.sql").write_text(
        "select * from {{ ref('no_such_model') }}\n", encoding="utf-8"
    )
    arguments = common_arguments(tmp_path)
    arguments[arguments.index("--project-dir") + 1] = str(project)
    arguments[arguments.index("--profiles-dir") + 1] = str(project)
    expected = "(?s)parsing the dbt project failed: Compilation Error.*no_such_model"
    with pytest.raises(DbtBuildError, match=expected):
        parse_project(arguments, RUN_DATE, tmp_path / "work.duckdb")


def test_parse_uses_the_run_database(tmp_path, monkeypatch):
    # A value left in the shell, say from running dbt by hand.
    monkeypatch.setenv("SHORTPAY_WORK_DB", str(tmp_path / "other.duckdb"))
    manifest = parse_project(common_arguments(tmp_path), RUN_DATE, tmp_path / "work.duckdb")
    # dbt-duckdb names the catalog after the database file.
    assert manifest.nodes["model.shortpay.fct_deductions"].database == "work"


def test_interrupted_dbt_stops_the_run() -> None:
    """dbt returns Ctrl-C as its result's exception, and the run stops as interrupted."""
    with pytest.raises(KeyboardInterrupt):
        stop_if_interrupted(dbtRunnerResult(success=False, exception=KeyboardInterrupt()))
    stop_if_interrupted(dbtRunnerResult(success=False, exception=RuntimeError("model failed")))
    stop_if_interrupted(dbtRunnerResult(success=True))
