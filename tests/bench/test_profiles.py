"""Tests of the clean, typical and hostile generator profiles."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from bench_files import parse_x12, read_csv_rows, x12_payments

from shortpay.bench.generate import GenerateResult, generate
from shortpay.bench.profiles import PROFILES, get_profile

HOSTILE_ARGS = {"invoices": 3000, "customers": 40, "seed": 11, "profile": "hostile"}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> GenerateResult:
    return generate(tmp_path_factory.mktemp("hostile") / "inbox", **HOSTILE_ARGS)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> GenerateResult:
    return generate(tmp_path_factory.mktemp("clean") / "inbox", invoices=1500, customers=30,
                    seed=3, profile="clean")


def remittance_rows(result: GenerateResult) -> list[dict[str, str]]:
    rows = []
    for path in sorted(result.inbox.glob("remittances_*.csv")):
        for row in read_csv_rows(path):
            row["_file"] = path.name
            rows.append(row)
    return rows


def test_profiles_are_listed() -> None:
    assert sorted(PROFILES) == ["clean", "hostile", "sample", "typical"]
    assert get_profile("hostile").typo_rate > 0
    assert get_profile("clean").reference_noise_rate == 0


def test_hostile_is_deterministic(hostile: GenerateResult, tmp_path: Path) -> None:
    again = generate(tmp_path / "inbox", **HOSTILE_ARGS)
    for path in sorted(hostile.inbox.rglob("*")):
        if path.is_file():
            relative = path.relative_to(hostile.inbox)
            assert (again.inbox / relative).read_bytes() == path.read_bytes(), relative


def test_hostile_counts(hostile: GenerateResult) -> None:
    summary = hostile.summary
    assert summary["shared_invoice_numbers"] > 0
    assert summary["partially_paid_invoices"] > 0
    assert summary["reversals"] > 0
    assert summary["duplicate_payments"] > 0
    assert summary["unmatched_payments"] == 12
    assert summary["overpayments"] == 8
    assert summary["payment_level_deductions"] == 6


def test_hostile_resent_file_is_identical(hostile: GenerateResult) -> None:
    resent = list((hostile.inbox / "resent").iterdir())
    assert len(resent) == 1
    assert resent[0].read_bytes() == (hostile.inbox / resent[0].name).read_bytes()


def test_hostile_duplicates_repeat_rows(hostile: GenerateResult) -> None:
    duplicates = read_csv_rows(hostile.truth / "duplicate_payments.csv")
    assert len(duplicates) == hostile.summary["duplicate_payments"]
    by_file: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for row in remittance_rows(hostile):
        key = tuple(v for k, v in row.items() if not k.startswith("_"))
        by_file[(row["_file"], row["payment_id"])].append(key)
    for duplicate in duplicates:
        original = by_file[(duplicate["original_file"], duplicate["payment_id"])]
        copy = by_file[(duplicate["duplicate_file"], duplicate["payment_id"])]
        assert original
        assert copy == original


def test_hostile_partial_payments_sum_to_total(hostile: GenerateResult) -> None:
    truth = read_csv_rows(hostile.truth / "remittance_truth.csv")
    invoice_of = {(r["payment_id"], r["line_number"]): r["invoice_id"]
                  for r in truth if r["row_kind"] == "partial"}
    paid: dict[str, Decimal] = defaultdict(Decimal)
    parts: dict[str, int] = defaultdict(int)
    for row in remittance_rows(hostile):
        invoice_id = invoice_of.get((row["payment_id"], row["line_number"]))
        if invoice_id is not None:
            paid[invoice_id] += Decimal(row["paid_amount"])
            parts[invoice_id] += 1
    totals: dict[str, list[Decimal]] = defaultdict(list)
    for row in read_csv_rows(hostile.inbox / "invoices.csv"):
        totals[row["invoice_id"]].append(Decimal(row["total_amount"]))
    # invoices paid by 820 have their parts in the X12 files, not in the CSV files
    in_csv = [i for i in paid if parts[i] == 2 and len(totals[i]) == 1]
    assert len(in_csv) > 10
    for invoice_id in in_csv:
        assert paid[invoice_id] == totals[invoice_id][0], invoice_id


def test_hostile_reversals_negate_payment(hostile: GenerateResult) -> None:
    rows = remittance_rows(hostile)
    reversals = [r for r in rows if (r["adjustment_memo"] or "").startswith("REVERSAL OF ")]
    assert reversals
    by_payment = defaultdict(list)
    for row in rows:
        by_payment[row["payment_id"]].append(row)
    for row in reversals:
        original_id = row["adjustment_memo"].removeprefix("REVERSAL OF ")
        original = by_payment[original_id][0]
        assert Decimal(row["payment_amount"]) == -Decimal(original["payment_amount"])
        assert row["customer_id"] == original["customer_id"]


def test_hostile_remittances_add_up(hostile: GenerateResult) -> None:
    rows = [r for r in remittance_rows(hostile) if r["payment_id"]]
    bad = {(r["file"], int(r["line"])) for r in read_csv_rows(hostile.truth / "bad_rows.csv")}
    payments: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        if (row["_file"], int(row["_line"])) not in bad:
            payments[(row["_file"], row["payment_id"])].append(row)
    for key, payment_rows in payments.items():
        total = sum(Decimal(r["paid_amount"]) for r in payment_rows)
        assert {Decimal(r["payment_amount"]) for r in payment_rows} == {total}, key
    for path in hostile.inbox.glob("*.820"):
        for payment in x12_payments(path):
            assert payment["amount"] == sum(i["paid"] for i in payment["items"])
        segments = parse_x12(path)
        assert int(segments[-2][1]) == sum(1 for s in segments if s[0] == "ST")


def test_hostile_references_are_messy(hostile: GenerateResult) -> None:
    truth = [r for r in read_csv_rows(hostile.truth / "remittance_truth.csv")
             if r["row_kind"] == "invoice"]
    missing = [r for r in truth if not r["invoice_reference"]]
    po_numbers = [r for r in truth if re.fullmatch(r"PO\d{6}", r["invoice_reference"])]
    typos = [r for r in truth if re.fullmatch(r"\d{7}", r["invoice_reference"])
             and r["invoice_reference"] != r["invoice_id"]]
    assert len(missing) > 10
    assert len(po_numbers) > 10
    assert len(typos) > 10
    for row in typos:
        assert sorted(row["invoice_reference"][:-2]) == sorted(row["invoice_id"][:-2])


def test_hostile_shared_invoice_numbers(hostile: GenerateResult) -> None:
    customers_by_id: dict[str, set[str]] = defaultdict(set)
    for row in read_csv_rows(hostile.inbox / "invoices.csv"):
        customers_by_id[row["invoice_id"]].add(row["customer_id"])
    shared = [ids for number, ids in customers_by_id.items() if number and len(ids) > 1]
    assert len(shared) == hostile.summary["shared_invoice_numbers"]


def test_clean_has_no_noise(clean: GenerateResult) -> None:
    truth = read_csv_rows(clean.truth / "remittance_truth.csv")
    assert all(r["invoice_reference"] == r["invoice_id"] for r in truth)
    assert read_csv_rows(clean.truth / "bad_rows.csv") == []
    assert clean.summary["unmatched_payments"] == 0
    assert clean.summary["overpayments"] == 0


def test_clean_prices_cover_invoice_lines(clean: GenerateResult) -> None:
    customer_of = {r["invoice_id"]: r["customer_id"]
                   for r in read_csv_rows(clean.inbox / "invoices.csv")}
    priced = {(r["customer_id"], r["sku"]) for r in read_csv_rows(clean.inbox / "prices.csv")}
    lines = read_csv_rows(clean.inbox / "invoice_lines.csv")
    assert len(priced) == 30 * get_profile("clean").assortment_size
    assert all((customer_of[r["invoice_id"]], r["sku"]) in priced for r in lines)
    counts = defaultdict(int)
    for row in lines:
        counts[row["invoice_id"]] += 1
    assert set(counts.values()) == set(range(3, 8))
