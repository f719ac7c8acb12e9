"""Run the dbt project in-process against the work database."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from dbt.cli.main import dbtRunner

from shortpay.settings import DBT_PROJECT_DIR

log = logging.getLogger(__name__)


class DbtBuildError(RuntimeError):
    """A dbt model or test failed; the message names each failing node."""


@dataclass
class DbtResult:
    nodes_passed: int = 0
    tests_passed: int = 0
    failures: list[str] = field(default_factory=list)


def run_dbt_build(
    work_db: Path,
    target_dir: Path,
    as_of: date,
    select: str | None = None,
    exclude: str | None = None,
    incremental: bool = False,
) -> DbtResult:
    """Run ``dbt build`` on the work database and raise DbtBuildError on any failure.

    With ``incremental`` the incremental models rebuild only the invoices
    and payments that unbuilt files touch (see shortpay.build_plan). Without
    it dbt gets ``--full-refresh`` and rebuilds every model from scratch. The
    models read that flag, not a variable, because dbt parses the project
    again whenever its variables change. So the variables hold only the run
    date.
    """
    os.environ["SHORTPAY_WORK_DB"] = str(work_db)
    variables = {"as_of": as_of.isoformat()}
    arguments = [
        "build",
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target_dir / "target"),
        "--log-path", str(target_dir / "logs"),
        "--vars", json.dumps(variables),
        "--quiet",
        "--no-version-check",
        # Writing manifest.json and run_results.json took dbt about a second
        # a build at a million invoices, and nothing here reads them. dbt
        # keeps its partial-parse file and its log either way.
        "--no-write-json",
        # At debug level dbt logs every SQL statement, which cost about a
        # second a build at a million invoices. Info keeps one line per node
        # and every error.
        "--log-level-file", "info",
    ]
    if not incremental:
        arguments.append("--full-refresh")
    if select:
        arguments += ["--select", select]
    if exclude:
        arguments += ["--exclude", exclude]
    try:
        outcome = dbtRunner().invoke(arguments)
    finally:
        _release_database()
    result = DbtResult()
    if outcome.exception is not None:
        raise DbtBuildError(f"dbt could not run: {outcome.exception}")
    for node_result in outcome.result or []:
        status = str(node_result.status)
        is_test = node_result.node.resource_type == "test"
        if status in ("success", "pass"):
            if is_test:
                result.tests_passed += 1
            else:
                result.nodes_passed += 1
        elif status in ("error", "fail", "runtime error"):
            message = " ".join((node_result.message or "").split())
            result.failures.append(f"{node_result.node.name}: {status}: {message[:500]}")
    if not outcome.success:
        raise DbtBuildError(
            "dbt build failed: " + "; ".join(result.failures or ["see dbt logs"])
        )
    log.info(
        "dbt build passed: %d models, %d tests", result.nodes_passed, result.tests_passed
    )
    return result


def _release_database() -> None:
    """Close the DuckDB instance that dbt-duckdb keeps open after a build.

    dbt-duckdb (1.11) caches one database instance per process in
    DuckDBConnectionManager._ENV and leaves it open when dbtRunner returns.
    Later steps of the run open the same file with other settings, which
    DuckDB refuses while that instance lives, so it is closed here.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
    if environment is not None:
        environment.close()
