"""Fixtures for the rule tests: a copy of the shipped rules and the public sample files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from shortpay.rules.schema import RULE_FILES
from shortpay.settings import DEFAULT_RULES_DIR


@pytest.fixture
def public_data() -> Path:
    """Return the public sample folder named by SHORTPAY_PUBLIC_DATA, or skip."""
    folder = os.environ.get("SHORTPAY_PUBLIC_DATA")
    if not folder:
        pytest.skip("SHORTPAY_PUBLIC_DATA is not set; it names the public sample files folder")
    path = Path(folder)
    if not path.is_dir():
        pytest.skip(f"SHORTPAY_PUBLIC_DATA={folder} is not a folder")
    return path


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """Copy the six shipped rule files into a fresh folder that a test may change."""
    target = tmp_path / "rules"
    target.mkdir()
    for name in RULE_FILES:
        shutil.copyfile(DEFAULT_RULES_DIR / name, target / name)
    return target

