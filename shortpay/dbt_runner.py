"""Run the dbt project in-process against the work database."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
from dbt.cli.main import dbtRunner, dbtRunnerResult
from dbt.contracts.graph.manifest import Manifest

from shortpay.settings import DBT_PROJECT_DIR

log = logging.getLogger(__name__)


class DbtBuildError(RuntimeError):
    """A dbt model or test failed; the message names each failing node."""


@dataclass
class DbtResult:
    nodes_passed: int = 0
    tests_passed: int = 0
    failures: list[str] = field(default_factory=list)


# dbt selection of every node of the project except its views.
# NOTE: this names the kinds of node the project has. A seed or a snapshot
# added later would run only in builds that make the views.
TABLES_AND_TESTS = "config.materialized:table config.materialized:incremental resource_type:test"

# The last parsed project of this process, keyed by what the parse depends
# on (see parse_key).
_parsed: dict[tuple[str, tuple[str, ...], date, str], Manifest] = {}

# Rows of a failed test that its error message shows.
SHOWN_FAILING_ROWS = 5

# Arguments whose values name one run's folders, which the parse does not
# depend on.
RUN_FOLDER_ARGUMENTS = ("--target-path", "--log-path")


def run_dbt_build(
    work_db: Path,
    target_dir: Path,
    as_of: date,
    select: str | None = None,
    exclude: str | None = None,
    incremental: bool = False,
    shared_parse: bool = False,
    keep_views: bool = False,
) -> DbtResult:
    """Run ``dbt build`` on the work database and raise DbtBuildError on any failure.

    With ``incremental`` the incremental models rebuild only the invoices
    and payments that unbuilt files touch (see shortpay.build_plan). Without
    it dbt gets ``--full-refresh`` and rebuilds every model from scratch. The
    models read that flag, not a variable, because dbt parses the whole
    project again whenever its variables change. For the same reason the
    run date goes to dbt in an environment variable (see as_of_date in
    dbt_project/macros/engine.sql).

    With ``shared_parse`` the build uses the process's last parse of the
    project when nothing it depends on has changed (see parse_project),
    so the run's second build (the exceptions queue) skips parsing, which
    took 0.5 to 1 s at a million invoices in a run of its own process.

    With ``keep_views`` and ``shared_parse``, the build leaves the project's
    views as they are when every one of them exists, and builds only the
    tables and the tests. When one is missing, it makes them all again.
    ``keep_views`` replaces ``select``.
    """
    common = common_arguments(target_dir)
    arguments = ["build", *common]
    if not incremental:
        arguments.append("--full-refresh")
    if exclude:
        arguments += ["--exclude", exclude]
    try:
        if shared_parse:
            manifest = parsed_project(common, as_of, work_db)
        else:
            set_dbt_environment(as_of, work_db)
            manifest = None
        if keep_views and manifest is not None and not _missing_views(work_db, manifest):
            select = TABLES_AND_TESTS
        if select:
            arguments += ["--select", select]
        outcome = dbtRunner(manifest=manifest).invoke(arguments)
    finally:
        _release_database()
    result = DbtResult()
    stop_if_interrupted(outcome)
    if outcome.exception is not None:
        raise DbtBuildError(f"dbt could not run: {_describe(outcome.exception)}")
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
            if is_test and status == "fail":
                message += _failing_rows(work_db, node_result.node)
            result.failures.append(f"{node_result.node.name}: {status}: {message[:1000]}")
    if not outcome.success:
        raise DbtBuildError(
            "dbt build failed: " + "; ".join(result.failures or ["see dbt logs"])
        )
    log.info(
        "dbt build passed: %d models, %d tests", result.nodes_passed, result.tests_passed
    )
    return result


def common_arguments(target_dir: Path) -> list[str]:
    """Return the arguments that every dbt command of a run shares."""
    return [
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target_dir / "target"),
        "--log-path", str(target_dir / "logs"),
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


def set_dbt_environment(as_of: date, work_db: Path) -> None:
    """Give dbt the run date (see as_of_date()) and the work database (see profiles.yml).

    A parse needs the database too: dbt-duckdb names the models' catalog
    after the database file.
    """
    os.environ["SHORTPAY_AS_OF"] = as_of.isoformat()
    os.environ["SHORTPAY_WORK_DB"] = str(work_db)


def parse_key(common: list[str], as_of: date, work_db: Path) -> tuple:
    """Return what a parse of the project depends on.

    That is the project's files, the dbt arguments other than the run's
    folders, the run date and the name of the work database's file, after
    which dbt-duckdb names the models' catalog.
    """
    from shortpay.build_plan import project_fingerprint

    project_dir = Path(common[common.index("--project-dir") + 1])
    arguments = [
        "" if index and common[index - 1] in RUN_FOLDER_ARGUMENTS else argument
        for index, argument in enumerate(common)
    ]
    return (project_fingerprint("", project_dir), tuple(arguments), as_of, work_db.name)


def parse_project(common: list[str], as_of: date, work_db: Path) -> Manifest:
    """Parse the project unless the cached parse is still current (see parse_key).

    A process that runs the flow more than once (the tests, the benchmark)
    parses once: a fresh work folder would otherwise cost a full parse,
    about 5 s here. Only the last parse is kept, so a long-lived process
    does not keep one per project. Returns the cached manifest, which a
    build must not be given (see parsed_project). Raises DbtBuildError
    when the project does not parse.
    """
    set_dbt_environment(as_of, work_db)
    key = parse_key(common, as_of, work_db)
    if key not in _parsed:
        outcome = dbtRunner().invoke(["parse", *common])
        stop_if_interrupted(outcome)
        if not outcome.success or not isinstance(outcome.result, Manifest):
            reason = _describe(outcome.exception) if outcome.exception else "see the dbt log"
            raise DbtBuildError(
                f"parsing the dbt project failed: {reason}. Fix the project and run again."
            )
        _parsed.clear()
        _parsed[key] = outcome.result
    return _parsed[key]


def parsed_project(common: list[str], as_of: date, work_db: Path) -> Manifest:
    """Return a copy of the parsed project for one build.

    A build compiles the nodes of the manifest it is given, and dbt does
    not compile a compiled node again: a second build would run a model's
    old SQL without the models it inlines. Each build therefore gets its
    own copy (0.1 s here), made by dbt's ``Manifest.deepcopy``.
    ``copy.deepcopy`` fails here: the copy's lookups raise
    "RefableLookup.find() missing 1 required positional argument". dbt's
    copy leaves out the environment variables that the parse read and the
    parent and child maps, so both are set again here.
    """
    cached = parse_project(common, as_of, work_db)
    manifest = cached.deepcopy()
    manifest.env_vars = dict(cached.env_vars)
    manifest.build_parent_and_child_maps()
    return manifest


def forget_parsed_project() -> None:
    """Drop the cached parse, so the next build parses as a new process would."""
    _parsed.clear()


def stop_if_interrupted(outcome: dbtRunnerResult) -> None:
    """Raise KeyboardInterrupt when dbt caught Ctrl-C, which it returns as its result."""
    if isinstance(outcome.exception, KeyboardInterrupt):
        raise KeyboardInterrupt from outcome.exception


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__


def _failing_rows(work_db: Path, node: Any) -> str:
    """Return the first rows that a failed test found, for its error message.

    dbt reports only their number. Returns an empty string when the test
    cannot be queried again.
    """
    sql = getattr(node, "compiled_code", None)
    if not sql:
        return ""
    connection = duckdb.connect(str(work_db), read_only=True)
    try:
        cursor = connection.execute(
            f"select * from ({sql}) order by all limit {SHOWN_FAILING_ROWS}"  # noqa: S608
        )
        names = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
    except duckdb.Error as error:
        log.warning("the failing rows of %s could not be read: %s", node.name, error)
        return ""
    finally:
        connection.close()
    listed_rows = " | ".join(
        ", ".join(f"{name}={value}" for name, value in zip(names, row, strict=True))
        for row in rows
    )
    return f" (first rows: {listed_rows})" if listed_rows else ""


def _missing_views(work_db: Path, manifest: Manifest) -> list[str]:
    """Return the views of the project that the work database lacks, as schema.name."""
    expected = {
        (node.schema, node.alias)
        for node in manifest.nodes.values()
        if node.resource_type == "model" and node.config.materialized == "view"
    }
    connection = duckdb.connect(str(work_db), read_only=True)
    try:
        present = set(
            connection.execute("select schema_name, view_name from duckdb_views()").fetchall()
        )
    finally:
        connection.close()
    missing = sorted(f"{schema}.{name}" for schema, name in expected - present)
    if missing:
        log.warning(
            "the work database is missing the views %s, so this build makes every view again",
            ", ".join(missing),
        )
    return missing


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
