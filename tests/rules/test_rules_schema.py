"""The schema files in rules/schema match the Python definition, and YAML reading is exact."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from shortpay.rules.schema import (
    RULE_FILES,
    SCHEMAS,
    render_schema,
    schema_file_name,
    write_schemas,
)
from shortpay.rules.validate import check_document
from shortpay.rules.yaml_io import SCHEMA_LINE_PREFIX, dump_yaml, parse_yaml
from shortpay.settings import DEFAULT_RULES_DIR


@pytest.mark.parametrize("rule_file", RULE_FILES)
def test_schema_file_up_to_date(rule_file: str):
    path = DEFAULT_RULES_DIR / "schema" / schema_file_name(rule_file)

    assert path.read_text(encoding="utf-8") == render_schema(rule_file), (
        f"{path} is out of date; run `shortpay rules schema`"
    )


@pytest.mark.parametrize("rule_file", RULE_FILES)
def test_schema_is_valid_draft7(rule_file: str):
    jsonschema.Draft7Validator.check_schema(SCHEMAS[rule_file])


@pytest.mark.parametrize("rule_file", RULE_FILES)
def test_yaml_names_its_schema(rule_file: str):
    first_line = (DEFAULT_RULES_DIR / rule_file).read_text(encoding="utf-8").splitlines()[0]

    assert first_line == f"{SCHEMA_LINE_PREFIX}schema/{schema_file_name(rule_file)}"


@pytest.mark.parametrize("rule_file", RULE_FILES)
def test_shipped_file_round_trips(rule_file: str):
    document = parse_yaml((DEFAULT_RULES_DIR / rule_file).read_text(encoding="utf-8"))

    dumped = dump_yaml(document)

    assert parse_yaml(dumped) == document
    assert check_document(rule_file, parse_yaml(dumped)) == []


@pytest.mark.parametrize("rule_file", RULE_FILES)
def test_schema_accepts_shipped_as_json(rule_file: str):
    # Editors read the YAML numbers as floats, and the schema files must accept them too.
    schema_path = DEFAULT_RULES_DIR / "schema" / schema_file_name(rule_file)
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    document = json.loads(json.dumps(
        parse_yaml((DEFAULT_RULES_DIR / rule_file).read_text(encoding="utf-8")), default=float
    ))

    assert list(jsonschema.Draft7Validator(schema).iter_errors(document)) == []


def test_yaml_reads_decimals_exactly():
    document = parse_yaml("amount: 0.10\npercent: 12.3456\ncount: 7\ncode: '01'\n")

    assert document == {
        "amount": Decimal("0.10"), "percent": Decimal("12.3456"), "count": 7, "code": "01",
    }
    assert isinstance(document["amount"], Decimal)
    assert parse_yaml("amount: .inf") == {"amount": ".inf"}


def test_yaml_dump_quotes_ambiguous_text():
    text = dump_yaml({"codes": ["NO", "09", "ZZ"], "scope_id": "0010", "team": "AR"})

    assert text == 'codes: ["NO", "09", "ZZ"]\nscope_id: "0010"\nteam: AR\n'


def test_yaml_dump_writes_plain_numbers():
    """Whole numbers and exponents are written as a person would type them, untagged."""
    values = {"percent": Decimal("5"), "limit": Decimal("1E+5"), "amount": Decimal("25.00")}

    text = dump_yaml(values)

    assert text == "percent: 5\nlimit: 100000\namount: 25.00\n"
    assert parse_yaml(text) == {"percent": 5, "limit": 100000, "amount": Decimal("25.00")}


def test_write_schemas_matches_files(tmp_path: Path):
    written = write_schemas(tmp_path)

    assert sorted(path.name for path in written) == sorted(
        schema_file_name(name) for name in RULE_FILES
    )
    for path in written:
        assert path.read_bytes() == (DEFAULT_RULES_DIR / "schema" / path.name).read_bytes()
