"""Tests of ``shortpay bench`` against stand-in pipelines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_files import read_csv_rows
from bench_standin import (
    WRONG_PAIR,
    run_pipeline,
    run_pipeline_flawed,
    run_pipeline_with_child,
)

from shortpay.bench.measure import measure_floor
from shortpay.bench.runner import format_table, load_pipeline, run_benchmark, staged_seconds
from shortpay.cli import main

CASE = {"invoices": 300, "profile": "typical", "seed": 5}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench")


@pytest.fixture(scope="module")
def first_report(workdir: Path) -> dict:
    return run_benchmark(**CASE, workdir=workdir, pipeline=run_pipeline)


def case_dir(workdir: Path) -> Path:
    return workdir / "typical-300-seed5"


def test_report_of_perfect_pipeline(first_report: dict) -> None:
    assert first_report["generated_now"] is True
    assert first_report["invoices"] == 300
    assert first_report["customers"] == 50
    assert first_report["match_precision"] == 1.0
    assert first_report["match_recall"] == 1.0
    assert first_report["deduction_precision"] == 1.0
    assert first_report["deduction_recall"] == 1.0
    assert first_report["category_accuracy"] == 1.0
    assert first_report["validity_accuracy"] == 1.0
    assert set(first_report["stage_seconds"]) == {"publish", "ingest"}
    assert first_report["unstaged_seconds"] == pytest.approx(
        first_report["pipeline_seconds"] - sum(first_report["stage_seconds"].values()), abs=0.002)
    assert first_report["pipeline_summary"]["counts"]["deductions"] == first_report[
        "expected_deductions"]


def test_report_counts_match_truth(first_report: dict, workdir: Path) -> None:
    truth = case_dir(workdir) / "inbox_truth"
    pairs = {(r["payment_id"], r["invoice_id"])
             for r in read_csv_rows(truth / "remittance_truth.csv") if r["invoice_id"]}
    deductions = read_csv_rows(truth / "deduction_truth.csv")
    summary = json.loads((truth / "expected_summary.json").read_text())
    assert first_report["expected_pairs"] == len(pairs)
    assert first_report["expected_deductions"] == len(deductions)
    assert first_report["remittance_lines"] == summary["remittance_lines"]
    assert first_report["input_rows"] == sum(
        summary[k] for k in ("customers", "invoices", "invoice_lines", "shipments",
                             "promotions", "prices", "remittance_lines"))
    assert first_report["rows_per_second"] > 0
    assert first_report["ratio_to_floor"] is not None


def test_run_folder_removed_without_keep(first_report: dict, workdir: Path) -> None:
    assert first_report["kept_run_folder"] is None
    assert not (case_dir(workdir) / "run").exists()
    assert (case_dir(workdir) / "inbox" / "invoices.csv").exists()


def test_cached_inbox_is_reused(first_report: dict, workdir: Path) -> None:
    before = (case_dir(workdir) / "inbox" / "invoices.csv").stat().st_mtime_ns
    report = run_benchmark(**CASE, workdir=workdir, pipeline=run_pipeline, keep=True)
    assert report["generated_now"] is False
    assert report["generate_seconds"] == 0.0
    assert (case_dir(workdir) / "inbox" / "invoices.csv").stat().st_mtime_ns == before
    assert (case_dir(workdir) / "run" / "warehouse.duckdb").exists()
    assert report["kept_run_folder"] == str(case_dir(workdir) / "run")


def test_flawed_pipeline_accuracy(first_report: dict, workdir: Path) -> None:
    report = run_benchmark(**CASE, workdir=workdir, pipeline=run_pipeline_flawed)
    deductions = read_csv_rows(case_dir(workdir) / "inbox_truth" / "deduction_truth.csv")
    damage = sum(1 for r in deductions if r["category"] == "damage")
    returns = sum(1 for r in deductions if r["category"] == "returns")
    total = len(deductions)
    correct_pairs = first_report["expected_pairs"]
    assert damage > 0
    assert returns > 0
    assert report["predicted_pairs"] == correct_pairs + 1
    assert report["match_precision"] == round(correct_pairs / (correct_pairs + 1), 4)
    assert report["match_recall"] == 1.0
    assert report["found_deductions"] == total - damage
    assert report["deduction_recall"] == round((total - damage) / total, 4)
    assert report["deduction_precision"] == 1.0
    assert report["category_accuracy"] == round((total - damage - returns) / total, 4)
    assert report["validity_accuracy"] == round((total - damage) / total, 4)
    assert report["validity_accuracy_with_evidence"] == 1.0
    assert report["evidence_deductions"] == sum(
        1 for r in deductions
        if r["category"] in ("early_pay_discount", "pricing", "shortage", "trade_promotion"))
    assert WRONG_PAIR[0] not in {r["payment_id"] for r in deductions}


def test_peak_memory_counts_children(first_report: dict, workdir: Path) -> None:
    report = run_benchmark(**CASE, workdir=workdir, pipeline=run_pipeline_with_child)
    assert report["peak_rss_mib"] >= 200


def test_floor_reads_and_joins(first_report: dict, workdir: Path) -> None:
    inbox = case_dir(workdir) / "inbox"
    floor = measure_floor(inbox)
    rows = {p.name: read_csv_rows(p) for p in inbox.rglob("*.csv")}
    invoice_ids = [r["invoice_id"] for r in rows["invoices.csv"]]
    exact = sum(invoice_ids.count(r["invoice_reference"])
                for name, file_rows in rows.items() if name.startswith("remittances")
                for r in file_rows if r["invoice_reference"])  # SQL joins no empty values
    assert floor["rows_read"] == sum(len(v) for v in rows.values())
    assert floor["joined_rows"] == exact
    assert floor["seconds"] > 0


def test_missing_pipeline_is_named() -> None:
    with pytest.raises(RuntimeError, match="pipeline function 'no_such_module:run' not found"):
        load_pipeline("no_such_module:run")


def test_table_lists_stage_seconds(first_report: dict) -> None:
    table = format_table(first_report)
    assert "stage_seconds.publish" in table
    assert "match_precision" in table
    assert "pipeline_summary" not in table


def test_cli_bench_prints_json(
    first_report: dict, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["bench", "--invoices", "300", "--profile", "typical", "--seed", "5",
                 "--workdir", str(workdir), "--json", "--pipeline", "bench_standin:run_pipeline"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["generated_now"] is False
    assert report["match_recall"] == 1.0


def test_cli_bench_reports_missing_pipeline(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["bench", "--invoices", "300", "--workdir", str(workdir),
                 "--pipeline", "no_such_module:run"])
    assert code == 2
    assert "pipeline function 'no_such_module:run' not found" in capsys.readouterr().err


def test_cli_bench_days_later_needs_increment(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["bench", "--invoices", "300", "--workdir", str(workdir), "--days-later", "1"])
    assert code == 2
    assert "--days-later needs --increment" in capsys.readouterr().err


def test_concurrent_stages_count_once() -> None:
    stages = {"ingest": 1.5, "dbt": 2.0, "followups": 3.0, "publish": 2.5}
    assert staged_seconds(stages) == pytest.approx(6.5)
    assert staged_seconds({"ingest": 1.5, "publish": 2.5}) == pytest.approx(4.0)
