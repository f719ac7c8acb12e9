"""Fixtures for the review tests: a published warehouse and its state database."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from review_db import build_warehouse

from shortpay.settings import Paths


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    installation = Paths.for_warehouse(tmp_path / "warehouse.duckdb")
    installation.ensure()
    build_warehouse(installation.warehouse)
    return installation


@pytest.fixture
def public_data() -> Path:
    """Folder of public sample files named by SHORTPAY_PUBLIC_DATA."""
    folder = os.environ.get("SHORTPAY_PUBLIC_DATA")
    if not folder:
        pytest.skip("SHORTPAY_PUBLIC_DATA is not set, so the public sample files are unavailable")
    return Path(folder)
