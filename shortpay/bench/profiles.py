"""Generator profiles: the rates and sizes that shape a generated inbox.

Rates are probabilities per row (0 to 1). They are not money, so they are
plain floats; every amount the generator writes is computed as a DuckDB
DECIMAL from integers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import date


@dataclass(frozen=True, slots=True)
class Profile:
    """Shape of one generated data set."""

    name: str
    min_lines: int = 1
    max_lines: int = 5
    sku_count: int = 120
    # skus each customer buys; prices.csv has one row per customer and sku of it
    assortment_size: int = 120
    paid_rate: float = 0.85
    deduction_rate: float = 0.11
    discount_terms_rate: float = 0.10
    discount_taken_rate: float = 0.45
    net45_rate: float = 0.05
    overprice_rate: float = 0.06
    short_ship_rate: float = 0.05
    reference_noise_rate: float = 0.15
    valid_rate: float = 0.70
    earned_discount_share: float = 0.60
    late_discount_share: float = 0.20
    max_group_size: int = 4
    group_start_rate: float = 0.45
    edi_customers: int = 2
    unmatched_payments: int = 4
    overpayments: int = 1
    payment_level_deductions: int = 1
    bad_rows: bool = True
    # Hostile extras, all zero outside the hostile profile.
    typo_rate: float = 0.0
    missing_reference_rate: float = 0.0
    partial_payment_rate: float = 0.0
    duplicate_payment_rate: float = 0.0
    reversal_rate: float = 0.0
    shared_invoice_numbers: int = 0
    resent_file: bool = False
    first_invoice_date: date = date(2026, 9, 1)
    invoice_date_days: int = 61
    as_of: date = date(2026, 11, 30)

    def as_dict(self) -> dict[str, object]:
        """Return the profile as JSON-ready values."""
        values = asdict(self)
        values["first_invoice_date"] = self.first_invoice_date.isoformat()
        values["as_of"] = self.as_of.isoformat()
        return values


SAMPLE = Profile(name="sample")

CLEAN = replace(
    SAMPLE,
    name="clean",
    min_lines=3,
    max_lines=7,
    sku_count=400,
    assortment_size=60,
    reference_noise_rate=0.0,
    unmatched_payments=0,
    overpayments=0,
    payment_level_deductions=0,
    bad_rows=False,
)

TYPICAL = replace(
    SAMPLE, name="typical", min_lines=3, max_lines=7, sku_count=400, assortment_size=60,
    edi_customers=6,
)

HOSTILE = replace(
    TYPICAL,
    name="hostile",
    deduction_rate=0.20,
    reference_noise_rate=0.30,
    earned_discount_share=0.35,
    late_discount_share=0.45,
    max_group_size=10,
    group_start_rate=0.20,
    typo_rate=0.03,
    missing_reference_rate=0.02,
    partial_payment_rate=0.03,
    duplicate_payment_rate=0.01,
    reversal_rate=0.005,
    shared_invoice_numbers=25,
    unmatched_payments=12,
    overpayments=8,
    payment_level_deductions=6,
    resent_file=True,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (SAMPLE, CLEAN, TYPICAL, HOSTILE)}


def get_profile(name: str) -> Profile:
    """Return the profile called ``name`` or raise ValueError naming the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(f"unknown profile {name!r}; expected one of: {known}") from None
