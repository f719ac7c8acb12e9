"""Paths of an installation, derived from the published warehouse path.

Everything a run needs besides its inbox and rules sits next to the
published warehouse file, so one ``--warehouse`` option places a whole
installation:

- ``<dir>/<stem>.duckdb``: the published warehouse that readers open;
- ``<dir>/.shortpay/<stem>/work.duckdb``: raw tables and the dbt build;
- ``<dir>/.shortpay/<stem>/state.duckdb``: the review audit log and the
  follow-up outbox, which no rebuild touches;
- ``<dir>/outbox/``: rendered follow-up messages (transport ``outbox``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
DEFAULT_RULES_DIR = REPO_ROOT / "rules"
TEMPLATES_DIR = REPO_ROOT / "shortpay" / "followups" / "templates"


@dataclass(frozen=True)
class Paths:
    """Files and folders of one Shortpay installation."""

    warehouse: Path
    work_dir: Path
    work_db: Path
    state_db: Path
    outbox_dir: Path
    run_lock: Path

    @classmethod
    def for_warehouse(cls, warehouse: str | os.PathLike, outbox: str | None = None) -> Paths:
        warehouse = Path(warehouse).resolve()
        work_dir = warehouse.parent / ".shortpay" / warehouse.stem
        outbox_dir = Path(outbox).resolve() if outbox else warehouse.parent / "outbox"
        return cls(
            warehouse=warehouse,
            work_dir=work_dir,
            work_db=work_dir / "work.duckdb",
            state_db=work_dir / "state.duckdb",
            outbox_dir=outbox_dir,
            run_lock=work_dir / "run.lock",
        )

    def ensure(self) -> None:
        """Create the folders of the installation."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.outbox_dir.mkdir(parents=True, exist_ok=True)


# Usage reporting that the libraries would send over the network by default.
# Shortpay runs offline and sends nothing anywhere but the configured email
# transport; a value the user set in the environment is kept.
TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
}


# Prefect gives its temporary server (the one a run starts when
# PREFECT_API_URL is not set) 20 s to start. Its first start on a machine also
# creates its database, which took 26 s on a 2-core machine, and the run failed
# with "Timed out while attempting to connect to ephemeral Prefect API server".
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
}


# Shortpay's own log lines (files loaded, rows rejected, checks failed,
# messages held) go to the flow run's log in Prefect and to standard error.
# A line logged outside a flow or task run, by `shortpay review` for
# example, goes to standard error only.
PREFECT_LOG_DEFAULTS = {
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
}
SHORTPAY_LOGGER = "shortpay"


def set_library_defaults() -> None:
    """Turn off the usage reporting of dbt, Prefect and Great Expectations,
    give Prefect's temporary server time to start and send Shortpay's log
    lines to Prefect.

    Call it before Prefect is imported: Prefect reads its settings then.
    A value that the environment sets already is kept, and the ``shortpay``
    logger is added to the extra loggers it names.
    """
    for name, value in {**TELEMETRY_OFF, **PREFECT_DEFAULTS, **PREFECT_LOG_DEFAULTS}.items():
        os.environ.setdefault(name, value)
    extra = [
        name.strip()
        for name in os.environ.get("PREFECT_LOGGING_EXTRA_LOGGERS", "").split(",")
        if name.strip()
    ]
    if SHORTPAY_LOGGER not in extra:
        os.environ["PREFECT_LOGGING_EXTRA_LOGGERS"] = ",".join([*extra, SHORTPAY_LOGGER])
