"""Tests of the seeded generator on the sample profile."""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest
from bench_files import SAMPLE_ARGS, load_inbox, parse_x12, read_csv_rows, x12_payments

from shortpay.bench.generate import GenerateResult, default_truth_dir, generate

REPOSITORY = Path(__file__).resolve().parents[2]
CENT = Decimal("0.01")


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def bad_row_keys(sample: GenerateResult) -> set[tuple[str, int]]:
    return {(row["file"], int(row["line"])) for row in read_csv_rows(sample.truth / "bad_rows.csv")}


@pytest.fixture(scope="module")
def inbox_db(sample: GenerateResult) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    load_inbox(conn, sample.inbox, bad_row_keys(sample))
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def edi_payments(sample: GenerateResult) -> list[dict]:
    payments = []
    for path in sorted(sample.inbox.glob("*.820")):
        for payment in x12_payments(path):
            payment["file"] = path.name
            payments.append(payment)
    return payments


# --- determinism -----------------------------------------------------------


def test_same_seed_gives_identical_bytes(sample: GenerateResult, tmp_path: Path) -> None:
    again = generate(tmp_path / "inbox", **SAMPLE_ARGS)
    assert file_bytes(again.inbox) == file_bytes(sample.inbox)
    assert file_bytes(again.truth) == file_bytes(sample.truth)


def test_other_seed_gives_other_data(sample: GenerateResult, tmp_path: Path) -> None:
    other = generate(tmp_path / "inbox", **{**SAMPLE_ARGS, "seed": 8})
    assert (other.inbox / "invoices.csv").read_bytes() != (sample.inbox / "invoices.csv").read_bytes()


def test_bundled_sample_is_up_to_date(sample: GenerateResult) -> None:
    bundled = REPOSITORY / "data" / "sample"
    if not (bundled / "invoices.csv").exists():
        pytest.skip("data/sample has not been generated; run `make sample`")
    assert file_bytes(bundled) == file_bytes(sample.inbox)
    assert file_bytes(REPOSITORY / "data" / "sample_truth") == file_bytes(sample.truth)


def test_bundled_sample_stays_small(sample: GenerateResult) -> None:
    size = sum(p.stat().st_size for p in sample.inbox.iterdir())
    assert size < 2_000_000


# --- folders and arguments -------------------------------------------------


def test_truth_folder_is_sibling(sample: GenerateResult) -> None:
    assert sample.truth == default_truth_dir(sample.inbox)
    assert sample.truth.parent == sample.inbox.parent
    assert sample.truth.name == "inbox_truth"
    assert not list(sample.inbox.glob("*truth*"))


def test_truth_inside_inbox_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must not be inside the inbox"):
        generate(tmp_path / "inbox", invoices=50, customers=10, seed=1,
                 truth_dir=tmp_path / "inbox" / "truth")


def test_foreign_folder_is_not_deleted(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "remittances_real.csv").write_text("payment_id\n")
    with pytest.raises(ValueError, match="is not empty and was not written by `shortpay generate`"):
        generate(inbox, invoices=50, customers=10, seed=1)
    assert (inbox / "remittances_real.csv").read_text() == "payment_id\n"


def test_previous_output_is_replaced(tmp_path: Path) -> None:
    first = generate(tmp_path / "inbox", invoices=50, customers=10, seed=1)
    (first.inbox / "stale.csv").write_text("old")
    second = generate(tmp_path / "inbox", invoices=50, customers=10, seed=2)
    assert not (second.inbox / "stale.csv").exists()
    assert second.summary["seed"] == 2


def test_unknown_profile_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown profile 'odd'; expected one of: clean"):
        generate(tmp_path / "inbox", invoices=50, customers=10, seed=1, profile="odd")


def test_cli_generate_writes_inbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from shortpay.cli import main

    code = main(["generate", "--out", str(tmp_path / "in"), "--invoices", "60",
                 "--customers", "10", "--seed", "3", "--profile", "sample"])
    assert code == 0
    assert (tmp_path / "in" / "invoices.csv").exists()
    assert (tmp_path / "in_truth" / "expected_summary.json").exists()
    assert "60 invoices" in capsys.readouterr().out


def test_cli_generate_reports_bad_argument(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from shortpay.cli import main

    code = main(["generate", "--out", str(tmp_path / "in"), "--invoices", "5"])
    assert code == 2
    assert "invoices must be at least 10, got 5" in capsys.readouterr().err


# --- summary against the files ---------------------------------------------


def test_summary_counts_match_erp_files(sample: GenerateResult, inbox_db) -> None:
    summary = sample.summary
    count, total = inbox_db.sql(
        "select count(*), sum(total_amount::decimal(18, 2))::varchar from invoices").fetchall()[0]
    assert count == summary["invoices"] == 2000
    assert total == summary["invoiced_amount"]
    count, total = inbox_db.sql(
        "select count(*), sum(line_amount::decimal(18, 2))::varchar from invoice_lines"
    ).fetchall()[0]
    assert count == summary["invoice_lines"]
    assert total == summary["invoice_lines_amount"] == summary["invoiced_amount"]
    assert inbox_db.sql("select count(*) from customers").fetchall()[0][0] == 50
    assert inbox_db.sql("select count(*) from shipments").fetchall()[0][0] == summary["shipments"]
    assert inbox_db.sql("select count(*) from promotions").fetchall()[0][0] == summary["promotions"]
    assert inbox_db.sql("select count(*) from prices").fetchall()[0][0] == summary["prices"]


def test_summary_payments_match_files(sample: GenerateResult, inbox_db, edi_payments) -> None:
    summary = sample.summary
    csv_count, csv_total, csv_lines = inbox_db.sql(
        """
        select count(*), sum(amount), sum(lines) from (
            select payment_id, any_value(payment_amount::decimal(18, 2)) as amount,
                   count(*) as lines
            from remittances group by payment_id)
        """
    ).fetchall()[0]
    edi_total = sum((p["amount"] for p in edi_payments), Decimal("0"))
    edi_lines = sum(len(p["items"]) for p in edi_payments)
    assert csv_count == summary["payments_csv"]
    assert len(edi_payments) == summary["payments_x12_820"]
    assert csv_count + len(edi_payments) == summary["payments"]
    assert csv_total + edi_total == Decimal(summary["total_payment_amount"])
    assert csv_lines + edi_lines == summary["remittance_lines"]
    files = sorted({p["file"] for p in edi_payments}
                   | {r[0] for r in inbox_db.sql("select distinct source_file from remittances").fetchall()})
    assert files == summary["remittance_files"]


def test_summary_deductions_match_truth(sample: GenerateResult) -> None:
    summary = sample.summary
    rows = read_csv_rows(sample.truth / "deduction_truth.csv")
    assert len(rows) == summary["deductions"]
    for category, expected in summary["deductions_by_category"].items():
        chosen = [r for r in rows if r["category"] == category]
        assert len(chosen) == expected["count"], category
        assert sum(Decimal(r["amount"]) for r in chosen) == Decimal(expected["amount"]), category
        assert sum(Decimal(r["valid_amount"]) for r in chosen) == Decimal(expected["valid_amount"])
    assert sum(Decimal(r["amount"]) for r in rows) == Decimal(summary["deduction_amount"])


def test_sample_has_expected_shape(sample: GenerateResult) -> None:
    summary = sample.summary
    paid_share = summary["paid_invoices"] / summary["invoices"]
    deducted_share = (summary["deductions"] - summary["payment_level_deductions"]) / summary[
        "paid_invoices"]
    assert 0.80 <= paid_share <= 0.90
    assert 0.12 <= deducted_share <= 0.18
    assert set(summary["deductions_by_category"]) >= {
        "trade_promotion", "pricing", "shortage", "damage", "returns", "freight", "tax",
        "compliance_fine", "early_pay_discount", "unidentified"}
    assert summary["unmatched_payments"] == 4
    assert summary["overpayments"] == 1
    assert summary["payment_level_deductions"] == 1
    assert 3 <= summary["bad_rows"] <= 5
    assert len([f for f in summary["remittance_files"] if f.endswith(".820")]) in (2, 3)


# --- remittances -------------------------------------------------------------


def test_csv_remittances_add_up(inbox_db) -> None:
    wrong = inbox_db.sql(
        """
        select payment_id
        from remittances
        group by payment_id
        having count(distinct payment_amount) <> 1
            or any_value(payment_amount)::decimal(18, 2) <> sum(paid_amount::decimal(18, 2))
        """
    ).fetchall()
    assert wrong == []


def test_x12_remittances_add_up(edi_payments) -> None:
    assert edi_payments
    for payment in edi_payments:
        assert payment["amount"] == sum(item["paid"] for item in payment["items"]), payment
        for item in payment["items"]:
            withheld = sum((a["amount"] for a in item["adjustments"]), Decimal("0"))
            # unidentified short-pays carry no ADX, so paid plus adjustments may fall short
            assert item["paid"] + withheld + (item["discount"] or 0) <= item["total"]


def test_x12_envelope_counts(sample: GenerateResult) -> None:
    files = sorted(sample.inbox.glob("*.820"))
    assert len(files) == 3
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert text[3] == "*"
        assert text[104] == ":"
        assert text[105] == "~"
        assert text.startswith("ISA*00*")
        assert "~\nGS*RA*" in text
        segments = parse_x12(path)
        assert segments[-1][0] == "IEA"
        group_count = sum(1 for s in segments if s[0] == "GS")
        assert int(segments[-1][1]) == group_count == 1
        ge = next(s for s in segments if s[0] == "GE")
        assert int(ge[1]) == sum(1 for s in segments if s[0] == "ST")
        assert ge[2] == next(s for s in segments if s[0] == "GS")[6]
        start = None
        for index, elements in enumerate(segments):
            if elements[0] == "ST":
                start = index
                assert elements[1:] == [elements[1], elements[2], "005010X218"]
            if elements[0] == "SE":
                assert int(elements[1]) == index - start + 1
                assert elements[2] == segments[start][2]
        isa = segments[0]
        assert isa[12] == "00501"
        assert isa[13] == segments[-1][2]


def test_x12_header_matches_public_layout(sample: GenerateResult, public_data: Path) -> None:
    public = (public_data / "x12_820" / "indice-co_EDI.Net" / "x12.820.issue140.edi").read_text()
    ours = next(sample.inbox.glob("*.820")).read_text()
    public_isa = public.split(public[105])[0]
    ours_isa = ours.split(ours[105])[0]
    assert len(ours_isa) == len(public_isa) == 105
    assert [len(e) for e in ours_isa.split("*")] == [len(e) for e in public_isa.split("*")]


def test_remittance_truth_covers_every_row(sample: GenerateResult, inbox_db, edi_payments) -> None:
    truth = read_csv_rows(sample.truth / "remittance_truth.csv")
    keyed = {(r["payment_id"], int(r["line_number"])): r for r in truth}
    csv_rows = inbox_db.sql(
        "select payment_id, line_number::integer, coalesce(invoice_reference, '') from remittances"
    ).fetchall()
    edi_rows = [(p["payment_id"], n, item["reference"])
                for p in edi_payments for n, item in enumerate(p["items"], start=1)]
    assert len(keyed) == len(csv_rows) + len(edi_rows) == sample.summary["remittance_lines"]
    for payment_id, line_number, reference in csv_rows + edi_rows:
        assert keyed[(payment_id, line_number)]["invoice_reference"] == reference


def test_noisy_references_normalise_to_truth(sample: GenerateResult) -> None:
    truth = [r for r in read_csv_rows(sample.truth / "remittance_truth.csv")
             if r["row_kind"] in ("invoice", "overpayment")]
    noisy = [r for r in truth if r["invoice_reference"] != r["invoice_id"]]
    assert 0.10 * len(truth) < len(noisy) < 0.20 * len(truth)
    prefixes = {re.match(r"^(INV-|#|00|inv)", r["invoice_reference"]).group(1) for r in noisy}
    assert prefixes == {"INV-", "#", "00", "inv"}
    for row in noisy:
        normalised = re.sub(r"^(inv-?|#)", "", row["invoice_reference"].lower()).lstrip("0")
        assert normalised == row["invoice_id"]


def test_special_payments(sample: GenerateResult, inbox_db) -> None:
    truth = read_csv_rows(sample.truth / "remittance_truth.csv")
    invoice_ids = {r[0] for r in inbox_db.sql("select invoice_id from invoices").fetchall()}
    totals = {Decimal(r[0]) for r in inbox_db.sql("select total_amount from invoices").fetchall()}
    unmatched = [r for r in truth if r["row_kind"] == "unmatched"]
    assert len(unmatched) == 4
    for row in unmatched:
        assert row["invoice_id"] == ""
        assert row["invoice_reference"].removeprefix("REF-") not in invoice_ids
        amount = inbox_db.sql("select paid_amount from remittances where payment_id = ?",
                              params=[row["payment_id"]]).fetchall()[0][0]
        assert Decimal(amount) not in totals
    level = [r for r in truth if r["row_kind"] == "payment_level"]
    assert len(level) == 1
    row = inbox_db.sql(
        "select invoice_reference, paid_amount, adjustment_amount, adjustment_reason_code "
        "from remittances where payment_id = ? and line_number = ?",
        params=[level[0]["payment_id"], level[0]["line_number"]]).fetchall()[0]
    assert row == (None, "-75.00", "75.00", "54")
    over = [r for r in truth if r["row_kind"] == "overpayment"]
    assert len(over) == 1
    paid, adjustment, total = inbox_db.sql(
        "select r.paid_amount, r.adjustment_amount, i.total_amount from remittances as r "
        "join invoices as i on i.invoice_id = r.invoice_reference where r.payment_id = ?",
        params=[over[0]["payment_id"]]).fetchall()[0]
    assert Decimal(paid) == Decimal(total) + Decimal("25.00")
    assert adjustment == "-25.00"


def test_customer_content(inbox_db) -> None:
    names = [r[0] for r in inbox_db.sql("select name from customers").fetchall()]
    assert "O'Brien & Sons <Wholesale>" in names
    assert inbox_db.sql(
        "select count(*) from customers where parent_customer_id is not null").fetchall()[0][0] >= 3
    emails = inbox_db.sql("select ar_contact_email from customers").fetchall()
    assert all(re.fullmatch(r"ap@[a-z0-9-]+\.example\.com", e[0]) for e in emails)
    assert inbox_db.sql(
        "select count(*) from customers where reason_code_set = 'retail_a'").fetchall()[0][0] >= 5


def test_invoice_lines_are_consistent(inbox_db) -> None:
    wrong_lines = inbox_db.sql(
        """
        select count(*) from invoice_lines
        where line_amount::decimal(18, 2)
            <> round(quantity::decimal(18, 4) * unit_price::decimal(18, 4), 2)
        """
    ).fetchall()[0][0]
    assert wrong_lines == 0
    wrong_totals = inbox_db.sql(
        """
        select count(*) from invoices as i
        join (select invoice_id, sum(line_amount::decimal(18, 2)) as total
              from invoice_lines group by invoice_id) as l using (invoice_id)
        where i.total_amount::decimal(18, 2) <> l.total
        """
    ).fetchall()[0][0]
    assert wrong_totals == 0
    precisions = {r[0] for r in inbox_db.sql(
        "select distinct length(split_part(unit_price, '.', 2)) from invoice_lines").fetchall()}
    assert precisions == {2, 3, 4}
    assert inbox_db.sql(
        "select count(*) from invoice_lines as l left join shipments as s "
        "using (invoice_id, line_number) where s.invoice_id is null").fetchall()[0][0] == 0
    terms = dict(inbox_db.sql(
        "select payment_terms, count(*) from invoices group by all").fetchall())
    assert terms["NET 30"] > terms["2/10 NET 30"] > 50


# --- deductions ----------------------------------------------------------------


def deduction_rows(sample: GenerateResult) -> list[dict[str, str]]:
    return read_csv_rows(sample.truth / "deduction_truth.csv")


def test_deduction_amounts_split_exactly(sample: GenerateResult) -> None:
    for row in deduction_rows(sample):
        amount = Decimal(row["amount"])
        valid = Decimal(row["valid_amount"])
        invalid = Decimal(row["invalid_amount"])
        if row["validity"] == "needs_review":
            assert (valid, invalid) == (0, 0), row
        else:
            assert valid + invalid == amount, row
            assert (invalid == 0) == (row["validity"] == "valid"), row


def test_early_pay_discounts(sample: GenerateResult, inbox_db) -> None:
    rows = [r for r in deduction_rows(sample) if r["category"] == "early_pay_discount"]
    assert len(rows) > 20
    validities = {r["validity"] for r in rows}
    assert validities == {"valid", "invalid"}
    for row in rows:
        invoice_date, total, terms = inbox_db.sql(
            "select invoice_date, total_amount, payment_terms from invoices where invoice_id = ?",
            params=[row["invoice_id"]]).fetchall()[0]
        payment_date = payment_date_of(inbox_db, sample, row["payment_id"])
        two_percent = (Decimal(total) * Decimal("0.02")).quantize(CENT, ROUND_HALF_UP)
        days = (payment_date - date.fromisoformat(invoice_date)).days
        assert terms == "2/10 NET 30"
        earned = days <= 10 and Decimal(row["amount"]) == two_percent
        assert (row["validity"] == "valid") == earned, row


def payment_date_of(inbox_db, sample: GenerateResult, payment_id: str) -> date:
    found = inbox_db.sql("select any_value(payment_date) from remittances where payment_id = ?",
                         params=[payment_id]).fetchall()[0][0]
    if found is not None:
        return date.fromisoformat(found)
    for path in sample.inbox.glob("*.820"):
        for payment in x12_payments(path):
            if payment["payment_id"] == payment_id:
                value = payment["date"]
                return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    raise AssertionError(f"payment {payment_id} not found")


def test_trade_promotions_follow_caps(sample: GenerateResult, inbox_db) -> None:
    rows = [r for r in deduction_rows(sample) if r["category"] == "trade_promotion"]
    assert {r["validity"] for r in rows} == {"valid", "invalid"}
    for row in rows:
        cap, customer_id, sku, rate = inbox_db.sql(
            "select amount_cap, customer_id, sku, rate_per_unit from promotions "
            "where promotion_id = ?", params=[row["promotion_id"]]).fetchall()[0]
        assert customer_id == row["customer_id"]
        assert Decimal(row["valid_amount"]) == min(Decimal(row["amount"]), Decimal(cap))
        assert row["reason_code"] in ("56", "A8")
        if sku is not None:
            quantity = inbox_db.sql(
                "select quantity from invoice_lines where invoice_id = ? and sku = ? "
                "order by line_number::integer limit 1", params=[row["invoice_id"], sku]
            ).fetchall()[0][0]
            assert Decimal(cap) == (Decimal(rate) * Decimal(quantity)).quantize(CENT, ROUND_HALF_UP)
    memos = inbox_db.sql(
        "select adjustment_memo from remittances where adjustment_reason_code in ('56', 'A8')"
    ).fetchall()
    assert memos
    assert all(re.fullmatch(r"PROMO PR-\d+", m[0]) for m in memos)


def test_pricing_and_shortage_evidence(sample: GenerateResult, inbox_db) -> None:
    rows = deduction_rows(sample)
    for row in [r for r in rows if r["category"] == "pricing"]:
        overcharge = inbox_db.sql(
            """
            select sum(round((l.unit_price::decimal(18, 4) - p.unit_price::decimal(18, 4))
                             * l.quantity::decimal(18, 4), 2))
            from invoice_lines as l
            join invoices as i using (invoice_id)
            join prices as p on p.customer_id = i.customer_id and p.sku = l.sku
            where l.invoice_id = ?
            """, params=[row["invoice_id"]]).fetchall()[0][0]
        assert Decimal(row["valid_amount"]) == overcharge > 0
        assert row["reason_code"] == "01"
    shortages = [r for r in rows if r["category"] == "shortage"]
    assert {r["validity"] for r in shortages} == {"valid", "invalid"}
    for row in shortages:
        short = inbox_db.sql(
            "select count(*) from shipments where invoice_id = ? "
            "and delivered_quantity::integer < shipped_quantity::integer",
            params=[row["invoice_id"]]).fetchall()[0][0]
        assert (short > 0) == (row["validity"] == "valid"), row
        assert row["reason_code"] in ("59", "75")


def test_reason_codes_per_category(sample: GenerateResult, inbox_db) -> None:
    codes: dict[str, set[str]] = {}
    for row in deduction_rows(sample):
        codes.setdefault(row["category"], set()).add(row["reason_code"])
    assert codes["damage"] == {"04", "F1"}
    assert codes["returns"] == {"11", "72"}
    assert codes["freight"] == {"54"}
    assert codes["tax"] == {"55"}
    assert codes["compliance_fine"] == {"OTIF", "LBL"}
    assert codes["early_pay_discount"] == {"90"}
    assert codes["unidentified"] == {"", "ZZ"}
    retail = {r[0] for r in inbox_db.sql(
        "select customer_id from customers where reason_code_set = 'retail_a'").fetchall()}
    fines = [r for r in deduction_rows(sample) if r["category"] == "compliance_fine"]
    assert all(r["customer_id"] in retail for r in fines)


def test_adjustments_in_files_match_truth(sample: GenerateResult, inbox_db, edi_payments) -> None:
    truth = {(r["payment_id"], int(r["line_number"])): r for r in deduction_rows(sample)}
    found = {}
    for payment_id, line, amount, code in inbox_db.sql(
        "select payment_id, line_number::integer, adjustment_amount, adjustment_reason_code "
        "from remittances where adjustment_amount is not null "
        "and adjustment_amount::decimal(18, 2) > 0"
    ).fetchall():
        found[(payment_id, line)] = (Decimal(amount), code)
    for payment in edi_payments:
        for number, item in enumerate(payment["items"], start=1):
            for adjustment in item["adjustments"]:
                found[(payment["payment_id"], number)] = (adjustment["amount"], adjustment["reason"])
            if item["discount"]:
                found[(payment["payment_id"], number)] = (item["discount"], "90")
    with_adjustment = {k: v for k, v in truth.items() if v["has_adjustment"] == "true"}
    assert set(found) == set(with_adjustment)
    for key, (amount, code) in found.items():
        assert amount == Decimal(truth[key]["amount"]), key
        assert code == truth[key]["reason_code"], key


# --- bad rows ------------------------------------------------------------------

MONEY = re.compile(r"-?\d+\.\d{2}")
PRICE = re.compile(r"\d+\.\d{2,4}")
CHECKS = {
    "invoices": {"ids": ["invoice_id", "customer_id"], "money": ["total_amount"],
                 "dates": ["invoice_date", "due_date"]},
    "invoice_lines": {"ids": ["invoice_id", "sku"], "money": ["line_amount"],
                      "prices": ["unit_price"]},
    "shipments": {"ids": ["invoice_id"], "dates": ["delivery_date"]},
    "customers": {"ids": ["customer_id", "name"]},
    "promotions": {"ids": ["promotion_id", "customer_id"], "money": ["amount_cap"],
                   "dates": ["start_date", "end_date"]},
    "prices": {"ids": ["customer_id", "sku"], "prices": ["unit_price"],
               "dates": ["valid_from", "valid_to"]},
    "remittances": {"ids": ["payment_id", "customer_id"],
                    "money": ["payment_amount", "paid_amount", "adjustment_amount"],
                    "dates": ["payment_date"]},
}


def row_is_bad(row: dict[str, str], checks: dict[str, list[str]]) -> bool:
    if any(not row[name] for name in checks.get("ids", [])):
        return True
    if any(row[name] and not MONEY.fullmatch(row[name]) for name in checks.get("money", [])):
        return True
    if any(not PRICE.fullmatch(row[name]) for name in checks.get("prices", [])):
        return True
    for name in checks.get("dates", []):
        try:
            date.fromisoformat(row[name])
        except ValueError:
            return True
    return False


def test_bad_rows_are_exactly_listed(sample: GenerateResult) -> None:
    found = set()
    for path in sorted(sample.inbox.glob("*.csv")):
        entity = next(e for e in sorted(CHECKS, key=len, reverse=True) if path.name.startswith(e))
        for row in read_csv_rows(path):
            if row_is_bad(row, CHECKS[entity]):
                found.add((path.name, int(row["_line"])))
    listed = bad_row_keys(sample)
    assert found == listed
    assert len({name for name, _ in listed}) == len(listed)
    reasons = {r["reason"] for r in read_csv_rows(sample.truth / "bad_rows.csv")}
    assert {"amount with a decimal comma", "date that does not exist", "empty invoice_id"} <= reasons
