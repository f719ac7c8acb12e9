"""Follow-up rules: cadence and contacts from ``rules/followups.yaml``.

The file has two lists of rules, ``cadences`` and ``contacts``. Each rule has
an ``id`` and a ``description`` and applies to one scope: a rule with
``customer_id`` to that customer, a rule with ``parent_customer_id`` to the
children of that parent, and a rule with neither to everyone. Each list needs
exactly one default rule. For a given customer the fields of the default rule
are overridden by the parent rule, then by the customer rule, field by field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jsonschema
import yaml

RULES_FILE_NAME = "followups.yaml"
STEPS = ("first_notice", "reminder", "escalation")
LANGUAGES = ("en", "de", "fr")
TRIGGERS = ("invalid", "disputed")
RESOLVED_STATUSES = ("approved", "recovered", "written_off", "closed")

_ADDRESS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["email"],
    "properties": {
        "email": {"type": "string", "pattern": r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$"},
        "name": {"type": "string"},
    },
}
_SCOPE = {
    "id": {"type": "string", "minLength": 1},
    "description": {"type": "string", "minLength": 1},
    "customer_id": {"type": "string", "minLength": 1},
    "parent_customer_id": {"type": "string", "minLength": 1},
}
_CADENCE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "description"],
    "properties": {
        **_SCOPE,
        "trigger": {"enum": list(TRIGGERS)},
        "reminder_days": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": 365},
            "maxItems": 12,
        },
        "escalate_after_reminders": {"type": "integer", "minimum": 0, "maximum": 12},
        "escalation_days": {"type": "integer", "minimum": 1, "maximum": 365},
        "stop_statuses": {
            "type": "array",
            "items": {"enum": ["open", "disputed", *RESOLVED_STATUSES]},
            "uniqueItems": True,
        },
        "stop_after_deadline": {"type": "boolean"},
    },
}
_CONTACT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "description"],
    "properties": {
        **_SCOPE,
        "language": {"enum": list(LANGUAGES)},
        "country_languages": {
            "type": "object",
            "propertyNames": {"pattern": "^[A-Z]{2}$"},
            "additionalProperties": {"enum": list(LANGUAGES)},
        },
        "sender": _ADDRESS,
        "reply_to": _ADDRESS,
        "to": _ADDRESS,
        "escalation_to": _ADDRESS,
    },
}
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["cadences", "contacts"],
    "properties": {
        "cadences": {"type": "array", "minItems": 1, "items": _CADENCE},
        "contacts": {"type": "array", "minItems": 1, "items": _CONTACT},
    },
}
# Fields that a default rule must set, so every customer resolves to a full rule.
CADENCE_REQUIRED = (
    "trigger",
    "reminder_days",
    "escalate_after_reminders",
    "escalation_days",
    "stop_statuses",
    "stop_after_deadline",
)
CONTACT_REQUIRED = ("language", "sender")


class FollowupRulesError(ValueError):
    """Invalid follow-up rules. The message lists every problem with its file and field."""


@dataclass(frozen=True)
class Address:
    """An email address with an optional display name."""

    email: str
    name: str = ""


@dataclass(frozen=True)
class Cadence:
    """The resolved cadence for one customer."""

    rule_id: str
    trigger: str
    reminder_days: tuple[int, ...]
    escalate_after_reminders: int
    escalation_days: int
    stop_statuses: tuple[str, ...]
    stop_after_deadline: bool

    @property
    def reminder_count(self) -> int:
        """Number of reminders sent before the escalation (or before stopping)."""
        if self.escalate_after_reminders:
            return min(self.escalate_after_reminders, len(self.reminder_days))
        return len(self.reminder_days)

    def is_stopped(self, status: str, deadline: dt.date | None, as_of: dt.date) -> str | None:
        """Return why correspondence stops for a deduction, or None to go on."""
        if status in self.stop_statuses:
            return f"status is {status}"
        if self.stop_after_deadline and deadline is not None and as_of > deadline:
            return f"dispute deadline {deadline.isoformat()} has passed"
        return None


@dataclass(frozen=True)
class Contact:
    """The resolved contact settings for one customer."""

    rule_id: str
    language: str
    sender: Address
    reply_to: Address | None = None
    to: Address | None = None
    escalation_to: Address | None = None
    country_languages: dict[str, str] = field(default_factory=dict)

    def language_for(self, country: str | None, has_customer_language: bool) -> str:
        """Pick the language: a customer or parent rule first, then the country, then the default."""
        if not has_customer_language and country:
            return self.country_languages.get(country.strip().upper(), self.language)
        return self.language


@dataclass(frozen=True)
class FollowupRules:
    """Cadence and contact rules, resolved per customer on request."""

    path: Path
    cadences: tuple[dict[str, Any], ...]
    contacts: tuple[dict[str, Any], ...]

    def cadence_for(self, customer_id: str | None, parent_id: str | None) -> Cadence:
        """Merge default, parent and customer cadence rules for one customer."""
        merged, rule_id = _merge(self.cadences, customer_id, parent_id)
        return Cadence(
            rule_id=rule_id,
            trigger=merged["trigger"],
            reminder_days=tuple(merged["reminder_days"]),
            escalate_after_reminders=merged["escalate_after_reminders"],
            escalation_days=merged["escalation_days"],
            stop_statuses=tuple(merged["stop_statuses"]),
            stop_after_deadline=merged["stop_after_deadline"],
        )

    def contact_for(
        self, customer_id: str | None, parent_id: str | None, country: str | None = None
    ) -> Contact:
        """Merge default, parent and customer contact rules for one customer."""
        merged, rule_id = _merge(self.contacts, customer_id, parent_id)
        specific = [r for r in self.contacts if _scope_of(r) != ("default", None)]
        has_customer_language = any(
            "language" in rule and _applies(rule, customer_id, parent_id) for rule in specific
        )
        contact = Contact(
            rule_id=rule_id,
            language=merged["language"],
            sender=_address(merged["sender"]),
            reply_to=_address(merged.get("reply_to")),
            to=_address(merged.get("to")),
            escalation_to=_address(merged.get("escalation_to")),
            country_languages=dict(merged.get("country_languages", {})),
        )
        return replace(contact, language=contact.language_for(country, has_customer_language))


def load_followup_rules(rules_dir: Path) -> FollowupRules:
    """Read and validate ``followups.yaml`` of a rules folder.

    Raises FollowupRulesError listing every problem, each with the file, the
    rule id when known and the field.
    """
    path = Path(rules_dir) / RULES_FILE_NAME
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise FollowupRulesError(f"{path}: file not found") from error
    except yaml.YAMLError as error:
        raise FollowupRulesError(f"{path}: invalid YAML: {error}") from error
    errors = _schema_errors(path, document)
    if not errors:
        errors = _scope_errors(path, document)
    if errors:
        raise FollowupRulesError("\n".join(errors))
    return FollowupRules(
        path=path,
        cadences=tuple(document["cadences"]),
        contacts=tuple(document["contacts"]),
    )


def _schema_errors(path: Path, document: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        errors.append(f"{path}: {_locate(document, error.absolute_path)}: {error.message}")
    return errors


def _locate(document: Any, location: Any) -> str:
    """Name a position as ``cadences[rule-id].field``, falling back to the index."""
    parts = list(location)
    if not parts:
        return "(top level)"
    text = str(parts[0])
    if len(parts) > 1 and isinstance(parts[1], int):
        rule = document[parts[0]][parts[1]]
        rule_id = rule.get("id") if isinstance(rule, dict) else None
        text += f"[{rule_id}]" if isinstance(rule_id, str) else f"[{parts[1]}]"
        parts = parts[2:]
    else:
        parts = parts[1:]
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _scope_errors(path: Path, document: dict[str, Any]) -> list[str]:
    errors = []
    required = {"cadences": CADENCE_REQUIRED, "contacts": CONTACT_REQUIRED}
    for section, fields in required.items():
        seen_ids: set[str] = set()
        seen_scopes: dict[tuple[str, str | None], str] = {}
        for rule in document[section]:
            where = f"{path}: {section}[{rule['id']}]"
            if rule["id"] in seen_ids:
                errors.append(f"{where}.id: duplicate rule id")
            seen_ids.add(rule["id"])
            if "customer_id" in rule and "parent_customer_id" in rule:
                errors.append(f"{where}: set customer_id or parent_customer_id, not both")
                continue
            scope = _scope_of(rule)
            if scope in seen_scopes:
                errors.append(f"{where}: same scope as rule {seen_scopes[scope]}")
            seen_scopes[scope] = rule["id"]
            if scope == ("default", None):
                errors += [f"{where}.{name}: missing in the default rule" for name in fields
                           if name not in rule]
        if ("default", None) not in seen_scopes:
            errors.append(f"{path}: {section}: missing a default rule (one without "
                          "customer_id or parent_customer_id)")
    return errors


def _scope_of(rule: dict[str, Any]) -> tuple[str, str | None]:
    if "customer_id" in rule:
        return ("customer", rule["customer_id"])
    if "parent_customer_id" in rule:
        return ("parent", rule["parent_customer_id"])
    return ("default", None)


def _applies(rule: dict[str, Any], customer_id: str | None, parent_id: str | None) -> bool:
    kind, scope_id = _scope_of(rule)
    if kind == "customer":
        return scope_id == customer_id
    if kind == "parent":
        return parent_id is not None and scope_id == parent_id
    return True


def _merge(
    rules: tuple[dict[str, Any], ...], customer_id: str | None, parent_id: str | None
) -> tuple[dict[str, Any], str]:
    order = {"default": 0, "parent": 1, "customer": 2}
    matching = [rule for rule in rules if _applies(rule, customer_id, parent_id)]
    matching.sort(key=lambda rule: order[_scope_of(rule)[0]])
    merged: dict[str, Any] = {}
    for rule in matching:
        merged.update(rule)
    return merged, matching[-1]["id"]


def _address(value: dict[str, str] | None) -> Address | None:
    if not value:
        return None
    return Address(email=value["email"], name=value.get("name", ""))
