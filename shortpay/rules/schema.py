"""JSON Schema of every rule file, defined once.

The loader validates with these dictionaries, and ``shortpay rules schema``
writes them to ``rules/schema/*.schema.json`` for editors that read the
``# yaml-language-server: $schema=...`` line at the top of each YAML file.
The schemas use JSON Schema draft 7, which most editors support. The loader
shows the ``errorMessage`` annotation in place of the generic message of the
validator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DRAFT = "http://json-schema.org/draft-07/schema#"

CATEGORIES = (
    "trade_promotion",
    "pricing",
    "shortage",
    "damage",
    "returns",
    "compliance_fine",
    "freight",
    "early_pay_discount",
    "tax",
    "unidentified",
)
EVIDENCE_TYPES = ("promotion", "proof_of_delivery", "price_list", "payment_terms", "none")
VALIDITIES = ("valid", "invalid", "needs_review")
SCOPE_TYPES = ("default", "parent", "customer")
REASON_CODE_SCOPE_TYPES = ("default", "code_set", "parent", "customer")

# Upper bounds of the table columns: DECIMAL(18, 2) amounts, DECIMAL(9, 4) percents.
AMOUNT_LIMIT = 10**16
AMOUNT_DECIMALS = 2
PERCENT_DECIMALS = 4

RULE_FILES = (
    "reason_codes.yaml",
    "categories.yaml",
    "tolerances.yaml",
    "dispute_windows.yaml",
    "routing.yaml",
    "settings.yaml",
)


def _text(max_length: int, subject: str) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_length,
        "pattern": r"^\S(.*\S)?$",
        "errorMessage": f"must be {subject}: text of 1 to {max_length} characters "
        "without spaces at either end (put numbers such as 0010 in quotes)",
    }


RULE_ID = {
    "type": "string",
    "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
    "errorMessage": "must be an id of 1 to 64 letters, digits, '-', '_' or '.'",
}
DESCRIPTION = {
    "type": "string",
    "minLength": 1,
    "maxLength": 500,
    "pattern": r"\S",
    "errorMessage": "must be a description an analyst can read (1 to 500 characters)",
}
AMOUNT = {
    "type": "number",
    "minimum": 0,
    "exclusiveMaximum": AMOUNT_LIMIT,
    "errorMessage": "must be an amount of 0 or more with at most 2 decimals, such as 250.00",
}
PERCENT = {
    "type": "number",
    "minimum": 0,
    "maximum": 100,
    "errorMessage": "must be a percent from 0 to 100 with at most 4 decimals, such as 2.5",
}
OPTIONAL_CATEGORY = {
    "enum": [*CATEGORIES, None],
    "errorMessage": "must be one of " + ", ".join(CATEGORIES) + ", or empty for every category",
}


def _enum(values: tuple[str, ...]) -> dict[str, Any]:
    return {"enum": list(values), "errorMessage": "must be one of " + ", ".join(values)}


def _scope_properties(scope_types: tuple[str, ...]) -> dict[str, Any]:
    return {
        "scope_type": _enum(scope_types),
        "scope_id": {
            "type": ["string", "null"],
            "minLength": 1,
            "maxLength": 64,
            "pattern": r"^\S(.*\S)?$",
            "errorMessage": "must be the customer id, parent customer id or code set name "
            "as text (put ids such as 0010 in quotes)",
        },
    }


# scope_id names the customer, parent or code set, and stays empty for the default scope.
SCOPE_ID_RULE = {
    "if": {"properties": {"scope_type": {"const": "default"}}},
    "then": {
        "properties": {
            "scope_id": {
                "type": "null",
                "errorMessage": "must be left out when scope_type is default",
            }
        }
    },
    "else": {
        "required": ["scope_id"],
        "properties": {
            "scope_id": {
                "type": "string",
                "errorMessage": "is required when scope_type is customer, parent or code_set",
            }
        },
    },
}


def _rule(
    properties: dict[str, Any],
    required: list[str],
    *,
    title: str,
    scoped: bool = False,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "title": title,
        "type": "object",
        "required": ["id", *required, "description"],
        "additionalProperties": False,
        "properties": {"id": RULE_ID, **properties, "description": DESCRIPTION},
    }
    if scoped:
        rule["allOf"] = [SCOPE_ID_RULE]
    if extra:
        rule.update(extra)
    return rule


def _rule_file(file_name: str, title: str, description: str, rule: dict[str, Any]) -> dict:
    return {
        "$schema": DRAFT,
        "title": title,
        "description": description,
        "type": "object",
        "required": ["rules"],
        "additionalProperties": False,
        "properties": {"rules": {"type": "array", "items": rule}},
    }


REASON_CODE_RULE = _rule(
    {
        **_scope_properties(REASON_CODE_SCOPE_TYPES),
        "category": _enum(CATEGORIES),
        "codes": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": _text(64, "a reason code"),
            "errorMessage": "must be a list of reason codes, such as ['01', '04']",
        },
    },
    ["scope_type", "category", "codes"],
    title="Reason codes that map to one category in one scope",
    scoped=True,
)

CATEGORY_RULE = _rule(
    {
        "category": _enum(CATEGORIES),
        "allowed": {"type": "boolean", "errorMessage": "must be true or false"},
        "evidence_required": _enum(EVIDENCE_TYPES),
        "default_validity": _enum(VALIDITIES),
    },
    ["category", "allowed", "evidence_required", "default_validity"],
    title="Policy for one deduction category",
)

TOLERANCE_RULE = _rule(
    {
        **_scope_properties(SCOPE_TYPES),
        "category": OPTIONAL_CATEGORY,
        "max_amount": AMOUNT,
        "max_percent": PERCENT,
    },
    ["scope_type"],
    title="Automatic write-off limit",
    scoped=True,
    extra={"anyOf": [{"required": ["max_amount"]}, {"required": ["max_percent"]}]},
)

DISPUTE_WINDOW_RULE = _rule(
    {
        **_scope_properties(SCOPE_TYPES),
        "category": OPTIONAL_CATEGORY,
        "window_days": {
            "type": "integer",
            "minimum": 1,
            "maximum": 3650,
            "errorMessage": "must be a whole number of days from 1 to 3650",
        },
    },
    ["scope_type", "window_days"],
    title="Days allowed to dispute a deduction",
    scoped=True,
)

ROUTING_RULE = _rule(
    {
        **_scope_properties(SCOPE_TYPES),
        "category": OPTIONAL_CATEGORY,
        "min_amount": AMOUNT,
        "max_amount": AMOUNT,
        "owner": _text(100, "the owner's name or user id"),
        "team": _text(100, "the team name"),
        "priority": {
            "type": "integer",
            "minimum": 1,
            "maximum": 1000,
            "errorMessage": "must be a whole number from 1 (first) to 1000",
        },
    },
    ["scope_type", "owner", "team", "priority"],
    title="Owner and team for deductions of a customer, category and amount band",
    scoped=True,
)


def _setting(value_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["value", "description"],
        "additionalProperties": False,
        "properties": {"value": value_schema, "description": DESCRIPTION},
    }


def _whole_days(unit: str) -> dict[str, Any]:
    return {
        "type": "integer",
        "minimum": 0,
        "maximum": 3650,
        "errorMessage": f"must be a whole number of {unit} from 0 to 3650",
    }


SETTING_VALUES: dict[str, dict[str, Any]] = {
    "reporting_currency": {
        "type": "string",
        "pattern": "^[A-Z]{3}$",
        "errorMessage": "must be an ISO 4217 currency code such as USD",
    },
    "discount_payment_date": _enum(("payment_date", "received_date")),
    "discount_grace_days": _whole_days("days"),
    "match_amount_tolerance": AMOUNT,
    "treat_short_payment_as_partial": {"type": "boolean", "errorMessage": "must be true or false"},
    "deadline_warning_days": _whole_days("days"),
    "dispute_handling_cost": AMOUNT,
    "four_eyes_amount": AMOUNT,
}

SETTINGS_SCHEMA = {
    "$schema": DRAFT,
    "title": "Shortpay global settings",
    "description": "One entry per setting, each with a value and a description.",
    "type": "object",
    "required": ["settings"],
    "additionalProperties": False,
    "properties": {
        "settings": {
            "type": "object",
            "required": list(SETTING_VALUES),
            "additionalProperties": False,
            "properties": {key: _setting(value) for key, value in SETTING_VALUES.items()},
        }
    },
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "reason_codes.yaml": _rule_file(
        "reason_codes.yaml",
        "Shortpay reason code mapping",
        "Maps the reason codes customers send to deduction categories, by default, "
        "per reason code set, per parent customer and per customer.",
        REASON_CODE_RULE,
    ),
    "categories.yaml": _rule_file(
        "categories.yaml",
        "Shortpay category policies",
        "Whether each deduction category is allowed, which evidence it needs and its "
        "validity when no evidence decides.",
        CATEGORY_RULE,
    ),
    "tolerances.yaml": _rule_file(
        "tolerances.yaml",
        "Shortpay write-off tolerances",
        "Deductions at or below these limits are approved and written off automatically.",
        TOLERANCE_RULE,
    ),
    "dispute_windows.yaml": _rule_file(
        "dispute_windows.yaml",
        "Shortpay dispute windows",
        "Days after a deduction opens within which it can still be disputed.",
        DISPUTE_WINDOW_RULE,
    ),
    "routing.yaml": _rule_file(
        "routing.yaml",
        "Shortpay routing",
        "Who works on a deduction, by customer, category and amount band.",
        ROUTING_RULE,
    ),
    "settings.yaml": SETTINGS_SCHEMA,
}


def schema_file_name(rule_file: str) -> str:
    """Return the schema file name for a rule file, such as ``routing.schema.json``."""
    return rule_file.removesuffix(".yaml") + ".schema.json"


def render_schema(rule_file: str) -> str:
    """Render one schema as the pretty-printed JSON text stored in ``rules/schema/``."""
    return json.dumps(SCHEMAS[rule_file], indent=2, ensure_ascii=False) + "\n"


def write_schemas(out_dir: Path) -> list[Path]:
    """Write every schema into ``out_dir`` and return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for rule_file in RULE_FILES:
        path = out_dir / schema_file_name(rule_file)
        path.write_text(render_schema(rule_file), encoding="utf-8")
        written.append(path)
    return written
