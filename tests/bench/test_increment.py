"""The split of an inbox into a base and a day's files for ``shortpay bench --increment``."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench_files import read_csv_rows

from shortpay.bench.increment import split_inbox

SAMPLE_INBOX = Path(__file__).resolve().parents[2] / "data" / "sample"
DAY_FILES = [
    "invoice_lines_day.csv",
    "invoices_day.csv",
    "remittances_2026-11-23.csv",
    "remittances_2026-11-30.csv",
    "shipments_day.csv",
]


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("increment")
    base, day = root / "base", root / "day"
    return {"base": base, "day": day, "report": split_inbox(SAMPLE_INBOX, base, day)}


def ids(path: Path) -> list[str]:
    return [row["invoice_id"] for row in read_csv_rows(path)]


def test_day_gets_last_date_and_files(split):
    invoices = read_csv_rows(SAMPLE_INBOX / "invoices.csv")
    last_date = max(row["invoice_date"] for row in invoices)
    expected = sorted(row["invoice_id"] for row in invoices if row["invoice_date"] == last_date)
    assert sorted(ids(split["day"] / "invoices_day.csv")) == expected
    assert split["report"]["day_files"] == DAY_FILES
    assert split["report"]["day_invoices"] == len(expected) == 30
    payments = {
        row["payment_id"]
        for name in DAY_FILES if name.startswith("remittances_")
        for row in read_csv_rows(SAMPLE_INBOX / name)
    }
    assert split["report"]["day_payments"] == len(payments) == 31


@pytest.mark.parametrize("name", ["invoices", "invoice_lines", "shipments"])
def test_rows_split_without_loss(split, name):
    original = sorted(ids(SAMPLE_INBOX / f"{name}.csv"))
    base = ids(split["base"] / f"{name}.csv")
    day = ids(split["day"] / f"{name}_day.csv")
    assert sorted(base + day) == original
    assert not set(base) & set(day)


def test_base_keeps_every_other_file(split):
    base_files = sorted(path.name for path in split["base"].iterdir())
    expected = sorted(
        path.name for path in SAMPLE_INBOX.iterdir() if path.name not in DAY_FILES
    )
    assert base_files == expected
