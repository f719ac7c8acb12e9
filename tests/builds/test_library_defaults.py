"""Settings that Shortpay gives dbt, Prefect and Great Expectations."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shortpay.settings import PREFECT_DEFAULTS, TELEMETRY_OFF, set_library_defaults

STARTUP_TIMEOUT = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"


def test_defaults_fill_only_unset_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*TELEMETRY_OFF, *PREFECT_DEFAULTS):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DO_NOT_TRACK", "0")

    set_library_defaults()

    assert os.environ[STARTUP_TIMEOUT] == "180"
    assert os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"
    assert os.environ["DO_NOT_TRACK"] == "0"


@pytest.mark.parametrize(
    "user_value, expected",
    [(None, "shortpay"), ("dbt", "dbt,shortpay"), ("shortpay, dbt", "shortpay, dbt")],
)
def test_shortpay_logger_joins_extra_loggers(
    monkeypatch: pytest.MonkeyPatch, user_value: str | None, expected: str
) -> None:
    monkeypatch.delenv("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", raising=False)
    if user_value is None:
        monkeypatch.delenv("PREFECT_LOGGING_EXTRA_LOGGERS", raising=False)
    else:
        monkeypatch.setenv("PREFECT_LOGGING_EXTRA_LOGGERS", user_value)

    set_library_defaults()

    assert os.environ["PREFECT_LOGGING_EXTRA_LOGGERS"] == expected
    assert os.environ["PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW"] == "ignore"


@pytest.mark.parametrize("user_value, expected", [(None, 180.0), ("45", 45.0)])
def test_prefect_reads_the_startup_timeout(user_value: str | None, expected: float) -> None:
    """The shortpay command sets the timeout before it imports Prefect,
    which reads its settings at import time (the default is 20 s)."""
    environment = {k: v for k, v in os.environ.items() if k != STARTUP_TIMEOUT}
    if user_value is not None:
        environment[STARTUP_TIMEOUT] = user_value
    script = (
        "import sys\n"
        "from shortpay.settings import set_library_defaults\n"
        "assert 'prefect' not in sys.modules\n"
        "set_library_defaults()\n"
        "from prefect.settings import get_current_settings\n"
        "print(get_current_settings().server.ephemeral.startup_timeout_seconds)\n"
    )
    printed = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True,
        check=True,
    ).stdout
    assert float(printed.strip()) == expected
