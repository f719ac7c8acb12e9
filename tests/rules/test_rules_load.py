"""Tests of load_rules and write_rule_tables on the shipped rules and on broken copies."""

from __future__ import annotations

import hashlib
from dataclasses import fields
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from shortpay.rules.load import (
    TABLES,
    RulesError,
    content_hash,
    load_rules,
    write_rule_tables,
)
from shortpay.rules.schema import RULE_FILES
from shortpay.settings import DEFAULT_RULES_DIR

HOSTILE = "'); drop table rules.reason_codes; --"

EXPECTED_COLUMNS = {
    "reason_codes": [
        ("rule_id", "VARCHAR"), ("scope_type", "VARCHAR"), ("scope_id", "VARCHAR"),
        ("reason_code", "VARCHAR"), ("category", "VARCHAR"), ("description", "VARCHAR"),
    ],
    "category_policies": [
        ("rule_id", "VARCHAR"), ("category", "VARCHAR"), ("allowed", "BOOLEAN"),
        ("evidence_required", "VARCHAR"), ("default_validity", "VARCHAR"),
        ("description", "VARCHAR"),
    ],
    "tolerances": [
        ("rule_id", "VARCHAR"), ("scope_type", "VARCHAR"), ("scope_id", "VARCHAR"),
        ("category", "VARCHAR"), ("max_amount", "DECIMAL(18,2)"),
        ("max_percent", "DECIMAL(9,4)"), ("description", "VARCHAR"),
    ],
    "dispute_windows": [
        ("rule_id", "VARCHAR"), ("scope_type", "VARCHAR"), ("scope_id", "VARCHAR"),
        ("category", "VARCHAR"), ("window_days", "INTEGER"), ("description", "VARCHAR"),
    ],
    "routing": [
        ("rule_id", "VARCHAR"), ("scope_type", "VARCHAR"), ("scope_id", "VARCHAR"),
        ("category", "VARCHAR"), ("min_amount", "DECIMAL(18,2)"),
        ("max_amount", "DECIMAL(18,2)"), ("owner", "VARCHAR"), ("team", "VARCHAR"),
        ("priority", "INTEGER"), ("description", "VARCHAR"),
    ],
    "settings": [("key", "VARCHAR"), ("value", "VARCHAR"), ("description", "VARCHAR")],
    "ruleset": [
        ("content_hash", "VARCHAR"), ("rules_dir", "VARCHAR"), ("loaded_at", "TIMESTAMP"),
        ("file_count", "INTEGER"),
    ],
}


def replace_in(path: Path, old: str, new: str) -> None:
    """Replace one exact piece of text in a file; fails when the text is absent."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not found in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def issue_texts(error: pytest.ExceptionInfo[RulesError]) -> list[str]:
    return [str(issue) for issue in error.value.issues]


@pytest.fixture
def warehouse(tmp_path: Path):
    conn = duckdb.connect(str(tmp_path / "work.duckdb"))
    yield conn
    conn.close()


def test_shipped_rules_load():
    ruleset = load_rules(DEFAULT_RULES_DIR)

    assert len(ruleset.reason_codes) == 636
    assert len(ruleset.category_policies) == 10
    assert len(ruleset.tolerances) == 5
    assert len(ruleset.dispute_windows) == 6
    assert len(ruleset.routing) == 8
    assert len(ruleset.settings) == 8


def test_shipped_default_mapping():
    ruleset = load_rules(DEFAULT_RULES_DIR)
    default = {
        row.reason_code: row.category
        for row in ruleset.reason_codes
        if row.scope_type == "default"
    }
    expected = {
        "01": "pricing", "04": "damage", "F1": "damage", "06": "shortage",
        "59": "shortage", "75": "shortage", "11": "returns", "12": "returns",
        "72": "returns", "54": "freight", "55": "tax", "56": "trade_promotion",
        "A8": "trade_promotion", "90": "early_pay_discount", "ZZ": "unidentified",
    }

    assert len(default) == 632
    assert {code: default[code] for code in expected} == expected
    # Medical and insurance codes are not trade deductions.
    assert default["HB"] == "unidentified"
    assert default["G2"] == "unidentified"


def test_shipped_scoped_mappings():
    ruleset = load_rules(DEFAULT_RULES_DIR)
    scoped = sorted(
        (row.scope_type, row.scope_id, row.reason_code, row.category)
        for row in ruleset.reason_codes
        if row.scope_type != "default"
    )

    assert scoped == [
        ("code_set", "retail_a", "LBL", "compliance_fine"),
        ("code_set", "retail_a", "OTIF", "compliance_fine"),
        ("customer", "C9001", "SHORT", "shortage"),
        ("parent", "P9000", "BILLBACK", "trade_promotion"),
    ]


def test_shipped_settings_values():
    ruleset = load_rules(DEFAULT_RULES_DIR)
    values = {setting.key: setting.value for setting in ruleset.settings}

    assert values == {
        "reporting_currency": "USD",
        "discount_payment_date": "payment_date",
        "discount_grace_days": "0",
        "match_amount_tolerance": "0.00",
        "treat_short_payment_as_partial": "false",
        "deadline_warning_days": "7",
        "dispute_handling_cost": "25.00",
        "four_eyes_amount": "5000.00",
    }
    assert ruleset.setting("four_eyes_amount") == "5000.00"


def test_tables_row_counts(rules_dir: Path, warehouse):
    write_rule_tables(warehouse, load_rules(rules_dir))
    counts = {
        table: warehouse.execute(f"select count(*) from rules.{table}").fetchone()[0]
        for table in EXPECTED_COLUMNS
    }

    assert counts == {
        "reason_codes": 636,
        "category_policies": 10,
        "tolerances": 5,
        "dispute_windows": 6,
        "routing": 8,
        "settings": 8,
        "ruleset": 1,
    }


def test_tables_columns_and_types(rules_dir: Path, warehouse):
    write_rule_tables(warehouse, load_rules(rules_dir))

    for table, columns in EXPECTED_COLUMNS.items():
        described = warehouse.execute(f"describe rules.{table}").fetchall()
        assert [(row[0], row[1]) for row in described] == columns, table


def test_tables_exact_values(rules_dir: Path, warehouse):
    ruleset = load_rules(rules_dir)
    write_rule_tables(warehouse, ruleset)

    tolerance = warehouse.execute(
        "select scope_type, scope_id, category, max_amount, max_percent "
        "from rules.tolerances where rule_id = 'tol-default'"
    ).fetchone()
    assert tolerance == ("default", None, None, Decimal("25.00"), Decimal("0.5000"))
    routing = warehouse.execute(
        "select min_amount, max_amount, owner, team, priority "
        "from rules.routing where rule_id = 'rt-default-large'"
    ).fetchone()
    assert routing == (Decimal("5000.00"), None, "ar-lead", "AR Deductions", 10)
    policy = warehouse.execute(
        "select allowed, evidence_required, default_validity "
        "from rules.category_policies where category = 'compliance_fine'"
    ).fetchone()
    assert policy == (False, "none", "invalid")
    window = warehouse.execute(
        "select window_days from rules.dispute_windows where rule_id = 'dw-default'"
    ).fetchone()
    assert window == (30,)
    ruleset_row = warehouse.execute(
        "select content_hash, rules_dir, file_count from rules.ruleset"
    ).fetchone()
    assert ruleset_row == (ruleset.content_hash, str(rules_dir.resolve()), 6)


def test_tables_replaced_on_rewrite(rules_dir: Path, warehouse):
    ruleset = load_rules(rules_dir)
    write_rule_tables(warehouse, ruleset)
    write_rule_tables(warehouse, ruleset)

    count = warehouse.execute("select count(*) from rules.reason_codes").fetchone()[0]
    assert count == 636
    assert warehouse.execute("select count(*) from rules.ruleset").fetchone()[0] == 1


def test_content_hash_definition(rules_dir: Path):
    ruleset = load_rules(rules_dir)
    digest = hashlib.sha256()
    for name in sorted(RULE_FILES):
        data = (rules_dir / name).read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode() + data)

    assert ruleset.content_hash == digest.hexdigest()
    assert ruleset.file_count == 6


def test_content_hash_changes_with_bytes(rules_dir: Path):
    before = load_rules(rules_dir).content_hash
    replace_in(rules_dir / "dispute_windows.yaml", "window_days: 30", "window_days: 31")
    after = load_rules(rules_dir).content_hash

    assert before != after
    assert content_hash({"a.yaml": b"x"}) != content_hash({"b.yaml": b"x"})
    assert content_hash({"a.yaml": b"xy"}) != content_hash({"a.yaml": b"x", "y": b""})


def test_broken_file_names_file_rule_and_field(rules_dir: Path):
    replace_in(rules_dir / "tolerances.yaml", "max_amount: 25.00", "max_amount: lots")
    replace_in(rules_dir / "reason_codes.yaml", "category: shortage", "category: shortfall")
    replace_in(
        rules_dir / "categories.yaml", "    evidence_required: price_list\n", ""
    )

    with pytest.raises(RulesError) as error:
        load_rules(rules_dir)

    texts = issue_texts(error)
    assert len(texts) == 3
    assert texts[0] == (
        f"{rules_dir / 'categories.yaml'}, rule cat-pricing, field evidence_required: is missing"
    )
    assert texts[1].startswith(
        f"{rules_dir / 'reason_codes.yaml'}, rule rc-shortage, field category: must be one of "
    )
    assert texts[1].endswith("found 'shortfall'")
    assert texts[2].startswith(
        f"{rules_dir / 'tolerances.yaml'}, rule tol-default, field max_amount: must be an amount"
    )
    assert "3 problems in the rule files:" in str(error.value)


def test_issue_fields_are_structured(rules_dir: Path):
    replace_in(rules_dir / "routing.yaml", "priority: 100", "priority: first")

    with pytest.raises(RulesError) as error:
        load_rules(rules_dir)

    issue = error.value.issues[0]
    assert issue.file == str(rules_dir / "routing.yaml")
    assert issue.rule_id == "rt-default"
    assert issue.field == "priority"
    assert len(error.value.issues) == 1


@pytest.mark.parametrize(
    ("file_name", "old", "new", "expected"),
    [
        (
            "reason_codes.yaml", '"04", "05"', '04, "05"',
            "rule rc-damage, field codes[0]: must be a reason code: text of 1 to 64 "
            "characters without spaces at either end (put numbers such as 0010 in "
            "quotes); found 4",
        ),
        (
            "reason_codes.yaml", '"OTIF", "LBL"', '"OTIF", "LBL", "otif"',
            "rule rc-retail-a-compliance, field codes: code 'otif' is already mapped "
            "by rule rc-retail-a-compliance in scope code_set retail_a",
        ),
        (
            "tolerances.yaml", "max_amount: 25.00", "max_amount: 25.001",
            "rule tol-default, field max_amount: has more than 2 decimals; found 25.001",
        ),
        (
            "tolerances.yaml", "max_percent: 0.5\n", "max_percent: 0.5\n    scope_id: X1\n",
            "rule tol-default, field scope_id: must be left out when scope_type is "
            "default; found 'X1'",
        ),
        (
            "dispute_windows.yaml", '    scope_id: "P9000"\n', "",
            "rule dw-parent-p9000, field scope_id: is missing",
        ),
        (
            "routing.yaml", "min_amount: 1000.00", "min_amount: 1000.00\n    max_amount: 500",
            "rule rt-customer-c9001-large, field max_amount: must be greater than "
            "min_amount 1000.00; found 500",
        ),
        (
            "routing.yaml", "    team: Pricing\n", "    team: Pricing\n    colour: red\n",
            "rule rt-default-pricing, field colour: is not a known field; known fields: "
            "category, description, id, max_amount, min_amount, owner, priority, "
            "scope_id, scope_type, team",
        ),
        (
            "tolerances.yaml", "    max_amount: 10.00\n", "",
            "rule tol-customer-c9001: needs at least one of max_amount or max_percent",
        ),
        (
            "settings.yaml", "value: 5000.00", "value: -1",
            "rule four_eyes_amount, field value: must be an amount of 0 or more with at "
            "most 2 decimals, such as 250.00; found -1",
        ),
        (
            "settings.yaml", "value: payment_date", "value: paid_date",
            "rule discount_payment_date, field value: must be one of payment_date, "
            "received_date; found 'paid_date'",
        ),
        (
            "dispute_windows.yaml", "id: dw-default-shortage", "id: dw-default",
            "rule dw-default, field id: is used by more than one rule in this file",
        ),
    ],
)
def test_invalid_value_reported(rules_dir: Path, file_name, old, new, expected):
    replace_in(rules_dir / file_name, old, new)

    with pytest.raises(RulesError) as error:
        load_rules(rules_dir)

    assert issue_texts(error) == [f"{rules_dir / file_name}, {expected}"]


def test_missing_fallback_rule_reported(rules_dir: Path):
    replace_in(rules_dir / "routing.yaml", "priority: 100", "priority: 100\n    max_amount: 10")

    with pytest.raises(RulesError) as error:
        load_rules(rules_dir)

    assert issue_texts(error) == [
        f"{rules_dir / 'routing.yaml'}, field scope_type: no fallback rule; add one with "
        "scope_type default, no category and no amount band so every deduction has an owner"
    ]


def test_overlapping_bands_reported(rules_dir: Path):
    replace_in(rules_dir / "routing.yaml", "priority: 10\n", "priority: 100\n")

    with pytest.raises(RulesError) as error:
        load_rules(rules_dir)

    assert issue_texts(error) == [
        f"{rules_dir / 'routing.yaml'}, rule rt-default-large, field min_amount: amount band "
        "overlaps rule rt-default with the same scope, category and priority; change a "
        "band or a priority"
    ]


def test_missing_category_policy_reported(rules_dir: Path):
    text = (rules_dir / "categories.yaml").read_text(encoding="utf-8")
    start = text.index("  - id: cat-tax")
    end = text.index("  - id: cat-unidentified")
    (rules_dir / "categories.yaml").write_text(text[:start] + text[end:], encoding="utf-8")

    with pytest.raises(RulesError) as error:
        load_rules(rules_dir)

    assert issue_texts(error) == [
        f"{rules_dir / 'categories.yaml'}, field category: no policy for category tax"
    ]


def test_yaml_syntax_error_reported(rules_dir: Path):
    replace_in(rules_dir / "routing.yaml", "    team: Pricing\n", "    team: [Pricing\n")

    with pytest.raises(RulesError) as error:
        load_rules(rules_dir)

    assert len(error.value.issues) == 1
    assert issue_texts(error)[0].startswith(
        f"{rules_dir / 'routing.yaml'}: is not valid YAML: line "
    )


def test_duplicate_yaml_key_reported(rules_dir: Path):
    replace_in(rules_dir / "settings.yaml", "    value: 0.00\n", "    value: 0.00\n    value: 1\n")

    with pytest.raises(RulesError) as error:
        load_rules(rules_dir)

    assert issue_texts(error) == [
        f"{rules_dir / 'settings.yaml'}: is not valid YAML: line 15, column 5: "
        "found the key 'value' twice"
    ]


def test_missing_file_and_bad_file_both_reported(rules_dir: Path):
    (rules_dir / "routing.yaml").unlink()
    (rules_dir / "settings.yaml").write_bytes(b"\xff\xfe not utf-8")

    with pytest.raises(RulesError) as error:
        load_rules(rules_dir)

    assert issue_texts(error) == [
        f"{rules_dir / 'routing.yaml'}: file not found",
        f"{rules_dir / 'settings.yaml'}: is not UTF-8 text (invalid start byte)",
    ]


def test_missing_folder_reported(tmp_path: Path):
    with pytest.raises(RulesError) as error:
        load_rules(tmp_path / "absent")

    assert issue_texts(error) == [f"{tmp_path / 'absent'}: rules folder not found"]


def test_hostile_text_lands_as_data(rules_dir: Path, warehouse):
    quoted = HOSTILE.replace("'", "''")
    replace_in(rules_dir / "reason_codes.yaml", '"OTIF", "LBL"', f"\"OTIF\", \"LBL\", '{quoted}'")
    replace_in(
        rules_dir / "categories.yaml",
        "description: Tax deductions are checked by an analyst against the tax on the invoice",
        f"description: '{quoted}'",
    )
    write_rule_tables(warehouse, load_rules(rules_dir))

    rows = warehouse.execute(
        "select rule_id, category from rules.reason_codes where reason_code = ?", [HOSTILE]
    ).fetchall()
    assert rows == [("rc-retail-a-compliance", "compliance_fine")]
    description = warehouse.execute(
        "select description from rules.category_policies where category = 'tax'"
    ).fetchone()[0]
    assert description == HOSTILE
    assert warehouse.execute("select count(*) from rules.reason_codes").fetchone()[0] == 637


def test_table_columns_match_row_classes():
    for table, (row_class, columns) in TABLES.items():
        if row_class is None:
            continue
        assert [field.name for field in fields(row_class)] == [c[0] for c in columns], table


def test_file_and_rule_issues_together(rules_dir: Path):
    replace_in(rules_dir / "categories.yaml", "category: tax", "category: freight")

    with pytest.raises(RulesError) as error:
        load_rules(rules_dir)

    assert issue_texts(error) == [
        f"{rules_dir / 'categories.yaml'}, field category: no policy for category tax",
        f"{rules_dir / 'categories.yaml'}, rule cat-tax, field category: category freight "
        "already has a policy in rule cat-freight",
    ]
