"""The main job: inbox to published warehouse, in one Prefect flow.

Run it with ``shortpay run``. It needs no Prefect server: without PREFECT_API_URL, Prefect starts a temporary local
one for the run.
"""

# The imports after set_library_defaults() below come late on purpose.
# ruff: noqa: E402

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime
from pathlib import Path

from shortpay.settings import set_library_defaults

# A deployment imports this module without the CLI, which calls this first.
# It has to come before Prefect's import, when Prefect reads its settings.
set_library_defaults()

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from shortpay.locking import RunLockTimeout, run_lock
from shortpay.pipeline import new_run_id
from shortpay.run_history import record_run
from shortpay.settings import EXPECTATIONS_DIR, Paths
from shortpay.summary import format_summary, summarize_build
from shortpay.tasks import (
    build_exceptions,
    build_models,
    check_quality,
    ingest_inbox,
    load_rule_tables,
    publish,
    send_followups,
    snapshot_review_state,
)

log = logging.getLogger(__name__)

# Under Prefect's own logging set-up (a deployment, a worker), the root
# logger passes warnings only. Shortpay's info lines (files loaded, checks
# run, messages sent) belong in the flow run's log, so they pass too.
if logging.getLogger("shortpay").getEffectiveLevel() > logging.INFO:
    logging.getLogger("shortpay").setLevel(logging.INFO)


class PipelineError(RuntimeError):
    """A stage of the pipeline failed; ``stage`` names it."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(f"stage {stage} failed: {message}")
        self.stage = stage


def describe_blocking_checks(quality: dict) -> str:
    """Say which checks stopped the run: checks that errored, or blocking checks that failed."""
    errors = quality.get("check_errors") or []
    if errors:
        named = "; ".join(" ".join(str(part) for part in error if part) for error in errors)
        return f"data-quality checks errored, so nothing was published or sent: {named}"
    failed = ", ".join(quality.get("blocking_failures") or []) or "see raw.dq_failures"
    return f"blocking data-quality checks failed, so nothing was published or sent: {failed}"


def record_failed_run(
    paths: Paths, run_id: str, started_at: datetime, as_of: date, inbox: Path,
    error: PipelineError,
) -> None:
    """Log a failed run in run_history; a problem doing so is logged, not raised."""
    try:
        record_run(
            paths.state_db, run_id, started_at, as_of.isoformat(), inbox, "failed",
            failed_stage=error.stage, error=str(error),
        )
    except Exception as history_error:  # the run's own error is the one to raise
        log.error("could not record failed run %s in run_history: %s", run_id, history_error)


@flow(name="shortpay-main", log_prints=False)
def main_flow(
    inbox: Path,
    warehouse: Path,
    rules_dir: Path,
    as_of: date | None = None,
    run_id: str | None = None,
    outbox: Path | None = None,
    transport: str | None = None,
    expectations_dir: Path = EXPECTATIONS_DIR,
    full_build: bool = False,
) -> dict:
    """Ingest, build, check, follow up, publish and summarise one run.

    With ``full_build`` the dbt build rebuilds every model from scratch even
    when it could be incremental. A run without ``as_of`` describes today
    (the local date, as ``shortpay run`` does), and one without ``run_id``
    gets a new id, so a scheduled deployment needs only the three paths.
    """
    as_of = as_of or date.today()
    run_id = run_id or new_run_id()
    logger = get_run_logger()
    paths = Paths.for_warehouse(warehouse, outbox)
    paths.ensure()
    stage_seconds: dict[str, float] = {}
    started_at = datetime.now(UTC)

    def guarded(stage: str, call, *args):
        try:
            return call(*args)
        except PipelineError:
            raise
        except Exception as error:
            logger.error("stage %s failed: %s", stage, error)
            raise PipelineError(stage, str(error)) from error

    def timed(stage: str, call, *args):
        started = time.perf_counter()
        try:
            return guarded(stage, call, *args)
        finally:
            stage_seconds[stage] = round(time.perf_counter() - started, 3)

    def clock_stage(stage: str, started: float):
        """Return a callback that records a stage's seconds the first time it is called."""

        def record(_future) -> None:
            stage_seconds.setdefault(stage, round(time.perf_counter() - started, 3))

        return record

    try:
        with run_lock(paths.run_lock):
            ingest = timed("ingest", ingest_inbox, inbox, paths, run_id)
            rules_hash = timed("rules", load_rule_tables, rules_dir, paths)
            timed("snapshot", snapshot_review_state, paths)
            build = timed("dbt", build_models, paths, as_of, run_id, rules_hash, full_build)
            quality = timed("quality", check_quality, paths, run_id, as_of, expectations_dir)
            if quality.get("blocking_failed"):
                raise PipelineError("quality", describe_blocking_checks(quality))
            timed("exceptions", build_exceptions, paths, as_of)
            summary = timed("summary", summarize_build, paths.work_db)
            if not all(summary["balances"].values()):
                raise PipelineError("balances", f"sums do not balance: {summary['balances']}")
            # Follow-ups (mostly Python) and publication (mostly DuckDB) only
            # read the finished build, so they run side by side. The run lock
            # is held until both have ended.
            followups_started = time.perf_counter()
            followups_future = send_followups.submit(paths, as_of, rules_dir, transport)
            followups_future.add_done_callback(clock_stage("followups", followups_started))
            try:
                published = timed("publish", publish, paths, build["mode"] == "incremental")
            finally:
                followups_future.wait()
            # Prefect may run the callback after wait() returns, so record here too.
            clock_stage("followups", followups_started)(followups_future)
            followups = guarded("followups", followups_future.result)
    except RunLockTimeout as error:
        failure = PipelineError("lock", str(error))
        record_failed_run(paths, run_id, started_at, as_of, inbox, failure)
        raise failure from error
    except PipelineError as error:
        record_failed_run(paths, run_id, started_at, as_of, inbox, error)
        raise

    summary.update(
        {
            "run_id": run_id,
            "as_of": as_of.isoformat(),
            "status": "completed",
            "warehouse": str(paths.warehouse),
            "outbox": str(paths.outbox_dir),
            "rules_hash": rules_hash,
            "ingest": ingest,
            "build": build,
            "quality": quality,
            "followups": followups,
            "published_rows": published["rows"],
            "publication": published["mode"],
            "publication_reason": published["reason"],
            "stage_seconds": stage_seconds,
        }
    )
    record_run(
        paths.state_db, run_id, started_at, as_of.isoformat(), inbox, "completed",
        summary=summary, rules_hash=rules_hash,
    )
    text = format_summary(summary)
    logger.info(
        "run %s completed: %d payments, %d deductions, %d exceptions",
        run_id,
        summary["payments"]["count"],
        summary["deductions"]["count"],
        summary["exceptions"]["count"],
    )
    create_markdown_artifact(
        key="shortpay-run-summary",
        markdown=f"```\n{text}\n```",
        description=f"Shortpay run {run_id}",
    )
    return summary
