"""The default reason code mapping covers the X12 element 426 code list exactly."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from shortpay.rules.load import load_rules
from shortpay.settings import DEFAULT_RULES_DIR

CODELIST = "codelists/Inteligenz_X12Parser/x12_005010_element426_adjustment_reason_code.csv"


@pytest.mark.public_data
def test_every_x12_code_mapped_once(public_data: Path):
    with (public_data / CODELIST).open(encoding="utf-8-sig", newline="") as handle:
        x12_codes = {row["code"] for row in csv.DictReader(handle)}
    default_codes = Counter(
        row.reason_code
        for row in load_rules(DEFAULT_RULES_DIR).reason_codes
        if row.scope_type == "default"
    )

    assert len(x12_codes) == 632
    assert sorted(x12_codes - set(default_codes)) == []
    assert sorted(set(default_codes) - x12_codes) == []
    assert [code for code, count in default_codes.items() if count > 1] == []
