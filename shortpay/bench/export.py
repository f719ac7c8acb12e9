"""Write the generated tables as inbox CSV files and as truth files.

Every file is written by DuckDB from a query with an explicit order, so
the bytes depend only on the seed and the arguments. Bad rows (rows that
break the inbox contract on purpose) are inserted between good rows and
listed in the truth folder's ``bad_rows.csv`` with their file and line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from shortpay.bench.profiles import Profile
from shortpay.bench.truth_readme import TRUTH_README


@dataclass(frozen=True, slots=True)
class BadRow:
    """One row written to break the contract: where it is and what is wrong."""

    file: str
    line: int
    column: str
    value: str
    reason: str


ERP_FILES: dict[str, tuple[list[str], str]] = {
    "customers.csv": (
        ["customer_id", "name", "parent_customer_id", "ar_contact_email",
         "ar_contact_name", "country", "reason_code_set"],
        "select *, i as sort_position from customers order by i",
    ),
    "invoices.csv": (
        ["invoice_id", "customer_id", "invoice_date", "due_date", "currency",
         "total_amount", "po_number", "payment_terms", "bill_to_name"],
        """
        select *, 'USD' as currency, customer_name as bill_to_name, i as sort_position
        from invoice_totals order by i
        """,
    ),
    "invoice_lines.csv": (
        ["invoice_id", "line_number", "sku", "description", "quantity", "unit_price",
         "line_amount", "uom"],
        """
        select
            invoice_id, line_number, sku, description, quantity,
            unit_price_text as unit_price, line_amount, 'CS' as uom,
            line_key as sort_position
        from invoice_lines order by line_key
        """,
    ),
    "shipments.csv": (
        ["invoice_id", "line_number", "shipped_quantity", "delivered_quantity",
         "delivery_date", "pod_reference", "carrier"],
        "select *, line_key as sort_position from shipments order by line_key",
    ),
    "promotions.csv": (
        ["promotion_id", "customer_id", "start_date", "end_date", "promotion_type",
         "amount_cap", "sku", "rate_per_unit", "description"],
        """
        select
            *,
            replace(promotion_type, '_', ' ') || ' promotion' as description,
            sort_key as sort_position
        from promotions order by sort_key
        """,
    ),
    "prices.csv": (
        ["customer_id", "sku", "unit_price", "valid_from", "valid_to", "currency"],
        """
        select
            customer_id, sku, price_text(agreed_units) as unit_price,
            date '2026-01-01' as valid_from, date '2026-12-31' as valid_to,
            'USD' as currency, customer_index * 100000 + sku_index as sort_position
        from prices order by sort_position
        """,
    ),
}

REMITTANCE_COLUMNS = [
    "payment_id", "customer_id", "payer_name", "payment_date", "payment_amount", "currency",
    "line_number", "invoice_reference", "paid_amount", "adjustment_amount",
    "adjustment_reason_code", "adjustment_memo",
]

REMITTANCE_ROWS = """
create or replace temp table export_rows as
with originals as (
    select
        t.source_file as file_name,
        r.*,
        t.payment_amount,
        false as is_copy
    from remittance_lines as r
    inner join payment_totals as t on r.payment_id = t.payment_id
    where t.source_format = 'csv'
),

copies as (
    -- a resent payment goes into the next week's file
    select
        'remittances_'
            || strftime(week_file_date(o.payment_date + 7), '%Y-%m-%d')
            || '.csv' as file_name,
        o.* exclude (file_name, is_copy),
        true as is_copy
    from originals as o
    inner join duplicate_payments as d on o.payment_id = d.payment_id
),

all_rows as (
    select * from originals
    union all
    select * from copies
)

select
    file_name,
    payment_id,
    customer_id,
    payer_name,
    strftime(payment_date, '%Y-%m-%d') as payment_date,
    payment_amount::varchar as payment_amount,
    'USD' as currency,
    line_number::varchar as line_number,
    invoice_reference,
    paid_amount::varchar as paid_amount,
    case
        when overpaid_amount is not null then (-overpaid_amount)::varchar
        when category = 'early_pay_discount' or reason_code is not null
            then deduction_amount::varchar
    end as adjustment_amount,
    reason_code as adjustment_reason_code,
    adjustment_memo,
    (10 * row_number() over (
        partition by file_name order by payment_id, line_number, is_copy
    ))::double as sort_position
from all_rows
"""


def write_erp_files(conn: duckdb.DuckDBPyConnection, out_dir: Path, spec: Profile) -> list[BadRow]:
    """Write the six ERP extracts and return the bad rows put into them."""
    bad_rows: list[BadRow] = []
    for file_name, (columns, query) in ERP_FILES.items():
        _create_export_rows(conn, columns, query, file_name)
        if spec.bad_rows and file_name == "invoices.csv":
            values = {"invoice_id": "", "customer_id": "C00001", "invoice_date": "2026-10-01",
                      "due_date": "2026-10-31", "currency": "USD", "total_amount": "100.00",
                      "payment_terms": "NET 30"}
            bad_rows.append(_insert_bad_row(conn, file_name, values, "invoice_id",
                                            "empty invoice_id", after_row=7))
        if spec.bad_rows and file_name == "invoice_lines.csv":
            values = {"invoice_id": str(1_000_001 + 20), "line_number": "9", "sku": "SKU-0001",
                      "quantity": "5", "unit_price": "2.50", "line_amount": "12,50"}
            bad_rows.append(_insert_bad_row(conn, file_name, values, "line_amount",
                                            "amount with a decimal comma", after_row=40))
        _copy_export_rows(conn, columns, out_dir / file_name, file_name)
    return bad_rows


def write_remittance_csv(
    conn: duckdb.DuckDBPyConnection, out_dir: Path, spec: Profile
) -> list[BadRow]:
    """Write one ``remittances_<week>.csv`` per week of payment dates and return the bad rows."""
    conn.execute(REMITTANCE_ROWS)
    files = [row[0] for row in conn.execute(
        "select distinct file_name from export_rows order by file_name").fetchall()]
    bad_rows: list[BadRow] = []
    if spec.bad_rows and files:
        next_payment = conn.execute("select next_payment_number()").fetchall()[0][0]
        customer_id, payer_name = conn.execute(
            "select customer_id, name from customers where not is_edi order by i limit 1"
        ).fetchall()[0]
        # (column, value, reason, payment date, amount) of each bad payment row
        cases = [
            ("payment_amount", "12,50", "amount with a decimal comma", "2026-10-14", "12,50"),
            ("payment_date", "2026-02-30", "date that does not exist", "2026-02-30", "310.00"),
            ("payment_id", "", "empty payment_id", "2026-11-03", "95.10"),
        ]
        for number, (column, value, reason, payment_date, amount) in enumerate(cases):
            file_name = files[(1 + 2 * number) % len(files)]
            values = {
                "payment_id": f"PMT{next_payment + number:07d}", "customer_id": customer_id,
                "payer_name": payer_name, "payment_date": payment_date, "currency": "USD",
                "payment_amount": amount, "paid_amount": amount, "line_number": "1",
                "invoice_reference": str(1_000_001 + 30 + number),
            }
            values[column] = value
            bad_rows.append(_insert_bad_row(conn, file_name, values, column, reason,
                                            after_row=3 + number))
    for file_name in files:
        _copy_export_rows(conn, REMITTANCE_COLUMNS, out_dir / file_name, file_name)
    return bad_rows


# The helpers below put column names into SQL text. The names come from the
# fixed lists of this module, never from data, and every value is a parameter.


def _create_export_rows(
    conn: duckdb.DuckDBPyConnection, columns: list[str], query: str, file_name: str
) -> None:
    selected = ", ".join(f"{name}::varchar as {name}" for name in columns)
    conn.execute(
        "create or replace temp table export_rows as "  # noqa: S608
        f"select ?::varchar as file_name, {selected}, sort_position::double as sort_position "
        f"from ({query})",
        [file_name],
    )


def _insert_bad_row(
    conn: duckdb.DuckDBPyConnection,
    file_name: str,
    values: dict[str, str],
    column: str,
    reason: str,
    *,
    after_row: int,
) -> BadRow:
    """Insert a bad row after the ``after_row``-th good row of a file and return where it landed."""
    positions = conn.execute(
        "select sort_position from export_rows where file_name = ? "
        "order by sort_position limit 2 offset ?",
        [file_name, after_row - 1],
    ).fetchall()
    position = (positions[0][0] + positions[1][0]) / 2 if len(positions) == 2 else 1e15
    names = list(values)
    conn.execute(
        f"insert into export_rows (file_name, {', '.join(names)}, sort_position) "  # noqa: S608
        f"values (?, {', '.join('?' for _ in names)}, ?)",
        [file_name, *(values[name] for name in names), position],
    )
    # The header is line 1, so the n-th row of the file is line n + 1.
    line = conn.execute(
        "select row_number + 1 from ("
        "    select sort_position, row_number() over (order by sort_position) as row_number"
        "    from export_rows where file_name = ?"
        ") where sort_position = ?",
        [file_name, position],
    ).fetchall()[0][0]
    return BadRow(file=file_name, line=line, column=column, value=values[column], reason=reason)


def _copy_export_rows(
    conn: duckdb.DuckDBPyConnection, columns: list[str], path: Path, file_name: str
) -> None:
    relation = conn.sql(
        f"select {', '.join(columns)} from export_rows "  # noqa: S608
        "where file_name = $file_name order by sort_position",
        params={"file_name": file_name},
    )
    relation.write_csv(str(path), header=True)


TRUTH_REMITTANCES = """
select
    r.payment_id, r.line_number, t.source_format, t.source_file, r.invoice_reference,
    r.invoice_id, r.row_kind
from remittance_lines as r
inner join payment_totals as t on r.payment_id = t.payment_id
order by r.payment_id, r.line_number
"""

TRUTH_DEDUCTIONS = """
select
    r.payment_id, r.line_number, r.invoice_id, r.customer_id,
    r.deduction_amount as amount, r.category, r.validity, r.valid_amount,
    r.invalid_amount, r.reason_code, r.promotion_id, t.source_format,
    (r.reason_code is not null) as has_adjustment
from remittance_lines as r
inner join payment_totals as t on r.payment_id = t.payment_id
where r.category is not null
order by r.payment_id, r.line_number
"""


TRUTH_DUPLICATES = """
select distinct e.payment_id, t.source_file as original_file, e.file_name as duplicate_file
from export_rows as e
inner join payment_totals as t on e.payment_id = t.payment_id
where e.file_name <> t.source_file
order by e.payment_id
"""


def write_truth(
    conn: duckdb.DuckDBPyConnection,
    truth_dir: Path,
    bad_rows: list[BadRow],
    spec: Profile,
    *,
    seed: int,
) -> dict:
    """Write the truth CSV files and ``expected_summary.json``, and return the summary."""
    conn.sql(TRUTH_REMITTANCES).write_csv(str(truth_dir / "remittance_truth.csv"), header=True)
    conn.sql(TRUTH_DEDUCTIONS).write_csv(str(truth_dir / "deduction_truth.csv"), header=True)
    if spec.duplicate_payment_rate > 0:
        conn.sql(TRUTH_DUPLICATES).write_csv(str(truth_dir / "duplicate_payments.csv"), header=True)
    conn.execute(
        "create or replace temp table bad_row_list "
        "(file varchar, line integer, \"column\" varchar, value varchar, reason varchar)"
    )
    for row in bad_rows:
        conn.execute("insert into bad_row_list values (?, ?, ?, ?, ?)",
                     [row.file, row.line, row.column, row.value, row.reason])
    conn.sql("select * from bad_row_list order by file, line").write_csv(
        str(truth_dir / "bad_rows.csv"), header=True)
    (truth_dir / "README.md").write_text(TRUTH_README, encoding="utf-8")
    summary = build_summary(conn, spec, seed=seed, bad_row_count=len(bad_rows))
    (truth_dir / "expected_summary.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return summary


def build_summary(
    conn: duckdb.DuckDBPyConnection, spec: Profile, *, seed: int, bad_row_count: int
) -> dict:
    """Count and sum what the generator wrote, with amounts as exact decimal text."""

    def one(query: str) -> tuple:
        return conn.execute(query).fetchall()[0]

    payments = one(
        "select count(*), sum(payment_amount)::varchar, count(*) filter (source_format = 'csv'),"
        " count(*) filter (source_format = 'x12_820'), sum(line_count) from payment_totals")
    invoices = one("select count(*), sum(total_amount)::varchar from invoice_totals")
    lines = one("select count(*), sum(line_amount)::varchar from invoice_lines")
    kinds = dict(conn.execute(
        "select row_kind, count(distinct payment_id) from remittance_lines group by all").fetchall())
    by_category = {
        category: {"count": count, "amount": amount, "valid_amount": valid,
                   "invalid_amount": invalid}
        for category, count, amount, valid, invalid in conn.execute(
            "select category, count(*), sum(deduction_amount)::varchar,"
            " sum(valid_amount)::varchar, sum(invalid_amount)::varchar"
            " from remittance_lines where category is not null group by category order by category"
        ).fetchall()
    }
    by_validity = dict(conn.execute(
        "select validity, count(*) from remittance_lines where category is not null"
        " group by validity order by validity").fetchall())
    deductions = one(
        "select count(*), sum(deduction_amount)::varchar, sum(valid_amount)::varchar,"
        " sum(invalid_amount)::varchar from remittance_lines where category is not null")
    files = sorted(
        row[0] for row in conn.execute("select distinct source_file from payment_totals").fetchall()
    )
    return {
        "seed": seed,
        "profile": spec.name,
        "as_of": spec.as_of.isoformat(),
        "customers": one("select count(*) from customers")[0],
        "invoices": invoices[0],
        "invoiced_amount": invoices[1],
        "invoice_lines": lines[0],
        "invoice_lines_amount": lines[1],
        "shipments": one("select count(*) from shipments")[0],
        "short_shipped_lines": one(
            "select count(*) from shipments where delivered_quantity < shipped_quantity")[0],
        "promotions": one("select count(*) from promotions")[0],
        "prices": one("select count(*) from prices")[0],
        "paid_invoices": one("select count(*) from paid_invoices")[0],
        "payments": payments[0],
        "total_payment_amount": payments[1],
        "payments_csv": payments[2],
        "payments_x12_820": payments[3],
        "remittance_lines": payments[4],
        "unmatched_payments": kinds.get("unmatched", 0),
        "overpayments": kinds.get("overpayment", 0),
        "payment_level_deductions": kinds.get("payment_level", 0),
        "deductions": deductions[0],
        "deduction_amount": deductions[1],
        "deduction_valid_amount": deductions[2],
        "deduction_invalid_amount": deductions[3],
        "deductions_by_category": by_category,
        "deductions_by_validity": by_validity,
        "bad_rows": bad_row_count,
        "partially_paid_invoices": one(
            "select count(distinct invoice_index) from remittance_lines"
            " where row_kind = 'partial'")[0],
        "reversals": kinds.get("reversal", 0),
        "duplicate_payments": one("select count(*) from duplicate_payments")[0],
        "shared_invoice_numbers": one(
            "select count(*) from (select invoice_id from invoices group by invoice_id"
            " having count(*) > 1)")[0],
        "remittance_files": files,
        "note": "counts and sums exclude the rows listed in bad_rows.csv",
    }
