"""Data-quality checks: Great Expectations suites run in DuckDB over the work database.

Suites are pretty-printed JSON files in ``expectations/blocking/`` and
``expectations/warning/``. Each suite's ``meta`` names the table it checks
(``table``), the column that identifies a row (``key_column``) and what a row
is (``entity_type``). Each expectation's ``meta.check_id`` names the check and
its ``notes`` give the reason it exists.

Every failing row becomes a row of ``raw.dq_failures``. An expectation that
errors (a missing table or column, invalid SQL) is reported in
``QualityResult.check_errors`` and blocks publication like a failed blocking
check does.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import great_expectations as gx
import pyarrow
from great_expectations.data_context.types.base import ProgressBarsConfig

from shortpay.gx_engine import SINGLE_CONNECTION_KWARGS, DuckDBDatasource, duckdb_connection_string
from shortpay.interrupts import raise_if_interrupted

log = logging.getLogger(__name__)
# GX 1.24 logs every datasource registration and temporary folder at INFO;
# its warnings and errors still come through.
logging.getLogger("great_expectations").setLevel(logging.WARNING)

SEVERITY_BY_FOLDER = {"blocking": "error", "warning": "warning"}

# GX lists at most `partial_unexpected_count` failing rows of a column
# expectation on SQL (20 unless set). Rows past this cap are counted in one
# summary row of raw.dq_failures instead of being listed.
MAX_LISTED_FAILURES = 1_000_000

TABLE_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")

DQ_FAILURES_DDL = """
create table if not exists raw.dq_failures (
    check_id varchar,
    suite varchar,
    severity varchar,
    table_name varchar,
    entity_type varchar,
    entity_id varchar,
    column_name varchar,
    message varchar,
    run_id varchar,
    detected_at timestamptz
)
"""


FAILURE_FIELDS = [
    "check_id",
    "suite",
    "severity",
    "table_name",
    "entity_type",
    "entity_id",
    "column_name",
    "message",
]
# A failure that an earlier run found too keeps the time it was first found.
INSERT_FAILURES_SQL = f"""
insert into raw.dq_failures ({", ".join(FAILURE_FIELDS)}, run_id, detected_at)
select {", ".join("new." + field for field in FAILURE_FIELDS)}, new.run_id,
    coalesce(earlier.first_detected_at, new.detected_at)
from failure_rows as new
left join dq_first_detected as earlier
    on new.check_id = earlier.check_id
    and new.entity_type is not distinct from earlier.entity_type
    and new.entity_id is not distinct from earlier.entity_id
"""  # noqa: S608 - built from the constant column list above


@dataclass
class QualityResult:
    """Counts of one data-quality run. Errored checks count as neither passed nor failed."""

    checks_run: int = 0
    checks_passed: int = 0
    checks_failed: int = 0
    check_errors: list[tuple[str, str, str]] = field(default_factory=list)
    failures_written: int = 0
    blocking_failed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Suite:
    """One suite file: its expectations and the table they check."""

    name: str
    severity: str
    table_name: str
    key_column: str
    entity_type: str
    document: dict[str, Any]


@dataclass(frozen=True)
class Failure:
    """One failing row, as written to ``raw.dq_failures``."""

    check_id: str
    suite: str
    severity: str
    table_name: str
    entity_type: str
    entity_id: str | None
    column_name: str | None
    message: str


def run_quality_checks(
    work_db: Path, suites_dir: Path, run_id: str, as_of: date | None = None
) -> QualityResult:
    """Run every suite of ``suites_dir`` against ``work_db`` and record failing rows.

    ``as_of`` is the date the run describes (default: today, UTC); suites
    refer to it as the parameter ``as_of_date``.
    """
    as_of = as_of or datetime.now(UTC).date()
    result = QualityResult()
    suites = load_suites(suites_dir, result)
    failures: list[Failure] = []
    if suites:
        failures = _validate_suites(work_db, suites, as_of, result)
    result.failures_written = write_failures(work_db, failures, run_id)
    if result.check_errors:
        result.blocking_failed = True
    log.info(
        "data quality: %d checks run, %d passed, %d failed, %d errors, %d failing rows written",
        result.checks_run,
        result.checks_passed,
        result.checks_failed,
        len(result.check_errors),
        result.failures_written,
    )
    return result


def load_suites(suites_dir: Path, result: QualityResult) -> list[Suite]:
    """Read the suite files; a file that cannot be read becomes a check error."""
    suites = []
    for folder, severity in SEVERITY_BY_FOLDER.items():
        for path in sorted((suites_dir / folder).glob("*.json")):
            try:
                suites.append(_read_suite(path, severity))
            except (OSError, ValueError, KeyError, TypeError) as error:
                log.error("invalid expectation suite %s: %s", path, error)
                result.check_errors.append((path.stem, "", f"invalid suite file {path}: {error}"))
    return suites


def _read_suite(path: Path, severity: str) -> Suite:
    document = json.loads(path.read_text(encoding="utf-8"))
    meta = document["meta"]
    table_name = meta["table"]
    if not TABLE_NAME_PATTERN.fullmatch(table_name):
        raise ValueError(f"meta.table {table_name!r} is not a schema.table name")
    for position, expectation in enumerate(document["expectations"], start=1):
        if not expectation.get("meta", {}).get("check_id") or not expectation.get("notes"):
            raise ValueError(f"expectation {position} has no meta.check_id or no notes")
    return Suite(
        name=document["name"],
        severity=severity,
        table_name=table_name,
        key_column=meta["key_column"],
        entity_type=meta["entity_type"],
        document=document,
    )


def _validate_suites(
    work_db: Path, suites: list[Suite], as_of: date, result: QualityResult
) -> list[Failure]:
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    datasource: DuckDBDatasource = context.data_sources.add_shortpay_duckdb(
        name="work",
        connection_string=duckdb_connection_string(str(work_db)),
        kwargs=SINGLE_CONNECTION_KWARGS,
    )
    failures: list[Failure] = []
    try:
        for suite in suites:
            failures.extend(_validate_suite(datasource, suite, as_of, result))
    finally:
        # The datasource keeps an engine of its own besides the execution
        # engine's; both hold a connection to the file until disposed.
        execution_engine = datasource.execution_engine
        if execution_engine is not None:
            execution_engine.close()
            execution_engine.engine.dispose()
        if datasource._engine is not None:
            datasource._engine.dispose()
    return failures


def _validate_suite(
    datasource: DuckDBDatasource, suite: Suite, as_of: date, result: QualityResult
) -> list[Failure]:
    expectations = suite.document["expectations"]
    result.checks_run += len(expectations)
    schema, _, table = suite.table_name.rpartition(".")
    quoted = f'"{schema}"."{table}"' if schema else f'"{table}"'
    try:
        # The table name matched TABLE_NAME_PATTERN and is quoted, so no
        # value from the suite file reaches the SQL unchecked.
        asset = datasource.add_query_asset(
            name=f"{suite.severity}_{suite.name}",
            query=f"select * from {quoted}",  # noqa: S608
        )
        batch = asset.add_batch_definition_whole_table("all").get_batch()
        expectation_suite = gx.ExpectationSuite(
            name=f"{suite.severity}_{suite.name}", expectations=expectations
        )
        validation = batch.validate(
            expectation_suite,
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": [suite.key_column],
                "partial_unexpected_count": MAX_LISTED_FAILURES,
            },
            expectation_parameters={"as_of_date": as_of.isoformat()},
        )
    except Exception as error:  # noqa: BLE001 - GX raises many unrelated types here
        raise_if_interrupted(error)
        log.error("suite %s could not run on %s: %s", suite.name, suite.table_name, error)
        for expectation in expectations:
            check_id = expectation.get("meta", {}).get("check_id", expectation.get("type", ""))
            result.check_errors.append((suite.name, check_id, str(error)))
        return []
    failures = []
    for expectation_result in validation.results:
        failures.extend(_record_result(suite, expectation_result, result))
    return failures


def _record_result(suite: Suite, expectation_result: Any, result: QualityResult) -> list[Failure]:
    config = expectation_result.expectation_config
    check_id = config.meta.get("check_id", config.type)
    error = _error_message(expectation_result.exception_info)
    if error is not None:
        log.error("check %s.%s raised an error: %s", suite.name, check_id, error)
        result.check_errors.append((suite.name, check_id, error))
        return []
    if expectation_result.success:
        result.checks_passed += 1
        return []
    result.checks_failed += 1
    if suite.severity == "error":
        result.blocking_failed = True
    return _failures_of(suite, check_id, config, dict(expectation_result.result))


def _error_message(exception_info: Any) -> str | None:
    """Return the error text of an expectation that raised, or None when it ran."""
    if not exception_info:
        return None
    if "raised_exception" in exception_info:
        if exception_info.get("raised_exception"):
            return str(exception_info.get("exception_message"))
        return None
    # A failed metric leaves a dict of metric id -> exception info.
    messages = [
        str(info.get("exception_message"))
        for info in exception_info.values()
        if isinstance(info, dict) and info.get("raised_exception")
    ]
    return "; ".join(messages) if messages else None


def _failures_of(suite: Suite, check_id: str, config: Any, details: dict) -> list[Failure]:
    column = config.meta.get("column") or config.kwargs.get("column")
    notes = str(config.notes or check_id)
    if "unexpected_index_list" in details:
        rows = details["unexpected_index_list"]
        total = int(details.get("unexpected_count", len(rows)))
    else:
        rows = details.get("details", {}).get("unexpected_rows", [])
        total = int(details.get("observed_value", len(rows)))

    def failure(entity_id: Any, message: str) -> Failure:
        return Failure(
            check_id=check_id,
            suite=suite.name,
            severity=suite.severity,
            table_name=suite.table_name,
            entity_type=suite.entity_type,
            entity_id=None if entity_id is None else str(entity_id),
            column_name=column,
            message=message,
        )

    failures = [
        failure(row.get(suite.key_column), f"{check_id}: {_describe_row(row, suite)}. {notes}")
        for row in rows
    ]
    if total > len(rows):
        # NOTE: only a check with more than MAX_LISTED_FAILURES failing rows
        # gets here, because GX then stops listing them.
        failures.append(
            failure(None, f"{check_id}: {total - len(rows)} more failing rows are not listed")
        )
    return failures


def _describe_row(row: dict, suite: Suite) -> str:
    values = [
        f"{name} = {'null' if value is None else value}"
        for name, value in row.items()
        if name != suite.key_column
    ]
    key = row.get(suite.key_column)
    subject = f"{suite.key_column} {'null' if key is None else key}"
    return f"{subject} has {', '.join(values)}" if values else f"{subject} failed"


def write_failures(work_db: Path, failures: list[Failure], run_id: str) -> int:
    """Replace every row of ``raw.dq_failures`` with ``failures``.

    Each run checks all the data, so a failure missing from this run's list
    is fixed and leaves the table. One found before keeps its first
    ``detected_at``.
    """
    connection = duckdb.connect(str(work_db))
    try:
        connection.execute("begin")
        connection.execute("create schema if not exists raw")
        connection.execute(DQ_FAILURES_DDL)
        rows = _failure_table(failures, run_id, _detected_at(connection))
        connection.execute(
            "create or replace temp table dq_first_detected as"
            " select check_id, entity_type, entity_id, min(detected_at) as first_detected_at"
            " from raw.dq_failures group by check_id, entity_type, entity_id"
        )
        connection.execute("delete from raw.dq_failures")
        if failures:
            connection.register("failure_rows", rows)
            connection.execute(INSERT_FAILURES_SQL)
            connection.unregister("failure_rows")
        connection.execute("drop table dq_first_detected")
        connection.execute("commit")
    finally:
        connection.close()
    return len(failures)


def _failure_table(failures: list[Failure], run_id: str, detected_at: datetime) -> pyarrow.Table:
    columns = {
        name: pyarrow.array([getattr(item, name) for item in failures], pyarrow.string())
        for name in FAILURE_FIELDS
    }
    columns["run_id"] = pyarrow.array([run_id] * len(failures), pyarrow.string())
    time_type = pyarrow.timestamp("us", tz="UTC" if detected_at.tzinfo else None)
    columns["detected_at"] = pyarrow.array([detected_at] * len(failures), time_type)
    return pyarrow.table(columns)


def _detected_at(connection: duckdb.DuckDBPyConnection) -> datetime:
    """Return now in UTC, without a time zone when the table's column has none.

    DuckDB would otherwise convert an aware value to the session's local time
    when it stores it in a plain ``timestamp`` column.
    """
    column_type = connection.execute(
        "select data_type from duckdb_columns()"
        " where schema_name = 'raw' and table_name = 'dq_failures'"
        " and column_name = 'detected_at'"
    ).fetchall()
    now = datetime.now(UTC)
    if column_type and column_type[0][0] == "TIMESTAMP":
        return now.replace(tzinfo=None)
    return now
