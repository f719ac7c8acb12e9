"""Fixtures for the ingest tests: case files, public sample files, inbox loading."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from shortpay.ingest.loader import IngestSummary, load_inbox

CASES = Path(__file__).resolve().parents[1] / "cases" / "ingest"
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the ingest tests that read the public sample files with ``public_data``."""
    for item in items:
        if HERE in Path(item.path).parents and "public_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.public_data)


@pytest.fixture
def cases() -> Path:
    """Folder of the small crafted input files."""
    return CASES


@pytest.fixture
def public_data() -> Path:
    """Folder of the public sample files named by SHORTPAY_PUBLIC_DATA; skips without it."""
    folder = os.environ.get("SHORTPAY_PUBLIC_DATA")
    if not folder:
        pytest.skip("SHORTPAY_PUBLIC_DATA is not set, so the public sample files are not available")
    path = Path(folder)
    if not path.is_dir():
        pytest.skip(f"SHORTPAY_PUBLIC_DATA={folder} is not a folder")
    return path


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """An empty inbox folder."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


@pytest.fixture
def work_db(tmp_path: Path) -> Path:
    """Path of a work database that does not exist yet."""
    return tmp_path / "work.duckdb"


@pytest.fixture
def load(inbox: Path, work_db: Path) -> Callable[..., IngestSummary]:
    """Copy files into the inbox (optionally under a sub-folder) and run load_inbox."""

    def run(*files: Path, run_id: str = "run-1", under: str = "") -> IngestSummary:
        target = inbox / under if under else inbox
        target.mkdir(parents=True, exist_ok=True)
        for file in files:
            shutil.copy(file, target / file.name)
        return load_inbox(inbox, work_db, run_id)

    return run


@pytest.fixture
def query(work_db: Path) -> Callable[[str], list[tuple]]:
    """Run a read-only query on the work database and return all rows."""

    def run(sql: str, parameters: list | None = None) -> list[tuple]:
        with duckdb.connect(str(work_db), read_only=True) as con:
            return con.execute(sql, parameters or []).fetchall()

    return run
