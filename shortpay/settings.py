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


def set_library_defaults() -> None:
    """Turn off the usage reporting of dbt, Prefect and Great Expectations,
    and give Prefect's temporary server time to start.

    Call it before Prefect is imported: Prefect reads its settings then.
    """
    for name, value in {**TELEMETRY_OFF, **PREFECT_DEFAULTS}.items():
        os.environ.setdefault(name, value)
