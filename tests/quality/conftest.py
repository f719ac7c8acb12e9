"""Fixtures for the data-quality tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from quality_db import build_work_db


@pytest.fixture
def work_db(tmp_path: Path) -> Path:
    return build_work_db(tmp_path / "work.duckdb")


@pytest.fixture
def public_data() -> Path:
    """Folder of public sample files named by SHORTPAY_PUBLIC_DATA."""
    folder = os.environ.get("SHORTPAY_PUBLIC_DATA")
    if not folder:
        pytest.skip("SHORTPAY_PUBLIC_DATA is not set, so the public sample files are unavailable")
    return Path(folder)
