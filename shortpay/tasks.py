"""Prefect tasks of the main flow; each one does one stage of a run."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from shortpay.dbt_runner import DbtResult, common_arguments, parse_project, run_dbt_build
from shortpay.settings import Paths

# The exceptions mart reads the data-quality failures, so it is built after
# the checks, in a second dbt build.
EXCEPTIONS_MODELS = "int_exceptions_detected+"

DQ_FAILURES_DDL = """
create table if not exists raw.dq_failures (
    check_id varchar, suite varchar, severity varchar, table_name varchar,
    entity_type varchar, entity_id varchar, column_name varchar,
    message varchar, run_id varchar, detected_at timestamp
)
"""


@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5, timeout_seconds=3600)
def ingest_inbox(inbox: Path, paths: Paths, run_id: str) -> dict:
    """Load every new file of the inbox into the raw tables."""
    from shortpay.ingest.loader import load_inbox

    summary = load_inbox(inbox, paths.work_db, run_id)
    get_run_logger().info("ingest: %s", summary.as_dict())
    return summary.as_dict()


@task(cache_policy=NO_CACHE, timeout_seconds=300)
def load_rule_tables(rules_dir: Path, paths: Paths) -> str:
    """Validate the YAML rules and write them as tables; return their content hash."""
    from shortpay.rules.load import load_rules, write_rule_tables

    ruleset = load_rules(rules_dir)
    connection = duckdb.connect(str(paths.work_db))
    try:
        write_rule_tables(connection, ruleset)
    finally:
        connection.close()
    get_run_logger().info("rules %s loaded from %s", ruleset.content_hash, rules_dir)
    return ruleset.content_hash


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2, timeout_seconds=300)
def snapshot_review_state(paths: Paths) -> int:
    """Copy the review decision log and the follow-up outbox into the work database."""
    from shortpay.followups.outbox import snapshot_outbox
    from shortpay.review.snapshot import snapshot_state

    connection = duckdb.connect(str(paths.work_db))
    try:
        copied = snapshot_state(paths.state_db, connection)
        snapshot_outbox(paths.state_db, connection)
        connection.execute(DQ_FAILURES_DDL)
    finally:
        connection.close()
    return copied


@task(cache_policy=NO_CACHE, timeout_seconds=7200)
def build_models(
    paths: Paths, as_of: date, run_id: str, rules_hash: str, full_build: bool = False
) -> dict:
    """Build and test every model except the exceptions queue, incrementally when allowed."""
    from shortpay.build_plan import count_rebuilt, plan_build, record_build, start_build

    plan = plan_build(paths.work_db, rules_hash, full_build=full_build)
    get_run_logger().info(
        "dbt build: %s (%s), %d new or changed files",
        "incremental" if plan.incremental else "full", plan.reason, len(plan.unbuilt_files),
    )
    # A project that does not parse fails here, before the build is marked
    # as started, so the next run does not plan a full build because of it.
    parse_project(common_arguments(paths.work_dir), as_of, paths.work_db)
    start_build(paths.work_db, run_id)
    run_dbt_build(
        paths.work_db, paths.work_dir, as_of,
        exclude=EXCEPTIONS_MODELS, incremental=plan.incremental, shared_parse=True,
        # The project is the last completed build's (plan_build checks
        # this), so the views that build made are current.
        keep_views=plan.incremental,
    )
    record_build(paths.work_db, plan, run_id)
    build = plan.as_dict()
    if plan.incremental:
        build["rebuilt"] = count_rebuilt(paths.work_db)
    return build


@task(cache_policy=NO_CACHE, timeout_seconds=3600)
def check_quality(paths: Paths, run_id: str, as_of: date, suites_dir: Path) -> dict:
    """Run the Great Expectations suites and record failing rows."""
    from shortpay.quality import run_quality_checks

    result = run_quality_checks(paths.work_db, suites_dir, run_id, as_of=as_of)
    summary = result.as_dict()
    connection = duckdb.connect(str(paths.work_db), read_only=True)
    try:
        summary["blocking_failures"] = [
            check_id
            for (check_id,) in connection.execute(
                "select distinct check_id from raw.dq_failures"
                " where run_id = ? and severity = 'error' order by check_id",
                [run_id],
            ).fetchall()
        ]
    finally:
        connection.close()
    return summary


@task(cache_policy=NO_CACHE, timeout_seconds=3600)
def build_exceptions(paths: Paths, as_of: date) -> DbtResult:
    """Build and test the exceptions queue from every stage's findings."""
    return run_dbt_build(
        paths.work_db, paths.work_dir, as_of, select=EXCEPTIONS_MODELS, shared_parse=True
    )


# This task has no timeout because it runs in a worker thread beside the
# publication, where Prefect cannot interrupt it. Each SendGrid request has
# its own timeout (SHORTPAY_SENDGRID_TIMEOUT).
@task(cache_policy=NO_CACHE)
def send_followups(paths: Paths, as_of: date, rules_dir: Path, transport: str | None) -> dict:
    """Queue and deliver the follow-up messages that are due."""
    from shortpay.followups.run import run_followups

    connection = duckdb.connect(str(paths.work_db), read_only=True)
    try:
        summary = run_followups(connection, paths, as_of, rules_dir, transport)
    finally:
        connection.close()
    return summary.as_dict()


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2, timeout_seconds=3600)
def publish(paths: Paths, incremental: bool) -> dict:
    """Swap the built marts in as the published warehouse."""
    from shortpay.publish import publish_warehouse

    return publish_warehouse(paths.work_db, paths.warehouse, incremental)
