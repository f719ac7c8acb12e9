"""Measurements of the benchmark: peak memory, the DuckDB floor and accuracy.

Accuracy compares the published warehouse with the generator's truth files:

- match precision and recall over distinct (payment_id, invoice_id) pairs of
  ``fct_cash_applications`` against the remittance truth;
- deduction detection over (payment_id, invoice_id) keys, where a
  payment-level deduction has no invoice_id;
- category and validity accuracy: the share of true deductions whose key
  was found with the right category (or validity). A missed deduction counts
  as wrong. When the pipeline splits one key into several rows, the row
  with the largest amount gives the category and validity.
- validity accuracy with evidence: the same over the categories whose
  validity the inbox proves (early_pay_discount, pricing, shortage,
  trade_promotion). The others are ``needs_review`` in the truth, while a
  pipeline may decide them by policy, such as a category its rules forbid.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import psutil

MIB = 1024 * 1024


class PeakMemory:
    """Sample the resident set size (RSS) of this process and its children.

    A background thread adds up the RSS of the process and all its
    descendants every ``interval`` seconds and keeps the maximum. Use it as a
    context manager around the work to measure.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)

    def __enter__(self) -> PeakMemory:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def peak_mib(self) -> float:
        """Peak RSS in MiB (1 MiB = 1,048,576 bytes)."""
        return round(self.peak_bytes / MIB, 1)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        process = psutil.Process()
        total = 0
        for member in [process, *process.children(recursive=True)]:
            try:
                total += member.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue  # a child that ended between listing and reading
        self.peak_bytes = max(self.peak_bytes, total)


def measure_floor(inbox: Path) -> dict[str, float | int]:
    """Time DuckDB reading every inbox CSV and joining remittance lines to invoices once.

    This is the least work any pipeline must do on the same input, so the
    pipeline's time divided by it shows the overhead of everything else.
    X12 files are not part of the floor.
    """
    csv_files = sorted(inbox.rglob("*.csv"))
    started = time.perf_counter()
    conn = duckdb.connect()
    try:
        rows_read = 0
        for number, path in enumerate(csv_files):
            conn.execute(
                f"create table input_{number} as "  # noqa: S608 - the name is a counter
                "select * from read_csv(?, header = true, all_varchar = true)",
                [str(path)],
            )
            rows_read += conn.execute(f"select count(*) from input_{number}").fetchall()[0][0]  # noqa: S608
        invoices = [str(p) for p in csv_files if p.name.startswith("invoices")]
        remittances = [str(p) for p in csv_files if p.name.startswith("remittances")]
        joined = 0
        if invoices and remittances:
            joined = conn.execute(
                """
                select count(*)
                from read_csv(?, header = true, all_varchar = true, union_by_name = true) as r
                inner join read_csv(?, header = true, all_varchar = true) as i
                    on r.invoice_reference = i.invoice_id
                """,
                [remittances, invoices],
            ).fetchall()[0][0]
    finally:
        conn.close()
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "rows_read": rows_read,
        "joined_rows": joined,
    }


ACCURACY_SQL = """
with expected_pairs as (
    select distinct payment_id, invoice_id
    from read_csv(?, header = true, all_varchar = true)
    where invoice_id is not null
),

predicted_pairs as (
    select distinct payment_id::varchar as payment_id, invoice_id::varchar as invoice_id
    from warehouse.fct_cash_applications
    where invoice_id is not null
),

expected_deductions as (
    select payment_id, coalesce(invoice_id, '') as invoice_key, category, validity
    from read_csv(?, header = true, all_varchar = true)
),

predicted_deductions as (
    select
        payment_id::varchar as payment_id,
        coalesce(invoice_id::varchar, '') as invoice_key,
        arg_max(category, deduction_amount) as category,
        arg_max(validity, deduction_amount) as validity
    from warehouse.fct_deductions
    group by all
),

deductions_compared as (
    select e.category = p.category as same_category, e.validity = p.validity as same_validity,
        p.payment_id is not null as found,
        e.category in ('early_pay_discount', 'pricing', 'shortage', 'trade_promotion')
            as has_evidence
    from expected_deductions as e
    left join predicted_deductions as p using (payment_id, invoice_key)
)

select
    (select count(*) from expected_pairs) as expected_pairs,
    (select count(*) from predicted_pairs) as predicted_pairs,
    (select count(*) from expected_pairs inner join predicted_pairs using (payment_id, invoice_id))
        as correct_pairs,
    (select count(*) from expected_deductions) as expected_deductions,
    (select count(*) from predicted_deductions) as predicted_deductions,
    (select count(*) filter (found) from deductions_compared) as found_deductions,
    (select count(*) filter (same_category) from deductions_compared) as right_category,
    (select count(*) filter (same_validity) from deductions_compared) as right_validity,
    (select count(*) filter (has_evidence) from deductions_compared) as evidence_deductions,
    (select count(*) filter (has_evidence and same_validity) from deductions_compared)
        as right_evidence_validity
"""


def ratio(numerator: int, denominator: int) -> float | None:
    """Return numerator / denominator rounded to 4 places, or None when nothing was counted."""
    return round(numerator / denominator, 4) if denominator else None


def measure_accuracy(warehouse: Path, truth_dir: Path) -> dict[str, float | int | None]:
    """Compare the published warehouse with the truth files and return counts and ratios."""
    conn = duckdb.connect()
    try:
        conn.execute("attach ? as warehouse (read_only)", [str(warehouse)])
        row = conn.execute(
            ACCURACY_SQL,
            [str(truth_dir / "remittance_truth.csv"), str(truth_dir / "deduction_truth.csv")],
        ).fetchall()[0]
    finally:
        conn.close()
    (expected_pairs, predicted_pairs, correct_pairs, expected_deductions,
     predicted_deductions, found_deductions, right_category, right_validity,
     evidence_deductions, right_evidence_validity) = row
    return {
        "expected_pairs": expected_pairs,
        "predicted_pairs": predicted_pairs,
        "correct_pairs": correct_pairs,
        "match_precision": ratio(correct_pairs, predicted_pairs),
        "match_recall": ratio(correct_pairs, expected_pairs),
        "expected_deductions": expected_deductions,
        "predicted_deductions": predicted_deductions,
        "found_deductions": found_deductions,
        "deduction_precision": ratio(found_deductions, predicted_deductions),
        "deduction_recall": ratio(found_deductions, expected_deductions),
        "category_accuracy": ratio(right_category, expected_deductions),
        "validity_accuracy": ratio(right_validity, expected_deductions),
        "evidence_deductions": evidence_deductions,
        "validity_accuracy_with_evidence": ratio(right_evidence_validity, evidence_deductions),
    }
