"""Typed rule rows, one dataclass per table of the ``rules`` schema."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path


@dataclass(frozen=True)
class ReasonCodeRule:
    """One reason code mapped to a category in one scope."""

    rule_id: str
    scope_type: str
    scope_id: str | None
    reason_code: str
    category: str
    description: str


@dataclass(frozen=True)
class CategoryPolicy:
    """Whether a category is allowed, its evidence and its default validity."""

    rule_id: str
    category: str
    allowed: bool
    evidence_required: str
    default_validity: str
    description: str


@dataclass(frozen=True)
class Tolerance:
    """Automatic write-off limit; ``category`` None means every category."""

    rule_id: str
    scope_type: str
    scope_id: str | None
    category: str | None
    max_amount: Decimal | None
    max_percent: Decimal | None
    description: str


@dataclass(frozen=True)
class DisputeWindow:
    """Days to dispute a deduction; ``category`` None means every category."""

    rule_id: str
    scope_type: str
    scope_id: str | None
    category: str | None
    window_days: int
    description: str


@dataclass(frozen=True)
class RoutingRule:
    """Owner and team for an amount band, from ``min_amount`` up to below ``max_amount``."""

    rule_id: str
    scope_type: str
    scope_id: str | None
    category: str | None
    min_amount: Decimal | None
    max_amount: Decimal | None
    owner: str
    team: str
    priority: int
    description: str


@dataclass(frozen=True)
class Setting:
    """Global setting; ``value`` is text as stored in ``rules.settings``."""

    key: str
    value: str
    description: str


@dataclass(frozen=True)
class RuleSet:
    """Validated content of a rules folder."""

    rules_dir: Path
    content_hash: str
    file_count: int
    reason_codes: tuple[ReasonCodeRule, ...]
    category_policies: tuple[CategoryPolicy, ...]
    tolerances: tuple[Tolerance, ...]
    dispute_windows: tuple[DisputeWindow, ...]
    routing: tuple[RoutingRule, ...]
    settings: tuple[Setting, ...]

    def setting(self, key: str) -> str:
        """Return the text value of a setting; raises KeyError for an unknown key."""
        for setting in self.settings:
            if setting.key == key:
                return setting.value
        raise KeyError(f"unknown setting {key!r}")
