"""Fixtures of the generator and benchmark tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from bench_files import SAMPLE_ARGS

from shortpay.bench.generate import GenerateResult, generate


@pytest.fixture(scope="session")
def public_data() -> Path:
    """Folder of public sample files named by SHORTPAY_PUBLIC_DATA; skip without it."""
    value = os.environ.get("SHORTPAY_PUBLIC_DATA")
    if not value:
        pytest.skip("SHORTPAY_PUBLIC_DATA is not set, so the public sample files are unavailable")
    folder = Path(value)
    if not folder.is_dir():
        pytest.skip(f"SHORTPAY_PUBLIC_DATA={value} is not a folder")
    return folder


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> GenerateResult:
    """The sample data set, generated once per test session."""
    root = tmp_path_factory.mktemp("sample")
    return generate(root / "inbox", **SAMPLE_ARGS)
