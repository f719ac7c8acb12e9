"""The run date that `shortpay run --as-of` accepts, and the flow's defaults."""

from __future__ import annotations

import argparse
from datetime import date

import pytest

from shortpay.run_cli import parse_date


def test_calendar_date_is_accepted():
    assert parse_date("2026-12-05") == date(2026, 12, 5)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("20261205", "use a real date as YYYY-MM-DD"),
        ("2026-W49-6", "use a real date as YYYY-MM-DD"),
        ("2026-12-05T00:00", "use a real date as YYYY-MM-DD"),
        ("2026-02-30", "day is out of range for month"),
    ],
)
def test_other_forms_are_rejected(text, reason):
    with pytest.raises(argparse.ArgumentTypeError, match=reason):
        parse_date(text)


def test_scheduled_flow_needs_only_paths():
    """A deployment passes the three paths; the date and run id default per run."""
    from flows.main import main_flow

    assert main_flow.parameters.required == ["inbox", "warehouse", "rules_dir"]
    assert main_flow.parameters.properties["as_of"]["default"] is None
    assert main_flow.parameters.properties["run_id"]["default"] is None
