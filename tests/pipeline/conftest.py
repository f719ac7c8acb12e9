"""Fixtures for end-to-end runs of the real main flow."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL
from prefect.testing.utilities import prefect_test_harness
from warehouse_queries import REPO_ROOT

PUBLIC_X12_CASES = REPO_ROOT / "tests" / "cases" / "public_x12"


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """One temporary Prefect server for every flow run of the session.

    Yields its API URL, which subprocesses get through PREFECT_API_URL so
    they do not each start a server of their own.
    """
    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


@pytest.fixture(scope="session")
def public_data() -> Path:
    folder = os.environ.get("SHORTPAY_PUBLIC_DATA")
    if not folder:
        pytest.skip("SHORTPAY_PUBLIC_DATA is not set: the public sample files are not available")
    path = Path(folder)
    if not path.is_dir():
        pytest.skip(f"SHORTPAY_PUBLIC_DATA={folder} is not a folder")
    return path


@pytest.fixture(scope="module")
def public_x12_inbox(tmp_path_factory: pytest.TempPathFactory, public_data: Path) -> Path:
    """An inbox with the public X12 820 files and the invoices they reference."""
    inbox = tmp_path_factory.mktemp("public_inbox")
    for source in sorted((public_data / "x12_820").rglob("*")):
        if source.is_file() and source.suffix in (".txt", ".edi"):
            shutil.copy(source, inbox / source.name)
    for extract in PUBLIC_X12_CASES.glob("*.csv"):
        shutil.copy(extract, inbox / extract.name)
    return inbox


