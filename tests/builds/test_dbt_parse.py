"""The builds of one run share one parse of the dbt project."""

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
    parsed_project,
    stop_if_interrupted,
)
from shortpay.settings import DBT_PROJECT_DIR

RUN_DATE = date(2026, 11, 30)


def test_builds_of_one_run_share_one_parse(tmp_path):
    arguments = common_arguments(tmp_path)
    work_db = tmp_path / "work.duckdb"
    first = parsed_project("run-1", arguments, RUN_DATE, work_db)
    assert first is not None
    assert "model.shortpay.fct_deductions" in first.nodes
    assert parsed_project("run-1", arguments, RUN_DATE, work_db) is first

    second = parsed_project("run-2", arguments, RUN_DATE, work_db)
    assert second is not first
    # Only the last run's parse is kept.
    assert list(dbt_runner._parsed) == [("run-2", tuple(arguments), RUN_DATE, str(work_db))]


def test_next_day_parses_partially(tmp_path, monkeypatch):
    monkeypatch.delenv("SHORTPAY_AS_OF", raising=False)
    arguments = common_arguments(tmp_path)
    work_db = tmp_path / "work.duckdb"
    first = parsed_project("run-1", arguments, RUN_DATE, work_db)
    later = parsed_project("run-2", arguments, date(2026, 12, 1), work_db)
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
        parsed_project("run-1", arguments, RUN_DATE, tmp_path / "work.duckdb")


def test_parse_uses_the_run_database(tmp_path, monkeypatch):
    # A value left in the shell, say from running dbt by hand.
    monkeypatch.setenv("SHORTPAY_WORK_DB", str(tmp_path / "other.duckdb"))
    manifest = parsed_project(
        "run-1", common_arguments(tmp_path), RUN_DATE, tmp_path / "work.duckdb"
    )
    # dbt-duckdb names the catalog after the database file.
    assert manifest.nodes["model.shortpay.fct_deductions"].database == "work"


def test_interrupted_dbt_stops_the_run() -> None:
    """dbt returns Ctrl-C as its result's exception, and the run stops as interrupted."""
    with pytest.raises(KeyboardInterrupt):
        stop_if_interrupted(dbtRunnerResult(success=False, exception=KeyboardInterrupt()))
    stop_if_interrupted(dbtRunnerResult(success=False, exception=RuntimeError("model failed")))
    stop_if_interrupted(dbtRunnerResult(success=True))
