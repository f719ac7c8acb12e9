"""``shortpay bench --increment``: what adding a day's files to a built warehouse costs.

The generated inbox is split in two. The day's files are the last two
remittance files and the invoices of the last invoice date, with their lines
and shipments. Everything else is the base. The pipeline runs once on the
base (a full build), the day's files are added, and it runs again: that
second run is the increment. A third run rebuilds from scratch on all the
files, in a fresh folder. The report compares the increment's time with the
base run's and the rebuild's, and its published tables with the rebuild's,
row by row.
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb

from shortpay.bench.compare import differing_tables
from shortpay.bench.profiles import get_profile
from shortpay.bench.runner import prepare_inbox, read_pipeline_result, timed_run

logger = logging.getLogger(__name__)

SPLIT_EXTRACTS = ("invoices", "invoice_lines", "shipments")
DAY_REMITTANCE_FILES = 2

# Modules that a run imports on first use. The benchmark imports them before
# the base run, so that neither measured run pays for them.
STAGE_MODULES = (
    "flows.main",
    "shortpay.dbt_runner",
    "shortpay.quality",
    "shortpay.followups.run",
    "shortpay.ingest.loader",
    "shortpay.publish",
)


def split_inbox(inbox: Path, base: Path, day: Path) -> dict[str, Any]:
    """Write the base inbox and the day's files, and return what the day contains."""
    for folder in (base, day):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    remittances = sorted(inbox.glob("remittances_*.csv"))
    day_remittances = {path.name for path in remittances[-DAY_REMITTANCE_FILES:]}
    for path in inbox.iterdir():
        if path.is_dir():
            shutil.copytree(path, base / path.name, copy_function=os.link)
        elif path.stem not in SPLIT_EXTRACTS:
            target = day if path.name in day_remittances else base
            os.link(path, target / path.name)

    connection = duckdb.connect()
    try:
        connection.execute(
            "create table invoices as select * from read_csv(?, all_varchar = true)",
            [str(inbox / "invoices.csv")],
        )
        connection.execute(
            "create table day_invoices as select invoice_id from invoices"
            " where invoice_date = (select max(invoice_date) from invoices)"
        )
        for name in SPLIT_EXTRACTS:
            rows = connection.sql(
                # A row without an invoice id (a bad row) stays in the base.
                "select *, coalesce(invoice_id in (select invoice_id from day_invoices), false)"
                " as is_day"
                " from read_csv($path, all_varchar = true)",
                params={"path": str(inbox / f"{name}.csv")},
            )
            rows.filter("not is_day").select("* exclude (is_day)").write_csv(
                str(base / f"{name}.csv"), header=True)
            rows.filter("is_day").select("* exclude (is_day)").write_csv(
                str(day / f"{name}_day.csv"), header=True)
        day_invoices = connection.execute("select count(*) from day_invoices").fetchone()[0]
        day_payments = connection.execute(
            "select count(distinct payment_id) from read_csv(?, all_varchar = true)",
            [[str(day / name) for name in sorted(day_remittances)]],
        ).fetchone()[0]
    finally:
        connection.close()
    return {
        "day_files": sorted(path.name for path in day.iterdir()),
        "day_invoices": day_invoices,
        "day_payments": day_payments,
    }


def run_increment_benchmark(
    *,
    invoices: int,
    profile: str,
    seed: int,
    workdir: Path,
    rules_dir: Path,
    keep: bool,
    pipeline: Callable[..., Any],
    days_later: int = 0,
) -> dict[str, Any]:
    """Run the base and the increment and return their measurements.

    With ``days_later`` the increment runs that many days after the base
    run's date, as a daily schedule would, so open items age and reminders
    may fall due.
    """
    from shortpay.dbt_runner import forget_parsed_project

    spec = get_profile(profile)
    inbox, _, _ = prepare_inbox(Path(workdir), invoices=invoices, profile=profile, seed=seed)

    case_dir = inbox.parent / "increment"
    shutil.rmtree(case_dir, ignore_errors=True)
    base, day = case_dir / "inbox", case_dir / "day"
    logger.info("bench: splitting %s into a base inbox and a day's files", inbox)
    split = split_inbox(inbox, base, day)
    warehouse = case_dir / "run" / "warehouse.duckdb"
    warehouse.parent.mkdir(parents=True)
    warm_up_seconds = warm_up()
    increment_as_of = spec.as_of + timedelta(days=days_later)

    try:
        logger.info("bench: running the pipeline on the base inbox")
        base_result, base_seconds, base_peak = timed_run(
            pipeline, base, warehouse, Path(rules_dir), spec.as_of)
        for path in day.iterdir():
            os.link(path, base / path.name)
        logger.info("bench: running the pipeline again with the day's files added")
        # A daily run is a process of its own and parses the dbt project
        # again (partially), so the base run's parse is dropped here.
        forget_parsed_project()
        day_result, day_seconds, day_peak = timed_run(
            pipeline, base, warehouse, Path(rules_dir), increment_as_of)
        # The full rebuild that the increment replaces: the same files and
        # date in a fresh folder, with a fresh parse as a new process has.
        logger.info("bench: rebuilding from scratch on the same files, to compare")
        rebuilt = case_dir / "rebuild" / "warehouse.duckdb"
        rebuilt.parent.mkdir(parents=True)
        forget_parsed_project()
        rebuild_result, rebuild_seconds, rebuild_peak = timed_run(
            pipeline, base, rebuilt, Path(rules_dir), increment_as_of)
        differing = differing_tables(warehouse, rebuilt)
    finally:
        if not keep:
            shutil.rmtree(case_dir, ignore_errors=True)

    base_summary, base_stages = read_pipeline_result(base_result)
    day_summary, day_stages = read_pipeline_result(day_result)
    _, rebuild_stages = read_pipeline_result(rebuild_result)
    return {
        "profile": profile,
        "invoices": invoices,
        "seed": seed,
        **split,
        "base_seconds": round(base_seconds, 3),
        "base_stage_seconds": {k: round(float(v), 3) for k, v in base_stages.items()},
        "base_peak_rss_mib": base_peak,
        "increment_seconds": round(day_seconds, 3),
        "increment_stage_seconds": {k: round(float(v), 3) for k, v in day_stages.items()},
        "increment_peak_rss_mib": day_peak,
        "increment_build": day_summary.get("build"),
        "base_as_of": spec.as_of.isoformat(),
        "increment_as_of": increment_as_of.isoformat(),
        "increment_followups": day_summary.get("followups"),
        "warm_up_seconds": round(warm_up_seconds, 3),
        "rebuild_seconds": round(rebuild_seconds, 3),
        "rebuild_stage_seconds": {k: round(float(v), 3) for k, v in rebuild_stages.items()},
        "rebuild_peak_rss_mib": rebuild_peak,
        "increment_to_rebuild": round(day_seconds / rebuild_seconds, 3),
        "dbt_increment_to_rebuild": _stage_ratio(day_stages, rebuild_stages, "dbt"),
        "increment_to_base": round(day_seconds / base_seconds, 3) if base_seconds else None,
        "dbt_increment_to_base": _stage_ratio(day_stages, base_stages, "dbt"),
        "tables_equal_to_rebuild": not differing,
        "tables_differing_from_rebuild": differing,
        "payments_before": base_summary.get("payments", {}).get("count"),
        "payments_after": day_summary.get("payments", {}).get("count"),
        "deductions_after": day_summary.get("deductions", {}).get("count"),
        "load_average_after": round(os.getloadavg()[0], 2),
        "kept_run_folder": str(case_dir) if keep else None,
    }


def warm_up() -> float:
    """Pay the costs that only the first run of a process has, and return their seconds.

    These are the imports of the stages' libraries and, without
    PREFECT_API_URL, the start of Prefect's temporary server. A scheduled
    run pays them once per process. The two runs measured here share one
    process, and without this step only the base run would pay them.
    """
    from prefect import flow

    started = time.perf_counter()
    for name in STAGE_MODULES:
        importlib.import_module(name)

    @flow(name="shortpay-bench-warm-up", log_prints=False)
    def _warm_up_flow() -> None:
        return None

    _warm_up_flow()
    seconds = time.perf_counter() - started
    logger.info("bench: imports and Prefect start-up took %.1f s before the measured runs", seconds)
    return seconds


def _stage_ratio(numerator: dict, denominator: dict, stage: str) -> float | None:
    if not denominator.get(stage):
        return None
    return round(float(numerator.get(stage, 0)) / float(denominator[stage]), 3)
