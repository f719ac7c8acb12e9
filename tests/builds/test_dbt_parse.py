"""The builds of one run share one parse of the dbt project."""

from __future__ import annotations

from datetime import date

from shortpay import dbt_runner
from shortpay.dbt_runner import common_arguments, parsed_project


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
