"""The builds of one run share one parse of the dbt project."""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from shortpay import dbt_runner
from shortpay.dbt_runner import DbtBuildError, common_arguments, parsed_project
from shortpay.settings import DBT_PROJECT_DIR


def test_builds_of_one_run_share_one_parse(tmp_path):
    arguments = common_arguments(tmp_path, date(2026, 11, 30))
    first = parsed_project("run-1", arguments)
    assert first is not None
    assert "model.shortpay.fct_deductions" in first.nodes
    assert parsed_project("run-1", arguments) is first

    second = parsed_project("run-2", arguments)
    assert second is not first
    # Only the last run's parse is kept.
    assert list(dbt_runner._parsed) == [("run-2", tuple(arguments))]


def test_another_run_date_parses_again(tmp_path):
    first = parsed_project("run-1", common_arguments(tmp_path, date(2026, 11, 30)))
    later = parsed_project("run-1", common_arguments(tmp_path, date(2026, 12, 1)))
    assert later is not first


def test_broken_project_raises_build_error(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(
        DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs")
    )
    (project / "models" / "broken.sql").write_text(
        "select * from {{ ref('no_such_model') }}\n", encoding="utf-8"
    )
    arguments = common_arguments(tmp_path, date(2026, 11, 30))
    arguments[arguments.index("--project-dir") + 1] = str(project)
    arguments[arguments.index("--profiles-dir") + 1] = str(project)
    expected = "(?s)parsing the dbt project failed: Compilation Error.*no_such_model"
    with pytest.raises(DbtBuildError, match=expected):
        parsed_project("run-1", arguments)
