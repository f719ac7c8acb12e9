"""Validation of parsed rule documents: JSON Schema first, then checks across rows.

Every problem becomes a ``RuleIssue`` naming the file, the rule id and the
field, and all problems of a document are collected before the loader raises.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import jsonschema

from shortpay.rules.schema import (
    AMOUNT_DECIMALS,
    CATEGORIES,
    PERCENT_DECIMALS,
    SCHEMAS,
    SETTING_VALUES,
)

AMOUNT_FIELDS = ("max_amount", "min_amount")
AMOUNT_SETTINGS = tuple(
    key for key, schema in SETTING_VALUES.items() if schema.get("type") == "number"
)


@dataclass(frozen=True)
class RuleIssue:
    """One validation problem, located by file, rule id and field."""

    file: str
    rule_id: str | None
    field: str | None
    message: str

    def sort_key(self) -> tuple[str, str, str, str]:
        """Return a key that orders issues by file, rule id, field and message."""
        return (self.file, self.rule_id or "", self.field or "", self.message)

    def __str__(self) -> str:
        location = [self.file]
        if self.rule_id is not None:
            location.append(f"rule {self.rule_id}")
        if self.field is not None:
            location.append(f"field {self.field}")
        return ": ".join([", ".join(location), self.message])


class RulesError(ValueError):
    """Error for invalid rule files, with every problem found in ``issues``."""

    def __init__(self, issues: Iterable[RuleIssue]):
        self.issues = sorted(set(issues), key=RuleIssue.sort_key)
        count = len(self.issues)
        lines = [f"{count} problem{'s' if count != 1 else ''} in the rule files:"]
        lines += [f"  {issue}" for issue in self.issues]
        super().__init__("\n".join(lines))


def check_document(file_name: str, document: Any, label: str | None = None) -> list[RuleIssue]:
    """Validate one parsed rule file and return its problems.

    ``label`` is the file name shown in messages, by default ``file_name``.
    """
    label = label or file_name
    issues, broken_rows = _schema_issues(file_name, document, label)
    if issues and not isinstance(document, dict):
        return issues
    if file_name == "settings.yaml":
        issues += _settings_issues(document, label)
        return issues
    rules = document.get("rules") if isinstance(document, dict) else None
    if not isinstance(rules, list):
        return issues
    good_rows = [
        rule for index, rule in enumerate(rules) if index not in broken_rows
    ]
    issues += _duplicate_id_issues(rules, label)
    issues += _scale_issues(good_rows, label)
    checks = {
        "reason_codes.yaml": _reason_code_issues,
        "categories.yaml": _category_issues,
        "tolerances.yaml": _tolerance_issues,
        "dispute_windows.yaml": _dispute_window_issues,
        "routing.yaml": _routing_issues,
    }
    row_issues = list(checks[file_name](good_rows, label))
    if broken_rows:
        # A rule that failed the schema may be the fallback or policy reported as
        # missing, so file-level findings wait until every row passes.
        row_issues = [issue for issue in row_issues if issue.rule_id is not None]
    return issues + row_issues


# --- JSON Schema ---------------------------------------------------------------


def _schema_issues(file_name: str, document: Any, label: str) -> tuple[list[RuleIssue], set]:
    validator = jsonschema.Draft7Validator(SCHEMAS[file_name])
    issues = []
    broken_rows: set[int] = set()
    for error in validator.iter_errors(document):
        path = list(error.absolute_path)
        rule_id, field_path = _locate(file_name, document, path)
        if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
            broken_rows.add(path[1])
        field, message = _describe(error, field_path)
        issues.append(RuleIssue(label, rule_id, field, message))
    return sorted(set(issues), key=RuleIssue.sort_key), broken_rows


def _locate(file_name: str, document: Any, path: list) -> tuple[str | None, list]:
    """Split a JSON path into the rule id (or setting key) and the field path."""
    if file_name == "settings.yaml":
        if len(path) >= 2 and path[0] == "settings":
            return str(path[1]), path[2:]
        return None, path[1:] if path[:1] == ["settings"] else path
    if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
        rule = document["rules"][path[1]]
        rule_id = rule.get("id") if isinstance(rule, dict) else None
        if not isinstance(rule_id, str) or not rule_id.strip():
            rule_id = f"#{path[1] + 1} (no valid id)"
        return rule_id, path[2:]
    return None, path


def _format_path(path: Iterable) -> str | None:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += f".{part}"
        else:
            text = str(part)
    return text or None


def _format_value(value: Any) -> str:
    text = str(value) if isinstance(value, Decimal | bool | int) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(error: jsonschema.ValidationError, field_path: list) -> tuple[str | None, str]:
    field = _format_path(field_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return _format_path([*field_path, missing[0]]), "is missing"
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed), key=str)
        name = _format_path([*field_path, str(unknown[0])])
        return name, "is not a known field; known fields: " + ", ".join(allowed)
    if error.validator == "anyOf" and all("required" in s for s in error.validator_value):
        names = [s["required"][0] for s in error.validator_value]
        return field, "needs at least one of " + " or ".join(names)
    if error.validator == "uniqueItems":
        return field, "lists the same value twice"
    if error.validator == "minItems":
        return field, "must not be empty"
    if error.validator == "type" and error.validator_value == "object":
        return field, f"must be a mapping of fields, found {_format_value(error.instance)}"
    if error.validator == "type" and error.validator_value == "array":
        return field, f"must be a list, found {_format_value(error.instance)}"
    message = schema.get("errorMessage", error.message)
    return field, f"{message}; found {_format_value(error.instance)}"


# --- checks across rows ----------------------------------------------------------


def _duplicate_id_issues(rules: list, label: str) -> Iterator[RuleIssue]:
    seen: set[str] = set()
    for rule in rules:
        rule_id = rule.get("id") if isinstance(rule, dict) else None
        if not isinstance(rule_id, str):
            continue
        if rule_id in seen:
            yield RuleIssue(label, rule_id, "id", "is used by more than one rule in this file")
        seen.add(rule_id)


def _decimal_places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _scale_issues(rules: list[dict], label: str) -> Iterator[RuleIssue]:
    for rule in rules:
        for field in AMOUNT_FIELDS:
            value = rule.get(field)
            if isinstance(value, Decimal) and _decimal_places(value) > AMOUNT_DECIMALS:
                yield RuleIssue(
                    label, rule["id"], field, f"has more than 2 decimals; found {value}"
                )
        percent = rule.get("max_percent")
        if isinstance(percent, Decimal) and _decimal_places(percent) > PERCENT_DECIMALS:
            yield RuleIssue(
                label, rule["id"], "max_percent", f"has more than 4 decimals; found {percent}"
            )


def _scope_key(rule: dict) -> tuple[str, str | None]:
    return rule["scope_type"], rule.get("scope_id")


def _scope_text(rule: dict) -> str:
    scope_type, scope_id = _scope_key(rule)
    return scope_type if scope_id is None else f"{scope_type} {scope_id}"


def _reason_code_issues(rules: list[dict], label: str) -> Iterator[RuleIssue]:
    # Codes are compared without case, like the precedence query in docs/rules.md does.
    owner: dict[tuple, str] = {}
    for rule in rules:
        for code in rule["codes"]:
            key = (*_scope_key(rule), code.upper())
            if key in owner:
                yield RuleIssue(
                    label,
                    rule["id"],
                    "codes",
                    f"code {code!r} is already mapped by rule {owner[key]} "
                    f"in scope {_scope_text(rule)}",
                )
            else:
                owner[key] = rule["id"]


def _category_issues(rules: list[dict], label: str) -> Iterator[RuleIssue]:
    owner: dict[str, str] = {}
    for rule in rules:
        category = rule["category"]
        if category in owner:
            yield RuleIssue(
                label, rule["id"], "category",
                f"category {category} already has a policy in rule {owner[category]}",
            )
        owner.setdefault(category, rule["id"])
    for category in CATEGORIES:
        if category not in owner:
            yield RuleIssue(label, None, "category", f"no policy for category {category}")


def _duplicate_scope_issues(rules: list[dict], label: str) -> Iterator[RuleIssue]:
    owner: dict[tuple, str] = {}
    for rule in rules:
        key = (*_scope_key(rule), rule.get("category"))
        if key in owner:
            category = rule.get("category") or "every category"
            yield RuleIssue(
                label, rule["id"], "scope_id" if rule.get("scope_id") else "scope_type",
                f"rule {owner[key]} already covers scope {_scope_text(rule)} and {category}",
            )
        owner.setdefault(key, rule["id"])


def _tolerance_issues(rules: list[dict], label: str) -> Iterator[RuleIssue]:
    yield from _duplicate_scope_issues(rules, label)


def _dispute_window_issues(rules: list[dict], label: str) -> Iterator[RuleIssue]:
    yield from _duplicate_scope_issues(rules, label)
    if not any(r["scope_type"] == "default" and r.get("category") is None for r in rules):
        yield RuleIssue(
            label, None, "scope_type",
            "no default rule for every category; add one with scope_type default "
            "and no category so every deduction gets a window",
        )


def _routing_issues(rules: list[dict], label: str) -> Iterator[RuleIssue]:
    bands: dict[tuple, list[dict]] = defaultdict(list)
    for rule in rules:
        low, high = rule.get("min_amount"), rule.get("max_amount")
        if low is not None and high is not None and low >= high:
            yield RuleIssue(
                label, rule["id"], "max_amount",
                f"must be greater than min_amount {low}; found {high}",
            )
            continue
        bands[(*_scope_key(rule), rule.get("category"), rule["priority"])].append(rule)
    for group in bands.values():
        yield from _overlap_issues(group, label)
    if not any(
        rule["scope_type"] == "default"
        and rule.get("category") is None
        and rule.get("min_amount") is None
        and rule.get("max_amount") is None
        for rule in rules
    ):
        yield RuleIssue(
            label, None, "scope_type",
            "no fallback rule; add one with scope_type default, no category and no "
            "amount band so every deduction has an owner",
        )


def _overlap_issues(group: list[dict], label: str) -> Iterator[RuleIssue]:
    """Report amount bands of the same scope, category and priority that overlap."""
    lowest, highest = Decimal("-1"), Decimal(10**17)

    def bounds(rule: dict) -> tuple[Decimal, Decimal]:
        low, high = rule.get("min_amount"), rule.get("max_amount")
        return (lowest if low is None else low, highest if high is None else high)

    ordered = sorted(group, key=bounds)
    for previous, current in zip(ordered, ordered[1:], strict=False):
        if bounds(current)[0] < bounds(previous)[1]:
            yield RuleIssue(
                label, current["id"], "min_amount",
                f"amount band overlaps rule {previous['id']} with the same scope, "
                "category and priority; change a band or a priority",
            )


def _settings_issues(document: Any, label: str) -> Iterator[RuleIssue]:
    settings = document.get("settings") if isinstance(document, dict) else None
    if not isinstance(settings, dict):
        return
    for key in AMOUNT_SETTINGS:
        entry = settings.get(key)
        value = entry.get("value") if isinstance(entry, dict) else None
        if isinstance(value, Decimal) and _decimal_places(value) > AMOUNT_DECIMALS:
            yield RuleIssue(label, key, "value", f"has more than 2 decimals; found {value}")
