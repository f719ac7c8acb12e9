"""Stand-ins for ``shortpay.pipeline.run_pipeline`` in the benchmark tests.

They have the same signature and write a published warehouse with the two
tables the benchmark reads. ``run_pipeline`` copies the truth files, so every
accuracy is 1. ``run_pipeline_flawed`` makes known mistakes, so the tests can
compute the expected accuracy exactly. ``run_pipeline_with_child`` also runs
a child process that allocates 200 MiB, to check that peak memory counts children.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

WRONG_PAIR = ("PMT9999999", "1000001")


@dataclass
class StandInResult:
    """Result shaped like the real pipeline's: a summary and seconds per stage."""

    stage_seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"counts": self.counts, "stage_seconds": self.stage_seconds}


def write_warehouse(warehouse: Path, truth_dir: Path, *, flawed: bool) -> dict[str, int]:
    conn = duckdb.connect(str(warehouse))
    try:
        conn.execute(
            """
            create table fct_cash_applications as
            select payment_id, invoice_id, null::decimal(18, 2) as applied_amount,
                   'exact' as match_method, 1.0 as match_confidence
            from read_csv(?, header = true, all_varchar = true)
            where invoice_id is not null
            """,
            [str(truth_dir / "remittance_truth.csv")],
        )
        conn.execute(
            """
            create table fct_deductions as
            select payment_id, invoice_id, amount::decimal(18, 2) as deduction_amount,
                   category, validity, valid_amount::decimal(18, 2) as valid_amount,
                   invalid_amount::decimal(18, 2) as invalid_amount
            from read_csv(?, header = true, all_varchar = true)
            """,
            [str(truth_dir / "deduction_truth.csv")],
        )
        if flawed:
            conn.execute("insert into fct_cash_applications values (?, ?, 1.00, 'guess', 0.1)",
                         list(WRONG_PAIR))
            conn.execute("delete from fct_deductions where category = 'damage'")
            conn.execute("update fct_deductions set category = 'damage' where category = 'returns'")
        return {
            "applications": conn.execute("select count(*) from fct_cash_applications").fetchall()[0][0],
            "deductions": conn.execute("select count(*) from fct_deductions").fetchall()[0][0],
        }
    finally:
        conn.close()


def run_pipeline(
    *, inbox: Path, warehouse: Path, rules_dir: Path, as_of: date, transport: str,
    flawed: bool = False,
) -> StandInResult:
    started = time.perf_counter()
    truth_dir = inbox.with_name(inbox.name + "_truth")
    counts = write_warehouse(warehouse, truth_dir, flawed=flawed)
    return StandInResult(stage_seconds={"publish": time.perf_counter() - started, "ingest": 0.0},
                         counts=counts)


def run_pipeline_flawed(**kwargs) -> StandInResult:
    return run_pipeline(**kwargs, flawed=True)


def run_pipeline_with_child(**kwargs) -> StandInResult:
    code = "import time; block = bytearray(200 * 1024 * 1024); time.sleep(0.6)"
    subprocess.run([sys.executable, "-c", code], check=True)
    return run_pipeline(**kwargs)
