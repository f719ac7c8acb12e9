"""Fixtures for the follow-up tests: a small work database and a fake SendGrid server."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
from followup_cases import API_KEY, FakeSendGrid, WorkData, handler_for, write_work_db

from shortpay.settings import DEFAULT_RULES_DIR, Paths


@pytest.fixture
def public_data() -> Path:
    """The folder of public sample files, or a skip when SHORTPAY_PUBLIC_DATA is unset."""
    folder = os.environ.get("SHORTPAY_PUBLIC_DATA")
    if not folder:
        pytest.skip("SHORTPAY_PUBLIC_DATA is not set")
    return Path(folder)


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    installation = Paths.for_warehouse(tmp_path / "warehouse.duckdb")
    installation.ensure()
    return installation


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A copy of the bundled follow-up rules."""
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "followups.yaml").write_text(
        (DEFAULT_RULES_DIR / "followups.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    return folder


@pytest.fixture
def work_db(paths: Paths) -> Callable[[WorkData], duckdb.DuckDBPyConnection]:
    """Write the work database and return an open connection; closed after the test."""
    connections: list[duckdb.DuckDBPyConnection] = []

    def build(data: WorkData | None = None) -> duckdb.DuckDBPyConnection:
        for connection in connections:
            connection.close()
        connections.clear()
        write_work_db(paths.work_db, data or WorkData())
        connection = duckdb.connect(str(paths.work_db))
        connections.append(connection)
        return connection

    yield build
    for connection in connections:
        connection.close()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clear every setting the follow-up code reads from the environment."""
    for name in list(os.environ):
        if name.startswith(("SHORTPAY_SENDGRID", "SHORTPAY_EMAIL", "SENDGRID")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SHORTPAY_ENV", raising=False)


@pytest.fixture
def fake_sendgrid(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSendGrid]:
    """Run a fake SendGrid API on 127.0.0.1 and point the transport settings at it."""
    state = FakeSendGrid()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("SHORTPAY_EMAIL_TRANSPORT", "sendgrid")
    monkeypatch.setenv("SENDGRID_API_KEY", API_KEY)
    monkeypatch.setenv("SHORTPAY_SENDGRID_HOST", state.url)
    monkeypatch.setenv("SHORTPAY_ENV", "production")
    monkeypatch.setenv("SHORTPAY_SENDGRID_TIMEOUT", "2")
    monkeypatch.setenv("SHORTPAY_SENDGRID_BACKOFF", "0.05")
    yield state
    server.shutdown()
    server.server_close()
