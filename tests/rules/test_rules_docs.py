"""The precedence query in docs/rules.md runs and picks the most specific rule."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from shortpay.rules.load import load_rules, write_rule_tables
from shortpay.settings import REPO_ROOT

OVERRIDES = """
  - id: test-code-set-04
    scope_type: code_set
    scope_id: retail_a
    category: returns
    description: Code set rule for code 04
    codes: ["04"]
  - id: test-parent-04
    scope_type: parent
    scope_id: P1
    category: pricing
    description: Parent rule for code 04
    codes: ["04"]
  - id: test-customer-04
    scope_type: customer
    scope_id: C1
    category: freight
    description: Customer rule for code 04
    codes: ["04"]
"""

SETUP_SQL = """
create schema marts;
create table marts.dim_customers (
    customer_id varchar, parent_customer_id varchar, reason_code_set varchar
);
insert into marts.dim_customers values
    ('C1', 'P1', 'retail_a'), ('C2', 'P1', 'retail_a'),
    ('C3', null, 'retail_a'), ('C4', null, null);
create table deductions (
    deduction_id varchar, customer_id varchar, customer_reason_code varchar
);
insert into deductions values
    ('D1', 'C1', '04'), ('D2', 'C2', ' 04'), ('D3', 'C3', '04'), ('D4', 'C4', '04'),
    ('D5', 'C4', 'otif'), ('D6', 'C3', 'otif'), ('D7', 'C4', null);
"""


def precedence_query() -> str:
    text = (REPO_ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    match = re.search(r"```sql\n(-- example: reason code precedence\n.*?)```", text, re.S)
    assert match is not None, "example query missing from docs/rules.md"
    return match.group(1)


def test_docs_precedence_query(rules_dir: Path, tmp_path: Path):
    path = rules_dir / "reason_codes.yaml"
    path.write_text(path.read_text(encoding="utf-8") + OVERRIDES, encoding="utf-8")
    conn = duckdb.connect(str(tmp_path / "work.duckdb"))
    write_rule_tables(conn, load_rules(rules_dir))
    conn.execute(SETUP_SQL)

    rows = conn.execute(precedence_query()).fetchall()
    conn.close()

    assert rows == [
        ("D1", "freight", "test-customer-04"),
        ("D2", "pricing", "test-parent-04"),
        ("D3", "returns", "test-code-set-04"),
        ("D4", "damage", "rc-damage"),
        ("D5", "unidentified", None),
        ("D6", "compliance_fine", "rc-retail-a-compliance"),
        ("D7", "unidentified", None),
    ]
