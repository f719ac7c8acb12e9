"""Readers the generator tests use to look at generated files independently."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import duckdb

# The arguments of `make sample`.
SAMPLE_ARGS = {"invoices": 2000, "customers": 50, "seed": 7, "profile": "sample"}


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """Read a CSV file as text with the stdlib reader, adding each row's file line number."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = []
        for row in reader:
            row["_line"] = str(reader.line_num)
            rows.append(row)
    return rows


def load_inbox(conn: duckdb.DuckDBPyConnection, inbox: Path, bad_rows: set[tuple[str, int]]) -> None:
    """Load every CSV of the inbox into text tables, leaving out the listed bad rows.

    Tables get the entity name (``remittances`` for all remittance files) and a
    ``source_file`` column.
    """
    entities = ["customers", "invoices", "invoice_lines", "shipments", "promotions", "prices",
                "remittances"]
    for entity in entities:
        files = sorted(inbox.glob(f"{entity}*.csv"))
        first = True
        for path in files:
            conn.execute(
                f"{'create table ' + entity + ' as' if first else 'insert into ' + entity} "
                "select *, ? as source_file, row_number() over () + 1 as file_line "
                "from read_csv(?, all_varchar = true, header = true)",
                [path.name, str(path)],
            )
            first = False
    for file_name, line in bad_rows:
        entity = next(e for e in sorted(entities, key=len, reverse=True) if file_name.startswith(e))
        conn.execute(
            f"delete from {entity} where source_file = ? and file_line = ?", [file_name, line]
        )


def parse_x12(path: Path) -> list[list[str]]:
    """Split an X12 file into segments of elements, using the ISA delimiters."""
    text = path.read_text(encoding="utf-8")
    element, terminator = text[3], text[105]
    segments = [s.strip() for s in text.split(terminator)]
    return [s.split(element) for s in segments if s]


def x12_payments(path: Path) -> list[dict]:
    """Read the payments of a generated 820 file: amount, trace and RMR/ADX items."""
    payments: list[dict] = []
    for elements in parse_x12(path):
        tag = elements[0]
        if tag == "BPR":
            payments.append({"amount": Decimal(elements[2]), "date": elements[16], "items": []})
        elif tag == "TRN":
            payments[-1]["payment_id"] = elements[2]
        elif tag == "N1" and elements[1] == "PR":
            payments[-1]["customer_id"] = elements[4]
        elif tag == "RMR":
            discount = Decimal(elements[6]) if len(elements) > 6 and elements[6] else None
            payments[-1]["items"].append(
                {"reference": elements[2], "paid": Decimal(elements[4]),
                 "total": Decimal(elements[5]), "discount": discount, "adjustments": []}
            )
        elif tag == "ADX":
            payments[-1]["items"][-1]["adjustments"].append(
                {"amount": -Decimal(elements[1]), "reason": elements[2],
                 "memo": elements[4] if len(elements) > 4 else ""}
            )
    return payments
